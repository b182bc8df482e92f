#!/bin/sh
# longjmp_hook (a handler that longjmps out of leaktag's malloc hook five times) keeps being
# tracked, and its snapshot and report count the five recoveries.
# Usage: longjmp_hook.sh LIBLEAKTAG LIBJUMPY PROGRAM LEAKTAG_REPORT
set -u
lib=$(readlink -f "$1") jumpy=$(readlink -f "$2") prog=$(readlink -f "$3") report=$(readlink -f "$4")
. "$(dirname "$0")/../lib.sh"
if ! (cd "$work" && env LD_PRELOAD="$lib:$jumpy" LEAKTAG_OUTPUT="$work/jump.lts" \
        "$prog" >"$work/out" 2>"$work/err"); then
    fail "the program failed: $(cat "$work/out" "$work/err")"
elif ! "$report" --format json "$work/jump.lts" >"$work/json" 2>&1; then
    fail "report: $(cat "$work/json")"
elif ! grep -q '"guards_recovered": 5}' "$work/json" ||
        ! "$report" "$work/jump.lts" | grep -q "longjmp 5 times"; then
    fail "the five recoveries are not counted: $(grep -o '"totals": {[^}]*}' "$work/json")"
elif [ "$(grep -c 'longjmp' "$work/err")" != 1 ]; then
    fail "expected one line about the longjmp: $(cat "$work/err")"
else
    echo "ok   $(cat "$work/out")"
fi
end_tests
