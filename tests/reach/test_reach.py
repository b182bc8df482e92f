#!/usr/bin/env python3
"""leaktag's reachability verdict against valgrind memcheck's, site by site (issue 14).

reach_cases allocates, at sites named site_*, blocks that end in each of valgrind's four
categories (globals, TLS, thread stacks, mmap'd memory, interior pointers, chains, trees,
cycles, XOR-hidden pointers, big blocks). The same program runs under valgrind (the loss
records of its leak check, from --xml) and under leaktag with LEAKTAG_REACH=1 (the report's
JSON, grouped by stack): for every site, the blocks in each category must be the same. Both
at a checkpoint while helper threads still run (valgrind: VALGRIND_DO_LEAK_CHECK; leaktag:
the snapshot signal) and at exit. No figure is written here: valgrind's are the expected ones.

    test_reach.py LIBLEAKTAG REPORT REACH_CASES
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

LIB, REPORT, PROGRAM = (os.path.abspath(p) for p in sys.argv[1:4])
KINDS = {"Leak_DefinitelyLost": "definitely_lost", "Leak_IndirectlyLost": "indirectly_lost",
         "Leak_PossiblyLost": "possibly_lost", "Leak_StillReachable": "reachable"}
# Sites whose blocks only the helper threads refer to: they have ended by the exit check,
# and what is left of their stacks differs between the two tools (glibc caches the stacks).
THREAD_SITES = {"site_thread_stack", "site_tls"}


def site_of(functions):
    for fn in functions:
        if fn and fn.startswith("site_"):
            return fn
    return None


def valgrind_verdict(mode, work):
    xml = os.path.join(work, f"valgrind-{mode}.xml")
    args = ["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--xml=yes",
            f"--xml-file={xml}", PROGRAM, mode]
    if mode == "mid":  # only the check the program asks for
        args[1] = "--leak-check=no"
    res = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        raise AssertionError(f"valgrind failed: {res.stderr[-2000:]}")
    counts = collections.Counter()
    first_check = None
    for error in ET.parse(xml).getroot().iter("error"):
        kind = error.findtext("kind")
        if kind not in KINDS:
            continue
        # "... in loss record K of N": the records of one leak check share N; the
        # checkpoint's come first, the exit's (which valgrind adds anyway) after them.
        found = re.search(r"loss record \d+ of (\d+)", error.findtext("xwhat/text") or "")
        check = found.group(1) if found else None
        first_check = first_check or check
        if check != first_check:
            break
        stack = error.find("stack")
        site = site_of([f.findtext("fn") for f in stack.iter("frame")] if stack is not None else [])
        if site:
            counts[site, KINDS[kind]] += int(error.findtext("xwhat/leakedblocks"))
    return counts


def leaktag_verdict(mode, work):
    out = os.path.join(work, f"leaktag-{mode}.lts")
    env = dict(os.environ, LD_PRELOAD=LIB, LEAKTAG_REACH="1", LEAKTAG_QUIET="1",
               LEAKTAG_OUTPUT=out, LEAKTAG_AT_EXIT="1" if mode == "exit" else "0",
               REACH_CASES_SNAPSHOT=out)
    res = subprocess.run([PROGRAM, mode], env=env, capture_output=True, text=True, timeout=300)
    if res.returncode != 0 or not os.path.exists(out):
        raise AssertionError(f"{mode}: status {res.returncode}, no snapshot? {res.stderr[-2000:]}")
    rep = subprocess.run([REPORT, "--format", "json", "--top", "0", out], capture_output=True,
                         text=True)
    if rep.returncode != 0:
        raise AssertionError(rep.stderr)
    data = json.loads(rep.stdout)
    scan = data["snapshot"].get("reachability_scan")
    if not scan or not scan["ok"]:
        raise AssertionError(f"{mode}: no reachability verdict: {scan}")
    counts = collections.Counter()
    retained = {}
    for group in data["groups"]:
        site = site_of([f.get("function") for f in group["frames"]])
        if site:
            for kind, figures in group["reachability"].items():
                if kind != "not_scanned" and figures["blocks"]:
                    counts[site, kind] += figures["blocks"]
            if "retained_by" in group:
                retained[site] = group["retained_by"]
    return counts, scan, retained, out


class SameAsValgrind(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="leaktag-reach-test.")

    def tearDown(self):
        shutil.rmtree(self.work, True)

    def compare(self, mode):
        expected = valgrind_verdict(mode, self.work)
        got, scan, retained, self.snapshot = leaktag_verdict(mode, self.work)
        if mode == "exit":
            expected = {k: v for k, v in expected.items() if k[0] not in THREAD_SITES}
            got = {k: v for k, v in got.items() if k[0] not in THREAD_SITES}
        self.assertTrue(len({site for site, _ in expected}) >= 14, expected)
        self.assertEqual(set(k for k, _ in expected), set(k for k, _ in got))
        lines = []
        for key in sorted(set(expected) | set(got)):
            if expected.get(key, 0) != got.get(key, 0):
                lines.append(f"{key[0]}: {key[1]} valgrind {expected.get(key, 0)}, "
                             f"leaktag {got.get(key, 0)}")
        self.assertFalse(lines, f"{mode}:\n" + "\n".join(lines))
        kinds = collections.Counter()
        for (_, kind), n in expected.items():
            kinds[kind] += n
        print(f"{mode}: {len({s for s, _ in expected})} sites, {dict(kinds)} — the same; "
              f"pause {scan['pause_ms']:.2f} ms, {scan['threads_stopped']} threads stopped",
              file=sys.stderr)

        return retained

    def test_checkpoint_while_threads_run(self):
        retained = self.compare("mid")
        # Why the reachable ones are alive: the root named, the chain through the blocks.
        def root(site):
            self.assertIn(site, retained)
            return retained[site]["root"]
        self.assertIn("global_roots", root("site_global")["name"])
        self.assertEqual(root("site_mapped")["kind"], "mapping")
        self.assertIn("anonymous mapping", root("site_mapped")["name"])
        self.assertIn(root("site_thread_stack")["kind"], ("stack", "registers"))
        self.assertIn(root("site_tls")["kind"], ("stack", "registers"))
        chain = retained["site_tree_node"]
        self.assertIn("global_roots", chain["root"]["name"])
        self.assertGreaterEqual(chain["references"], 2)
        self.assertEqual(chain["chain"][0]["frames"][0]["function"], "site_tree_root")

    def test_at_exit(self):
        self.compare("exit")
        self.lost_only(self.snapshot)

    def lost_only(self, snapshot):
        """--lost shows exactly the groups with definitely or indirectly lost blocks, and its
        header counts those it shows, not every group."""
        every = json.loads(subprocess.run([REPORT, "--format", "json", "--top", "0", snapshot],
                                          capture_output=True, text=True, check=True).stdout)
        def lost(g):
            r = g["reachability"]
            return r["definitely_lost"]["blocks"] + r["indirectly_lost"]["blocks"] > 0
        want = sorted(g["key"] for g in every["groups"] if lost(g))
        self.assertTrue(0 < len(want) < len(every["groups"]), want)
        shown = json.loads(subprocess.run([REPORT, "--format", "json", "--top", "0", "--lost",
                                           snapshot], capture_output=True, text=True,
                                          check=True).stdout)
        self.assertEqual(sorted(g["key"] for g in shown["groups"]), want)
        self.assertEqual(shown["grouping"]["groups_with_lost"], len(want))
        text = subprocess.run([REPORT, "--top", "0", "--lost", snapshot], capture_output=True,
                              text=True, check=True).stdout
        header = re.search(r"^(\d+) groups by stack, (\d+) of them with lost blocks", text, re.M)
        printed = len(re.findall(r"^#\d+ ", text, re.M))
        self.assertTrue(header, text[:2000])
        self.assertEqual((int(header.group(1)), int(header.group(2)), printed),
                         (len(every["groups"]), len(want), len(want)))
        print(f"--lost: {len(want)} of {len(every['groups'])} groups shown, as counted",
              file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import unittest77
    unittest77.main()
