#!/bin/sh
# Runs the core-file fuzzer over seeds made here and now (no core files in the repository):
# a gcore of a small dynamic program with a heap, a threaded one, and that core cut short.
# Usage: core_seeds.sh FUZZER RUN_SH SEED_PROGRAM
set -eu
command -v gcore >/dev/null || { echo "skip: no gcore (gdb)"; exit 77; }
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
"$3" 200 & pid=$!
sleep 0.3
gcore -o "$seeds/core" $pid >/dev/null 2>&1 || true
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
core="$seeds/core.$pid"
[ -s "$core" ] || { echo "gcore wrote nothing"; exit 1; }
head -c 8192 "$core" > "$seeds/cut"
# libFuzzer takes seeds of at most -max_len bytes whole (else their start only)
LEAKTAG_FUZZ_MAX_LEN=$(($(wc -c < "$core") + 4096)) exec "$2" "$1" "$seeds"
