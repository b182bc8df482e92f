#!/bin/sh
# Installs missing build dependencies, builds leaktag and runs every test suite:
# the main build (unit, preload, e2e), the 32-bit shim's build and its tests (LEAKTAG_I386=0
# skips it), then the unit tests under ASan+UBSan and the concurrent table under TSan.
# Every suite runs even when one before it failed; the last line counts the tests passed,
# failed and skipped across all of them, and names every skip (tests/summary.py).
# Usage: tests/run.sh [meson test args...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/deps.sh"

# Tests also run real programs nobody here wrote; the fuzz target needs clang's runtime, the
# pprof test Go's own reader (go tool pprof), the HTML test a browser (headless Chromium) and
# leaktag-scan's tests the article's gcore (gdb).
lt_install_packages $lt_build_packages python3 git clang clang-format libclang-rt-14-dev redis-server redis-tools strace valgrind \
    golang-go chromium gdb

build=${LEAKTAG_BUILD:-$top/build}
cd "$top"
[ -f "$build/build.ninja" ] || meson setup "$build" --werror >/dev/null
ninja -C "$build" >/dev/null
ran="$build=main"
not_run=""
meson test -C "$build" --print-errorlogs "$@" || true

# The 32-bit shim (issue 17), its tests reported by the 64-bit leaktag-report just built.
if [ "${LEAKTAG_I386:-1}" = 1 ]; then
    lt_enable_i386
    lt_install_packages $lt_i386_packages
    i386="$top/build-i386"
    [ -f "$i386/build.ninja" ] || meson setup "$i386" --werror --cross-file tests/i386-linux.ini \
        -Danalyzer=disabled -Dreport_program="$build/analyzer/leaktag-report" >/dev/null
    ninja -C "$i386" >/dev/null
    # Built everywhere; run where the kernel runs 32-bit programs (IA32 emulation can be
    # compiled out, or off with ia32_emulation=0).
    if "$i386/examples/router_threads" --usage >/dev/null 2>&1 || [ $? != 126 ]; then
        meson test -C "$i386" --print-errorlogs || true
        ran="$ran $i386=i386"
    else
        not_run="i386: this kernel does not run 32-bit programs (built, not run)"
    fi
fi

if [ "${LEAKTAG_SANITIZERS:-1}" = 1 ]; then
    asan="$top/build-asan"
    [ -f "$asan/build.ninja" ] || meson setup "$asan" --werror -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
    ninja -C "$asan" >/dev/null
    meson test -C "$asan" --print-errorlogs --suite unit --suite analyzer || true
    ran="$ran $asan=asan"

    # The snapshot reader and leaktag-scan's core reading under libFuzzer: clang, ASan and
    # UBSan, the fuzz targets only.
    fuzz="$top/build-fuzz"
    [ -f "$fuzz/build.ninja" ] || CC=clang CXX=clang++ meson setup "$fuzz" -Dfuzzing=true \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
    ninja -C "$fuzz" tests/fuzz_snapshot tests/fuzz_core tests/core_target >/dev/null
    meson test -C "$fuzz" --no-rebuild --print-errorlogs --suite fuzz || true
    ran="$ran $fuzz=fuzz"

    tsan="$top/build-tsan"
    [ -f "$tsan/build.ninja" ] || meson setup "$tsan" --werror -Db_sanitize=thread \
        -Db_lundef=false >/dev/null
    ninja -C "$tsan" >/dev/null
    meson test -C "$tsan" --print-errorlogs --suite tsan || true
    ran="$ran $tsan=tsan"
fi

# shellcheck disable=SC2086 # one argument per build
exec python3 "$top/tests/summary.py" $ran ${not_run:+--skipped "$not_run"}
