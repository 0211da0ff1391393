// mmc viz: draws the server's precomputed layout as SVG. Data comes from
// api/main or api/pipelines/<name> (Kedro-Viz shape), api/layout,
// api/nodes/<id>, and when the live server has them api/datasets,
// api/preview/<id> and api/runs; paths are relative so the same page
// works when served and as a static build.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
// Labels are drawn at 12px; the first view never zooms out so far that
// they fall under 10px on screen (the minimap shows the rest).
const LABEL_PX = 12, MIN_READABLE_PX = 10;
const LAYER_COLOURS = ["#4f8a3c", "#2b63a6", "#b58900", "#6a4c93", "#c0392b", "#16a085", "#d35400", "#7f8c8d"];
const state = {
  pipeline: "", main: null, layouts: null, byId: new Map(), byName: new Map(),
  showParams: false, tags: new Set(), selected: null, search: "",
  slice: null, // {from, to, ids: Set, command} after a shift-click
  collapse: new Set(), // namespaces drawn as one box
  focus: null, // {id, ids: Set} in focus mode
  view: { x: 0, y: 0, k: 1 },
  features: { runs: false, previews: false, autoreload: false, version: 0 },
  run: null, runTimer: null, datasets: {},
};

async function getJSON(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(path + ": " + res.status + " " + (await res.text()).trim());
  return res.json();
}

// api adds the pipeline to an API path.
function api(path) {
  if (!state.pipeline) return path;
  return path + (path.includes("?") ? "&" : "?") + "pipeline=" + encodeURIComponent(state.pipeline);
}

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function html(name, props, parent) {
  const e = document.createElement(name);
  Object.assign(e, props || {});
  if (parent) parent.appendChild(e);
  return e;
}

function readURL() {
  const q = new URLSearchParams(location.search);
  state.pipeline = q.get("pipeline") || "";
  state.showParams = q.get("params") === "1";
  state.tags = new Set((q.get("tags") || "").split(",").filter(Boolean));
  state.collapse = new Set((q.get("collapse") || "").split(",").filter(Boolean));
  state.runId = q.get("run") || "";
}

function writeURL() {
  const q = new URLSearchParams();
  if (state.pipeline && state.main && state.pipeline !== state.defaultPipeline) q.set("pipeline", state.pipeline);
  if (state.showParams) q.set("params", "1");
  if (state.tags.size) q.set("tags", [...state.tags].join(","));
  if (state.collapse.size) q.set("collapse", [...state.collapse].join(","));
  if (state.run) q.set("run", state.run.id);
  const s = q.toString();
  history.replaceState(null, "", s ? "?" + s : location.pathname);
}

// An item stays bright when it passes the tag filter (no tag chosen, or
// it carries a chosen one), matches the search, and lies in the slice.
function tagged(node) {
  if (state.slice && !state.slice.ids.has(node.id)) return false;
  const name = (node.full_name || node.name).toLowerCase();
  if (state.search && !name.includes(state.search)) return false;
  if (!state.tags.size) return true;
  return (node.tags || []).some((t) => state.tags.has(t));
}

// edgesNow are the edges of what is drawn (collapsed boxes included).
function edgesNow() {
  return state.current ? state.current.paths : state.main.edges;
}

// reach returns the IDs reachable from id along edges (forward or back).
function reach(id, forward, edges) {
  const next = new Map();
  for (const e of edges || state.main.edges) {
    const [a, b] = forward ? [e.source, e.target] : [e.target, e.source];
    if (!next.has(a)) next.set(a, []);
    next.get(a).push(b);
  }
  const seen = new Set([id]), stack = [id];
  while (stack.length) {
    for (const n of next.get(stack.pop()) || []) {
      if (!seen.has(n)) { seen.add(n); stack.push(n); }
    }
  }
  return seen;
}

// sliceBetween selects everything downstream of from and upstream of to,
// and builds the run command for it as Kedro-Viz does: task ends become
// --from-nodes/--to-nodes, dataset ends --from-inputs/--to-outputs.
function sliceBetween(from, to) {
  const between = (a, b) => {
    const up = reach(b, false);
    return new Set([...reach(a, true)].filter((id) => up.has(id)));
  };
  let ids = between(from, to);
  if (!ids.size) {
    [from, to] = [to, from];
    ids = between(from, to);
  }
  if (!ids.size) return null; // neither item leads to the other
  const a = state.byId.get(from), b = state.byId.get(to);
  const flag = (n, task, data) => n.type === "task" ? task + "=" + n.full_name : n.type === "data" ? data + "=" + n.name : "";
  const cmd = ["go run . run", "--pipeline=" + state.main.selected_pipeline,
    flag(a, "--from-nodes", "--from-inputs"), flag(b, "--to-nodes", "--to-outputs")].filter(Boolean).join(" ");
  return { from, to, ids, command: cmd };
}

function showSlice() {
  $("slice").hidden = !state.slice;
  breakable($("slice-command"), state.slice ? state.slice.command : "");
  for (const g of document.querySelectorAll(".item")) {
    g.classList.toggle("sliced", !!state.slice && state.slice.ids.has(g.dataset.id));
  }
}

// curve joins bend points: straight where two points share a height (a
// long edge running through a column), horizontal-tangent cubic segments
// in between.
function curve(points) {
  let d = "M" + points[0].x + "," + points[0].y;
  for (let i = 1; i < points.length; i++) {
    const p = points[i - 1], q = points[i], dx = (q.x - p.x) / 2;
    if (p.y === q.y) { d += " L" + q.x + "," + q.y; continue; }
    d += " C" + (p.x + dx) + "," + p.y + " " + (q.x - dx) + "," + q.y + " " + q.x + "," + q.y;
  }
  return d;
}

// layout returns the layout to draw: one of the precomputed expanded
// ones, or, with namespaces collapsed, one the server computes on demand
// (a static build has only the expanded ones).
async function layout() {
  if (!state.collapse.size && !state.showParams) return state.layouts.without_params;
  if (!state.collapse.size && state.layouts.with_params) return state.layouts.with_params;
  const q = "params=" + (state.showParams ? "1" : "0") + "&collapse=" + encodeURIComponent([...state.collapse].join(","));
  try {
    $("error").hidden = true;
    return await getJSON(api("api/layout/view?" + q));
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = "Collapsing namespaces needs the live viewer (go run . viz): " + err.message;
    state.collapse.clear();
    writeURL();
    return layout();
  }
}

// relayout fetches the layout for the current settings, draws it and
// fits it to the screen, with the item reveal (if any) in view.
async function relayout(reveal) {
  state.current = await layout();
  if (state.focus) state.focus.ids = focusSet(state.focus.id);
  draw();
  for (const box of document.querySelectorAll(".ns-toggle")) box.checked = state.current.collapsed.includes(box.value);
  fit();
  if (reveal) show(reveal);
}

// show pans the view so that an item is on screen, when it is not.
function show(id) {
  const b = state.current.boxes.find((x) => x.id === id);
  if (!b) return;
  const box = $("graph").getBoundingClientRect(), v = state.view;
  const l = v.x + b.x * v.k, r = v.x + (b.x + b.w) * v.k, t = v.y + b.y * v.k, btm = v.y + (b.y + b.h) * v.k;
  if (l >= 0 && r <= box.width && t >= 0 && btm <= box.height) return;
  const lay = state.current;
  v.x = Math.min(16, Math.max(box.width - lay.width * v.k - 16, box.width / 2 - (b.x + b.w / 2) * v.k));
  if (lay.height * v.k > box.height) v.y = box.height / 2 - (b.y + b.h / 2) * v.k;
  applyView();
}

function layerColour(layer) {
  const i = state.main.layers.indexOf(layer);
  return i < 0 ? "#8d99a6" : LAYER_COLOURS[i % LAYER_COLOURS.length];
}

function fmtSeconds(s) {
  if (s === undefined || s === null) return "";
  return s < 1 ? Math.round(s * 1000) + " ms" : s < 120 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min";
}

function fmtSize(n) {
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
  return n.toFixed(1) + " " + u[i];
}

// runNode is the run's record of a drawn item, if a run is shown.
function runNode(id) {
  if (!state.run) return null;
  const n = state.byId.get(id);
  if (!n) return null;
  const nodes = state.run.nodes || {};
  if (n.type === "task") return nodes[n.full_name] || { status: "pending" };
  if (n.type === "modularPipeline") {
    const inside = state.main.nodes.filter((m) => m.type === "task" && m.full_name.startsWith(n.full_name + "."));
    const st = inside.map((m) => (nodes[m.full_name] || { status: "pending" }).status);
    const status = st.includes("failed") ? "failed" : st.includes("running") ? "running" :
      st.every((s) => s === "completed" || s === "skipped") ? "completed" : "pending";
    return { status };
  }
  return null;
}

function draw() {
  const lay = state.current;
  const vp = $("viewport");
  vp.replaceChildren();
  const bands = el("g", {}, vp);
  for (const b of lay.bands) {
    const g = el("g", { class: "band" }, bands);
    el("rect", { x: b.x, y: 0, width: b.w, height: lay.height }, g);
    el("text", { x: b.x + 8, y: 16 }, g).textContent = b.layer;
  }
  const hidden = (id) => state.focus && !state.focus.ids.has(id);
  const edges = el("g", {}, vp);
  for (const p of lay.paths) {
    const src = state.byId.get(p.source), dst = state.byId.get(p.target);
    const path = el("path", { class: "edge", d: curve(p.points) }, edges);
    path.dataset.source = p.source;
    path.dataset.target = p.target;
    if (!tagged(src) || !tagged(dst)) path.classList.add("dim");
    if (hidden(p.source) || hidden(p.target)) path.classList.add("hidden-focus");
  }
  const items = el("g", {}, vp);
  const showLayer = !lay.bands.length;
  for (const b of lay.boxes) {
    const node = state.byId.get(b.id);
    const g = el("g", { class: "item " + b.type, transform: "translate(" + b.x + "," + b.y + ")" }, items);
    g.dataset.id = b.id;
    g.dataset.name = b.name;
    if (node.in_memory) g.classList.add("memory");
    if (!tagged(node)) g.classList.add("dim");
    if (hidden(b.id)) g.classList.add("hidden-focus");
    if (b.id === state.selected) g.classList.add("selected");
    const r = b.type === "data" ? b.h / 2 : 4;
    el("rect", { class: "box", width: b.w, height: b.h, rx: r, ry: r }, g);
    if (showLayer && b.layer) {
      // Without layer bands each dataset shows its layer as a dot.
      const dot = el("circle", { class: "layer-dot", cx: 9, cy: b.h / 2, r: 3.5, fill: layerColour(b.layer) }, g);
      el("title", {}, dot).textContent = "layer " + b.layer;
    }
    const dotted = showLayer && b.layer;
    el("text", { class: "label", x: b.w / 2 + (dotted ? 5 : 0), y: b.h / 2 + 4, "text-anchor": "middle" }, g).textContent = b.label || b.name;
    const title = el("title", {}, g);
    title.textContent = (node.full_name || node.name) + (b.layer ? " (layer " + b.layer + ")" : "");
    const rn = runNode(b.id);
    if (rn) {
      g.classList.add("status-" + rn.status);
      const note = rn.status === "completed" ? fmtSeconds(rn.seconds) : rn.status === "running" ? "running " + fmtSeconds(rn.seconds) : rn.status;
      el("text", { class: "note", x: b.w / 2, y: b.h + 11, "text-anchor": "middle" }, g).textContent = note;
      title.textContent += "\n" + rn.status + (rn.seconds ? " in " + fmtSeconds(rn.seconds) : "") + (rn.reason ? ": " + rn.reason : "") + (rn.error ? "\n" + rn.error : "");
    }
    if (state.run && b.type === "data" && !node.in_memory) {
      const ds = state.datasets[node.name];
      if (ds && !ds.exists && !ds.error) g.classList.add("missing");
    }
    if (state.slice && state.slice.ids.has(b.id)) g.classList.add("sliced");
    g.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (ev.shiftKey && state.selected && state.selected !== b.id) {
        state.slice = sliceBetween(state.selected, b.id);
        draw();
        showSlice();
        return;
      }
      select(b.id);
    });
  }
  $("counts").textContent = lay.boxes.length + " items, " + lay.paths.length + " edges";
  highlight();
  drawMinimap();
}

// restyle dims what the search and the tag filter leave out, without
// drawing again (fast on big graphs).
function restyle() {
  const keep = new Map();
  for (const g of document.querySelectorAll("#viewport .item")) {
    const on = tagged(state.byId.get(g.dataset.id));
    keep.set(g.dataset.id, on);
    g.classList.toggle("dim", !on);
  }
  for (const p of document.querySelectorAll("#viewport .edge")) {
    p.classList.toggle("dim", !(keep.get(p.dataset.source) && keep.get(p.dataset.target)));
  }
}

function highlight() {
  for (const p of document.querySelectorAll(".edge")) {
    const near = state.selected && (p.dataset.source === state.selected || p.dataset.target === state.selected);
    p.classList.toggle("near", !!near);
  }
}

function applyView() {
  const v = state.view;
  $("viewport").setAttribute("transform", "translate(" + v.x + "," + v.y + ") scale(" + v.k + ")");
  updateMinimapView();
}

// fit shows the whole drawing when it can be read that way; a drawing too
// large for that is shown from its start (left) at the smallest readable
// zoom, vertically centred where it fits.
function fit() {
  const lay = state.current, box = $("graph").getBoundingClientRect();
  if (!lay || !box.width) return;
  const pad = 16;
  let k = Math.min(1.5, (box.width - 2 * pad) / lay.width, (box.height - 2 * pad) / lay.height);
  const minK = MIN_READABLE_PX / LABEL_PX + 0.01;
  k = Math.max(k, minK);
  const w = lay.width * k, h = lay.height * k;
  state.view = {
    k,
    x: w <= box.width ? (box.width - w) / 2 : pad - 0,
    y: h <= box.height ? (box.height - h) / 2 : pad - 0,
  };
  applyView();
}

// The minimap shows the whole drawing and the part on screen; a click or
// drag moves the view there.
function drawMinimap() {
  const lay = state.current, g = $("minimap-items");
  g.replaceChildren();
  $("minimap").setAttribute("viewBox", "0 0 " + lay.width + " " + lay.height);
  $("minimap").setAttribute("preserveAspectRatio", "xMidYMid meet");
  for (const b of lay.boxes) {
    if (state.focus && !state.focus.ids.has(b.id)) continue;
    el("rect", { class: "mini " + b.type, x: b.x, y: b.y, width: b.w, height: b.h }, g);
  }
  updateMinimapView();
}

function updateMinimapView() {
  const box = $("graph").getBoundingClientRect(), v = state.view, r = $("minimap-view");
  const lay = state.current;
  // Only worth showing when part of the drawing is off screen.
  $("minimap").style.display = lay && (v.x < -1 || v.y < -1 || v.x + lay.width * v.k > box.width + 1 || v.y + lay.height * v.k > box.height + 1) ? "" : "none";
  r.setAttribute("x", -v.x / v.k);
  r.setAttribute("y", -v.y / v.k);
  r.setAttribute("width", box.width / v.k);
  r.setAttribute("height", box.height / v.k);
}

function setupMinimap() {
  const mm = $("minimap");
  let dragging = false;
  const move = (ev) => {
    const pt = mm.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const p = pt.matrixTransform(mm.getScreenCTM().inverse());
    const box = $("graph").getBoundingClientRect(), v = state.view;
    v.x = box.width / 2 - p.x * v.k;
    v.y = box.height / 2 - p.y * v.k;
    applyView();
  };
  mm.addEventListener("mousedown", (ev) => { ev.stopPropagation(); dragging = true; move(ev); });
  window.addEventListener("mousemove", (ev) => { if (dragging) move(ev); });
  window.addEventListener("mouseup", () => { dragging = false; });
  mm.addEventListener("click", (ev) => ev.stopPropagation());
}

function setupPanZoom() {
  const svg = $("graph");
  let drag = null;
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = svg.getBoundingClientRect(), v = state.view;
    const mx = ev.clientX - r.left, my = ev.clientY - r.top;
    const k = Math.max(0.1, Math.min(4, v.k * Math.exp(-ev.deltaY * 0.0015)));
    // Keep the point under the cursor fixed.
    v.x = mx - (mx - v.x) * (k / v.k);
    v.y = my - (my - v.y) * (k / v.k);
    v.k = k;
    applyView();
  }, { passive: false });
  svg.addEventListener("mousedown", (ev) => {
    drag = { x: ev.clientX, y: ev.clientY, vx: state.view.x, vy: state.view.y };
    svg.classList.add("dragging");
  });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    state.view.x = drag.vx + ev.clientX - drag.x;
    state.view.y = drag.vy + ev.clientY - drag.y;
    applyView();
  });
  window.addEventListener("mouseup", () => { drag = null; svg.classList.remove("dragging"); });
  svg.addEventListener("click", () => { if (state.selected) closePanel(); });
}

function closePanel() {
  state.selected = null;
  $("panel").hidden = true;
  for (const g of document.querySelectorAll(".item.selected")) g.classList.remove("selected");
  highlight();
}

// field adds one term to the details panel; value is text, a list of
// dataset names (shown as links), an object (shown as JSON) or a DOM node.
function field(term, value, kind) {
  if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) return null;
  const body = $("panel-body");
  html("dt", { textContent: term }, body);
  const dd = html("dd", {}, body);
  if (value instanceof Node) {
    dd.appendChild(value);
  } else if (Array.isArray(value) && kind) {
    value.forEach((name, i) => {
      const a = html("a", { textContent: name }, dd);
      const id = state.byName.get(kind + ":" + name);
      if (id) a.addEventListener("click", () => select(id));
      if (i < value.length - 1) dd.appendChild(document.createTextNode(", "));
    });
  } else if (typeof value === "object") {
    html("pre", { textContent: JSON.stringify(value, null, 2) }, dd);
  } else {
    dd.textContent = String(value);
  }
  return dd;
}

// breakable sets text so that it wraps only after a dot or an underscore,
// never inside a word.
function breakable(target, text) {
  target.replaceChildren();
  for (const part of text.split(/(?<=[._/=\s])/)) {
    target.appendChild(document.createTextNode(part));
    target.appendChild(document.createElement("wbr"));
  }
}

// copyable is a command with a button that copies it.
function copyable(cmd) {
  const wrap = html("div");
  breakable(html("code", { className: "cmd" }, wrap), cmd);
  const btn = html("button", { type: "button", className: "copy", textContent: "Copy" }, wrap);
  btn.addEventListener("click", () => copyText(cmd, btn));
  return wrap;
}

async function copyText(text, btn) {
  window.__copied = text;
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {
    // No clipboard permission (plain http, headless): select-and-copy.
    const ta = html("textarea", { value: text }, document.body);
    ta.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    ta.remove();
  }
  if (btn) { btn.textContent = "Copied"; setTimeout(() => { btn.textContent = "Copy"; }, 1500); }
}

function runCommand(n) {
  return "go run . run --pipeline=" + state.main.selected_pipeline + " --nodes=" + n.full_name;
}

async function select(id) {
  state.selected = id;
  for (const g of document.querySelectorAll(".item")) g.classList.toggle("selected", g.dataset.id === id);
  highlight();
  let n = state.byId.get(id);
  // Nothing of the previous item stays while this one loads.
  breakable($("panel-title"), n.full_name || n.name);
  $("panel-body").replaceChildren();
  if (n.type !== "modularPipeline") {
    try {
      n = await getJSON(api("api/nodes/" + encodeURIComponent(id)));
    } catch (err) {
      // A static build without node files: the summary in /api/main will do.
    }
  }
  if (state.selected !== id) return; // another click came first
  breakable($("panel-title"), n.full_name || n.name);
  $("panel-body").replaceChildren();
  field("Type", { data: "dataset", task: "node", parameters: "parameters", modularPipeline: "namespace (collapsed)" }[n.type]);
  const rn = runNode(id);
  if (rn) {
    const s = html("span", { className: "status-badge " + rn.status, textContent: rn.status }, null);
    field("Run " + state.run.id, s);
    field("Duration", fmtSeconds(rn.seconds));
    field("Reason", rn.reason);
    if (rn.error) field("Error", html("pre", { textContent: rn.error }));
  }
  if (state.run && n.type === "data") {
    const dr = (state.run.datasets || {})[n.name];
    field("In run " + state.run.id, dr ? [dr.loaded && "loaded", dr.saved && "saved"].filter(Boolean).join(" and ") +
      (dr.size ? ", " + fmtSize(dr.size) : "") + (dr.seconds ? " in " + fmtSeconds(dr.seconds) : "") : "not touched yet");
  }
  field("Function", n.func);
  field("Source", n.source);
  field("Namespace", (n.modular_pipelines || []).join(", "));
  field("Tags", (n.tags || []).join(", "));
  field("Inputs", n.inputs, "data");
  field("Outputs", n.outputs, "data");
  field("Parameters", n.parameters);
  if (n.type === "task") field("Run command", copyable(runCommand(n)));
  if (n.code) field("Code", html("pre", { className: "code", textContent: n.code }));
  field("Dataset type", n.dataset_type);
  field("File path", n.filepath);
  field("Layer", n.layer);
  field("Role", n.role ? n.role.replace("_", " ") : "");
  if (n.in_memory) field("Storage", "in memory (exists only during a run)");
  if (n.type === "parameters") field("Value", n.value === undefined ? "(not set)" : n.value);
  if (n.type === "modularPipeline") field("Nodes inside", String(n.size));
  $("expand").hidden = n.type !== "modularPipeline";
  const opening = $("panel").hidden;
  $("panel").hidden = false;
  // The panel narrows the drawing: keep the chosen item in view.
  if (opening) requestAnimationFrame(() => show(id));
  if (n.type === "data" && !n.in_memory && state.features.previews) preview(id, n);
}

// preview shows a dataset's file: status, then the first rows, the
// image, the metrics or the training history as a chart.
async function preview(id, n) {
  let pv;
  try {
    pv = await getJSON(api("api/preview/" + encodeURIComponent(id)));
  } catch (err) {
    field("Preview", "unavailable: " + err.message);
    return;
  }
  if (state.selected !== id) return;
  const st = pv.status || {};
  if (st.exists) {
    field("On disk", fmtSize(st.size) + (st.dir ? " in a directory" : "") + ", modified " + new Date(st.mtime).toLocaleString());
  } else if (!st.error) {
    field("On disk", "missing");
  }
  const box = html("div", { className: "preview preview-" + pv.kind });
  if (pv.kind === "table") {
    box.appendChild(table(pv.columns || [], pv.rows || []));
  } else if (pv.kind === "image") {
    html("img", { src: pv.url, alt: n.name }, box);
  } else if (pv.kind === "chart") {
    box.appendChild(chart(Object.fromEntries(Object.entries(pv.series).map(([k, v]) => [k, [{ label: k, values: v }]]))));
    html("pre", { textContent: JSON.stringify(pv.value, null, 2).slice(0, 4000) }, box);
  } else if (pv.kind === "json") {
    html("pre", { textContent: JSON.stringify(pv.value, null, 2).slice(0, 8000) }, box);
  } else if (pv.kind === "dir") {
    if (pv.columns && pv.rows) box.appendChild(table(pv.columns, pv.rows));
    if (pv.images && pv.images.length) {
      const strip = html("div", { className: "thumbs" }, box);
      for (const src of pv.images) html("img", { src, alt: src.split("file=").pop() }, strip);
    }
    html("pre", { textContent: pv.entries.join("\n") + (pv.note ? "\n(" + pv.note + ")" : "") }, box);
  } else {
    box.textContent = pv.note || "no preview";
  }
  field("Preview", box);
}

function table(columns, rows) {
  const t = html("table", { className: "preview" });
  const head = html("tr", {}, html("thead", {}, t));
  for (const c of columns) html("th", { textContent: c }, head);
  const body = html("tbody", {}, t);
  for (const row of rows) {
    const tr = html("tr", {}, body);
    for (const cell of row) html("td", { textContent: cell, title: cell }, tr);
  }
  return t;
}

const SERIES_COLOURS = ["#2b63a6", "#d35400", "#2e8540", "#6a4c93", "#c0392b", "#16a085"];

// chart draws line charts: one small chart per quantity, each with one
// line per run ({quantity: [{label, values}]}); quantities that do not
// look like curves (epoch numbers) are left out when others exist.
function chart(byQuantity) {
  const wrap = html("div", { className: "charts" });
  let names = Object.keys(byQuantity).sort();
  const prefer = names.filter((k) => /loss|auroc|acc|f1|lr/i.test(k));
  if (prefer.length) names = prefer;
  for (const q of names) {
    const lines = byQuantity[q];
    const all = lines.flatMap((l) => l.values);
    const lo = Math.min(...all), hi = Math.max(...all), n = Math.max(...lines.map((l) => l.values.length));
    const W = 320, H = 140, P = 26;
    const svg = el("svg", { class: "chart", viewBox: "0 0 " + W + " " + H });
    svg.dataset.quantity = q;
    el("text", { x: P, y: 12 }, svg).textContent = q + "  [" + +lo.toPrecision(3) + " … " + +hi.toPrecision(3) + "]";
    lines.forEach((l, i) => {
      const pts = l.values.map((v, j) => {
        const x = P + (n > 1 ? j / (n - 1) : 0.5) * (W - 2 * P);
        const y = H - P + 8 - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * (H - 2 * P);
        return x.toFixed(1) + "," + y.toFixed(1);
      });
      const pl = el("polyline", { points: pts.join(" "), stroke: SERIES_COLOURS[i % SERIES_COLOURS.length] }, svg);
      pl.dataset.label = l.label;
      if (lines.length > 1) el("text", { x: W - P - 80, y: 24 + 11 * i, fill: SERIES_COLOURS[i % SERIES_COLOURS.length] }, svg).textContent = l.label;
    });
    wrap.appendChild(svg);
  }
  return wrap;
}

// focusSet is what focus mode keeps of the drawing: the item and what
// leads to it and from it.
function focusSet(id) {
  const edges = edgesNow();
  return new Set([...reach(id, true, edges), ...reach(id, false, edges)]);
}

function setFocus(id) {
  if (!id) {
    state.focus = null;
  } else {
    state.focus = { id, ids: focusSet(id) };
  }
  $("focus-bar").hidden = !state.focus;
  if (state.focus) {
    const n = state.byId.get(id);
    $("focus-name").textContent = n ? n.full_name || n.name : id;
  }
  draw();
}

// exportSVG returns the drawing as a standalone SVG document: the whole
// layout at scale 1, with the page's styles inlined.
function exportSVG() {
  const lay = state.current;
  const svg = $("graph").cloneNode(true);
  svg.removeAttribute("id");
  svg.setAttribute("xmlns", SVG);
  svg.setAttribute("width", lay.width);
  svg.setAttribute("height", lay.height);
  svg.setAttribute("viewBox", "0 0 " + lay.width + " " + lay.height);
  svg.querySelector("#viewport").removeAttribute("transform");
  for (const e of svg.querySelectorAll(".hidden-focus")) e.remove();
  const css = [];
  for (const sheet of document.styleSheets) {
    try { for (const r of sheet.cssRules) if (/\.(item|edge|band|dim|layer-dot)|marker|\.status-|\.missing/.test(r.selectorText || "")) css.push(r.cssText); } catch (e) { /* cross-origin sheet */ }
  }
  const style = document.createElementNS(SVG, "style");
  style.textContent = css.join("\n");
  svg.insertBefore(style, svg.firstChild);
  const bg = el("rect", { width: lay.width, height: lay.height, fill: "#f6f7f9" });
  svg.insertBefore(bg, style.nextSibling);
  return new XMLSerializer().serializeToString(svg);
}

function download(name, blob) {
  const a = html("a", { href: URL.createObjectURL(blob), download: name }, document.body);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function fileBase() {
  return "mmc-" + state.main.selected_pipeline.replace(/[^A-Za-z0-9_.-]/g, "_");
}

async function exportPNG() {
  const text = exportSVG(), lay = state.current;
  const img = new Image();
  const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  await new Promise((ok, fail) => { img.onload = ok; img.onerror = () => fail(new Error("the SVG did not render")); img.src = url; });
  const scale = 2, canvas = document.createElement("canvas");
  canvas.width = Math.ceil(lay.width * scale);
  canvas.height = Math.ceil(lay.height * scale);
  const ctx = canvas.getContext("2d");
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0);
  URL.revokeObjectURL(url);
  const blob = await new Promise((ok) => canvas.toBlob(ok, "image/png"));
  window.__lastExport = { type: "png", size: blob.size, width: canvas.width, height: canvas.height };
  download(fileBase() + ".png", blob);
}

// setupControls wires the controls that do not depend on the pipeline.
function setupControls() {
  $("pipeline-select").addEventListener("change", () => switchPipeline($("pipeline-select").value));
  const params = $("show-params");
  params.addEventListener("change", async () => {
    state.showParams = params.checked;
    writeURL();
    await relayout();
  });
  $("fit").addEventListener("click", fit);
  $("export-svg").addEventListener("click", () => {
    const text = exportSVG();
    window.__lastExport = { type: "svg", size: text.length, text };
    download(fileBase() + ".svg", new Blob([text], { type: "image/svg+xml" }));
  });
  $("export-png").addEventListener("click", () => exportPNG().catch((err) => {
    $("error").hidden = false;
    $("error").textContent = "PNG export failed: " + err.message;
  }));
  $("search").addEventListener("input", () => {
    state.search = $("search").value.trim().toLowerCase();
    restyle();
  });
  $("slice-reset").addEventListener("click", () => {
    state.slice = null;
    draw();
    showSlice();
  });
  $("slice-copy").addEventListener("click", () => state.slice && copyText(state.slice.command, $("slice-copy")));
  $("close").addEventListener("click", closePanel);
  $("expand").addEventListener("click", () => {
    state.collapse.delete(state.selected);
    closePanel();
    writeURL();
    relayout();
  });
  $("focus").addEventListener("click", () => setFocus(state.selected));
  $("focus-exit").addEventListener("click", () => setFocus(null));
  $("collapse-all").addEventListener("click", () => {
    // Collapsing the outermost namespaces covers the nested ones.
    const nss = Object.keys(state.main.modular_pipelines).filter((k) => k !== "__root__" && !k.includes("."));
    state.collapse = new Set(nss);
    writeURL();
    relayout();
  });
  $("expand-all").addEventListener("click", () => {
    state.collapse.clear();
    writeURL();
    relayout();
  });
  $("run-select").addEventListener("change", () => showRun($("run-select").value));
  $("run-compare").addEventListener("change", compareLink);
  window.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" || ev.target.tagName === "INPUT") return;
    if (state.focus) setFocus(null); else if (state.selected) closePanel();
  });
  setupPanZoom();
  setupMinimap();
  window.addEventListener("resize", fit);
}

// fillSidebar lists the pipeline's tags, namespaces and layers.
function fillSidebar() {
  const tags = $("tags");
  tags.replaceChildren();
  if (!state.main.tags.length) html("em", { textContent: "none" }, tags);
  for (const t of state.main.tags) {
    const label = html("label", {}, tags);
    const box = html("input", { type: "checkbox", checked: state.tags.has(t.id) });
    box.addEventListener("change", () => {
      if (box.checked) state.tags.add(t.id); else state.tags.delete(t.id);
      writeURL();
      restyle();
    });
    label.append(box, " " + t.name);
  }
  const nss = Object.keys(state.main.modular_pipelines).filter((k) => k !== "__root__").sort();
  $("namespaces-section").hidden = !nss.length;
  $("namespaces").replaceChildren();
  for (const ns of nss) {
    const label = html("label", { title: ns }, $("namespaces"));
    label.style.setProperty("--depth", ns.split(".").length - 1);
    const box = html("input", { type: "checkbox", className: "ns-toggle", value: ns });
    box.addEventListener("change", () => {
      if (box.checked) state.collapse.add(ns); else state.collapse.delete(ns);
      writeURL();
      relayout(box.checked ? ns : null);
    });
    label.append(box, " " + ns.split(".").pop());
  }
  const layers = $("layers");
  layers.replaceChildren();
  for (const l of state.main.layers) {
    const li = html("li", { textContent: l }, layers);
    li.style.setProperty("--layer-colour", layerColour(l));
  }
  $("show-params").checked = state.showParams;
  const sel = $("pipeline-select");
  sel.replaceChildren();
  for (const p of state.main.pipelines) html("option", { value: p.id, textContent: p.name, selected: p.id === state.main.selected_pipeline }, sel);
}

// describe indexes the pipeline's items, collapsed namespaces included.
function describe() {
  state.byId = new Map();
  state.byName = new Map();
  for (const n of state.main.nodes) {
    state.byId.set(n.id, n);
    state.byName.set(n.type + ":" + (n.full_name || n.name), n.id);
  }
  // Collapsed namespaces are drawn as items too: describe them from the
  // modular pipeline tree, with the tags of the nodes inside.
  for (const [ns, mp] of Object.entries(state.main.modular_pipelines)) {
    if (ns === "__root__") continue;
    const inside = state.main.nodes.filter((n) => n.type === "task" && (n.full_name === ns || n.full_name.startsWith(ns + ".")));
    const name = (id) => (state.byId.get(id) || { name: id }).name;
    state.byId.set(ns, {
      id: ns, name: ns, full_name: ns, type: "modularPipeline", size: inside.length,
      tags: [...new Set(inside.flatMap((n) => n.tags))], modular_pipelines: [],
      inputs: mp.inputs.map(name), outputs: mp.outputs.map(name),
    });
  }
}

// loadPipeline fetches one pipeline's graph and layouts and draws it.
async function loadPipeline(name) {
  const mainPath = name ? "api/pipelines/" + encodeURIComponent(name) : "api/main";
  state.pipeline = name;
  const [main, layouts] = await Promise.all([getJSON(mainPath), getJSON(api("api/layout"))]);
  state.main = main;
  state.layouts = layouts;
  if (!state.defaultPipeline) state.defaultPipeline = main.pipelines.length ? main.pipelines[0].id : main.selected_pipeline;
  state.pipeline = main.selected_pipeline === state.defaultPipeline ? "" : main.selected_pipeline;
  describe();
  $("pipeline").textContent = main.selected_pipeline;
  document.title = "mmc viz: " + main.selected_pipeline;
  const known = new Set(Object.keys(main.modular_pipelines));
  state.collapse = new Set([...state.collapse].filter((ns) => known.has(ns)));
  state.tags = new Set([...state.tags].filter((t) => main.tags.some((x) => x.id === t)));
  fillSidebar();
  await loadDatasets();
  await relayout();
}

async function switchPipeline(name) {
  closePanel();
  state.slice = null;
  showSlice();
  state.focus = null;
  $("focus-bar").hidden = true;
  try {
    await loadPipeline(name === state.defaultPipeline ? "" : name);
    writeURL();
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = "Could not load pipeline " + name + ": " + err.message;
  }
}

async function loadDatasets() {
  if (!state.features.previews) return;
  try { state.datasets = await getJSON(api("api/datasets")); } catch (err) { state.datasets = {}; }
}

// Runs: the list refreshes every few seconds; a shown run that is still
// going is read again every second, so statuses change as it runs.
async function listRuns() {
  let runs;
  try { runs = await getJSON("api/runs"); } catch (err) { return; }
  for (const id of ["run-select", "run-compare"]) {
    const sel = $(id), keep = sel.value;
    const first = sel.options[0];
    sel.replaceChildren(first);
    for (const r of runs) {
      const when = r.start ? new Date(r.start).toLocaleString() : "";
      html("option", { value: r.id, textContent: r.id + " · " + r.pipeline + " · " + r.status + (when ? " · " + when : "") }, sel);
    }
    sel.value = keep;
  }
  state.runList = runs;
}

async function showRun(id) {
  clearTimeout(state.runTimer);
  if (!id) {
    state.run = null;
    $("run-summary").textContent = "";
    writeURL();
    draw();
    return;
  }
  let run;
  try { run = await getJSON("api/runs/" + encodeURIComponent(id)); } catch (err) {
    $("run-summary").textContent = err.message;
    return;
  }
  if ($("run-select").value !== id) $("run-select").value = id;
  if (run.pipeline && run.pipeline !== state.main.selected_pipeline && state.main.pipelines.some((p) => p.id === run.pipeline)) {
    state.run = run;
    await switchPipeline(run.pipeline);
  }
  state.run = run;
  await loadDatasets();
  const counts = {};
  for (const n of Object.values(run.nodes || {})) counts[n.status] = (counts[n.status] || 0) + 1;
  $("run-summary").textContent = run.status + ": " + Object.entries(counts).map(([k, v]) => v + " " + k).join(", ") + (run.error ? " — " + run.error : "");
  writeURL();
  draw();
  if (state.selected) select(state.selected);
  compareLink();
  if (run.status === "running") state.runTimer = setTimeout(() => showRun(id), 1000);
}

function compareLink() {
  const a = $("run-select").value, b = $("run-compare").value;
  $("compare-link").hidden = !(a && b);
  $("compare-link").href = "compare.html?a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b);
}

// watchVersion reloads the page when the server's graphs change
// (--autoreload).
function watchVersion() {
  setInterval(async () => {
    let v;
    try { v = await getJSON("api/version"); } catch (err) { return; }
    if (v.version !== state.features.version) {
      $("reload-note").hidden = false;
      location.reload();
    }
  }, 1500);
}

async function main() {
  readURL();
  try {
    const v = await getJSON("api/version");
    state.features = { runs: v.runs, previews: v.previews, autoreload: v.autoreload, version: v.version };
  } catch (err) {
    // A static build: the graph only.
  }
  setupControls();
  try {
    await loadPipeline(state.pipeline);
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = "Could not load the graph: " + err.message;
    return;
  }
  if (state.features.autoreload) watchVersion();
  if (state.features.runs) {
    $("runs-section").hidden = false;
    await listRuns();
    setInterval(listRuns, 3000);
    if (state.runId) await showRun(state.runId);
  }
  document.body.dataset.ready = "1";
}

main();
