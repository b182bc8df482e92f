#!/bin/sh
# Snapshot tests: the C scenarios of snapshot_test plus what only the file system can show
# (permissions, symlinks, unwritable and full directories, path templates).
# Usage: run.sh LIBLEAKTAG SNAPSHOT_TEST
set -u
abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
lib=$(abspath "$1") prog=$(abspath "$2")
. "$(dirname "$0")/../lib.sh"
cleanup='umount "$work/full" 2>/dev/null'

# shim DIR [VAR=VALUE...] -- ARGS: runs the test program under the shim, output into DIR.
shim() {
    dir=$1
    shift
    mkdir -p "$dir"
    env LD_PRELOAD="$lib" SNAPSHOT_DIR="$dir" LEAKTAG_OUTPUT="$dir/snap.%p.%n.lts" \
        LEAKTAG_AT_EXIT=0 LEAKTAG_QUIET=1 LEAKTAG_KEEP=0 "$@"
}

# storm and chain install a handler of the program's own for SIGUSR2: the signal is
# leaktag's there only when chosen (LEAKTAG_SIGNAL; by default it stays the program's).
for scenario in signal8 storm fork chain sample-race; do
    if shim "$work/$scenario" LEAKTAG_SIGNAL=USR2 "$prog" "$scenario" >"$work/$scenario.out" 2>"$work/$scenario.err"; then
        echo "ok   $scenario"
    else
        fail "$scenario"
        sed 's/^/    /' "$work/$scenario.err" | tail -20
    fi
done

# storm: what the program prints is the same without the shim
SNAPSHOT_DIR="$work/plain" "$prog" storm >"$work/storm.plain" 2>/dev/null
cmp -s "$work/storm.out" "$work/storm.plain" && echo "ok   storm output unchanged" ||
    fail "storm output differs under the shim"

# api + interval + at exit
if shim "$work/api" LEAKTAG_INTERVAL=1 LEAKTAG_AT_EXIT=1 "$prog" api 2>"$work/api.err"; then
    last=$(ls "$work/api" | sed -n 's/^snap\.[0-9]*\.\([0-9]*\)\.lts$/\1/p' | sort -n | tail -1)
    reason=$("$prog" read "$work/api/$(ls "$work/api" | grep "\.$last\.lts$")" | cut -d' ' -f2)
    [ "$reason" = exit ] && echo "ok   api, interval and at-exit (last is #$last: $reason)" ||
        fail "api: last snapshot #$last has reason '$reason', not exit"
else
    fail "api"
    sed 's/^/    /' "$work/api.err" | tail -20
fi

# files are 0600 whatever the umask, and complete
mkdir -p "$work/mode"
(umask 000 && shim "$work/mode" "$prog" once >/dev/null 2>&1)
f=$(ls "$work/mode"/snap.*.lts 2>/dev/null | head -1)
[ -n "$f" ] && [ "$(stat -c %a "$f")" = 600 ] && echo "ok   mode 0600" ||
    fail "mode: ${f:-no file} has mode $(stat -c %a "$f" 2>/dev/null)"
[ -z "$(ls -A "$work/mode" | grep -v '^snap\.[0-9]*\.1\.lts$')" ] &&
    echo "ok   no temporary file left behind" || fail "leftovers: $(ls -A "$work/mode")"

# a symlink planted at the snapshot's name is replaced, never followed
mkdir -p "$work/link"
echo secret >"$work/link/victim"
ln -s "$work/link/victim" "$work/link/fixed.lts"
shim "$work/link" LEAKTAG_OUTPUT="$work/link/fixed.lts" "$prog" once >/dev/null 2>&1
if [ "$(cat "$work/link/victim")" = secret ] && [ ! -L "$work/link/fixed.lts" ] &&
    "$prog" read "$work/link/fixed.lts" >/dev/null; then
    echo "ok   symlink not followed"
else
    fail "symlink: victim now '$(head -c 20 "$work/link/victim")'"
fi

# unwritable places: one leaktag line naming the path and the error, the program carries on
check_error() { # NAME OUTPUT_TEMPLATE EXPECTED_ERROR
    mkdir -p "$work/$1"
    shim "$work/$1" LEAKTAG_QUIET=0 LEAKTAG_OUTPUT="$2" "$prog" once >"$work/$1.out" 2>"$work/$1.err"
    status=$?
    lines=$(grep -c '^leaktag:' "$work/$1.err")
    if [ $status = 0 ] && [ "$lines" = 1 ] && grep -q "^leaktag: cannot write snapshot 1 to .*: $3" "$work/$1.err" &&
        grep -q "returned -" "$work/$1.out"; then
        echo "ok   $1: $(grep '^leaktag:' "$work/$1.err")"
    else
        fail "$1: status $status, $lines leaktag lines:"
        sed 's/^/    /' "$work/$1.err"
    fi
}
check_error missing-dir "$work/does/not/exist/%p.lts" "No such file or directory"
if [ "$(id -u)" = 0 ]; then
    check_error unwritable-dir "/sys/leaktag-%p.lts" "Permission denied"
    mkdir -p "$work/full"
    if mount -t tmpfs -o size=16k tmpfs "$work/full" 2>/dev/null; then
        check_error full-disk "$work/full/%p.lts" "No space left on device"
        [ -z "$(ls -A "$work/full")" ] && echo "ok   full disk: nothing left behind" ||
            fail "full disk: leftovers $(ls -A "$work/full")"
        umount "$work/full"
    else
        echo "skip full-disk: cannot mount a tmpfs here"
    fi
else
    mkdir -p "$work/ro" && chmod 500 "$work/ro"
    check_error unwritable-dir "$work/ro/%p.lts" "Permission denied"
    echo "skip full-disk: needs root to mount a small tmpfs"
fi

# A temporary file left by a process killed while it wrote is removed by the next snapshot
# in that directory: only one whose writer is gone, a minute old, a regular file of ours
# holding the start of a snapshot, with leaktag's name pattern; the decoys stay.
mkdir -p "$work/stale"
dead=$(sh -c 'echo $$')
head -c 100 "$f" >"$work/stale/.snap.1.lts.tmp-$dead-0123456789abcdef"
cp "$work/stale/.snap.1.lts.tmp-$dead-0123456789abcdef" "$work/stale/.fresh.lts.tmp-$dead-0123456789abcdef"
cp "$f" "$work/stale/.alive.lts.tmp-$$-0123456789abcdef"
echo hello >"$work/stale/.other.lts.tmp-$dead-0123456789abcdef"
cp "$f" "$work/stale/.short.lts.tmp-$dead-0123456789abcde"
ln -s "$work/stale/.alive.lts.tmp-$$-0123456789abcdef" "$work/stale/.link.lts.tmp-$dead-0123456789abcdef"
for old in snap.1 alive other short; do
    touch -h -d '2 minutes ago' "$work/stale"/.$old.lts.tmp-*
done
shim "$work/stale" LEAKTAG_QUIET=0 LEAKTAG_OUTPUT="$work/stale/new.lts" "$prog" once \
    >/dev/null 2>"$work/stale.err"
left=$(ls -A "$work/stale" | tr '\n' ' ')
expected=".alive.lts.tmp-$$-0123456789abcdef .fresh.lts.tmp-$dead-0123456789abcdef .link.lts.tmp-$dead-0123456789abcdef .other.lts.tmp-$dead-0123456789abcdef .short.lts.tmp-$dead-0123456789abcde new.lts "
if [ "$left" = "$expected" ] && [ "$(grep -c "removed .*\.snap\.1\.lts\.tmp-$dead-.*left by process $dead" "$work/stale.err")" = 1 ]; then
    echo "ok   a dead writer's temporary file is removed, the decoys stay"
else
    fail "stale temporary files: left $left; $(cat "$work/stale.err")"
fi

# LEAKTAG_KEEP: a process keeps its newest N snapshots, whatever it is asked for
mkdir -p "$work/keep"
shim "$work/keep" LEAKTAG_KEEP=3 LEAKTAG_OUTPUT="$work/keep/k.%n.lts" "$prog" many 7 >/dev/null 2>&1
kept=$(ls "$work/keep" | tr '\n' ' ')
[ "$kept" = "k.5.lts k.6.lts k.7.lts " ] && echo "ok   LEAKTAG_KEEP=3 after 7: $kept" ||
    fail "LEAKTAG_KEEP=3 after 7 snapshots: $kept"

# LEAKTAG_SAMPLE_BYTES=0 (processes with secrets): no block content and no command line
shim "$work/keep" LEAKTAG_SAMPLE_BYTES=0 LEAKTAG_OUTPUT="$work/secret.lts" "$prog" once \
    --password=hunter2 >/dev/null 2>&1
if [ -f "$work/secret.lts" ] && ! grep -q hunter2 "$work/secret.lts"; then
    echo "ok   LEAKTAG_SAMPLE_BYTES=0 leaves the command line out"
else
    fail "LEAKTAG_SAMPLE_BYTES=0: the password is in the snapshot (or no snapshot)"
fi

# %e is the name the program was started as (a link's, as ps shows it), not the target's
mkdir -p "$work/alias"
ln -s "$prog" "$work/alias/started-as"
shim "$work/alias" LEAKTAG_OUTPUT="$work/alias/%e.lts" "$work/alias/started-as" once >/dev/null 2>&1
[ -f "$work/alias/started-as.lts" ] && echo "ok   %e from the name it was started as" ||
    fail "%e: got $(ls "$work/alias" | tr '\n' ' ')"

# %e %p %n %t %% expansion, and relative paths stay where the process started
mkdir -p "$work/tmpl"
shim "$work/tmpl" LEAKTAG_OUTPUT="$work/tmpl/x-%e-%p-%n-%t-%%.lts" "$prog" once >/dev/null 2>&1
ls "$work/tmpl" | grep -Eq '^x-snapshot_test-[0-9]+-1-[0-9]{10}-%\.lts$' &&
    echo "ok   template expansion: $(ls "$work/tmpl")" || fail "template: got $(ls "$work/tmpl")"
mkdir -p "$work/rel/out"
(cd "$work/rel" && shim "$work/rel" LEAKTAG_OUTPUT="out/%n.lts" "$prog" chdir-once \
    >"$work/rel.out" 2>"$work/rel.err")
[ -f "$work/rel/out/1.lts" ] && echo "ok   relative path resolved at start-up" ||
    fail "relative path: $(ls -R "$work/rel" | tr '\n' ' '); $(cat "$work/rel.out" "$work/rel.err")"

end_tests
