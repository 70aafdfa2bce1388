// pgwalk dump-tree --html: the page's script (no network, no libraries).
// It draws the data of the "pgwalk-data" element (schema: pydoc pgwalk.render_html)
// and computes no translation: every value comes from pgwalk's records; descriptor
// fields are cut out of the raw descriptor with the field tables shipped in the data.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("pgwalk-data").textContent);
  const $ = (id) => document.getElementById(id);
  const STYLES = DATA.styles, LAYOUTS = DATA.layouts;

  // ---------------------------------------------------------------- helpers
  const big = (v) => BigInt(v);                                  // number or "0x..." string
  const num = (v) => (typeof v === "string" ? Number(BigInt(v)) : v);
  const hx = (b) => "0x" + b.toString(16);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sizeText(v) {                                         // like pgwalk's size_text
    const b = big(v);
    for (const [u, s] of [["TB", 40n], ["GB", 30n], ["MB", 20n], ["KB", 10n]]) {
      if (b >= (1n << s) && b % (1n << s) === 0n) return (b >> s) + u;
    }
    return b + "B";
  }
  function humanSize(n) {
    for (const [u, s] of [["TiB", 40], ["GiB", 30], ["MiB", 20], ["KiB", 10]]) {
      if (n >= 2 ** s) return (n / 2 ** s).toFixed(2).replace(/\.00$/, "") + " " + u;
    }
    return (Number.isInteger(n) ? n : n.toFixed(1)) + " B";
  }
  function permText(p) {
    if (!p) return "";
    return Object.entries(p).map(([k, v]) => k.toUpperCase().replace("STAGE2_", "S2 ") + " " + v).join(" ");
  }
  function memText(s) {
    if (!s.attributes) return "";
    let t = s.attributes.description;
    if (s.attr_index !== null && s.attr_index !== undefined) t += " [" + s.attr_index + "]";
    if (s.sh) t += " " + s.sh;
    return t;
  }

  // ---------------------------------------------------------------- colours
  const PALETTE = ["#4e79a7", "#59a14f", "#f28e2b", "#76b7b2", "#edc948", "#9c755f", "#86bcb6", "#8cd17d",
                   "#b6992d", "#499894", "#a0cbe8", "#ffbe7d", "#bab0ac"];
  const COOL = ["#59a14f", "#4e79a7", "#76b7b2", "#8cd17d", "#a0cbe8", "#499894", "#86bcb6"];
  const WARM = ["#f28e2b", "#e15759", "#edc948", "#ff9d9a", "#b6992d", "#ffbe7d", "#9c755f"];
  const WX = "#d62728", EL0K = "#9c27b0", ODD = "#7f7f7f";
  function classKey(s, mode) {
    if (!s.mapped) return "not mapped: " + (s.kind === "table" ? "table " + (s.status || "") : s.kind);
    if (mode === "memtype") return s.attributes ? s.attributes.description : s.kind;
    return permText(s.permissions) || "no permissions";
  }
  const colourMaps = {};
  function colourMap(mode) {
    if (colourMaps[mode]) return colourMaps[mode];
    const bytes = new Map();
    for (const t of TREES) {
      const R = t.data.ranges;
      for (let i = 0; i < R.length; i++) {
        const k = classKey(STYLES[R[i][0]], mode);
        bytes.set(k, (bytes.get(k) || 0) + num(R[i][2]));
      }
    }
    const keys = [...bytes.keys()].sort((a, b) => bytes.get(b) - bytes.get(a));
    const m = new Map();
    let p = 0, c = 0, w = 0;
    for (const k of keys) {
      const s = STYLES.find((x) => classKey(x, mode) === k);
      let col;
      if (!s.mapped) col = s.kind === "table" ? "#c7c7c7" : ODD;
      else if (mode === "perms" && s.wx.length) col = WX;
      else if (mode === "perms" && s.el0_kernel) col = EL0K;
      else if (mode === "memtype") col = (k.startsWith("Device") ? WARM[w++ % WARM.length] : COOL[c++ % COOL.length]);
      else col = PALETTE[p++ % PALETTE.length];
      m.set(k, { colour: col, bytes: bytes.get(k) });
    }
    return (colourMaps[mode] = m);
  }
  const styleColour = (si) => colourMap(state.mode).get(classKey(STYLES[si], state.mode)).colour;

  // ---------------------------------------------------------------- trees
  const R_STYLE = 0, R_OFF = 1, R_SIZE = 2, R_COUNT = 3, R_PA = 4, R_RAW = 5, R_LABEL = 6, R_IPA = 7;
  const N_TYPE = 0, N_DEPTH = 1, N_INDEX = 2;
  const T_LEVEL = 3, T_OFF = 4, T_SIZE = 5, T_TABLE = 6, T_PA = 7, T_ENTRIES = 8, T_VALID = 9, T_STATUS = 10,
        T_DESC = 11, T_FLAGS = 12, T_NOTE = 13, T_FIRST = 14, T_INH = 15, T_LABEL = 16, T_AF = 17;
  const E_STYLE = 3, E_OFF = 4, E_SIZE = 5, E_COUNT = 6, E_PA = 7, E_RAW = 8, E_LABEL = 9, E_IPA = 10, E_NONZERO = 11;

  const TREES = DATA.trees.map(function (t) {
    const lo = big(t.va_lo), span = Number(big(t.va_hi) - lo);
    const R = t.ranges, n = R.length;
    const rs = new Float64Array(n), re = new Float64Array(n);
    for (let i = 0; i < n; i++) { rs[i] = num(R[i][R_OFF]); re[i] = rs[i] + num(R[i][R_SIZE]); }
    const N = t.nodes, m = N.length;
    const parent = new Int32Array(m), ns = new Float64Array(m), ne = new Float64Array(m);
    const children = new Array(m);
    const stack = [];
    const terminal = [];          // leaf runs and tables not walked, in VA order
    for (let i = 0; i < m; i++) {
      const d = N[i][N_DEPTH];
      stack.length = d;
      parent[i] = d ? stack[d - 1] : -1;
      if (parent[i] >= 0) (children[parent[i]] || (children[parent[i]] = [])).push(i);
      stack.push(i);
      const off = num(N[i][N[i][N_TYPE] === 0 ? T_OFF : E_OFF]), size = num(N[i][N[i][N_TYPE] === 0 ? T_SIZE : E_SIZE]);
      ns[i] = off; ne[i] = off + size;
      if (N[i][N_TYPE] === 1 || N[i][T_STATUS] !== "ok") terminal.push(i);
    }
    const expanded = new Uint8Array(m);
    for (let i = 0; i < m; i++) if (N[i][N_DEPTH] === 0) expanded[i] = 1;
    return { data: t, lo: lo, span: span, rs: rs, re: re, parent: parent, children: children, ns: ns, ne: ne,
             terminal: Int32Array.from(terminal), expanded: expanded };
  });

  const state = { tree: 0, w0: 0, w1: 1, mode: "perms", sel: -1, history: [], hover: -1, drag: null };

  const vaOf = (t, off) => hx(t.lo + BigInt(Math.floor(off)));
  function rangeVa(t, i) {
    const r = t.data.ranges[i], s = t.lo + big(r[R_OFF]);
    return [hx(s), hx(s + big(r[R_SIZE]))];
  }
  function nodeVa(t, i) {
    const r = t.data.nodes[i], tbl = r[N_TYPE] === 0;
    const s = t.lo + big(r[tbl ? T_OFF : E_OFF]);
    return [hx(s), hx(s + big(r[tbl ? T_SIZE : E_SIZE]))];
  }
  // first index in sorted Float64Array a with a[i] > x
  function upper(a, x) {
    let lo = 0, hi = a.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (a[mid] > x) hi = mid; else lo = mid + 1; }
    return lo;
  }

  // ---------------------------------------------------------------- map geometry
  const canvas = $("map"), ctx = canvas.getContext("2d"), tip = $("tip");
  const GUTTER = 132, BAND = 13, BAR = 20, GAP = 7, ROW_H = BAND + BAR + GAP, TOP = 4;
  let ROWS = 16, W = 600;
  function geometry() {
    const cssW = Math.max(300, canvas.parentElement.clientWidth - 2);
    ROWS = cssW < 520 ? 12 : 16;
    const cssH = TOP + ROWS * ROW_H;
    const dpr = window.devicePixelRatio || 1;
    canvas.style.height = cssH + "px";
    canvas.width = Math.round(cssW * dpr); canvas.height = Math.round(cssH * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    W = cssW - GUTTER - 8;
  }
  const rowSpan = () => (state.w1 - state.w0) / ROWS;
  // the map position of an offset: {row, x} (x in CSS pixels from the canvas' left)
  function posOf(off) {
    const rsn = rowSpan();
    let row = Math.floor((off - state.w0) / rsn);
    row = Math.max(0, Math.min(ROWS - 1, row));
    return { row: row, x: GUTTER + ((off - state.w0 - row * rsn) / rsn) * W };
  }
  // the offset at a canvas point, or null outside the bars' area
  function offAt(x, y) {
    const row = Math.floor((y - TOP) / ROW_H);
    if (row < 0 || row >= ROWS || x < GUTTER - 2 || x > GUTTER + W + 2) return null;
    const f = Math.max(0, Math.min(1, (x - GUTTER) / W));
    return state.w0 + (row + f) * rowSpan();
  }
  const barY = (row) => TOP + row * ROW_H + BAND;

  // rectangles [row, x0, x1] covering [a, b) in the current window (each at least 1px wide)
  function pieces(a, b, minW) {
    const out = [], rsn = rowSpan();
    a = Math.max(a, state.w0); b = Math.min(b, state.w1);
    if (b <= a) return out;
    let r0 = Math.floor((a - state.w0) / rsn), r1 = Math.floor((b - state.w0) / rsn);
    if ((b - state.w0) / rsn === r1) r1 -= 1;        // b ends exactly at a row start
    r0 = Math.max(0, r0); r1 = Math.min(ROWS - 1, Math.max(r0, r1));
    for (let r = r0; r <= r1; r++) {
      const rowLo = state.w0 + r * rsn, rowHi = rowLo + rsn;
      let x0 = GUTTER + ((Math.max(a, rowLo) - rowLo) / rsn) * W;
      let x1 = GUTTER + ((Math.min(b, rowHi) - rowLo) / rsn) * W;
      if (x1 - x0 < minW) {                          // whole pixels, so the narrowest range is still seen
        x0 = Math.max(GUTTER, Math.min(Math.floor((x0 + x1) / 2 - (minW - 1) / 2), GUTTER + W - minW));
        x1 = x0 + minW;
      }
      out.push([r, x0, x1]);
    }
    return out;
  }

  // ---------------------------------------------------------------- drawing
  const REGION_COLOURS = ["#dbe9f6", "#e4f2dc", "#fbe3cf", "#efe0f3", "#fff3c4", "#dff1ef", "#f6dcdc", "#e8e8e8"];
  function regionColour(name) {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return REGION_COLOURS[h % REGION_COLOURS.length];
  }
  function draw() {
    const t = TREES[state.tree];
    const cssW = canvas.width / (window.devicePixelRatio || 1), cssH = canvas.height / (window.devicePixelRatio || 1);
    ctx.clearRect(0, 0, cssW, cssH);
    ctx.font = "11px ui-monospace, DejaVu Sans Mono, monospace";
    ctx.textBaseline = "middle";
    const rsn = rowSpan();
    for (let r = 0; r < ROWS; r++) {
      const y = barY(r);
      ctx.fillStyle = "#f3f4f6";
      ctx.fillRect(GUTTER, y, W, BAR);
      ctx.fillStyle = "#6b7280";
      ctx.fillText(vaOf(t, state.w0 + r * rsn), 4, y + BAR / 2);
    }
    // kernel regions: bands above the bars, larger first so nested ones stay visible
    const regs = t.data.regions.slice().sort((a, b) => (num(b.end_off) - num(b.start_off)) - (num(a.end_off) - num(a.start_off)));
    for (const g of regs) {
      for (const [r, x0, x1] of pieces(num(g.start_off), num(g.end_off), 2)) {
        const y = TOP + r * ROW_H + 1;
        ctx.fillStyle = regionColour(g.name);
        ctx.fillRect(x0, y, x1 - x0, BAND - 2);
        if (x1 - x0 > 40) {
          ctx.save(); ctx.beginPath(); ctx.rect(x0, y, x1 - x0, BAND - 2); ctx.clip();
          ctx.fillStyle = "#374151"; ctx.fillText(g.name + (g.approx ? " ~" : ""), x0 + 3, y + (BAND - 2) / 2);
          ctx.restore();
        }
      }
    }
    // ranges, then the marks of W+X and EL0-accessible kernel mappings over them
    const R = t.data.ranges;
    const i0 = upper(t.re, state.w0), i1 = upper(t.rs, state.w1 - 1e-9);
    const marks = [];
    let lastRow = -1, lastX = -1, lastStyle = -1;
    for (let i = i0; i < i1 && i < R.length; i++) {
      const si = R[i][R_STYLE], s = STYLES[si];
      // fast path: a range narrower than a pixel inside one row, drawn once per pixel and style
      const a = t.rs[i], b = t.re[i], row = Math.floor((a - state.w0) / rsn);
      if ((b - a) / rsn * W < 1 && a >= state.w0 && row === Math.floor((b - state.w0) / rsn) && row < ROWS) {
        // the pixel pieces() gives a narrow range: the one under its middle
        const x = Math.max(GUTTER, Math.min(Math.floor(GUTTER + (((a + b) / 2 - state.w0 - row * rsn) / rsn) * W), GUTTER + W - 1));
        if (row !== lastRow || x !== lastX || si !== lastStyle) {
          ctx.fillStyle = styleColour(si);
          ctx.fillRect(x, barY(row), 1, BAR);
          lastRow = row; lastX = x; lastStyle = si;
        }
      } else {
        ctx.fillStyle = styleColour(si);
        for (const [r, x0, x1] of pieces(a, b, 1)) ctx.fillRect(x0, barY(r), x1 - x0, BAR);
      }
      if (s.wx.length || s.el0_kernel || s.flags.length || (s.mapped === false && s.kind !== "table")) marks.push(i);
    }
    for (const i of marks) {
      const s = STYLES[R[i][R_STYLE]];
      const col = s.wx.length ? WX : s.el0_kernel ? EL0K : "#9a6700";
      for (const [r, x0, x1] of pieces(t.rs[i], t.re[i], 3)) {
        const y = barY(r);
        ctx.strokeStyle = col; ctx.lineWidth = 2;
        ctx.strokeRect(x0 - 1, y - 1, x1 - x0 + 2, BAR + 2);
        ctx.fillStyle = col;                 // a triangle above: visible at any zoom
        ctx.beginPath(); ctx.moveTo((x0 + x1) / 2, y - 1); ctx.lineTo((x0 + x1) / 2 - 4, y - 7); ctx.lineTo((x0 + x1) / 2 + 4, y - 7); ctx.fill();
      }
    }
    // the selected node and the drag selection
    if (state.sel >= 0) {
      ctx.strokeStyle = "#111827"; ctx.lineWidth = 1.5; ctx.setLineDash([4, 2]);
      for (const [r, x0, x1] of pieces(t.ns[state.sel], t.ne[state.sel], 3)) ctx.strokeRect(x0 - 2, barY(r) - 2, x1 - x0 + 4, BAR + 4);
      ctx.setLineDash([]);
    }
    if (state.drag && state.drag.moved) {
      ctx.fillStyle = "rgba(31,111,235,.18)";
      const a = Math.min(state.drag.a, state.drag.b), b = Math.max(state.drag.a, state.drag.b);
      for (const [r, x0, x1] of pieces(a, b, 1)) ctx.fillRect(x0, barY(r) - 3, x1 - x0, BAR + 6);
    }
    const span = state.w1 - state.w0;
    $("window-text").textContent = vaOf(t, state.w0) + " \u2013 " + vaOf(t, state.w1) + "  (" + humanSize(span) +
      ", " + humanSize(rsn) + " a row, " + humanSize(rsn / W) + " a pixel)";
  }
  let drawQueued = false;
  function redraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(function () { drawQueued = false; draw(); });
  }

  // ---------------------------------------------------------------- view changes
  function setView(w0, w1, remember) {
    const t = TREES[state.tree];
    const minSpan = Math.min(t.span, 64 * ROWS);
    let span = Math.max(minSpan, Math.min(t.span, w1 - w0));
    let a = w0 + (w1 - w0) / 2 - span / 2;
    a = Math.max(0, Math.min(t.span - span, a));
    if (remember !== false) state.history.push([state.tree, state.w0, state.w1]);
    state.w0 = a; state.w1 = a + span;
    draw();
  }
  function zoomAround(off, factor, frac) {
    const span = (state.w1 - state.w0) * factor;
    if (frac === undefined) frac = 0.5;
    setView(off - frac * span, off - frac * span + span);
  }
  function whole() { setView(0, TREES[state.tree].span); }
  function fitMapped() {
    const t = TREES[state.tree];
    if (!t.rs.length) return whole();
    const a = t.rs[0], b = t.re[t.re.length - 1];
    const pad = (b - a) * 0.01;
    setView(a - pad, b + pad);
  }
  // zoom so that [a, b) fills about a third of the window (small spans: at least 64 pixels)
  function focus(a, b) {
    const span = Math.max((b - a) * 3, 64 * ROWS);
    setView(a - span / 3, a - span / 3 + span);
  }

  // ---------------------------------------------------------------- hit testing
  function rangeAt(off, tol) {
    const t = TREES[state.tree];
    let i = upper(t.rs, off) - 1;
    if (i >= 0 && t.re[i] > off) return i;
    let best = -1, bestD = tol;
    for (const j of [i, i + 1]) {
      if (j < 0 || j >= t.rs.length) continue;
      const d = off < t.rs[j] ? t.rs[j] - off : off - t.re[j];
      if (d <= bestD) { best = j; bestD = d; }
    }
    return best;
  }
  function terminalAt(t, off) {
    const T = t.terminal;
    let lo = 0, hi = T.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (t.ns[T[mid]] > off) hi = mid; else lo = mid + 1; }
    const k = lo - 1;
    return k >= 0 && t.ne[T[k]] > off ? T[k] : -1;
  }
  function canvasPoint(ev) {
    const b = canvas.getBoundingClientRect();
    return [ev.clientX - b.left - canvas.clientLeft, ev.clientY - b.top - canvas.clientTop];
  }
  function showTip(ev, i) {
    const t = TREES[state.tree];
    if (i < 0) { tip.hidden = true; return; }
    const r = t.data.ranges[i], s = STYLES[r[R_STYLE]];
    const [a, b] = rangeVa(t, i);
    const lines = [a + " \u2013 " + b + "  " + sizeText(r[R_SIZE]) + (r[R_COUNT] > 1 ? "  (" + r[R_COUNT] + " \u00d7 L" + s.level + " " + s.kind + ")" : "  L" + s.level + " " + s.kind)];
    if (r[R_IPA] !== null) lines.push("-> IPA " + hx(big(r[R_IPA])) + (r[R_PA] !== null ? " -> PA " + hx(big(r[R_PA])) : ""));
    else if (r[R_PA] !== null) lines.push("-> PA " + hx(big(r[R_PA])));
    if (s.mapped) lines.push(permText(s.permissions) + "  " + memText(s));
    else if (s.status) lines.push("table " + s.status + (s.note ? ": " + s.note : ""));
    if (r[R_LABEL] >= 0) lines.push("[" + t.data.labels[r[R_LABEL]] + "]");
    if (s.wx.length) lines.push("W+X: " + s.wx.join(", "));
    if (s.el0_kernel) lines.push("EL0-accessible kernel mapping");
    for (const f of s.flags) lines.push("! " + f);
    if (s.note) lines.push(s.note);
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    const [x, y] = canvasPoint(ev);
    const wrap = canvas.parentElement.clientWidth;
    tip.style.left = Math.min(x + 14, Math.max(0, wrap - tip.offsetWidth - 4)) + "px";
    tip.style.top = (y + 16) + "px";
    tip.dataset.range = String(i);
  }

  canvas.addEventListener("mousemove", function (ev) {
    const [x, y] = canvasPoint(ev);
    const off = offAt(x, y);
    if (state.drag) {
      if (off !== null) state.drag.b = off;
      if (Math.abs(x - state.drag.x) > 4 || Math.abs(y - state.drag.y) > 4) state.drag.moved = true;
      redraw();
      return;
    }
    const i = off === null ? -1 : rangeAt(off, 3 * rowSpan() / W);
    state.hover = i;
    showTip(ev, i);
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; state.hover = -1; });
  canvas.addEventListener("mousedown", function (ev) {
    if (ev.button !== 0) return;
    const [x, y] = canvasPoint(ev);
    const off = offAt(x, y);
    if (off === null) return;
    state.drag = { a: off, b: off, x: x, y: y, moved: false };
  });
  window.addEventListener("mouseup", function (ev) {
    const d = state.drag;
    if (!d) return;
    state.drag = null;
    if (d.moved && Math.abs(d.b - d.a) > 0) { setView(Math.min(d.a, d.b), Math.max(d.a, d.b)); return; }
    const [x, y] = canvasPoint(ev);
    const off = offAt(x, y);
    if (off === null) return;
    const t = TREES[state.tree];
    const i = rangeAt(off, 3 * rowSpan() / W);
    // select the tree node holding the clicked address (a range's first node when the click was beside it)
    const at = i >= 0 && (off < t.rs[i] || off >= t.re[i]) ? t.rs[i] : off;
    const n = terminalAt(t, at);
    if (n >= 0) select(n, { reveal: true });
    redraw();
  });
  canvas.addEventListener("dblclick", function (ev) {
    const [x, y] = canvasPoint(ev);
    const off = offAt(x, y);
    if (off !== null) zoomAround(off, 0.25);
  });
  canvas.addEventListener("wheel", function (ev) {
    const [x, y] = canvasPoint(ev);
    const off = offAt(x, y);
    if (off === null) return;
    ev.preventDefault();
    const frac = (off - state.w0) / (state.w1 - state.w0);
    const factor = Math.exp(Math.max(-3, Math.min(3, ev.deltaY * 0.0025)));
    const span = (state.w1 - state.w0) * factor;
    setView(off - frac * span, off - frac * span + span, false);
  }, { passive: false });
  canvas.addEventListener("keydown", function (ev) {
    const c = (state.w0 + state.w1) / 2;
    if (ev.key === "+" || ev.key === "=") zoomAround(c, 0.5);
    else if (ev.key === "-") zoomAround(c, 2);
    else if (ev.key === "0") whole();
    else if (ev.key === "Backspace") back();
    else if (ev.key === "ArrowRight") setView(state.w0 + (state.w1 - state.w0) / 4, state.w1 + (state.w1 - state.w0) / 4);
    else if (ev.key === "ArrowLeft") setView(state.w0 - (state.w1 - state.w0) / 4, state.w1 - (state.w1 - state.w0) / 4);
    else return;
    ev.preventDefault();
  });
  function back() {
    const h = state.history.pop();
    if (!h) return;
    if (h[0] !== state.tree) switchTree(h[0], false);
    state.w0 = h[1]; state.w1 = h[2];
    draw();
  }
  $("btn-whole").onclick = whole;
  $("btn-fit").onclick = fitMapped;
  $("btn-in").onclick = () => zoomAround((state.w0 + state.w1) / 2, 0.25);
  $("btn-out").onclick = () => zoomAround((state.w0 + state.w1) / 2, 4);
  $("btn-back").onclick = back;
  $("colour-by").onchange = function () { state.mode = this.value; legend(); draw(); renderRows(true); };

  // ---------------------------------------------------------------- legend, regions, findings
  function legend() {
    const box = $("legend");
    box.replaceChildren();
    const used = new Set();
    const t = TREES[state.tree];
    for (const r of t.data.ranges) used.add(classKey(STYLES[r[R_STYLE]], state.mode));
    for (const [k, v] of colourMap(state.mode)) {
      if (!used.has(k)) continue;
      const it = el("span", "item");
      const sw = el("span", "sw"); sw.style.background = v.colour;
      it.append(sw, el("span", null, k), el("span", "dim", humanSize(v.bytes)));
      it.dataset.colour = v.colour; it.dataset.key = k;
      box.append(it);
    }
    const marks = el("span", "item");
    const a = el("span", "sw"); a.style.background = "transparent"; a.style.border = "2px solid " + WX;
    const b = el("span", "sw"); b.style.background = "transparent"; b.style.border = "2px solid " + EL0K;
    marks.append(a, el("span", null, "W+X"), b, el("span", null, "EL0-accessible kernel mapping"));
    box.append(marks);
  }
  function regions() {
    const box = $("regions");
    box.replaceChildren();
    const t = TREES[state.tree];
    for (const g of t.data.regions) {
      const b = el("button", null, g.name + (g.approx ? " ~" : ""));
      b.type = "button";
      b.style.background = regionColour(g.name);
      b.title = vaOf(t, num(g.start_off)) + " \u2013 " + vaOf(t, num(g.end_off)) + (g.note ? "  " + g.note : "") + (g.approx ? " (approximate)" : "");
      b.onclick = () => setView(num(g.start_off), num(g.end_off));
      box.append(b);
    }
  }
  function findings() {
    const box = $("findings");
    box.replaceChildren();
    const t = TREES[state.tree], R = t.data.ranges;
    const groups = [["W+X mappings", (s) => s.wx.length > 0, "bad"],
                    ["EL0-accessible mappings in the kernel tree", (s) => s.el0_kernel, "bad"],
                    ["Flagged descriptors (RES0 bits, misaligned, ...)", (s) => s.flags.length > 0, "warn"],
                    ["Tables not walked", (s) => s.kind === "table", "warn"]];
    for (const [title, test, cls] of groups) {
      const hits = [];
      let bytes = 0;
      for (let i = 0; i < R.length; i++) if (test(STYLES[R[i][R_STYLE]])) { hits.push(i); bytes += num(R[i][R_SIZE]); }
      const h = el("h3", hits.length ? cls : "dim", title + ": " + (hits.length ? hits.length + " ranges, " + humanSize(bytes) : "none"));
      box.append(h);
      if (!hits.length) continue;
      const ul = el("ul");
      for (const i of hits.slice(0, 200)) {
        const s = STYLES[R[i][R_STYLE]];
        const [a, b] = rangeVa(t, i);
        const li = el("li", null, a + "-" + b + "  " + (s.mapped ? permText(s.permissions) : s.status || s.kind) + (s.flags.length ? "  ! " + s.flags.join("; ") : ""));
        li.onclick = function () {
          focus(t.rs[i], t.re[i]);
          const n = terminalAt(t, t.rs[i]);
          if (n >= 0) select(n, { reveal: true });
        };
        ul.append(li);
      }
      if (hits.length > 200) ul.append(el("li", "dim", "... " + (hits.length - 200) + " more"));
      box.append(ul);
    }
  }

  // ---------------------------------------------------------------- the tree table (rows drawn lazily)
  const body = $("tree-body"), spacer = $("tree-spacer");
  const ROW = 20, HEAD = 20;
  let visible = new Int32Array(0), rowsShown = new Map();
  function flatten() {
    const t = TREES[state.tree], N = t.data.nodes, out = [];
    const walk = function (i) {                      // iterative: trees can be deep and wide
      const st = [i];
      while (st.length) {
        const k = st.pop();
        out.push(k);
        if (t.expanded[k] && t.children[k]) for (let c = t.children[k].length - 1; c >= 0; c--) st.push(t.children[k][c]);
      }
    };
    for (let i = 0; i < N.length; i++) if (N[i][N_DEPTH] === 0) walk(i);
    visible = Int32Array.from(out);
    spacer.style.height = visible.length * ROW + "px";
    renderRows(true);
  }
  function nodeLabel(t, i) {
    const r = t.data.nodes[i];
    if (r[N_TYPE] === 0) {
      const idx = r[N_INDEX] === null ? "" : "[" + r[N_INDEX] + "] ";
      const st = r[T_STATUS] === "ok" ? "  " + r[T_VALID] + "/" + r[T_ENTRIES] + " valid" : "  " + r[T_STATUS];
      return idx + "L" + r[T_LEVEL] + " table " + hx(big(r[T_TABLE])) + st;
    }
    const s = STYLES[r[E_STYLE]], c = r[E_COUNT], first = r[N_INDEX];
    const idx = c === 1 ? "[" + first + "] " : "[" + first + "-" + (first + c - 1) + "] ";
    if (s.kind === "invalid") return idx + c + " invalid" + (r[E_NONZERO] ? " (" + r[E_NONZERO] + " non-zero)" : "");
    return idx + (c > 1 ? c + " \u00d7 " : "") + "L" + s.level + " " + s.kind;
  }
  function makeRow(t, i) {
    const r = t.data.nodes[i], row = el("div", "trow");
    row.dataset.node = String(i);
    const nc = el("span", "c-node");
    nc.style.paddingLeft = (6 + r[N_DEPTH] * 14) + "px";
    const tog = el("span", "tog", t.children[i] ? (t.expanded[i] ? "\u25be" : "\u25b8") : "");
    tog.dataset.toggle = "1";
    nc.append(tog);
    const tbl = r[N_TYPE] === 0;
    const s = tbl ? null : STYLES[r[E_STYLE]];
    if (s && s.kind !== "invalid") { const sw = el("span", "sw"); sw.style.background = styleColour(r[E_STYLE]); nc.append(sw); }
    const lab = el("span", tbl ? "tbl" : s.kind === "invalid" ? "dim" : null, nodeLabel(t, i));
    if (tbl && r[T_STATUS] !== "ok") lab.classList.add(r[T_STATUS] === "reference" || r[T_STATUS] === "not expanded" ? "warn" : "bad");
    if (s && (s.wx.length || s.el0_kernel)) lab.classList.add("bad");
    nc.append(lab);
    const [a, b] = nodeVa(t, i);
    const out = tbl ? "" : r[E_IPA] !== null ? "IPA " + hx(big(r[E_IPA])) : r[E_PA] !== null ? hx(big(r[E_PA])) : "";
    row.title = a + " - " + b;
    row.append(nc, el("span", "c-va", a), el("span", "c-out", out),
               el("span", "c-size", sizeText(r[tbl ? T_SIZE : E_SIZE])),
               el("span", "c-perm", s ? permText(s.permissions) : ""), el("span", "c-mem", s ? memText(s) : ""));
    row.style.top = "0px";
    if (i === state.sel) row.classList.add("sel");
    return row;
  }
  function renderRows(force) {
    const t = TREES[state.tree];
    const first = Math.max(0, Math.floor(body.scrollTop / ROW) - 15);
    const last = Math.min(visible.length, Math.ceil((body.scrollTop + body.clientHeight) / ROW) + 15);
    if (force) { for (const [, e] of rowsShown) e.remove(); rowsShown = new Map(); }
    const keep = new Map();
    for (let k = first; k < last; k++) {
      const i = visible[k];
      let e = rowsShown.get(k);
      if (!e || e.dataset.node !== String(i)) { if (e) e.remove(); e = makeRow(t, i); body.append(e); }
      e.style.top = (HEAD + k * ROW) + "px";
      keep.set(k, e);
      rowsShown.delete(k);
    }
    for (const [, e] of rowsShown) e.remove();
    rowsShown = keep;
  }
  body.addEventListener("scroll", () => renderRows(false));
  body.addEventListener("click", function (ev) {
    const row = ev.target.closest(".trow");
    if (!row) return;
    const i = Number(row.dataset.node);
    if (ev.target.dataset.toggle) { toggle(i); return; }
    select(i, { zoom: true });
  });
  body.addEventListener("dblclick", function (ev) {
    const row = ev.target.closest(".trow");
    if (row && !ev.target.dataset.toggle) toggle(Number(row.dataset.node));
  });
  body.addEventListener("keydown", function (ev) {
    const t = TREES[state.tree];
    if (state.sel < 0) return;
    const k = visible.indexOf(state.sel);
    if (ev.key === "ArrowDown" && k + 1 < visible.length) select(visible[k + 1], { reveal: true, zoom: true });
    else if (ev.key === "ArrowUp" && k > 0) select(visible[k - 1], { reveal: true, zoom: true });
    else if (ev.key === "ArrowRight" && t.children[state.sel] && !t.expanded[state.sel]) toggle(state.sel);
    else if (ev.key === "ArrowLeft" && t.expanded[state.sel]) toggle(state.sel);
    else if (ev.key === "ArrowLeft" && t.parent[state.sel] >= 0) select(t.parent[state.sel], { reveal: true, zoom: true });
    else if (ev.key === "Enter" && t.children[state.sel]) toggle(state.sel);
    else return;
    ev.preventDefault();
  });
  function toggle(i) {
    const t = TREES[state.tree];
    if (!t.children[i]) return;
    t.expanded[i] ^= 1;
    flatten();
  }
  function reveal(i) {
    const t = TREES[state.tree];
    let changed = false;
    for (let p = t.parent[i]; p >= 0; p = t.parent[p]) if (!t.expanded[p]) { t.expanded[p] = 1; changed = true; }
    if (changed) flatten();
    const k = visible.indexOf(i);
    if (k < 0) return;
    const y = HEAD + k * ROW;
    if (y < body.scrollTop + HEAD || y + ROW > body.scrollTop + body.clientHeight) body.scrollTop = Math.max(0, y - body.clientHeight / 2);
    renderRows(true);
  }
  function select(i, opts) {
    const t = TREES[state.tree];
    state.sel = i;
    if (opts && opts.reveal) reveal(i); else renderRows(true);
    if (opts && opts.zoom) {
      const a = t.ns[i], b = t.ne[i];
      if (b - a > state.w1 - state.w0 || b <= state.w0 || a >= state.w1 || (b - a) / rowSpan() * W < 2) focus(a, b);
    }
    details(i);
    draw();
  }

  // ---------------------------------------------------------------- details of one node
  function kv(table, k, v, cls) {
    const tr = el("tr");
    tr.append(el("th", null, k));
    const td = el("td", cls);
    if (v instanceof Node) td.append(v); else td.textContent = v === null || v === undefined ? "-" : String(v);
    tr.append(td);
    table.append(tr);
  }
  function fieldTable(raw, layoutIndex) {
    const L = LAYOUTS[layoutIndex], v = BigInt("0x" + raw);
    const tab = el("table", "fields");
    const h = el("tr");
    for (const c of ["bits", "field", "value", "meaning"]) h.append(el("th", null, c));
    tab.append(h);
    const fields = L.fields.slice().sort((a, b) => b[1] - a[1]);
    let used = 0n;
    for (const [name, msb, lsb, doc, values] of fields) {
      const width = BigInt(msb - lsb + 1), mask = (1n << width) - 1n;
      used |= mask << BigInt(lsb);
      const fv = (v >> BigInt(lsb)) & mask;
      const tr = el("tr");
      tr.dataset.field = name;
      let text = width > 4n ? hx(fv) : fv.toString();
      if (/^(OA|NLTA)$/.test(name)) text += "  (" + hx(fv << BigInt(lsb)) + ")";
      const meaning = values && values[fv.toString()] !== undefined ? values[fv.toString()] + " \u2014 " + doc : doc;
      tr.append(el("td", null, msb === lsb ? String(msb) : msb + ":" + lsb), el("td", null, name), el("td", "mono", text), el("td", null, meaning));
      tab.append(tr);
    }
    const rest = v & ~used & ((1n << 64n) - 1n);
    if (rest) {
      const tr = el("tr");
      tr.append(el("td", null, ""), el("td", "bad", "other bits"), el("td", "mono bad", hx(rest)), el("td", null, "bits no field of the layout names"));
      tab.append(tr);
    }
    return [L.name, tab];
  }
  function details(i) {
    const t = TREES[state.tree], r = t.data.nodes[i], box = $("details");
    box.replaceChildren();
    const [a, b] = nodeVa(t, i);
    const tab = el("table");
    if (r[N_TYPE] === 0) {
      box.append(el("h2", null, t.data.tree + ": L" + r[T_LEVEL] + " table " + hx(big(r[T_TABLE]))));
      kv(tab, "input range", a + " - " + b);
      kv(tab, "entry of parent", r[N_INDEX]);
      kv(tab, "table address", hx(big(r[T_TABLE])));
      kv(tab, "read at PA", r[T_PA] === null ? null : hx(big(r[T_PA])));
      kv(tab, "entries", r[T_ENTRIES]);
      kv(tab, "valid", r[T_VALID]);
      kv(tab, "status", r[T_STATUS], r[T_STATUS] === "ok" ? null : "bad");
      if (r[T_FIRST]) kv(tab, "walked at", r[T_FIRST]);
      const inh = r[T_INH];
      kv(tab, "inherited", "APTable=" + inh[0] + " UXNTable=" + inh[1] + " PXNTable=" + inh[2] + " NSTable=" + inh[3]);
      if (r[T_LABEL] >= 0) kv(tab, "kernel region", t.data.labels[r[T_LABEL]]);
      if (r[T_AF]) kv(tab, "Access flag", r[T_AF], "warn");
      for (const f of r[T_FLAGS]) kv(tab, "flag", f, "bad");
      if (r[T_NOTE]) kv(tab, "note", r[T_NOTE], "warn");
      box.append(tab);
      if (r[T_DESC] !== null) {
        const [name, ft] = fieldTable(r[T_DESC], t.data.table_layout);
        box.append(el("h3", null, "descriptor 0x" + r[T_DESC] + " (" + name + ", in the parent table)"), ft);
      } else {
        box.append(el("p", "dim", "The root table: " + t.data.tree + " points at it."));
      }
      return;
    }
    const s = STYLES[r[E_STYLE]], c = r[E_COUNT];
    const head = el("h2", null, t.data.tree + ": " + (c > 1 ? c + " \u00d7 " : "") + "L" + s.level + " " + s.kind);
    box.append(head);
    const badges = el("div");
    if (s.wx.length) badges.append(el("span", "badge wx", "W+X " + s.wx.join(", ").toUpperCase()));
    if (s.el0_kernel) badges.append(el("span", "badge el0", "EL0-accessible kernel mapping"));
    for (const f of s.flags) badges.append(el("span", "badge flag", f));
    if (badges.childNodes.length) box.append(badges);
    kv(tab, "input range", a + " - " + b);
    kv(tab, "entries", c === 1 ? "[" + r[N_INDEX] + "]" : "[" + r[N_INDEX] + "-" + (r[N_INDEX] + c - 1) + "], " + c + " \u00d7 " + sizeText(s.entry_size));
    kv(tab, "size", sizeText(r[E_SIZE]));
    if (r[E_IPA] !== null) kv(tab, "IPA", hx(big(r[E_IPA])));
    if (s.mapped || r[E_PA] !== null) kv(tab, "PA", r[E_PA] === null ? null : hx(big(r[E_PA])));
    if (r[E_LABEL] >= 0) kv(tab, "kernel region", t.data.labels[r[E_LABEL]]);
    if (s.mapped) {
      kv(tab, "permissions", permText(s.permissions), s.wx.length || s.el0_kernel ? "bad" : null);
      if (s.indirection) kv(tab, "indirection", s.indirection.text);
      kv(tab, "memory type", memText(s));
      if (s.attributes) kv(tab, "cacheability", "inner " + (s.attributes.inner || "-") + ", outer " + (s.attributes.outer || "-") + ", PAR.ATTR " + s.attributes.par_attr);
      const bits = [["af", "AF"], ["ng", "nG"], ["dbm", "DBM"], ["contiguous", "Contiguous"], ["gp", "GP"], ["ns", "NS"], ["ns_table", "NSTable"]]
        .map(([k, n]) => n + "=" + (s[k] ? 1 : 0)).join(" ");
      kv(tab, "bits", bits);
    }
    if (s.af_text) kv(tab, "Access flag", s.af_text, "warn");
    if (s.kind === "invalid") kv(tab, "non-zero", r[E_NONZERO]);
    if (s.note) kv(tab, "note", s.note, "warn");
    box.append(tab);
    if (r[E_RAW] !== null && s.kind !== "invalid") {
      const title = "descriptor 0x" + r[E_RAW] + (c > 1 ? " (the first of " + c + ")" : "");
      if (s.layout !== null) {
        const [name, ft] = fieldTable(r[E_RAW], s.layout);
        box.append(el("h3", null, title + ", " + name), ft);
      } else {
        box.append(el("h3", null, title), el("p", "bad", "A " + s.kind + " descriptor: it translates as a Translation fault, so it has no fields."));
      }
    }
  }

  // ---------------------------------------------------------------- header, tabs, go to
  function header() {
    $("title").textContent = DATA.title || "pgwalk dump-tree";
    const sm = DATA.summary;
    $("meta").textContent = DATA.generator + " \u00b7 " + sm.tables + " tables, " + sm.entries + " descriptors read, " +
      TREES.reduce((n, t) => n + t.data.ranges.length, 0) + " ranges" + (sm.references ? ", " + sm.references + " shared tables" : "");
    const notes = $("notes");
    for (const n of DATA.notes) notes.append(el("div", null, "note: " + n));
    if (sm.stopped) notes.append(el("div", "bad", sm.stopped));
    const tabs = $("tabs");
    TREES.forEach(function (t, k) {
      const b = el("button", null, t.data.tree);
      b.type = "button"; b.title = t.data.description + (t.data.disabled ? ": not walked: " + t.data.disabled : "");
      b.onclick = () => switchTree(k, true);
      tabs.append(b);
    });
  }
  function switchTree(k, remember) {
    if (remember) state.history.push([state.tree, state.w0, state.w1]);
    state.tree = k; state.sel = -1;
    $("tabs").querySelectorAll("button").forEach((b, j) => b.setAttribute("aria-selected", String(j === k)));
    state.w0 = 0; state.w1 = TREES[k].span;
    const t = TREES[k];
    $("details").replaceChildren(el("p", "dim", t.data.description + (t.data.disabled ? ": not walked: " + t.data.disabled : "") +
      ". Click a node in the tree or a range on the map to see its descriptor."));
    for (const n of t.data.notes) $("details").append(el("p", "warn", "note: " + n));
    regions(); legend(); findings(); body.scrollTop = 0; flatten(); draw();
  }
  // the tree and node holding address text, or null
  function locate(text) {
    let va;
    try { va = BigInt(text.trim().replace(/_/g, "").replace(/^(?!0x)/i, "0x")); } catch (e) { return null; }
    for (let k = 0; k < TREES.length; k++) {
      const t = TREES[k], hi = big(t.data.va_hi);
      if (va >= t.lo && va < hi) return { tree: k, off: Number(va - t.lo) };
    }
    return null;
  }
  $("goto-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const input = $("goto"), where = locate(input.value);
    input.classList.toggle("bad", !where);
    if (!where) return;
    goTo(where.tree, where.off);
  });
  function goTo(k, off) {
    if (k !== state.tree) switchTree(k, true);
    const t = TREES[k], n = terminalAt(t, off);
    if (n >= 0) { focus(t.ns[n], t.ne[n]); select(n, { reveal: true }); }
    else focus(off, off + 1);
  }

  // ---------------------------------------------------------------- start
  header();
  geometry();
  switchTree(0, false);
  new ResizeObserver(function () { geometry(); draw(); renderRows(false); }).observe(canvas.parentElement);
  window.addEventListener("resize", () => renderRows(false));

  // For tests and scripting: where an address is drawn, and the view.
  window.pgwalk = {
    data: DATA,
    view: function (k, start, end) {                  // hex strings, end exclusive
      if (k !== state.tree) switchTree(k, false);
      const t = TREES[k];
      setView(Number(big(start) - t.lo), Number(big(end) - t.lo), false);
    },
    window: () => [vaOf(TREES[state.tree], state.w0), vaOf(TREES[state.tree], state.w1)],
    // the viewport point at the middle of the first piece drawn for [va, end) (hex strings), or null
    clientPoint: function (va, end) {
      const t = TREES[state.tree], a = Number(big(va) - t.lo), e = end ? Number(big(end) - t.lo) : a + 1;
      const p = pieces(a, e, 1)[0];
      if (!p) return null;
      const b = canvas.getBoundingClientRect();
      return { x: b.left + canvas.clientLeft + (p[1] + p[2]) / 2, y: b.top + canvas.clientTop + barY(p[0]) + BAR / 2 };
    },
    colourOf: (si) => styleColour(si),
    // scroll the tree so node i's row is drawn (false: a collapsed ancestor hides it)
    showRow: function (i) {
      const k = visible.indexOf(i);
      if (k < 0) return false;
      body.scrollTop = Math.max(0, HEAD + k * ROW - body.clientHeight / 2);
      renderRows(false);
      return true;
    },
    goTo: function (va) { const w = locate(va); if (w) goTo(w.tree, w.off); return !!w; },
  };
  document.body.dataset.ready = "1";
})();
