package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mmc/flow"
	"mmc/runs"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startChromium opens a headless Debian chromium tab (see viz's browser
// tests); it skips the test where chromium is not installed.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	path := os.Getenv("VIZ_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("browser tests need chromium at %s (scripts/bootstrap.sh installs it): %v", path, err)
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

func jsEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func jsWait(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			screenshot(t, ctx, "timeout-cli")
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	dir := os.Getenv("VIZ_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "mmc-viz-screenshots")
	}
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", p)
}

func jsQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestVizFollowsRealRuns runs a pipeline with `run` while `viz` serves
// the project, as a user would in two terminals, and watches the page:
// the held node shows as running, then both nodes as completed with
// their durations and the output on disk; a second run with another
// parameter is compared with the first on the compare page.
func TestVizFollowsRealRuns(t *testing.T) {
	ctx := startChromium(t)
	conf, data := project(t, "[1, 2, 3]")
	gate := make(chan struct{})
	held := func(ctx context.Context, xs []int, p stepParams) ([]int, error) {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return bump(ctx, xs, p)
	}
	reg := flow.NewRegistry()
	reg.Add(flow.DefaultPipeline, "the demo", demoPipeline)
	reg.Add("held", "waits for the test", func() *flow.Pipeline {
		return flow.New(flow.Node2("hold", held, seed, params, bumped), flow.Node1("sum", sum, bumped, total))
	})
	root := filepath.Dir(conf)
	chdir(t, root)

	// viz, serving the project.
	srvCtx, stopViz := context.WithCancel(context.Background())
	defer stopViz()
	var vizOut, vizErr syncBuffer
	vizDone := make(chan int, 1)
	go func() {
		app := &App{Registry: reg, Stdout: &vizOut, Stderr: &vizErr}
		vizDone <- app.Main(srvCtx, []string{"viz", "--pipeline", "held", "--port", "0", "--conf-source", conf})
	}()
	url := ""
	for deadline := time.Now().Add(20 * time.Second); url == ""; {
		if m := regexp.MustCompile(`http://[0-9.:]+/`).FindString(vizOut.String()); m != "" {
			url = m
		} else if time.Now().After(deadline) {
			t.Fatalf("viz did not start: %s %s", vizOut.String(), vizErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// run, held at its first node.
	wantFail := false
	runOne := func(extra ...string) chan int {
		done := make(chan int, 1)
		go func() {
			var out, errb bytes.Buffer
			app := &App{Registry: reg, Stdout: &out, Stderr: &errb}
			code := app.Main(context.Background(), append([]string{"run", "--pipeline", "held", "--conf-source", conf}, extra...))
			if (code != 0) != wantFail {
				t.Errorf("run: exit %d: %s", code, errb.String())
			}
			done <- code
		}()
		return done
	}
	first := runOne()
	var id string
	for deadline := time.Now().Add(20 * time.Second); id == ""; {
		if rs, _ := runs.List(root); len(rs) == 1 {
			id = rs[0].ID
		} else if time.Now().After(deadline) {
			t.Fatal("the run did not record itself")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"?pipeline=held&run="+id)); err != nil {
		t.Fatal(err)
	}
	item := func(name string) string {
		return `document.querySelector('#viewport .item[data-name=` + jsQuote(name) + `]')`
	}
	jsWait(t, ctx, "hold to show as running", item("hold")+`.classList.contains("status-running")`)
	if !jsEval[bool](t, ctx, item("sum")+`.classList.contains("status-pending")`) {
		t.Error("sum is not pending while hold runs")
	}
	if !jsEval[bool](t, ctx, item("total")+`.classList.contains("missing")`) {
		t.Error("total is not drawn as missing before the run wrote it")
	}
	screenshot(t, ctx, "real-run-live")
	close(gate)
	<-first
	jsWait(t, ctx, "both nodes to complete", item("hold")+`.classList.contains("status-completed") && `+item("sum")+`.classList.contains("status-completed")`)
	jsWait(t, ctx, "total on disk", `!`+item("total")+`.classList.contains("missing")`)
	note := jsEval[string](t, ctx, item("hold")+`.querySelector("text.note").textContent`)
	if !strings.HasSuffix(note, " ms") && !strings.HasSuffix(note, " s") {
		t.Errorf("hold's duration note %q", note)
	}
	screenshot(t, ctx, "real-run-done")
	if got := readTotal(t, data); got != "9" {
		t.Errorf("total %s, want 9", got)
	}

	// A second run with another step; compare the two.
	<-runOne("--params", "demo.step=5")
	rs, err := runs.List(root)
	if err != nil || len(rs) != 2 {
		t.Fatalf("runs: %d, %v", len(rs), err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"compare.html?a="+rs[0].ID+"&b="+rs[1].ID)); err != nil {
		t.Fatal(err)
	}
	jsWait(t, ctx, "the comparison", `document.body.dataset.ready === "1"`)
	diff := jsEval[[]string](t, ctx, `[...document.querySelectorAll("#params tr.differs")].map((r) => [...r.children].map((c) => c.textContent).join(" | "))`)
	if len(diff) != 1 || !strings.Contains(diff[0], "step | 1 | 5") {
		t.Errorf("parameters that differ: %q", diff)
	}
	screenshot(t, ctx, "real-runs-compare")

	// A failing run: sum's error shows on the page.
	wantFail = true
	<-runOne("--params", "demo.step=-100")
	rs, _ = runs.List(root)
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"?pipeline=held&run="+rs[len(rs)-1].ID)); err != nil {
		t.Fatal(err)
	}
	jsWait(t, ctx, "sum to show as failed", item("sum")+`&& `+item("sum")+`.classList.contains("status-failed")`)
	jsEval[bool](t, ctx, `(`+item("sum")+`.dispatchEvent(new MouseEvent("click", {bubbles: true})), true)`)
	jsWait(t, ctx, "the error in the panel", `document.getElementById("panel-body").textContent.includes("negative total")`)
	screenshot(t, ctx, "real-run-failed")
	stopViz()
	if code := <-vizDone; code != 0 {
		t.Errorf("viz exit %d: %s", code, vizErr.String())
	}
}

// chdir changes into dir for the test (dataset paths and node sources
// are relative to the project root).
func chdir(t *testing.T, dir string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
}
