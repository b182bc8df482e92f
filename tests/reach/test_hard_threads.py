#!/usr/bin/env python3
"""The verdict with threads that are hard to stop (issue 14): blocked in read(2) with every
signal blocked, spinning without a system call, 1,000 of them, and in a fork child; with
both backends. Each thread's own block (site_held) is referenced only from its stack: it
must be reachable, never lost; the main thread's dropped blocks (site_dropped) must be
definitely lost (with jemalloc at least nine in ten: its thread caches keep stale pointers
to the regions they handed out last, and they are roots).

    test_hard_threads.py LIBLEAKTAG LIBLEAKTAG_JEMALLOC|- REPORT HARD_THREADS
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

lib, jelib, report, prog = sys.argv[1:5]
failures = 0


DROPPED = 2000


def check(name, args, env_extra, expect_threads, lost_share=1.0):
    global failures
    work = tempfile.mkdtemp(prefix="leaktag-hard-threads.")
    try:
        out = os.path.join(work, "h.%p.lts")
        env = dict(os.environ, LD_PRELOAD=lib, LEAKTAG_REACH="1", LEAKTAG_QUIET="1",
                   LEAKTAG_AT_EXIT="0", LEAKTAG_OUTPUT=out)
        env.update(env_extra)
        res = subprocess.run([prog, *args], env=env, capture_output=True, text=True,
                             timeout=300)
        files = [os.path.join(work, f) for f in os.listdir(work) if f.endswith(".lts")]
        if res.returncode != 0 or len(files) != 1:
            print(f"FAIL {name}: status {res.returncode}, {len(files)} snapshots: {res.stderr[-1000:]}")
            failures += 1
            return
        rep = subprocess.run([report, "--format", "json", "--top", "0", files[0]],
                             capture_output=True, text=True)
        data = json.loads(rep.stdout)
        scan = data["snapshot"].get("reachability_scan")
        if not scan or not scan["ok"]:
            print(f"FAIL {name}: no verdict: {scan}")
            failures += 1
            return
        sites = {}
        for g in data["groups"]:
            fn = g["frames"][0]["function"] if g["frames"] else ""
            if fn in ("site_held", "site_dropped"):
                r = sites.setdefault(fn, {})
                for k, v in g["reachability"].items():
                    r[k] = r.get(k, 0) + v["blocks"]
        held, dropped = sites.get("site_held", {}), sites.get("site_dropped", {})
        held_lost = sum(held.get(k, 0) for k in ("definitely_lost", "indirectly_lost",
                                                 "possibly_lost"))
        ok = (held.get("reachable", 0) == expect_threads and held_lost == 0 and
              dropped.get("definitely_lost", 0) >= lost_share * DROPPED)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {scan['threads_stopped']} threads stopped, "
              f"pause {scan['pause_ms']:.1f} ms; held {held}, dropped {dropped}")
        failures += not ok
    finally:
        shutil.rmtree(work, True)


check("blocked in read(2), all signals blocked", ["blocked"], {}, 4)
check("spinning without system calls", ["spinning"], {}, 4)
check("1,000 threads", ["many"], {}, 1000)
check("fork child", ["blocked", "fork"], {}, 4)
if jelib != "-":
    check("jemalloc backend", ["blocked"], {"LD_PRELOAD": jelib, "LEAKTAG_BACKEND": "jemalloc"},
          4, lost_share=0.9)
sys.exit(1 if failures else 0)
