#!/bin/sh
# redis-server (Debian's links jemalloc itself) under the shim with both backends: it serves,
# the sizes it accounts with malloc_usable_size are the same as without the shim, it shuts
# down cleanly, and its at-exit snapshot reads. Usage: redis.sh LIBLEAKTAG LEAKTAG_REPORT
set -u
lib=$1 report=$2
command -v redis-server >/dev/null || { echo "skip: redis-server not installed"; exit 77; }
work=$(mktemp -d)
port=$((20000 + $$ % 20000))
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1; rm -rf "$work"' EXIT
failures=0

# usage_of PRELOAD BACKEND: starts redis, stores a known value, prints MEMORY USAGE of it
usage_of() {
    env ${1:+LD_PRELOAD=$1} LEAKTAG_BACKEND=$2 LEAKTAG_QUIET=1 \
        LEAKTAG_OUTPUT="$work/redis-$2.%p.lts" \
        redis-server --port $port --save "" --appendonly no --dir "$work" \
        >"$work/redis-$2.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        redis-cli -p $port ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    redis-cli -p $port set k "$(head -c 1000 /dev/zero | tr '\0' x)" >/dev/null
    redis-cli -p $port rpush list a b c d e f g >/dev/null
    redis-cli -p $port memory usage k
    redis-cli -p $port shutdown nosave >/dev/null 2>&1
    wait $pid
    echo "exit $?"
}

plain=$(usage_of "" libc)
for backend in libc jemalloc; do
    shim=$(usage_of "$lib" $backend)
    if [ "$shim" != "$plain" ]; then
        echo "FAIL $backend: memory usage/exit '$shim' under the shim, '$plain' without"
        failures=$((failures + 1))
        continue
    fi
    snap=$(ls "$work"/redis-$backend.*.lts 2>/dev/null | head -1)
    if [ -z "$snap" ] || ! "$report" --top 3 "$snap" >"$work/report.txt" 2>&1 ||
        ! grep -q "redis-server" "$work/report.txt"; then
        echo "FAIL $backend: no readable at-exit snapshot"
        head -5 "$work/report.txt" 2>/dev/null
        failures=$((failures + 1))
        continue
    fi
    echo "ok   $backend: same MEMORY USAGE ($(echo "$shim" | head -1) bytes), clean exit, snapshot reads"
done
exit $((failures != 0))
