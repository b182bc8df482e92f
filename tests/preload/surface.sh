#!/bin/sh
# The shim's exported surface stays on top: no function of libleaktag.so that is not itself
# exported calls one of the exported wrappers (with -Bsymbolic-functions such a call would go
# to the wrapper, not to libc). Wrappers may call each other (realloc moves a bootstrap block
# into the tracked heap with malloc).
# Usage: surface.sh LIBLEAKTAG
set -u
lib=$1
command -v objdump >/dev/null || { echo "skip: no objdump"; exit 77; }
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TW]$/ {print $3}' | sort -u)
[ -n "$exported" ] || { echo "FAIL: no exported functions in $lib"; exit 1; }
calls=$(objdump -d --no-show-raw-insn "$lib" | awk -v names="$exported" '
    BEGIN { n = split(names, list, "\n"); for (i = 1; i <= n; i++) wrapper["<" list[i] ">"] = 1 }
    /^[0-9a-f]+ <.*>:$/ { fn = $2; sub(":", "", fn) }
    /(call|jmp)[ \t]/ && ($NF in wrapper) && $NF != fn {
        print (fn in wrapper ? "wrapper " : "core ") fn " -> " $NF }' | sort -u)
unexpected=$(echo "$calls" | grep '^core ')
if [ -n "$unexpected" ]; then
    echo "FAIL: leaktag's own code calls its exported wrappers:"
    echo "$unexpected"
    exit 1
fi
echo "ok   $(echo "$exported" | wc -l) exported functions; calls between them:" $calls
