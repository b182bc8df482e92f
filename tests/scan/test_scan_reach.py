#!/usr/bin/env python3
"""leaktag-scan --reach's verdict per size class against valgrind memcheck's, on a program
started WITHOUT the shim: live (--freeze) and on a gcore core file of it.

reach_classes builds blocks in each of valgrind's four categories, one allocation size per
case, every size its own glibc usable size (the big mmapped ones: 8 bytes short of theirs), so
that a class of the scan is one case. It prints its design: each case's requested size, the
usable size malloc_usable_size measured, the count. Run to its end under valgrind (`exit`: the
helper threads still blocked, as in `wait`), the loss records give per requested size the
blocks in each category; the scan of `wait` must give as many chunks in each category of the
class of that size. No figure is written here: valgrind's are the expected ones, the design
only maps a requested size to its usable one.

    test_scan_reach.py SCAN REACH_CLASSES
    test_scan_reach.py --valgrind-table REACH_CLASSES   (valgrind's side alone, as a table)
"""
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

SCAN, PROGRAM = (os.path.abspath(p) if p != "--valgrind-table" else p for p in sys.argv[1:3])
KINDS = {"Leak_DefinitelyLost": "definitely_lost", "Leak_IndirectlyLost": "indirectly_lost",
         "Leak_PossiblyLost": "possibly_lost", "Leak_StillReachable": "reachable"}
CATEGORIES = ("definitely_lost", "indirectly_lost", "possibly_lost", "reachable")
TOP_RETAINED = 5  # classes, by reachable bytes, that say what retains them


def needs_gcore(test):
    return unittest.skipIf(not shutil.which("gcore"), "no gcore (gdb's): no core to scan")(test)


def glibc_usable(size):
    """glibc's usable size for a request below the mmap threshold, on x86-64."""
    return max(32, (size + 8 + 15) & ~15) - 8


def number(text):
    return int(text.replace(",", ""))


def valgrind_verdict(work):
    """{(requested size, category): blocks} of valgrind's check at exit, and per requested
    size the sites (functions site_*) of its records."""
    xml = os.path.join(work, "valgrind.xml")
    res = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--xml=yes",
                          f"--xml-file={xml}", PROGRAM, "exit"],
                         capture_output=True, text=True, timeout=300)
    if res.returncode != 0 or "ready" not in res.stdout:
        raise AssertionError(f"valgrind {PROGRAM} exit: status {res.returncode}: "
                             f"{res.stderr[-2000:]}")
    counts = collections.Counter()
    sites = collections.defaultdict(set)
    for error in ET.parse(xml).getroot().iter("error"):
        kind = error.findtext("kind")
        if kind not in KINDS:
            continue
        blocks = number(error.findtext("xwhat/leakedblocks"))
        text = error.findtext("xwhat/text")
        # a definitely lost record's bytes count what it loses indirectly too:
        # "14,840 (2,968 direct, 11,872 indirect) bytes in 1 blocks are definitely lost ..."
        split = re.match(r"[\d,]+ \(([\d,]+) direct, [\d,]+ indirect\) bytes", text)
        direct = number(split.group(1)) if split else number(error.findtext("xwhat/leakedbytes"))
        if direct % blocks:
            raise AssertionError(f"a loss record of blocks of more than one size: {text}")
        size = direct // blocks
        counts[size, KINDS[kind]] += blocks
        stack = error.find("stack")
        fns = [f.findtext("fn") or "" for f in stack.iter("frame")] if stack is not None else []
        sites[size].add(next((fn for fn in fns if fn.startswith("site_")), "/".join(fns[:4])))
    return counts, sites


def expected_by_class(design, counts, sites):
    """valgrind's blocks per usable size (a class of the scan), for the sizes of the design;
    AssertionError when another allocation (libc's) would share one of these classes, or when
    valgrind's blocks of a case are not the design's count."""
    usable = {c["size"]: c["usable"] for c in design}
    if len(set(usable.values())) != len(design):
        raise AssertionError(f"two cases share a usable size: {design}")
    for size in {s for s, _ in counts} - set(usable):
        if glibc_usable(size) in usable.values():
            raise AssertionError(f"an allocation of {size} bytes ({sorted(sites[size])}) would "
                                 f"share the class {glibc_usable(size)} with a case: give the "
                                 f"case another size")
    expected = {}
    for case in design:
        want = {k: counts.get((case["size"], k), 0) for k in CATEGORIES}
        alive = case["count"] if case["case"] != "freed" else 0
        if sum(want.values()) != alive:
            raise AssertionError(f"case {case['case']}: {alive} blocks alive by design, "
                                 f"valgrind's records say {want}")
        expected[case["usable"]] = want
    return expected


def read_design(lines):
    for line in lines:
        if line.startswith("design "):
            return json.loads(line[len("design "):])
    raise AssertionError(f"no design line in {lines!r}")


def state_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def tracer_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"TracerPid:\s+(\d+)", f.read()).group(1))


class Waiting:
    """reach_classes wait: built, blocked until its stdin closes or SIGTERM."""

    def __init__(self):
        self.proc = subprocess.Popen([PROGRAM, "wait"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.pid = self.proc.pid
        lines = []
        while not lines or lines[-1] not in ("ready\n", ""):
            lines.append(self.proc.stdout.readline())
        if lines[-1] != "ready\n":
            self.stop()
            raise AssertionError(f"{PROGRAM} wait did not start: {lines!r}")
        self.design = read_design(lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


def scan(*args, check=True):
    res = subprocess.run([SCAN, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and res.returncode != 0:
        raise AssertionError(f"leaktag-scan {' '.join(map(str, args))}: {res.stderr}")
    return res


def scan_json(*args):
    return json.loads(scan(*args, "--format", "json").stdout)


def gcore(pid, directory):
    res = subprocess.run(["gcore", "-o", os.path.join(directory, "core"), str(pid)],
                         capture_output=True, text=True)
    path = os.path.join(directory, f"core.{pid}")
    if res.returncode != 0 or not os.path.exists(path):
        raise AssertionError(f"gcore failed: {res.stderr}")
    return path


def reach_of(k):
    """A class's chunks per category; none for a class of no chunk in use but no verdict."""
    r = k.get("reachability")
    if r is None and k["chunks"] == 0:
        return {c: {"chunks": 0, "bytes": 0} for c in CATEGORIES}
    return r


class SameAsValgrind(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="leaktag-scan-reach.")
        cls.target = None
        cls.counts, cls.sites = valgrind_verdict(cls.dir)
        cls.target = Waiting()
        cls.design = {c["case"]: c for c in cls.target.design}
        cls.expected = expected_by_class(cls.target.design, cls.counts, cls.sites)
        cls.live = None

    @classmethod
    def tearDownClass(cls):
        if cls.target:
            cls.target.stop()
        shutil.rmtree(cls.dir, True)

    @classmethod
    def live_scan(cls):
        if cls.live is None:
            cls.live = scan_json(cls.target.pid, "--reach", "--freeze")
        return cls.live

    def compare(self, d, what):
        heap = d["heap"]
        self.assertTrue(heap["glibc"], what)
        self.assertEqual(heap["invalid_chunks"], 0, what)
        classes = {k["usable"]: k for k in heap["classes"]}
        lines = []
        for case in self.target.design:
            usable, want = case["usable"], self.expected[case["usable"]]
            k = classes.get(usable, {"usable": usable, "chunks": 0})
            r = reach_of(k)
            if r is None:
                lines.append(f"{case['case']} (usable {usable}): {k['chunks']} chunks, "
                             f"no reachability")
                continue
            got = {c: r[c]["chunks"] for c in CATEGORIES}
            if got != want:
                lines.append(f"{case['case']} (usable {usable}): valgrind {want}, scan {got}")
            if sum(got.values()) != k["chunks"]:
                lines.append(f"{case['case']} (usable {usable}): {k['chunks']} chunks in use, "
                             f"{sum(got.values())} in the four categories")
            wrong = {c: r[c]["bytes"] for c in CATEGORIES if r[c]["bytes"] != got[c] * usable}
            if wrong:
                lines.append(f"{case['case']} (usable {usable}): bytes {wrong} are not chunks "
                             f"times {usable}")
        if lines:
            self.fail(f"{what}:\n" + "\n".join(lines))
        # the totals are the classes'
        total = {c: {"chunks": 0, "bytes": 0} for c in CATEGORIES}
        for k in heap["classes"]:
            r = reach_of(k)
            self.assertIsNotNone(r, f"{what}: class {k['usable']}: no reachability")
            for c in CATEGORIES:
                for f in ("chunks", "bytes"):
                    total[c][f] += r[c][f]
        self.assertEqual({c: {f: heap["reachability"][c][f] for f in ("chunks", "bytes")}
                          for c in CATEGORIES}, total, what)
        kinds = collections.Counter()
        for want in self.expected.values():
            kinds.update(want)
        print(f"     {what}: {len(self.expected)} classes, {dict(kinds)} — as valgrind's",
              file=sys.stderr)

    def test_live_frozen(self):
        d = self.live_scan()
        self.compare(d, "live, --freeze")
        self.assertTrue(d["frozen"])
        # released: not stopped, not traced
        self.assertEqual(tracer_of(self.target.pid), 0)
        self.assertEqual(state_of(self.target.pid), "S")

    @needs_gcore
    def test_core(self):
        core = gcore(self.target.pid, self.dir)
        d = scan_json(core, "--reach")
        self.assertTrue(d["target"]["core"])
        self.compare(d, "gcore core")

    def test_retained_by(self):
        classes = self.live_scan()["heap"]["classes"]
        def reachable_bytes(k):
            r = reach_of(k)
            return r["reachable"]["bytes"] if r else 0
        ranked = sorted((k for k in classes if reachable_bytes(k)), key=reachable_bytes,
                        reverse=True)
        top = ranked[:TOP_RETAINED]
        self.assertEqual(sorted(k["usable"] for k in classes if "retained_by" in k),
                         sorted(k["usable"] for k in top))
        by_usable = {k["usable"]: k for k in top}
        for name in ("cache", "kept_child"):
            self.assertIn(self.design[name]["usable"], by_usable,
                          f"the {name} class is not among the {TOP_RETAINED} with most "
                          f"reachable bytes: {[(k['usable'], reachable_bytes(k)) for k in ranked]}")
        for k in top:
            chain = k["retained_by"]
            self.assertTrue(chain and all(isinstance(s, str) and s for s in chain), k)
        module = re.escape(os.path.basename(PROGRAM))
        cache = by_usable[self.design["cache"]["usable"]]["retained_by"]
        self.assertRegex(cache[0], rf"^global g_cache\+0x[0-9a-f]+ \({module}\)$")
        # a child of a kept list: the root g_lists[], then at least the list's head
        kept = by_usable[self.design["kept_child"]["usable"]]["retained_by"]
        self.assertRegex(kept[0], rf"^global g_lists\+0x[0-9a-f]+ \({module}\)$")
        self.assertGreaterEqual(len(kept), 2, kept)
        print(f"     retained_by: {cache}", file=sys.stderr)

    def test_reach_needs_freeze(self):
        res = scan(self.target.pid, "--reach", "--format", "json", check=False)
        self.assertEqual(res.returncode, 2, res.stdout[:500])
        self.assertEqual(res.stdout, "")
        self.assertEqual(res.stderr.count("\n"), 1, res.stderr)
        self.assertRegex(res.stderr, r"^leaktag-scan: ")
        self.assertEqual(tracer_of(self.target.pid), 0)
        self.assertEqual(state_of(self.target.pid), "S")


def valgrind_table():
    """valgrind's side alone: the design (of a native run) and valgrind's blocks per class."""
    work = tempfile.mkdtemp(prefix="leaktag-scan-reach.")
    target = None
    try:
        counts, sites = valgrind_verdict(work)
        target = Waiting()
        design = target.design
        expected = expected_by_class(design, counts, sites)
        print(f"{'case':<20} {'size':>7} {'usable':>7} {'mmap':>4}  " +
              " ".join(f"{c:>15}" for c in CATEGORIES))
        for case in design:
            want = expected[case["usable"]]
            print(f"{case['case']:<20} {case['size']:>7} {case['usable']:>7} "
                  f"{case['mmapped']:>4}  " + " ".join(f"{want[c]:>15}" for c in CATEGORIES))
        others = sorted((s, k, n) for (s, k), n in counts.items()
                        if s not in {c["size"] for c in design})
        for s, k, n in others:
            print(f"not ours: {n} block(s) of {s} bytes {k}: {sorted(sites[s])}")
    finally:
        if target:
            target.stop()
        shutil.rmtree(work, True)


if __name__ == "__main__":
    if not shutil.which("valgrind"):
        print("SKIP: valgrind is not installed (tests/run.sh installs it): no verdict to "
              "compare leaktag-scan --reach's with")
        sys.exit(77)
    if SCAN == "--valgrind-table":
        valgrind_table()
        sys.exit(0)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import unittest77
    unittest77.main()
