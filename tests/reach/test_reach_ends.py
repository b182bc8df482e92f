#!/usr/bin/env python3
"""leaktag's verdict at the end of a process against valgrind memcheck's, site by site, where
the only pointer to a block is left in a frame that is dead by then: no root for valgrind, so
none for leaktag either (the fix of "verdict: no roots in dead frames at exit, a crash or an
ended thread").

reach_ends (see reach_ends.c) runs once under valgrind (the loss records of its leak check at
the end, from --xml) and once under leaktag with LEAKTAG_REACH=1 LEAKTAG_AT_EXIT=1 (the final
snapshot's verdict, from the report's JSON): for every site_* function, the blocks in each
category must be the same.

- altstack: buried 512 words deep, then exit(0) from a handler on a sigaltstack;
- far WORDS abort|exit: the pointer buried WORDS words deep in a returned frame, then abort()
  (the final snapshot is written from a signal handler on leaktag's own stack: the roots are
  the interrupted stack, from its stack pointer less the red zone, not the whole [stack]) or
  exit().
- drop PAD, for PAD in PADDINGS: p = malloc(100); p = NULL below PAD words of alloca, then main
  returns. Stale copies of the pointer in the allocator's frames land where the exit handlers
  (_dl_fini, __cxa_finalize) run later, and survive at some paddings (13, 14, 21 and 22 with
  gcc 12 on x86-64): the roots start at __run_exit_handlers' frame, as valgrind's do.
- threads: ended threads whose stacks glibc keeps for the next thread; below the stack
  pointer a thread ended with, nothing is a root.

One difference is valgrind's method, not a disagreement, and is asserted as such: at exit
valgrind's __libc_freeres frees glibc's cache of thread stacks (and the DTVs), so the block
that only an ended thread's static TLS refers to (site_exited_tls) is definitely lost for
valgrind and reachable for leaktag, which keeps to the process as it is; with
--run-libc-freeres=no valgrind agrees with leaktag on every site. (A dlopen'd module's dynamic
TLS block differs the same way, reachable or possibly lost for leaktag; it would need a module
of its own and is left out.)

    test_reach_ends.py LIBLEAKTAG REPORT REACH_ENDS
"""
import collections
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

LIB, REPORT, PROGRAM = (os.path.abspath(p) for p in sys.argv[1:4])
KINDS = {"Leak_DefinitelyLost": "definitely_lost", "Leak_IndirectlyLost": "indirectly_lost",
         "Leak_PossiblyLost": "possibly_lost", "Leak_StillReachable": "reachable"}
FAR_WORDS = (512, 8192)  # 4 KiB (below the kernel's signal frame) and 64 KiB deep
PADDINGS = range(10, 25)
THREAD_SITES = ("site_exited_local", "site_exited_alloca", "site_exited_tls", "site_named")
# The difference of method: (valgrind's figures, leaktag's) for the site, each
# {category: blocks}; valgrind --run-libc-freeres=no must agree with leaktag.
FREERES = {"site_exited_tls": ({"definitely_lost": 1}, {"reachable": 1})}
ABORTED = -signal.SIGABRT


def site_of(functions):
    for fn in functions:
        if fn and fn.startswith("site_"):
            return fn
    return None


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def by_site(counts):
    """{(site, kind): blocks} -> {site: {kind: blocks}}"""
    sites = collections.defaultdict(dict)
    for (site, kind), n in counts.items():
        if n:
            sites[site][kind] = n
    return dict(sites)


def valgrind_verdict(args, work, status, *extra):
    xml = os.path.join(work, "valgrind.xml")
    res = subprocess.run(["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--xml=yes",
                          f"--xml-file={xml}", *extra, PROGRAM, *args], cwd=work,
                         capture_output=True, text=True, timeout=300, preexec_fn=no_core)
    if res.returncode != status:
        raise AssertionError(f"valgrind {' '.join(args)}: status {res.returncode}, not {status}: "
                             f"{res.stderr[-2000:]}")
    counts = collections.Counter()
    for error in ET.parse(xml).getroot().iter("error"):
        kind = error.findtext("kind")
        if kind not in KINDS:
            continue
        stack = error.find("stack")
        site = site_of([f.findtext("fn") for f in stack.iter("frame")] if stack is not None else [])
        if site:
            counts[site, KINDS[kind]] += int(error.findtext("xwhat/leakedblocks"))
    os.unlink(xml)
    return by_site(counts)


def leaktag_verdict(args, work, status, reason):
    out = os.path.join(work, "leaktag.lts")
    env = dict(os.environ, LD_PRELOAD=LIB, LEAKTAG_REACH="1", LEAKTAG_QUIET="1",
               LEAKTAG_OUTPUT=out, LEAKTAG_AT_EXIT="1")
    res = subprocess.run([PROGRAM, *args], env=env, cwd=work, capture_output=True, text=True,
                         timeout=300, preexec_fn=no_core)
    if res.returncode != status or not os.path.exists(out):
        raise AssertionError(f"leaktag {' '.join(args)}: status {res.returncode} (not {status}), "
                             f"snapshot: {os.path.exists(out)}: {res.stderr[-2000:]}")
    rep = subprocess.run([REPORT, "--format", "json", "--top", "0", out], capture_output=True,
                         text=True)
    os.unlink(out)
    if rep.returncode != 0:
        raise AssertionError(rep.stderr)
    data = json.loads(rep.stdout)
    if data["snapshot"].get("reason") != reason:
        raise AssertionError(f"{' '.join(args)}: the snapshot's reason is "
                             f"{data['snapshot'].get('reason')!r}, not {reason!r}")
    scan = data["snapshot"].get("reachability_scan")
    if not scan or not scan["ok"]:
        raise AssertionError(f"{' '.join(args)}: no reachability verdict: {scan}")
    counts = collections.Counter()
    retained = {}
    for group in data["groups"]:
        site = site_of([f.get("function") for f in group["frames"]])
        if site:
            for kind, figures in group["reachability"].items():
                if kind != "not_scanned" and figures["blocks"]:
                    counts[site, kind] += figures["blocks"]
            if "retained_by" in group:
                root = group["retained_by"]["root"]
                retained[site] = f"{root['kind']}: {root.get('name')}"
    return by_site(counts), retained


@unittest.skipUnless(shutil.which("valgrind"), "no valgrind")
class DeadFramesAsValgrind(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="leaktag-reach-ends.")

    def tearDown(self):
        shutil.rmtree(self.work, True)

    def compare(self, args, sites, status=0, reason="exit", known=None):
        """Every site's categories as valgrind's, but for the known differences of method
        ({site: (valgrind's, leaktag's)}), which must be exactly those. sites: the sites the
        mode allocates at, each a block whose only pointer is left in a dead frame: valgrind
        must call it definitely lost, or the program no longer tests what it means to."""
        known = known or {}
        name = " ".join(args)
        expected = valgrind_verdict(args, self.work, status)
        got, retained = leaktag_verdict(args, self.work, status, reason)
        self.assertEqual(set(expected), set(sites), f"{name}: valgrind's sites")
        for site in sites:
            if site in known:
                self.assertEqual(expected[site], known[site][0],
                                 f"{name}: {site}: valgrind's figures, the known difference")
                self.assertEqual(got.get(site), known[site][1],
                                 f"{name}: {site}: leaktag's figures, the known difference")
            else:
                self.assertEqual(expected[site], {"definitely_lost": 1},
                                 f"{name}: {site}: valgrind, the block in a dead frame only")
        same = {s: v for s, v in expected.items() if s not in known}
        mine = {s: v for s, v in got.items() if s not in known}
        diffs = [f"{s}: valgrind {same.get(s)}, leaktag {mine.get(s)}"
                 f"{' (retained by ' + retained[s] + ')' if s in retained else ''}"
                 for s in sorted(set(same) | set(mine)) if same.get(s) != mine.get(s)]
        if diffs:
            self.fail(f"{name}:\n" + "\n".join(diffs))
        print(f"ok   {name}: {', '.join(f'{s} {v}' for s, v in sorted(got.items()))}"
              f"{' (known difference: ' + ', '.join(known) + ')' if known else ''}",
              file=sys.stderr)
        return got

    def test_far_then_abort(self):
        for words in FAR_WORDS:
            with self.subTest(words=words):
                self.compare(["far", str(words), "abort"], ["site_far"], status=ABORTED,
                             reason="abort")

    def test_far_then_exit(self):
        for words in FAR_WORDS:
            with self.subTest(words=words):
                self.compare(["far", str(words), "exit"], ["site_far"])

    def test_exit_on_a_sigaltstack(self):
        # exit() from a handler on a 16 KiB sigaltstack: the final snapshot is written on
        # leaktag's own stack (on the alternate one it overflowed into the guard: SIGSEGV),
        # and the roots at exit are looked for on the thread's own stack only. A difference
        # that remains, asserted as such: the interrupted stack pointer of the thread's own
        # stack is in the signal frame, which leaktag does not read, so that stack is scanned
        # whole, its dead frames too; valgrind scans it from that stack pointer.
        self.compare(["altstack"], ["site_far"],
                     known={"site_far": ({"definitely_lost": 1}, {"reachable": 1})})

    def test_dropped_then_return(self):
        for pad in PADDINGS:
            with self.subTest(pad=pad):
                self.compare(["drop", str(pad)], ["site_dropped"])

    def test_ended_threads(self):
        got = self.compare(["threads"], THREAD_SITES, known=FREERES)
        # The difference is __libc_freeres's: without it, valgrind agrees on every site.
        without = valgrind_verdict(["threads"], self.work, 0, "--run-libc-freeres=no")
        self.assertEqual(without, got, "valgrind --run-libc-freeres=no against leaktag")
        print(f"ok   threads: valgrind --run-libc-freeres=no agrees: "
              f"{', '.join(f'{s} {v}' for s, v in sorted(without.items()))}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import unittest77
    unittest77.main()
