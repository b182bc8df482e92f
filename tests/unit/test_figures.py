#!/usr/bin/env python3
"""Every performance figure the docs quote is one bench/run.py measured, on a named commit.

    test_figures.py SOURCE_ROOT

docs/PERFORMANCE.md holds one generated block (bench/run.py --update): its first line names the
date, the commit and the command. This test checks that
- the block is there, whole, from a full run (--runs 5 or more, no --only) of a commit of
  this tree's history that had no uncommitted changes;
- every paragraph of README.md and docs/*.md (PERFORMANCE.md's text outside the block and
  above its History included) that quotes a figure from PERFORMANCE.md says so with the
  block's date — "docs/PERFORMANCE.md, 2026-12-07" or "(current figures, 2026-12-07)" — and
  every figure in that paragraph (a time, a ratio, megabytes, bytes per block) is a number
  the block writes, digit for digit;
- a paragraph that names PERFORMANCE.md and gives such figures without the date fails.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1])
PERF = os.path.join(ROOT, "docs", "PERFORMANCE.md")
BEGIN = "<!-- bench/run.py: from here to the end mark, generated; do not edit -->"
END = "<!-- bench/run.py: end -->"
# a measured figure: 1.30x / 1.30×, 0.15 s, 17 ms, 73 µs / us, 7.9 MB, 43.5 B per block
FIGURE = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s?(×|x(?![\w-])|s(?![\w-])|ms(?!\w)|µs|us(?!\w)"
                    r"|MB(?!\w)|B per block|B/block)")
CITATION = re.compile(r"PERFORMANCE\.md, (\d{4}-\d{2}-\d{2})|"
                      r"\(current figures, (\d{4}-\d{2}-\d{2})")
failures = []


def fail(msg):
    failures.append(msg)


def figures(text):
    found = set()
    for number, unit in FIGURE.findall(text):
        unit = {"×": "x", "B/block": "B per block", "µs": "us"}.get(unit, unit)
        found.add((number.replace(",", ""), unit))
    return found


def paragraphs(text):
    """Paragraphs outside fenced code, with the line each starts at."""
    out, cur, start, fenced = [], [], 0, False
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("```"):
            fenced = not fenced
            if cur:
                out.append((start, " ".join(cur)))
            cur = []
            continue
        if fenced:
            continue
        if not line.strip() or line.startswith(("#", "* ", "- ", "|")) or re.match(r"\d+\. ", line):
            if cur:
                out.append((start, " ".join(cur)))
            cur = []
            if not line.strip() or line.startswith(("#", "|")):
                continue
        if not cur:
            start = n
        cur.append(line.strip())
    if cur:
        out.append((start, " ".join(cur)))
    return out


def git(*argv):
    return subprocess.run(["git", "-C", ROOT, *argv], capture_output=True, text=True)


perf = open(PERF).read()
if perf.count(BEGIN) != 1 or perf.count(END) != 1 or perf.index(BEGIN) > perf.index(END):
    sys.exit(f"{PERF}: no single generated block between the marks")
block = perf[perf.index(BEGIN) + len(BEGIN):perf.index(END)]
head = re.match(r"\s*Measured (\d{4}-\d{2}-\d{2}) \d\d:\d\d UTC on commit ([0-9a-f]{7,40}) \((.*?)\)"
                r"( plus uncommitted changes)? by `python3 bench/run.py ([^`]*)`", block)
if not head:
    sys.exit(f"{PERF}: the generated block does not open with bench/run.py's provenance line")
date, commit, _, dirty, argv = head.groups()
if dirty:
    fail(f"{PERF}: the figures were measured on a tree with uncommitted changes")
runs = re.search(r"--runs (\d+)", argv)
if not runs or int(runs.group(1)) < 5 or "--only" in argv:
    fail(f"{PERF}: the figures are not from one full run of 5 or more (`{argv}`)")
if "The whole run took" not in block:
    fail(f"{PERF}: the generated block is not a whole run's output")
inside = git("rev-parse", "--is-inside-work-tree")
if inside.returncode == 0:
    if git("merge-base", "--is-ancestor", commit, "HEAD").returncode != 0:
        if git("rev-parse", "--is-shallow-repository").stdout.strip() == "true" and \
                git("cat-file", "-e", commit + "^{commit}").returncode != 0:
            print(f"a shallow clone: commit {commit} is older than its history (not checked)")
        else:
            fail(f"{PERF}: commit {commit} is not in this tree's history")
else:
    print(f"not a git tree: commit {commit} not checked")
# Numbers as the block writes them (a table gives the unit once, in its header): a quoted
# figure must be one of them, digit for digit.
measured = {n.replace(",", "") for n in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", block)}
if len(measured) < 50:
    fail(f"{PERF}: only {len(measured)} figures in the generated block")

docs = [os.path.join(ROOT, "README.md")] + sorted(
    os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
    if f.endswith(".md"))
quoted = 0
for path in docs:
    text = open(path).read()
    if path == PERF:  # the page's own prose: above the History, outside the block
        text = text.replace(block, "\n" * block.count("\n"))
        history = text.find("\n## History")
        text = text[:history] if history >= 0 else text
    for line, para in paragraphs(text):
        cites = CITATION.findall(para)
        names_perf = "PERFORMANCE.md" in para
        found = figures(para)
        where = f"{os.path.relpath(path, ROOT)}:{line}"
        if not cites:
            if names_perf and found:
                fail(f"{where}: figures {sorted(found)} credited to PERFORMANCE.md without "
                     f"its date ({date})")
            continue
        for cited in (a or b for a, b in cites):
            if cited != date:
                fail(f"{where}: quotes PERFORMANCE.md of {cited}; its figures are of {date}")
        for number, unit in sorted(found):
            if number not in measured:
                fail(f"{where}: {number} {unit} is not among the measured figures of {date}")
        quoted += len(found)

print(f"{len(measured)} figures measured on {date} at {commit}; {quoted} quoted in the docs")
if quoted < 10:
    fail(f"only {quoted} figures quoted with their date: the check would hold nothing")
for f in failures:
    print(f)
sys.exit(1 if failures else 0)
