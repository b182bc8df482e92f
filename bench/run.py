#!/usr/bin/env python3
"""Runs leaktag's benchmarks side by side and prints a Markdown table of ratios.

    bench/run.py [--build DIR] [--runs N] [--ops N] [--blocks N]
                 [--only malloc|footprint|snapshot|report|census|scan|servers|suite|reach]
                 [--suite DIR] [--programs cfrac,espresso,...] [--update docs/PERFORMANCE.md]

Each configuration runs plain, under leaktag with full stacks, under leaktag in call-site
mode (LEAKTAG_DEPTH=1) and under heaptrack, round-robin, RUNS times; the table shows the
median time of the benchmark's timed region and the ratio to plain. Overhead = ratio - 1.

The output opens with what was measured: date, commit, command and machine. With --update
FILE it also replaces what FILE holds between the lines BEGIN_MARK and END_MARK below, so
that the tables there are this program's output, never edited by hand.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BEGIN_MARK = "<!-- bench/run.py: from here to the end mark, generated; do not edit -->"
END_MARK = "<!-- bench/run.py: end -->"

TOOLS = ["plain", "leaktag", "leaktag-callsite", "leaktag-sampled", "plain-jemalloc",
         "leaktag-jemalloc",
         "heaptrack"]


def jemalloc_shim(lib):
    """The shim that brings jemalloc along (built when libjemalloc-dev is installed)."""
    return os.path.join(os.path.dirname(lib), "libleaktag-jemalloc.so")


def libjemalloc():
    """Debian's libjemalloc.so.2, for an uninstrumented jemalloc baseline."""
    for d in ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"]:
        path = os.path.join(d, "libjemalloc.so.2")
        if os.path.exists(path):
            return path
    return None


def elf32(path):
    with open(path, "rb") as f:
        return f.read(5)[4] == 1  # EI_CLASS: ELFCLASS32


def available(tools, lib):
    have_jemalloc = os.path.exists(jemalloc_shim(lib)) and libjemalloc() is not None
    # heaptrack injects a 64-bit library: not into a 32-bit build's programs
    have_heaptrack = shutil.which("heaptrack") and not elf32(lib)
    return [t for t in tools if (t != "heaptrack" or have_heaptrack) and
            (not t.endswith("jemalloc") or have_jemalloc)]


def tool_env(tool, lib):
    """The environment that runs a program under `tool` (plain: none of ours)."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if tool.startswith("leaktag"):
        env.update({"LD_PRELOAD": lib, "LEAKTAG_AT_EXIT": "0", "LEAKTAG_QUIET": "1"})
        if tool == "leaktag-callsite":
            env["LEAKTAG_DEPTH"] = "1"
        if tool == "leaktag-sampled":
            env["LEAKTAG_SAMPLE"] = "on"
        if tool == "leaktag-jemalloc":
            env.update({"LD_PRELOAD": jemalloc_shim(lib), "LEAKTAG_BACKEND": "jemalloc"})
    if tool == "plain-jemalloc":
        env["LD_PRELOAD"] = libjemalloc()
    return env


def wrap(tool, argv, outdir):
    return (["heaptrack", "-o", os.path.join(outdir, "ht")] + argv) if tool == "heaptrack" else argv


def tool_command(tool, lib, argv, outdir):
    env = tool_env(tool, lib)
    if tool.startswith("leaktag"):
        env["LEAKTAG_SIGNAL"] = "off"
    return wrap(tool, argv, outdir), env


PEAK_RSS = None  # bench/peak_rss in the build directory, set by main()


def run_measured(argv, env, cwd):
    """Runs argv; returns (exit code, its output, peak RSS in bytes). The peak is the largest
    of the process and the descendants it waited for (under heaptrack: the program or
    heaptrack's own interpreter, whichever is larger)."""
    res = subprocess.run([PEAK_RSS] + argv, env=env, cwd=cwd, capture_output=True, text=True)
    found = re.findall(r"^peak_rss_kb (\d+)$", res.stderr, re.M)
    if not found:
        sys.exit(f"{argv[0]}: no peak RSS reported:\n{res.stderr[-500:]}")
    return res.returncode, res.stdout + res.stderr, int(found[-1]) * 1024


def measure(argv, capture=False):
    """Runs argv under bench/peak_rss, as every command measured for memory is: a child forked
    from this Python starts with Python's resident pages, and Linux keeps that high-water
    mark across exec (a 7.8 MB scanner measured 13.7 MB, and 213 MB beside a 200 MB Python).
    Returns (exit code, stdout if captured, CPU seconds user + system, peak RSS in bytes,
    wall seconds). wait4 on peak_rss counts the CPU of the command it waited for."""
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([PEAK_RSS, *argv], stderr=err,
                                stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
        out = proc.stdout.read() if capture else b""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.monotonic() - start
        err.seek(0)
        text = err.read().decode(errors="replace")
    found = re.findall(r"^peak_rss_kb (\d+)$", text, re.M)
    if not found:
        sys.exit(f"{argv[0]}: no peak RSS reported:\n{text[-500:]}")
    return proc.returncode, out, usage.ru_utime + usage.ru_stime, int(found[-1]) * 1024, wall


def timed_region(output):
    """The benchmark prints its timed region (seconds) alone on a line."""
    times = re.findall(r"^(\d+\.\d+)$", output, re.M)
    if not times:
        raise RuntimeError("no timing in output:\n" + output[-2000:])
    return float(times[-1])


def run_malloc(args, lib):
    bench = os.path.join(args.build, "bench", "malloc_bench")
    tools = available(TOOLS, lib)
    rows = []
    peak_rss = {}
    for config in ["1t", "2t", "pc"]:
        samples = {t: [] for t in tools}
        for _ in range(args.runs):
            for tool in tools:
                with tempfile.TemporaryDirectory() as out:
                    argv, env = tool_command(tool, lib, [bench, config, str(args.ops)], out)
                    code, output, rss = run_measured(argv, env, out)
                    if code != 0:
                        sys.exit(f"{tool} {config} failed:\n{output}")
                    samples[tool].append(timed_region(output))
                    peak_rss.setdefault(config, {}).setdefault(tool, []).append(rss)
        plain_runs = samples["plain"]
        spread = (max(plain_runs) - min(plain_runs)) / statistics.median(plain_runs)
        rows.append((config, {t: statistics.median(v) for t, v in samples.items()}, spread))
    names = {"1t": "1 thread", "2t": "2 threads", "pc": "producer/consumer"}
    print(f"malloc_bench, {args.ops} operations, median of {args.runs} runs "
          "(seconds of the timed region; ratio to plain)\n")
    titles = {"plain": "plain", "leaktag": "leaktag full stacks",
              "leaktag-callsite": "leaktag call-site", "leaktag-sampled": "leaktag sampled (512 KiB)",
              "plain-jemalloc": "plain, jemalloc preloaded",
              "leaktag-jemalloc": "leaktag full, jemalloc backend", "heaptrack": "heaptrack"}
    columns = [titles[t] for t in tools] + ["full-stack overhead / heaptrack overhead"]
    print("| configuration | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for config, m, spread in rows:
        plain = m["plain"]
        cells = [f"{plain:.3f} s"]
        for tool in tools[1:]:
            # jemalloc's column is leaktag's cost over jemalloc itself, not the allocators' difference.
            base = m["plain-jemalloc"] if tool == "leaktag-jemalloc" else plain
            cells.append(f"{m[tool]:.3f} s ({m[tool] / base:.2f}x)")
        if "heaptrack" in m:
            ours, theirs = m["leaktag"] - plain, m["heaptrack"] - plain
            # When heaptrack's overhead is inside the plain runs' own spread (at least 10%),
            # it is noise, and a quotient of two noise figures means nothing.
            noise = max(0.10, spread)
            if theirs <= noise * plain:
                cells.append(f"n/a (heaptrack's +{theirs / plain:.0%} is within plain's "
                             f"run-to-run spread, {noise:.0%})")
            elif ours <= 0:
                cells.append("0 (leaktag not slower than plain)")
            else:
                cells.append(f"{ours / theirs:.2f}")
        else:
            cells.append("heaptrack not installed" if not shutil.which("heaptrack")
                         else "heaptrack does not run in a 32-bit process")
        print(f"| {names[config]} | " + " | ".join(cells) + " |")
    if "plain-jemalloc" in m:
        print("\nRatios are to plain glibc, except leaktag's jemalloc backend: to the same program with"
              " libjemalloc.so.2 preloaded (its ratio to plain glibc also includes the allocators'"
              " difference).")
    print("\nPeak RSS of the benchmark (median; MB)\n")
    print("| configuration | " + " | ".join(titles[t] for t in tools) + " |")
    print("|---" * (len(tools) + 1) + "|")
    for config, per_tool in peak_rss.items():
        print(f"| {names[config]} | " + " | ".join(
            f"{statistics.median(per_tool[t]) / 1e6:.1f}" for t in tools) + " |")
    print()


def run_footprint(args, lib):
    prog = os.path.join(args.build, "bench", "footprint")
    steps = ["100000", "300000", "1000000", "3000000"]
    env = dict(os.environ, LD_PRELOAD=lib, LEAKTAG_AT_EXIT="0", LEAKTAG_SIGNAL="off")
    res = subprocess.run([prog] + steps, env=env, capture_output=True, text=True, check=True)
    print("Tracker memory per live block (tables, stacks, thread registry: "
          "leaktag_stats().tracker_bytes / live blocks)\n")
    print("| live blocks | tracker bytes | bytes per block |")
    print("|---|---|---|")
    for line in res.stdout.split("\n"):
        if line.strip():
            blocks, tracker, per = line.split()
            print(f"| {int(blocks):,} | {int(tracker):,} | {per} |")
    print()


def snapshot_run(args, lib, out, env_extra=None, no_snapshot=False, blocks=None, stacks=10000,
                 request_bytes=None, busy=False, baseline_seconds=None):
    prog = os.path.join(args.build, "bench", "snapshot_bench")
    env = dict(os.environ, LD_PRELOAD=lib, LEAKTAG_AT_EXIT="0", LEAKTAG_QUIET="1",
               LEAKTAG_OUTPUT=out, SNAPSHOT_FILE=out, **(env_extra or {}))
    if no_snapshot:  # instead of the snapshot, a sleep, or a core burnt (busy)
        env["NO_SNAPSHOT"] = "busy" if busy else "1"
        if baseline_seconds:
            env["BASELINE_SECONDS"] = f"{baseline_seconds:.3f}"
    if os.path.exists(out):
        os.unlink(out)
    argv = [prog, str(blocks or args.blocks), str(stacks)]
    if request_bytes:
        argv.append(str(request_bytes))
    res = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    took, size, per_block, worst_us, p999, timed = res.stdout.split()
    return {"seconds": float(took), "bytes": int(size), "per_block": float(per_block),
            "worst_us": float(worst_us), "p999_us": int(p999), "timed": int(timed)}


def run_snapshot(args, lib):
    print(f"Snapshot of {args.blocks:,} live blocks in 10,000 stacks while another thread "
          f"allocates (bench/snapshot_bench), median of {args.runs} runs\n")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bench.lts")
        rows = {"with samples (default 8 x 256 B per stack)": {},
                "without content (LEAKTAG_SAMPLE_BYTES=0)": {"LEAKTAG_SAMPLE_BYTES": "0"}}
        print("| snapshot | write time | file size | bytes per live block | worst malloc+free "
              "during it | same thread, no snapshot |")
        print("|---|---|---|---|---|---|")
        for name, extra in rows.items():
            runs = [snapshot_run(args, lib, out, extra) for _ in range(args.runs)]
            idle = [snapshot_run(args, lib, out, extra, no_snapshot=True) for _ in range(args.runs)]
            med = lambda key, rs=runs: statistics.median(r[key] for r in rs)
            print(f"| {name} | {med('seconds'):.3f} s | {med('bytes') / 1e6:.1f} MB | "
                  f"{med('per_block'):.1f} | {med('worst_us'):.0f} us | "
                  f"{statistics.median(r['worst_us'] for r in idle):.0f} us |")
    print()


def report_usage(report, argv):
    """CPU seconds (user + system) and peak memory in MB of one leaktag-report run."""
    status, _, cpu, peak, _ = measure([report, *argv])
    if status:
        sys.exit(f"leaktag-report {' '.join(argv)} failed")
    return cpu, peak / 1e6


def run_census(args, lib):
    """A census (LEAKTAG_SAMPLES=all) of requests of 1.5 KiB, the article's heap: 70,000 of them
    (the issue's 100 MiB), and ten times as many."""
    report = os.path.join(args.build, "analyzer", "leaktag-report")
    size = 1536
    print(f"Census of live requests of {size} B (HTTP form bodies: a template around "
          f"per-request ids, a signature and a 64-letter token) while another thread allocates "
          f"(bench/snapshot_bench REQUESTS 1 {size}, LEAKTAG_SAMPLES=all "
          f"LEAKTAG_SAMPLE_BYTES={size}), median of {args.runs} runs\n")
    env = {"LEAKTAG_SAMPLES": "all", "LEAKTAG_SAMPLE_BYTES": str(size)}
    grep = ["--grep", r"channelid=\d*"]
    with tempfile.TemporaryDirectory() as d:
        out, spare = os.path.join(d, "census.lts"), os.path.join(d, "baseline.lts")
        dump = ["--dump", os.path.join(d, "dump.bin")]
        print("| requests (captured) | write time | file size | file / captured | worst "
              "malloc+free during it | p99.9 during it | the same thread, a sleep as long | the "
              "same, a core burnt as long |")
        print("|---|---|---|---|---|---|---|---|")
        reports = []
        for requests in (70000, 700000):
            runs, idle, busy = [], [], []
            for _ in range(args.runs):  # round-robin: the baselines see the same machine, as
                runs.append(snapshot_run(args, lib, out, env, blocks=requests, stacks=1,
                                         request_bytes=size))  # long as the snapshot took
                for kept, burn in ((idle, False), (busy, True)):
                    kept.append(snapshot_run(args, lib, spare, env, no_snapshot=True,
                                             blocks=requests, stacks=1, request_bytes=size,
                                             busy=burn, baseline_seconds=runs[-1]["seconds"]))
            med = lambda key, rs=runs: statistics.median(r[key] for r in rs)
            worst = lambda rs: (f"{statistics.median(r['worst_us'] for r in rs):.0f} us "
                                f"(max {max(r['worst_us'] for r in rs):.0f})")
            captured = requests * size
            print(f"| {requests:,} ({captured / 2**20:.0f} MiB) | {med('seconds'):.3f} s | "
                  f"{med('bytes') / 1e6:.1f} MB | {med('bytes') / captured:.3f} | "
                  f"{worst(runs)} | {med('p999_us'):.0f} us | {worst(idle)} | {worst(busy)} |")
            commands = [grep, [], ["--format", "json"], grep + dump] if requests < 100000 else [grep]
            for extra in commands:
                measured = [report_usage(report, [*extra, out]) for _ in range(args.runs)]
                shown = " ".join(f"'{a}'" if "\\" in a else a for a in extra).replace(d + "/", "")
                reports.append(f"| {requests:,} | `{' '.join(['leaktag-report', shown]).strip()}` | "
                               f"{statistics.median(c for c, _ in measured):.2f} s | "
                               f"{max(m for _, m in measured):.0f} MB |")
        print("\n| requests | command | CPU | peak memory |")
        print("|---|---|---|---|")
        print("\n".join(reports))
    print()


def scan_usage(scan, argv):
    """Wall and CPU seconds, peak memory in MB and the JSON of one leaktag-scan run."""
    status, out, cpu, peak, wall = measure([scan, *argv, "--format", "json"], capture=True)
    if status:
        sys.exit(f"leaktag-scan {' '.join(argv)} failed")
    return wall, cpu, peak / 1e6, json.loads(out)


def spp_holding(build, requests):
    """The spp worker without the shim, holding its leaked requests: (process, leaked)."""
    proc = subprocess.Popen([os.path.join(build, "examples", "spp_worker"), "--rate", "0",
                             "--requests", str(requests), "--hold"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        m = re.search(r"(\d+) rejected", line)
        if m:
            return proc, int(m.group(1))
    sys.exit("spp_worker did not hold")


def spp_progress(proc):
    """Requests the spp worker has handled so far (it answers SIGUSR1)."""
    proc.send_signal(signal.SIGUSR1)
    for line in proc.stdout:
        m = re.search(r"spp_worker: (\d+) requests so far", line)
        if m:
            return int(m.group(1))
    sys.exit("spp_worker ended")


def spp_window(proc, seconds, scan=None, scan_argv=None, burn=False):
    """The worker's requests per second over `seconds`: alone, beside a process burning the
    other core (burn), or while leaktag-scan looks at it back to back (scan_argv; a scan
    still running at the end is killed: its cost is what is measured, not its result); and
    the scans begun."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if burn else None
    start, t0, scans = spp_progress(proc), time.monotonic(), 0
    while time.monotonic() - t0 < seconds:
        if scan_argv is None:
            time.sleep(0.05)
            continue
        s = subprocess.Popen([scan, str(proc.pid), *scan_argv], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        scans += 1
        while s.poll() is None and time.monotonic() - t0 < seconds:
            time.sleep(0.01)
        if s.poll() is None:
            s.kill()
        s.wait()
    rate = (spp_progress(proc) - start) / (time.monotonic() - t0)
    if burner:
        burner.kill()
        burner.wait()
    return rate, scans


def vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) << 10


def run_scan(args, lib):
    """leaktag-scan on the spp worker started without the shim: a heap of 1.5 KiB requests of
    100 MiB and of 1 GiB, live, frozen and from a gcore core; and the worker's throughput while
    it is scanned back to back."""
    del lib
    scan = os.path.join(args.build, "analyzer", "scan", "leaktag-scan")
    grep = ["--grep", r"channelid=\d*"]
    print(f"leaktag-scan on `spp_worker --rate 0 --requests N --hold` (no shim), median of "
          f"{args.runs} runs; CPU = user + system of the scanner\n")
    print("| heap | command | wall | CPU | peak memory | target stopped | walk | chunks of the "
          "largest class = leaked |")
    print("|---|---|---|---|---|---|---|---|")
    for requests in (560000, 5600000):
        worker, leaked = spp_holding(args.build, requests)
        try:
            with tempfile.TemporaryDirectory() as d:
                subprocess.run(["gcore", "-o", os.path.join(d, "core"), str(worker.pid)],
                               capture_output=True)
                core = os.path.join(d, f"core.{worker.pid}")
                for source, extra in ((worker.pid, ["--top", "0"]),
                                      (worker.pid, ["--top", "1"] + grep),
                                      (worker.pid, ["--freeze", "--top", "0"]),
                                      (worker.pid, ["--freeze", "--top", "1"] + grep),
                                      (worker.pid, ["--freeze", "--reach", "--top", "0"]),
                                      (core, ["--top", "0"]),
                                      (core, ["--top", "1"] + grep),
                                      (core, ["--reach", "--top", "0"])):
                    runs = [scan_usage(scan, [str(source), *extra]) for _ in range(args.runs)]
                    med = lambda i: statistics.median(r[i] for r in runs)
                    j = runs[-1][3]
                    heap = j["heap"]
                    stopped = (f"{statistics.median(r[3]['stopped_seconds'] for r in runs):.3f} s"
                               if "--freeze" in extra else "no")
                    walk = statistics.median(r[3]["walk_seconds"] for r in runs)
                    shown = " ".join(f"'{a}'" if "\\" in a else a for a in extra)
                    what = "CORE" if source == core else "PID"
                    print(f"| {heap['heap_bytes'] / 2**20:,.0f} MiB, {heap['inuse_chunks']:,} "
                          f"chunks | `leaktag-scan {what} {shown}` | {med(0):.2f} s | "
                          f"{med(1):.2f} s | {max(r[2] for r in runs):.0f} MB | {stopped} | "
                          f"{walk:.3f} s | {heap['classes'][0]['chunks']:,} = {leaked:,} |")
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait()
    scan_growth(args, scan)
    scan_throughput(args, scan, grep)


def scan_growth(args, scan):
    """How the scanner's time and memory grow with the heap: 1, 4 and 16 GiB of 256-byte
    chunks (bench/heap_fill, no shim), as far as the machine's memory allows; and the stop of
    the verdict without the shim (--freeze --reach) on each."""
    fill = os.path.join(args.build, "bench", "heap_fill")
    with open("/proc/meminfo") as f:
        avail = int(re.search(r"MemAvailable:\s+(\d+)", f.read()).group(1)) << 10
    print(f"\nleaktag-scan by heap size: `bench/heap_fill MIB 256` (one chunk in ten freed again), "
          f"median of {args.runs} runs; peak memory through bench/peak_rss\n")
    print("| heap | chunks in use | command | wall | CPU | peak memory | target stopped |")
    print("|---|---|---|---|---|---|---|")
    for gib in (1, 4, 16):
        if gib * (1 << 30) * 1.2 > avail:
            print(f"| {gib} GiB | | not run: {avail / 2**30:.1f} GiB available | | | | |")
            continue
        proc = subprocess.Popen([fill, str(gib << 10), "256"], stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            if not line.startswith("ready"):
                sys.exit("heap_fill did not fill")
            for extra in (["--top", "0"], ["--top", "1", "--grep", "[a-z]{4}"],
                          ["--freeze", "--reach", "--top", "0"]):
                runs = [scan_usage(scan, [str(proc.pid), *extra]) for _ in range(args.runs)]
                med = lambda i: statistics.median(r[i] for r in runs)
                shown = " ".join(extra)
                stopped = (f"{statistics.median(r[3]['stopped_seconds'] for r in runs):.2f} s"
                           if "--freeze" in extra else "no")
                print(f"| {gib} GiB | {runs[-1][3]['heap']['inuse_chunks']:,} | "
                      f"`leaktag-scan PID {shown}` | {med(0):.2f} s | {med(1):.2f} s | "
                      f"{max(r[2] for r in runs):.1f} MB | {stopped} |")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()


def scan_throughput(args, scan, grep):
    """The unpaced worker's throughput while leaktag-scan looks at it, against itself alone."""
    seconds = 4
    proc = subprocess.Popen([os.path.join(args.build, "examples", "spp_worker"), "--rate", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    cases = [("beside a process burning the other core", None, True),
             ("leaktag-scan PID --top 0, back to back", ["--top", "0"], False),
             ("leaktag-scan PID --top 1 --grep 'channelid=\\d*', back to back",
              ["--top", "1"] + grep, False),
             ("leaktag-scan PID --freeze --top 0, back to back", ["--freeze", "--top", "0"],
              False)]
    ratios = {name: [] for name, _, _ in cases}
    scans = {name: [] for name, _, _ in cases}
    try:
        while vm_rss(proc.pid) < 1 << 30:
            time.sleep(0.2)
        first_rss = vm_rss(proc.pid)
        for _ in range(args.runs):
            for name, argv, burn in cases:
                # each window against the worker alone just before and just after it: the
                # worker slows as its heap grows, and neighbours see the same heap
                before = spp_window(proc, seconds)[0]
                r, k = spp_window(proc, seconds, scan, argv, burn)
                after = spp_window(proc, seconds)[0]
                ratios[name].append(r / ((before + after) / 2))
                scans[name].append(k)
        last_rss = vm_rss(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate()
    print(f"\nThe unpaced worker (`spp_worker --rate 0`, no shim) answering requests while its "
          f"heap grows from {first_rss / 2**30:.1f} to {last_rss / 2**30:.1f} GiB: its requests "
          f"per second during a window of {seconds} s, against the mean "
          f"of the windows of {seconds} s just before and after it with the worker alone; "
          f"median of {args.runs} (min, max)\n")
    print("| during the window | ratio to the worker alone | scans in the window |")
    print("|---|---|---|")
    for name, argv, _ in cases:
        rs = ratios[name]
        print(f"| {name} | {statistics.median(rs):.3f} ({min(rs):.3f}, {max(rs):.3f}) | "
              f"{statistics.median(scans[name]) if argv else '-'} |")
    print()


def run_report(args, lib):
    report = os.path.join(args.build, "analyzer", "leaktag-report")
    print(f"leaktag-report on a snapshot of {args.blocks:,} live blocks in 10,000 stacks, "
          f"median of {args.runs} runs (CPU = user + system)\n")
    print("| command | CPU | peak memory |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bench.lts")
        snapshot_run(args, lib, out)
        pb = os.path.join(d, "bench.pb.gz")
        for extra in ([], ["--format", "json"], ["--by", "thread"], ["--format", "collapsed"],
                      ["--grep", "a+"], ["--format", "pprof", "--output", pb]):
            measured = [report_usage(report, [*extra, out]) for _ in range(args.runs)]
            shown = " ".join(extra).replace(d + "/", "")
            print(f"| `{' '.join(['leaktag-report', shown]).strip()}` | "
                  f"{statistics.median(c for c, _ in measured):.2f} s | "
                  f"{max(m for _, m in measured):.0f} MB |")
        go = shutil.which("go")
        if go:  # the reader the profile is for; wall time, with the go tool's start
            walls = []
            for _ in range(args.runs):
                t0 = time.monotonic()
                subprocess.run([go, "tool", "pprof", "-top", pb], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                walls.append(time.monotonic() - t0)
            print(f"| `go tool pprof -top bench.pb.gz` ({os.path.getsize(pb) / 1e3:.0f} kB) | "
                  f"{statistics.median(walls):.2f} s wall | |")
        page = os.path.join(d, "bench.html")
        measured = [report_usage(report, ["--format", "html", "--output", page, out])
                    for _ in range(args.runs)]
        print(f"| `leaktag-report --format html --output bench.html` "
              f"({os.path.getsize(page) / 1e6:.1f} MB) | "
              f"{statistics.median(c for c, _ in measured):.2f} s | "
              f"{max(m for _, m in measured):.0f} MB |")
        chromium = shutil.which("chromium")
        if chromium:  # load, run the page's script, dump the DOM: its start included
            walls = []
            for _ in range(args.runs):
                t0 = time.monotonic()
                subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                                "--window-size=1600,1200", "--dump-dom", "file://" + page],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, HOME=d))
                walls.append(time.monotonic() - t0)
            print(f"| headless Chromium renders bench.html | "
                  f"{statistics.median(walls):.2f} s wall | |")
    print()


# ---- real programs: redis-server, memcached, python3 ------------------------------------------

SERVER_TOOLS = ["plain", "leaktag", "leaktag-callsite", "leaktag-sampled", "leaktag-jemalloc",
                "heaptrack"]


def redis_once(tool, lib, outdir, port, requests):
    import time
    server = subprocess.Popen(wrap(tool, ["redis-server", "--port", str(port), "--save", "",
                                          "--appendonly", "no", "--dir", outdir], outdir),
                              env=tool_env(tool, lib), cwd=outdir, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli = ["redis-cli", "-p", str(port)]
    for _ in range(400):
        if subprocess.run(cli + ["ping"], capture_output=True).returncode == 0:
            break
        time.sleep(0.05)

    def cpu():
        info = subprocess.run(cli + ["info", "cpu"], capture_output=True, text=True).stdout
        return sum(float(v) for k, v in re.findall(r"(used_cpu_(?:user|sys)):([\d.]+)", info))

    pid = re.search(r"process_id:(\d+)", subprocess.run(cli + ["info", "server"],
                    capture_output=True, text=True).stdout)
    before = cpu()
    res = subprocess.run(["redis-benchmark", "-p", str(port), "-P", "16", "-n", str(requests),
                          "-t", "set,get,lpush,lpop", "-q"], capture_output=True, text=True)
    used = cpu() - before
    peak = 0
    if pid:
        with open(f"/proc/{pid.group(1)}/status") as status:
            peak = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1)) * 1024
    subprocess.run(cli + ["shutdown", "nosave"], capture_output=True)
    server.wait(timeout=600)
    wait_group_gone(server.pid)
    rps = [float(x) for x in re.findall(r"([\d.]+) requests per second", res.stdout)]
    if len(rps) != 4:
        sys.exit(f"redis-benchmark under {tool}: {res.stdout[-500:]}{res.stderr[-500:]}")
    return statistics.mean(rps), used / (4 * requests) * 1e6, peak  # rps, CPU us/request, RSS


def wait_group_gone(pgid):
    import time
    for _ in range(600):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)


def memcached_once(tool, lib, outdir, port, ops):
    import time
    server = subprocess.Popen(wrap(tool, ["memcached", "-u", "root", "-p", str(port), "-U", "0",
                                          "-t", "1", "-m", "512"], outdir),
                              env=tool_env(tool, lib), cwd=outdir, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket
    for _ in range(200):  # until it accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    for _ in range(3):  # memcaslap now and then ends early without its summary: run it again
        res = subprocess.run(["memcaslap", "-s", f"127.0.0.1:{port}", "-T", "1", "-c", "32",
                              "-x", str(ops)], capture_output=True, text=True)
        if re.search(r"TPS: (\d+)", res.stdout):
            break
    # The whole group: under heaptrack, `server` is heaptrack's script, and memcached would
    # outlive it and eat CPU through the following measurements.
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=600)
    wait_group_gone(server.pid)
    tps = re.findall(r"TPS: (\d+)", res.stdout)
    if not tps:
        sys.exit(f"memcaslap under {tool}: {res.stdout[-500:]}{res.stderr[-500:]}")
    return float(tps[-1])


def python_once(tool, lib, outdir):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python_alloc.py")
    code, output, rss = run_measured(wrap(tool, ["python3", script], outdir),
                                     tool_env(tool, lib), outdir)
    if code:
        sys.exit(f"python3 under {tool}: {output[-500:]}")
    return timed_region(output), rss


def run_servers(args, lib):
    tools = available(SERVER_TOOLS, lib)
    have = {name: shutil.which(name) for name in ("redis-server", "memcached", "memcaslap")}
    results = {t: {"redis": [], "redis_cpu": [], "redis_rss": [], "memcached": [], "python": [],
                   "python_rss": []} for t in tools}
    port = 20000 + os.getpid() % 20000
    for _ in range(args.runs):
        for tool in tools:
            with tempfile.TemporaryDirectory() as out:
                if have["redis-server"]:
                    rps, cpu_us, rss = redis_once(tool, lib, out, port, args.redis_requests)
                    results[tool]["redis"].append(rps)
                    results[tool]["redis_cpu"].append(cpu_us)
                    results[tool]["redis_rss"].append(rss)
                if have["memcached"] and have["memcaslap"]:
                    results[tool]["memcached"].append(
                        memcached_once(tool, lib, out, port + 1, args.memcached_ops))
                seconds, rss = python_once(tool, lib, out)
                results[tool]["python"].append(seconds)
                results[tool]["python_rss"].append(rss)
    med = {t: {k: statistics.median(v) if v else None for k, v in r.items()}
           for t, r in results.items()}
    p = med["plain"]
    print(f"Real programs, median of {args.runs} runs, ratio to plain in brackets. redis: "
          f"redis-benchmark -P 16 -n {args.redis_requests} -t set,get,lpush,lpop (mean of the "
          f"four rates) and the server's CPU per request; memcached: memcaslap -c 32 -x "
          f"{args.memcached_ops} (90% get); python3: bench/python_alloc.py, timed region.\n")
    print("| tool | redis throughput | redis server CPU per request | redis peak RSS | "
          "memcached throughput | python3 time | python3 peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for tool in tools:
        m = med[tool]
        cells = []
        if m["redis"]:
            cells.append(f"{m['redis'] / 1000:.0f}k req/s ({m['redis'] / p['redis']:.2f}x)")
            cells.append(f"{m['redis_cpu']:.2f} us ({m['redis_cpu'] / p['redis_cpu']:.2f}x)")
            cells.append(f"{m['redis_rss'] / 1e6:.1f} MB")
        else:
            cells += ["not installed", "-", "-"]
        cells.append(f"{m['memcached'] / 1000:.0f}k ops/s ({m['memcached'] / p['memcached']:.2f}x)"
                     if m["memcached"] else "not installed")
        cells.append(f"{m['python']:.2f} s ({m['python'] / p['python']:.2f}x)")
        cells.append(f"{m['python_rss'] / 1e6:.1f} MB")
        print(f"| {tool} | " + " | ".join(cells) + " |")
    print()


# ---- the mimalloc-bench programs in ../shared/bench-suite ------------------------------------

SUITE_TOOLS = ["plain", "leaktag", "leaktag-callsite", "leaktag-sampled", "heaptrack"]

# name: (argv after the program, how its figure is read, whether more is better, what of its
# output must be the same under every tool). Sizes are build.sh's: 0.5-4 s plain here.
SUITE = {
    "cfrac": (["1121840910448017435117234253806619260611"], "wall", False, "all"),
    "espresso": (["-s", "{out}/esp1800.espresso"], "wall", False, "no-time"),
    "glibc-simple": ([], "wall", False, "all"),
    "larson": (["2", "8", "1000", "5000", "100", "4141", "2"],
               r"Throughput =\s+(\d+) operations", True, "none"),
    "glibc-thread": (["2"], r"^(\d+) iterations", True, "none"),
}
SINGLE_THREADED = {"cfrac", "espresso", "glibc-simple"}


def build_suite(src, out):
    res = subprocess.run(["sh", os.path.join(src, "build.sh"), out], capture_output=True,
                         text=True)
    if res.returncode != 0:
        sys.exit(f"{src}/build.sh failed:\n{res.stdout}{res.stderr}")


def comparable(output, how):
    """The part of a program's output that must not change under a tool."""
    if how == "none":
        return ""
    lines = [l for l in output.splitlines() if not l.startswith("peak_rss_kb")]
    if how == "no-time":
        lines = [re.sub(r"Time was [0-9.]+ sec", "Time was T sec", l) for l in lines
                 if not re.match(r"^# .* time", l, re.I)]
    return "\n".join(lines)


def run_suite(args, lib):
    src = os.path.abspath(args.suite)
    if not os.path.exists(os.path.join(src, "build.sh")):
        sys.exit(f"{src}/build.sh not found: --suite DIR names ../shared/bench-suite")
    tools = available(SUITE_TOOLS, lib)
    programs = [p for p in SUITE if not args.programs or p in args.programs.split(",")]
    samples = {p: {t: [] for t in tools} for p in programs}
    rss = {p: {t: [] for t in tools} for p in programs}
    with tempfile.TemporaryDirectory() as bin_dir:
        build_suite(src, bin_dir)
        reference = {}
        for _ in range(args.runs):
            for prog in programs:
                extra, measure, _, how = SUITE[prog]
                argv = [os.path.join(bin_dir, prog)] + [a.format(out=bin_dir) for a in extra]
                for tool in tools:
                    with tempfile.TemporaryDirectory() as out:
                        cmd, env = tool_command(tool, lib, argv, out)
                        start = time.monotonic()
                        code, output, peak = run_measured(cmd, env, out)
                        wall = time.monotonic() - start
                    if code != 0:
                        sys.exit(f"{prog} under {tool} failed ({code}):\n{output[-2000:]}")
                    seen = comparable(output, how)
                    if tool != "heaptrack":  # heaptrack prints its own lines into the output
                        if reference.setdefault(prog, seen) != seen:
                            sys.exit(f"{prog}: the output under {tool} differs from plain's:\n"
                                     f"{seen[-1000:]}\n---\n{reference[prog][-1000:]}")
                    if measure == "wall":
                        samples[prog][tool].append(wall)
                    else:
                        found = re.findall(measure, output, re.M)
                        if not found:
                            sys.exit(f"{prog} under {tool}: no figure in\n{output[-1000:]}")
                        samples[prog][tool].append(float(found[-1]))
                    rss[prog][tool].append(peak)
    titles = {"plain": "plain", "leaktag": "full stacks (default)", "leaktag-callsite": "call-site",
              "leaktag-sampled": "sampled", "heaptrack": "heaptrack"}
    print(f"mimalloc-bench programs, round-robin, median of {args.runs} rounds; slowdown "
          "relative to plain (wall time; larson and glibc-thread: plain throughput / "
          "throughput)\n")
    print("| program | " + " | ".join(titles[t] for t in tools) +
          " | full / call-site | full overhead / heaptrack overhead |")
    print("|---" * (len(tools) + 3) + "|")
    ratios = {t: [] for t in tools}
    for prog in programs:
        more_is_better = SUITE[prog][2]
        med = {t: statistics.median(v) for t, v in samples[prog].items()}
        ratio = {t: (med["plain"] / med[t] if more_is_better else med[t] / med["plain"])
                 for t in tools}
        cells = []
        for t in tools:
            ratios[t].append(ratio[t])
            figure = f"{med[t] / 1e6:.2f} M/s" if more_is_better else f"{med[t]:.2f} s"
            cells.append(figure if t == "plain" else f"{figure} ({ratio[t]:.2f}x)")
        cells.append(f"{ratio['leaktag'] / ratio['leaktag-callsite']:.2f}"
                     if "leaktag-callsite" in ratio else "-")
        if "heaptrack" in ratio and ratio["heaptrack"] > 1:
            cells.append(f"{max(ratio['leaktag'] - 1, 0) / (ratio['heaptrack'] - 1):.2f}")
        else:
            cells.append("-")
        print(f"| {prog} | " + " | ".join(cells) + " |")
    geo = {t: statistics.geometric_mean(v) for t, v in ratios.items()}
    print("| geometric mean | " + " | ".join(
        "1.00x" if t == "plain" else f"{geo[t]:.2f}x" for t in tools) + " | | |")
    print("\nPeak RSS (median, MB)\n")
    print("| program | " + " | ".join(titles[t] for t in tools) + " |")
    print("|---" * (len(tools) + 1) + "|")
    for prog in programs:
        print(f"| {prog} | " + " | ".join(
            f"{statistics.median(rss[prog][t]) / 1e6:.1f}" for t in tools) + " |")
    print()


# ---- the reachability verdict (LEAKTAG_REACH=1) -------------------------------------------

REACH_CONFIGS = [  # (blocks, heap bytes, allocating threads)
    (100_000, 100 << 20, 0),
    (1_000_000, 1 << 30, 0),
    (1_000_000, 1 << 30, 8),
]


def run_reach(args, lib):
    prog = os.path.join(args.build, "bench", "reach_bench")
    report = os.path.join(args.build, "analyzer", "leaktag-report")
    snapshots = 3
    print(f"Reachability verdict (bench/reach_bench, LEAKTAG_REACH=1), {snapshots} snapshots "
          f"per run, medians of {args.runs} runs; the pause is the time the application's "
          "threads are stopped, a plain fork() of the same process its floor\n")
    print("| live blocks | heap | allocating threads | plain fork() | pause (of which fork) | "
          "worst malloc+free in another thread | scan | scanned | scan per GiB | "
          "definitely lost found |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for blocks, heap, threads in REACH_CONFIGS:
        rows = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as d:
                env = dict(os.environ, LD_PRELOAD=lib, LEAKTAG_REACH="1", LEAKTAG_QUIET="1",
                           LEAKTAG_AT_EXIT="0", LEAKTAG_KEEP="0", LEAKTAG_SAMPLE_BYTES="0",
                           LEAKTAG_OUTPUT=os.path.join(d, "r.%n.lts"))
                res = subprocess.run([prog, str(blocks), str(heap), str(threads),
                                      str(snapshots)], env=env, capture_output=True, text=True)
                if res.returncode != 0:
                    sys.exit(f"reach_bench failed: {res.stderr[-2000:]}")
                fork_ms, worst_us, _ = (float(x) for x in res.stdout.split())
                for n in range(1, snapshots + 1):
                    rep = subprocess.run([report, "--format", "json", "--top", "1",
                                          os.path.join(d, f"r.{n}.lts")],
                                         capture_output=True, text=True)
                    if rep.returncode != 0:
                        sys.exit(f"leaktag-report failed: {rep.stderr}")
                    data = json.loads(rep.stdout)
                    scan = data["snapshot"]["reachability_scan"]
                    if not scan["ok"]:
                        sys.exit(f"no verdict: {scan['error']}")
                    lost = data["totals"]["reachability"]["definitely_lost"]["blocks"]
                    rows.append((fork_ms, scan["pause_ms"], scan["fork_ms"], worst_us,
                                 scan["scan_ms"], scan["bytes_scanned"], lost))
        med = lambda k: statistics.median(r[k] for r in rows)
        gib = med(5) / (1 << 30)
        print(f"| {blocks:,} | {heap >> 20} MiB | {threads} | {med(0):.1f} ms | "
              f"{med(1):.1f} ms ({med(2):.1f} ms) | {med(3) / 1000:.1f} ms | "
              f"{med(4) / 1000:.2f} s | {med(5) / (1 << 20):.0f} MiB | "
              f"{med(4) / 1000 / gib if gib else 0:.2f} s | {med(6):,.0f} of {blocks // 10:,} |")
    print()


class Tee:
    """Writes to stdout and keeps a copy for --update."""

    def __init__(self, out):
        self.out, self.kept = out, []

    def write(self, text):
        self.kept.append(text)
        return self.out.write(text)

    def flush(self):
        self.out.flush()


def git(*argv):
    here = os.path.dirname(os.path.abspath(__file__))
    res = subprocess.run(["git", "-C", here, *argv], capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else ""


def provenance(argv):
    """One paragraph: when, which code, which command, which machine."""
    commit = git("log", "-1", "--format=%h (%s)") or "unknown (not a git tree)"
    dirty = " plus uncommitted changes" if git("status", "--porcelain", "-uno") else ""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / (1 << 20)
    return (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on commit "
            f"{commit}{dirty} by `python3 bench/run.py {' '.join(argv)}`; "
            f"{os.cpu_count()} CPUs ({cpu}), {mem_gib:.0f} GiB, Linux {os.uname().release}, "
            f"{os.confstr('CS_GNU_LIBC_VERSION')}.\n")


def generated_block(path):
    """FILE's text and where its generated block begins and ends; exits without the marks."""
    with open(path) as f:
        doc = f.read()
    begin, end = doc.find(BEGIN_MARK), doc.find(END_MARK)
    if begin < 0 or end < begin:
        sys.exit(f"{path}: no '{BEGIN_MARK}' ... '{END_MARK}' lines to replace between")
    return doc, begin, end


def update(path, text):
    doc, begin, end = generated_block(path)
    doc = doc[:begin + len(BEGIN_MARK)] + "\n\n" + text.strip() + "\n\n" + doc[end:]
    with open(path + ".tmp", "w") as f:
        f.write(doc)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ops", type=int, default=2000000)
    ap.add_argument("--blocks", type=int, default=1000000, help="for snapshot and report")
    ap.add_argument("--redis-requests", type=int, default=1000000)
    ap.add_argument("--memcached-ops", type=int, default=500000)
    ap.add_argument("--suite", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "..", "shared", "bench-suite"),
                    help="the mimalloc-bench programs (../shared/bench-suite)")
    ap.add_argument("--programs", help="with --only suite: a comma-separated subset")
    ap.add_argument("--only", choices=["malloc", "footprint", "snapshot", "report", "census",
                                       "scan", "servers", "suite", "reach"])
    ap.add_argument("--update", metavar="FILE",
                    help="also write the output into FILE between its generated-block marks")
    args = ap.parse_args()
    if args.update and args.only:
        sys.exit("--update takes the whole run: one set of figures, measured together")
    if args.update:  # fail now, not after an hour of measuring
        generated_block(args.update)
    tee = sys.stdout = Tee(sys.stdout)
    started = time.monotonic()
    print(provenance(sys.argv[1:]))
    args.build = os.path.abspath(args.build)
    lib = os.path.join(args.build, "preload", "libleaktag.so")
    global PEAK_RSS
    PEAK_RSS = os.path.join(args.build, "bench", "peak_rss")
    if not os.path.exists(lib):
        sys.exit(f"{lib} not found: build first (meson setup {args.build} && ninja -C {args.build})")
    if args.only in (None, "malloc"):
        run_malloc(args, lib)
    if args.only in (None, "footprint"):
        run_footprint(args, lib)
    if args.only in (None, "snapshot"):
        run_snapshot(args, lib)
    if args.only in (None, "report"):
        run_report(args, lib)
    if args.only in (None, "census"):
        run_census(args, lib)
    if args.only in (None, "scan"):
        run_scan(args, lib)
    if args.only in (None, "servers"):
        run_servers(args, lib)
    if args.only in (None, "suite"):
        run_suite(args, lib)
    if args.only in (None, "reach"):
        run_reach(args, lib)
    print(f"The whole run took {(time.monotonic() - started) / 60:.0f} minutes.")
    if args.update:
        update(args.update, "".join(tee.kept))


if __name__ == "__main__":
    main()
