// mmc viz: draws the server's precomputed layout as SVG. Data comes from
// api/main (Kedro-Viz shape), api/layout and api/nodes/<id>; paths are
// relative so the same page works when served and as a static build.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const state = {
  main: null, layouts: null, byId: new Map(), byName: new Map(),
  showParams: false, tags: new Set(), selected: null, search: "",
  slice: null, // {from, to, ids: Set} after a shift-click
  collapse: new Set(), // namespaces drawn as one box
  view: { x: 0, y: 0, k: 1 },
};

async function getJSON(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(path + ": " + res.status + " " + res.statusText);
  return res.json();
}

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function readURL() {
  const q = new URLSearchParams(location.search);
  state.showParams = q.get("params") === "1";
  state.tags = new Set((q.get("tags") || "").split(",").filter(Boolean));
  state.collapse = new Set((q.get("collapse") || "").split(",").filter(Boolean));
}

function writeURL() {
  const q = new URLSearchParams();
  if (state.showParams) q.set("params", "1");
  if (state.tags.size) q.set("tags", [...state.tags].join(","));
  if (state.collapse.size) q.set("collapse", [...state.collapse].join(","));
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

// reach returns the IDs reachable from id along edges (forward or back).
function reach(id, forward) {
  const next = new Map();
  for (const e of state.main.edges) {
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
  $("slice-command").textContent = state.slice ? state.slice.command : "";
  for (const g of document.querySelectorAll(".item")) {
    g.classList.toggle("sliced", !!state.slice && state.slice.ids.has(g.dataset.id));
  }
}

// curve joins bend points with horizontal-tangent cubic segments.
function curve(points) {
  let d = "M" + points[0].x + "," + points[0].y;
  for (let i = 1; i < points.length; i++) {
    const p = points[i - 1], q = points[i], dx = (q.x - p.x) / 2;
    d += " C" + (p.x + dx) + "," + p.y + " " + (q.x - dx) + "," + q.y + " " + q.x + "," + q.y;
  }
  return d;
}

// layout returns the layout to draw: one of the precomputed expanded
// ones, or, with namespaces collapsed, one the server computes on demand
// (a static build has only the expanded ones).
async function layout() {
  if (!state.collapse.size) return state.showParams ? state.layouts.with_params : state.layouts.without_params;
  const q = "params=" + (state.showParams ? "1" : "0") + "&collapse=" + encodeURIComponent([...state.collapse].join(","));
  try {
    $("error").hidden = true;
    return await getJSON("api/layout/view?" + q);
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = "Collapsing namespaces needs the live viewer (go run . viz): " + err.message;
    state.collapse.clear();
    writeURL();
    return layout();
  }
}

// relayout fetches the layout for the current settings and draws it.
async function relayout() {
  state.current = await layout();
  draw();
  for (const box of document.querySelectorAll(".ns-toggle")) box.checked = state.current.collapsed.includes(box.value);
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
  const edges = el("g", {}, vp);
  for (const p of lay.paths) {
    const src = state.byId.get(p.source), dst = state.byId.get(p.target);
    const path = el("path", { class: "edge", d: curve(p.points) }, edges);
    path.dataset.source = p.source;
    path.dataset.target = p.target;
    if (!tagged(src) || !tagged(dst)) path.classList.add("dim");
  }
  const items = el("g", {}, vp);
  for (const b of lay.boxes) {
    const node = state.byId.get(b.id);
    const g = el("g", { class: "item " + b.type, transform: "translate(" + b.x + "," + b.y + ")" }, items);
    g.dataset.id = b.id;
    if (node.in_memory) g.classList.add("memory");
    if (!tagged(node)) g.classList.add("dim");
    if (b.id === state.selected) g.classList.add("selected");
    const r = b.type === "data" ? b.h / 2 : 4;
    el("rect", { width: b.w, height: b.h, rx: r, ry: r }, g);
    el("text", { x: b.w / 2, y: b.h / 2 + 4, "text-anchor": "middle" }, g).textContent = b.name;
    const title = el("title", {}, g);
    title.textContent = node.full_name || node.name;
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
}

function fit() {
  const lay = state.current, box = $("graph").getBoundingClientRect();
  if (!lay || !box.width) return;
  const k = Math.min(1.5, box.width / lay.width, box.height / lay.height);
  state.view = { k, x: (box.width - lay.width * k) / 2, y: (box.height - lay.height * k) / 2 };
  applyView();
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
// dataset names (shown as links), or an object (shown as JSON).
function field(term, value, kind) {
  if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) return;
  const body = $("panel-body");
  const dt = document.createElement("dt");
  dt.textContent = term;
  body.appendChild(dt);
  const dd = document.createElement("dd");
  if (Array.isArray(value) && kind) {
    value.forEach((name, i) => {
      const a = document.createElement("a");
      a.textContent = name;
      const id = state.byName.get(kind + ":" + name);
      if (id) a.addEventListener("click", () => select(id));
      dd.appendChild(a);
      if (i < value.length - 1) dd.appendChild(document.createTextNode(", "));
    });
  } else if (typeof value === "object") {
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(value, null, 2);
    dd.appendChild(pre);
  } else {
    dd.textContent = String(value);
  }
  body.appendChild(dd);
}

async function select(id) {
  state.selected = id;
  for (const g of document.querySelectorAll(".item")) g.classList.toggle("selected", g.dataset.id === id);
  highlight();
  let n = state.byId.get(id);
  if (n.type !== "modularPipeline") {
    try {
      n = await getJSON("api/nodes/" + encodeURIComponent(id));
    } catch (err) {
      // A static build without node files: the summary in /api/main will do.
    }
  }
  $("panel-title").textContent = n.full_name || n.name;
  $("panel-body").replaceChildren();
  field("Type", { data: "dataset", task: "node", parameters: "parameters", modularPipeline: "namespace (collapsed)" }[n.type]);
  field("Function", n.func);
  field("Source", n.source);
  field("Namespace", (n.modular_pipelines || []).join(", "));
  field("Tags", (n.tags || []).join(", "));
  field("Inputs", n.inputs, "data");
  field("Outputs", n.outputs, "data");
  field("Parameters", n.parameters);
  if (n.type === "task") field("Run command", "go run . run --pipeline=" + state.main.selected_pipeline + " --nodes=" + n.full_name);
  field("Dataset type", n.dataset_type);
  field("File path", n.filepath);
  field("Layer", n.layer);
  field("Role", n.role ? n.role.replace("_", " ") : "");
  if (n.in_memory) field("Storage", "in memory (exists only during a run)");
  if (n.type === "parameters") field("Value", n.value === undefined ? "(not set)" : n.value);
  if (n.type === "modularPipeline") field("Nodes inside", String(n.size));
  $("expand").hidden = n.type !== "modularPipeline";
  $("panel").hidden = false;
}

function sidebar() {
  const tags = $("tags");
  if (state.main.tags.length) tags.replaceChildren();
  for (const t of state.main.tags) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.tags.has(t.id);
    box.addEventListener("change", () => {
      if (box.checked) state.tags.add(t.id); else state.tags.delete(t.id);
      writeURL();
      draw();
    });
    label.append(box, " " + t.name);
    tags.appendChild(label);
  }
  const nss = Object.keys(state.main.modular_pipelines).filter((k) => k !== "__root__").sort();
  $("namespaces-section").hidden = !nss.length;
  for (const ns of nss) {
    const label = document.createElement("label");
    label.style.setProperty("--depth", ns.split(".").length - 1);
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "ns-toggle";
    box.value = ns;
    box.addEventListener("change", () => {
      if (box.checked) state.collapse.add(ns); else state.collapse.delete(ns);
      writeURL();
      relayout();
    });
    label.append(box, " " + ns.split(".").pop());
    label.title = ns;
    $("namespaces").appendChild(label);
  }
  $("expand").addEventListener("click", () => {
    state.collapse.delete(state.selected);
    closePanel();
    writeURL();
    relayout();
  });
  const layers = $("layers");
  for (const l of state.main.layers) {
    const li = document.createElement("li");
    li.textContent = l;
    layers.appendChild(li);
  }
  const params = $("show-params");
  params.checked = state.showParams;
  params.addEventListener("change", async () => {
    state.showParams = params.checked;
    writeURL();
    await relayout();
    fit();
  });
  $("fit").addEventListener("click", fit);
  $("search").addEventListener("input", () => {
    state.search = $("search").value.trim().toLowerCase();
    draw();
  });
  $("slice-reset").addEventListener("click", () => {
    state.slice = null;
    draw();
    showSlice();
  });
  $("close").addEventListener("click", closePanel);
}

async function main() {
  readURL();
  try {
    [state.main, state.layouts] = await Promise.all([getJSON("api/main"), getJSON("api/layout")]);
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = "Could not load the graph: " + err.message;
    return;
  }
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
  $("pipeline").textContent = state.main.selected_pipeline;
  document.title = "mmc viz: " + state.main.selected_pipeline;
  sidebar();
  setupPanZoom();
  await relayout();
  fit();
  window.addEventListener("resize", fit);
}

main();
