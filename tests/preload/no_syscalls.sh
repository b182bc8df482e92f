#!/bin/sh
# leaktag's hooks make no system call of their own (issue 13). no_syscalls runs 400,000
# allocations with varied stacks between two markers under strace; in every mode the
# program's thread may only make the memory calls of growing tables (a few dozen at most,
# amortized: at most one per 2,000 allocations) and nothing else.
# Usage: no_syscalls.sh LIBLEAKTAG PROGRAM
set -u
lib=$(readlink -f "$1") prog=$(readlink -f "$2")
. "$(dirname "$0")/../lib.sh"
allocations=400000
command -v strace >/dev/null || { fail "strace is not installed (tests/run.sh installs it)"; end_tests; }

# Prints "marks total other-calls calls..." for the marked thread's window of one strace log;
# marks is 2 when both markers were found (else the window measured nothing).
window() {
    awk '
        BEGIN { marks = 0 }
        /prctl\(PR_SET_NAME, "lt-begin"\)/ { pid = $1; on = 1; marks++; next }
        /prctl\(PR_SET_NAME, "lt-end"\)/ && $1 == pid { on = 0; marks++ }
        on && $1 == pid {
            name = $2; sub(/\(.*/, "", name)
            if (name ~ /^(<\.\.\.|---|\+\+\+)/) next
            total++
            if (name !~ /^(mmap|mmap2|munmap|mremap|madvise|mprotect|brk)$/) { other++; names[name]++ }
        }
        END {
            list = ""
            for (n in names) list = list " " n "x" names[n]
            printf "%d %d %d%s\n", marks, total, other, list
        }' "$1"
}

check() {
    mode=$1; shift
    log="$work/$mode.strace"
    out=$(strace -f -qq -o "$log" -E LEAKTAG_AT_EXIT=0 -E LEAKTAG_QUIET=1 "$@" \
        "$prog" "$allocations" 2>"$work/err")
    status=$?
    if [ $status != 0 ] || ! [ "$out" -ge "$allocations" ] 2>/dev/null; then
        fail "$mode: status $status, output '$out': $(head -c 300 "$work/err")"
        return
    fi
    set -- $(window "$log")
    marks=$1 total=$2 other=$3; shift 3
    if [ "$marks" != 2 ]; then
        fail "$mode: the program's markers (prctl lt-begin, lt-end) are not in strace's log"
    elif [ "$other" != 0 ] || [ "$total" -gt $((allocations / 2000)) ]; then
        fail "$mode: $total system calls in $allocations allocations, $other not for memory:$*"
    else
        echo "ok   $mode: $total system calls (memory only) in $allocations allocations"
    fi
}

# A plain run first: the test must see the program's own calls (it makes none in the window
# either; glibc's heap grows by brk now and then).
shim="-E LD_PRELOAD=$lib"
check plain
check full-stacks $shim
check call-site $shim -E LEAKTAG_DEPTH=1
check sampled $shim -E LEAKTAG_SAMPLE=on
end_tests
