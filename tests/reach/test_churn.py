#!/usr/bin/env python3
"""Under load (issue 14): 8 threads push and pop list nodes that a global always reaches,
while 100 snapshots with a reachability verdict are taken; no snapshot may call a node of
those lists lost (definitely, indirectly or possibly), and every one must have a verdict.

    test_churn.py LIBLEAKTAG REPORT CHURN [SNAPSHOTS]
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

lib, report, churn = (os.path.abspath(p) for p in sys.argv[1:4])
snapshots = int(sys.argv[4]) if len(sys.argv) > 4 else 100
work = tempfile.mkdtemp(prefix="leaktag-churn-test.")
try:
    env = dict(os.environ, LD_PRELOAD=lib, LEAKTAG_REACH="1", LEAKTAG_QUIET="1",
               LEAKTAG_AT_EXIT="0", LEAKTAG_KEEP="0",
               LEAKTAG_OUTPUT=os.path.join(work, "churn.%n.lts"))
    res = subprocess.run([churn, str(snapshots)], env=env, capture_output=True, text=True,
                         timeout=600)
    if res.returncode != 0:
        sys.exit(f"FAIL churn: status {res.returncode}: {res.stdout}{res.stderr[-2000:]}")
    files = sorted(glob.glob(os.path.join(work, "churn.*.lts")))
    if len(files) != snapshots:
        sys.exit(f"FAIL {len(files)} snapshots written, {snapshots} asked for")
    lost = 0
    nodes = 0
    pauses = []
    for path in files:
        rep = subprocess.run([report, "--format", "json", "--top", "0", path],
                             capture_output=True, text=True)
        if rep.returncode != 0:
            sys.exit(f"FAIL {path}: {rep.stderr}")
        data = json.loads(rep.stdout)
        scan = data["snapshot"].get("reachability_scan")
        if not scan or not scan["ok"]:
            sys.exit(f"FAIL {path}: no verdict: {scan}")
        pauses.append(scan["pause_ms"])
        for group in data["groups"]:
            if not group["frames"] or group["frames"][0].get("function") != "push_node":
                continue
            r = group["reachability"]
            nodes += group["blocks"]
            bad = (r["definitely_lost"]["blocks"] + r["indirectly_lost"]["blocks"] +
                   r["possibly_lost"]["blocks"])
            if bad:
                print(f"FAIL {path}: {bad} list nodes called lost: {r}")
                lost += bad
    pauses.sort()
    if nodes < snapshots:  # each snapshot sees nodes on the lists; none: the group is not found
        sys.exit(f"FAIL only {nodes} list nodes (push_node at frame 0) in {snapshots} "
                 f"snapshots: the check looked at nothing")
    print(f"{'ok' if not lost else 'FAIL'}   {snapshots} verdicts during the churn, "
          f"{nodes} list nodes seen in all, {lost} called lost; pause median "
          f"{pauses[len(pauses) // 2]:.2f} ms, worst {pauses[-1]:.2f} ms")
    sys.exit(1 if lost else 0)
finally:
    shutil.rmtree(work, True)
