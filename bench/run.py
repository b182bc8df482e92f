#!/usr/bin/env python3
"""Runs leaktag's benchmarks side by side and prints a Markdown table of ratios.

    bench/run.py [--build DIR] [--runs N] [--ops N] [--blocks N]
                 [--only malloc|footprint|snapshot|report]

Each configuration runs plain, under leaktag with full stacks, under leaktag in call-site
mode (LEAKTAG_DEPTH=1) and under heaptrack, round-robin, RUNS times; the table shows the
median time of the benchmark's timed region and the ratio to plain. Overhead = ratio - 1.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

TOOLS = ["plain", "leaktag", "leaktag-callsite", "heaptrack"]


def tool_command(tool, lib, argv, outdir):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if tool.startswith("leaktag"):
        env.update({"LD_PRELOAD": lib, "LEAKTAG_AT_EXIT": "0", "LEAKTAG_QUIET": "1",
                    "LEAKTAG_SIGNAL": "off"})
        if tool == "leaktag-callsite":
            env["LEAKTAG_DEPTH"] = "1"
    if tool == "heaptrack":
        argv = ["heaptrack", "-o", os.path.join(outdir, "ht")] + argv
    return argv, env


def timed_region(output):
    """The benchmark prints its timed region (seconds) alone on a line."""
    times = re.findall(r"^(\d+\.\d+)$", output, re.M)
    if not times:
        raise RuntimeError("no timing in output:\n" + output[-2000:])
    return float(times[-1])


def run_malloc(args, lib):
    bench = os.path.join(args.build, "bench", "malloc_bench")
    tools = [t for t in TOOLS if t != "heaptrack" or shutil.which("heaptrack")]
    rows = []
    for config in ["1t", "2t", "pc"]:
        samples = {t: [] for t in tools}
        for _ in range(args.runs):
            for tool in tools:
                with tempfile.TemporaryDirectory() as out:
                    argv, env = tool_command(tool, lib, [bench, config, str(args.ops)], out)
                    res = subprocess.run(argv, env=env, cwd=out, capture_output=True, text=True)
                    if res.returncode != 0:
                        sys.exit(f"{tool} {config} failed:\n{res.stdout}{res.stderr}")
                    samples[tool].append(timed_region(res.stdout))
        rows.append((config, {t: statistics.median(v) for t, v in samples.items()}))
    names = {"1t": "1 thread", "2t": "2 threads", "pc": "producer/consumer"}
    print(f"malloc_bench, {args.ops} operations, median of {args.runs} runs "
          "(seconds of the timed region; ratio to plain)\n")
    print("| configuration | plain | leaktag full stacks | leaktag call-site | heaptrack "
          "| full-stack overhead / heaptrack overhead |")
    print("|---|---|---|---|---|---|")
    for config, m in rows:
        plain = m["plain"]
        cells = [f"{plain:.3f} s"]
        for tool in tools[1:]:
            cells.append(f"{m[tool]:.3f} s ({m[tool] / plain:.2f}x)")
        if "heaptrack" in m:
            ours, theirs = m["leaktag"] - plain, m["heaptrack"] - plain
            cells.append(f"{ours / theirs:.2f}" if theirs > 0 else "n/a (heaptrack not slower)")
        else:
            cells += ["not installed", "-"]
        print(f"| {names[config]} | " + " | ".join(cells) + " |")
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


def snapshot_run(args, lib, out, env_extra=None, no_snapshot=False):
    prog = os.path.join(args.build, "bench", "snapshot_bench")
    env = dict(os.environ, LD_PRELOAD=lib, LEAKTAG_AT_EXIT="0", LEAKTAG_QUIET="1",
               LEAKTAG_OUTPUT=out, SNAPSHOT_FILE=out, **(env_extra or {}))
    if no_snapshot:
        env["NO_SNAPSHOT"] = "1"
    if os.path.exists(out):
        os.unlink(out)
    res = subprocess.run([prog, str(args.blocks), "10000"], env=env, capture_output=True,
                         text=True, check=True)
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


def run_report(args, lib):
    report = os.path.join(args.build, "analyzer", "leaktag-report")
    print(f"leaktag-report on a snapshot of {args.blocks:,} live blocks in 10,000 stacks, "
          f"median of {args.runs} runs (CPU = user + system)\n")
    print("| command | CPU | peak memory |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bench.lts")
        snapshot_run(args, lib, out)
        for extra in ([], ["--format", "json"], ["--by", "thread"], ["--format", "collapsed"],
                      ["--grep", "a+"]):
            cpu, rss = [], []
            for _ in range(args.runs):
                proc = subprocess.Popen([report, *extra, out], stdout=subprocess.DEVNULL)
                _, status, usage = os.wait4(proc.pid, 0)  # this child's own figures
                proc.returncode = os.waitstatus_to_exitcode(status)
                if proc.returncode:
                    sys.exit(f"leaktag-report {' '.join(extra)} failed")
                cpu.append(usage.ru_utime + usage.ru_stime)
                rss.append(usage.ru_maxrss)
            print(f"| `leaktag-report {' '.join(extra)}` | {statistics.median(cpu):.2f} s | "
                  f"{max(rss) / 1024:.0f} MB |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ops", type=int, default=2000000)
    ap.add_argument("--blocks", type=int, default=1000000, help="for snapshot and report")
    ap.add_argument("--only", choices=["malloc", "footprint", "snapshot", "report"])
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    lib = os.path.join(args.build, "preload", "libleaktag.so")
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


if __name__ == "__main__":
    main()
