package viz

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkLayout asserts the properties every layout must have: edges run
// strictly left to right and end on their boxes, no two boxes overlap, and
// everything lies inside the canvas.
func checkLayout(t *testing.T, g Graph, lay Layout) {
	t.Helper()
	box := map[string]Box{}
	for _, b := range lay.Boxes {
		if _, dup := box[b.ID]; dup {
			t.Fatalf("box %s twice", b.Name)
		}
		box[b.ID] = b
		if b.X < 0 || b.Y < 0 || b.X+b.W > lay.Width || b.Y+b.H > lay.Height {
			t.Errorf("box %s %+v outside canvas %gx%g", b.Name, b, lay.Width, lay.Height)
		}
	}
	for i, a := range lay.Boxes {
		for _, b := range lay.Boxes[i+1:] {
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("boxes %s %+v and %s %+v overlap", a.Name, a, b.Name, b)
			}
		}
	}
	for _, p := range lay.Paths {
		s, okS := box[p.Source]
		d, okD := box[p.Target]
		if !okS || !okD {
			t.Fatalf("path %s -> %s to a missing box", p.Source, p.Target)
		}
		if s.X+s.W >= d.X {
			t.Errorf("edge %s -> %s does not go left to right", s.Name, d.Name)
		}
		first, last := p.Points[0], p.Points[len(p.Points)-1]
		if first != (Point{s.X + s.W, s.Y + s.H/2}) || last != (Point{d.X, d.Y + d.H/2}) {
			t.Errorf("edge %s -> %s: ends %v %v not on the boxes", s.Name, d.Name, first, last)
		}
		for i := 1; i < len(p.Points); i++ {
			if p.Points[i].X <= p.Points[i-1].X {
				t.Errorf("edge %s -> %s turns back at point %d: %v", s.Name, d.Name, i, p.Points)
			}
		}
	}
	checkEdgesAvoidBoxes(t, lay)
	if len(lay.Collapsed) > 0 {
		return // collapsed views merge edges; their tests count them
	}
	edges, err := g.Edges()
	if err != nil {
		t.Fatal(err)
	}
	drawn := 0
	for _, e := range edges {
		if _, ok := box[e.Source]; ok {
			if _, ok := box[e.Target]; ok {
				drawn++
			}
		}
	}
	if drawn != len(lay.Paths) {
		t.Errorf("%d paths for %d edges between drawn boxes", len(lay.Paths), drawn)
	}
}

func TestLayoutSample(t *testing.T) {
	g := sampleGraph()
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprintf("hideParams=%v", hide), func(t *testing.T) {
			lay, err := ComputeLayout(g, LayoutOptions{HideParams: hide})
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, g, lay)
			params := 0
			for _, b := range lay.Boxes {
				if b.Kind == KindParameters {
					params++
				}
			}
			if want := map[bool]int{false: 4, true: 0}[hide]; params != want {
				t.Errorf("%d parameter boxes, want %d", params, want)
			}
			checkBands(t, g, lay, []string{"raw", "feature", "models", "model_output", "reporting"})
		})
	}
}

// checkBands asserts the layer strips come in order without overlap and
// each contains all of its layer's datasets.
func checkBands(t *testing.T, g Graph, lay Layout, want []string) {
	t.Helper()
	var got []string
	for i, b := range lay.Bands {
		got = append(got, b.Layer)
		if i > 0 && lay.Bands[i-1].X+lay.Bands[i-1].W > b.X+1e-9 {
			t.Errorf("bands %s and %s overlap", lay.Bands[i-1].Layer, b.Layer)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("bands %v, want %v", got, want)
	}
	layer := map[string]string{}
	for _, d := range g.Datasets {
		layer[d.Name] = d.Layer
	}
	for _, b := range lay.Boxes {
		if b.Kind != KindData || layer[b.Name] == "" {
			continue
		}
		i := slices.Index(got, layer[b.Name])
		if band := lay.Bands[i]; b.X < band.X || b.X+b.W > band.X+band.W {
			t.Errorf("dataset %s at x %g..%g outside band %s %g..%g", b.Name, b.X, b.X+b.W, band.Layer, band.X, band.X+band.W)
		}
	}
}

// A raw dataset produced late (by a generator) still sits left of every
// feature dataset, as the layer bands demand, even though a free input of
// the feature layer has no upstream at all.
func TestLayoutLayersOverrideLongestPath(t *testing.T) {
	g := Graph{
		Name: "layers",
		Nodes: []Node{
			{Name: "seed", Outputs: []string{"s1"}},
			{Name: "grow", Inputs: []string{"s1"}, Outputs: []string{"s2"}},
			{Name: "gen", Inputs: []string{"s2"}, Outputs: []string{"raw_memes"}},
			{Name: "feat", Inputs: []string{"raw_memes", "vocab"}, Outputs: []string{"features"}},
		},
		Datasets: []Dataset{
			{Name: "raw_memes", Layer: "01_raw"},
			{Name: "vocab", Layer: "04_feature"},
			{Name: "features", Layer: "04_feature"},
		},
	}
	lay, err := ComputeLayout(g, LayoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, g, lay)
	checkBands(t, g, lay, []string{"01_raw", "04_feature"})
	x := map[string]float64{}
	for _, b := range lay.Boxes {
		x[b.Name] = b.X
	}
	if x["vocab"] <= x["raw_memes"] {
		t.Errorf("vocab (feature layer) at %g, not right of raw_memes at %g", x["vocab"], x["raw_memes"])
	}
}

// Layers whose data flow contradicts each other cannot be bands; the
// layout drops the bands rather than break left-to-right edges.
func TestLayoutConflictingLayers(t *testing.T) {
	g := Graph{
		Name: "conflict",
		Nodes: []Node{
			{Name: "a", Inputs: []string{"x"}, Outputs: []string{"y"}},
			{Name: "b", Inputs: []string{"y"}, Outputs: []string{"z"}},
		},
		Datasets: []Dataset{{Name: "x", Layer: "one"}, {Name: "y", Layer: "two"}, {Name: "z", Layer: "one"}},
	}
	lay, err := ComputeLayout(g, LayoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, g, lay)
	if len(lay.Bands) != 0 {
		t.Errorf("bands %v for contradictory layers", lay.Bands)
	}
}

// Two independent chains listed so that naive placement crosses them:
// the crossing reduction must untangle them.
func TestLayoutRemovesCrossings(t *testing.T) {
	g := Graph{
		Name: "cross",
		Nodes: []Node{
			{Name: "n1", Inputs: []string{"a"}, Outputs: []string{"p"}},
			{Name: "n2", Inputs: []string{"b"}, Outputs: []string{"q"}},
			{Name: "m2", Inputs: []string{"q", "c"}, Outputs: []string{"r"}},
			{Name: "m1", Inputs: []string{"p"}, Outputs: []string{"s"}},
			{Name: "k", Inputs: []string{"c"}, Outputs: []string{"t"}},
		},
	}
	lay, err := ComputeLayout(g, LayoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, g, lay)
	if c := geometricCrossings(lay); c != 0 {
		t.Errorf("%d crossings in a planar graph", c)
	}
}

// geometricCrossings counts pairs of path segments over the same gap
// between columns whose vertical order swaps.
func geometricCrossings(lay Layout) int {
	type seg struct{ x0, y0, x1, y1 float64 }
	var segs []seg
	for _, p := range lay.Paths {
		for i := 1; i < len(p.Points); i++ {
			segs = append(segs, seg{p.Points[i-1].X, p.Points[i-1].Y, p.Points[i].X, p.Points[i].Y})
		}
	}
	n := 0
	for i, a := range segs {
		for _, b := range segs[i+1:] {
			// Same gap: the spans overlap horizontally by more than a box edge.
			if a.x1 <= b.x0 || b.x1 <= a.x0 {
				continue
			}
			if (a.y0-b.y0)*(a.y1-b.y1) < 0 {
				n++
			}
		}
	}
	return n
}

// Random DAGs of every shape keep the layout properties.
func TestLayoutRandomGraphs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	layers := []string{"raw", "intermediate", "primary", "feature", ""}
	for trial := 0; trial < 40; trial++ {
		g := Graph{Name: fmt.Sprint("random", trial)}
		nNodes := 1 + rng.IntN(25)
		var data []string
		for i := 0; i < nNodes; i++ {
			n := Node{Name: fmt.Sprint("n", i)}
			for k := rng.IntN(3); k > 0 && len(data) > 0; k-- {
				d := data[rng.IntN(len(data))]
				if !slices.Contains(n.Inputs, d) {
					n.Inputs = append(n.Inputs, d)
				}
			}
			if rng.IntN(3) == 0 {
				n.Inputs = append(n.Inputs, fmt.Sprint("free", i))
			}
			if rng.IntN(4) == 0 {
				n.Params = []string{fmt.Sprint("p", rng.IntN(3))}
			}
			for k := 1 + rng.IntN(2); k > 0; k-- {
				d := fmt.Sprint("d", i, "_", k)
				n.Outputs = append(n.Outputs, d)
				data = append(data, d)
				// Layers follow the data's depth most of the time, so
				// bands appear; sometimes they contradict it.
				if l := layers[min(len(layers)-1, i*len(layers)/nNodes+rng.IntN(2))]; l != "" {
					g.Datasets = append(g.Datasets, Dataset{Name: d, Layer: l})
				}
			}
			g.Nodes = append(g.Nodes, n)
		}
		for _, hide := range []bool{false, true} {
			lay, err := ComputeLayout(g, LayoutOptions{HideParams: hide})
			if err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			checkLayout(t, g, lay)
			if t.Failed() {
				t.Fatalf("trial %d (hideParams=%v) failed: %+v", trial, hide, g)
			}
		}
	}
}

func TestLayerOrderTieBreak(t *testing.T) {
	// No data flow between the layers: conventional names order them.
	g := Graph{Name: "t", Nodes: []Node{
		{Name: "a", Inputs: []string{"r"}, Outputs: []string{"out1"}},
		{Name: "b", Inputs: []string{"m"}, Outputs: []string{"out2"}},
		{Name: "c", Inputs: []string{"z"}, Outputs: []string{"out3"}},
	}, Datasets: []Dataset{
		{Name: "z", Layer: "zeta"}, {Name: "m", Layer: "reporting"}, {Name: "r", Layer: "raw"},
	}}
	m, err := Main(g)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"raw", "reporting", "zeta"}; !slices.Equal(m.Layers, want) {
		t.Errorf("layers %v, want %v", m.Layers, want)
	}
}

func BenchmarkLayout(b *testing.B) {
	// A wide pipeline in the style of the real ones: 300 nodes in 30
	// stages, each reading two datasets of the previous stage.
	g := Graph{Name: "bench"}
	for s := 0; s < 30; s++ {
		for j := 0; j < 10; j++ {
			n := Node{Name: fmt.Sprintf("s%d_%d", s, j), Outputs: []string{fmt.Sprintf("d%d_%d", s, j)}, Params: []string{fmt.Sprint("p", j)}}
			if s > 0 {
				n.Inputs = []string{fmt.Sprintf("d%d_%d", s-1, j), fmt.Sprintf("d%d_%d", s-1, (j*7+3)%10)}
			}
			g.Nodes = append(g.Nodes, n)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ComputeLayout(g, LayoutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// nsGraph has a namespace "prep" with a dataset internal to it, a nested
// namespace "prep.clean", and a namespace "loop" that hands data out and
// takes the result back, so collapsing it would close a cycle.
func nsGraph() Graph {
	return Graph{Name: "ns", Nodes: []Node{
		{Name: "prep.clean.strip", Namespace: "prep.clean", Inputs: []string{"raw"}, Outputs: []string{"prep.stripped"}, Params: []string{"strip"}},
		{Name: "prep.split", Namespace: "prep", Inputs: []string{"prep.stripped"}, Outputs: []string{"train", "test"}},
		{Name: "loop.send", Namespace: "loop", Inputs: []string{"train"}, Outputs: []string{"outbound"}},
		{Name: "external", Inputs: []string{"outbound"}, Outputs: []string{"inbound"}},
		{Name: "loop.receive", Namespace: "loop", Inputs: []string{"inbound", "test"}, Outputs: []string{"result"}},
	}}
}

func TestLayoutCollapse(t *testing.T) {
	g := nsGraph()
	tests := []struct {
		collapse      []string
		wantCollapsed []string
		wantNames     []string
		wantEdges     int
	}{
		{nil, []string{}, []string{"external", "inbound", "loop.receive", "loop.send", "outbound", "params:strip", "prep.clean.strip", "prep.split", "prep.stripped", "raw", "result", "test", "train"}, 13},
		// prep's internal dataset disappears into the box; the nested
		// namespace goes with its parent.
		{[]string{"prep.clean", "prep"}, []string{"prep"}, []string{"external", "inbound", "loop.receive", "loop.send", "outbound", "params:strip", "prep", "raw", "result", "test", "train"}, 11},
		{[]string{"prep.clean"}, []string{"prep.clean"}, []string{"external", "inbound", "loop.receive", "loop.send", "outbound", "params:strip", "prep.clean", "prep.split", "prep.stripped", "raw", "result", "test", "train"}, 13},
		// loop -> outbound -> external -> inbound -> loop would be a cycle.
		{[]string{"loop", "prep"}, []string{"prep"}, []string{"external", "inbound", "loop.receive", "loop.send", "outbound", "params:strip", "prep", "raw", "result", "test", "train"}, 11},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.collapse, ","), func(t *testing.T) {
			lay, err := ComputeLayout(g, LayoutOptions{Collapse: tc.collapse})
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, g, lay)
			if !slices.Equal(lay.Collapsed, tc.wantCollapsed) {
				t.Errorf("collapsed %v, want %v", lay.Collapsed, tc.wantCollapsed)
			}
			var names []string
			for _, b := range lay.Boxes {
				names = append(names, b.Name)
				if slices.Contains(lay.Collapsed, b.Name) && (b.Kind != KindModularPipeline || b.ID != b.Name) {
					t.Errorf("collapsed box %+v", b)
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.wantNames) {
				t.Errorf("boxes %v, want %v", names, tc.wantNames)
			}
			if len(lay.Paths) != tc.wantEdges {
				t.Errorf("%d paths, want %d", len(lay.Paths), tc.wantEdges)
			}
		})
	}
	if _, err := ComputeLayout(g, LayoutOptions{Collapse: []string{"prepp"}}); err == nil || !strings.Contains(err.Error(), `no namespace "prepp"`) || !strings.Contains(err.Error(), "prep.clean") {
		t.Errorf("unknown namespace: %v", err)
	}
}

// The same graph always gives the same layout (no map-order leaks).
func TestLayoutDeterministic(t *testing.T) {
	g := sampleGraph()
	first, err := ComputeLayout(g, LayoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(first)
	for i := 0; i < 10; i++ {
		lay, _ := ComputeLayout(g, LayoutOptions{})
		if got, _ := json.Marshal(lay); string(got) != string(want) {
			t.Fatalf("run %d gave a different layout", i)
		}
	}
}

// checkEdgesAvoidBoxes samples every edge as the page draws it (straight
// between points of one height, else a cubic with horizontal tangents)
// and fails when it passes through a box other than its two ends.
func checkEdgesAvoidBoxes(t *testing.T, lay Layout) {
	t.Helper()
	// Boxes by 100-px strip of X, so big layouts check fast.
	const strip = 100.0
	byStrip := map[int][]Box{}
	for _, b := range lay.Boxes {
		for k := int(b.X / strip); k <= int((b.X+b.W)/strip); k++ {
			byStrip[k] = append(byStrip[k], b)
		}
	}
	for _, p := range lay.Paths {
		for i := 1; i < len(p.Points); i++ {
			a, b := p.Points[i-1], p.Points[i]
			for k := 1; k < 16; k++ {
				u := float64(k) / 16
				// x(u), y(u) of the cubic with control points at the
				// horizontal middle: y eases from a.Y to b.Y.
				x := a.X + (b.X-a.X)*(3*u*u*(1-u)*0.5+3*u*(1-u)*(1-u)*0.5+u*u*u)
				y := a.Y + (b.Y-a.Y)*(3*u*u*(1-u)+u*u*u)
				for _, box := range byStrip[int(x/strip)] {
					if box.ID == p.Source || box.ID == p.Target {
						continue
					}
					if x > box.X+0.5 && x < box.X+box.W-0.5 && y > box.Y+0.5 && y < box.Y+box.H-0.5 {
						t.Errorf("edge %s -> %s passes through %s at (%.0f, %.0f)", p.Source, p.Target, box.Name, x, y)
						return
					}
				}
			}
		}
	}
}

func TestLayoutDefaultPipeline(t *testing.T) {
	g := defaultGraph(t)
	for _, opt := range []LayoutOptions{{}, {HideParams: true}, {HideParams: true, Collapse: []string{"vilbert_synthetic_train"}}} {
		lay, err := ComputeLayout(g, opt)
		if err != nil {
			t.Fatal(err)
		}
		checkLayout(t, g, lay)
	}
}
