#!/bin/sh
# The code's layout is .clang-format's (clang-format 14, as Debian 12 ships it): every .c
# and .h of preload/, snapshot/ and analyzer/ as the formatter would write it.
#   layout.sh SOURCE_ROOT
top=$1
command -v clang-format >/dev/null || { echo "SKIP no clang-format (tests/run.sh installs it)"; exit 77; }
cd "$top" || exit 2

# The top level stays small: what the design card names, and the files meson and git need.
if [ -d .git ] && command -v git >/dev/null; then
    allowed=" .ci .clang-format .gitignore README.md analyzer bench debian docs examples include meson.build meson_options.txt preload snapshot tests "
    extra=$(git ls-files | cut -d/ -f1 | sort -u | while read -r e; do
        case "$allowed" in *" $e "*) ;; *) echo "$e" ;; esac
    done)
    [ -z "$extra" ] || { echo "FAIL at the top level, not in the design card's list:" $extra; exit 1; }
    echo "ok   the top level holds only what the design card lists"
else
    echo "note not a git checkout: the top level's entries not checked"
fi
files=$(ls preload/*.[ch] snapshot/*.[ch] analyzer/*.[ch] analyzer/shared/*.[ch] analyzer/scan/*.[ch])
n=$(echo "$files" | wc -l)
[ "$n" -gt 70 ] || { echo "only $n files found"; exit 1; }
if clang-format --dry-run -Werror $files 2>/tmp/leaktag-layout.$$; then
    echo "ok   $n files laid out as .clang-format says ($(clang-format --version))"
    rm -f /tmp/leaktag-layout.$$
    exit 0
fi
grep -m 20 'error:' /tmp/leaktag-layout.$$
echo "FAIL $(grep -c 'error:' /tmp/leaktag-layout.$$) places differ: clang-format -i them"
rm -f /tmp/leaktag-layout.$$
exit 1
