package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
