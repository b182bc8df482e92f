#!/usr/bin/env python3
"""leaktag-report on a program with a known heap (report_target.c): groups, exact counts and
bytes, thread names, folding, --grep, --diff trends, JSON, collapsed and text output, and
every kind of bad input. Expectations come from the parameters given to the program.

    test_report.py LEAKTAG_REPORT LIBLEAKTAG REPORT_TARGET
"""
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

REPORT, LIB, TARGET, SAMPLED_TARGET = (os.path.abspath(p) for p in sys.argv[1:5])
A, B, G = 40, 12, 7  # alpha blocks per round, beta blocks, gamma blocks per thread
WORK = tempfile.mkdtemp(prefix="leaktag-report-test.")
atexit.register(shutil.rmtree, WORK, True)


def run_target():
    env = dict(os.environ, LD_PRELOAD=LIB, LEAKTAG_OUTPUT=os.path.join(WORK, "snap.%n.lts"),
               LEAKTAG_AT_EXIT="0", LEAKTAG_QUIET="1")
    subprocess.run([TARGET, str(A), str(B), str(G)], env=env, check=True)
    return [os.path.join(WORK, f"snap.{n}.lts") for n in (1, 2, 3)]


SNAPS = run_target()


def report(*args, expect_status=0):
    res = subprocess.run([REPORT, *args], capture_output=True, text=True)
    if res.returncode != expect_status:
        raise AssertionError(f"leaktag-report {' '.join(args)}: status {res.returncode}\n"
                             f"{res.stderr}{res.stdout[-2000:]}")
    return res


def report_json(*args):
    return json.loads(report("--format", "json", "--top", "0", *args).stdout)


def group_at(doc, function):
    """The group whose frame 0 is `function`."""
    found = [g for g in doc["groups"] if g["frames"] and g["frames"][0]["function"] == function]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} groups at {function}: "
                             f"{[g['frames'][0]['function'] for g in doc['groups'] if g['frames']]}")
    return found[0]


class Groups(unittest.TestCase):
    def test_exact_counts_per_stack(self):
        doc = report_json(SNAPS[0])
        self.assertEqual(doc["snapshot"]["reason"], "one")
        self.assertEqual(doc["snapshot"]["seq"], 1)
        alpha = group_at(doc, "alpha_site")
        self.assertEqual((alpha["blocks"], alpha["bytes"]), (A, 100 * A))
        beta = group_at(doc, "beta_site")
        self.assertEqual((beta["blocks"], beta["bytes"]), (B, 1000 * B))
        gamma = group_at(doc, "gamma_site")
        self.assertEqual((gamma["blocks"], gamma["bytes"]), (3 * G, 50 * 3 * G))
        self.assertEqual([(t["name"], t["threads"], t["blocks"]) for t in gamma["threads"]],
                         [("worker-*", 3, 3 * G)])
        # groups are sorted by bytes, and the totals add up
        sizes = [g["bytes"] for g in doc["groups"]]
        self.assertEqual(sizes, sorted(sizes, reverse=True))
        self.assertEqual(sum(sizes), doc["totals"]["live_bytes"])
        self.assertEqual(sum(g["blocks"] for g in doc["groups"]), doc["totals"]["live_blocks"])

    def test_frames_are_symbolized(self):
        alpha = group_at(report_json(SNAPS[0]), "alpha_site")
        f0 = alpha["frames"][0]
        self.assertTrue(f0["file"].endswith("report_target.c"), f0)
        source = open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "report_target.c")).read().split("\n")
        calloc_line = next(i + 1 for i, l in enumerate(source) if "calloc(1, 100)" in l)
        self.assertEqual(f0["line"], calloc_line)
        self.assertEqual(f0["module"], "report_target")
        self.assertIn("main", [f["function"] for f in alpha["frames"]])

    def test_fold_skips_wrappers(self):
        plain = report_json(SNAPS[0])
        self.assertEqual(group_at(plain, "xmalloc_wrapper")["blocks"], 5)
        folded = report_json("--fold", "^xmalloc", SNAPS[0])
        delta = group_at(folded, "delta_site")
        self.assertEqual((delta["blocks"], delta["bytes"]), (5, 5 * 77))

    def test_by_thread_function_and_site(self):
        by_thread = report_json("--by", "thread", SNAPS[0])
        worker = [g for g in by_thread["groups"] if g["key"] == "worker-*"]
        self.assertEqual(len(worker), 1)
        self.assertEqual((worker[0]["blocks"], worker[0]["threads"][0]["threads"]), (3 * G, 3))
        by_function = report_json("--by", "function", SNAPS[0])
        self.assertEqual(group_at(by_function, "alpha_site")["blocks"], A)
        by_site = report_json("--by", "site", SNAPS[0])
        self.assertEqual(group_at(by_site, "beta_site")["bytes"], 1000 * B)

    def test_filters(self):
        doc = report_json("--min-bytes", "5000", SNAPS[0])
        self.assertTrue(all(g["bytes"] >= 5000 for g in doc["groups"]))
        self.assertIn("beta_site", [g["frames"][0]["function"] for g in doc["groups"]])
        old = report_json("--min-age", "3600", SNAPS[0])
        self.assertEqual(old["groups"], [])
        self.assertEqual(old["totals"]["shown_blocks"], 0)
        top = report("--top", "2", SNAPS[0]).stdout
        self.assertEqual(len(re.findall(r"^#\d+ ", top, re.M)), 2)
        self.assertRegex(top, r"\.\.\. \d+ more groups")


class Content(unittest.TestCase):
    def test_samples_strings_and_grep(self):
        doc = report_json("--grep", r"alpha-key=\d+", SNAPS[0])
        alpha = group_at(doc, "alpha_site")
        self.assertEqual(len(alpha["samples"]), 8)  # LEAKTAG_SAMPLES default
        for s in alpha["samples"]:
            self.assertEqual(s["size"], 100)
            self.assertTrue(s["text"].startswith("alpha-key="))
            self.assertEqual(bytes.fromhex(s["hex"])[:6], b"alpha-")
        self.assertEqual(alpha["grep"]["matches"], 8)
        self.assertEqual((alpha["grep"]["blocks_searched"], alpha["grep"]["blocks_matched"]), (8, 8))
        self.assertEqual(sum(d["count"] for d in alpha["grep"]["distinct"]), 8)
        self.assertEqual(sum(d["blocks"] for d in alpha["grep"]["distinct"]), 8)
        self.assertTrue(all(re.fullmatch(r"alpha-key=\d+", d["text"])
                            for d in alpha["grep"]["distinct"]))
        self.assertEqual(alpha["strings"][0], {"text": "tag=alpha", "count": 8})
        self.assertEqual(alpha["string_shapes"][0], {"text": "alpha-key=#", "count": 8})
        beta = group_at(doc, "beta_site")
        self.assertEqual(beta["grep"]["matches"], 0)
        self.assertEqual(beta["grep"]["blocks_matched"], 0)
        self.assertGreater(beta["grep"]["blocks_searched"], 0)

    def test_dump_holds_the_shown_blocks_bytes(self):
        dump, index = os.path.join(WORK, "dump.bin"), os.path.join(WORK, "dump.idx")
        report("--top", "1", "--dump", dump, "--dump-index", index, SNAPS[0])
        self.assertEqual(os.stat(dump).st_mode & 0o777, 0o600)
        rows = [l.split("\t") for l in open(index).read().splitlines() if not l.startswith("#")]
        data = open(dump, "rb").read()
        self.assertEqual(sum(int(r[1]) for r in rows), len(data))
        doc = report_json("--top", "1", "--grep", r"[a-z]+-key=\d+", SNAPS[0])
        samples = {int(sm["address"], 16): bytes.fromhex(sm["hex"])
                   for sm in doc["groups"][0]["samples"]}
        self.assertEqual(len(rows), len(samples))
        for r in rows:  # each block's bytes start where the index says, and are its sample's
            start, length = int(r[0]), int(r[1])
            self.assertEqual(data[start:start + length], samples[int(r[2], 16)], r)
        self.assertEqual(len(re.findall(rb"[a-z]+-key=\d+", data)),
                         doc["groups"][0]["grep"]["matches"])
        report("--dump-index", index, SNAPS[0], expect_status=2)

    def test_text_shows_hexdump_and_strings(self):
        text = report("--grep", r"alpha-key=\d+", SNAPS[0]).stdout
        self.assertRegex(text, r"00000000: 616c 7068 612d 6b65 793d [0-9a-f ]+ alpha-key=")
        self.assertIn("grep 'alpha-key=\\d+': 8 matches in 8 of 8 blocks searched", text)
        self.assertIn("alpha_site", text)
        self.assertRegex(text, r"threads: worker-\* x3")


class Census(unittest.TestCase):
    """LEAKTAG_SAMPLES=all: a zstd-compressed sample of every live block, read as a stream."""
    N = 300  # alpha blocks in the first snapshot: more than JSON lists by default

    @classmethod
    def setUpClass(cls):
        out = os.path.join(WORK, "census.%n.lts")
        env = dict(os.environ, LD_PRELOAD=LIB, LEAKTAG_OUTPUT=out, LEAKTAG_AT_EXIT="0",
                   LEAKTAG_QUIET="1", LEAKTAG_SAMPLES="all")
        subprocess.run([TARGET, str(cls.N), str(B), str(G)], env=env, check=True)
        cls.snaps = [out.replace("%n", str(n)) for n in (1, 2, 3)]

    def test_every_block_is_counted(self):
        doc = report_json("--grep", r"alpha-key=\d+", self.snaps[0])
        alpha = group_at(doc, "alpha_site")
        self.assertEqual(alpha["samples_captured"], self.N)
        self.assertEqual(len(alpha["samples"]), 64)  # JSON's default
        self.assertEqual((alpha["grep"]["blocks_searched"], alpha["grep"]["blocks_matched"]),
                         (self.N, self.N))
        self.assertEqual(len(alpha["grep"]["distinct"]), self.N)  # every key once
        self.assertEqual(alpha["strings"][0], {"text": "tag=alpha", "count": self.N})
        self.assertEqual(alpha["strings_dropped_at_most"], 0)
        self.assertEqual(alpha["strings_blocks_searched"], self.N)
        self.assertEqual(alpha["string_shapes"][0], {"text": "alpha-key=#", "count": self.N})
        self.assertEqual(len(group_at(report_json("--samples", "5", self.snaps[0]),
                                      "alpha_site")["samples"]), 5)
        # the newest of three snapshots: its own census
        alpha3 = group_at(report_json("--grep", r"alpha-key=\d+", "--diff", *self.snaps),
                          "alpha_site")
        self.assertEqual(alpha3["grep"]["blocks_matched"], 3 * self.N)

    def test_dump_of_a_census(self):
        dump, index = os.path.join(WORK, "census.bin"), os.path.join(WORK, "census.idx")
        report("--top", "2", "--dump", dump, "--dump-index", index, self.snaps[0])
        rows = [l.split("\t") for l in open(index).read().splitlines() if not l.startswith("#")]
        data = open(dump, "rb").read()
        self.assertEqual(sum(int(r[1]) for r in rows), len(data))
        self.assertEqual(sorted(set(r[4] for r in rows)), ["#1", "#2"])
        self.assertEqual([r[4] for r in rows], sorted(r[4] for r in rows))  # group after group
        keys = re.findall(rb"alpha-key=(\d+)", data)
        self.assertEqual(sorted(int(k) for k in keys), list(range(1, self.N + 1)))
        for r in rows:
            start, length = int(r[0]), int(r[1])
            if r[5] == "alpha_site":
                self.assertTrue(data[start:start + length].startswith(b"alpha-key="), r)


class Diff(unittest.TestCase):
    def test_trend_ranks_the_grower_first(self):
        doc = report_json("--diff", *SNAPS)
        first = doc["groups"][0]
        self.assertEqual(first["frames"][0]["function"], "alpha_site")
        self.assertTrue(first["grew_every_interval"])
        self.assertEqual(first["series_blocks"], [A, 2 * A, 3 * A])
        self.assertEqual((first["delta_blocks"], first["delta_bytes"]), (2 * A, 200 * A))
        beta = group_at(doc, "beta_site")
        self.assertFalse(beta["grew_every_interval"])
        self.assertEqual(beta["delta_bytes"], 0)
        self.assertEqual(len(doc["compared"]), 3)
        text = report("--diff", *SNAPS).stdout
        self.assertIn("leak suspect", text)
        self.assertIn(f"+{2 * A} blocks since snapshot 1", text)

    def test_top_counts_groups_that_pass_min_bytes(self):
        # sorted by growth, the groups --min-bytes keeps are not a prefix of the list
        passing = len(report_json("--diff", "--min-bytes", "1", *SNAPS)["groups"])
        for top in (1, 2, 3):
            doc = report_json("--diff", "--min-bytes", "1", "--top", str(top), *SNAPS)
            self.assertEqual(len(doc["groups"]), min(top, passing))

    def test_two_snapshots(self):
        doc = report_json("--diff", SNAPS[0], SNAPS[1])
        self.assertEqual(doc["groups"][0]["delta_blocks"], A)


class Collapsed(unittest.TestCase):
    def test_lines_parse_and_add_up(self):
        out = report("--format", "collapsed", SNAPS[0]).stdout.strip().split("\n")
        total = 0
        for line in out:
            stack, count = line.rsplit(" ", 1)
            total += int(count)
            self.assertTrue(stack)
        self.assertEqual(total, report_json(SNAPS[0])["totals"]["live_bytes"])
        alpha = [l for l in out if l.rsplit(" ", 1)[0].endswith(";alpha_site")]
        self.assertEqual(len(alpha), 1)
        self.assertEqual(int(alpha[0].rsplit(" ", 1)[1]), 100 * A)
        self.assertIn("main;", alpha[0])  # root first


class Sampled(unittest.TestCase):
    """LEAKTAG_SAMPLE: the report's estimates are unbiased; checked at six standard
    deviations of the estimator, so a correct implementation fails once in 10^8 runs."""

    INTERVAL = 16384
    SITES = {"small_site": (200000, 100), "medium_site": (20000, 3000),
             "large_site": (2000, 65536)}

    def test_estimates(self):
        import math
        out = os.path.join(WORK, "sampled.lts")
        env = dict(os.environ, LD_PRELOAD=LIB, LEAKTAG_OUTPUT=out, LEAKTAG_AT_EXIT="0",
                   LEAKTAG_QUIET="1", LEAKTAG_SAMPLE=str(self.INTERVAL))
        counts = [str(n) for n, _ in self.SITES.values()]
        subprocess.run([SAMPLED_TARGET, *counts], env=env, check=True)
        doc = report_json(out)
        self.assertTrue(doc["snapshot"]["sampled"])
        self.assertEqual(doc["snapshot"]["sample_interval_bytes"], self.INTERVAL)
        for site, (n, size) in self.SITES.items():
            g = group_at(doc, site)
            self.assertTrue(g["estimated"])
            p = 1 - math.exp(-size / self.INTERVAL)  # chance a block is sampled
            sd = math.sqrt(n * (1 - p) / p)
            self.assertLess(abs(g["blocks"] - n), 6 * sd + 1,
                            f"{site}: estimated {g['blocks']} blocks for {n} (sd {sd:.0f})")
            self.assertLess(abs(g["bytes"] - n * size), (6 * sd + 1) * size)
            self.assertLess(g["sampled_blocks"], n if p < 0.9 else n + 1)
        # collapsed stacks carry the same estimates (each block weighted by 1/P(sampled))
        lines = report("--format", "collapsed", out).stdout.strip().split("\n")
        collapsed = sum(int(l.rsplit(" ", 1)[1]) for l in lines)
        self.assertLessEqual(abs(collapsed - doc["totals"]["live_bytes"]), len(lines))
        text = report(out).stdout
        self.assertIn("sampled:", text)
        self.assertRegex(text, r"#1  ~[0-9.]+ MiB")


class BadInput(unittest.TestCase):
    LINE = re.compile(r"^leaktag-report: (.+): (.+)\n$")

    def check(self, path, fragment, offset=True):
        res = report(path, expect_status=2)
        m = self.LINE.match(res.stderr)
        self.assertTrue(m, f"not one line: {res.stderr!r}")
        self.assertEqual(m.group(1), path)
        self.assertIn(fragment, m.group(2))
        if offset:
            self.assertRegex(m.group(2), r"\(at offset \d+\)$")
        self.assertEqual(res.stdout, "")

    def write(self, name, data):
        path = os.path.join(WORK, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_missing_and_directory(self):
        self.check(os.path.join(WORK, "missing.lts"), "No such file", offset=False)
        self.check(WORK, "directory", offset=False)

    def test_fifo_and_huge_files_are_refused_at_once(self):
        fifo = os.path.join(WORK, "fifo.lts")
        os.mkfifo(fifo)
        started = time.monotonic()
        self.check(fifo, "not a regular file", offset=False)  # (it used to block here)
        # 2 GiB, sparse: refused from its header, or from its framing, without reading it
        for name, head in (("zeros.lts", b""), ("framed.lts", open(SNAPS[0], "rb").read(16))):
            path = self.write(name, head)
            os.truncate(path, 2 << 30)
            self.check(path, "wrong magic" if not head else "bytes after the END section")
            os.unlink(path)
        self.assertLess(time.monotonic() - started, 5)

    def test_empty_magic_version(self):
        good = open(SNAPS[0], "rb").read()
        self.check(self.write("empty.lts", b""), "empty file")
        self.check(self.write("magic.lts", b"NOTLEAKS" + good[8:]), "wrong magic")
        future = good[:8] + (2).to_bytes(4, "little") + good[12:]
        self.check(self.write("future.lts", future), "version 2")

    def test_truncated_anywhere(self):
        good = open(SNAPS[0], "rb").read()
        step = max(1, len(good) // 97)
        for n in list(range(1, len(good), step)) + [len(good) - 1]:
            self.check(self.write("cut.lts", good[:n]), "")

    def test_corrupt_bytes(self):
        # every flipped byte is caught, by name: in what a section's CRC covers (a checksum
        # mismatch in that section, which starts at or before the byte), in its length (more
        # than the file holds, or a payload that no longer matches its CRC) or in its type (a
        # type no snapshot has). Every byte of every section header, where one flip used to
        # drop an optional section without a word, and 61 bytes spread over the rest.
        good = bytearray(open(SNAPS[0], "rb").read())
        named = re.compile(r".*: (?:(?:checksum mismatch in [A-Z_]+ section|[A-Z_]+ section "
                           r"claims \d+ bytes, the file has \d+ left) \(at offset (\d+)\)|"
                           r"section type \d+, which no snapshot has \(a damaged section "
                           r"header\) \(at offset \d+\)|"
                           r"\d+ bytes after the END section \(at offset \d+\))$")
        headers, at = [], 16
        while at < len(good):
            headers += range(at, at + 16)
            at += 16 + int.from_bytes(good[at + 8:at + 16], "little")
        self.assertEqual(at, len(good))
        self.assertGreaterEqual(len(headers), 6 * 16)  # META ... END at least
        for at in sorted(set(headers) | set(range(20, len(good), max(1, len(good) // 61)))):
            bad = bytearray(good)
            bad[at] ^= 0x5a
            res = subprocess.run([REPORT, self.write("flip.lts", bytes(bad))],
                                 capture_output=True, text=True)
            self.assertEqual(res.returncode, 2, f"byte {at}: {res.stderr}")
            self.assertTrue(self.LINE.match(res.stderr), res.stderr)
            m = named.match(res.stderr.strip())
            self.assertTrue(m and (m.group(1) is None or int(m.group(1)) <= at),
                            f"byte {at}: {res.stderr}")

    def test_usage_errors(self):
        for args in (["--by", "colour", SNAPS[0]], ["--grep", "(", SNAPS[0]],
                     ["--format", "xml", SNAPS[0]], [SNAPS[0], SNAPS[1]], ["--diff", SNAPS[0]],
                     ["--min-bytes", "1e30", SNAPS[0]], ["--min-bytes", "nan", SNAPS[0]],
                     ["--top", "0.5", SNAPS[0]], ["--samples", "4294967297", SNAPS[0]],
                     ["--min-age", "nan", SNAPS[0]], []):
            res = report(*args, expect_status=2)
            self.assertTrue(res.stderr.startswith("leaktag-report: "), res.stderr)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import unittest77
    unittest77.main()
