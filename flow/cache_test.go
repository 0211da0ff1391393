package flow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"mmc/catalog"
	"mmc/config"
)

type xParams struct {
	X int `yaml:"x"`
}

var (
	cA  = catalog.Declare[int]("cA")
	cB  = catalog.Declare[int]("cB")
	cC  = catalog.Declare[int]("cC")
	cM  = catalog.Declare[int]("cM") // in-memory
	cD  = catalog.Declare[int]("cD")
	cP1 = catalog.Param[xParams]("p1")
	cP2 = catalog.Param[xParams]("p2")
)

func addX(_ context.Context, v int, p xParams) (int, error) { return v + p.X, nil }

// cachePipeline is cA → n1(p1) → cB → n2(p2) → cC and
// cA → n3 → cM (in memory) → n4 → cD.
func cachePipeline() *Pipeline {
	return New(
		Node2("n1", addX, cA, cP1, cB),
		Node2("n2", addX, cB, cP2, cC),
		Node1("n3", inc, cA, cM),
		Node1("n4", inc, cM, cD),
	)
}

const cacheCatalog = `
cA: {type: json, filepath: $DIR/a.json}
cB: {type: json, filepath: $DIR/b.json}
cC: {type: json, filepath: $DIR/c.json}
cD: {type: json, filepath: $DIR/d.json}
`

// cacheProject is a folder with the catalog's data and a lock.
type cacheProject struct {
	t      *testing.T
	dir    string
	params string
	build  string
}

func newCacheProject(t *testing.T) *cacheProject {
	cp := &cacheProject{t: t, dir: t.TempDir(), params: "p1: {x: 1}\np2: {x: 2}\n", build: "build-1"}
	cp.write("a.json", "10")
	return cp
}

func (cp *cacheProject) write(name, content string) {
	if err := os.WriteFile(filepath.Join(cp.dir, name), []byte(content), 0o644); err != nil {
		cp.t.Fatal(err)
	}
}

func (cp *cacheProject) catalog() *catalog.Catalog {
	conf, err := config.ParseFile("catalog.yml", []byte(strings.ReplaceAll(cacheCatalog, "$DIR", cp.dir)))
	if err != nil {
		cp.t.Fatal(err)
	}
	params, err := config.ParseFile("parameters.yml", []byte(cp.params))
	if err != nil {
		cp.t.Fatal(err)
	}
	cat, err := catalog.New(conf, params, catalog.Options{})
	if err != nil {
		cp.t.Fatal(err)
	}
	return cat
}

// run runs p with the project's cache and returns the nodes that ran,
// sorted, and the reason of every node.
func (cp *cacheProject) run(p *Pipeline, opts RunOptions) ([]string, map[string]string, error) {
	cp.t.Helper()
	c, err := OpenCache(cp.dir, cp.build)
	if err != nil {
		cp.t.Fatal(err)
	}
	opts.Cache = c
	var skipped []string
	opts.Hooks = append(opts.Hooks, Hooks{OnNodeSkipped: func(_ context.Context, n *Node, _ string) { skipped = append(skipped, n.Name()) }})
	res, err := Run(context.Background(), p, cp.catalog(), opts)
	if res == nil {
		return nil, nil, err
	}
	why := map[string]string{}
	for _, d := range res.Plan {
		why[d.Node] = d.Reason
	}
	ran := slices.Clone(res.Ran)
	slices.Sort(ran)
	for _, s := range res.Skipped {
		if !slices.Contains(skipped, s) {
			cp.t.Errorf("node %s skipped without the OnNodeSkipped hook", s)
		}
	}
	return ran, why, err
}

func (cp *cacheProject) expect(p *Pipeline, opts RunOptions, wantRan []string, wantWhy map[string]string) {
	cp.t.Helper()
	ran, why, err := cp.run(p, opts)
	if err != nil {
		cp.t.Fatal(err)
	}
	if !slices.Equal(ran, wantRan) {
		cp.t.Errorf("ran %v, want %v (reasons %q)", ran, wantRan, why)
	}
	for node, w := range wantWhy {
		if !strings.Contains(why[node], w) {
			cp.t.Errorf("node %s: reason %q, want it to contain %q", node, why[node], w)
		}
	}
}

func TestCacheSkipsAndSaysWhy(t *testing.T) {
	cp := newCacheProject(t)
	p := cachePipeline()
	all := []string{"n1", "n2", "n3", "n4"}
	cp.expect(p, RunOptions{}, all, map[string]string{"n1": "outputs missing: cB", "n3": "no record in the lock"})
	cp.expect(p, RunOptions{}, nil, map[string]string{"n1": "up to date", "n2": "up to date", "n3": "up to date", "n4": "up to date"})

	// One parameter: the node reading it and its descendants.
	cp.params = "p1: {x: 5}\np2: {x: 2}\n"
	cp.expect(p, RunOptions{}, []string{"n1", "n2"}, map[string]string{"n1": "parameter p1.x changed (1 → 5)", "n2": "input cB changes (node n1 runs)", "n4": "up to date"})
	if b, _ := os.ReadFile(filepath.Join(cp.dir, "c.json")); strings.TrimSpace(string(b)) != "17" {
		t.Errorf("c.json = %s, want 17", b)
	}
	cp.expect(p, RunOptions{}, nil, nil)

	// Same content, new mtime: the hash decides, nothing runs.
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(cp.dir, "a.json"), future, future)
	cp.expect(p, RunOptions{}, nil, map[string]string{"n1": "up to date"})

	// New content of the raw input: everything reading it.
	cp.write("a.json", "20")
	cp.expect(p, RunOptions{}, all, map[string]string{"n1": "input cA changed", "n3": "input cA changed"})

	// A deleted output reruns its node, and the node feeding it in memory.
	os.Remove(filepath.Join(cp.dir, "d.json"))
	cp.expect(p, RunOptions{}, []string{"n3", "n4"}, map[string]string{"n4": "outputs missing: cD", "n3": "in-memory output cM is needed by node n4"})

	// An output edited by hand reruns its node.
	cp.write("b.json", "99")
	cp.expect(p, RunOptions{}, []string{"n1", "n2"}, map[string]string{"n1": "output cB changed since it was written"})

	// Forcing.
	cp.expect(p, RunOptions{Force: true}, all, map[string]string{"n2": "forced (--force)"})
	cp.expect(p, RunOptions{ForceDownstream: []string{"n3"}}, []string{"n3", "n4"}, map[string]string{"n4": "forced (downstream"})

	// New code reruns everything but a node that declares its version.
	cp.build = "build-2"
	pv := New(Node2("n1", addX, cA, cP1, cB).Versioned("1"), Node2("n2", addX, cB, cP2, cC), Node1("n3", inc, cA, cM), Node1("n4", inc, cM, cD))
	cp.expect(pv, RunOptions{}, all, map[string]string{"n1": "code changed", "n2": "input cB changes (node n1 runs)", "n3": "code changed"})
	cp.build = "build-3"
	cp.expect(pv, RunOptions{}, []string{"n2", "n3", "n4"}, map[string]string{"n1": "up to date", "n2": "code changed"})

	// --only-missing-outputs ignores the record.
	cp.params = "p1: {x: 6}\np2: {x: 2}\n"
	cp.expect(pv, RunOptions{OnlyMissingOutputs: true}, nil, map[string]string{"n1": "outputs exist"})

	// The lock is a readable JSON file under the root.
	b, err := os.ReadFile(filepath.Join(cp.dir, LockFile))
	if err != nil || !strings.Contains(string(b), `"p1.x":"5"`) {
		t.Errorf("lock file: %v\n%s", err, b)
	}
}

func TestKeepGoingFinishesIndependentBranches(t *testing.T) {
	cp := newCacheProject(t)
	fail := func(context.Context, int) (int, error) { return 0, errors.New("boom") }
	p := New(
		Node1("bad", fail, cA, cB),
		Node1("after_bad", inc, cB, cC),
		Node1("good", inc, cA, cM),
		Node1("after_good", inc, cM, cD),
	)
	var skips []string
	hook := Hooks{OnNodeSkipped: func(_ context.Context, n *Node, why string) { skips = append(skips, n.Name()+": "+why) }}
	ran, _, err := cp.run(p, RunOptions{KeepGoing: true, Hooks: []Hooks{hook}})
	var re *RunError
	if !errors.As(err, &re) || re.Node != "bad" || !slices.Equal(re.Failed, []string{"bad"}) {
		t.Fatalf("err %v", err)
	}
	if !slices.Equal(ran, []string{"after_good", "good"}) {
		t.Errorf("ran %v", ran)
	}
	if !slices.Equal(skips, []string{"after_bad: upstream node bad failed"}) {
		t.Errorf("skips %q", skips)
	}
	if !slices.Equal(re.NotRun, []string{"bad", "after_bad"}) {
		t.Errorf("not run %v", re.NotRun)
	}
	// Without --keep-going the first failure stops the run (sequential).
	ran, _, err = cp.run(p, RunOptions{Force: true})
	if err == nil || len(ran) != 0 {
		t.Errorf("without keep-going: ran %v, err %v", ran, err)
	}
}

func TestResumeSkipsDoneNodes(t *testing.T) {
	cp := newCacheProject(t)
	p := cachePipeline()
	if _, err := Run(context.Background(), p, cp.catalog(), RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// A resumed run skips what the failed run did (even with caching off)
	// but still reruns the producer of an in-memory input.
	res, err := Run(context.Background(), p, cp.catalog(), RunOptions{Done: []string{"n1", "n3"}, DoneRun: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	ran := slices.Clone(res.Ran)
	slices.Sort(ran)
	if !slices.Equal(ran, []string{"n2", "n3", "n4"}) {
		t.Errorf("ran %v, plan %+v", ran, res.Plan)
	}
}

// BenchmarkPlan10k is `status` and `run --dry-run` on a 10,000-node
// pipeline whose nodes all ran: every persisted output is stat'ed and
// every record compared (nothing is hashed: sizes and times match).
func BenchmarkPlan10k(b *testing.B) {
	dir := b.TempDir()
	conf, err := config.ParseFile("c.yml", []byte("src: {type: json, filepath: \""+dir+"/src.json\"}\n\"d{n}\": {type: json, filepath: \""+dir+"/d{n}.json\"}\n"))
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "src.json"), []byte("1"), 0o644)
	cat, err := catalog.New(conf, nil, catalog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := New(layered(10000, 50)...)
	c, err := OpenCache(dir, "bench")
	if err != nil {
		b.Fatal(err)
	}
	// Record every node as if it had run (Run would fsync 10,000 saves).
	for _, n := range p.Nodes() {
		if err := os.WriteFile(filepath.Join(dir, n.OutputNames()[0]+".json"), []byte("1"), 0o644); err != nil {
			b.Fatal(err)
		}
		e, err := c.entryFor(n, cat, "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		c.nodes[n.Name()], c.changed[n.Name()] = e, true
	}
	if err := c.Flush(); err != nil {
		b.Fatal(err)
	}
	c0 := cpuTime()
	for b.Loop() {
		c, err := OpenCache(dir, "bench")
		if err != nil {
			b.Fatal(err)
		}
		cat, _ := catalog.New(conf, nil, catalog.Options{})
		plan, err := Plan(p, cat, PlanOptions{Cache: c})
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range plan {
			if d.Run {
				b.Fatalf("node %s would run: %s", d.Node, d.Reason)
			}
		}
	}
	reportCPU(b, c0)
}

func TestCacheWithParallelRunner(t *testing.T) {
	cp := newCacheProject(t)
	p := cachePipeline()
	cp.expect(p, RunOptions{MaxWorkers: 4}, []string{"n1", "n2", "n3", "n4"}, nil)
	cp.expect(p, RunOptions{MaxWorkers: 4}, nil, nil)
	cp.params = "p1: {x: 1}\np2: {x: 3}\n"
	cp.expect(p, RunOptions{MaxWorkers: 4}, []string{"n2"}, map[string]string{"n2": "parameter p2.x changed (2 → 3)"})
}

func TestBuildIDIdentifiesThisBinary(t *testing.T) {
	id := BuildID()
	if id == "unknown" || id == "" || (runtime.GOOS == "linux" && !strings.HasPrefix(id, "buildid:")) {
		t.Errorf("BuildID() = %q", id)
	}
	if detectBuild() != id {
		t.Error("BuildID is not stable")
	}
}

func TestCachePinnedVersionedInput(t *testing.T) {
	dir := t.TempDir()
	for v, content := range map[string]string{"2026-01-01T00.00.00.000Z": "1", "2026-01-02T00.00.00.000Z": "2"} {
		os.MkdirAll(filepath.Join(dir, "a.json", v), 0o755)
		os.WriteFile(filepath.Join(dir, "a.json", v, "a.json"), []byte(content), 0o644)
	}
	conf, _ := config.ParseFile("c.yml", []byte("cA: {type: json, filepath: \""+dir+"/a.json\", versioned: true}\ncB: {type: json, filepath: \""+dir+"/b.json\"}\n"))
	p := New(Node1("n1", inc, cA, cB))
	run := func(pin string) ([]string, string) {
		t.Helper()
		cat, err := catalog.New(conf, nil, catalog.Options{LoadVersions: map[string]string{"cA": pin}})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := OpenCache(dir, "b")
		res, err := Run(context.Background(), p, cat, RunOptions{Cache: c, Info: RunInfo{LoadVersions: map[string]string{"cA": pin}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Ran, res.Plan[0].Reason
	}
	run("2026-01-01T00.00.00.000Z")
	if ran, why := run("2026-01-01T00.00.00.000Z"); len(ran) != 0 {
		t.Errorf("same pinned version ran again: %s", why)
	}
	if ran, why := run("2026-01-02T00.00.00.000Z"); len(ran) != 1 || !strings.Contains(why, "input cA is now "+dir+"/a.json/2026-01-02T00.00.00.000Z/a.json") {
		t.Errorf("another pinned version: ran %v, %s", ran, why)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "b.json")); strings.TrimSpace(string(b)) != "3" {
		t.Errorf("b.json = %s", b)
	}
}
