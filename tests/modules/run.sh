#!/bin/sh
# Modules that come and go, under the shim (issue 12). Usage: run.sh LIBLEAKTAG MODULES_TEST REPORT
set -u
lib=$1 prog=$2 report=$3
. "$(dirname "$0")/../lib.sh"

shim() { # NAME HOW [VAR=VALUE...]: under the shim, snapshot at exit into $work/NAME.lts
    name=$1 how=$2
    shift 2
    timeout -k 1 20 env LD_PRELOAD="$lib" LEAKTAG_QUIET=1 LEAKTAG_OUTPUT="$work/$name.lts" "$@" \
        "$prog" "$how" >"$work/$name.out" 2>"$work/$name.err"
}

# RUNPATH: dlopen by name still searches the program's own RUNPATH (the loader takes it from
# its caller's return address: leaktag's wrapper must not become the caller).
if shim runpath runpath; then echo "ok   runpath: $(cat "$work/runpath.out")"
else fail "runpath: $(cat "$work/runpath.out" "$work/runpath.err")"; fi

# dlclose: the blocks of an unloaded plugin keep its name, even where plugin b took its place.
if shim dlclose dlclose; then
    where=$(cat "$work/dlclose.out")
    "$report" --format json --top 0 "$work/dlclose.lts" >"$work/dlclose.json" 2>"$work/dlclose.rerr"
    names=$(python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
for g in doc["groups"]:
    fs = [f["function"] + "@" + str(f["module"]) for f in g["frames"]]
    if any(f.startswith("main@") for f in fs):
        print(g["blocks"], fs[0])
' "$work/dlclose.json")
    echo "$names" | grep -qx "5 allocate_in_ltplugin_a@libltplugin_a.so" &&
        echo "$names" | grep -qx "1 allocate_in_ltplugin_b@libltplugin_b.so" &&
        echo "ok   dlclose ($where): $(echo "$names" | tr '\n' ';')" ||
        fail "dlclose ($where): groups: $(echo "$names" | tr '\n' ';') $(cat "$work/dlclose.rerr")"
else
    fail "dlclose: $(cat "$work/dlclose.out" "$work/dlclose.err")"
fi

# RTLD_DEEPBIND: said once.
if shim deepbind deepbind && [ "$(grep -c 'RTLD_DEEPBIND' "$work/deepbind.err")" = 1 ]; then
    echo "ok   deepbind: $(grep RTLD_DEEPBIND "$work/deepbind.err")"
else
    fail "deepbind: $(cat "$work/deepbind.out" "$work/deepbind.err")"
fi

# A thread inside a dl_iterate_phdr callback for good: unwinding and the final snapshot
# must not wait for the loader's lock; the program's output is not lost.
if shim hang iterate-hang && grep -q "exiting" "$work/hang.out" && [ -f "$work/hang.lts" ]; then
    echo "ok   iterate-hang: exited, $(cat "$work/hang.out")"
else
    fail "iterate-hang: status $?: $(cat "$work/hang.out" "$work/hang.err")"
fi
# The same with the verdict on: nothing of it waits for the loader either, and the final
# snapshot has its verdict (and no temporary file is left).
start=$(date +%s)
if shim hang-reach iterate-hang LEAKTAG_REACH=1 && [ -f "$work/hang-reach.lts" ] &&
    "$report" --format json --top 0 "$work/hang-reach.lts" >"$work/hang-reach.json" &&
    python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["snapshot"]["reachability_scan"]["ok"]' \
        "$work/hang-reach.json" && [ -z "$(ls -A "$work" | grep tmp-)" ]; then
    echo "ok   iterate-hang, LEAKTAG_REACH=1: exited in $(($(date +%s) - start)) s with a verdict"
else
    fail "iterate-hang, LEAKTAG_REACH=1: status $?: $(cat "$work/hang-reach.out" "$work/hang-reach.err") $(ls -A "$work")"
fi

# A snapshot asked for inside a dl_iterate_phdr callback, while leaktag's files thread
# writes snapshots: the caller holds the loader's lock (recursive for it alone), so the
# module registry is brought up to date in the caller, not in the files thread.
if shim in-iterate snapshot-in-iterate LEAKTAG_AT_EXIT=0 && [ -f "$work/in-iterate.lts" ]; then
    echo "ok   snapshot-in-iterate: $(cat "$work/in-iterate.out")"
else
    fail "snapshot-in-iterate: status $? (124: hung): $(cat "$work/in-iterate.out" "$work/in-iterate.err")"
fi

end_tests
