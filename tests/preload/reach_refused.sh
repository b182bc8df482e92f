#!/bin/sh
# Off x86-64 the reachability verdict refuses, and says so in the snapshot (a verdict that
# missed registers and 4-byte words would call reachable blocks lost).
# Usage: reach_refused.sh LIBLEAKTAG REPORT_TARGET LEAKTAG_REPORT
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
LD_PRELOAD="$1" LEAKTAG_REACH=1 LEAKTAG_AT_EXIT=0 LEAKTAG_QUIET=1 \
    LEAKTAG_OUTPUT="$work/s.%n.lts" "$2" 5 1 1
"$3" --format json "$work/s.1.lts" >"$work/r.json"
grep -q '"reachability_scan": {"ok": false, "error": "the reachability verdict runs on x86-64 only"' \
    "$work/r.json" || { echo "FAIL no refusal in the snapshot"; grep -o '"reachability_scan[^}]*' "$work/r.json"; exit 1; }
"$3" "$work/s.1.lts" | grep -q "x86-64 only" || { echo "FAIL the text report does not say why"; exit 1; }
echo "ok   LEAKTAG_REACH=1 off x86-64: refused, and the report says why"
