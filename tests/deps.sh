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

# The 32-bit (i386) shim's build: multiarch i386, the multilib compilers, the :i386 libraries
# the shim links (jemalloc:i386 would replace the 64-bit -dev package, so not that one) and
# i386 libc's debug symbols, for the 64-bit report's symbols of 32-bit stacks.
lt_i386_packages="gcc-multilib g++-multilib libunwind-dev:i386 libzstd-dev:i386 libcmocka-dev:i386
libc6-dbg:i386"

lt_enable_i386() {
    dpkg --print-foreign-architectures | grep -qx i386 && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "leaktag: the i386 architecture is not enabled (run as root: dpkg --add-architecture i386)" >&2
        return 1
    fi
    dpkg --add-architecture i386 && apt-get update -qq >/dev/null
}
