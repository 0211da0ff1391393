// mmc viz compare page: two runs side by side — the parameters that
// differ, their metrics, and their training curves overlaid.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const COLOURS = ["#2b63a6", "#d35400"];

async function getJSON(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(path + ": " + res.status + " " + (await res.text()).trim());
  return res.json();
}

function html(name, props, parent) {
  const e = document.createElement(name);
  Object.assign(e, props || {});
  if (parent) parent.appendChild(e);
  return e;
}

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// flatten turns nested parameters into dotted keys with JSON values.
function flatten(v, prefix, out) {
  if (v && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? prefix + "." + k : k, out);
  } else {
    out[prefix] = JSON.stringify(v);
  }
  return out;
}

function row(table, cells, head) {
  const tr = html("tr", {}, table);
  for (const c of cells) {
    const td = html(head ? "th" : "td", {}, tr);
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined ? "—" : c;
  }
  return tr;
}

function fmt(x) {
  return x === undefined ? "—" : +x.toPrecision(5) + "";
}

// lowerIsBetter guesses a metric's direction from its name.
const lowerIsBetter = (k) => /loss|error|seconds|time/i.test(k);

function draw(a, b) {
  document.title = "mmc viz: " + a.id + " vs " + b.id;
  $("title").textContent = a.id + " vs " + b.id;
  const runs = $("runs");
  runs.replaceChildren();
  row(runs, ["", "A", "B"], true);
  row(runs, ["id", a.id, b.id]);
  row(runs, ["pipeline", a.pipeline, b.pipeline]);
  row(runs, ["status", a.status, b.status]);
  row(runs, ["started", a.start ? new Date(a.start).toLocaleString() : "", b.start ? new Date(b.start).toLocaleString() : ""]);

  const pa = flatten(a.params || {}, "", {}), pb = flatten(b.params || {}, "", {});
  const params = $("params");
  params.replaceChildren();
  row(params, ["parameter", "A", "B"], true);
  const keys = [...new Set([...Object.keys(pa), ...Object.keys(pb)])].sort();
  let differ = 0;
  for (const k of keys) {
    if (pa[k] === pb[k]) continue;
    differ++;
    row(params, [k, pa[k], pb[k]]).className = "differs";
  }
  if (!differ) row(params, ["(none: the runs used the same parameters)", "", ""]);

  const metrics = $("metrics");
  metrics.replaceChildren();
  row(metrics, ["metric", "A", "B", "B − A"], true);
  const mk = [...new Set([...Object.keys(a.metrics || {}), ...Object.keys(b.metrics || {})])].sort();
  for (const k of mk) {
    const x = (a.metrics || {})[k], y = (b.metrics || {})[k];
    const tr = row(metrics, [k, fmt(x), fmt(y), x === undefined || y === undefined ? "—" : fmt(y - x)]);
    for (const td of [...tr.children].slice(1)) td.className = "num";
    if (x !== undefined && y !== undefined && x !== y) {
      tr.children[3].classList.add((y > x) !== lowerIsBetter(k) ? "better" : "worse");
    }
  }
  if (!mk.length) row(metrics, ["(no metrics kept by either run)", "", "", ""]);

  const curves = $("curves");
  curves.replaceChildren();
  const qs = [...new Set([...Object.keys(a.history || {}), ...Object.keys(b.history || {})])].sort()
    .filter((q) => /loss|auroc|acc|f1|lr/i.test(q));
  for (const q of qs) {
    const lines = [[a, (a.history || {})[q]], [b, (b.history || {})[q]]].filter(([, v]) => v && v.length);
    const all = lines.flatMap(([, v]) => v);
    const lo = Math.min(...all), hi = Math.max(...all), n = Math.max(...lines.map(([, v]) => v.length));
    const W = 360, H = 160, P = 28;
    const svg = el("svg", { class: "chart", viewBox: "0 0 " + W + " " + H }, curves);
    svg.dataset.quantity = q;
    el("text", { x: P, y: 13 }, svg).textContent = q + "  [" + fmt(lo) + " … " + fmt(hi) + "]";
    lines.forEach(([run, v]) => {
      const i = run === a ? 0 : 1;
      const pts = v.map((y, j) => (P + (n > 1 ? j / (n - 1) : 0.5) * (W - 2 * P)).toFixed(1) + "," +
        (H - P + 10 - (hi > lo ? (y - lo) / (hi - lo) : 0.5) * (H - 2 * P)).toFixed(1));
      const pl = el("polyline", { points: pts.join(" "), stroke: COLOURS[i] }, svg);
      pl.dataset.run = run.id;
      el("text", { x: W - P - 110, y: 28 + 12 * i, fill: COLOURS[i] }, svg).textContent = (i ? "B " : "A ") + run.id;
    });
    el("text", { x: P, y: H - 4 }, svg).textContent = "epoch 1 … " + n;
  }
  if (!qs.length) html("p", { textContent: "Neither run kept a training history." }, curves);
  document.body.dataset.ready = "1";
}

async function main() {
  const q = new URLSearchParams(location.search);
  let list = [];
  try { list = await getJSON("api/runs"); } catch (err) { /* shown below */ }
  for (const id of ["a", "b"]) {
    const sel = $(id);
    for (const r of list) html("option", { value: r.id, textContent: r.id + " · " + r.pipeline + " · " + r.status }, sel);
    sel.addEventListener("change", () => {
      const u = new URLSearchParams({ a: $("a").value, b: $("b").value });
      location.search = "?" + u.toString();
    });
  }
  const a = q.get("a") || (list[1] || {}).id, b = q.get("b") || (list[0] || {}).id;
  if (!a || !b) {
    $("error").hidden = false;
    $("error").textContent = "Pick two runs to compare (run a pipeline twice to have two).";
    return;
  }
  $("a").value = a;
  $("b").value = b;
  try {
    const [ra, rb] = await Promise.all([getJSON("api/runs/" + encodeURIComponent(a)), getJSON("api/runs/" + encodeURIComponent(b))]);
    draw(ra, rb);
  } catch (err) {
    $("error").hidden = false;
    $("error").textContent = "Could not read the runs: " + err.message;
  }
}

main();
