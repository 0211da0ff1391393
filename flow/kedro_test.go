package flow

import (
	"context"
	"slices"
	"strings"
	"testing"

	"mmc/catalog"
)

// The tests in this file pin namespace and pipeline-sum behaviours as
// Kedro documents them (issue 14, items 7–9), plus the typed forms of
// renaming and wiring that keep them compiler-checked.

// Kedro rejects parameters in a namespace's inputs ("Parameters should
// be specified in the 'parameters' argument"); mmc used to accept and
// silently ignore them.
func TestKedroParametersInInputsRejected(t *testing.T) {
	P := catalog.Param[int]("alpha")
	base := New(Node2("n1", add, A, P, B))
	whole := New(Func("n2", func(context.Context, map[string]any) (int, error) { return 0, nil },
		[]catalog.Ref{catalog.Declare[map[string]any]("parameters")}, []catalog.Ref{C}))
	cases := []struct {
		name string
		p    *Pipeline
		m    Remap
		want []string
	}{
		{"params: key", base, Remap{Inputs: map[string]string{"params:alpha": "params:beta"}},
			[]string{`input "params:alpha" is a parameter`, `Remap.Parameters{"alpha": ...}`}},
		{"whole parameters", whole, Remap{Inputs: map[string]string{"parameters": "x"}},
			[]string{`input "parameters" is a parameter`, "Remap.Parameters"}},
		{"dataset onto a parameter", base, Remap{Inputs: map[string]string{"A": "params:alpha"}},
			[]string{`input "A" is mapped to parameter "params:alpha"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Namespaced(c.p, "ns", c.m).Err()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Kedro's parameter remap is written with the prefix,
// parameters={"params:alpha": "params:beta"}; the bare form "alpha" →
// "beta" means the same, and both may be mixed.
func TestKedroParameterRemapSpellings(t *testing.T) {
	P := catalog.Param[int]("alpha")
	Q := catalog.Param[int]("gamma")
	base := New(Node2("n1", add, A, P, B), Node2("n2", add, B, Q, C))
	for _, m := range []map[string]string{
		{"params:alpha": "params:beta", "params:gamma": "params:shared.gamma"},
		{"alpha": "beta", "gamma": "shared.gamma"},
		{"params:alpha": "beta", "gamma": "params:shared.gamma"},
	} {
		p := Namespaced(base, "ns", Remap{Parameters: m})
		if err := p.Err(); err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		if got := p.Inputs(); !slices.Equal(got, []string{"ns.A", "params:beta", "params:shared.gamma"}) {
			t.Errorf("%v: inputs %v", m, got)
		}
	}
	err := Namespaced(base, "ns", Remap{Parameters: map[string]string{"params:alpa": "params:beta"}}).Err()
	if err == nil || !strings.Contains(err.Error(), `parameter "params:alpa" is not used by the pipeline (did you mean "alpha"?)`) {
		t.Errorf("unknown parameter: %v", err)
	}
	err = Namespaced(base, "ns", Remap{Parameters: map[string]string{"params:alpha": "beta", "alpha": "delta"}}).Err()
	if err == nil || !strings.Contains(err.Error(), "mapped twice") {
		t.Errorf("conflicting spellings: %v", err)
	}
}

// Kedro's p + p keeps one copy of each node: nodes with the same name,
// function, inputs and outputs are the same node. Building a pipeline
// twice and summing the two copies is therefore valid, and a filter by
// either copy's tags finds the node. Same name with other wiring stays
// an error that shows both.
func TestKedroEqualNodesAreOne(t *testing.T) {
	build := func() *Pipeline { return New(Node1("n1", inc, A, B), Node1("n2", inc, B, C)) }
	s := Sum(build(), build(), New(Node1("n2", inc, B, C).Tagged("extra")))
	if err := s.Err(); err != nil {
		t.Fatalf("sum of two builds: %v", err)
	}
	if got := strings.Join(s.NodeNames(), ","); got != "n1,n2" {
		t.Errorf("nodes %s", got)
	}
	f, err := s.Filter(Filter{Tags: []string{"extra"}})
	if err != nil || strings.Join(f.NodeNames(), ",") != "n2" {
		t.Errorf("tag of the second copy: %v, %v", f, err)
	}
	// Namespacing the same template twice under one namespace is one
	// pipeline too.
	ns := Sum(Namespaced(build(), "x", Remap{}), Namespaced(build(), "x", Remap{}))
	if err := ns.Err(); err != nil || ns.Len() != 2 {
		t.Errorf("namespaced twice: len %d, %v", ns.Len(), err)
	}

	dec := func(_ context.Context, x int) (int, error) { return x - 1, nil }
	IntB := catalog.Declare[int]("B")
	StrB := catalog.Declare[string]("B")
	toStr := func(context.Context, int) (string, error) { return "", nil }
	cases := []struct {
		name  string
		other *Node
		want  string
	}{
		{"other function", Node1("n1", dec, A, IntB), "(A → B)"},
		{"other input", Node1("n1", inc, C, IntB), "inc(C → B)"},
		{"other output", Node1("n1", inc, A, D), "inc(A → D)"},
		{"other output type", Node1("n1", toStr, A, StrB), "(A → B)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Sum(New(Node1("n1", inc, A, B)), New(c.other)).Err()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range []string{"these appear more than once: n1", `"n1" is flow.inc(A → B) and `, c.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Rename is checked by the compiler (both handles have one type) and
// works for inputs, outputs and parameter handles alike.
func TestTypedRename(t *testing.T) {
	P := catalog.Param[int]("alpha")
	base := New(Node2("n1", add, A, P, B), Node1("n2", inc, B, C))
	p := Namespaced(base, "ns", Remap{
		Inputs:     Renames(Rename(A, catalog.Declare[int]("raw"))),
		Outputs:    Renames(Rename(C, catalog.Declare[int]("final"))),
		Parameters: Renames(Rename(P, catalog.Param[int]("shared.alpha"))),
	})
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if got := p.Datasets(); !slices.Equal(got, []string{"final", "ns.B", "params:shared.alpha", "raw"}) {
		t.Errorf("datasets %v", got)
	}
	if got := p.DatasetType("final"); got != C.Type() {
		t.Errorf("type of final = %v", got)
	}
}

// The named form builds exactly the node the positional form does.
func TestWireNamedForm(t *testing.T) {
	f := func(_ context.Context, a, b, c, d int) (int, error) { return a + b + c + d, nil }
	g := func(_ context.Context, a, b int) (int, string, error) { return a * b, "x", nil }
	S := catalog.Declare[string]("S")
	named := New(
		Wire4("sum4", f).Reads(A, B, C, D).Writes(E),
		Wire2x2("mul", g).Reads(E, A).Writes(catalog.Declare[int]("F"), S),
	)
	positional := New(
		Node4("sum4", f, A, B, C, D, E),
		Node2x2("mul", g, E, A, catalog.Declare[int]("F"), S),
	)
	if err := named.Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range named.Nodes() {
		m, ok := positional.Node(n.Name())
		if !ok || !n.Equal(m) {
			t.Errorf("node %s differs from its positional form", n.Name())
		}
	}
	if s := Sum(named, positional); s.Err() != nil || s.Len() != 2 {
		t.Errorf("named + positional = %d nodes, %v", s.Len(), s.Err())
	}
	cat, _ := newCat(t, "", "")
	ctx := context.Background()
	for _, h := range []catalog.Handle[int]{A, B, C, D} {
		catalog.Save(ctx, cat, h, 2)
	}
	if _, err := Run(ctx, named, cat, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := catalog.Load(ctx, cat, catalog.Declare[int]("F")); v != 16 {
		t.Errorf("F = %d, want 16", v)
	}
}
