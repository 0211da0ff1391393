package viz

import (
	"fmt"
	"testing"
)

// bigGraph is a pipeline of n nodes in the shape of the real ones: 20
// namespaces of stages, each node reading two datasets of the stage
// before (one from a neighbour), writing one persisted dataset in a layer
// that follows the stage, and reading a parameter.
func bigGraph(n int) Graph {
	g := Graph{Name: fmt.Sprintf("big%d", n)}
	layers := []string{"raw", "intermediate", "primary", "feature", "model_input", "models", "model_output", "reporting"}
	const width = 25
	stages := (n + width - 1) / width
	for i := 0; i < n; i++ {
		s, j := i/width, i%width
		ns := fmt.Sprintf("block%02d", s*20/stages)
		node := Node{
			Name: fmt.Sprintf("%s.stage%d_%d", ns, s, j), Namespace: ns,
			Outputs: []string{fmt.Sprintf("%s.d%d_%d", ns, s, j)},
			Params:  []string{fmt.Sprint("p", j%7)},
			Tags:    []string{fmt.Sprint("t", j%3)},
		}
		if s > 0 {
			pns := fmt.Sprintf("block%02d", (s-1)*20/stages)
			k := (j*7 + 3) % width
			if k == j {
				k = (j + 1) % width
			}
			node.Inputs = []string{fmt.Sprintf("%s.d%d_%d", pns, s-1, j), fmt.Sprintf("%s.d%d_%d", pns, s-1, k)}
		}
		g.Nodes = append(g.Nodes, node)
		g.Datasets = append(g.Datasets, Dataset{Name: node.Outputs[0], Type: "json", Filepath: "data/" + node.Outputs[0] + ".json", Layer: layers[s*len(layers)/stages]})
	}
	return g
}

// BenchmarkLayout2000 lays out a 2,000-node pipeline (4,000 items with
// its datasets, parameters hidden as the page first shows it).
func BenchmarkLayout2000(b *testing.B) {
	g := bigGraph(2000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ComputeLayout(g, LayoutOptions{HideParams: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServer2000 is what the viewer does once per pipeline before it
// serves: both layouts, /api/main and every node's JSON.
func BenchmarkServer2000(b *testing.B) {
	g := bigGraph(2000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewServer(Options{Pipelines: []Graph{g}}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBigGraphLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000-node layout")
	}
	g := bigGraph(2000)
	lay, err := ComputeLayout(g, LayoutOptions{HideParams: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(lay.Boxes) != 4000 {
		t.Errorf("%d boxes, want 4000", len(lay.Boxes))
	}
	checkLayout(t, g, lay)
}
