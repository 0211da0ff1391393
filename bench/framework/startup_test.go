// Package framework holds benchmarks of the framework as a whole: the
// process start-up of `run` on a trivial pipeline, against the start-up
// of the Python interpreter (the floor under any `kedro run`).
package framework

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildTrivial compiles ./trivial and lays out a conf dir for it.
func buildTrivial(b *testing.B) (bin, dir string) {
	b.Helper()
	dir = b.TempDir()
	bin = filepath.Join(dir, "trivial")
	out, err := exec.Command("go", "build", "-o", bin, "./trivial").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "conf", "base")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{
		"parameters.yml": "trivial:\n  greeting: hello\n",
		"catalog.yml":    "greeting:\n  type: text\n  filepath: " + filepath.Join(dir, "greeting.txt") + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return bin, dir
}

// BenchmarkRunStartup execs `trivial run` (config, catalog, validation,
// one node, one atomic save) and, in the same loop, `python3 -c pass`
// when python3 is installed, reporting the ratio of the two.
func BenchmarkRunStartup(b *testing.B) {
	bin, dir := buildTrivial(b)
	python, _ := exec.LookPath("python3")
	var goTime, pyTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		cmd := exec.Command(bin, "run", "--conf-source", filepath.Join(dir, "conf"), "--log-level", "warn")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("trivial run: %v\n%s", err, out)
		}
		goTime += time.Since(t0)
		if python != "" {
			t0 = time.Now()
			if err := exec.Command(python, "-c", "pass").Run(); err != nil {
				b.Fatal(err)
			}
			pyTime += time.Since(t0)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "greeting.txt"))
	if err != nil || string(got) != "hello" {
		b.Fatalf("trivial run wrote %q, %v", got, err)
	}
	b.ReportMetric(float64(goTime.Microseconds())/1000/float64(b.N), "run-ms/op")
	if python != "" {
		b.ReportMetric(float64(pyTime.Microseconds())/1000/float64(b.N), "python-ms/op")
		b.ReportMetric(float64(goTime)/float64(pyTime), "ratio")
	}
}
