#!/bin/sh
# Programs nobody here wrote run unchanged under the shim: same stdout, same exit status,
# nothing from leaktag on stderr; and leaktag-report reads every snapshot they left (real
# modules, real debug information) in each of its outputs.
# Usage: real_programs.sh LIBLEAKTAG SOURCE_DIR LEAKTAG_REPORT
set -u
lib=$1 src=$2 report=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# run NAME CMD...: runs CMD plain and under the shim and compares.
run() {
    name=$1
    shift
    "$@" >"$work/plain.out" 2>"$work/plain.err"
    plain_status=$?
    LD_PRELOAD=$lib LEAKTAG_QUIET=1 LEAKTAG_OUTPUT="$work/%e.%p.%n.lts" "$@" >"$work/shim.out" 2>"$work/shim.err"
    shim_status=$?
    if [ "$plain_status" != "$shim_status" ]; then
        echo "FAIL $name: exit status $shim_status under the shim, $plain_status without"
        sed 's/^/    /' "$work/shim.err" | head -20
        failures=$((failures + 1))
    elif ! cmp -s "$work/plain.out" "$work/shim.out"; then
        echo "FAIL $name: output differs under the shim"
        diff "$work/plain.out" "$work/shim.out" | head -20
        failures=$((failures + 1))
    elif grep -q '^leaktag:' "$work/shim.err"; then
        echo "FAIL $name: leaktag complained:"
        grep '^leaktag:' "$work/shim.err" | head -5
        failures=$((failures + 1))
    else
        echo "ok   $name (exit $plain_status, $(wc -c <"$work/plain.out") bytes of output)"
    fi
    reports=0
    for snapshot in "$work"/*.lts; do
        [ -e "$snapshot" ] || continue
        for args in "--format json" "--by function --grep [a-z]{4,}"; do
            # shellcheck disable=SC2086 # args are words on purpose
            if ! "$report" $args "$snapshot" >"$work/report.out" 2>"$work/report.err" ||
                [ ! -s "$work/report.out" ]; then
                echo "FAIL $name: leaktag-report $args $(basename "$snapshot") failed:"
                sed 's/^/    /' "$work/report.err" | head -10
                failures=$((failures + 1))
            fi
        done
        reports=$((reports + 1))
        rm -f "$snapshot"
    done
    if [ "$reports" = 0 ]; then
        echo "FAIL $name: no snapshot at exit"
        failures=$((failures + 1))
    fi
}

cat >"$work/work.py" <<'PY'
import collections, json, re
words = collections.Counter()
for i in range(60000):
    words["k%d" % (i % 997)] += len(str(i * i))
rows = [{"id": i, "name": "row-%d" % i, "tags": list(range(i % 7))} for i in range(20000)]
text = json.dumps(rows)
print(len(text), sum(words.values()), len(re.findall(r'"row-\d+7"', text)))
print(sorted(words.items())[:5])
PY
run python3 python3 "$work/work.py"

cat >"$work/unit.cpp" <<'CPP'
#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <vector>
template <class T> T total(const std::vector<T> &v) { T s{}; for (auto &x : v) s += x; return s; }
int main() {
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 100; i++) m["k" + std::to_string(i % 10)].push_back(i);
    std::regex re("k[0-9]");
    int n = 0;
    for (auto &kv : m) n += std::regex_match(kv.first, re) ? total(kv.second) : 0;
    return n == 4950 ? 0 : 1;
}
CPP
run g++ sh -c "g++ -O1 -c '$work/unit.cpp' -o '$work/unit.o' && sha256sum < '$work/unit.o'"

run git-log git -C "$src" log --oneline -n 50
run git-status git -C "$src" status --short --untracked-files=no

exit $((failures != 0))
