#!/bin/sh
# PostgreSQL 15 under the shim's defaults (issue 23): pgbench -c 8 -j 2 keeps at least 0.7 of
# its throughput without leaktag, a parallel query finishes (its leader and workers wait on
# latches woken by SIGURG, which leaktag's thread once took), no process gets a snapshot for
# PostgreSQL's own SIGUSR2, and `leaktag --pid` still gets the postmaster's snapshot.
# Runs plain and under the shim in turns, ROUNDS times each (2), SECONDS seconds a run (30).
# About four minutes; not part of tests/run.sh.
#   Usage: tests/long/postgres.sh [BUILD_DIR]   (as root; installs what it needs)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/deps.sh"
lt_install_packages postgresql postgresql-contrib || exit 1
build=$(cd "${1:-$top/build}" && pwd)
[ -f "$build/preload/libleaktag.so" ] || { echo "no $build/preload/libleaktag.so: build first"; exit 1; }
rounds=${ROUNDS:-2} seconds=${SECONDS_PER_RUN:-30}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/leaktag-postgres.XXXXXX)
port=$((20000 + $$ % 10000))
chown postgres "$work"
cp "$build/preload/libleaktag.so" "$work/" # where the postgres user can read it
as_pg() { runuser -u postgres -- env "$@"; }
stop() { as_pg "$bin/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1; }
trap 'stop; rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

as_pg "$bin/initdb" -D "$work/data" -A trust >/dev/null || exit 1
mkdir -p "$work/snap" && chown postgres "$work/snap"

# start plain|shim
start() {
    shim=""
    [ "$1" = shim ] && shim="LD_PRELOAD=$work/libleaktag.so LEAKTAG_QUIET=1 LEAKTAG_OUTPUT=$work/snap/%e.%p.%n.lts"
    # shellcheck disable=SC2086
    as_pg $shim "$bin/pg_ctl" -D "$work/data" -l "$work/$1.log" -w -t 60 \
        -o "-p $port -k $work -c listen_addresses='' -c max_connections=50" start >/dev/null ||
        { fail "$1: postgres did not start: $(tail -5 "$work/$1.log")"; exit 1; }
}

start plain
as_pg "$bin/pgbench" -h "$work" -p "$port" -i -s 10 -q postgres >/dev/null 2>&1 || fail "pgbench -i"
stop

# One pgbench run: its tps, or 0 (a run that hangs is stopped at three times its length).
bench() {
    timeout $((seconds * 3)) runuser -u postgres -- "$bin/pgbench" -h "$work" -p "$port" \
        -c 8 -j 2 -T "$seconds" postgres 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1
}
calc() { awk "BEGIN { print ($1) }"; }

plain_sum=0 shim_sum=0
for r in $(seq "$rounds"); do
    for how in plain shim; do
        start $how
        tps=$(bench)
        stop
        tps=${tps:-0}
        echo "round $r $how: $tps tps"
        if [ $how = plain ]; then plain_sum=$(calc "$plain_sum + $tps")
        else shim_sum=$(calc "$shim_sum + $tps"); fi
    done
done
ratio=0
[ "$(calc "$plain_sum > 0")" = 1 ] && ratio=$(calc "$shim_sum / $plain_sum")
printf 'pgbench -c 8 -j 2 -T %s, %s rounds: plain %.0f tps, under the shim %.0f tps: %.2f of plain\n' \
    "$seconds" "$rounds" "$(calc "$plain_sum / $rounds")" "$(calc "$shim_sum / $rounds")" "$ratio"
[ "$(calc "$ratio >= 0.7")" = 1 ] || fail "under the shim: $ratio of plain throughput (at least 0.7)"

# A parallel query (a leader and two workers, woken through their latches), and a snapshot
# of the postmaster by leaktag --pid; none of PostgreSQL's own SIGUSR2 makes a snapshot.
start shim
before=$(ls "$work/snap" | wc -l)
start_s=$(date +%s)
count=$(timeout 120 sh -c "
    runuser -u postgres -- $bin/psql -h $work -p $port -X -q -A -t postgres -c \"
        set max_parallel_workers_per_gather = 2; set parallel_setup_cost = 0;
        set parallel_tuple_cost = 0; set min_parallel_table_scan_size = 0;
        select count(*) from pgbench_accounts;\"" 2>&1)
took=$(($(date +%s) - start_s))
[ "$count" = 1000000 ] && echo "ok   parallel count(*) = $count in $took s" ||
    fail "parallel count(*): '$count' after $took s"
plan=$(timeout 60 runuser -u postgres -- "$bin/psql" -h "$work" -p "$port" -X -q -A -t postgres -c "set max_parallel_workers_per_gather = 2; set parallel_setup_cost = 0;
    set parallel_tuple_cost = 0; set min_parallel_table_scan_size = 0;
    explain analyze select count(*) from pgbench_accounts;" 2>&1 | grep -o "Workers Launched: [0-9]*")
echo "     $plan"
postmaster=$(head -1 "$work/data/postmaster.pid")
got=$(timeout 30 "$build/preload/leaktag" --pid "$postmaster" --wait 10 2>&1)
file=$(echo "$got" | tail -1)
if [ -f "$file" ]; then
    echo "ok   leaktag --pid $postmaster: $(basename "$file")"
else
    fail "leaktag --pid $postmaster: $got"
fi
signal_snaps=$(for f in "$work"/snap/*.lts; do
    "$build/analyzer/leaktag-report" --format json --top 0 "$f" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"]["reason"])' 2>/dev/null
done | grep -c '^signal$')
[ "$signal_snaps" = 0 ] && echo "ok   no snapshot was taken for PostgreSQL's own signals ($(ls "$work/snap" | wc -l) snapshots, by request and at exit)" ||
    fail "$signal_snaps snapshots taken for a signal"
stop
exit $((failures != 0))
