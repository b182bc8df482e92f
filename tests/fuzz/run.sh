#!/bin/sh
# Runs a fuzzer (the snapshot reader's, or the core files') for LEAKTAG_FUZZ_SECONDS (default
# 30) over a copy of the seed corpus, so new inputs it finds do not land in the repository.
# Usage: run.sh FUZZER CORPUS_DIR
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$2"/* "$work/"
exec "$1" -max_total_time="${LEAKTAG_FUZZ_SECONDS:-30}" -print_final_stats=1 -timeout=10 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -rss_limit_mb=1024 ${LEAKTAG_FUZZ_MAX_LEN:+-max_len=$LEAKTAG_FUZZ_MAX_LEN} "$work"
