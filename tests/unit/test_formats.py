#!/usr/bin/env python3
"""Every conversion the shim's sources give its formatter (lt_format, lt_log, lt_log_once)
formats as snprintf would: format_check runs each against both. A conversion the formatter
does not know would otherwise reach a file name or a message as written (a temporary file
once ended in a literal %016llx).

    test_formats.py FORMAT_CHECK SOURCE_DIR...
"""
import glob
import os
import re
import subprocess
import sys

CALLS = {"lt_format": 2, "lt_log": 0, "lt_log_once": 0}  # the format argument's index
CONVERSION = re.compile(r"%[-0 +#]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|z|j|t)?[a-zA-Z%]")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def arguments(text, start):
    """The top-level arguments of the call whose '(' is at start."""
    args, depth, i, begin = [], 0, start, start + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            i = STRING.match(text, i).end()
            continue
        if c == "'":
            i = text.index("'", i + 2 if text[i + 1] == "\\" else i + 1) + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                args.append(text[begin:i])
                return args
        elif c == "," and depth == 1:
            args.append(text[begin:i])
            begin = i + 1
        i += 1
    return args


def conversions(paths):
    found = {}
    for path in paths:
        text = open(path).read()
        for m in re.finditer(r"\b(%s)\s*\(" % "|".join(CALLS), text):
            args = arguments(text, m.end() - 1)
            index = CALLS[m.group(1)]
            if len(args) <= index:
                continue
            literal = "".join(s.group(1) for s in STRING.finditer(args[index]))
            for c in CONVERSION.findall(literal):
                found.setdefault(c, f"{os.path.basename(path)}:{text.count(chr(10), 0, m.start()) + 1}")
    return found


def main():
    checker, dirs = sys.argv[1], sys.argv[2:]
    paths = sorted(p for d in dirs for p in glob.glob(os.path.join(d, "*.[ch]")))
    found = conversions(paths)
    if len(found) < 5 or "%016llx" not in found:  # (the one behind a macro: TMP_MARK)
        print(f"FAIL only {len(found)} conversions found in {len(paths)} files: {sorted(found)}")
        return 1
    res = subprocess.run([checker, *sorted(found)], capture_output=True, text=True)
    sys.stdout.write(res.stdout + res.stderr)
    if res.returncode != 0:
        for line in (res.stdout + res.stderr).splitlines():
            spec = line.split(" ", 1)[0].rstrip(":")
            if spec in found:
                print(f"  {spec} is used at {found[spec]}")
        return 1
    print(f"ok   {len(found)} conversions from {len(paths)} files: {' '.join(sorted(found))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
