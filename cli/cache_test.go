package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/flow"
	"mmc/runs"
)

func runApp(t *testing.T, r *flow.Registry, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{Registry: r, Stdout: &out, Stderr: &errb}
	code := app.Main(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestStatusAndDryRun(t *testing.T) {
	conf, data := project(t, "[1,2,3]")
	r := testRegistry()
	code, out, stderr := runApp(t, r, "status", "--conf-source", conf)
	if code != 0 || !strings.Contains(out, "no record in the lock") || !strings.Contains(out, "2 of 2 nodes would run") {
		t.Fatalf("status before any run: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := runApp(t, r, "run", "--conf-source", conf); code != 0 {
		t.Fatal(stderr)
	}
	code, _, stderr = runApp(t, r, "run", "--conf-source", conf)
	if code != 0 || !strings.Contains(stderr, "running 0 out of 2 nodes") || !strings.Contains(stderr, "up to date") {
		t.Errorf("second run: exit %d\n%s", code, stderr)
	}
	code, out, _ = runApp(t, r, "status", "--conf-source", conf)
	if code != 0 || !strings.Contains(out, "0 of 2 nodes would run") {
		t.Errorf("status after a run:\n%s", out)
	}
	code, out, _ = runApp(t, r, "run", "--conf-source", conf, "--dry-run", "--params", "demo.step=5")
	for _, want := range []string{"would run  bump  parameter demo.step changed (1 → 5)", "would run  sum   input bumped changes (node bump runs)", "2 of 2 nodes would run"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if got := readTotal(t, data); got != "9" {
		t.Errorf("dry run wrote total %s", got)
	}
	code, out, _ = runApp(t, r, "status", "--conf-source", conf, "--json")
	if code != 0 || !strings.Contains(out, `"run": false`) {
		t.Errorf("status --json:\n%s", out)
	}
	// --no-cache runs everything again; --force-downstream sum only sum.
	code, _, stderr = runApp(t, r, "run", "--conf-source", conf, "--no-cache")
	if code != 0 || strings.Contains(stderr, "skipped") {
		t.Errorf("--no-cache skipped something:\n%s", stderr)
	}
	code, _, stderr = runApp(t, r, "run", "--conf-source", conf, "--force-downstream", "sum")
	if code != 0 || !strings.Contains(stderr, "running 2 out of 2 nodes") {
		// bump runs too: sum reads its in-memory output.
		t.Errorf("--force-downstream sum:\n%s", stderr)
	}
	rs, err := runs.List(filepath.Dir(conf))
	if err != nil || len(rs) != 4 {
		t.Fatalf("runs recorded: %v %d", err, len(rs))
	}
	if rs[1].Status != runs.OK || len(rs[1].Skipped) != 2 || rs[1].Params["demo"] == nil {
		t.Errorf("second run record: %+v", rs[1])
	}
}

// flakyRegistry: a → first → b (persisted) → second → c; second fails
// while the file named by fail exists.
func flakyRegistry(fail string) *flow.Registry {
	a, b, c := catalog.Declare[[]int]("seed_numbers"), catalog.Declare[int]("mid"), catalog.Declare[int]("total")
	r := flow.NewRegistry()
	r.Add(flow.DefaultPipeline, "flaky", func() *flow.Pipeline {
		return flow.New(
			flow.Node1("first", sum, a, b),
			flow.Node1("second", func(_ context.Context, x int) (int, error) {
				if _, err := os.Stat(fail); err == nil {
					return 0, errors.New("second is told to fail")
				}
				return x * 2, nil
			}, b, c),
			flow.Node1("other", sum, a, catalog.Declare[int]("other_total")),
		)
	})
	return r
}

func TestResumeContinuesTheFailedRun(t *testing.T) {
	conf, data := project(t, "[1,2,3]")
	os.WriteFile(filepath.Join(conf, "base", "catalog.yml"), []byte(
		"seed_numbers: {type: json, filepath: "+data+"/seed.json}\n"+
			"mid: {type: json, filepath: "+data+"/mid.json}\n"+
			"total: {type: json, filepath: "+data+"/total.json}\n"+
			"other_total: {type: json, filepath: "+data+"/other.json}\n"), 0o644)
	fail := filepath.Join(t.TempDir(), "fail")
	os.WriteFile(fail, nil, 0o644)
	r := flakyRegistry(fail)
	// --no-cache: the resume must not lean on the cache. --keep-going
	// lets "other" finish after "second" fails.
	code, _, stderr := runApp(t, r, "run", "--conf-source", conf, "--no-cache", "--keep-going", "--runner=parallel", "--max-workers=2")
	if code != 1 || !strings.Contains(stderr, "second is told to fail") || !strings.Contains(stderr, "--resume") {
		t.Fatalf("failing run: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "other.json")); err != nil {
		t.Errorf("--keep-going did not finish the other branch: %v", err)
	}
	os.Remove(fail)
	os.WriteFile(filepath.Join(data, "mid.json"), []byte("100"), 0o644) // proves first does not run again
	code, _, stderr = runApp(t, r, "run", "--conf-source", conf, "--resume")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	if got := readTotal(t, data); got != "200" {
		t.Errorf("total %s, want 200 (second alone, on the saved mid)", got)
	}
	rs, _ := runs.List(filepath.Dir(conf))
	last := rs[len(rs)-1]
	if strings.Join(last.Ran, ",") != "second" || len(last.Skipped) != 2 || last.Runner != "parallel" {
		t.Errorf("resumed run: ran %v skipped %v runner %s", last.Ran, last.Skipped, last.Runner)
	}
	evs, _ := runs.ReadEvents(filepath.Dir(conf), last.ID)
	var skips []string
	for _, e := range evs {
		if e.Kind == runs.NodeSkip {
			skips = append(skips, e.Node+": "+e.Reason)
		}
	}
	if len(skips) != 2 || !strings.Contains(skips[0], "finished in run "+rs[0].ID) {
		t.Errorf("skip events %q", skips)
	}
	code, _, stderr = runApp(t, r, "run", "--conf-source", conf, "--resume")
	if code != 1 || !strings.Contains(stderr, "nothing to resume") {
		t.Errorf("resume after success: exit %d %s", code, stderr)
	}
}

// trainRegistry has one "training" node writing metrics and a history.
func trainRegistry() *flow.Registry {
	type trainParams struct {
		LR     float64 `yaml:"lr"`
		Epochs int     `yaml:"epochs"`
	}
	p := catalog.Param[trainParams]("train")
	m := catalog.Declare[map[string]float64]("toy.test_metrics")
	h := catalog.Declare[map[string]any]("toy.training_history")
	r := flow.NewRegistry()
	r.Add(flow.DefaultPipeline, "toy training", func() *flow.Pipeline {
		return flow.New(flow.Node1x2("train", func(_ context.Context, tp trainParams) (map[string]float64, map[string]any, error) {
			var epochs []any
			for i := 1; i <= tp.Epochs; i++ {
				epochs = append(epochs, map[string]any{"epoch": i, "train_loss": 1 / (tp.LR * float64(i) * 10), "val_auroc": 0.5 + tp.LR*float64(i)})
			}
			return map[string]float64{"auroc": 0.5 + tp.LR, "loss": 1 - tp.LR}, map[string]any{"epochs": epochs, "best_epoch": tp.Epochs}, nil
		}, p, m, h))
	})
	return r
}

func TestMetricsDiff(t *testing.T) {
	conf, data := project(t, "")
	os.WriteFile(filepath.Join(conf, "base", "parameters.yml"), []byte("train: {lr: 0.1, epochs: 2}\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "base", "catalog.yml"), []byte(
		"toy.test_metrics: {type: json, filepath: "+data+"/test_metrics.json}\n"+
			"toy.training_history: {type: json, filepath: "+data+"/training_history.json}\n"), 0o644)
	r := trainRegistry()
	if code, out, _ := runApp(t, r, "metrics", "diff", "--conf-source", conf); code != 1 && !strings.Contains(out, "0 recorded") {
		t.Errorf("diff without runs: exit %d", code)
	}
	for _, lr := range []string{"0.1", "0.2"} {
		if code, _, stderr := runApp(t, r, "run", "--conf-source", conf, "--params", "train.lr="+lr); code != 0 {
			t.Fatal(stderr)
		}
	}
	code, out, stderr := runApp(t, r, "metrics", "list", "--conf-source", conf)
	if code != 0 || strings.Count(out, "ok") != 2 || !strings.Contains(out, "auroc=0.7") {
		t.Errorf("metrics list: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runApp(t, r, "metrics", "diff", "--conf-source", conf)
	for _, want := range []string{"train.lr", "0.1", "0.2", "toy.test_metrics.auroc", "+0.1", "toy.training_history", "2 epochs, best_epoch=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics diff lacks %q:\n%s%s", want, out, stderr)
		}
	}
	if strings.Contains(out, "train.epochs") {
		t.Errorf("diff shows a parameter that did not change:\n%s", out)
	}
	rs, _ := runs.List(filepath.Dir(conf))
	code, out2, _ := runApp(t, r, "metrics", "diff", "--conf-source", conf, rs[0].ID, rs[1].ID)
	if code != 0 || out2 != out {
		t.Errorf("diff by ids differs from the default:\n%s", out2)
	}
	// The first run's metrics were kept although the second overwrote the file.
	if rs[0].Metrics["toy.test_metrics"]["auroc"] != 0.6 {
		t.Errorf("first run's metrics %v", rs[0].Metrics)
	}
}

// A run killed without a word (kill -9) stays "running" in run.json;
// --resume reads what it finished from its events.
func TestResumeAfterKill(t *testing.T) {
	conf, data := project(t, "[1,2,3]")
	os.WriteFile(filepath.Join(conf, "base", "catalog.yml"), []byte(
		"seed_numbers: {type: json, filepath: "+data+"/seed.json}\n"+
			"mid: {type: json, filepath: "+data+"/mid.json}\n"+
			"total: {type: json, filepath: "+data+"/total.json}\n"+
			"other_total: {type: json, filepath: "+data+"/other.json}\n"), 0o644)
	os.WriteFile(filepath.Join(data, "mid.json"), []byte("21"), 0o644)
	rec, err := runs.Start(filepath.Dir(conf), runs.Run{ID: "killed", Pipelines: []string{"__default__"}, Args: []string{"--conf-source", conf, "--no-cache"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec.Emit(runs.Event{Kind: runs.NodeStart, Node: "first"})
	rec.Emit(runs.Event{Kind: runs.NodeEnd, Node: "first"})
	rec.Emit(runs.Event{Kind: runs.NodeStart, Node: "second"})
	code, _, stderr := runApp(t, flakyRegistry(filepath.Join(t.TempDir(), "nofail")), "run", "--resume", "--conf-source", conf)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	if got := readTotal(t, data); got != "42" {
		t.Errorf("total %s, want 42 (second on the saved mid)", got)
	}
	if !strings.Contains(stderr, "finished in run killed") {
		t.Errorf("no skip reason naming the killed run:\n%s", stderr)
	}
}
