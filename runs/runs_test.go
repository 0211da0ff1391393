package runs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/config"
	"mmc/flow"
)

func TestRecorderWritesEventsAndRun(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "data", "test_metrics.json")
	conf, params := catalogConf(out)
	cat, err := catalog.New(conf, params, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := catalog.Declare[int]("a")
	m := catalog.Declare[map[string]float64]("test_metrics")
	p := flow.New(
		flow.Node0("make", func(context.Context) (int, error) { return 3, nil }, a),
		flow.Node1("score", func(_ context.Context, x int) (map[string]float64, error) {
			return map[string]float64{"auroc": float64(x) / 4}, nil
		}, a, m),
	)
	rec, err := Start(root, Run{ID: "r1", Pipelines: []string{"demo"}}, func(ds string) string {
		if ds == "test_metrics" {
			return out
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := flow.Run(context.Background(), p, cat, flow.RunOptions{Hooks: []flow.Hooks{rec.Hooks()}, Info: flow.RunInfo{RunID: "r1", Pipelines: []string{"demo"}}})
	if err := rec.Finish(res, err); err != nil {
		t.Fatal(err)
	}
	evs, err := ReadEvents(root, "r1")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, string(e.Kind))
	}
	want := "pipeline_start node_start dataset_save node_end node_start dataset_load dataset_save node_end pipeline_end"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("events %s\nwant   %s", got, want)
	}
	for _, e := range evs {
		if e.Kind == DatasetSave && e.Dataset == "test_metrics" && e.Bytes == 0 {
			t.Errorf("save event without size: %+v", e)
		}
	}
	r, err := Load(root, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != OK || len(r.Ran) != 2 || r.Metrics["test_metrics"]["auroc"] != 0.75 || len(r.Artifacts) != 1 {
		t.Errorf("run.json: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(Dir(root), "r1", r.Artifacts[0].File)); err != nil {
		t.Error(err)
	}
	// A second run with the same id gets a suffix.
	rec2, err := Start(root, Run{ID: "r1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec2.Finish(nil, &flow.RunError{Node: "score", Err: errors.New("boom"), NotRun: []string{"score"}})
	all, err := List(root)
	if err != nil || len(all) != 2 || all[1].ID != "r1-2" || all[1].Status != Failed || all[1].NotRun[0] != "score" {
		t.Fatalf("List: %v %+v", err, all)
	}
}

func TestDecodeEventsIgnoresPartialLastLine(t *testing.T) {
	in := `{"time":"2026-01-01T00:00:00Z","kind":"node_start","node":"a"}` + "\n" + `{"time":"2026-01-01T00:00:01Z","kind":"node_e`
	evs, err := DecodeEvents(strings.NewReader(in), "events.jsonl")
	if err != nil || len(evs) != 1 || evs[0].Node != "a" {
		t.Fatalf("%v %+v", err, evs)
	}
	_, err = DecodeEvents(strings.NewReader("{bad}\n"), "events.jsonl")
	if err == nil || !strings.Contains(err.Error(), "events.jsonl:1") {
		t.Errorf("bad line: %v", err)
	}
}

func TestLoadRejectsPaths(t *testing.T) {
	for _, id := range []string{"", "..", "a/b", `a\b`} {
		if _, err := Load(t.TempDir(), id); err == nil {
			t.Errorf("Load(%q) accepted", id)
		}
	}
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`{"kind":"node_skip","node":"a","reason":"up to date"}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeEvents(strings.NewReader(string(b)), "f")
	})
}

func catalogConf(metricsPath string) (conf, params *config.Tree) {
	conf = config.NewTree()
	conf.Set("test_metrics", map[string]any{"type": "json", "filepath": metricsPath}, config.Pos{})
	return conf, config.NewTree()
}

func TestStates(t *testing.T) {
	evs := []Event{
		{Kind: NodeSkip, Node: "a", Reason: "up to date"},
		{Kind: NodeStart, Node: "b", Reason: "outputs missing: x"},
		{Kind: DatasetSave, Node: "b", Dataset: "x", Bytes: 10},
		{Kind: NodeEnd, Node: "b", Seconds: 1.5},
		{Kind: NodeStart, Node: "c"},
		{Kind: NodeError, Node: "c", Error: "boom"},
		{Kind: NodeStart, Node: "d"},
	}
	nodes, ds := States(evs)
	want := map[string]string{"a": "skipped", "b": "done", "c": "failed", "d": "running"}
	for n, s := range want {
		if nodes[n].Status != s {
			t.Errorf("node %s: %+v, want %s", n, nodes[n], s)
		}
	}
	if nodes["b"].Reason != "outputs missing: x" || nodes["b"].Seconds != 1.5 || nodes["c"].Error != "boom" || !ds["x"].Saved || ds["x"].Bytes != 10 {
		t.Errorf("states %+v %+v", nodes, ds)
	}
}
