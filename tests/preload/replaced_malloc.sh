#!/bin/sh
# A program that replaces malloc runs under the shim exactly as without it, and leaktag says
# once that it cannot track it. Usage: replaced_malloc.sh LIBLEAKTAG PROGRAM
set -u
lib=$(readlink -f "$1") prog=$(readlink -f "$2")
. "$(dirname "$0")/../lib.sh"
plain=$("$prog" 2>&1)
plain_status=$?
shim=$(cd "$work" && env LD_PRELOAD="$lib" "$prog" 2>"$work/err")
shim_status=$?
lines=$(grep -c '^leaktag:' "$work/err")
if [ $shim_status = $plain_status ] && [ "$shim" = "$plain" ] && [ "$lines" = 1 ] &&
    grep -q "replaces malloc" "$work/err" && [ -z "$(ls "$work" | grep -v '^err$')" ]; then
    echo "ok   $(cat "$work/err")"
else
    fail "status $shim_status (plain $plain_status), output '$shim' ('$plain'), $lines leaktag lines: $(cat "$work/err")"
fi
end_tests
