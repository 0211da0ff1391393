package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVizBuildRefusesForeignPath is issue 16 item 2 end to end: the
// command fails, names the path and keeps the file.
func TestVizBuildRefusesForeignPath(t *testing.T) {
	conf, data := project(t, "[1]")
	p := filepath.Join(data, "report.txt")
	os.WriteFile(p, []byte("precious"), 0o644)
	code, out, stderr := runCLI(t, "viz", "--build", p, "--conf-source", conf)
	if code == 0 || !strings.Contains(stderr, p) || !strings.Contains(stderr, "refusing") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if b, _ := os.ReadFile(p); string(b) != "precious" {
		t.Errorf("the file was changed: %q", b)
	}
	site := filepath.Join(data, "site")
	for i := 0; i < 2; i++ {
		if code, _, stderr := runCLI(t, "viz", "--build", site, "--conf-source", conf); code != 0 {
			t.Fatalf("build %d: exit %d: %s", i, code, stderr)
		}
	}
}

// TestVizWarnsWhenExposed is issue 16 item 12: binding beyond loopback
// prints a warning; the default bind does not.
func TestVizWarnsWhenExposed(t *testing.T) {
	conf, _ := project(t, "[1]")
	for host, warn := range map[string]bool{"127.0.0.1": false, "0.0.0.0": true} {
		var out, errb bytes.Buffer
		app := &App{Registry: testRegistry(), Stdout: &out, Stderr: &errb}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // serve, then stop at once
		code := app.Main(ctx, []string{"viz", "--host", host, "--port", "0", "--conf-source", conf})
		if code != 0 {
			t.Fatalf("--host %s: exit %d: %s", host, code, errb.String())
		}
		if got := strings.Contains(errb.String(), "WARNING"); got != warn {
			t.Errorf("--host %s: warning %v, want %v: %q", host, got, warn, errb.String())
		}
	}
}

// TestVizAutoreload: with --autoreload, a changed catalog reaches the
// served graphs without a restart (the page polls /api/version).
func TestVizAutoreload(t *testing.T) {
	conf, data := project(t, "[1]")
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		app := &App{Registry: testRegistry(), Stdout: &out, Stderr: &errb}
		done <- app.Main(ctx, []string{"viz", "--autoreload", "--port", "0", "--conf-source", conf})
	}()
	defer func() { cancel(); <-done }()
	url := ""
	for deadline := time.Now().Add(20 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		url = regexp.MustCompile(`http://[0-9.:]+/`).FindString(out.String())
		if url == "" && time.Now().After(deadline) {
			t.Fatalf("viz did not start: %s %s", out.String(), errb.String())
		}
	}
	getJSON := func(path string, v any) {
		t.Helper()
		res, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var v struct {
		Version    string `json:"version"`
		Autoreload bool   `json:"autoreload"`
	}
	getJSON("api/version", &v)
	first := v.Version
	if !strings.HasSuffix(first, ".1") || !v.Autoreload {
		t.Fatalf("version %+v", v)
	}
	// Give total a layer.
	cat := filepath.Join(conf, "base", "catalog.yml")
	b, _ := os.ReadFile(cat)
	b = bytes.Replace(b, []byte("  filepath: "+data+"/total.json\n"), []byte("  filepath: "+data+"/total.json\n  metadata: {layer: reporting}\n"), 1)
	time.Sleep(10 * time.Millisecond) // a new modification time
	if err := os.WriteFile(cat, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		getJSON("api/version", &v)
		if v.Version != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog change was not picked up: %s", errb.String())
		}
	}
	var m struct{ Layers []string }
	getJSON("api/main", &m)
	if !slices.Contains(m.Layers, "reporting") {
		t.Errorf("layers after the reload: %v", m.Layers)
	}
}
