package checkpoint

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSidecarRoundTrip(t *testing.T) {
	dir := t.TempDir()
	weights := filepath.Join(dir, "best.safetensors")
	path := SidecarPath(weights)
	if path != filepath.Join(dir, "best.json") {
		t.Fatalf("SidecarPath = %s", path)
	}
	in := Sidecar{Model: "vilbert", Step: 300, Epoch: 2, Config: json.RawMessage(`{"hidden":768}`),
		Metrics: map[string]float64{"auroc": 0.71}, Files: map[string]string{"optimizer": "best.optim.safetensors"}}
	if err := WriteSidecar(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadSidecar(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg bytes.Buffer
	if err := json.Compact(&cfg, out.Config); err != nil {
		t.Fatal(err)
	}
	if out.Format != SidecarFormat || out.Step != 300 || out.Metrics["auroc"] != 0.71 || cfg.String() != `{"hidden":768}` || out.Files["optimizer"] == "" {
		t.Fatalf("round trip gave %+v", out)
	}
}

func TestReadSidecarRejects(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown field": `{"format":"mmc-checkpoint/1","step":1,"stpe":2}`,
		"format":        `{"format":"other/9","step":1}`,
		"syntax":        `{"format":`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		os.WriteFile(path, []byte(body), 0o644)
		if _, err := ReadSidecar(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming the file", name, err)
		}
	}
}
