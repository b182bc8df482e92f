# Sourced by tests/run.sh and examples/demo.sh: installs what the build and the tests need.
# Idempotent and silent when everything is present; needs root only when something is missing.

lt_build_packages="meson ninja-build gcc g++ pkg-config libunwind-dev libcmocka-dev libdw-dev
libelf-dev libpcre2-dev libjemalloc-dev libzstd-dev zlib1g-dev"

lt_missing_packages() {
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' ||
            printf '%s\n' "$pkg"
    done
}

# lt_install_packages PKG...: install the ones not yet installed.
lt_install_packages() {
    missing=$(lt_missing_packages "$@" | tr '\n' ' ')
    [ -z "${missing% }" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "leaktag: missing Debian packages: $missing (run as root to install them)" >&2
        return 1
    fi
    echo "leaktag: installing $missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
        apt-get update -qq >/dev/null 2>&1 || true
        apt-get install -y -qq --no-install-recommends $missing >/dev/null || return 1
    fi
}
