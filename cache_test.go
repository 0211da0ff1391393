package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mmc/catalog/formats"
	"mmc/cli"
	"mmc/flow"
	"mmc/runs"
)

// TestCachedDefaultRun is issue 12's caching contract on the real
// __default__ pipeline (demo environment, 3 epochs): a second, unchanged
// run skips every node and says why; changing one parameter re-runs
// exactly the nodes that read it and their descendants (plus producers
// of in-memory inputs they need); two training runs with different
// learning rates compare with `metrics diff`. It trains twice, so -short
// skips it.
func TestCachedDefaultRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs __default__ four times (minutes); without -short only")
	}
	confDir, err := filepath.Abs("conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "conf"), os.DirFS(confDir)); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	reg := newRegistry()
	const epochs = "vilbert_synthetic_train.train.loop.epochs=3"
	main := func(args ...string) (string, time.Duration) {
		t.Helper()
		var out, errb bytes.Buffer
		app := &cli.App{Registry: reg, Formats: formats.All(), Stdout: &out, Stderr: &errb}
		start := time.Now()
		rc := app.Main(context.Background(), args)
		took := time.Since(start)
		if rc != 0 {
			t.Fatalf("%v: exit %d\n%s", args, rc, errb.String())
		}
		return out.String(), took
	}
	lastRun := func() *runs.Run {
		t.Helper()
		rs, err := runs.List(dir)
		if err != nil || len(rs) == 0 {
			t.Fatalf("no runs recorded: %v", err)
		}
		return rs[len(rs)-1]
	}
	reasons := func(r *runs.Run) map[string]string {
		evs, err := runs.ReadEvents(dir, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, e := range evs {
			if e.Kind == runs.NodeSkip || e.Kind == runs.NodeStart {
				out[e.Node] = string(e.Kind) + ": " + e.Reason
			}
		}
		return out
	}
	p, err := reg.Pipeline(flow.DefaultPipeline)
	if err != nil {
		t.Fatal(err)
	}

	_, first := main("run", "--env=demo", "--params", epochs)
	a := lastRun()
	if len(a.Ran) != p.Len() {
		t.Fatalf("first run ran %d of %d nodes", len(a.Ran), p.Len())
	}

	_, second := main("run", "--env=demo", "--params", epochs)
	b := lastRun()
	t.Logf("__default__ (demo, 3 epochs): first run %.1fs, unchanged second run %.2fs (%.4f of the first)",
		first.Seconds(), second.Seconds(), second.Seconds()/first.Seconds())
	if len(b.Ran) != 0 || len(b.Skipped) != p.Len() {
		t.Errorf("second run ran %v, skipped %d of %d", b.Ran, len(b.Skipped), p.Len())
	}
	for node, why := range reasons(b) {
		if !strings.HasPrefix(why, "node_skip: up to date") {
			t.Errorf("second run, node %s: %s", node, why)
		}
	}
	if out, _ := main("status", "--env=demo", "--params", epochs); !strings.Contains(out, "0 of 11 nodes would run") {
		t.Errorf("status after an unchanged run:\n%s", out)
	}

	// One parameter: its readers and everything downstream of them.
	const decode = "data_processing.decode_images=false"
	var readers []string
	for _, n := range p.Nodes() {
		if slices.Contains(n.InputNames(), "params:data_processing") {
			readers = append(readers, n.Name())
		}
	}
	down, err := p.Filter(flow.Filter{FromNodes: readers})
	if err != nil {
		t.Fatal(err)
	}
	want := down.NodeNames()
	slices.Sort(want)
	dry, _ := main("run", "--env=demo", "--dry-run", "--params", epochs+","+decode)
	main("run", "--env=demo", "--params", epochs+","+decode)
	c := lastRun()
	got := slices.Clone(c.Ran)
	slices.Sort(got)
	why := reasons(c)
	for _, n := range got {
		if !slices.Contains(want, n) && !strings.Contains(why[n], "in-memory output") {
			t.Errorf("changing %s re-ran %s: %s", decode, n, why[n])
		}
	}
	for _, n := range want {
		if !slices.Contains(got, n) {
			t.Errorf("changing %s did not re-run %s", decode, n)
		}
	}
	for _, n := range readers {
		if !strings.Contains(why[n], "parameter data_processing.decode_images changed (true → false)") {
			t.Errorf("reader %s: %s", n, why[n])
		}
		if !strings.Contains(dry, n) || !strings.Contains(dry, "data_processing.decode_images changed") {
			t.Errorf("dry run does not say %s would run:\n%s", n, dry)
		}
	}
	t.Logf("changing %s re-ran %v", decode, got)

	// A second training run with another learning rate, then compare.
	const lr = "vilbert_synthetic_train.train.loop.optimizer.lr=0.001"
	main("run", "--env=demo", "--params", epochs+","+decode+","+lr)
	d := lastRun()
	if !slices.Contains(d.Ran, "vilbert_synthetic_train.train_model") || slices.Contains(d.Ran, "generate_synthetic_memes") {
		t.Errorf("lr change ran %v", d.Ran)
	}
	diff, _ := main("metrics", "diff")
	for _, w := range []string{"A: " + a.ID, "B: " + d.ID, "vilbert_synthetic_train.train.loop.optimizer.lr", "0.0005", "0.001",
		"vilbert_synthetic_train.test_metrics.auroc", "vilbert_synthetic_train.training_history", "3 epochs"} {
		if !strings.Contains(diff, w) {
			t.Errorf("metrics diff lacks %q", w)
		}
	}
	t.Logf("metrics diff of two training runs:\n%s", diff)
}
