// leaktag-report --format html: draws the page from the data leaktag-report put in
// <script id="leaktag-data"> (the JSON report, docs/REPORT.md, and every stack of the newest
// snapshot for the flame graph). Written for this page; no library, nothing from the network.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("leaktag-data").textContent);
  const R = data.report, F = data.flame;

  // ---- formatting -------------------------------------------------------------------
  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let u = 0, v = Math.abs(n);
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    const s = (u ? v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) : String(v)) + " " + units[u];
    return n < 0 ? "-" + s : s;
  }
  function count(n) { return Number(n).toLocaleString("en-US"); }
  function pct(part, whole) { return whole ? (100 * part / whole).toFixed(1) + "%" : "-"; }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }
  function frameText(f) {
    return f.function + (f.file ? "  " + f.file + ":" + f.line : "") +
           (f.module ? "  [" + f.module + "]" : "");
  }
  function hexdump(hex) {
    const lines = [];
    for (let at = 0; at < hex.length / 2; at += 16) {
      let h = "", a = "";
      for (let i = at; i < at + 16 && i < hex.length / 2; i++) {
        const b = parseInt(hex.substr(2 * i, 2), 16);
        h += hex.substr(2 * i, 2) + (i % 2 ? " " : "");
        a += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
      }
      lines.push(at.toString(16).padStart(8, "0") + ": " + h.padEnd(40) + " " + a);
    }
    return lines.join("\n");
  }

  // ---- header -----------------------------------------------------------------------
  const t = R.totals, snap = R.snapshot;
  const header = document.getElementById("header");
  header.append(el("h1", {text: "leaktag report: " + R.process.exe + " (pid " + R.process.pid + ")"}));
  const facts = el("div", {class: "facts"},
    el("span", {text: "snapshot " + snap.seq + ", " + new Date(snap.time_unix * 1000).toISOString()
                      .replace("T", " ").replace(".000Z", " UTC")}),
    el("span", {text: "reason: " + snap.reason}),
    el("span", {text: "live: " + bytes(t.live_bytes) + " in " + count(t.live_blocks) + " blocks" +
                      (snap.sampled ? " (estimated)" : "")}),
    el("span", {text: "RSS " + bytes(t.rss_bytes)}),
    el("span", {text: "VmSize " + bytes(t.vm_size_bytes)}));
  header.append(facts);
  if (t.reachability) {
    const r = t.reachability;
    header.append(el("div", {class: "facts"},
      el("span", {class: "lost", text: "definitely lost: " + bytes(r.definitely_lost.bytes) + " in " +
                                       count(r.definitely_lost.blocks) + " blocks"}),
      el("span", {text: "indirectly lost: " + bytes(r.indirectly_lost.bytes)}),
      el("span", {text: "possibly lost: " + bytes(r.possibly_lost.bytes)}),
      el("span", {text: "reachable: " + bytes(r.reachable.bytes)})));
  }
  if (R.process.cmdline) header.append(el("div", {class: "mono", text: R.process.cmdline}));

  // ---- flame graph (icicle: the root on top) -------------------------------------------
  // One tree node per distinct path of frames from the root; a node's width is its bytes.
  let nodes = 0;
  function node(frame) { nodes++; return {frame, bytes: 0, blocks: 0, lost: 0, kids: new Map()}; }
  const root = node(-1);
  for (const [b, n, lost, path] of F.stacks) {
    let at = root;
    at.bytes += b; at.blocks += n; at.lost += lost;
    for (const f of path) {
      let next = at.kids.get(f);
      if (!next) { next = node(f); next.parent = at; at.kids.set(f, next); }
      next.bytes += b; next.blocks += n; next.lost += lost;
      at = next;
    }
  }
  const flame = document.getElementById("flame"), tip = document.getElementById("tooltip");
  const search = document.getElementById("search"), colour = document.getElementById("colour");
  const status = document.getElementById("flame-status");
  if (!F.scan) colour.querySelector("option[value=lost]").disabled = true;
  // A small tree is drawn whole (every frame a node, however thin); a large one leaves out
  // what would be narrower than half a pixel.
  const ROW = 18, MAX_NODES = 40000;
  const MIN_PX = nodes > 10000 ? 0.5 : 0;
  let focus = root;
  function frameName(n) { return n.frame < 0 ? "all" : F.frames[n.frame].n; }
  function hue(s) { let h = 0; for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0; return h % 360; }
  function fill(n) {
    if (colour.value === "lost" && n.bytes) {
      const share = n.lost / n.bytes; // red where lost, green where reachable
      return "hsl(" + Math.round(120 * (1 - share)) + ",65%,62%)";
    }
    const m = n.frame < 0 ? "" : F.frames[n.frame].m || "?";
    return "hsl(" + hue(m) + ",55%,70%)";
  }
  function draw() {
    flame.textContent = "";
    const width = flame.clientWidth || 1000;
    let drawn = 0, depth = 0;
    const pattern = search.value ? safeRegExp(search.value) : null;
    let matched = 0;
    const matchedSeen = new Set();
    function box(n, x, w, level) {
      drawn++;
      depth = Math.max(depth, level + 1);
      const name = frameName(n);
      const d = el("div", {class: "fg-node", "data-name": name});
      d.style.left = x + "px"; d.style.width = w + "px"; d.style.top = level * ROW + "px";
      d.style.background = fill(n);
      d.textContent = w > 30 ? name : "";
      if (pattern && pattern.test(name)) {
        d.classList.add("match");
        let covered = false; // a matching frame inside a matching subtree counts once
        for (let p = n.parent; p; p = p.parent) if (matchedSeen.has(p)) covered = true;
        if (!covered) matched += n.bytes;
        matchedSeen.add(n);
      }
      d.addEventListener("click", () => { focus = n === focus ? (n.parent || root) : n; draw(); });
      d.addEventListener("mousemove", (e) => showTip(e, n));
      d.addEventListener("mouseleave", () => { tip.style.display = "none"; });
      flame.append(d);
    }
    function subtree(n, x, w, level) {
      if (w < MIN_PX || !n.bytes || drawn >= MAX_NODES) return;
      box(n, x, w, level);
      let cx = x;
      for (const k of [...n.kids.values()].sort((a, b) => b.bytes - a.bytes)) {
        const kw = n.bytes ? w * k.bytes / n.bytes : 0;
        subtree(k, cx, kw, level + 1);
        cx += kw;
      }
    }
    // the path from the root to the focus at full width, then the focus's subtree
    const chain = [];
    for (let n = focus; n; n = n.parent) chain.unshift(n);
    chain.slice(0, -1).forEach((n, level) => box(n, 0, width, level));
    subtree(focus, 0, width, chain.length - 1);
    flame.style.height = depth * ROW + "px";
    status.textContent = (focus === root ? "" : "zoomed on " + frameName(focus) + " · ") +
      (pattern ? "matches: " + bytes(matched) + " (" + pct(matched, focus.bytes) + ")" : "") +
      (drawn >= MAX_NODES ? " · only the " + count(MAX_NODES) + " widest frames drawn" : "");
  }
  function safeRegExp(s) { try { return new RegExp(s); } catch (e) { return null; } }
  function showTip(e, n) {
    const f = n.frame < 0 ? null : F.frames[n.frame];
    tip.textContent = "";
    tip.append(el("div", {text: frameName(n)}));
    if (f && (f.f || f.m)) tip.append(el("div", {class: "mono", text: (f.f || "") + (f.m ? "  [" + f.m + "]" : "")}));
    tip.append(el("div", {text: bytes(n.bytes) + " (" + pct(n.bytes, root.bytes) + " of live) in " +
                                 count(n.blocks) + " blocks" +
                                 (F.scan ? " · lost " + bytes(n.lost) : "")}));
    tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 12, window.innerWidth - 660) + "px";
    tip.style.top = e.clientY + 14 + "px";
  }
  search.addEventListener("input", draw);
  colour.addEventListener("change", draw);
  document.getElementById("reset").addEventListener("click", () => { focus = root; search.value = ""; draw(); });
  window.addEventListener("resize", draw);
  draw();

  // ---- groups -----------------------------------------------------------------------
  const groups = R.groups, diff = !!R.compared, scan = !!t.reachability;
  const cols = [
    {name: "#", key: (g) => g.rank, num: true, show: (g) => g.rank},
    {name: "bytes", key: (g) => g.bytes, num: true, show: (g) => bytes(g.bytes)},
    {name: "blocks", key: (g) => g.blocks, num: true, show: (g) => count(g.blocks)},
    {name: "avg", key: (g) => g.blocks ? g.bytes / g.blocks : 0, num: true,
     show: (g) => g.blocks ? bytes(Math.round(g.bytes / g.blocks)) : "-"},
  ];
  if (scan) cols.push({name: "lost", key: (g) => lostOf(g), num: true, show: (g) => bytes(lostOf(g))});
  if (diff) cols.push({name: "growth", key: (g) => g.delta_bytes, num: true,
                       show: (g) => (g.delta_bytes > 0 ? "+" : "") + bytes(g.delta_bytes)});
  cols.push({name: "allocated at", key: (g) => site(g), show: (g) => site(g)});
  cols.push({name: "threads", key: (g) => threadsOf(g), show: (g) => threadsOf(g)});
  function lostOf(g) {
    const r = g.reachability;
    return r ? r.definitely_lost.bytes + r.indirectly_lost.bytes : 0;
  }
  function site(g) { return g.frames.length ? g.frames[0].function : g.key; }
  function threadsOf(g) { return g.threads.map((x) => x.name + " \u00d7" + x.threads).join(", "); }
  let sortCol = -1, sortUp = false;
  const table = document.getElementById("groups");
  function details(g) {
    const box = el("div", {class: "details"});
    box.append(el("h4", {text: "allocated at"}),
               el("pre", {text: g.frames.map(frameText).join("\n") || "(no stack)"}));
    if (g.retained_by)
      box.append(el("h4", {text: "retained by"}),
                 el("pre", {text: g.retained_by.root.name + "\n" +
                                  g.retained_by.chain.map((c) => "-> " + c.address + " (" + bytes(c.size) + ")").join("\n")}));
    if (g.type) box.append(el("h4", {text: "objects of type " + g.type}));
    if (g.grep) {
      box.append(el("h4", {text: "grep '" + g.grep.pattern + "': " + count(g.grep.matches) + " matches in " +
                                 count(g.grep.blocks_matched) + " of " + count(g.grep.blocks_searched) + " blocks"}),
                 el("pre", {text: g.grep.distinct.slice(0, 20).map((d) => count(d.blocks).padStart(9) + " blocks  " + d.text).join("\n")}));
    }
    if (g.strings.length) {
      box.append(el("h4", {text: "strings in " + count(g.strings_blocks_searched) + " samples"}),
                 el("pre", {text: g.strings.slice(0, 10).map((s) => String(s.count).padStart(9) + "  " + s.text).join("\n")}));
    }
    const shown = g.samples.slice(0, 3);
    if (shown.length) {
      box.append(el("h4", {text: "samples: " + shown.length + " of " + count(g.samples_captured)}));
      for (const s of shown)
        box.append(el("div", {class: "mono", text: "block " + s.address + " (" + bytes(s.size) + ")"}),
                   el("pre", {text: hexdump(s.hex)}));
    }
    return box;
  }
  function drawTable() {
    table.textContent = "";
    const head = el("tr");
    cols.forEach((c, i) => head.append(el("th", {
      class: (i === sortCol ? "sorted" + (sortUp ? " up" : "") : ""), text: c.name,
      onclick: () => { sortUp = sortCol === i ? !sortUp : false; sortCol = i; drawTable(); }})));
    table.append(el("thead", {}, head));
    const rows = [...groups];
    if (sortCol >= 0) {
      const c = cols[sortCol];
      rows.sort((a, b) => {
        const x = c.key(a), y = c.key(b);
        const o = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
        return (sortUp ? o : -o) || a.rank - b.rank;
      });
    }
    const body = el("tbody");
    for (const g of rows) {
      const tr = el("tr", {class: "group" + (g.grew_every_interval ? " suspect" : ""), "data-rank": g.rank});
      for (const c of cols) tr.append(el("td", {class: c.num ? "num" : "", text: String(c.show(g))}));
      let open = null;
      const toggle = () => {
        if (open) { open.remove(); open = null; return; }
        open = el("tr", {class: "details"}, el("td", {colspan: cols.length}, details(g)));
        tr.after(open);
      };
      tr.addEventListener("click", toggle);
      body.append(tr);
      if (g === rows[0]) toggle(); // the first group opens with the page
    }
    table.append(body);
  }
  drawTable();

  // ---- threads ----------------------------------------------------------------------
  const inv = document.getElementById("threads");
  const families = new Map();
  for (const th of R.threads || []) {
    if (!th.alive || th.leaktag) continue;
    const k = th.family + "\u0000" + th.stack_bytes;
    const f = families.get(k) || {name: th.family, stack: th.stack_bytes, count: 0, bytes: 0};
    f.count++; f.bytes += th.live_bytes;
    families.set(k, f);
  }
  const fam = [...families.values()].sort((a, b) => b.stack * b.count - a.stack * a.count);
  const space = (R.limits && (R.limits.rlimit_as_bytes || R.limits.address_space_bytes)) || 0;
  const reserved = fam.reduce((s, f) => s + f.stack * f.count, 0);
  inv.append(el("p", {text: count(fam.reduce((s, f) => s + f.count, 0)) + " threads alive, stacks reserving " +
                             bytes(reserved) + (space ? " of " + bytes(space) + " of address space (" +
                             pct(reserved, space) + ")" : "")}));
  const tt = el("table");
  tt.append(el("thead", {}, el("tr", {}, el("th", {text: "threads"}), el("th", {text: "count"}),
                                  el("th", {text: "stack each"}), el("th", {text: "stacks together"}),
                                  el("th", {text: "live bytes"}))));
  const tb = el("tbody");
  for (const f of fam) {
    const bar = el("span", {class: "bar"});
    bar.style.width = (space ? Math.max(1, 300 * f.stack * f.count / space) : 0) + "px";
    tb.append(el("tr", {}, el("td", {text: f.name}), el("td", {class: "num", text: count(f.count)}),
                 el("td", {class: "num", text: bytes(f.stack)}),
                 el("td", {}, bytes(f.stack * f.count) + " ", bar),
                 el("td", {class: "num", text: bytes(f.bytes)})));
  }
  tt.append(tb);
  inv.append(tt);

  // ---- growth over the snapshots (--diff) ------------------------------------------------
  const growth = document.getElementById("growth");
  if (!diff) { growth.remove(); return; }
  const times = R.compared.map((c) => c.time_unix);
  const top = groups.slice(0, 8);
  const W = 900, H = 280, L = 70, B = 30;
  const maxY = Math.max(1, ...top.flatMap((g) => g.series_bytes));
  const t0 = times[0], t1 = times[times.length - 1] > t0 ? times[times.length - 1] : t0 + 1;
  const x = (v) => L + (W - L - 10) * (v - t0) / (t1 - t0);
  const y = (v) => H - B - (H - B - 10) * v / maxY;
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    svg.append(e);
    return e;
  }
  svgEl("line", {x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#999"});
  svgEl("line", {x1: L, y1: 10, x2: L, y2: H - B, stroke: "#999"});
  for (let i = 0; i <= 4; i++) {
    const v = maxY * i / 4;
    svgEl("text", {x: 4, y: y(v) + 4}, bytes(Math.round(v)));
  }
  times.forEach((tv) => svgEl("text", {x: x(tv) - 20, y: H - 10},
                                new Date(tv * 1000).toISOString().substr(11, 8)));
  const legend = el("div", {class: "legend"});
  top.forEach((g, i) => {
    const c = "hsl(" + (i * 47 % 360) + ",65%,45%)";
    svgEl("polyline", {fill: "none", stroke: c, "stroke-width": g.grew_every_interval ? 3 : 1.5,
                       "stroke-dasharray": g.grew_every_interval ? "" : "4 3",
                       points: g.series_bytes.map((v, k) => x(times[k]) + "," + y(v)).join(" ")});
    const i_ = el("i"); i_.style.background = c;
    legend.append(el("span", {}, i_, "#" + g.rank + " " + site(g) + (g.grew_every_interval ? " (grew every interval)" : "")));
  });
  growth.append(svg, legend);
})();
