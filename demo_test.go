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
)

// TestEveryPipelineRunsUnderDemo runs every built pipeline with
// --env=demo on a fresh folder, as a new user would (issue 16 item 13:
// the demo environment must size every pipeline for a fresh machine),
// and logs each one's time. It takes minutes, so -short skips it.
func TestEveryPipelineRunsUnderDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every pipeline (minutes); without -short only")
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

	r := newRegistry()
	// synthetic_memes writes the data every other pipeline reads; the
	// checkpoint readers come after vilbert_lmdb_train, which writes it.
	first := []string{"synthetic_memes"}
	readers := []string{"vilbert_validate", "vilbert_inference", "vilbert_inference_local"}
	var middle []string
	for _, name := range r.Names() {
		if e, _ := r.Entry(name); e.Built() && !slices.Contains(first, name) && !slices.Contains(readers, name) {
			middle = append(middle, name)
		}
	}
	if !slices.Contains(middle, "vilbert_lmdb_train") {
		t.Fatal("vilbert_lmdb_train is not registered; the checkpoint readers need another producer")
	}
	slices.Sort(middle)
	order := slices.Concat(first, middle, readers)

	var total time.Duration
	for _, name := range order {
		args := []string{"run", "--env=demo", "--pipeline=" + name}
		if name == "vilbert_inference_local" {
			imgs, _ := filepath.Glob(filepath.Join("data", "01_raw", "synthetic_memes", "img", "*.png"))
			if len(imgs) == 0 {
				t.Fatal("no synthetic meme image to classify")
			}
			args = append(args, "--params", "inference_local.image="+imgs[0]+",inference_local.text=a red circle")
		}
		var out, errb bytes.Buffer
		app := &cli.App{Registry: r, Formats: formats.All(), Stdout: &out, Stderr: &errb}
		start := time.Now()
		rc := app.Main(context.Background(), args)
		took := time.Since(start)
		total += took
		t.Logf("%-28s %6.1fs", name, took.Seconds())
		if rc != 0 {
			msg := errb.String()
			if i := strings.LastIndex(msg, "error:"); i >= 0 {
				msg = msg[i:]
			}
			t.Errorf("run --env=demo --pipeline=%s: exit %d: %s", name, rc, msg)
		}
	}
	t.Logf("%d pipelines in %.1fs", len(order), total.Seconds())
}
