#!/bin/sh
# `leaktag --pid` must never kill the process it was asked to inspect: it asks through the
# shim's control block, or sends only the signal the target's own shim says it handles, and
# otherwise nothing, with one line saying why; and it does not run a program it cannot track.
# Usage: run.sh LAUNCHER LIBLEAKTAG TARGET STATIC_TARGET
set -u
launcher=$1 lib=$2 target=$3 static=$4
. "$(dirname "$0")/../lib.sh"
pids=""
cleanup='for p in $pids; do kill -9 $p 2>/dev/null; done'

# start NAME [VAR=VALUE...] [-- MODE]: the target under the shim, its pid in $pid once ready.
start() {
    name=$1
    shift
    mode=""
    vars=""
    while [ $# -gt 0 ]; do
        case $1 in
        --) mode=$2; shift 2 ;;
        *) vars="$vars $1"; shift ;;
        esac
    done
    mkdir -p "$work/$name"
    # shellcheck disable=SC2086
    env LD_PRELOAD="$lib" LEAKTAG_OUTPUT="$work/$name/%p.%n.lts" LEAKTAG_AT_EXIT=0 \
        LEAKTAG_QUIET=1 $vars "$target" $mode >"$work/$name.out" 2>"$work/$name.err" &
    launched=$!
    pids="$pids $launched"
    for _ in $(seq 100); do
        grep -q '^ready' "$work/$name.out" 2>/dev/null && break
        sleep 0.05
    done
    pid=$(sed -n 's/^ready //p' "$work/$name.out")
    [ -n "$pid" ] || fail "$name: target did not start: $(cat "$work/$name.err")"
}

# finish NAME: the target must still be alive, and end with status 0 on SIGTERM.
finish() {
    if kill -0 "$launched" 2>/dev/null; then
        kill -TERM "$launched"
        wait "$launched"
        status=$?
        [ $status = 0 ] || fail "$1: target exited with $status after SIGTERM"
    else
        wait "$launched"
        fail "$1: the target died (status $?)"
    fi
}

# 1. Snapshots by signal off: nothing is sent.
start signal-off LEAKTAG_SIGNAL=0
out=$("$launcher" --pid "$pid" --wait 2 2>&1)
rc=$?
sleep 0.2
if [ $rc != 0 ] && echo "$out" | grep -q "no snapshot signal of leaktag's.*no way to ask it" &&
    [ -z "$(ls "$work/signal-off")" ]; then
    echo "ok   signal off: $out"
else
    fail "signal off: status $rc: $out"
fi
finish "signal off"

# 2. A signal the shim refused (9): the shim keeps USR2, and USR2 is what is sent.
start refused LEAKTAG_SIGNAL=9
out=$("$launcher" --pid "$pid" --wait 10 2>&1)
rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "SIGUSR2" && [ -f "$(echo "$out" | tail -1)" ] &&
    grep -q 'LEAKTAG_SIGNAL="9" is not valid' "$work/refused.err"; then
    echo "ok   refused LEAKTAG_SIGNAL=9: $(echo "$out" | head -1)"
else
    fail "refused signal: status $rc: $out"
fi
finish "refused signal"

# 3. An environment rewritten like nginx's: the signal comes from the shim, not environ.
start rewritten LEAKTAG_SIGNAL=USR1 -- rewrite-env
if tr '\0' '\n' <"/proc/$pid/environ" | grep -q LEAKTAG_SIGNAL; then
    fail "rewritten: the target did not hide its environment"
fi
out=$("$launcher" --pid "$pid" --wait 10 2>&1)
rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "SIGUSR1" && [ -f "$(echo "$out" | tail -1)" ]; then
    echo "ok   rewritten environment: $(echo "$out" | head -1)"
else
    fail "rewritten environment: status $rc: $out"
fi
finish "rewritten environment"

# 4. Two snapshots in a row: --wait reports each new one, counted by the shim.
start twice
first=$("$launcher" --pid "$pid" --wait 10 2>/dev/null | tail -1)
second=$("$launcher" --pid "$pid" --wait 10 2>/dev/null | tail -1)
case "$first $second" in
*/$pid.1.lts*/$pid.2.lts) echo "ok   two snapshots: $(basename "$first") $(basename "$second")" ;;
*) fail "two snapshots: '$first' then '$second'" ;;
esac
finish "two snapshots"

# 5. A fork child answers for itself: its own pid, its own count.
start forked -- fork
child=$pid
out=$("$launcher" --pid "$child" --wait 10 2>&1)
rc=$?
case "$(echo "$out" | tail -1)" in
*/$child.1.lts) [ $rc = 0 ] && echo "ok   fork child: $(basename "$(echo "$out" | tail -1)")" ||
    fail "fork child: status $rc: $out" ;;
*) fail "fork child: status $rc: $out" ;;
esac
finish "fork child"

# 6. A process without the shim: nothing is sent.
"$target" >"$work/plain.out" 2>&1 &
launched=$!
pids="$pids $launched"
for _ in $(seq 100); do grep -q '^ready' "$work/plain.out" && break; sleep 0.05; done
out=$("$launcher" --pid "$launched" 2>&1)
rc=$?
if [ $rc != 0 ] && echo "$out" | grep -q "does not run under leaktag.*not asking it"; then
    echo "ok   no shim: $out"
else
    fail "no shim: status $rc: $out"
fi
finish "no shim"

# 7. The launcher refuses what the shim would refuse, before running anything.
out=$("$launcher" --signal 9 true 2>&1)
rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "^leaktag: --signal: '9' is not valid" &&
    echo "ok   --signal 9 refused: $out" || fail "--signal 9: status $rc: $out"
out=$("$launcher" --pid 999999999 2>&1)
[ $? != 0 ] && echo "ok   no such process: $out" || fail "no such process: $out"

# 8. Programs the loader will not preload into: refused with the reason, never run.
out=$("$launcher" "$static" 2>&1)
rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "statically linked.*not running it" &&
    echo "ok   static binary: $out" || fail "static binary: status $rc: $out"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    cp /bin/true "$work/suid_true"
    chown nobody "$work/suid_true" && chmod u+s "$work/suid_true"
    out=$("$launcher" "$work/suid_true" 2>&1)
    rc=$?
    [ $rc = 2 ] && echo "$out" | grep -q "set-user-ID.*not running it" &&
        echo "ok   set-user-ID program: $out" || fail "set-user-ID program: status $rc: $out"
else
    echo "skip set-user-ID: needs root and a user nobody"
fi

end_tests
