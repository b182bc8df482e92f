#!/bin/sh
# CPython's own tests of signals, threads and subprocesses, under the shim and without it:
# leaktag must not change their outcome (issue 11). About three minutes; not part of
# tests/run.sh. Usage: tests/long/cpython.sh [BUILD_DIR [VAR=VALUE...]]   (installs what it
# needs; VAR=VALUE: more settings for the shim, LEAKTAG_REACH=1 say)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/deps.sh"
lt_install_packages python3.11 libpython3.11-testsuite || exit 1
build=$(cd "${1:-$top/build}" && pwd) || exit 1
[ $# -gt 0 ] && shift
[ -f "$build/preload/libleaktag.so" ] || { echo "no $build/preload/libleaktag.so: build first"; exit 1; }
tests="test_signal test_threading test_subprocess"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 777 "$work" # children that drop privileges write their snapshots here too
cd "$work"
echo "== without leaktag"
/usr/bin/python3.11 -m test -j1 $tests >plain.log 2>&1
plain=$?
tail -3 plain.log
echo "== under the shim $*"
env LD_PRELOAD="$build/preload/libleaktag.so" LEAKTAG_QUIET=1 LEAKTAG_OUTPUT="$work/%e.%p.%n.lts" \
    "$@" /usr/bin/python3.11 -m test -j1 $tests >shim.log 2>&1
shim=$?
tail -3 shim.log
echo "$(ls "$work" | grep -c '\.lts$') snapshots written by the tests' processes"
if [ $plain = 0 ] && [ $shim = 0 ]; then
    echo "ok   $tests pass with and without leaktag"
    exit 0
fi
echo "FAIL status $plain without leaktag, $shim with it; under the shim:"
grep -E "^(FAIL|ERROR)|failed|Timeout" shim.log | head -20
exit 1
