package viz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's chromium through the DevTools protocol
// (chromedp), as a person would use the page. scripts/bootstrap.sh installs
// chromium; where it is absent the tests skip and say so.

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where browser tests leave their screenshots: $VIZ_SCREENSHOTS,
// or mmc-viz-screenshots under the system temp directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("VIZ_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "mmc-viz-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot dir %s: %v", dir, err)
	}
	return dir
}

// browser starts a headless chromium with a fresh profile and returns a
// tab context that ends with the test. The window is 1400 × 900 CSS px.
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	path := os.Getenv("VIZ_CHROMIUM")
	if path == "" {
		path = chromiumPath
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("browser tests need chromium at %s (run scripts/bootstrap.sh, which installs Debian's chromium package, or set VIZ_CHROMIUM): %v", path, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	// One deadline for the whole browser: a hung page ends the test.
	ctx, cancelC := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium %s: %v", path, err)
	}
	return ctx
}

// do runs browser actions, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds or 15 s pass.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			shot(t, ctx, "timeout-"+strings.ReplaceAll(t.Name(), "/", "-"))
			t.Fatalf("waiting for %s (%s): err %v", what, cond, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shot saves a screenshot of the viewport as name.png and logs its path.
func shot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(screenshotDir(t), name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	t.Logf("screenshot: %s", p)
	return p
}

// defaultGraph is the project's __default__ pipeline as `go run . viz
// --format json` printed it (testdata/default_main.json), turned back into
// a Graph.
func defaultGraph(t testing.TB) Graph {
	t.Helper()
	b, err := os.ReadFile("testdata/default_main.json")
	if err != nil {
		t.Fatal(err)
	}
	var m MainResponse
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("testdata/default_main.json: %v", err)
	}
	return graphFromMain(m)
}

// graphFromMain rebuilds the Graph an /api/main response was made from.
func graphFromMain(m MainResponse) Graph {
	g := Graph{Name: m.SelectedPipeline}
	for _, n := range m.Nodes {
		switch n.Type {
		case KindTask:
			node := Node{Name: n.FullName, Tags: n.Tags, Func: n.Func, Source: n.Source, Inputs: n.Inputs, Outputs: n.Outputs}
			if len(n.ModularPipelines) > 0 {
				node.Namespace = n.ModularPipelines[len(n.ModularPipelines)-1]
			}
			for k := range n.Parameters {
				node.Params = append(node.Params, k)
			}
			g.Nodes = append(g.Nodes, node)
		case KindData:
			g.Datasets = append(g.Datasets, Dataset{Name: n.Name, Type: n.DatasetType, Filepath: n.Filepath, Layer: n.Layer, InMemory: n.InMemory})
		case KindParameters:
			g.Params = append(g.Params, Param{Key: strings.TrimPrefix(n.Name, ParamPrefix), Value: n.Value})
		}
	}
	return g
}

// page serves h and opens its page in a fresh browser tab, waiting until
// the graph is drawn.
func page(t *testing.T, h any, query string) (context.Context, string) {
	t.Helper()
	var srv *httptest.Server
	switch h := h.(type) {
	case Graph:
		handler, err := Handler(h)
		if err != nil {
			t.Fatal(err)
		}
		srv = httptest.NewServer(handler)
	case *Server:
		srv = httptest.NewServer(h.Handler())
	default:
		t.Fatalf("page: unsupported %T", h)
	}
	t.Cleanup(srv.Close)
	ctx := browser(t)
	baseURLs.Store(ctx, srv.URL)
	do(t, ctx, "opening the page", chromedp.Navigate(srv.URL+"/"+query))
	waitFor(t, ctx, "the graph to be drawn", `document.querySelectorAll("#viewport .item").length > 0`)
	return ctx, srv.URL
}

func TestBrowserDefaultPipelineReadsAtFirstSight(t *testing.T) {
	g := defaultGraph(t)
	ctx, _ := page(t, g, "")
	shot(t, ctx, "default-first-view")
	type label struct {
		Text    string  `json:"text"`
		Font    float64 `json:"font"`
		Height  float64 `json:"height"`
		Visible bool    `json:"visible"`
	}
	labels := eval[[]label](t, ctx, `(() => {
		const k = state.view.k, main = document.getElementById("canvas").getBoundingClientRect();
		return [...document.querySelectorAll("#viewport .item text")].map((e) => {
			const r = e.getBoundingClientRect();
			return {text: e.textContent, font: parseFloat(getComputedStyle(e).fontSize) * k, height: r.height,
				visible: r.right > main.left && r.left < main.right && r.bottom > main.top && r.top < main.bottom};
		});
	})()`)
	if len(labels) == 0 {
		t.Fatal("no labels drawn")
	}
	visible := 0
	for _, l := range labels {
		if l.Font < 10 || l.Height < 10 {
			t.Errorf("label %q is %.1f px (font) / %.1f px (box) high at the first view, want ≥ 10", l.Text, l.Font, l.Height)
		}
		if l.Visible {
			visible++
		}
	}
	if visible < 5 {
		t.Errorf("only %d labels on screen at the first view", visible)
	}
}

// text returns the text of the element matching a CSS selector ("" when
// there is none).
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return eval[string](t, ctx, `(document.querySelector(`+jsString(sel)+`) || {}).textContent || ""`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// clickItem clicks the drawn box of the item with the given full name.
func clickItem(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sel := `#viewport .item[data-name=` + jsString(name) + `]`
	waitFor(t, ctx, "item "+name, `document.querySelector(`+jsString(sel)+`)`)
	eval[bool](t, ctx, `(document.querySelector(`+jsString(sel)+`).dispatchEvent(new MouseEvent("click", {bubbles: true})), true)`)
}

// labels returns the drawn labels, sorted.
func labels(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return eval[[]string](t, ctx, `[...document.querySelectorAll("#viewport .item text.label")].map((e) => e.textContent).sort()`)
}

func TestBrowserLooksRight(t *testing.T) {
	ctx, _ := page(t, defaultGraph(t), "")
	// Labels are text, not outlined in their box's colour; the legend's
	// swatches are filled.
	type style struct{ Stroke, Fill, SwatchBg, SwatchBorder, TitleBreak string }
	st := eval[style](t, ctx, `(() => {
		const tx = getComputedStyle(document.querySelector("#viewport .item.task text.label"));
		const sw = getComputedStyle(document.querySelector(".swatch.task"));
		return {Stroke: tx.stroke, Fill: tx.fill, SwatchBg: sw.backgroundColor, SwatchBorder: sw.borderTopColor,
			TitleBreak: getComputedStyle(document.getElementById("panel-title")).wordBreak};
	})()`)
	if st.Stroke != "none" {
		t.Errorf("labels are stroked: %q", st.Stroke)
	}
	if st.SwatchBg == "rgba(0, 0, 0, 0)" || st.SwatchBg == "transparent" {
		t.Errorf("legend swatch for nodes is empty (background %s)", st.SwatchBg)
	}
	if st.TitleBreak == "break-all" {
		t.Error("panel title breaks words anywhere")
	}
	// Short names inside namespaces, full name on hover.
	got := labels(t, ctx)
	if !slices.Contains(got, "train_model") || slices.Contains(got, "vilbert_synthetic_train.train_model") {
		t.Errorf("labels %v: want short names inside the namespace", got)
	}
	hover := eval[string](t, ctx, `document.querySelector('#viewport .item[data-name="vilbert_synthetic_train.train_model"] > title').textContent`)
	if hover != "vilbert_synthetic_train.train_model" {
		t.Errorf("hover text %q, want the full name", hover)
	}
	// The panel title of a long name wraps at dots and underscores only.
	clickItem(t, ctx, "vilbert_synthetic_train.plot_training_curves")
	waitFor(t, ctx, "panel", `!document.getElementById("panel").hidden && document.getElementById("panel-title").textContent.includes("plot_training_curves")`)
	if n := eval[int](t, ctx, `document.querySelectorAll("#panel-title wbr").length`); n < 3 {
		t.Errorf("panel title has %d break points, want one after each dot and underscore", n)
	}
	shot(t, ctx, "default-panel")
}

func TestBrowserGraphPanelAndControls(t *testing.T) {
	g := sampleGraph()
	g.Nodes[3].Code = "func Train(p Params) error {\n\treturn nil\n}"
	ctx, _ := page(t, g, "")
	if c := text(t, ctx, "#counts"); c != "11 items, 12 edges" {
		t.Errorf("counts %q", c)
	}
	want := []string{"curve", "tokens", "history", "image", "memes", "model", "regions", "report", "text", "train", "generate"}
	slices.Sort(want)
	if got := labels(t, ctx); !slices.Equal(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
	clickItem(t, ctx, "train")
	waitFor(t, ctx, "the panel of train", `document.getElementById("panel-title").textContent === "train" && document.getElementById("panel-body").textContent.includes("Code")`)
	body := text(t, ctx, "#panel-body")
	for _, s := range []string{"mmc/nodes.Train", "nodes/train.go:40", "features.tokens", `"lr": 0.00005`, "--nodes=train", "func Train(p Params) error"} {
		if !strings.Contains(body, s) {
			t.Errorf("panel lacks %q: %s", s, body)
		}
	}
	if n := eval[int](t, ctx, `document.querySelectorAll(".edge.near").length`); n != 5 {
		t.Errorf("%d edges highlighted around train, want 5", n)
	}
	// Copy the run command.
	eval[bool](t, ctx, `(document.querySelector("#panel-body button.copy").click(), true)`)
	waitFor(t, ctx, "the copy", `window.__copied === "go run . run --pipeline=__default__ --nodes=train"`)
	shot(t, ctx, "sample-panel")
	// Focus mode keeps what leads to and from train.
	eval[bool](t, ctx, `(document.getElementById("focus").click(), true)`)
	waitFor(t, ctx, "focus mode", `!document.getElementById("focus-bar").hidden`)
	if n := eval[int](t, ctx, `document.querySelectorAll("#viewport .item:not(.hidden-focus)").length`); n != 11 {
		t.Errorf("focus on train shows %d items, want all 11 (everything leads to or from it)", n)
	}
	eval[bool](t, ctx, `(window.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"})), true)`)
	waitFor(t, ctx, "Escape to leave focus mode", `document.getElementById("focus-bar").hidden`)
	// Tag filter and search dim the rest.
	eval[bool](t, ctx, `(() => { const b = [...document.querySelectorAll("#tags input")].find((i) => i.parentNode.textContent.trim() === "text"); b.click(); return true; })()`)
	if n := eval[int](t, ctx, `document.querySelectorAll("#viewport .item.dim").length`); n != 8 {
		t.Errorf("tag text dims %d items, want 8", n)
	}
	eval[bool](t, ctx, `(() => { const b = [...document.querySelectorAll("#tags input")].find((i) => i.parentNode.textContent.trim() === "text"); b.click(); return true; })()`)
	// Parameters toggle.
	eval[bool](t, ctx, `(document.getElementById("show-params").click(), true)`)
	waitFor(t, ctx, "parameters drawn", `document.querySelectorAll("#viewport .item.parameters").length === 4`)
	if !strings.Contains(eval[string](t, ctx, `location.search`), "params=1") {
		t.Error("URL does not keep the parameter toggle")
	}
	// Zoom with the wheel.
	k0 := eval[float64](t, ctx, `state.view.k`)
	eval[bool](t, ctx, `(document.getElementById("graph").dispatchEvent(new WheelEvent("wheel", {deltaY: -300, clientX: 600, clientY: 300, bubbles: true, cancelable: true})), true)`)
	if k1 := eval[float64](t, ctx, `state.view.k`); k1 <= k0 {
		t.Errorf("wheel did not zoom in: %v → %v", k0, k1)
	}
	// Export: SVG and PNG of the whole drawing.
	eval[bool](t, ctx, `(document.getElementById("export-svg").click(), true)`)
	svg := eval[string](t, ctx, `window.__lastExport.text`)
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, ">train<") || !strings.Contains(svg, "<style>") {
		t.Errorf("SVG export: %.200s", svg)
	}
	eval[bool](t, ctx, `(document.getElementById("export-png").click(), true)`)
	waitFor(t, ctx, "PNG export", `window.__lastExport && window.__lastExport.type === "png"`)
	if size := eval[int](t, ctx, `window.__lastExport.size`); size < 1000 {
		t.Errorf("PNG export is %d bytes", size)
	}
}

func TestBrowserCollapseNamespace(t *testing.T) {
	ctx, _ := page(t, defaultGraph(t), "")
	before := eval[int](t, ctx, `document.querySelectorAll("#viewport .item").length`)
	eval[bool](t, ctx, `(document.querySelector('.ns-toggle[value="vilbert_synthetic_train"]').click(), true)`)
	waitFor(t, ctx, "the collapsed box", `document.querySelector("#viewport .item.modularPipeline")`)
	shot(t, ctx, "default-collapsed")
	got := labels(t, ctx)
	// The namespace's terminal outputs stay outside its box, joined to it.
	for _, want := range []string{"vilbert_synthetic_train", "submission", "roc_curve", "test_metrics", "training_curves"} {
		if !slices.Contains(got, want) {
			t.Errorf("collapsed view lacks %q: %v", want, got)
		}
	}
	out := eval[int](t, ctx, `document.querySelectorAll('#viewport .edge[data-source="vilbert_synthetic_train"]').length`)
	if out != 4 {
		t.Errorf("collapsed namespace has %d outgoing edges, want its outputs", out)
	}
	after := eval[int](t, ctx, `document.querySelectorAll("#viewport .item").length`)
	if after >= before {
		t.Errorf("collapse drew %d items, was %d", after, before)
	}
	// The view was fitted again: the box is on screen.
	onScreen := eval[bool](t, ctx, `(() => { const r = document.querySelector("#viewport .item.modularPipeline").getBoundingClientRect(), c = document.getElementById("canvas").getBoundingClientRect();
		return r.left >= c.left && r.right <= c.right && r.top >= c.top && r.bottom <= c.bottom; })()`)
	if !onScreen {
		t.Error("the collapsed namespace is off screen after collapsing")
	}
	eval[bool](t, ctx, `(document.getElementById("expand-all").click(), true)`)
	waitFor(t, ctx, "expanded again", `!document.querySelector("#viewport .item.modularPipeline")`)
	eval[bool](t, ctx, `(document.getElementById("collapse-all").click(), true)`)
	waitFor(t, ctx, "collapse all", `document.querySelector("#viewport .item.modularPipeline")`)
}

func TestBrowserSwitchPipeline(t *testing.T) {
	other := Graph{Name: "report_only", Nodes: []Node{{Name: "report", Inputs: []string{"history"}, Outputs: []string{"curve"}}}}
	s, err := NewServer(Options{Pipelines: []Graph{defaultGraph(t), other}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := page(t, s, "")
	opts := eval[[]string](t, ctx, `[...document.querySelectorAll("#pipeline-select option")].map((o) => o.value)`)
	if !slices.Equal(opts, []string{"__default__", "report_only"}) {
		t.Fatalf("pipeline selector offers %v", opts)
	}
	eval[bool](t, ctx, `(() => { const s = document.getElementById("pipeline-select"); s.value = "report_only"; s.dispatchEvent(new Event("change")); return true; })()`)
	waitFor(t, ctx, "the other pipeline", `document.getElementById("counts").textContent === "3 items, 2 edges"`)
	if got := labels(t, ctx); !slices.Equal(got, []string{"curve", "history", "report"}) {
		t.Errorf("labels after switching: %v", got)
	}
	if q := eval[string](t, ctx, `location.search`); q != "?pipeline=report_only" {
		t.Errorf("URL %q", q)
	}
	shot(t, ctx, "switched-pipeline")
	// Autoreload: the page reloads when the server's graphs change.
	s.opt.Autoreload = true
	ctx2, _ := page(t, s, "")
	eval[bool](t, ctx2, `(window.__marker = 1, true)`)
	if err := s.Update([]Graph{defaultGraph(t), other, {Name: "third", Nodes: []Node{{Name: "x", Outputs: []string{"y"}}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx2, "the reload", `window.__marker === undefined && document.querySelectorAll("#pipeline-select option").length === 3`)
}

// baseURLs remembers each tab's server, for navigate.
var baseURLs sync.Map

// navigate opens a path of the tab's server.
func navigate(ctx context.Context, rel string) chromedp.Action[chromedp.Void] {
	base, _ := baseURLs.Load(ctx)
	return chromedp.Navigate(base.(string) + "/" + rel)
}

// The page stays usable with a 2,000-node pipeline: it draws within
// seconds and a click answers at once.
func TestBrowserBigPipeline(t *testing.T) {
	g := bigGraph(2000)
	start := time.Now()
	s, err := NewServer(Options{Pipelines: []Graph{g}})
	if err != nil {
		t.Fatal(err)
	}
	laidOut := time.Since(start)
	ctx, _ := page(t, s, "")
	drawn := time.Since(start)
	if n := eval[int](t, ctx, `document.querySelectorAll("#viewport .item").length`); n != 4000 {
		t.Errorf("%d items drawn, want 4000", n)
	}
	ms := eval[float64](t, ctx, `(async () => {
		const t0 = performance.now();
		document.querySelector('#viewport .item.task').dispatchEvent(new MouseEvent("click", {bubbles: true}));
		while (document.getElementById("panel").hidden) await new Promise((r) => setTimeout(r, 5));
		return performance.now() - t0;
	})()`)
	redraw := eval[float64](t, ctx, `(() => { const t0 = performance.now(); draw(); return performance.now() - t0; })()`)
	t.Logf("2,000 nodes: server ready in %v, page drawn %v after start; click to panel %.0f ms; full redraw %.0f ms", laidOut, drawn, ms, redraw)
	if drawn > 20*time.Second || ms > 2000 {
		t.Errorf("too slow: drawn after %v, panel after %.0f ms", drawn, ms)
	}
	shot(t, ctx, "big-2000")
}

// The static site that `viz --build` writes works from a plain file
// server: the graph, the panel, no live-only controls failing.
func TestBrowserStaticBuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	if err := Build(dir, sampleGraph()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	ctx := browser(t)
	do(t, ctx, "opening the static site", chromedp.Navigate(srv.URL+"/"))
	waitFor(t, ctx, "the graph", `document.querySelectorAll("#viewport .item").length === 11`)
	clickItem(t, ctx, "train")
	waitFor(t, ctx, "the panel", `document.getElementById("panel-body").textContent.includes("mmc/nodes.Train")`)
	if !eval[bool](t, ctx, `document.getElementById("runs-section").hidden && document.getElementById("error").hidden`) {
		t.Errorf("static site shows runs or an error: %s", text(t, ctx, "#error"))
	}
	eval[bool](t, ctx, `(document.getElementById("show-params").click(), true)`)
	waitFor(t, ctx, "parameters", `document.querySelectorAll("#viewport .item.parameters").length === 4`)
	shot(t, ctx, "static-build")
}
