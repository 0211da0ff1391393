// pagecheck runs the viewer's app.js under Node against a live server,
// with a small stand-in for the browser DOM (no browser is needed), then
// drives the page as a user would and prints what it saw as JSON.
//
// usage: node pagecheck.js BASE_URL INDEX_HTML APP_JS
"use strict";

const fs = require("fs");
const vm = require("vm");
const [base, indexPath, appPath] = process.argv.slice(2);

class El {
  constructor(tag) {
    this.tagName = tag;
    this.children = [];
    this.attrs = {};
    this.dataset = {};
    this.listeners = {};
    this.hidden = false;
    this.checked = false;
    this._text = "";
    this.style = { props: {}, setProperty(k, v) { this.props[k] = String(v); } };
    const classes = new Set();
    this.classList = {
      add: (...c) => c.forEach((x) => classes.add(x)),
      remove: (...c) => c.forEach((x) => classes.delete(x)),
      toggle: (c, on) => {
        const want = on === undefined ? !classes.has(c) : !!on;
        if (want) classes.add(c); else classes.delete(c);
        return want;
      },
      contains: (c) => classes.has(c),
      _set: classes,
    };
  }
  setAttribute(k, v) {
    if (k === "class") {
      this.classList._set.clear();
      String(v).split(/\s+/).filter(Boolean).forEach((c) => this.classList._set.add(c));
    }
    this.attrs[k] = String(v);
  }
  getAttribute(k) { return this.attrs[k]; }
  get className() { return [...this.classList._set].join(" "); }
  set className(v) { this.setAttribute("class", v); }
  appendChild(c) { this.children.push(c); c.parent = this; return c; }
  append(...cs) { cs.forEach((c) => this.appendChild(typeof c === "string" ? new Text(c) : c)); }
  replaceChildren(...cs) { this.children = []; this._text = ""; this.append(...cs); }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  set textContent(v) { this.children = []; this._text = String(v); }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  fire(type, ev) { for (const fn of this.listeners[type] || []) fn(Object.assign({ stopPropagation() {}, preventDefault() {} }, ev)); }
  getBoundingClientRect() { return { left: 0, top: 0, width: 1200, height: 700 }; }
  *walk() { yield this; for (const c of this.children) if (c instanceof El) yield* c.walk(); }
}
class Text { constructor(s) { this.textContent = s; } }

const html = fs.readFileSync(indexPath, "utf8");
const byId = new Map();
for (const m of html.matchAll(/<(\w+)[^>]*\bid="([^"]+)"/g)) {
  const e = new El(m[1]);
  e.id = m[2];
  if (/\bhidden\b/.test(m[0])) e.hidden = true;
  byId.set(m[2], e);
}
const missing = new Set();
const document = {
  title: "",
  getElementById(id) {
    if (!byId.has(id)) { missing.add(id); byId.set(id, new El("div")); }
    return byId.get(id);
  },
  createElementNS: (ns, tag) => new El(tag),
  createElement: (tag) => new El(tag),
  createTextNode: (s) => new Text(s),
  querySelectorAll(sel) {
    const want = sel.split(".").filter(Boolean);
    const out = [];
    for (const root of byId.values()) {
      for (const e of root.walk()) if (want.every((c) => e.classList.contains(c)) && !out.includes(e)) out.push(e);
    }
    return out;
  },
};
const urls = [];
const ctx = {
  document, console, URLSearchParams, JSON, Math, Promise, Object, Array, String, Set, Map, Error,
  location: { search: "", pathname: "/" },
  history: { replaceState: (s, t, u) => urls.push(u) },
  window: { addEventListener() {} },
  fetch: (p) => fetch(new URL(p, base)),
  setTimeout,
};
vm.createContext(ctx);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const $ = (id) => byId.get(id);
const items = () => [...$("viewport").walk()].filter((e) => e.classList.contains("item"));
const label = (g) => g.children.find((c) => c.tagName === "text").textContent;
const edges = () => [...$("viewport").walk()].filter((e) => e.classList.contains("edge"));

(async () => {
  vm.runInContext(fs.readFileSync(appPath, "utf8"), ctx, { filename: "app.js" });
  for (let i = 0; i < 500 && !$("counts").textContent; i++) await sleep(20);
  const out = { missingIds: [...missing], error: $("error").hidden ? "" : $("error").textContent };
  out.pipeline = $("pipeline").textContent;
  out.counts = $("counts").textContent;
  out.items = items().length;
  out.edges = edges().length;
  out.labels = items().map(label).sort();
  out.bands = [...$("viewport").walk()].filter((e) => e.classList.contains("band")).map((b) => b.textContent);
  out.transform = $("viewport").getAttribute("transform") || "";

  // Click the "train" node: the details panel opens with its source.
  const train = items().find((g) => label(g) === "train");
  train.fire("click");
  for (let i = 0; i < 500 && $("panel").hidden; i++) await sleep(20);
  await sleep(20);
  out.panelHidden = $("panel").hidden;
  out.panelTitle = $("panel-title").textContent;
  out.panelTerms = $("panel-body").children.filter((c) => c.tagName === "dt").map((c) => c.textContent);
  out.panelText = $("panel-body").textContent;
  out.selected = items().filter((g) => g.classList.contains("selected")).map(label);
  out.nearEdges = edges().filter((e) => e.classList.contains("near")).length;

  // Tag filter: tick "text"; items without the tag are dimmed.
  const box = [...$("tags").walk()].find((e) => e.tagName === "input" && e.parent.textContent.trim() === "text");
  box.checked = true;
  box.fire("change");
  out.dimmedWithTextTag = items().filter((g) => g.classList.contains("dim")).length;
  out.undimmedWithTextTag = items().filter((g) => !g.classList.contains("dim")).map(label).sort();
  box.checked = false;
  box.fire("change");

  // Search: only names containing "feat" stay bright.
  $("search").value = " Feat";
  $("search").fire("input");
  out.searchKept = items().filter((g) => !g.classList.contains("dim")).map(label).sort();
  $("search").value = "";
  $("search").fire("input");

  // Slice: select history, shift-click memes (upstream): the run command
  // covers what lies between, whichever end was clicked first.
  const byLabel = (name) => items().find((g) => label(g) === name);
  byLabel("history").fire("click");
  await sleep(50);
  byLabel("memes").fire("click", { shiftKey: true });
  out.sliceCommand = $("slice").hidden ? "" : $("slice-command").textContent;
  out.sliceKept = items().filter((g) => !g.classList.contains("dim")).map(label).sort();
  $("slice-reset").fire("click");
  out.sliceReset = $("slice").hidden && items().every((g) => !g.classList.contains("dim"));

  // Parameters toggle: four more items.
  $("show-params").checked = true;
  $("show-params").fire("change");
  for (let i = 0; i < 500 && items().length === out.items; i++) await sleep(20);
  out.itemsWithParams = items().length;

  // Collapse the "features" namespace: the server lays out the view; the
  // box opens a panel whose button expands it again.
  const nsBox = [...$("namespaces").walk()].find((e) => e.tagName === "input" && e.value === "features");
  out.namespacesShown = !$("namespaces-section").hidden && !!nsBox;
  nsBox.checked = true;
  nsBox.fire("change");
  for (let i = 0; i < 500 && !items().some((g) => label(g) === "features"); i++) await sleep(20);
  const nsItem = items().find((g) => label(g) === "features");
  out.collapsedItems = items().length;
  out.collapsedIsBox = !!nsItem && nsItem.classList.contains("modularPipeline");
  nsItem.fire("click");
  await sleep(50);
  out.nsPanelTitle = $("panel-title").textContent;
  out.nsPanelText = $("panel-body").textContent;
  out.expandShown = !$("expand").hidden;
  $("expand").fire("click");
  for (let i = 0; i < 500 && items().some((g) => label(g) === "features"); i++) await sleep(20);
  out.expandedItems = items().length;
  out.urls = urls;

  // Wheel zoom changes the scale.
  const before = $("viewport").getAttribute("transform");
  $("graph").fire("wheel", { deltaY: -200, clientX: 100, clientY: 100 });
  out.zoomed = $("viewport").getAttribute("transform") !== before;
  console.log(JSON.stringify(out));
})().catch((err) => { console.log(JSON.stringify({ crash: String(err && err.stack || err) })); });
