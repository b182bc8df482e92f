#!/usr/bin/env python3
"""bench/run.py's memory figures do not measure Python: its `measure` helper, from a Python
process grown to 200 MB, must report a small command's own peak (as bench/peak_rss does),
where the plain way — Popen and wait4's ru_maxrss — reports Python's 200 MB (Linux keeps the
fork's high-water mark across exec). The second figure shows that the trap is there to
avoid; the first that the benchmark avoids it.

    test_bench_measure.py PEAK_RSS
"""
import importlib.util
import os
import subprocess
import sys

PEAK_RSS = os.path.abspath(sys.argv[1])
RUN_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "run.py")

spec = importlib.util.spec_from_file_location("bench_run", RUN_PY)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
bench.PEAK_RSS = PEAK_RSS

ballast = bytearray(200 << 20)
for i in range(0, len(ballast), 4096):  # resident, page by page
    ballast[i] = 1

command = ["sh", "-c", "exit 0"]
status, _, cpu, peak, wall = bench.measure(command)
proc = subprocess.Popen(command)
_, _, usage = os.wait4(proc.pid, 0)
plain = usage.ru_maxrss * 1024
proc.returncode = 0
print(f"sh -c 'exit 0' beside a 200 MB Python: measure() {peak / 1e6:.1f} MB, "
      f"Popen + wait4 {plain / 1e6:.1f} MB")
if status != 0 or peak > 20e6:
    sys.exit(f"FAIL measure() reports {peak / 1e6:.1f} MB (status {status}): Python's pages")
if plain < 150e6:
    print("note: this kernel does not carry the peak across exec; the check above still holds")
