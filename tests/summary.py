#!/usr/bin/env python3
"""The line tests/run.sh ends with: tests passed, failed and skipped across every build it
ran, from each build's meson-logs/testlog.json, and the checks skipped inside tests that
passed (unittest's "skipped 'why'", a script's "skip ...: why" line, a cmocka case's
"[  SKIPPED ]"), each with its reason —
a skip must never pass for a pass.

    summary.py BUILD_DIR[=LABEL]... [--skipped "LABEL: why"]...
Exit status 1 when a test failed, timed out or its log is missing.
"""
import json
import os
import re
import sys

INNER = re.compile(r"(?:\.\.\. skipped '(?P<why>[^']*)'|^(?:skip|SKIP)\b[: ]\s*(?P<line>.*)"
                   r"|^\[ RUN      \] (?P<case>\S+)\n\[  SKIPPED \] )", re.M)


def main():
    args = sys.argv[1:]
    not_run = []  # whole builds this machine cannot run, with why
    builds = []
    while args:
        a = args.pop(0)
        if a == "--skipped":
            not_run.append(args.pop(0))
        else:
            builds.append(a)
    skips = []
    passed = failed = skipped = 0
    inner = []
    problems = []
    for b in builds:
        path, _, label = b.partition("=")
        label = label or os.path.basename(path.rstrip("/"))
        log = os.path.join(path, "meson-logs", "testlog.json")
        if not os.path.exists(log):
            problems.append(f"{label}: no test log")
            continue
        counts = {}
        for line in open(log):
            t = json.loads(line)
            result = t["result"]
            counts[result] = counts.get(result, 0) + 1
            name = t["name"].split(" / ", 1)[-1]
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
                text = (t.get("stdout") or "") + (t.get("stderr") or "")
                for m in INNER.finditer(text):
                    if m.group("case"):  # a cmocka case; its reason is a comment at its skip()
                        inner.append(f"{label}/{name}: cmocka case {m.group('case')} skipped")
                        continue
                    inner.append(f"{label}/{name}: {(m.group('why') or m.group('line')).strip()}")
            elif result == "SKIP":
                skipped += 1
                why = ((t.get("stdout") or "") + (t.get("stderr") or "")).strip().splitlines()
                inner_why = why[-1] if why else "exit 77"
                skips.append(f"{label}/{name}: {inner_why}")
            else:
                failed += 1
                problems.append(f"{label}/{name}: {result}")
        print(f"  {label}: " + ", ".join(f"{n} {r.lower()}" for r, n in sorted(counts.items())))
    for why in not_run:
        print(f"  not run: {why}")
    for why in skips:
        print(f"  skipped: {why}")
    for why in inner:
        print(f"  skipped inside a passing test: {why}")
    for p in problems:
        print(f"  FAILED: {p}")
    print(f"leaktag tests: {passed} passed, {failed} failed, {skipped} skipped, "
          f"{len(inner)} checks skipped inside passing tests"
          f"{f', {len(not_run)} builds not run' if not_run else ''}")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
