#!/usr/bin/env python3
"""leaktag-scan on the seed article's examples started WITHOUT the shim, on gcore core files
of them, on programs whose malloc is jemalloc's, and every error it must refuse with one line
and exit status 2. Expected numbers come from the examples' own counts, never from here.

    test_scan.py SCAN SPP_WORKER HANDLER_POOL ROUTER_THREADS STATIC_SLEEPER JEMALLOC_TARGET|-
                 CENSUS_TARGET SIGNAL_TARGET
"""
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

SCAN, SPP, POOL, ROUTER, STATIC, JEMALLOC, CENSUS, SIGNAL_TARGET = sys.argv[1:9]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MIB = 1 << 20


def bits_of(path):
    with open(path, "rb") as f:
        return 64 if f.read(5)[4] == 2 else 32


BITS = bits_of(SPP)


def needs_gcore(test):
    return unittest.skipIf(not shutil.which("gcore"), "no gcore")(test)


def scan(*args, check=True):
    res = subprocess.run([SCAN, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and res.returncode != 0:
        raise AssertionError(f"leaktag-scan {' '.join(map(str, args))}: {res.stderr}")
    return res


def scan_json(*args):
    return json.loads(scan(*args, "--format", "json").stdout)


def state_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def tracer_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"TracerPid:\s+(\d+)", f.read()).group(1))


class Program:
    """An example (or test program) started as it is, without the shim."""

    def __init__(self, argv, ready=None, stack_limit=None, user=None):
        def limits():
            if stack_limit:
                resource.setrlimit(resource.RLIMIT_STACK, (stack_limit, stack_limit))

        if user:
            argv = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *argv]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, preexec_fn=limits)
        self.pid = self.proc.pid
        self.line = ""
        while ready and ready not in self.line:  # what it prints before
            self.line = self.proc.stdout.readline()
            if not self.line:
                break
        if ready and ready not in self.line:
            self.stop()
            raise AssertionError(f"{argv[0]} did not start: {self.line!r}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def spp_worker(requests, keep=0):
    """spp_worker holding after `requests` (keeping the last `keep` answered ones): (program,
    leaked, of them with an empty channelid)."""
    p = Program([SPP, "--rate", "0", "--requests", str(requests), "--hold", "--keep", str(keep)],
                ready="spp_worker:")
    m = re.search(r"(\d+) rejected \(invalid channelid, (\d+) of them empty\)", p.line)
    return p, int(m.group(1)), int(m.group(2))


def wait_comm(pid, name, seconds=10):
    """Until pid runs `name` (it has exec'd what it was started through)."""
    deadline = time.monotonic() + seconds
    while open(f"/proc/{pid}/comm").read().strip() != name:
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} still does not run {name} after {seconds} s")
        time.sleep(0.005)


def gcore(pid, directory):
    res = subprocess.run(["gcore", "-o", os.path.join(directory, "core"), str(pid)],
                         capture_output=True, text=True)
    path = os.path.join(directory, f"core.{pid}")
    if res.returncode != 0 or not os.path.exists(path):
        raise AssertionError(f"gcore failed: {res.stderr}")
    return path


def matches_of(content):
    return {m["text"]: m["count"] for m in content["matches"]}


class FirstCase(unittest.TestCase):
    """The spp worker's leaked requests: the largest in-use class, counted exactly."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="leaktag-scan.")
        cls.worker, cls.leaked, cls.empty = spp_worker(20000)

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()
        shutil.rmtree(cls.dir, True)

    def check_census(self, d):
        heap = d["heap"]
        self.assertTrue(heap["glibc"])
        self.assertEqual(heap["invalid_chunks"], 0)
        largest = heap["classes"][0]
        self.assertEqual(largest["chunks"], self.leaked, heap["classes"][:3])
        content = d["contents"][0]
        self.assertEqual(content["usable"], largest["usable"])
        self.assertEqual(content["chunks"], self.leaked)
        self.assertEqual(matches_of(content), {"channelid=4099": self.leaked - self.empty,
                                               "channelid=": self.empty})
        self.assertEqual(d["target"]["pointer_bits"], BITS)

    def test_live(self):
        d = scan_json(self.worker.pid, "--grep", r"channelid=\d*")
        self.check_census(d)
        self.assertFalse(d["frozen"])
        self.assertEqual(state_of(self.worker.pid), "S")
        text = scan(self.worker.pid, "--grep", r"channelid=\d*").stdout
        self.assertRegex(text, rf"{self.leaked - self.empty:,} channelid=4099")
        self.assertIn("POST /api/report", text)
        self.assertIn("[heap]", text)

    @unittest.skipUnless(CHROMIUM, "chromium is not installed: tests/run.sh installs it")
    def test_html(self):
        page = os.path.join(self.dir, "scan.html")
        scan(self.worker.pid, "--grep", r"channelid=\d*", "--format", "html", "--output", page)
        self.assertEqual(os.stat(page).st_mode & 0o777, 0o600)
        with open(page) as f:
            source = f.read()
        self.assertIn("Content-Security-Policy", source)
        self.assertNotRegex(source, r"<script|\ssrc=|\shref=")  # nothing runs, nothing loads
        res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                              "--dump-dom", "file://" + page], capture_output=True, text=True,
                             timeout=120)
        dom = res.stdout

        def rows(table):
            body = re.search(rf'<table id="?{table}"?>(.*?)</table>', dom, re.S).group(1)
            return [re.sub(r"<[^>]+>", "|", r).split("|")
                    for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)][1:]

        def cells(row):
            return [c.strip() for c in row if c.strip()]

        largest = cells(rows("classes")[0])
        self.assertEqual(largest[1], f"{self.leaked:,}")
        grep = {cells(r)[1]: cells(r)[0] for r in rows("grep-0")}
        self.assertEqual(grep["channelid=4099"], f"{self.leaked - self.empty:,}")
        self.assertEqual(grep["channelid="], f"{self.empty:,}")
        self.assertEqual(cells(rows("families")[0])[0], os.path.basename(SPP)[:15] + " (main)")

    def test_freeze(self):
        d = scan_json(self.worker.pid, "--freeze", "--grep", r"channelid=\d*")
        self.check_census(d)
        self.assertTrue(d["frozen"])
        self.assertGreater(d["stopped_seconds"], 0)
        self.assertLessEqual(d["stopped_seconds"], d["walk_seconds"] + 0.05)
        # released: not stopped, not traced, and it still answers SIGTERM below
        self.assertEqual(tracer_of(self.worker.pid), 0)
        self.assertEqual(state_of(self.worker.pid), "S")

    def test_dump(self):
        d = scan_json(self.worker.pid, "--top", "1")
        usable = d["heap"]["classes"][0]["usable"]
        path = os.path.join(self.dir, "requests.bin")
        d = scan_json(self.worker.pid, "--size", usable, "--dump", path)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(os.path.getsize(path), self.leaked * usable)
        self.assertEqual(d["dump"]["chunks"], self.leaked)
        # the article's grep -o | sort | uniq -c, over the dumped bytes
        out = subprocess.run(f"grep -a -o 'channelid=[0-9]*' {path} | sort | uniq -c",
                             shell=True, capture_output=True, text=True).stdout
        counts = {w: int(n) for n, w in (line.split() for line in out.strip().split("\n"))}
        self.assertEqual(counts, {"channelid=4099": self.leaked - self.empty,
                                  "channelid=": self.empty})

    @needs_gcore
    def test_core(self):
        core = gcore(self.worker.pid, self.dir)
        d = scan_json(core, "--grep", r"channelid=\d*")
        self.check_census(d)
        self.assertTrue(d["target"]["core"])
        self.assertEqual(d["target"]["name"], os.path.basename(SPP)[:15])
        self.assertEqual(os.path.realpath(d["target"]["executable"]), os.path.realpath(SPP))
        # a core cut short is refused, in one line
        cut = os.path.join(self.dir, "cut.core")
        with open(core, "rb") as f, open(cut, "wb") as g:
            g.write(f.read(os.path.getsize(core) // 2))
        res = scan(cut, check=False)
        self.assertEqual(res.returncode, 2)
        self.assertRegex(res.stderr, r"^leaktag-scan: .*cut.core: truncated core file: .*\n$")


@unittest.skipUnless(BITS == 64, "the verdict reads 8-byte words: not on a 32-bit process")
class LostRequests(unittest.TestCase):
    """The verdict without the shim on the first case, with the worker keeping its last 100
    answered requests (objects of the leaking class that are held): every leaked request is
    definitely lost, the kept ones reachable through the global that keeps them, and --lost
    --grep counts the leaked requests' channelids exactly, none of the kept ones'."""
    KEEP = 100
    ROOT = f"global g_recent_requests+0x0 ({os.path.basename(SPP)})"  # the module: its file

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="leaktag-scan.")
        cls.worker, cls.leaked, cls.empty = spp_worker(20000, keep=cls.KEEP)

    @classmethod
    def tearDownClass(cls):
        cls.worker.stop()
        shutil.rmtree(cls.dir, True)

    def check_verdict(self, d):
        self.assertTrue(d["verdict"]["taken"], d["verdict"])
        self.assertTrue(d["verdict"]["lost_only"])
        requests = d["contents"][0]
        self.assertEqual(requests["chunks"], self.leaked)
        self.assertEqual(matches_of(requests), {"channelid=4099": self.leaked - self.empty,
                                                "channelid=": self.empty})
        k = next(k for k in d["heap"]["classes"] if k["usable"] == requests["usable"])
        self.assertEqual(k["chunks"], self.leaked + self.KEEP)
        r = k["reachability"]
        self.assertEqual(r["definitely_lost"]["chunks"], self.leaked)
        self.assertEqual(r["definitely_lost"]["bytes"], self.leaked * k["usable"])
        self.assertEqual(r["reachable"]["chunks"], self.KEEP)
        self.assertEqual(r["indirectly_lost"]["chunks"] + r["possibly_lost"]["chunks"], 0)
        self.assertEqual(k["retained_by"][0], self.ROOT)
        self.assertRegex(k["retained_by"][-1], r"of this class$")
        total = d["heap"]["reachability"]
        self.assertEqual(sum(v["chunks"] for v in total.values()), d["heap"]["inuse_chunks"])

    def test_frozen(self):
        d = scan_json(self.worker.pid, "--lost", "--freeze", "--grep", r"channelid=\d*", "--top", "1")
        self.check_verdict(d)
        self.assertEqual(tracer_of(self.worker.pid), 0)
        self.assertEqual(state_of(self.worker.pid), "S")
        # without --lost, the kept requests' channels are counted too
        d = scan_json(self.worker.pid, "--freeze", "--grep", r"channelid=\d*", "--size",
                      d["contents"][0]["usable"])
        counts = matches_of(d["contents"][0])
        self.assertEqual(sum(counts.values()), self.leaked + self.KEEP)
        text = scan(self.worker.pid, "--lost", "--freeze", "--grep", r"channelid=\d*").stdout
        self.assertRegex(text, rf"definitely lost .* in {self.leaked:,} chunks")
        self.assertIn(self.ROOT, text)
        self.assertRegex(text, rf"{self.leaked:,} lost chunks read")

    @needs_gcore
    def test_core(self):
        core = gcore(self.worker.pid, self.dir)
        self.check_verdict(scan_json(core, "--lost", "--grep", r"channelid=\d*", "--top", "1"))

    @unittest.skipUnless(CHROMIUM, "chromium is not installed: tests/run.sh installs it")
    def test_html(self):
        page = os.path.join(self.dir, "verdict.html")
        scan(self.worker.pid, "--lost", "--freeze", "--top", "1", "--format", "html", "--output",
             page)
        res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                              "--dump-dom", "file://" + page], capture_output=True, text=True,
                             timeout=120)
        body = re.search(r'<table id="?reachability"?>(.*?)</table>', res.stdout, re.S).group(1)
        rows = [[c.strip() for c in re.sub(r"<[^>]+>", "|", r).split("|") if c.strip()]
                for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)][1:]
        # "all", then the class with most lost bytes: the requests, leaked and kept
        self.assertEqual(rows[0][0], "all")
        self.assertEqual(len(rows[1]), 3, rows[1])  # no indirectly or possibly lost
        self.assertRegex(rows[1][1], rf" in {self.leaked:,}$")
        self.assertRegex(rows[1][2], rf" in {self.KEEP}$")
        chain = re.findall(r"<li>(.*?)</li>", res.stdout)
        self.assertIn(self.ROOT, chain)

    def test_needs_freeze(self):
        for option in ("--reach", "--lost"):
            res = scan(self.worker.pid, option, check=False)
            self.assertEqual(res.returncode, 2)
            self.assertEqual(res.stdout, "")
            self.assertRegex(res.stderr, rf"^leaktag-scan: {option} on a running process needs "
                             r"--freeze: [^\n]*\n$")


def queued_signals(pid):
    """Signals queued for pid's user (/proc/PID/status SigQ: queued/limit)."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"SigQ:\s+(\d+)/", f.read()).group(1))


class SignalsWhileFrozen(unittest.TestCase):
    """Signals sent to a process while --freeze stops and releases it, back to back: every
    one reaches it (a signal that stops a thread before our interrupt does is handed back,
    never dropped). Real-time signals queue: each one sent is one handled."""

    def test_none_dropped(self):
        p = Program([SIGNAL_TARGET], ready="ready")
        sent = 0
        try:
            rt = signal.SIGRTMIN
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                s = subprocess.Popen([SCAN, str(p.pid), "--freeze", "--top", "0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while s.poll() is None:
                    os.kill(p.pid, rt)
                    sent += 1
                    # never near the user's queue limit (RLIMIT_SIGPENDING): past it the
                    # kernel merges real-time signals sent by kill(), and the count is off
                    while sent % 1000 == 0 and queued_signals(p.pid) > 10000:
                        time.sleep(0.001)
                self.assertEqual(s.returncode, 0)
            # SIGTERM would be taken before queued real-time signals: once none is pending
            for _ in range(500):
                with open(f"/proc/{p.pid}/status") as f:
                    pending = int(re.search(r"ShdPnd:\s+([0-9a-f]+)", f.read()).group(1), 16)
                if not pending & (1 << (rt - 1)):
                    break
                time.sleep(0.01)
            p.proc.send_signal(signal.SIGTERM)
            out, _ = p.proc.communicate(timeout=10)
        finally:
            p.stop()
        self.assertGreater(sent, 100)
        self.assertEqual(out.strip(), f"handled {sent}")


class KilledWhileFrozen(unittest.TestCase):
    def test_target_runs_on(self):
        worker, leaked, _ = spp_worker(200000)
        try:
            s = subprocess.Popen([SCAN, str(worker.pid), "--freeze", "--grep", r"channelid=\d*",
                                  "--top", "10"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            deadline = time.time() + 20
            while tracer_of(worker.pid) == 0 and s.poll() is None and time.time() < deadline:
                time.sleep(0.001)
            traced = tracer_of(worker.pid) != 0
            s.kill()
            s.wait()
            if not traced:
                self.skipTest("the scan ended before it could be killed")
            for _ in range(100):
                if tracer_of(worker.pid) == 0 and state_of(worker.pid) == "S":
                    break
                time.sleep(0.01)
            self.assertEqual(tracer_of(worker.pid), 0)
            self.assertEqual(state_of(worker.pid), "S")
            worker.proc.send_signal(signal.SIGTERM)  # it runs: it answers
            self.assertEqual(worker.proc.wait(10), 0)
        finally:
            worker.stop()


class Census(unittest.TestCase):
    """The census from chunk headers against glibc's own mallinfo2(), which census_target
    prints of the heap it built: the heap's bytes, the mmapped chunks and the fastbin chunks
    exactly; the bytes in use exactly but for the chunks the census finds in tcaches (in use
    to mallinfo) and malloc's own structures (each tcache's, each other arena's header)."""

    TCACHE_STRUCT = 656     # glibc >= 2.30, 64-bit: 64 counts, 64 heads, and the header
    ARENA_HEADER = 2256     # a non-main arena's heap_info and malloc_state, aligned

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="leaktag-scan-census.")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)

    def start(self, mode):
        p = Program([CENSUS, mode], ready="mallinfo")
        return p, json.loads(p.line.split(" ", 1)[1])

    def compare(self, heap, m, what):
        self.assertTrue(heap["glibc"], what)
        self.assertEqual(heap["invalid_chunks"], 0, what)
        self.assertEqual(heap["heap_bytes"], m["arena"], what)
        self.assertEqual((heap["mmapped_chunks"], heap["mmapped_bytes"]), (m["hblks"], m["hblkhd"]), what)
        self.assertEqual(heap["fastbin_chunks"], m["smblks"], what)
        word = BITS // 8
        classes = heap["classes"]
        in_use = sum((k["chunks"] - k["mmapped"]) * (k["usable"] + word) for k in classes)
        cached = sum(k["cached"] * (k["usable"] + word) for k in classes)
        tcached = cached - m["fsmblks"]  # the cached chunks that are not in fastbins
        rest = m["uordblks"] - in_use - tcached
        if BITS == 64:
            own = heap["tcaches"] * self.TCACHE_STRUCT + (len(heap["arenas"]) - 1) * self.ARENA_HEADER
            self.assertEqual(rest, own, f"{what}: in use {m['uordblks']} to mallinfo2, {in_use} "
                             f"counted + {tcached} in tcaches + {rest} of malloc's own")
        else:
            self.assertTrue(0 <= rest <= heap["overhead_bytes"], what)
        print(f"     {what}: {heap['heap_bytes']} heap bytes, {m['uordblks']} in use = "
              f"{in_use} counted + {tcached} in tcaches + {rest} malloc's own; "
              f"{m['smblks']} fastbin, {m['hblks']} mmapped chunks", file=sys.stderr)

    def census(self, mode, core=False):
        p, m = self.start(mode)
        try:
            self.compare(scan_json(m["pid"])["heap"], m, mode)
            if core and shutil.which("gcore"):
                self.compare(scan_json(gcore(m["pid"], self.dir))["heap"], m, mode + " (core)")
        finally:
            p.stop()

    def test_single(self):
        self.census("single")

    def test_fork(self):
        # the child's brk heap is two mappings: grown before the fork and after it
        self.census("fork", core=True)

    def test_arenas(self):
        self.census("arenas")

    def test_mmapped(self):
        self.census("mmapped")

    def test_file_mapped_again_and_again(self):
        # the executable mapped 41 times from its start: PostgreSQL's shape; the scan of the
        # process and of its core end normally (the module table once overflowed)
        p, m = self.start("maps")
        try:
            self.compare(scan_json(m["pid"])["heap"], m, "maps")
            if shutil.which("gcore"):
                res = scan(gcore(m["pid"], self.dir), "--top", "1", check=False)
                self.assertEqual(res.returncode, 0, res.stderr)
        finally:
            p.stop()


class SecondCase(unittest.TestCase):
    """Six handler threads and the size class they leak into, growing."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="leaktag-scan.")
        cls.pool = Program([POOL, "--rate", "2000", "--ready", "500"], ready="ready")

    @classmethod
    def tearDownClass(cls):
        cls.pool.stop()
        shutil.rmtree(cls.dir, True)

    def families(self, d):
        return {f["name"]: f for f in d["families"]}

    def test_interval(self):
        # a pool of its own: gdb's gcore of the shared one (test_core) leaves every page of
        # its arenas' first heaps resident, so their RSS would not grow for seconds
        pool = Program([POOL, "--rate", "2000", "--ready", "500"], ready="ready")
        try:
            self.grows(pool.pid)
        finally:
            pool.stop()

    def grows(self, pid):
        d = scan_json(pid, "--interval", "1", "--count", "2", "--top", "1")
        f = self.families(d)
        self.assertEqual(f["handler"]["threads"], 6)
        self.assertEqual(f["handler"]["started_in"].split("(")[0], "handler_main")
        grown = d["contents"][0]
        self.assertGreater(grown["growth"], 0)
        self.assertEqual(grown["shapes"][0]["text"], "user:session:#")
        self.assertEqual(grown["shapes"][0]["count"], grown["chunks"])
        # arena heaps grew between the looks: one per handler, as far as glibc's arena limit
        # (8 per core for a 64-bit process, 2 for a 32-bit one, the main arena among them)
        arena_limit = (8 if BITS == 64 else 2) * os.cpu_count() - 1
        first = {m["start"]: m["rss"] for m in d["looks"][0]["mappings"]}
        arenas = [m for m in d["looks"][1]["mappings"]
                  if m["kind"] == "arena" and m["rss"] > first.get(m["start"], 0)]
        self.assertGreaterEqual(len(arenas), min(6, arena_limit))
        text = scan(pid, "--interval", "0.5", "--top", "1").stdout
        self.assertIn("handler x6", text)
        self.assertIn("grew in", text)

    @needs_gcore
    def test_core(self):
        core = gcore(self.pool.pid, self.dir)
        d = scan_json(core, "--top", "1")
        f = self.families(d)
        self.assertEqual(f["handler_main()"]["threads"], 6)  # a core keeps no names
        self.assertEqual(d["contents"][0]["shapes"][0]["text"], "user:session:#")

    @needs_gcore
    def test_core_exe_moved(self):
        # a core of a program whose file is gone since: --exe says where it is now
        first, moved = os.path.join(self.dir, "pool-then"), os.path.join(self.dir, "pool-now")
        shutil.copy(POOL, first)
        shutil.copy(POOL, moved)
        p = Program([first, "--rate", "100", "--ready", "50"], ready="ready")
        try:
            core = gcore(p.pid, self.dir)
        finally:
            p.stop()
        os.unlink(first)
        d = scan_json(core, "--top", "0")
        self.assertNotIn("handler_main()", self.families(d))
        d = scan_json(core, "--exe", moved, "--top", "0")
        self.assertEqual(d["target"]["executable"], moved)
        self.assertEqual(self.families(d)["handler_main()"]["threads"], 6)


class ThirdCase(unittest.TestCase):
    """91 router threads with ulimit -s 32 MiB stacks."""

    def test_stacks(self):
        p = Program([ROUTER, "--routers", "91", "--hold", "60"],
                    stack_limit=32 * MIB)
        directory = tempfile.mkdtemp(prefix="leaktag-scan.")
        try:
            for _ in range(200):
                if len(os.listdir(f"/proc/{p.pid}/task")) == 92:
                    break
                time.sleep(0.05)
            for source in (p.pid, gcore(p.pid, directory)):
                d = scan_json(source, "--top", "0")
                routers = [f for f in d["families"] if f["threads"] == 91]
                self.assertEqual(len(routers), 1, d["families"])
                self.assertGreaterEqual(routers[0]["stack_each"], 32 * MIB)
                self.assertLess(routers[0]["stack_each"], 33 * MIB)
                self.assertGreaterEqual(d["stacks_reserved"], 91 * 32 * MIB)
                if source == p.pid:
                    self.assertEqual(routers[0]["name"], "router-*")
                    self.assertEqual(d["target"]["stack_rlimit"], 32 * MIB)
            text = scan(p.pid, "--top", "0").stdout
            self.assertIn("router-* x91", text)
            if BITS == 32:  # the article's 3 GiB: here 4 GiB for a 32-bit process
                self.assertRegex(text, r"reserve 2\.8 GiB: 7\d\.\d % of the 4\.0 GiB address "
                                       r"space a 32-bit process has")
        finally:
            p.stop()
            shutil.rmtree(directory, True)


@unittest.skipIf(JEMALLOC == "-", "no jemalloc-linked test program in this build")
class NotGlibc(unittest.TestCase):
    def test_jemalloc_linked(self):
        p = Program([JEMALLOC, "3000"], ready="ready")
        try:
            d = scan_json(p.pid, "--grep", r"jekey-\d+")
            self.assertFalse(d["heap"]["glibc"])
            self.assertIn("libjemalloc", d["heap"]["why"])
            # each key once (JSON lists the first 1000 distinct ones and counts them all)
            self.assertEqual(sum(c["grep_total"] for c in d["contents"]), 3000)
            self.assertEqual(sum(c["matches_distinct"] for c in d["contents"]), 3000)
            listed = [m for c in d["contents"] for m in c["matches"]]
            self.assertTrue(listed and all(re.fullmatch(r"jekey-\d+", m["text"]) and
                                           m["count"] == 1 for m in listed))
            text = scan(p.pid).stdout
            self.assertIn("not glibc's heap", text)
            self.assertIn("threads", text)
        finally:
            p.stop()

    @unittest.skipIf(not shutil.which("redis-server"), "redis-server not installed")
    def test_redis_server(self):
        port = str(17000 + os.getpid() % 1000)
        p = Program(["redis-server", "--port", port, "--save", "", "--appendonly", "no"])
        try:
            for _ in range(100):
                if subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True,
                                  text=True).stdout.strip() == "PONG":
                    break
                time.sleep(0.05)
            cmds = "".join(f"SET scankey:{i} v{i}\n" for i in range(200))
            subprocess.run(["redis-cli", "-p", port], input=cmds, capture_output=True, text=True)
            d = scan_json(p.pid, "--grep", r"scankey:\d+")
            self.assertFalse(d["heap"]["glibc"])
            self.assertIn("libjemalloc", d["heap"]["why"])
            found = {m["text"] for c in d["contents"] for m in c["matches"]}
            self.assertTrue({f"scankey:{i}" for i in range(200)} <= found)
            self.assertIn("redis-server (main)", {f["name"] for f in d["families"]})
        finally:
            subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)
            p.stop()


class Errors(unittest.TestCase):
    def refused(self, *args, expect):
        res = scan(*args, check=False)
        self.assertEqual(res.returncode, 2, res.stdout)
        self.assertEqual(res.stdout, "")
        self.assertEqual(res.stderr.count("\n"), 1, res.stderr)
        self.assertRegex(res.stderr, "^leaktag-scan: " + expect)
        return res.stderr

    def test_no_such_process(self):
        p = subprocess.Popen(["true"])
        p.wait()
        self.refused(p.pid, expect=rf"pid {p.pid}: no such process")

    def test_exits_mid_scan(self):
        p = subprocess.Popen(["sleep", "1.5"])
        try:
            self.refused(p.pid, "--interval", "1", "--count", "3",
                         expect=rf"pid {p.pid} exited during the scan")
        finally:
            p.wait()

    def test_static(self):
        p = Program([STATIC])
        try:
            wait_comm(p.pid, "static_sleeper")
            self.refused(p.pid, expect=r"pid \d+ \(static_sleeper\): a static executable")
        finally:
            p.stop()

    @unittest.skipIf(os.geteuid() != 0, "needs root to run as two users")
    def test_another_user(self):
        p = Program(["sleep", "60"])
        try:
            res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                  SCAN, str(p.pid)], capture_output=True, text=True)
            self.assertEqual(res.returncode, 2)
            self.assertRegex(res.stderr, rf"^leaktag-scan: pid {p.pid}: no permission: pid "
                                         rf"{p.pid} runs as root \(uid 0\), not as you")
        finally:
            p.stop()

    @unittest.skipIf(os.geteuid() != 0, "needs root to drop a capability")
    def test_missing_cap_sys_ptrace(self):
        p = Program(["sleep", "60"], user="nobody")
        try:
            wait_comm(p.pid, "sleep")
            res = subprocess.run(["setpriv", "--inh-caps=-sys_ptrace",
                                  "--bounding-set=-sys_ptrace", SCAN, str(p.pid)],
                                 capture_output=True, text=True)
            self.assertEqual(res.returncode, 2)
            self.assertRegex(res.stderr, r"^leaktag-scan: pid \d+: no permission: .* lacks "
                                         r"CAP_SYS_PTRACE")
        finally:
            p.stop()

    def test_yama(self):
        try:
            with open("/proc/sys/kernel/yama/ptrace_scope") as f:
                scope = int(f.read())
        except OSError:
            self.skipTest("no Yama here (its messages: the refusal unit test)")
        if scope < 1 or os.geteuid() != 0:
            self.skipTest(f"kernel.yama.ptrace_scope is {scope}")
        p = Program(["sleep", "60"], user="nobody")
        try:
            res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                  SCAN, str(p.pid)], capture_output=True, text=True)
            self.assertRegex(res.stderr, r"kernel\.yama\.ptrace_scope is \d")
        finally:
            p.stop()

    def test_not_a_core(self):
        self.refused(SPP, expect=r".*: an ELF file, but not a core")
        self.refused("/etc/passwd", expect=r"/etc/passwd: not a pid, nor an ELF core file")
        self.refused("/nonexistent", expect=r"/nonexistent: No such file")

    def test_usage(self):
        self.refused(expect=r"no pid or core file given")
        self.refused("1", "2", expect=r"one pid or core file at a time")
        self.refused("1", "--count", "3", expect=r"--count goes with --interval")
        self.refused("1", "--interval", "0", expect=r"--interval: '0' is not")
        self.refused("1", "--grep", "(", expect=r"--grep '\(': ")


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import unittest77
    unittest77.main()
