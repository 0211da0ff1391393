package flow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mmc/catalog"
	"mmc/config"
)

var (
	A = catalog.Declare[int]("A")
	B = catalog.Declare[int]("B")
	C = catalog.Declare[int]("C")
	D = catalog.Declare[int]("D")
	E = catalog.Declare[int]("E")
)

func inc(_ context.Context, x int) (int, error)    { return x + 1, nil }
func add(_ context.Context, x, y int) (int, error) { return x + y, nil }

// chain is A → n1 → B → n2 → C → n3 → D.
func chain() *Pipeline {
	return New(
		Node1("n1", inc, A, B),
		Node1("n2", inc, B, C),
		Node1("n3", inc, C, D).Tagged("last"),
	)
}

func newCat(t *testing.T, yml, params string) (*catalog.Catalog, string) {
	t.Helper()
	dir := t.TempDir()
	conf, err := config.ParseFile("catalog.yml", []byte(strings.ReplaceAll(yml, "$DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := config.ParseFile("parameters.yml", []byte(params))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.New(conf, p, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

func TestValidationErrors(t *testing.T) {
	X := catalog.Declare[string]("B")
	cases := []struct {
		name string
		p    *Pipeline
		want string
	}{
		{"duplicate names", New(Node1("n", inc, A, B), Node1("n", inc, B, C)), "appear more than once: n"},
		{"duplicate outputs", New(Node1("n1", inc, A, B), Node1("n2", inc, C, B)), `output "B" is written by more than one node`},
		{"cycle", New(Node1("n1", inc, A, B), Node1("n2", inc, B, C), Node1("n3", inc, C, A)), "circular dependencies exist among these 3 nodes: n1, n2, n3"},
		{"input is output", New(Node1("n1", inc, A, A)), `reads "A", which is also its own output`},
		{"type clash", New(Node1("n1", inc, A, B), Node1("n2", func(context.Context, string) (int, error) { return 0, nil }, X, C)), `dataset "B" is used as int and as string`},
		{"bad name", New(Node1("bad name", inc, A, B)), "may only contain"},
		{"bad tag", New(Node1("n", inc, A, B).Tagged("a b")), "tag"},
		{"func shape", New(Func("f", func(int) int { return 0 }, []catalog.Ref{A}, []catalog.Ref{B})), "must take a context.Context"},
		{"func type", New(Func("f", func(context.Context, string) (int, error) { return 0, nil }, []catalog.Ref{A}, []catalog.Ref{B})), `input "A" is int`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Err()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Err() = %v, want %q", err, c.want)
			}
		})
	}
}

func TestToposortDeterministic(t *testing.T) {
	p := New(
		Node1("z", inc, C, D),
		Node2("y", add, A, B, C),
		Node1("b", inc, E, B),
		Node1("a", inc, E, A),
	)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.NodeNames(), ","); got != "a,b,y,z" {
		t.Errorf("order %s", got)
	}
	if got := p.Inputs(); !slices.Equal(got, []string{"E"}) {
		t.Errorf("inputs %v", got)
	}
	if got := p.Outputs(); !slices.Equal(got, []string{"D"}) {
		t.Errorf("outputs %v", got)
	}
}

func TestFilter(t *testing.T) {
	p := chain()
	cases := []struct {
		f    Filter
		want string
		err  string
	}{
		{Filter{FromNodes: []string{"n2"}}, "n2,n3", ""},
		{Filter{ToNodes: []string{"n2"}}, "n1,n2", ""},
		{Filter{FromInputs: []string{"B"}}, "n2,n3", ""},
		{Filter{ToOutputs: []string{"C"}}, "n1,n2", ""},
		{Filter{Tags: []string{"last"}}, "n3", ""},
		// Kedro's docstring example: filters intersect.
		{Filter{NodeNames: []string{"n1", "n3"}, FromInputs: []string{"A"}}, "n1,n3", ""},
		{Filter{FromNodes: []string{"n2"}, ToNodes: []string{"n2"}}, "n2", ""},
		{Filter{NodeNames: []string{"n4"}}, "", `unknown node "n4" (did you mean "n1"?)`},
		{Filter{NodeNames: []string{"n1"}, Tags: []string{"last"}}, "", "no nodes after applying all provided filters"},
		{Filter{Namespaces: []string{"x"}}, "", `no node is in namespace "x"`},
		{Filter{ToOutputs: []string{"Q"}}, "", `no node writes dataset "Q"`},
	}
	for _, c := range cases {
		got, err := p.Filter(c.f)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Filter(%+v) error = %v, want %q", c.f, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Filter(%+v): %v", c.f, err)
			continue
		}
		if s := strings.Join(got.NodeNames(), ","); s != c.want {
			t.Errorf("Filter(%+v) = %s, want %s", c.f, s, c.want)
		}
	}
}

func TestNamespaced(t *testing.T) {
	P := catalog.Param[int]("k")
	base := New(Node2("n1", add, A, P, B), Node1("n2", inc, B, C))
	p := Namespaced(base, "ns", Remap{Inputs: map[string]string{"A": "A"}, Parameters: map[string]string{"k": "shared.k"}})
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.NodeNames(), ","); got != "ns.n1,ns.n2" {
		t.Errorf("names %s", got)
	}
	if got := p.Datasets(); !slices.Equal(got, []string{"A", "ns.B", "ns.C", "params:shared.k"}) {
		t.Errorf("datasets %v", got)
	}
	if _, err := p.Filter(Filter{NodeNames: []string{"n1"}}); err == nil || !strings.Contains(err.Error(), `did you mean "ns.n1"`) {
		t.Errorf("short-name filter error = %v", err)
	}
	f, err := p.Filter(Filter{Namespaces: []string{"ns"}})
	if err != nil || f.Len() != 2 {
		t.Errorf("namespace filter = %v, %v", f, err)
	}
	bad := Namespaced(base, "ns", Remap{Inputs: map[string]string{"B": "x"}})
	if bad.Err() == nil || !strings.Contains(bad.Err().Error(), "inputs must be free inputs") {
		t.Errorf("remap of produced input: %v", bad.Err())
	}
	bad = Namespaced(base, "ns", Remap{Outputs: map[string]string{"CC": "x"}})
	if bad.Err() == nil || !strings.Contains(bad.Err().Error(), `did you mean "C"`) {
		t.Errorf("remap of unknown output: %v", bad.Err())
	}
}

func TestCheck(t *testing.T) {
	type params struct {
		Step int `yaml:"step"`
	}
	P := catalog.Param[params]("model")
	step := func(_ context.Context, x int, p params) (int, error) { return x + p.Step, nil }
	p := New(Node2("n1", step, A, P, B), Node1("n2", inc, B, C))
	cat, _ := newCat(t, "A: {type: json, filepath: a.json}\nC: {type: png, filepath: c.png}\n", "model:\n  stp: 1\n")
	err := Check(p, cat)
	for _, want := range []string{`"model.stp": unknown parameter (did you mean "step"?)`, "parameters.yml:2:3", "supports image.Image, not int"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %v lacks %q", err, want)
		}
	}
	cat2, _ := newCat(t, "", "model:\n  step: 1\n")
	err = Check(p, cat2)
	if err == nil || !strings.Contains(err.Error(), `dataset "A", read by node "n1", is not produced in this pipeline and has no catalog entry`) {
		t.Errorf("free input error = %v", err)
	}
}

// recorder counts hook calls; the runner serialises hooks, so plain
// fields are enough, and the race detector checks that claim.
type recorder struct {
	events []string
}

func (r *recorder) hooks() Hooks {
	return Hooks{
		BeforePipelineRun: func(context.Context, RunInfo, *Pipeline) { r.events = append(r.events, "before_pipeline") },
		AfterPipelineRun:  func(context.Context, RunInfo, *Pipeline, *Result) { r.events = append(r.events, "after_pipeline") },
		OnPipelineError:   func(context.Context, RunInfo, *Pipeline, error) { r.events = append(r.events, "pipeline_error") },
		BeforeNodeRun:     func(_ context.Context, n *Node, _ map[string]any) { r.events = append(r.events, "before:"+n.Name()) },
		AfterNodeRun: func(_ context.Context, n *Node, _, _ map[string]any, _ time.Duration) {
			r.events = append(r.events, "after:"+n.Name())
		},
		OnNodeError: func(_ context.Context, n *Node, _ map[string]any, _ error) {
			r.events = append(r.events, "error:"+n.Name())
		},
		BeforeDatasetLoaded: func(_ context.Context, d string, _ *Node) { r.events = append(r.events, "loading:"+d) },
		AfterDatasetLoaded: func(_ context.Context, d string, _ any, _ *Node, _ time.Duration) {
			r.events = append(r.events, "loaded:"+d)
		},
		BeforeDatasetSaved: func(_ context.Context, d string, _ any, _ *Node) { r.events = append(r.events, "saving:"+d) },
		AfterDatasetSaved: func(_ context.Context, d string, _ any, _ *Node, _ time.Duration) {
			r.events = append(r.events, "saved:"+d)
		},
	}
}

func (r *recorder) count(prefix string) int {
	n := 0
	for _, e := range r.events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func TestRunSequentialAndParallel(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			p := New(
				Node1("n1", inc, A, B),
				Node1("n2", inc, A, C),
				Node2("n3", add, B, C, D),
			)
			cat, dir := newCat(t, "A: {type: json, filepath: $DIR/a.json}\nD: {type: json, filepath: $DIR/d.json}\n", "")
			os.WriteFile(filepath.Join(dir, "a.json"), []byte("10"), 0o644)
			rec := &recorder{}
			res, err := Run(context.Background(), p, cat, RunOptions{MaxWorkers: workers, Hooks: []Hooks{rec.hooks()}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Ran) != 3 || res.Ran[2] != "n3" {
				t.Errorf("ran %v", res.Ran)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "d.json"))
			if strings.TrimSpace(string(b)) != "22" {
				t.Errorf("d.json = %q", b)
			}
			for prefix, want := range map[string]int{"before_pipeline": 1, "after_pipeline": 1, "before:": 3, "after:": 3,
				"loading:": 4, "loaded:": 4, "saving:": 3, "saved:": 3, "error:": 0} {
				if got := rec.count(prefix); got != want {
					t.Errorf("%d %s hooks, want %d", got, prefix, want)
				}
			}
			if ok, _ := cat.Exists("B"); ok {
				t.Error("in-memory B not released after its last reader")
			}
		})
	}
}

func TestParallelRunsConcurrently(t *testing.T) {
	var running, peak atomic.Int32
	var mu sync.Mutex
	slow := func(_ context.Context, x int) (int, error) {
		n := running.Add(1)
		mu.Lock()
		peak.Store(max(peak.Load(), n))
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		running.Add(-1)
		return x, nil
	}
	var nodes []*Node
	for i := range 4 {
		nodes = append(nodes, Node1(fmt.Sprintf("n%d", i), slow, catalog.Declare[int]("in"), catalog.Declare[int](fmt.Sprintf("out%d", i))))
	}
	p := New(append(nodes, Node0("src", func(context.Context) (int, error) { return 1, nil }, catalog.Declare[int]("in")))...)
	cat, _ := newCat(t, "", "")
	if _, err := Run(context.Background(), p, cat, RunOptions{MaxWorkers: 4}); err != nil {
		t.Fatal(err)
	}
	if peak.Load() < 2 {
		t.Errorf("peak concurrency %d, want at least 2", peak.Load())
	}
}

func TestFailureResumeHint(t *testing.T) {
	// A(json) → n1 → B(json) → n2 → C(mem) → n3 → D(json); n3 fails.
	// C is in memory, so resuming must restart from n2.
	boom := func(context.Context, int) (int, error) { return 0, errors.New("boom") }
	for _, kind := range []string{"error", "panic"} {
		t.Run(kind, func(t *testing.T) {
			f := boom
			if kind == "panic" {
				f = func(context.Context, int) (int, error) { panic("kaput") }
			}
			p := New(Node1("n1", inc, A, B), Node1("n2", inc, B, C), Node1("n3", f, C, D), Node1("n4", inc, D, E))
			cat, dir := newCat(t, "A: {type: json, filepath: $DIR/a.json}\nB: {type: json, filepath: $DIR/b.json}\nD: {type: json, filepath: $DIR/d.json}\n", "")
			os.WriteFile(filepath.Join(dir, "a.json"), []byte("1"), 0o644)
			rec := &recorder{}
			_, err := Run(context.Background(), p, cat, RunOptions{Hooks: []Hooks{rec.hooks()}})
			var re *RunError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a RunError", err)
			}
			if re.Node != "n3" || re.ResumeArg() != `--from-nodes "n2"` {
				t.Errorf("node %q resume %q", re.Node, re.ResumeArg())
			}
			if !strings.Contains(re.Message, "There are 2 nodes that have not run") {
				t.Errorf("message %q", re.Message)
			}
			if rec.count("error:n3") != 1 || rec.count("pipeline_error") != 1 || rec.count("after_pipeline") != 0 {
				t.Errorf("hooks %v", rec.events)
			}
			if _, err := os.Stat(filepath.Join(dir, "b.json")); err != nil {
				t.Error("completed output b.json was not kept")
			}
			if kind == "panic" {
				var pe *PanicError
				if !errors.As(err, &pe) || pe.Value != "kaput" {
					t.Errorf("panic error = %v", err)
				}
			}
		})
	}
}

func TestNothingRanHint(t *testing.T) {
	p := New(Node1("n1", func(context.Context, int) (int, error) { return 0, errors.New("x") }, A, B))
	cat, dir := newCat(t, "A: {type: json, filepath: $DIR/a.json}\n", "")
	os.WriteFile(filepath.Join(dir, "a.json"), []byte("1"), 0o644)
	_, err := Run(context.Background(), p, cat, RunOptions{})
	var re *RunError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "No nodes ran") || re.ResumeArg() != "" {
		t.Errorf("error = %v, message %q", err, re.Message)
	}
}

func TestCancelLeavesNoPartialOutput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	slow := func(ctx context.Context, x int) (int, error) {
		close(started)
		<-ctx.Done()
		return x, nil // ignores cancellation: the runner must not save this
	}
	p := New(Node1("n1", slow, A, B), Node1("n2", inc, B, C))
	cat, dir := newCat(t, "A: {type: json, filepath: $DIR/a.json}\nB: {type: json, filepath: $DIR/b.json}\nC: {type: json, filepath: $DIR/c.json}\n", "")
	os.WriteFile(filepath.Join(dir, "a.json"), []byte("1"), 0o644)
	go func() { <-started; cancel() }()
	_, err := Run(ctx, p, cat, RunOptions{MaxWorkers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files after cancel: %v (want only a.json)", entries)
	}
}

func TestOnlyMissingOutputs(t *testing.T) {
	p := New(Node1("n1", inc, A, B), Node1("n2", inc, B, C), Node1("n3", inc, C, D))
	cat, dir := newCat(t, "A: {type: json, filepath: $DIR/a.json}\nB: {type: json, filepath: $DIR/b.json}\nD: {type: json, filepath: $DIR/d.json}\n", "")
	os.WriteFile(filepath.Join(dir, "a.json"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.json"), []byte("5"), 0o644)
	res, err := Run(context.Background(), p, cat, RunOptions{OnlyMissingOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Skipped, []string{"n1"}) || !slices.Equal(res.Ran, []string{"n2", "n3"}) {
		t.Errorf("skipped %v ran %v", res.Skipped, res.Ran)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "d.json"))
	if strings.TrimSpace(string(b)) != "7" {
		t.Errorf("d.json = %q", b)
	}
	res, _ = Run(context.Background(), p, cat, RunOptions{OnlyMissingOutputs: true})
	if len(res.Ran) != 0 {
		t.Errorf("second run ran %v", res.Ran)
	}
}

func TestMissingInputNamesProducer(t *testing.T) {
	p := New(Node1("n2", inc, B, C))
	cat, dir := newCat(t, "B: {type: json, filepath: $DIR/b.json}\n", "")
	_, err := Run(context.Background(), p, cat, RunOptions{Producers: func(string) []string { return []string{"synthetic_memes"} }})
	for _, want := range []string{`input dataset "B"`, filepath.Join(dir, "b.json"), "run pipeline synthetic_memes first"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	r.Add("chain", "a chain", chain)
	r.Add(DefaultPipeline, "default", chain)
	r.Planned("vilbert_train", "train", "needs the ViLBERT model (ml/vilbert)")
	if got := r.Names(); !slices.Equal(got, []string{"__default__", "chain", "vilbert_train"}) {
		t.Errorf("names %v", got)
	}
	if _, err := r.Pipeline("chian"); err == nil || !strings.Contains(err.Error(), `did you mean "chain"`) {
		t.Errorf("unknown name error = %v", err)
	}
	var nb *NotBuiltError
	if _, err := r.Pipeline("vilbert_train"); !errors.As(err, &nb) || !strings.Contains(err.Error(), "not built yet: needs the ViLBERT model") {
		t.Errorf("not built error = %v", err)
	}
	if p, err := r.Pipeline(); err != nil || p.Len() != 3 {
		t.Errorf("default = %v, %v", p, err)
	}
	if got := r.Producers("C"); !slices.Equal(got, []string{"chain"}) {
		t.Errorf("producers %v", got)
	}
	if got := r.Producers("A"); len(got) != 0 {
		t.Errorf("a free input has producers %v", got)
	}
	// Another name for the same file (matched by the caller's rule).
	if got := r.ProducersMatching(func(ds string) bool { return ds == "C" || ds == "other.C" }); !slices.Equal(got, []string{"chain"}) {
		t.Errorf("producers matching %v", got)
	}
}
