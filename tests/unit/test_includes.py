#!/usr/bin/env python3
"""The floors docs/DESIGN.md states are the floors the code has.

    test_includes.py SOURCE_ROOT [BUILD_ROOT]

DESIGN.md's table "Rooms and floors" lists, for each room (a source folder), its modules
floor by floor, lowest first, and what it may include from other rooms. A module is a .c and
its .h, counted as one. This test reads every `#include "..."` of every room and fails on
- an include that points up a floor (the same floor is allowed),
- an include from another room that the room's row does not allow,
- a circle of includes between modules (even inside one floor),
- a source file the table does not name, or a name the table gives that has no file,
- a DESIGN.md of 2,000 words or more: it is the one page a new engineer reads,
- a module table whose "tested by" names a test that does not exist (the build's meson
  introspection, when BUILD_ROOT is given, and every test('...') the meson files declare),
- a module with logic (NO_LOGIC: numbers and attributes only) without a test named after it
  (OWN_TEST: where its own test bears another name).
Headers outside the rooms (the generated config.h, the public include/leaktag.h) are not
modules and are always allowed.
"""
import json
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1])
DESIGN = os.path.join(ROOT, "docs", "DESIGN.md")
failures = []


def read_floors():
    """{room: [set of modules per floor]}, {room: set of 'room/' or 'room/module' allowed}."""
    text = open(DESIGN).read()
    at = text.find("## Rooms and floors")
    if at < 0:
        sys.exit(f"{DESIGN}: no '## Rooms and floors' section")
    floors, allowed = {}, {}
    for line in text[at:].split("\n")[1:]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"`[a-z/]+/`", cells[0]):
            continue
        room = cells[0].strip("`").rstrip("/")
        floors[room] = [set(re.findall(r"`([a-z0-9_]+)`", f)) for f in cells[1].split("·")]
        allowed[room] = set(re.findall(r"`([a-z/0-9_]+)`", cells[2]))
    if len(floors) < 4:
        sys.exit(f"{DESIGN}: the rooms-and-floors table names {len(floors)} rooms, not 4")
    return floors, allowed


floors, allowed = read_floors()
words = len(open(DESIGN).read().split())
if words >= 2000:
    failures.append(f"{DESIGN}: {words} words; the one page is under 2,000")
floor_of = {}  # "room/module" -> (room, floor index)
for room, fl in floors.items():
    for i, mods in enumerate(fl):
        for m in mods:
            if f"{room}/{m}" in floor_of:
                failures.append(f"DESIGN.md names {room}/{m} twice")
            floor_of[f"{room}/{m}"] = (room, i)

# Every source file named, none that does not exist.
present = set()
for room in floors:
    for f in os.listdir(os.path.join(ROOT, room)):
        if f.endswith((".c", ".h")):
            module = f"{room}/{f.rsplit('.', 1)[0]}"
            present.add(module)
            if module not in floor_of:
                failures.append(f"{room}/{f}: not on any floor of DESIGN.md")
for module in sorted(set(floor_of) - present):
    failures.append(f"DESIGN.md names {module}, which has no .c or .h")

# The includes, module to module.
edges = {}
for module in sorted(present):
    room = os.path.dirname(module)
    for ext in (".c", ".h"):
        path = os.path.join(ROOT, module + ext)
        if not os.path.exists(path):
            continue
        for n, line in enumerate(open(path), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            target = os.path.normpath(os.path.join(room, m.group(1)))
            if not os.path.exists(os.path.join(ROOT, target)):
                # found through an include path: the room's own, else another room's
                name = os.path.basename(m.group(1))
                hits = [r for r in floors if os.path.exists(os.path.join(ROOT, r, name))]
                if not hits:
                    continue  # generated (config.h) or a system-like header
                target = os.path.join(room if room in hits else hits[0], name)
            tmod = target.rsplit(".", 1)[0]
            where = f"{module}{ext}:{n}"
            if tmod == module or tmod not in floor_of:
                continue  # its own header, or outside the rooms (include/leaktag.h)
            edges.setdefault(module, {})[tmod] = where
            troom, tfloor = floor_of[tmod]
            if module not in floor_of:
                continue  # said above: on no floor
            if troom == room:
                if tfloor > floor_of[module][1]:
                    failures.append(f"{where}: includes {m.group(1)}, a floor up "
                                    f"({tfloor + 1} > {floor_of[module][1] + 1})")
            elif troom + "/" not in allowed[room] and tmod not in allowed[room]:
                failures.append(f"{where}: {room}/ may not include {tmod} (DESIGN.md)")

# Circles: a depth-first walk that meets a module on its own path.
state = {}


def visit(v, path):
    state[v] = 1
    for w in sorted(edges.get(v, ())):
        if state.get(w) == 1:
            circle = path[path.index(w):] + [w]
            failures.append("circle: " + " -> ".join(circle) + f" ({edges[v][w]})")
        elif not state.get(w):
            visit(w, path + [w])
    state[v] = 2


for v in sorted(edges):
    if not state.get(v):
        visit(v, [v])

# Each module's "tested by" names tests that exist.
declared = set()
for meson in ("tests/meson.build", "bench/meson.build"):
    declared |= set(re.findall(r"\btest\('([a-z0-9-]+)'", open(os.path.join(ROOT, meson)).read()))
if len(sys.argv) > 2:
    intro = os.path.join(sys.argv[2], "meson-info", "intro-tests.json")
    declared |= {t["name"] for t in json.load(open(intro))}
# A module's own test is named after it, '_' as '-'; where that name is taken or says less
# than the program's, this says which test is its own.
OWN_TEST = {
    "analyzer/main": "report",          # leaktag-report's command line: the report test
    "analyzer/scan/main": "scan",       # leaktag-scan's: the scan test
    "analyzer/scan/modules": "scan-modules",  # `modules` is the shim's module's test
    "analyzer/html_assets": "html",     # the page's script, run in a browser by the html test
}
# Modules with no logic to test: numbers and attributes only.
NO_LOGIC = {"snapshot/format", "preload/compiler"}

design = open(DESIGN).read()
tables = design[design.find("## Modules"):design.find("## What holds everywhere")]
cited = 0
without_own = set()  # room/module: no test named after the module in its row
room = None
for line in tables.split("\n"):
    heading = re.match(r"### `([^`]+)/`", line)
    if heading:
        room = heading.group(1)
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 4 or not cells[0].startswith("`"):
        continue
    tested_by = re.findall(r"`([a-z0-9-]+)`", cells[3])
    for name in tested_by:
        cited += 1
        if name not in declared:
            failures.append(f"DESIGN.md: {cells[0]} is tested by `{name}`, which is no test")
    for module in re.findall(r"`([a-z0-9_]+)`", cells[0]):
        own = OWN_TEST.get(f"{room}/{module}", module.replace("_", "-"))
        if own not in tested_by and f"{room}/{module}" not in NO_LOGIC:
            without_own.add(f"{room}/{module}")

# Every module with logic has a test named after it in its row.
for m in sorted(without_own):
    failures.append(f"DESIGN.md: {m} has no test named after it")

nedges = sum(len(e) for e in edges.values())
print(f"{len(present)} modules in {len(floors)} rooms, {nedges} includes between them, "
      f"{cited} tests cited by DESIGN.md, {len(without_own)} modules without a test of "
      f"their own")
if nedges < 100:
    failures.append(f"only {nedges} includes found: the reading is broken")
for f in failures:
    print(f)
sys.exit(1 if failures else 0)
