"""unittest's main, with meson's convention for a test that did not run: exit status 77
(meson's SKIP) when every test was skipped, so that a whole file skipped never counts as a
pass. Partial skips print unittest's "skipped 'why'", which tests/summary.py lists."""
import sys
import unittest


def main():
    program = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.testsRun and len(result.skipped) == result.testsRun:
        print(f"SKIP every test: {result.skipped[0][1]}")
        sys.exit(77)
    sys.exit(0)
