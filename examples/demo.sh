#!/bin/sh
# The README's first command. On a fresh Debian machine (as root) it installs what is missing,
# builds leaktag, runs the seed article's SPP worker under the shim, takes a snapshot with
# SIGUSR2 and prints the report: the leaking branch, its blocks definitely lost (nothing
# points at them), and the channelid=4099 inside them.
# Leaves nothing behind but the build directory (and its demo/ output directory).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/deps.sh"
lt_install_packages $lt_build_packages

build=${LEAKTAG_BUILD:-$top/build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
out="$build/demo"
rm -rf "$out"
mkdir -p "$out"

echo "== 1. Run the SPP worker under leaktag. It answers HTTP form requests and, like the"
echo "      article's spp_handle_process, forgets to delete the request on an invalid channel."
echo "      With --reach 1 each snapshot also says which blocks nothing points at any more,"
echo "      and with --samples all it holds the first bytes of every block, not 8 per stack."
echo "      \$ leaktag --reach 1 --samples all $build/examples/spp_worker"
LEAKTAG_OUTPUT="$out/spp_worker.%p.%n.lts" LEAKTAG_AT_EXIT=0 \
    "$build/preload/leaktag" --reach 1 --samples all "$build/examples/spp_worker" \
    >"$out/spp_worker.log" 2>&1 &
pid=$! # the launcher execs the worker: same pid
trap 'kill "$pid" 2>/dev/null || true' EXIT
sleep 4

echo "== 2. Ask it for a snapshot (what kill -USR2 $pid does), while it keeps running."
echo "      \$ leaktag --pid $pid --wait 20"
snapshot=$("$build/preload/leaktag" --pid "$pid" --wait 20 | tail -1)
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT

echo "== 3. What is piling up, where it comes from, and what is inside."
echo "      \$ leaktag-report --top 3 --samples 1 --grep 'channelid=\\d*' $snapshot"
echo
"$build/analyzer/leaktag-report" --top 3 --samples 1 --grep 'channelid=\d*' "$snapshot"

echo
echo "== 4. The bytes themselves, block after block, for grep -a and xxd: gdb's"
echo "      'dump binary memory' without a core file, and the article's grep -c and uniq -c."
echo "      \$ leaktag-report --top 1 --dump requests.bin $snapshot"
"$build/analyzer/leaktag-report" --top 1 --dump "$out/requests.bin" "$snapshot" >/dev/null
echo "      \$ grep -a -c 'channelid=4099' requests.bin"
grep -a -c 'channelid=4099' "$out/requests.bin"
echo "      \$ grep -a -o 'channelid=[0-9]*' requests.bin | sort | uniq -c"
grep -a -o 'channelid=[0-9]*' "$out/requests.bin" | sort | uniq -c
