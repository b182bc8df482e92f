# Sourced by the shell tests: a work directory removed at the end, `fail` to count a failure
# with its line, and `end_tests` for the exit status. A test that needs more cleanup sets
# `cleanup` to a command before the end.
work=$(mktemp -d)
cleanup=:
failures=0
trap 'eval "$cleanup"; rm -rf "$work"' EXIT

fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

end_tests() {
    exit $((failures != 0))
}
