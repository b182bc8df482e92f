#!/usr/bin/env python3
"""leaktag-report --format pprof, read back by Go's own reader (`go tool pprof`): the totals
and per-function bytes equal the JSON report's, the thread label, inlined frames as several
lines of one location, build-ids in the mappings, -diff_base between two snapshots, the lost
bytes of a reachability scan as a third sample type, the estimates of a sampled snapshot,
and --output's all-or-nothing file.

    test_pprof.py LEAKTAG_REPORT LIBLEAKTAG REPORT_TARGET SAMPLED_TARGET
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

REPORT, LIB, TARGET, SAMPLED_TARGET = (os.path.abspath(p) for p in sys.argv[1:5])
A, B, G = 40, 12, 7  # as test_report.py: alpha blocks per round, beta blocks, gamma per thread
WORK = tempfile.mkdtemp(prefix="leaktag-pprof-test.")
atexit.register(shutil.rmtree, WORK, True)
GO = shutil.which("go")


def run(prog, name, **extra):
    out = os.path.join(WORK, name + ".%n.lts")
    env = dict(os.environ, LD_PRELOAD=LIB, LEAKTAG_OUTPUT=out, LEAKTAG_AT_EXIT="0",
               LEAKTAG_QUIET="1", **extra)
    subprocess.run(prog, env=env, check=True, stdout=subprocess.DEVNULL)
    return [out.replace("%n", str(n)) for n in (1, 2, 3)]


SNAPS = run([TARGET, str(A), str(B), str(G)], "plain")


def report(*args):
    res = subprocess.run([REPORT, *args], capture_output=True)
    if res.returncode:
        raise AssertionError(f"leaktag-report {' '.join(args)}: {res.stderr.decode()}")
    return res


def profile(snapshot, name, *args):
    path = os.path.join(WORK, name + ".pb.gz")
    report("--format", "pprof", "--output", path, *args, snapshot)
    return path


def pprof(*args):
    res = subprocess.run([GO, "tool", "pprof", *args], capture_output=True, text=True,
                         env=dict(os.environ, PPROF_TMPDIR=WORK, HOME=WORK))
    if res.returncode:
        raise AssertionError(f"go tool pprof {' '.join(args)}: {res.stderr}")
    return res.stdout


def raw_samples(path):
    """[(values, location ids, labels)] and {location id: [function names]} from -raw."""
    text = pprof("-raw", path)
    samples, locations = [], {}
    part = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line in ("Samples:", "Locations", "Mappings"):
            part = line
            continue
        if part == "Samples:":
            m = re.match(r"^\s+(\d+(?:\s+\d+)+): ([\d ]+)$", line)
            if m:
                labels = lines[i + 1].strip() if i + 1 < len(lines) else ""
                samples.append(([int(v) for v in m[1].split()], [int(x) for x in m[2].split()],
                                labels))
        elif part == "Locations":
            m = re.match(r"^\s+(\d+): 0x[0-9a-f]+ M=\d+ (\S+)", line)
            if m:
                current = int(m[1])
                locations[current] = [m[2]]
            elif line.startswith("             ") and locations:
                locations[current].append(line.split()[0])
    return samples, locations


def json_report(*args):
    return json.loads(report("--format", "json", "--top", "0", *args).stdout)


def function_bytes(doc, function):
    return sum(g["bytes"] for g in doc["groups"] if g["frames"] and g["frames"][0]["function"] == function)


@unittest.skipUnless(GO, "go (golang-go) is not installed: tests/run.sh installs it")
class Pprof(unittest.TestCase):
    def test_totals_and_functions_equal_the_report(self):
        path = profile(SNAPS[0], "one")
        doc = json_report(SNAPS[0])
        samples, locations = raw_samples(path)
        self.assertEqual(sum(v[0] for v, _, _ in samples), doc["totals"]["live_blocks"])
        self.assertEqual(sum(v[1] for v, _, _ in samples), doc["totals"]["live_bytes"])
        # frame 0 of each sample is where the report's site is: alpha_site holds 100 * A
        alpha = sum(v[1] for v, ids, _ in samples if ids and locations[ids[0]][-1] == "alpha_site")
        self.assertEqual(alpha, 100 * A)
        self.assertEqual(alpha, function_bytes(doc, "alpha_site"))
        top = pprof("-top", "-sample_index=inuse_space", path)
        self.assertIn("alpha_site", top)
        self.assertRegex(top, r"Type: inuse_space")

    def test_thread_label_and_mappings(self):
        path = profile(SNAPS[0], "tags")
        tags = pprof("-tags", path)
        self.assertIn("thread", tags)
        self.assertIn("worker-*", tags)  # the three worker threads, one family
        raw = pprof("-raw", path)
        mappings = raw[raw.index("Mappings"):]
        self.assertRegex(mappings, r"report_target [0-9a-f]{40}")  # with its build-id
        self.assertRegex(mappings, r"libc\.so\.6 [0-9a-f]{40}")

    def test_inlined_frames_share_a_location(self):
        _, locations = raw_samples(profile(SNAPS[0], "inline"))
        self.assertTrue(any(len(names) > 1 for names in locations.values()),
                        "no location with an inlined chain")

    def test_diff_base_shows_growth(self):
        old, new = profile(SNAPS[0], "old"), profile(SNAPS[2], "new")
        diff = pprof("-top", "-sample_index=inuse_space", "-unit=B", "-diff_base", old, new)
        row = next(l for l in diff.splitlines() if l.rstrip().endswith("alpha_site"))
        self.assertEqual(row.split()[0], f"{2 * A * 100}B")  # two more rounds of A blocks
        beta = [l for l in diff.splitlines() if l.rstrip().endswith("beta_site")]
        self.assertTrue(not beta or beta[0].split()[0] == "0")  # beta did not grow

    def test_lost_bytes_are_a_third_sample_type(self):
        snap = run([TARGET, str(A), str(B), str(G)], "reach", LEAKTAG_REACH="1")[0]
        scan = json_report(snap)["snapshot"]["reachability_scan"]
        if not scan["ok"] and "x86-64 only" in (scan["error"] or ""):
            self.skipTest("no reachability verdict on this processor (a 32-bit shim)")
        path = profile(snap, "reach")
        raw = pprof("-raw", path)
        self.assertIn("lost_space/bytes", raw)
        doc = json_report(snap)
        reach = doc["totals"]["reachability"]
        samples, _ = raw_samples(path)
        self.assertTrue(all(len(v) == 3 for v, _, _ in samples))
        self.assertEqual(sum(v[2] for v, _, _ in samples),
                         reach["definitely_lost"]["bytes"] + reach["indirectly_lost"]["bytes"])

    def test_sampled_snapshot_carries_estimates(self):
        out = os.path.join(WORK, "sampled.lts")
        env = dict(os.environ, LD_PRELOAD=LIB, LEAKTAG_OUTPUT=out, LEAKTAG_AT_EXIT="0",
                   LEAKTAG_QUIET="1", LEAKTAG_SAMPLE="65536")
        subprocess.run([SAMPLED_TARGET, "20000", "2000", "200"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        path = profile(out, "sampled")
        doc = json_report(out)
        samples, _ = raw_samples(path)
        # each sample is rounded on its own: the sum is within one per sample
        self.assertLessEqual(abs(sum(v[1] for v, _, _ in samples) - doc["totals"]["live_bytes"]),
                             len(samples))
        self.assertIn("sampled snapshot", pprof("-raw", path))
        self.assertIn("Period: 65536", pprof("-raw", path))

    def test_output_is_all_or_nothing(self):
        path = os.path.join(WORK, "out.txt")
        report("--output", path, SNAPS[0])
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertIn("alpha_site", open(path).read())
        self.assertEqual([f for f in os.listdir(WORK) if ".tmp-" in f], [])
        res = subprocess.run([REPORT, "--output", os.path.join(WORK, "no", "such", "dir"),
                              SNAPS[0]], capture_output=True, text=True)
        self.assertEqual(res.returncode, 1)
        self.assertIn("no/such/dir", res.stderr)
        self.assertEqual(len(res.stderr.strip().splitlines()), 1)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import unittest77
    unittest77.main()
