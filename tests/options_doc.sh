#!/bin/sh
# The options section of docs/OPTIONS.md must be exactly what the options table prints.
# Usage: options_doc.sh OPTIONS_DOC_PROGRAM docs/OPTIONS.md [--update]
set -eu
prog=$1 doc=$2
generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
"$prog" >"$generated"
section=$(sed -n '/<!-- options:begin -->/,/<!-- options:end -->/p' "$doc" | sed '1d;$d')
if [ "${3:-}" = --update ]; then
    awk -v gen="$generated" '
        /<!-- options:begin -->/ { print; while ((getline line < gen) > 0) print line; skip = 1; next }
        /<!-- options:end -->/ { skip = 0 }
        !skip { print }' "$doc" >"$doc.new" && mv "$doc.new" "$doc"
    exit 0
fi
if [ "$section" != "$(cat "$generated")" ]; then
    echo "$doc is out of date with preload/options.c; run: meson compile -C build update-options-doc"
    diff "$generated" - <<EOF2 || true
$section
EOF2
    exit 1
fi
echo "ok: $doc matches the options table"
