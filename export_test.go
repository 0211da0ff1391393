package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"mmc/catalog/formats"
	"mmc/cli"
)

// TestArgoExportEveryPipeline exports every built pipeline as an Argo
// Workflow through the command line (the export validates what it
// writes: DAG dependencies against the pipeline, templates, names) and
// checks that --group-by none names an in-memory dataset that would
// cross pods.
func TestArgoExportEveryPipeline(t *testing.T) {
	r := newRegistry()
	for _, name := range r.Names() {
		if e, _ := r.Entry(name); !e.Built() {
			continue
		}
		var out, errb bytes.Buffer
		app := &cli.App{Registry: r, Formats: formats.All(), Stdout: &out, Stderr: &errb}
		if rc := app.Main(context.Background(), []string{"export", "argo", "--pipeline", name, "--shards", "4", "--env", "demo"}); rc != 0 {
			t.Errorf("export argo --pipeline %s: exit %d: %s", name, rc, errb.String())
			continue
		}
		if !strings.Contains(out.String(), "kind: Workflow") {
			t.Errorf("export argo --pipeline %s: no Workflow:\n%s", name, out.String())
		}
		out.Reset()
		errb.Reset()
		if rc := app.Main(context.Background(), []string{"export", "airflow", "--pipeline", name}); rc != 0 {
			t.Errorf("export airflow --pipeline %s: exit %d: %s", name, rc, errb.String())
		}
	}
	var out, errb bytes.Buffer
	app := &cli.App{Registry: r, Formats: formats.All(), Stdout: &out, Stderr: &errb}
	rc := app.Main(context.Background(), []string{"export", "argo", "--group-by", "none"})
	if rc == 0 || !strings.Contains(errb.String(), `dataset "synthetic_region_index" is in memory`) {
		t.Errorf("export argo --group-by none of __default__: exit %d, stderr %s; want the in-memory dataset named", rc, errb.String())
	}
}
