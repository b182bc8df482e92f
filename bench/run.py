#!/usr/bin/env python3
"""Runs leaktag's benchmarks side by side and prints a Markdown table of ratios.

    bench/run.py [--build DIR] [--runs N] [--ops N] [--only malloc|footprint]

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


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ops", type=int, default=2000000)
    ap.add_argument("--only", choices=["malloc", "footprint"])
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    lib = os.path.join(args.build, "preload", "libleaktag.so")
    if not os.path.exists(lib):
        sys.exit(f"{lib} not found: build first (meson setup {args.build} && ninja -C {args.build})")
    if args.only in (None, "malloc"):
        run_malloc(args, lib)
    if args.only in (None, "footprint"):
        run_footprint(args, lib)


if __name__ == "__main__":
    main()
