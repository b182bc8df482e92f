#!/bin/sh
# leaktag must not change what a program sees (issue 11): each scenario of host_test runs
# plain and under the shim and must end the same way; the ones that take snapshots must get
# them. Usage: run.sh LIBLEAKTAG HOST_TEST LAUNCHER LEAKTAG_REPORT
set -u
lib=$1 prog=$2 launcher=$3 report=$4
. "$(dirname "$0")/../lib.sh"

# start NAME SCENARIO [VAR=VALUE...]: under the shim, in the background; $pid once "ready".
start() {
    name=$1 scenario=$2
    shift 2
    mkdir -p "$work/$name"
    env LD_PRELOAD="$lib" LEAKTAG_OUTPUT="$work/$name/%n.lts" LEAKTAG_AT_EXIT=0 \
        LEAKTAG_QUIET=1 HOST_GO="$work/$name.go" HOST_DIR="$work/$name" "$@" \
        "$prog" "$scenario" >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!
    for _ in $(seq 200); do
        grep -q '^ready' "$work/$name.out" 2>/dev/null && return 0
        kill -0 $pid 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

# finish NAME: lets it go on, waits (10 s at most) and checks it ended with 0.
finish() {
    touch "$work/$1.go"
    for _ in $(seq 500); do
        kill -0 $pid 2>/dev/null || break
        sleep 0.02
    done
    if kill -0 $pid 2>/dev/null; then
        kill -9 $pid
        wait $pid 2>/dev/null
        fail "$1: still running 10 s later: $(cat "$work/$1.out" "$work/$1.err" | tr '\n' ' ')"
        return 1
    fi
    wait $pid
    status=$?
    if [ $status = 0 ]; then
        echo "ok   $1: $(grep -v '^ready' "$work/$1.out" | tr '\n' ' ')"
    else
        fail "$1: status $status: $(cat "$work/$1.out" "$work/$1.err" | tr '\n' ' ')"
        return 1
    fi
}

snapshots() { ls "$work/$1" 2>/dev/null | grep -c '\.lts$'; }

# wait_snapshots NAME N: until NAME's directory holds N snapshots (10 s at most).
wait_snapshots() {
    for _ in $(seq 500); do
        [ "$(snapshots "$1")" -ge "$2" ] && return 0
        sleep 0.02
    done
    return 1
}

# wait_line NAME LINE: until NAME's program has printed LINE (10 s at most).
wait_line() {
    for _ in $(seq 500); do
        grep -qx "$2" "$work/$1.out" 2>/dev/null && return 0
        sleep 0.02
    done
    return 1
}

# plain SCENARIO: the program alone must pass (the scenario itself is right).
plain() {
    HOST_GO=/dev/null HOST_DIR="$work" timeout -k 1 10 "$prog" "$1" >/dev/null 2>&1 ||
        fail "$1 fails without leaktag: the test is wrong"
}

# 1. The in-handler snapshot of a single-threaded program on a 16 KiB coroutine stack.
if start small-stack small-stack; then
    kill -USR2 $pid
    wait_snapshots small-stack 1
    finish small-stack && [ "$(snapshots small-stack)" = 1 ] ||
        fail "small-stack: $(snapshots small-stack) snapshots"
else
    fail "small-stack did not start"
fi

# 2. Descriptors: the first free one is 3; a daemon's own files stay its own.
for s in first-fd daemon-files main-thread-exit fork-thread-returns ignored-sleep reset-hand; do
    plain $s
done
env LD_PRELOAD="$lib" LEAKTAG_AT_EXIT=0 LEAKTAG_QUIET=1 "$prog" first-fd >"$work/fd.out" 2>&1 &&
    echo "ok   first-fd: $(cat "$work/fd.out")" || fail "first-fd: $(cat "$work/fd.out")"
if start daemon-files daemon-files LEAKTAG_INTERVAL=1; then
    for i in 1 2 3; do kill -USR2 $pid; wait_snapshots daemon-files $i; done
    wait_snapshots daemon-files 4 # and one interval
    finish daemon-files
    [ "$(snapshots daemon-files)" -ge 2 ] || fail "daemon-files: $(snapshots daemon-files) snapshots"
else
    fail "daemon-files did not start: $(cat "$work/daemon-files.err")"
fi

# 2b. A LEAKTAG_MAX_MEMORY below leaktag's fixed structures: tracking what fits, not "cannot
#     start"; the program runs on and its snapshot is written.
env LD_PRELOAD="$lib" LEAKTAG_MAX_MEMORY=256K LEAKTAG_QUIET=1 LEAKTAG_OUTPUT="$work/cap.%p.lts" \
    "$prog" first-fd >"$work/cap.out" 2>"$work/cap.err"
status=$?
ran_out=$(grep -c 'ran out' "$work/cap.err")
if [ $status = 0 ] && ls "$work"/cap.*.lts >/dev/null 2>&1 && ! grep -q "cannot start" "$work/cap.err" &&
    [ "$ran_out" = 1 ]; then
    echo "ok   256 KiB cap: $ran_out line about memory (said once), snapshot written"
else
    fail "256 KiB cap: status $status: $(cat "$work/cap.err")"
fi

# 3. The last application thread ends: the process ends, status 0.
for s in main-thread-exit fork-thread-returns; do
    if env LD_PRELOAD="$lib" LEAKTAG_AT_EXIT=0 LEAKTAG_QUIET=1 timeout -k 1 10 "$prog" $s \
        >"$work/$s.out" 2>&1; then
        echo "ok   $s: $(tr '\n' ' ' <"$work/$s.out")"
    else
        fail "$s: status $? (124: hung): $(tr '\n' ' ' <"$work/$s.out")"
    fi
done

# 4. An ignored snapshot signal: kill stays invisible (the sleep is not cut short), and
#    leaktag --pid still gets a snapshot through leaktag's own thread.
if start ignored ignored-sleep; then
    sleep 0.3
    kill -USR2 $pid
    got=$("$launcher" --pid $pid --wait 5 2>&1)
    rc=$?
    finish ignored
    [ $rc = 0 ] && [ -f "$(echo "$got" | tail -1)" ] && echo "ok   ignored: --pid: $(echo "$got" | tail -1 | xargs basename)" ||
        fail "ignored: leaktag --pid: $got"
else
    fail "ignored-sleep did not start"
fi

# 5. SA_RESETHAND on the application's handler of the snapshot signal.
env LD_PRELOAD="$lib" LEAKTAG_SIGNAL=USR1 LEAKTAG_AT_EXIT=0 LEAKTAG_QUIET=1 \
    LEAKTAG_OUTPUT="$work/%n.reset.lts" "$prog" reset-hand >"$work/reset.out" 2>&1 &&
    echo "ok   reset-hand: $(cat "$work/reset.out")" || fail "reset-hand: $(cat "$work/reset.out")"

# 6. A single-threaded program that blocks every signal still gets its snapshots.
if start blocked all-blocked; then
    for i in 1 2 3; do
        "$launcher" --pid $pid --wait 5 >/dev/null 2>"$work/blocked.$i" || true
    done
    finish blocked
    n=$(snapshots blocked)
    [ "$n" = 3 ] && echo "ok   all-blocked: $n of 3 snapshots" ||
        fail "all-blocked: $n of 3 snapshots: $(cat "$work"/blocked.[123])"
else
    fail "all-blocked did not start"
fi

# 7. Every kill reaches the program's own handler, in the one thread that takes it. With
#    the default signal it is the program's alone: no snapshot, and leaktag --pid asks
#    without it (the handler still ran five times); chosen with LEAKTAG_SIGNAL, each kill
#    is also a snapshot (leaktag's thread must not take it instead).
if start handler handler-thread; then
    for i in 1 2 3 4 5; do kill -USR2 $pid; wait_line handler "handled $i"; done
    "$launcher" --pid $pid --wait 5 >"$work/handler.ask" 2>&1 || fail "handler-thread: --pid: $(cat "$work/handler.ask")"
    finish handler
    n=$(snapshots handler)
    reason=$("$report" --format json "$work/handler/1.lts" 2>&1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"]["reason"])' 2>&1)
    [ "$n" = 1 ] && [ "$reason" = request ] && echo "ok   handler-thread (default USR2): 5 kills for the program alone, $n snapshot by $reason" ||
        fail "handler-thread: $n snapshots (1 expected, by request: '$reason')"
else
    fail "handler-thread did not start"
fi
if start handler-chosen handler-thread LEAKTAG_SIGNAL=USR2; then
    for i in 1 2 3 4 5; do
        kill -USR2 $pid
        wait_line handler-chosen "handled $i" && wait_snapshots handler-chosen $i
    done
    finish handler-chosen
    n=$(snapshots handler-chosen)
    sender=$("$report" "$work/handler-chosen/1.lts" 2>&1 | grep -o 'reason: signal from pid [0-9]*')
    [ "$n" = 5 ] && [ -n "$sender" ] && echo "ok   handler-thread (LEAKTAG_SIGNAL=USR2): $n snapshots, $sender" ||
        fail "handler-thread, USR2 chosen: $n of 5 snapshots, '$sender'"
else
    fail "handler-thread (chosen) did not start"
fi

# 7b. A signal the program reads through a signalfd with every thread blocking it (what
#     PostgreSQL's latch does with SIGURG): each one reaches the program; leaktag's thread,
#     which runs here, takes none.
for how in plain shim; do
    preload=$lib
    [ $how = plain ] && preload=
    if start signalfd-$how signalfd-urg LD_PRELOAD=$preload; then
        for i in 1 2 3 4 5; do kill -URG $pid; wait_line signalfd-$how "urg $i" || break; done
        finish signalfd-$how
    else
        fail "signalfd-urg ($how) did not start"
    fi
done

# 7c. A thread closes every descriptor above 2 in a loop while snapshots are written every
#     second (and the program opens and writes files of its own): each snapshot is whole,
#     none fails, and nothing of leaktag's lands in the program's files.
if start close-range close-range LEAKTAG_INTERVAL=1 LEAKTAG_QUIET=0; then
    sleep 3.5
    finish close-range
    n=$(snapshots close-range)
    failed=$(grep -c "cannot write snapshot" "$work/close-range.err")
    whole=0
    for f in "$work"/close-range/*.lts; do
        "$report" --format json "$f" >/dev/null 2>&1 && whole=$((whole + 1))
    done
    [ "$n" -ge 3 ] && [ "$failed" = 0 ] && [ "$whole" = "$n" ] &&
        echo "ok   close-range: $n snapshots, all whole, none failed" ||
        fail "close-range: $n snapshots ($whole whole), $failed failed: $(grep leaktag "$work/close-range.err" | head -3)"
else
    fail "close-range did not start"
fi

# 8. No pthread key is leaktag's: the program gets all PTHREAD_KEYS_MAX.
plain all-keys
env LD_PRELOAD="$lib" LEAKTAG_AT_EXIT=0 LEAKTAG_QUIET=1 "$prog" all-keys >"$work/keys.out" 2>&1 &&
    echo "ok   all-keys: $(cat "$work/keys.out")" || fail "all-keys: $(cat "$work/keys.out")"

# 9. Each way a thread ends is seen: the at-exit snapshot has the four of them exited.
plain thread-ends
if env LD_PRELOAD="$lib" LEAKTAG_QUIET=1 LEAKTAG_OUTPUT="$work/ends.lts" "$prog" thread-ends \
        >"$work/ends.out" 2>&1 && "$report" --format json "$work/ends.lts" >"$work/ends.json"; then
    states=$(python3 -c '
import json, sys
threads = json.load(open(sys.argv[1]))["threads"]
ended = sorted(t["start_routine"] or "(not started by leaktag)" for t in threads
               if not t["alive"] and not t["leaktag"])
alive = [t["name"] for t in threads if t["alive"] and not t["leaktag"]]
print("ended", ended, "alive", alive)' "$work/ends.json")
    [ "$states" = "ended ['(not started by leaktag)', 'cancelled', 'exits', 'returns'] alive ['host_test']" ] && echo "ok   thread-ends: $states" ||
        fail "thread-ends: $states"
else
    fail "thread-ends: $(cat "$work/ends.out" "$work/ends.json" 2>/dev/null)"
fi

end_tests
