package viz

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRuns is a RunStore a test changes while the page watches.
type fakeRuns struct {
	mu   sync.Mutex
	runs map[string]RunDetail
}

func (f *fakeRuns) Runs() ([]RunInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []RunInfo
	for _, r := range f.runs {
		out = append(out, r.RunInfo)
	}
	return out, nil
}

func (f *fakeRuns) Run(id string) (RunDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[id]
	if !ok {
		return RunDetail{}, fmt.Errorf("run %q: %w", id, fs.ErrNotExist)
	}
	return r, nil
}

func (f *fakeRuns) set(r RunDetail) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runs == nil {
		f.runs = map[string]RunDetail{}
	}
	f.runs[r.ID] = r
}

// sampleProject writes the sample graph's files into a project folder:
// JSONL memes, a PNG curve, a metrics-and-history JSON.
func sampleProject(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel string, b []byte) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var memes strings.Builder
	for i := range 15 {
		fmt.Fprintf(&memes, `{"id": %d, "img": "img/%05d.png", "label": %d, "text": "meme number %d"}`+"\n", i, i, i%2, i)
	}
	write("data/01_raw/train.jsonl", []byte(memes.String()))
	img := image.NewRGBA(image.Rect(0, 0, 60, 40))
	for x := range 60 {
		for y := range 40 {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(6 * y), 128, 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	write("data/08_reporting/curve.png", buf.Bytes())
	// A meme folder: splits and images.
	write("data/01_raw/folder/train.jsonl", []byte(memes.String()))
	write("data/01_raw/folder/img/00000.png", buf.Bytes())
	write("data/01_raw/folder/img/00001.png", buf.Bytes())
	write("data/05_model_output/history.json", []byte(`{"epochs": [
		{"epoch": 1, "train_loss": 0.69, "val_auroc": 0.55},
		{"epoch": 2, "train_loss": 0.61, "val_auroc": 0.63},
		{"epoch": 3, "train_loss": 0.52, "val_auroc": 0.68}], "best_epoch": 3}`))
	return root
}

func TestBrowserPreviewDatasets(t *testing.T) {
	root := sampleProject(t)
	g := sampleGraph()
	g.Nodes = append(g.Nodes, Node{Name: "look", Inputs: []string{"folder"}, Outputs: []string{"seen"}})
	g.Datasets = append(g.Datasets, Dataset{Name: "folder", Type: "meme_folder", Filepath: "data/01_raw/folder", Layer: "raw"})
	s, err := NewServer(Options{Pipelines: []Graph{g}, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := page(t, s, "")
	clickItem(t, ctx, "folder")
	waitFor(t, ctx, "the folder's images", `(() => { const i = document.querySelectorAll("#panel-body .thumbs img"); return i.length === 2 && [...i].every((e) => e.complete && e.naturalWidth === 60); })()`)
	if rows := eval[int](t, ctx, `document.querySelectorAll("#panel-body table.preview tbody tr").length`); rows != 10 {
		t.Errorf("meme folder preview: %d rows", rows)
	}
	shot(t, ctx, "preview-folder")
	clickItem(t, ctx, "memes")
	waitFor(t, ctx, "the JSONL preview", `document.querySelector("#panel-body .preview-table table.preview")`)
	cols := eval[[]string](t, ctx, `[...document.querySelectorAll("#panel-body table.preview th")].map((e) => e.textContent)`)
	rows := eval[int](t, ctx, `document.querySelectorAll("#panel-body table.preview tbody tr").length`)
	if strings.Join(cols, ",") != "id,img,label,text" || rows != 10 {
		t.Errorf("JSONL preview: columns %v, %d rows; want id,img,label,text and 10", cols, rows)
	}
	if body := text(t, ctx, "#panel-body"); !strings.Contains(body, "meme number 3") || !strings.Contains(body, "On disk") {
		t.Errorf("JSONL preview text: %s", body)
	}
	shot(t, ctx, "preview-jsonl")
	clickItem(t, ctx, "curve")
	waitFor(t, ctx, "the image preview", `(() => { const i = document.querySelector("#panel-body img"); return i && i.complete && i.naturalWidth === 60; })()`)
	shot(t, ctx, "preview-image")
	clickItem(t, ctx, "history")
	waitFor(t, ctx, "the history chart", `document.querySelectorAll("#panel-body svg.chart polyline").length >= 2`)
	quantities := eval[[]string](t, ctx, `[...document.querySelectorAll("#panel-body svg.chart")].map((e) => e.dataset.quantity)`)
	if strings.Join(quantities, ",") != "train_loss,val_auroc" {
		t.Errorf("history chart quantities %v", quantities)
	}
	shot(t, ctx, "preview-history")
	// A dataset not written yet says so.
	clickItem(t, ctx, "model")
	waitFor(t, ctx, "the missing note", `document.getElementById("panel-body").textContent.includes("not written yet")`)
}

func TestBrowserRunStatusesChange(t *testing.T) {
	root := sampleProject(t)
	runs := &fakeRuns{}
	start := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	running := RunDetail{
		RunInfo: RunInfo{ID: "20261203-170000-a", Pipeline: "__default__", Status: "running", Start: start},
		Nodes: map[string]NodeRun{
			"generate":       {Status: "skipped", Reason: "outputs up to date"},
			"features.text":  {Status: "completed", Seconds: 1.5},
			"features.image": {Status: "running", Seconds: 3},
		},
	}
	runs.set(running)
	s, err := NewServer(Options{Pipelines: []Graph{sampleGraph()}, Root: root, Runs: runs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := page(t, s, "?run=20261203-170000-a")
	status := func(name string) string {
		return eval[string](t, ctx, `(() => { const g = document.querySelector('#viewport .item[data-name=`+jsString(name)+`]');
			return [...g.classList].filter((c) => c.startsWith("status-")).join(" "); })()`)
	}
	waitFor(t, ctx, "the run's statuses", `document.querySelector("#viewport .item.status-running")`)
	for name, want := range map[string]string{"generate": "status-skipped", "features.text": "status-completed", "features.image": "status-running", "train": "status-pending"} {
		if got := status(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	shot(t, ctx, "run-live")
	// The run goes on: image finishes, train fails. The page follows.
	done := running
	done.Status, done.End, done.Error = "failed", start.Add(time.Minute), "node train failed"
	done.Nodes = map[string]NodeRun{
		"generate":       {Status: "skipped", Reason: "outputs up to date"},
		"features.text":  {Status: "completed", Seconds: 1.5},
		"features.image": {Status: "completed", Seconds: 4.25},
		"train":          {Status: "failed", Seconds: 0.5, Error: "train: loss is NaN at step 12"},
	}
	done.Datasets = map[string]DatasetRun{"memes": {Loaded: true, Size: 2048, Seconds: 0.012}}
	runs.set(done)
	waitFor(t, ctx, "train to fail", `document.querySelector('#viewport .item.status-failed[data-name="train"]')`)
	if got := status("features.image"); got != "status-completed" {
		t.Errorf("features.image after the run: %q", got)
	}
	if note := text(t, ctx, `#viewport .item[data-name="features.image"] text.note`); note != "4.3 s" && note != "4.2 s" {
		t.Errorf("duration note %q", note)
	}
	clickItem(t, ctx, "train")
	waitFor(t, ctx, "the error in the panel", `document.getElementById("panel-body").textContent.includes("loss is NaN at step 12")`)
	shot(t, ctx, "run-failed")
	// What the run did with a dataset.
	clickItem(t, ctx, "memes")
	waitFor(t, ctx, "the run's load of memes", `document.getElementById("panel-body").textContent.includes("loaded, 2.0 KiB in 12 ms")`)
	// Datasets: existence from the project folder.
	if eval[bool](t, ctx, `document.querySelector('#viewport .item[data-name="memes"]').classList.contains("missing")`) {
		t.Error("memes exists but is drawn as missing")
	}
	if !eval[bool](t, ctx, `document.querySelector('#viewport .item[data-name="model"]').classList.contains("missing")`) {
		t.Error("model is missing but not drawn so")
	}
}

func TestBrowserCompareRuns(t *testing.T) {
	runs := &fakeRuns{}
	base := RunDetail{
		RunInfo: RunInfo{ID: "run-a", Pipeline: "__default__", Status: "completed"},
		Params:  map[string]any{"train": map[string]any{"lr": 5e-5, "epochs": 3.0}, "model": "vilbert"},
		Metrics: map[string]float64{"auroc": 0.61, "accuracy": 0.58},
		History: map[string][]float64{"train_loss": {0.7, 0.6, 0.55}, "val_auroc": {0.52, 0.58, 0.61}, "epoch": {1, 2, 3}},
	}
	other := base
	other.RunInfo.ID = "run-b"
	other.Params = map[string]any{"train": map[string]any{"lr": 1e-4, "epochs": 3.0}, "model": "vilbert"}
	other.Metrics = map[string]float64{"auroc": 0.66, "accuracy": 0.57}
	other.History = map[string][]float64{"train_loss": {0.69, 0.5, 0.41}, "val_auroc": {0.55, 0.63, 0.66}, "epoch": {1, 2, 3}}
	runs.set(base)
	runs.set(other)
	s, err := NewServer(Options{Pipelines: []Graph{sampleGraph()}, Runs: runs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := page(t, s, "")
	// Pick the two runs on the main page and follow the link.
	waitFor(t, ctx, "the runs listed", `document.querySelectorAll("#run-compare option").length === 3`)
	eval[bool](t, ctx, `(() => { const a = document.getElementById("run-select"), b = document.getElementById("run-compare");
		a.value = "run-a"; a.dispatchEvent(new Event("change")); b.value = "run-b"; b.dispatchEvent(new Event("change")); return true; })()`)
	waitFor(t, ctx, "the compare link", `!document.getElementById("compare-link").hidden && document.querySelector("#viewport .item.status-pending")`)
	if href := eval[string](t, ctx, `document.getElementById("compare-link").getAttribute("href")`); href != "compare.html?a=run-a&b=run-b" {
		t.Errorf("compare link %q", href)
	}
	eval[bool](t, ctx, `(document.getElementById("compare-link").click(), true)`)
	waitFor(t, ctx, "the comparison", `location.pathname.endsWith("/compare.html") && document.body.dataset.ready === "1"`)
	params := eval[[]string](t, ctx, `[...document.querySelectorAll("#params tr.differs")].map((r) => [...r.children].map((c) => c.textContent).join(" | "))`)
	if len(params) != 1 || params[0] != "train.lr | 0.00005 | 0.0001" {
		t.Errorf("parameters that differ: %q", params)
	}
	metrics := text(t, ctx, "#metrics")
	for _, s := range []string{"auroc", "0.61", "0.66", "0.05", "accuracy"} {
		if !strings.Contains(metrics, s) {
			t.Errorf("metrics table lacks %q: %s", s, metrics)
		}
	}
	curves := eval[[]string](t, ctx, `[...document.querySelectorAll("#curves svg.chart")].map((c) => c.dataset.quantity + ":" + c.querySelectorAll("polyline").length)`)
	if strings.Join(curves, ",") != "train_loss:2,val_auroc:2" {
		t.Errorf("overlaid curves %v, want train_loss and val_auroc with two lines each", curves)
	}
	shot(t, ctx, "compare-runs")
}
