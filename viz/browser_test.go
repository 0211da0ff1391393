package viz

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
	default:
		t.Fatalf("page: unsupported %T", h)
	}
	t.Cleanup(srv.Close)
	ctx := browser(t)
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
