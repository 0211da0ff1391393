package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mmc/catalog"
	"mmc/flow"
)

type stepParams struct {
	Step int `yaml:"step"`
}

var (
	seed   = catalog.Declare[[]int]("seed_numbers")
	bumped = catalog.Declare[[]int]("bumped")
	total  = catalog.Declare[int]("total")
	params = catalog.Param[stepParams]("demo")
)

func bump(_ context.Context, xs []int, p stepParams) ([]int, error) {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = x + p.Step
	}
	return out, nil
}

func sum(_ context.Context, xs []int) (int, error) {
	s := 0
	for _, x := range xs {
		s += x
	}
	if s < 0 {
		return 0, errors.New("negative total")
	}
	return s, nil
}

func demoPipeline() *flow.Pipeline {
	return flow.New(
		flow.Node2("bump", bump, seed, params, bumped).Tagged("prep"),
		flow.Node1("sum", sum, bumped, total),
	)
}

func testRegistry() *flow.Registry {
	r := flow.NewRegistry()
	r.Add("demo", "a demo", demoPipeline)
	r.Add(flow.DefaultPipeline, "the demo", demoPipeline)
	r.Planned("vilbert_train", "train", "needs the ViLBERT wiring")
	return r
}

// project makes a conf dir whose catalog points into a temp data dir.
func project(t *testing.T, seedJSON string) (conf, data string) {
	t.Helper()
	root := t.TempDir()
	conf, data = filepath.Join(root, "conf"), filepath.Join(root, "data")
	for _, d := range []string{filepath.Join(conf, "base"), filepath.Join(conf, "demo"), data} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(conf, "base", "parameters.yml"), []byte("demo:\n  step: 1\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "base", "catalog.yml"), []byte(
		"seed_numbers:\n  type: json\n  filepath: "+data+"/seed.json\n  metadata: {layer: raw}\n"+
			"total:\n  type: json\n  filepath: "+data+"/total.json\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "demo", "parameters.yml"), []byte("demo:\n  step: 100\n"), 0o644)
	if seedJSON != "" {
		os.WriteFile(filepath.Join(data, "seed.json"), []byte(seedJSON), 0o644)
	}
	return conf, data
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &App{Registry: testRegistry(), Stdout: &out, Stderr: &errb}
	code := app.Main(context.Background(), args)
	return code, out.String(), errb.String()
}

func readTotal(t *testing.T, data string) string {
	b, err := os.ReadFile(filepath.Join(data, "total.json"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestRun(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"default", nil, "9"},
		{"named parallel", []string{"--pipeline=demo", "--runner=parallel", "--max-workers=2"}, "9"},
		{"env", []string{"--env=demo"}, "306"},
		{"runtime params", []string{"--params", "demo.step=2"}, "12"},
		{"json logs", []string{"--log-format=json", "--log-level=debug", "--tags=prep,x", "--to-outputs=total"}, "9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf, data := project(t, "[1,2,3]")
			code, _, stderr := runCLI(t, append([]string{"run", "--conf-source", conf}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if c.name != "json logs" {
				if got := readTotal(t, data); got != c.want {
					t.Errorf("total = %s, want %s", got, c.want)
				}
				return
			}
			// --tags=prep keeps only "bump", so nothing writes total.
			if _, err := os.Stat(filepath.Join(data, "total.json")); err == nil {
				t.Error("filtered-out node wrote its output")
			}
			if !strings.Contains(stderr, `"level":"info"`) || !strings.Contains(stderr, `"dataset":"seed_numbers"`) {
				t.Errorf("no JSON log lines in %q", stderr)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		seed string
		code int
		want []string
	}{
		{"not built", []string{"--pipeline=vilbert_train"}, "[1]", 1,
			[]string{`pipeline "vilbert_train" is registered but not built yet: needs the ViLBERT wiring`}},
		{"unknown pipeline", []string{"--pipeline=dmeo"}, "[1]", 1, []string{`did you mean "demo"`}},
		{"unknown node", []string{"--nodes=bmp"}, "[1]", 1, []string{`unknown node "bmp" (did you mean "bump"?)`}},
		{"empty filter", []string{"--nodes=bump", "--tags=nope"}, "[1]", 1, []string{"no nodes after applying all provided filters"}},
		{"unknown parameter", []string{"--params", "demo.stp=2"}, "[1]", 1,
			[]string{`"demo.stp": unknown parameter (did you mean "step"?)`, "--params"}},
		{"missing input", nil, "", 1, []string{`input dataset "seed_numbers"`, "seed.json", "does not exist"}},
		{"bad runner", []string{"--runner=fast"}, "[1]", 2, []string{"--runner"}},
		{"both pipeline flags", []string{"--pipeline=a", "--pipelines=b"}, "[1]", 2, []string{"not both"}},
		{"node failure", nil, "[-10]", 1, []string{`node "sum" failed: negative total`, `--from-nodes "bump"`, "Resume with:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf, _ := project(t, c.seed)
			code, _, stderr := runCLI(t, append([]string{"run", "--conf-source", conf}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d (%s)", code, c.code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestOnlyMissingOutputsAndVersions(t *testing.T) {
	conf, data := project(t, "[1,2,3]")
	if code, _, stderr := runCLI(t, "run", "--conf-source", conf); code != 0 {
		t.Fatal(stderr)
	}
	code, _, stderr := runCLI(t, "run", "--conf-source", conf, "--only-missing-outputs")
	if code != 0 || !strings.Contains(stderr, "running 0 out of 2 nodes") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	// A versioned output: two runs keep two versions, --load-versions pins one.
	os.Remove(filepath.Join(data, "total.json"))
	os.WriteFile(filepath.Join(conf, "base", "catalog.yml"), []byte(
		"seed_numbers:\n  type: json\n  filepath: "+data+"/seed.json\n"+
			"total:\n  type: json\n  filepath: "+data+"/total.json\n  versioned: true\n"), 0o644)
	for _, step := range []string{"1", "2"} {
		if code, _, stderr := runCLI(t, "run", "--conf-source", conf, "--params", "demo.step="+step); code != 0 {
			t.Fatal(stderr)
		}
		time.Sleep(2 * time.Millisecond) // distinct version timestamps
	}
	versions, _ := filepath.Glob(filepath.Join(data, "total.json", "*", "total.json"))
	if len(versions) != 2 {
		t.Fatalf("versions %v", versions)
	}
	if code, _, stderr := runCLI(t, "run", "--conf-source", conf, "--load-versions", "total:nope"); code != 1 || !strings.Contains(stderr, "not in the form") {
		t.Errorf("bad version: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "run", "--conf-source", conf, "--load-versions", "bumped:2026-01-01T00.00.00.000Z"); code != 2 || !strings.Contains(stderr, "has no catalog entry") {
		t.Errorf("in-memory dataset version: exit %d, %s", code, stderr)
	}
}

func TestRegistryCommands(t *testing.T) {
	code, out, _ := runCLI(t, "registry", "list")
	if code != 0 {
		t.Fatal(code)
	}
	var first []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		first = append(first, strings.Fields(line)[0])
	}
	if strings.Join(first, ",") != "__default__,demo,vilbert_train" || !strings.Contains(out, "not yet built") {
		t.Errorf("registry list:\n%s", out)
	}
	_, out, _ = runCLI(t, "registry", "describe", "demo")
	if !strings.Contains(out, "  - bump (cli.bump)\n  - sum (cli.sum)") {
		t.Errorf("describe:\n%s", out)
	}
	_, out, _ = runCLI(t, "registry", "describe", "vilbert_train")
	if !strings.Contains(out, "status: not yet built") {
		t.Errorf("describe not built:\n%s", out)
	}
	if code, _, _ := runCLI(t, "registry", "lst"); code != 2 {
		t.Errorf("registry lst exit %d", code)
	}
}

func TestCatalogAndParams(t *testing.T) {
	conf, data := project(t, "[1]")
	code, out, stderr := runCLI(t, "catalog", "list", "--pipeline", "demo", "--conf-source", conf)
	if code != 0 {
		t.Fatal(stderr)
	}
	for _, w := range []string{"bumped", "memory", "seed_numbers", "explicit", "json " + data + "/seed.json", "[]int"} {
		if !strings.Contains(out, w) {
			t.Errorf("catalog list lacks %q:\n%s", w, out)
		}
	}
	code, out, stderr = runCLI(t, "params", "show", "--pipeline=demo", "--conf-source", conf, "--env", "demo")
	if code != 0 {
		t.Fatal(stderr)
	}
	if !strings.Contains(out, "demo.step") || !strings.Contains(out, "100") || !strings.Contains(out, filepath.Join("demo", "parameters.yml")+":2:3") {
		t.Errorf("params show:\n%s", out)
	}
}

func TestUnknownRuntimeParamWarns(t *testing.T) {
	conf, _ := project(t, "[1]")
	code, _, stderr := runCLI(t, "params", "show", "--conf-source", conf, "--params", "dmeo.step=3")
	if code != 0 || !strings.Contains(stderr, `--params dmeo.step sets a parameter that conf does not define (did you mean "demo.step"?)`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestViz(t *testing.T) {
	conf, _ := project(t, "[1]")
	for format, want := range map[string]string{"dot": "digraph", "mermaid": "flowchart", "json": `"nodes"`} {
		code, out, stderr := runCLI(t, "viz", "--format="+format, "--conf-source", conf)
		if code != 0 {
			t.Fatalf("%s: %s", format, stderr)
		}
		if !strings.Contains(out, want) || !strings.Contains(out, "seed_numbers") {
			t.Errorf("viz --format=%s:\n%s", format, out)
		}
	}
	p := demoPipeline()
	cat, err := catalog.New(nil, nil, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := Graph("demo", p, cat, nil)
	if len(g.Nodes) != 2 || len(g.Nodes[0].Params) != 1 || g.Nodes[0].Params[0] != "demo" || len(g.Params) != 1 {
		t.Errorf("graph %+v", g)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"viz", "-h"}, {"registry", "--help"}, {"catalog", "--help"}, {"params", "--help"}} {
		code, out, _ := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, out %q", args, code, out)
		}
	}
	code, _, stderr := runCLI(t, "rnu")
	if code != 2 || !strings.Contains(stderr, `did you mean "run"`) {
		t.Errorf("unknown command: %d %s", code, stderr)
	}
}

func TestSplitList(t *testing.T) {
	got := splitList("a, b,,c[1,2],d")
	if strings.Join(got, "|") != "a|b|c[1,2]|d" {
		t.Errorf("splitList = %q", got)
	}
}

func TestResumeCommand(t *testing.T) {
	a := &App{Program: "go run ."}
	got := a.resumeCommand([]string{"--pipeline=x y", "--from-nodes", "old", "--tags=t"}, `--from-nodes "n1,n2"`)
	want := `go run . run '--pipeline=x y' --tags=t --from-nodes "n1,n2"`
	if got != want {
		t.Errorf("resume = %s, want %s", got, want)
	}
}
