#!/bin/sh
# Recorded stacks start and end in the application's code: no frame of libleaktag.so, even
# where the allocation went through leaktag's pthread_create or its thread trampoline.
# Usage: own_frames.sh LIBLEAKTAG PROGRAM LEAKTAG_REPORT
set -u
lib=$(readlink -f "$1") prog=$(readlink -f "$2") report=$(readlink -f "$3")
. "$(dirname "$0")/../lib.sh"
if ! env LD_PRELOAD="$lib" LEAKTAG_QUIET=1 LEAKTAG_OUTPUT="$work/own.lts" "$prog" ||
        ! "$report" --format json --top 0 "$work/own.lts" >"$work/json" 2>&1; then
    fail "no snapshot or no report: $(cat "$work/json" 2>/dev/null)"
else
    groups=$(grep -c '"rank"' "$work/json")
    ours=$(grep -c '"module": "libleaktag.so"' "$work/json")
    starts=$(grep -Ec '"function": "(outer|inner)"' "$work/json")
    if [ "$ours" = 0 ] && [ "$groups" -ge 5 ] && [ "$starts" -ge 3 ]; then
        echo "ok   $groups stacks, none with a frame of libleaktag.so"
    else
        fail "$ours frames of libleaktag.so in $groups stacks ($starts in outer/inner):"
        "$report" --top 0 "$work/own.lts" | grep -B8 'libleaktag.so' | head -30
    fi
fi
end_tests
