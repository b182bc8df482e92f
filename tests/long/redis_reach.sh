#!/bin/sh
# redis-server under redis-benchmark -P 16 with LEAKTAG_REACH=1 and a snapshot signal every
# 0.5 s (issue 23): every snapshot carries its verdict, no core file appears, and the
# benchmark sees no error. RUNS runs (3) of REQUESTS requests (2,000,000) each.
# About two minutes; not part of tests/run.sh.
#   Usage: tests/long/redis_reach.sh [BUILD_DIR]   (installs what it needs)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/deps.sh"
lt_install_packages redis-server redis-tools || exit 1
build=$(cd "${1:-$top/build}" && pwd)
[ -f "$build/preload/libleaktag.so" ] || { echo "no $build/preload/libleaktag.so: build first"; exit 1; }
runs=${RUNS:-3} requests=${REQUESTS:-2000000}
work=$(mktemp -d /tmp/leaktag-redis.XXXXXX)
port=$((20000 + $$ % 20000))
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1; rm -rf "$work"' EXIT
failures=0 total=0 with=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ulimit -c unlimited

for run in $(seq "$runs"); do
    dir="$work/run$run"
    mkdir -p "$dir"
    (cd "$dir" && env LD_PRELOAD="$build/preload/libleaktag.so" LEAKTAG_REACH=1 LEAKTAG_KEEP=0 \
        LEAKTAG_QUIET=1 LEAKTAG_AT_EXIT=0 LEAKTAG_OUTPUT="$dir/redis.%n.lts" \
        redis-server --port $port --save "" --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1) &
    for _ in $(seq 100); do
        redis-cli -p $port ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    pid=$(redis-cli -p $port info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p' | tr -d '\r')
    redis-benchmark -p $port -P 16 -q -n "$requests" -t set,get,lpush,lpop,incr \
        >"$dir/bench.txt" 2>&1 &
    bench=$!
    while kill -0 $bench 2>/dev/null; do
        kill -USR2 "$pid"
        sleep 0.5
    done
    wait $bench || fail "run $run: redis-benchmark failed: $(tail -3 "$dir/bench.txt")"
    sleep 1 # the last snapshot
    redis-cli -p $port shutdown nosave >/dev/null 2>&1
    wait
    n=0 ok=0
    for f in "$dir"/redis.*.lts; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        "$build/analyzer/leaktag-report" --format json --top 0 "$f" 2>/dev/null | python3 -c '
import json, sys
scan = json.load(sys.stdin)["snapshot"].get("reachability_scan") or {}
sys.exit(0 if scan.get("ok") else 1)' && ok=$((ok + 1))
    done
    total=$((total + n)) with=$((with + ok))
    cores=$(ls "$dir" | grep -c '^core')
    missing=$(grep -c "no reachability verdict" "$dir/redis.log")
    echo "run $run: $n snapshots, $ok with a verdict; $cores core files; $(grep -c 'requests per second' "$dir/bench.txt") benchmarks done"
    [ "$n" -ge 10 ] && [ "$ok" = "$n" ] && [ "$cores" = 0 ] && [ "$missing" = 0 ] ||
        fail "run $run: $ok of $n snapshots with a verdict, $cores core files: $(grep leaktag "$dir/redis.log" | head -3)"
done
[ $failures = 0 ] && echo "ok   $with of $total snapshots in $runs runs carry a verdict"
exit $((failures != 0))
