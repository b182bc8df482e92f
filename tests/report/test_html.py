#!/usr/bin/env python3
"""leaktag-report --format html, rendered by a real browser (headless Chromium, which runs the
page's script): the DOM it builds has one flame graph node per frame of the merged stacks,
the top group's function and strings, the --grep counts, the header's figures, the threads
and, with --diff, a line per top group over the snapshots. The page loads nothing from the
network (a Content-Security-Policy forbids it).

    test_html.py LEAKTAG_REPORT LIBLEAKTAG REPORT_TARGET
"""
import atexit
import html.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

REPORT, LIB, TARGET = (os.path.abspath(p) for p in sys.argv[1:4])
A, B, G = 200, 12, 7  # alpha (20,000 bytes) is the top group of the first snapshot
WORK = tempfile.mkdtemp(prefix="leaktag-html-test.")
atexit.register(shutil.rmtree, WORK, True)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

out = os.path.join(WORK, "snap.%n.lts")
subprocess.run([TARGET, str(A), str(B), str(G)], check=True,
               env=dict(os.environ, LD_PRELOAD=LIB, LEAKTAG_OUTPUT=out, LEAKTAG_AT_EXIT="0",
                        LEAKTAG_QUIET="1"))
SNAPS = [out.replace("%n", str(n)) for n in (1, 2, 3)]


def report(*args):
    res = subprocess.run([REPORT, *args], capture_output=True, text=True)
    if res.returncode:
        raise AssertionError(f"leaktag-report {' '.join(args)}: {res.stderr}")
    return res.stdout


def rendered(*args):
    """The DOM after the page's script ran, and the page itself."""
    page = os.path.join(WORK, "report.html")
    report("--format", "html", "--output", page, *args)
    res = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                          "--window-size=1600,1200", "--dump-dom", "file://" + page],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, HOME=WORK))
    if res.returncode:
        raise AssertionError(f"chromium: {res.stderr[-2000:]}")
    return res.stdout, open(page).read()


class Dom(html.parser.HTMLParser):
    """Flame graph nodes, table cells and all text, from the dumped DOM."""

    def __init__(self, text):
        super().__init__()
        self.nodes, self.text, self.polylines = [], [], 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and "fg-node" in (a.get("class") or "").split():
            self.nodes.append(a.get("data-name"))
        if tag == "polyline":
            self.polylines += 1

    def handle_data(self, data):
        self.text.append(data)


def merged_nodes(collapsed):
    """The nodes of the flame graph of these collapsed stacks: one per distinct path."""
    paths = {()}
    for line in collapsed.splitlines():
        frames = line.rsplit(" ", 1)[0].split(";")
        for i in range(1, len(frames) + 1):
            paths.add(tuple(frames[:i]))
    return paths


@unittest.skipUnless(CHROMIUM, "chromium is not installed: tests/run.sh installs it")
class Html(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        dom, cls.page = rendered("--grep", r"alpha-key=\d+", SNAPS[0])
        cls.dom = Dom(dom)
        cls.all_text = " ".join(cls.dom.text)

    def test_flame_graph_has_a_node_per_frame(self):
        paths = merged_nodes(report("--format", "collapsed", SNAPS[0]))
        self.assertEqual(len(self.dom.nodes), len(paths))
        names = {p[-1] for p in paths if p}  # (no name here holds the ';' collapsed replaces)
        self.assertEqual(set(self.dom.nodes) - {"all"}, names)
        self.assertIn("alpha_site", self.dom.nodes)

    def test_top_group_with_its_strings_and_grep(self):
        def has(pattern):
            self.assertTrue(re.search(pattern, self.all_text), f"{pattern!r} not on the page")
        has(r"allocated at alpha_site  \S+report_target\.c:\d+")  # its opened details
        has(r"\d+  tag=alpha")                                    # its strings
        # --grep over the group's 8 samples (LEAKTAG_SAMPLES), each key in one block
        has(r"grep 'alpha-key=\\d\+': 8 matches in 8 of 8 blocks")
        has(r"00000000: 616c 7068 612d")                           # a hexdump

    def test_header_and_threads(self):
        self.assertRegex(self.all_text, r"leaktag report: \S*report_target \(pid \d+\)")
        self.assertRegex(self.all_text, r"live: [\d.]+ \S+ in [\d,]+ blocks")
        self.assertIn("threads alive, stacks reserving", self.all_text)

    def test_self_contained(self):
        self.assertNotRegex(self.page, r"<(script|link|img)[^>]+(src|href)=")
        self.assertIn("Content-Security-Policy", self.page)
        data = self.page[self.page.index('id="leaktag-data">'):]
        data = data[:data.index("</script>")]
        self.assertNotIn("<", data[len('id="leaktag-data">'):])  # nothing can close it early

    def test_diff_draws_growth(self):
        dom, _ = rendered("--diff", *SNAPS)
        d = Dom(dom)
        self.assertGreaterEqual(d.polylines, 1)
        self.assertIn("grew every interval", " ".join(d.text))


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import unittest77
    unittest77.main()
