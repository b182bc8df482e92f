#!/usr/bin/env python3
"""The verdict never reaches the program (issue 23): no signal of its copy or tracer runs a
handler of the program's, its copy never dies of a fault nor dumps core (a truncated shared
file mapping, blocks whose mapping starts at their first byte), and when a verdict is
missing, every snapshot says why. Each scenario of verdict_host runs with LEAKTAG_REACH=1
and `ulimit -c unlimited`; its snapshots must all carry a verdict in which the ten dropped
blocks are definitely lost and the kept one reachable.

    test_verdict_host.py LIBLEAKTAG PAGE_MALLOC REPORT VERDICT_HOST
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

lib, page_malloc, report, prog = map(os.path.abspath, sys.argv[1:5])
failures = 0


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def sites(path):
    rep = subprocess.run([report, "--format", "json", "--top", "0", path], capture_output=True,
                         text=True)
    data = json.loads(rep.stdout)
    scan = data["snapshot"].get("reachability_scan") or {}
    found = {}
    for g in data["groups"]:
        fn = g["frames"][0]["function"] if g["frames"] else ""
        if fn in ("site_kept", "site_dropped"):
            r = found.setdefault(fn, {})
            for k, v in (g.get("reachability") or {}).items():
                r[k] = r.get(k, 0) + v["blocks"]
    return scan, found


def run(name, mode, preload, extra, lost_at_least=10):
    global failures
    work = tempfile.mkdtemp(prefix="leaktag-verdict-host.")
    try:
        env = dict(os.environ, LD_PRELOAD=preload, LEAKTAG_REACH="1", LEAKTAG_QUIET="1",
                   LEAKTAG_AT_EXIT="0", LEAKTAG_OUTPUT=os.path.join(work, "v.%p.%n.lts"),
                   HOST_DIR=work)
        env.update(extra)
        try:
            res = subprocess.run([prog, mode], env=env, cwd=work, capture_output=True,
                                 text=True, timeout=60, preexec_fn=unlimited_core)
        except subprocess.TimeoutExpired as e:
            print(f"FAIL {name}: still running after 60 s: {e.stderr}")
            failures += 1
            return
        files = sorted(f for f in os.listdir(work) if f.endswith(".lts") and f[0] != ".")
        cores = [f for f in os.listdir(work) if f.startswith("core")]
        problems = []
        if res.returncode != 0:
            problems.append(f"status {res.returncode}: {res.stdout.strip()}")
        if cores:
            problems.append(f"core files {cores}")
        if "no reachability verdict" in res.stderr:
            problems.append(res.stderr.strip().splitlines()[-1])
        if not files:
            problems.append("no snapshot")
        for f in files:
            scan, found = sites(os.path.join(work, f))
            kept, dropped = found.get("site_kept", {}), found.get("site_dropped", {})
            if not scan.get("ok"):
                problems.append(f"{f}: no verdict: {scan.get('error') or scan}")
            elif kept.get("reachable") != 1 or dropped.get("definitely_lost", 0) < lost_at_least:
                problems.append(f"{f}: kept {kept}, dropped {dropped}")
        if problems:
            print(f"FAIL {name}: " + "; ".join(problems))
            failures += 1
        else:
            print(f"ok   {name}: {len(files)} snapshots, each with its verdict (at least "
                  f"{lost_at_least} of 10 lost, 1 reachable); {res.stdout.strip()}")
    finally:
        shutil.rmtree(work, True)


run("a SIGCHLD handler of the program's", "sigchld", lib, {})
run("a truncated MAP_SHARED file mapping", "truncated", lib, {"LEAKTAG_INTERVAL": "1"})
run("blocks that start a mapping", "plain", f"{lib}:{page_malloc}", {"LEAKTAG_INTERVAL": "1"})
# (what matters here is that there is a verdict: in the child, the stacks of the threads
# that are gone — the parent's main thread's among them — are scanned whole, stale words
# and all, as valgrind scans every writable segment: a dropped block or two may look
# reachable through them)
run("a child forked from a thread, which returns", "fork-thread", lib, {"LEAKTAG_AT_EXIT": "1"},
    lost_at_least=5)


def refused_after_setuid():
    """A daemon that drops root is not dumpable: its snapshot has no verdict, and both the
    snapshot and stderr say exactly why."""
    global failures
    if os.getuid() != 0:
        print("skip setuid: needs root")
        return
    work = tempfile.mkdtemp(prefix="leaktag-verdict-host.")
    try:
        os.chmod(work, 0o777)
        env = dict(os.environ, LD_PRELOAD=lib, LEAKTAG_REACH="1", LEAKTAG_QUIET="1",
                   LEAKTAG_AT_EXIT="0", LEAKTAG_OUTPUT=os.path.join(work, "v.%n.lts"))
        res = subprocess.run([prog, "setuid"], env=env, cwd=work, capture_output=True,
                             text=True, timeout=60)
        files = [f for f in os.listdir(work) if f.endswith(".lts")]
        scan = sites(os.path.join(work, files[0]))[0] if files else {}
        error = str(scan.get("error", ""))
        if (res.returncode == 0 and len(files) == 1 and not scan.get("ok") and
                "not dumpable" in error and "not dumpable" in res.stderr):
            print(f"ok   after setuid: no verdict, because: {error}")
        else:
            print(f"FAIL after setuid: status {res.returncode}, {files}, {scan}: {res.stderr}")
            failures += 1
    finally:
        shutil.rmtree(work, True)


refused_after_setuid()
sys.exit(1 if failures else 0)
