#!/usr/bin/env python3
"""End to end: the seed article's three cases, diagnosed by leaktag itself. Each example runs
under the launcher, snapshots are taken with `leaktag --pid`, and leaktag-report's JSON must
name the leaking line (read from the example's source, never hard-coded), its threads and
its content; the thread inventory must explain the third case; examples/demo.sh must print
the leaking function and channelid=4099.

    test_examples.py BUILD_DIR SOURCE_DIR
"""
import atexit
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BUILD, SOURCE, REPORT = (os.path.abspath(p) for p in sys.argv[1:4])  # REPORT: may be a
LAUNCHER = os.path.join(BUILD, "preload", "leaktag")                  # 64-bit one for a 32-bit build
MIB = 1 << 20


def line_of(example, marker):
    """Line number of the first line of examples/EXAMPLE containing marker."""
    with open(os.path.join(SOURCE, "examples", example)) as f:
        for number, line in enumerate(f, 1):
            if marker in line:
                return number
    raise AssertionError(f"{marker!r} not in {example}")


def readme_frames(program):
    """The frames README.md shows for `program`'s blocks: {function: "file.cpp:line"}."""
    frames = {}
    with open(os.path.join(SOURCE, "README.md")) as f:
        for m in re.finditer(r"(?m)^\s+(\w+)\s+\S*/examples/([\w.]+):(\d+)\s+\[" +
                             re.escape(program) + r"\]$", f.read()):
            frames[m[1]] = f"{m[2]}:{m[3]}"
    return frames


class Running:
    """An example under the launcher, snapshots into a temporary directory."""

    def __init__(self, program, *args, stack_limit=None):
        self.dir = tempfile.mkdtemp(prefix=f"leaktag-e2e-{program}.")
        # Snapshots hold the example's heap; none outlives the test run.
        atexit.register(shutil.rmtree, self.dir, True)
        env = dict(os.environ, LEAKTAG_OUTPUT=os.path.join(self.dir, f"{program}.%p.%n.lts"),
                   LEAKTAG_AT_EXIT="0")

        def limits():
            if stack_limit:
                resource.setrlimit(resource.RLIMIT_STACK, (stack_limit, stack_limit))

        self.proc = subprocess.Popen([LAUNCHER, os.path.join(BUILD, "examples", program), *args],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=limits)

    def snapshot(self):
        res = subprocess.run([LAUNCHER, "--pid", str(self.proc.pid), "--wait", "30"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise AssertionError(f"no snapshot: {res.stderr}")
        return res.stdout.strip().split("\n")[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def wait(self):
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err


def report_json(*args):
    res = subprocess.run([REPORT, "--format", "json", "--top", "0", *args], capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise AssertionError(res.stderr)
    return json.loads(res.stdout)


def frame0(group):
    return group["frames"][0]


class SppWorker(unittest.TestCase):
    """Case 1: one thread; request objects new'ed and never deleted on an invalid channel."""

    @classmethod
    def setUpClass(cls):
        run = Running("spp_worker")
        time.sleep(2)
        cls.first = run.snapshot()
        time.sleep(2)
        cls.second = run.snapshot()
        status, _, cls.stderr = run.stop()
        assert status == 0, cls.stderr
        cls.leak_line = line_of("spp_worker.cpp", "= new itop_common::CommItopReq")

    def test_top_group_is_the_leaking_new(self):
        doc = report_json("--grep", r"channelid=\d*", self.second)
        top = doc["groups"][0]
        self.assertEqual(frame0(top)["function"], "spp_handle_process")
        self.assertEqual(frame0(top)["line"], self.leak_line)
        self.assertTrue(frame0(top)["file"].endswith("examples/spp_worker.cpp"))
        self.assertGreater(top["bytes"], 0.8 * doc["totals"]["live_bytes"])
        self.assertEqual([(t["name"], t["threads"]) for t in top["threads"]],
                         [("spp_worker", 1)])
        # ~1500-byte request objects, as in the article
        self.assertTrue(1000 <= top["bytes"] / top["blocks"] <= 2000)
        # the content fingerprint: a channelid in every sample, 4099 (one request in 8) or
        # empty (one in 128) — the only ones that leak
        samples = len(top["samples"])
        self.assertGreaterEqual(samples, 1)
        distinct = {d["text"]: d for d in top["grep"]["distinct"]}
        self.assertLessEqual(set(distinct), {"channelid=4099", "channelid="})
        self.assertGreaterEqual(distinct["channelid=4099"]["blocks"], samples / 2)
        self.assertEqual(sum(d["blocks"] for d in distinct.values()), samples)
        self.assertIn({"text": "channelid=4099", "count": distinct["channelid=4099"]["count"]},
                      top["strings"])
        self.assertEqual((top["grep"]["blocks_searched"], top["grep"]["blocks_matched"]),
                         (samples, samples))

    def test_census_counts_every_leaked_request(self):
        """LEAKTAG_SAMPLES=all at exit: the article's `grep -o | sort | uniq -c`, exactly."""
        work = tempfile.mkdtemp(prefix="leaktag-e2e-census.")
        atexit.register(shutil.rmtree, work, True)
        out = os.path.join(work, "census.lts")
        res = subprocess.run([LAUNCHER, os.path.join(BUILD, "examples", "spp_worker"),
                              "--requests", "3000", "--rate", "0"],
                             env=dict(os.environ, LEAKTAG_SAMPLES="all", LEAKTAG_OUTPUT=out,
                                      LEAKTAG_QUIET="1"),
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        found = re.search(r"(\d+) rejected \(invalid channelid, (\d+) of them empty\)", res.stdout)
        rejected, empty = int(found.group(1)), int(found.group(2))
        self.assertGreater(empty, 0)
        doc = report_json("--grep", r"channelid=\d*", out)
        top = doc["groups"][0]
        self.assertEqual(frame0(top)["line"], self.leak_line)
        distinct = {d["text"]: d["blocks"] for d in top["grep"]["distinct"]}
        self.assertEqual(distinct, {"channelid=4099": rejected - empty, "channelid=": empty})
        self.assertEqual(top["grep"]["blocks_searched"], rejected)
        dump = os.path.join(work, "census.bin")
        subprocess.run([REPORT, "--top", "1", "--dump", dump, out], check=True,
                       capture_output=True)
        with open(dump, "rb") as f:
            data = f.read()
        self.assertEqual(len(re.findall(rb"channelid=4099", data)), rejected - empty)
        self.assertEqual(len(re.findall(rb"channelid=&", data)), empty)

    def test_diff_ranks_it_first(self):
        doc = report_json("--diff", self.first, self.second)
        top = doc["groups"][0]
        self.assertEqual((frame0(top)["function"], frame0(top)["line"]),
                         ("spp_handle_process", self.leak_line))
        self.assertTrue(top["grew_every_interval"])
        self.assertGreater(top["delta_blocks"], 0)


class HandlerPool(unittest.TestCase):
    """Case 2: six threads named handler leak a Redis command on a `continue` branch."""

    @classmethod
    def setUpClass(cls):
        run = Running("handler_pool")
        time.sleep(1.5)
        cls.snaps = []
        for _ in range(3):
            cls.snaps.append(run.snapshot())
            time.sleep(1.5)
        status, _, cls.stderr = run.stop()
        assert status == 0, cls.stderr
        cls.leak_line = line_of("handler_pool.cpp", "= new RedisCmd")

    def test_top_group_is_the_handlers_leak(self):
        doc = report_json(self.snaps[-1])
        top = doc["groups"][0]
        self.assertEqual((frame0(top)["function"], frame0(top)["line"]),
                         ("handler_main", self.leak_line))
        self.assertEqual([(t["name"], t["threads"]) for t in top["threads"]], [("handler", 6)])
        shapes = {s["text"]: s["count"] for s in top["string_shapes"]}
        self.assertEqual(shapes.get("user:session:#"), len(top["samples"]))
        # six threads named handler in the inventory, as top -H showed in the article
        handlers = [t for t in doc["threads"] if t["name"] == "handler" and t["alive"]]
        self.assertEqual(len(handlers), 6)

    def test_readme_quotes_this_stack(self):
        # README's second case shows the leaking line: the one this run reports
        top = report_json(self.snaps[-1])["groups"][0]
        self.assertEqual(readme_frames("handler_pool"),
                         {"handler_main": f"handler_pool.cpp:{frame0(top)['line']}"})

    def test_only_the_handlers_grow(self):
        doc = report_json("--by", "thread", "--diff", *self.snaps)
        groups = {g["key"]: g for g in doc["groups"]}
        handler = groups["handler"]
        self.assertEqual(doc["groups"][0]["key"], "handler")
        self.assertTrue(handler["grew_every_interval"])
        for clean in ("io", "timer"):
            if clean in groups:  # absent: not a single live block, ever
                self.assertLess(max(groups[clean]["series_bytes"]), 0.05 * handler["bytes"],
                                f"{clean} holds {groups[clean]['series_bytes']}")
                self.assertFalse(groups[clean]["grew_every_interval"] and
                                 groups[clean]["delta_bytes"] > 4096)


class RouterThreads(unittest.TestCase):
    """Case 3: one thread per router with ulimit -s 32 MiB stacks, until the address space
    (3 GiB, as for the article's 32-bit worker) runs out."""

    def test_inventory_explains_the_address_space(self):
        run = Running("router_threads", "--routers", "91", "--vm-limit", "3072",
                      stack_limit=32 * MIB)
        deadline = time.time() + 30
        line = ""
        while "registered" not in line and time.time() < deadline:
            line = run.proc.stdout.readline()
        self.assertIn("91 router threads registered", line)
        snap = run.snapshot()
        status, _, err = run.stop()
        self.assertEqual(status, 0, err)
        doc = report_json(snap)
        routers = [t for t in doc["threads"] if t["family"] == "router-*" and t["alive"]]
        self.assertEqual(len(routers), 91)
        self.assertTrue(all(t["stack_bytes"] == 32 * MIB for t in routers))
        self.assertEqual(doc["limits"]["rlimit_as_bytes"], 3072 * MIB)
        self.assertEqual(doc["limits"]["rlimit_stack_bytes"], 32 * MIB)
        self.assertEqual([t["start_routine"] for t in routers], ["router_client_svc"] * 91)
        text = subprocess.run([REPORT, snap], capture_output=True, text=True).stdout
        self.assertRegex(text, r"91 x router-\*\s+32\.0 MiB stack each = 2\.8 GiB")
        self.assertRegex(text, r"reserved for their stacks = 9\d% of the 3\.0 GiB address-space "
                               r"limit \(RLIMIT_AS\)")

    @unittest.skipUnless(open(os.path.join(BUILD, "examples", "router_threads"), "rb").read(5)[4] == 1,
                         "the article's case for real needs a 32-bit build of it")
    def test_a_32_bit_process_runs_out_by_itself(self):
        """No RLIMIT_AS trick: 32 MiB stacks fill a 32-bit process's 4 GiB (3 GiB under a
        32-bit kernel) after about 126 threads, as they filled the article's worker."""
        run = Running("router_threads", "--routers", "200", stack_limit=32 * MIB)
        status, _, err = run.wait()
        self.assertEqual(status, 1, err)
        lines = [l for l in err.split("\n") if l.startswith("leaktag: pthread_create failed")]
        self.assertEqual(len(lines), 1, err)
        m = re.search(r"(\d+) x 32 MiB", lines[0])
        self.assertTrue(m and 80 <= int(m[1]) <= 127, lines[0])
        self.assertRegex(lines[0], r"VmSize [\d.]+ GiB of the [34] GiB a 32-bit process has")

    def test_failing_pthread_create_is_explained(self):
        run = Running("router_threads", "--routers", "200", "--vm-limit", "3072",
                      stack_limit=32 * MIB)
        status, _, err = run.wait()  # it gives up by itself when pthread_create fails
        self.assertEqual(status, 1, err)
        lines = [l for l in err.split("\n") if l.startswith("leaktag: pthread_create failed")]
        self.assertEqual(len(lines), 1, err)
        self.assertRegex(lines[0], r"\((EAGAIN|ENOMEM)\)")
        self.assertRegex(lines[0], r"; 9\d x 32 MiB")
        self.assertIn("of the 3 GiB address-space limit", lines[0])
        self.assertRegex(err, r"pthread_create failed for router \d+")


@unittest.skipUnless(os.path.exists(os.path.join(BUILD, "analyzer", "leaktag-report")),
                     "examples/demo.sh builds and runs the whole project: not a shim-only build")
class Demo(unittest.TestCase):
    def test_demo_shows_the_leak(self):
        env = dict(os.environ, LEAKTAG_BUILD=BUILD)
        res = subprocess.run([os.path.join(SOURCE, "examples", "demo.sh")], env=env,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("spp_handle_process", res.stdout)
        # the census over every leaked request: both channel ids, as the article's uniq -c
        self.assertRegex(res.stdout, r"\n\s+[\d,]+ blocks\s+channelid=4099\n")
        self.assertRegex(res.stdout, r"\n\s+[\d,]+ blocks\s+channelid=\n")
        first_group = res.stdout[res.stdout.index("#1 "):res.stdout.index("#2 ")]
        self.assertIn("spp_handle_process", first_group)
        self.assertIn("channelid=4099", first_group)
        # the --dump round trip: grep -a -c and uniq -c over the dumped bytes count what the
        # report counted in the first group
        reported = {m[1]: int(m[0].replace(",", "")) for m in
                    re.findall(r"(?m)^\s+([\d,]+) blocks\s+(channelid=\d*)$", first_group)}
        dumped = {m[1]: int(m[0]) for m in
                  re.findall(r"(?m)^\s+(\d+) (channelid=\d*)$", res.stdout[res.stdout.index("== 4."):])}
        self.assertEqual(dumped, reported)
        self.assertLessEqual({"channelid=4099", "channelid="}, set(reported))  # + one in flight
        self.assertIn(f"\n{reported['channelid=4099']}\n", res.stdout)  # grep -a -c
        # README shows this run's output: the frames it quotes are the ones printed here, and
        # its prose names the same line
        printed = {m[1]: f"{m[2]}:{m[3]}" for m in re.finditer(
            r"(?m)^\s+(\w+)\s+\S*/examples/([\w.]+):(\d+)\s+\[spp_worker\]$", first_group)}
        quoted = readme_frames("spp_worker")
        self.assertEqual(quoted, printed, "README's first case quotes other lines than a run")
        readme = open(os.path.join(SOURCE, "README.md")).read()
        named = re.search(r"the `new` on line (\d+)", readme)
        self.assertEqual(f"spp_worker.cpp:{named[1]}", printed["spp_handle_process"])


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import unittest77
    unittest77.main()
