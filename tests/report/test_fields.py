#!/usr/bin/env python3
"""What the blocks are, from their bytes (issue 15's field view): leaked C++ objects are named
by the vtable in their first word, and a short operation name at a fixed offset is counted
("GET", "SET"), in the text report and in JSON.

    test_fields.py REPORT LIBLEAKTAG OBJECTS_TARGET
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

report, lib, target = (os.path.abspath(p) for p in sys.argv[1:4])
work = tempfile.mkdtemp(prefix="leaktag-fields-test.")
failures = 0


def fail(msg):
    global failures
    print("FAIL " + msg)
    failures += 1


try:
    out = os.path.join(work, "objects.lts")
    env = dict(os.environ, LD_PRELOAD=lib, LEAKTAG_OUTPUT=out, LEAKTAG_AT_EXIT="0",
               LEAKTAG_QUIET="1")
    subprocess.run([target], env=env, check=True)
    data = json.loads(subprocess.run([report, "--format", "json", "--top", "0", out],
                                     capture_output=True, text=True, check=True).stdout)
    by_site = {g["frames"][0]["function"]: g for g in data["groups"] if g["frames"]}
    session, command = by_site.get("make_session"), by_site.get("make_command")
    if not session or not command:
        fail(f"groups missing: {sorted(by_site)}")
    else:
        if session["type"] != "shop::Session":
            fail(f"session type {session['type']!r}, fields {session['fields'][:2]}")
        else:
            print(f"ok   make_session's blocks are objects of type {session['type']}")
        op = command["fields"][0] if command["fields"] else {}
        tokens = {t["text"]: t["count"] for t in op.get("tokens", [])}
        if op.get("kind") != "text" or not set(tokens) <= {"GET", "SET"} or \
                sum(tokens.values()) != op.get("samples"):
            fail(f"command field +0: {op}")
        else:
            print(f"ok   make_command +0x0: {tokens} of {op['samples']} samples")
        if command["type"] is not None:
            fail(f"a plain struct got a type: {command['type']}")
    text = subprocess.run([report, "--color", "never", "--top", "0", out], capture_output=True,
                          text=True, check=True).stdout
    if "objects of type shop::Session" not in text:
        fail("the text report does not name shop::Session")
    else:
        print("ok   text: objects of type shop::Session")
finally:
    shutil.rmtree(work, True)
sys.exit(1 if failures else 0)
