package viz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sampleGraph is a small meme pipeline: raw data in, two namespaced
// feature nodes, training with parameters, a report; layers out of
// alphabetical order and one undeclared (in-memory) intermediate.
func sampleGraph() Graph {
	return Graph{
		Name: "__default__",
		Nodes: []Node{
			{Name: "generate", Tags: []string{"data"}, Func: "mmc/nodes.Generate", Source: "nodes/synth.go:10",
				Outputs: []string{"memes"}, Params: []string{"synthetic"}},
			{Name: "features.text", Namespace: "features", Tags: []string{"text"}, Func: "mmc/nodes.Tokenize", Source: "nodes/text.go:20",
				Inputs: []string{"memes"}, Outputs: []string{"features.tokens"}, Params: []string{"params:tokenizer"}},
			{Name: "features.image", Namespace: "features", Tags: []string{"image"}, Func: "mmc/nodes.Regions", Source: "nodes/image.go:30",
				Inputs: []string{"memes"}, Outputs: []string{"regions"}},
			{Name: "train", Tags: []string{"model"}, Func: "mmc/nodes.Train", Source: "nodes/train.go:40",
				Inputs: []string{"features.tokens", "regions", "memes"}, Outputs: []string{"model", "history"}, Params: []string{"train", "model"}},
			{Name: "report", Tags: []string{"model", "report"}, Func: "mmc/nodes.Report", Source: "nodes/report.go:50",
				Inputs: []string{"history"}, Outputs: []string{"curve"}},
		},
		Datasets: []Dataset{
			{Name: "curve", Type: "png", Filepath: "data/08_reporting/curve.png", Layer: "reporting"},
			{Name: "memes", Type: "jsonl", Filepath: "data/01_raw/train.jsonl", Layer: "raw"},
			{Name: "regions", Type: "lmdb", Filepath: "data/03_features/detectron.lmdb", Layer: "feature"},
			{Name: "model", Type: "checkpoint", Filepath: "data/06_models/model.safetensors", Layer: "models"},
			{Name: "history", Type: "json", Filepath: "data/05_model_output/history.json", Layer: "model_output"},
		},
		Params: []Param{
			{Key: "synthetic", Value: map[string]any{"n": 3000}},
			{Key: "tokenizer", Value: map[string]any{"max_len": 64}},
			{Key: "train", Value: map[string]any{"lr": 5e-5, "epochs": 3}},
			{Key: "model", Value: "vilbert"},
		},
	}
}

func TestRenderDOTStructure(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderDOT(&buf, sampleGraph()); err != nil {
		t.Fatal(err)
	}
	dot := buf.String()
	edges := regexp.MustCompile(`"([^"]+)" -> "([^"]+)"(?: \[[^]]*\])?;`).FindAllStringSubmatch(dot, -1)
	got := map[string]bool{}
	for _, e := range edges {
		got[e[1]+" -> "+e[2]] = true
	}
	for _, want := range []string{
		"task:generate -> data:memes",
		"parameters:params:synthetic -> task:generate",
		"parameters:params:tokenizer -> task:features.text",
		"data:memes -> task:features.image",
		"data:features.tokens -> task:train",
		"task:train -> data:history",
		"task:report -> data:curve",
	} {
		if !got[want] {
			t.Errorf("DOT lacks edge %s", want)
		}
	}
	if len(edges) != 16 {
		t.Errorf("DOT has %d edges, want 16", len(edges))
	}
	for _, want := range []string{"rankdir=LR", `label="reporting"`, `"data:regions" [label="regions", shape=cylinder`, `tooltip="mmc/nodes.Train (nodes/train.go:40) tags: model"`} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %q:\n%s", want, dot)
		}
	}
	if strings.Count(dot, "{") != strings.Count(dot, "}") {
		t.Errorf("DOT braces unbalanced:\n%s", dot)
	}
	// The in-memory intermediate is drawn dashed.
	if !regexp.MustCompile(`"data:features.tokens" \[[^]]*style=dashed`).MatchString(dot) {
		t.Errorf("in-memory dataset not dashed:\n%s", dot)
	}
}

func TestDOTQuoting(t *testing.T) {
	g := Graph{Name: `a "b"`, Nodes: []Node{{Name: `x\y"z`, Outputs: []string{"o"}}}}
	var buf bytes.Buffer
	if err := RenderDOT(&buf, g); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`digraph "a \"b\""`, `"task:x\\y\"z"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("DOT lacks %s:\n%s", want, buf.String())
		}
	}
}

func TestRenderMermaidStructure(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderMermaid(&buf, sampleGraph()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if lines[0] != mermaidInit || lines[1] != "flowchart LR" {
		t.Fatalf("first lines %q", lines[:2])
	}
	lines = lines[1:]
	def := regexp.MustCompile(`^\s*([tdp]_[0-9a-f]{8})(\[|\[\(|\(\[|\{\{)"([^"]*)"`)
	label := map[string]string{}
	arrows, subgraphs, ends := 0, 0, 0
	for _, l := range lines[1:] {
		switch {
		case def.MatchString(l):
			m := def.FindStringSubmatch(l)
			label[m[1]] = m[3]
		case strings.Contains(l, " --> "):
			arrows++
			ab := strings.Split(strings.TrimSpace(l), " --> ")
			for _, id := range ab {
				if _, ok := label[id]; !ok {
					t.Errorf("edge %q uses undefined node %s", l, id)
				}
			}
		case strings.HasPrefix(strings.TrimSpace(l), "subgraph "):
			subgraphs++
		case strings.TrimSpace(l) == "end":
			ends++
		}
	}
	if arrows != 16 || subgraphs != 5 || ends != 5 {
		t.Errorf("arrows=%d subgraphs=%d ends=%d, want 16 5 5", arrows, subgraphs, ends)
	}
	// A namespaced item shows its short name over its namespace.
	if label["d_"+ID(KindData, "features.tokens")] != "tokens<br><small>features</small>" || label["p_"+ID(KindParameters, "train")] != "params:train" {
		t.Errorf("labels: %v", label)
	}
	// In-memory data is drawn unlike persisted data.
	mem, disk := "d_"+ID(KindData, "features.tokens"), "d_"+ID(KindData, "memes")
	if !strings.Contains(buf.String(), mem+`(["tokens<br><small>features</small>"])`) || !strings.Contains(buf.String(), disk+`[("memes")]`) {
		t.Errorf("in-memory and persisted data drawn alike:\n%s", buf.String())
	}
	if !regexp.MustCompile(`class [^\n]*` + mem + `[^\n]* memory\n`).MatchString(buf.String()) {
		t.Errorf("in-memory data lacks the memory class:\n%s", buf.String())
	}
}

func TestMermaidQuoting(t *testing.T) {
	g := Graph{Name: "q", Nodes: []Node{{Name: `say "hi"`, Outputs: []string{"o"}}}}
	var buf bytes.Buffer
	if err := RenderMermaid(&buf, g); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `["say #quot;hi#quot;"]`) {
		t.Errorf("quote not escaped:\n%s", buf.String())
	}
}

func TestRenderJSONKedroVizShape(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderJSON(&buf, sampleGraph()); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Nodes []struct {
			ID, Name, Type, FullName, Layer, DatasetType, Role, Source string
			Tags, Pipelines, ModularPipelines                          []string
			Parameters                                                 map[string]any
			InMemory                                                   bool `json:"in_memory"`
		}
		Edges            []Edge
		Layers           []string
		Tags             []NamedID
		Pipelines        []NamedID
		ModularPipelines map[string]ModularPipeline `json:"modular_pipelines"`
		SelectedPipeline string                     `json:"selected_pipeline"`
	}
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	// encoding/json matches full_name to FullName case-insensitively only
	// without the underscore, so read those fields by hand.
	var raw struct {
		Nodes []map[string]any `json:"nodes"`
	}
	buf.Reset()
	RenderJSON(&buf, sampleGraph())
	json.Unmarshal(buf.Bytes(), &raw)

	if want := []string{"raw", "feature", "models", "model_output", "reporting"}; !slices.Equal(m.Layers, want) {
		t.Errorf("layers %v, want %v", m.Layers, want)
	}
	if len(m.Nodes) != 5+4+6 {
		t.Errorf("%d nodes, want 15", len(m.Nodes))
	}
	if len(m.Edges) != 16 {
		t.Errorf("%d edges, want 16", len(m.Edges))
	}
	ids := map[string]map[string]any{}
	for _, n := range raw.Nodes {
		ids[n["id"].(string)] = n
		for _, k := range []string{"id", "name", "tags", "pipelines", "type", "modular_pipelines"} {
			if _, ok := n[k]; !ok {
				t.Errorf("node %v lacks %q", n["name"], k)
			}
		}
	}
	for _, e := range m.Edges {
		if ids[e.Source] == nil || ids[e.Target] == nil {
			t.Errorf("edge %v names an unknown node", e)
		}
	}
	text := ids[ID(KindTask, "features.text")]
	if text["name"] != "text" || text["full_name"] != "features.text" || text["source"] != "nodes/text.go:20" {
		t.Errorf("task node: %v", text)
	}
	if p := text["parameters"].(map[string]any)["tokenizer"].(map[string]any)["max_len"]; p != 64.0 {
		t.Errorf("task parameters: %v", text["parameters"])
	}
	if mp := text["modular_pipelines"].([]any); len(mp) != 1 || mp[0] != "features" {
		t.Errorf("modular_pipelines %v", mp)
	}
	memes := ids[ID(KindData, "memes")]
	if memes["layer"] != "raw" || memes["dataset_type"] != "jsonl" || memes["role"] != string(RoleIntermediate) {
		t.Errorf("data node: %v", memes)
	}
	tokens := ids[ID(KindData, "features.tokens")]
	if tokens["in_memory"] != true || tokens["dataset_type"] != "memory" {
		t.Errorf("undeclared dataset should be in memory: %v", tokens)
	}
	if curve := ids[ID(KindData, "curve")]; curve["role"] != string(RoleTerminal) {
		t.Errorf("curve role %v", curve["role"])
	}
	if got := ids[ID(KindParameters, "model")]; got["type"] != "parameters" || got["value"] != "vilbert" || got["name"] != "params:model" {
		t.Errorf("parameter node: %v", got)
	}
	if m.SelectedPipeline != "__default__" || len(m.Pipelines) != 1 || m.Pipelines[0].ID != "__default__" {
		t.Errorf("pipelines %v selected %q", m.Pipelines, m.SelectedPipeline)
	}
	var tags []string
	for _, tg := range m.Tags {
		tags = append(tags, tg.ID)
	}
	if !slices.Equal(tags, []string{"data", "image", "model", "report", "text"}) {
		t.Errorf("tags %v", tags)
	}
	root, feat := m.ModularPipelines[RootModularPipeline], m.ModularPipelines["features"]
	if !slices.Contains(root.Children, ModularChild{ID: "features", Type: KindModularPipeline}) {
		t.Errorf("root children lack features: %v", root.Children)
	}
	// features.tokens leaves the namespace (train reads it), so it is an
	// output of "features", not one of its children.
	if !slices.Contains(feat.Children, ModularChild{ID: ID(KindTask, "features.image"), Type: KindTask}) ||
		slices.Contains(feat.Children, ModularChild{ID: ID(KindData, "features.tokens"), Type: KindData}) ||
		!slices.Contains(root.Children, ModularChild{ID: ID(KindData, "features.tokens"), Type: KindData}) {
		t.Errorf("features children: %v", feat.Children)
	}
	if !slices.Equal(feat.Inputs, []string{ID(KindData, "memes")}) {
		t.Errorf("features inputs %v", feat.Inputs)
	}
	wantOut := []string{ID(KindData, "features.tokens"), ID(KindData, "regions")}
	if !slices.Equal(feat.Outputs, wantOut) {
		t.Errorf("features outputs %v, want %v", feat.Outputs, wantOut)
	}
}

func TestGraphErrors(t *testing.T) {
	base := func() Graph {
		return Graph{Name: "p", Nodes: []Node{
			{Name: "a", Inputs: []string{"x"}, Outputs: []string{"y"}},
			{Name: "b", Inputs: []string{"y"}, Outputs: []string{"z"}},
		}}
	}
	tests := []struct {
		name   string
		mutate func(*Graph)
		want   string
	}{
		{"duplicate node", func(g *Graph) { g.Nodes[1].Name = "a" }, `node "a" appears twice`},
		{"unnamed node", func(g *Graph) { g.Nodes[0].Name = "" }, "node 0 has no name"},
		{"two producers", func(g *Graph) { g.Nodes[1].Outputs = []string{"y"} }, `"y" is output of both "a" and "b"`},
		{"own output", func(g *Graph) { g.Nodes[0].Inputs = []string{"y"} }, `node "a" reads its own output "y"`},
		{"cycle", func(g *Graph) { g.Nodes[0].Inputs = []string{"z"} }, "cycle through node"},
		{"duplicate dataset", func(g *Graph) { g.Datasets = []Dataset{{Name: "x"}, {Name: "x"}} }, `dataset "x" declared twice`},
		{"duplicate param", func(g *Graph) { g.Params = []Param{{Key: "k"}, {Key: "k"}} }, `parameter "k" given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := base()
			tc.mutate(&g)
			err := g.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.want)
			}
			for name, render := range map[string]func(*bytes.Buffer, Graph) error{
				"dot":  func(b *bytes.Buffer, g Graph) error { return RenderDOT(b, g) },
				"json": func(b *bytes.Buffer, g Graph) error { return RenderJSON(b, g) },
			} {
				if err := render(&bytes.Buffer{}, g); err == nil {
					t.Errorf("%s rendered an invalid graph", name)
				}
			}
		})
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid graph: %v", err)
	}
}

func TestEmptyGraph(t *testing.T) {
	g := Graph{Name: "empty"}
	for name, f := range map[string]func() error{
		"dot":     func() error { return RenderDOT(&bytes.Buffer{}, g) },
		"mermaid": func() error { return RenderMermaid(&bytes.Buffer{}, g) },
		"json":    func() error { return RenderJSON(&bytes.Buffer{}, g) },
		"layout":  func() error { _, err := ComputeLayout(g, LayoutOptions{}); return err },
	} {
		if err := f(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, _ := Main(g)
	b, _ := json.Marshal(m)
	if !strings.Contains(string(b), `"nodes":[]`) || !strings.Contains(string(b), `"edges":[]`) {
		t.Errorf("empty graph should give empty arrays, not null: %s", b)
	}
}

func TestIDStable(t *testing.T) {
	if ID(KindTask, "x") == ID(KindData, "x") {
		t.Error("task and dataset of one name share an ID")
	}
	if got := ID(KindData, "memes"); got != ID(KindData, "memes") || len(got) != 8 {
		t.Errorf("ID %q", got)
	}
	if s := fmt.Sprint(ID(KindTask, "generate")); !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(s) {
		t.Errorf("ID %q not 8 hex digits", s)
	}
}

// Laid out by Graphviz itself (where installed), every arrow of the
// project's default pipeline points right: clusters do not pull any back.
func TestDOTArrowsPointForwardInGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz (dot) not installed")
	}
	var buf bytes.Buffer
	if err := RenderDOT(&buf, defaultGraph(t)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dot, "-Tplain")
	cmd.Stdin = &buf
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dot: %v", err)
	}
	x := map[string]float64{}
	var edges [][2]string
	for _, line := range strings.Split(string(out), "\n") {
		f := plainFields(line)
		switch {
		case len(f) > 3 && f[0] == "node":
			x[f[1]], _ = strconv.ParseFloat(f[2], 64)
		case len(f) > 2 && f[0] == "edge":
			edges = append(edges, [2]string{f[1], f[2]})
		}
	}
	if len(edges) != 32 {
		t.Fatalf("%d edges in Graphviz's layout, want 32", len(edges))
	}
	for _, e := range edges {
		if x[e[0]] >= x[e[1]] {
			t.Errorf("arrow %s -> %s points backwards (x %.2f -> %.2f)", e[0], e[1], x[e[0]], x[e[1]])
		}
	}
}

// plainFields splits a line of Graphviz's plain output: words, or quoted
// strings with backslash escapes.
func plainFields(line string) []string {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] != '"' {
			word, rest, _ := strings.Cut(line, " ")
			out = append(out, word)
			line = rest
			continue
		}
		var b strings.Builder
		i := 1
		for ; i < len(line) && line[i] != '"'; i++ {
			if line[i] == '\\' && i+1 < len(line) {
				i++
			}
			b.WriteByte(line[i])
		}
		out = append(out, b.String())
		line = line[min(i+1, len(line)):]
	}
	return out
}

// mermaidSubgraphs maps each node ID declared inside a subgraph of a
// Mermaid flowchart to the subgraph's ID, and each subgraph ID to its label.
func mermaidSubgraphs(t *testing.T, mmd string) (in, label map[string]string) {
	t.Helper()
	in, label = map[string]string{}, map[string]string{}
	head := regexp.MustCompile(`^\s*subgraph (\w+)\["([^"]*)"\]$`)
	node := regexp.MustCompile(`^\s*([tdp]_[0-9a-f]{8})[\[({]`)
	cur := ""
	for _, l := range strings.Split(mmd, "\n") {
		switch {
		case head.MatchString(l):
			m := head.FindStringSubmatch(l)
			cur, label[m[1]] = m[1], m[2]
		case strings.TrimSpace(l) == "end":
			cur = ""
		case cur != "" && node.MatchString(l):
			in[node.FindStringSubmatch(l)[1]] = cur
		}
	}
	return in, label
}

// A layer whose items lie far apart in the layout is drawn as several
// subgraphs: the data report and the training plots (both "reporting")
// are not pulled into one rectangle across the whole graph, which
// stretched the report's edges and crossed the edges into the plots.
func TestTextClustersStayCompact(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderMermaid(&buf, defaultGraph(t)); err != nil {
		t.Fatal(err)
	}
	in, label := mermaidSubgraphs(t, buf.String())
	sub := func(kind Kind, name string) string {
		id := string(kind[0]) + "_" + ID(kind, name)
		if in[id] == "" {
			t.Fatalf("%s %q is in no subgraph:\n%s", kind, name, buf.String())
		}
		return in[id]
	}
	report, roc := sub(KindTask, "summarise_memes"), sub(KindTask, "vilbert_synthetic_train.plot_roc_curve")
	if label[report] != "reporting" || label[roc] != "reporting" {
		t.Errorf("subgraph labels %q, %q, want reporting", label[report], label[roc])
	}
	if report == roc {
		t.Errorf("data report and ROC plot share subgraph %s:\n%s", report, buf.String())
	}
	// A step stays whole: a task sits with the data it writes.
	if sub(KindTask, "summarise_memes") != sub(KindData, "data_report") {
		t.Errorf("summarise_memes and data_report in different subgraphs:\n%s", buf.String())
	}
	// The same cut applies to DOT clusters.
	var dot bytes.Buffer
	if err := RenderDOT(&dot, defaultGraph(t)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(dot.String(), `label="reporting"`); n < 2 {
		t.Errorf("DOT has %d reporting clusters, want the report and the plots apart:\n%s", n, dot.String())
	}
}

// Namespaced items are labelled with their short name over the namespace
// in small type, in both text formats, with the namespace escaped.
func TestTextLabelsShortInNamespaces(t *testing.T) {
	g := Graph{Name: "ns", Nodes: []Node{
		{Name: "a<b.fit", Namespace: "a<b", Inputs: []string{"raw"}, Outputs: []string{"a<b.model"}, Params: []string{"a<b.lr"}},
		{Name: "plain", Inputs: []string{"a<b.model"}, Outputs: []string{"out"}},
	}}
	var dot, mmd bytes.Buffer
	if err := RenderDOT(&dot, g); err != nil {
		t.Fatal(err)
	}
	if err := RenderMermaid(&mmd, g); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ out, want string }{
		{dot.String(), `"task:a<b.fit" [label=<fit<BR/><FONT POINT-SIZE="9" COLOR="#555555">a&lt;b</FONT>>`},
		{dot.String(), `"data:a<b.model" [label=<model<BR/>`},
		{dot.String(), `"parameters:params:a<b.lr" [label=<params:lr<BR/>`},
		{dot.String(), `"task:plain" [label="plain"`},
		{mmd.String(), `["fit<br><small>a#lt;b</small>"]`},
		{mmd.String(), `(["model<br><small>a#lt;b</small>"])`},
		{mmd.String(), `{{"params:lr<br><small>a#lt;b</small>"}}`},
		{mmd.String(), `["plain"]`},
	} {
		if !strings.Contains(tc.out, tc.want) {
			t.Errorf("lacks %s:\n%s", tc.want, tc.out)
		}
	}
}

// Laid out by Graphviz (where installed), no edge of the default or the
// namespaced roi pipeline runs through a node it does not join: a layer
// cluster stretched across the graph made edges cut through boxes.
func TestDOTEdgesMissOtherNodesInGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz (dot) not installed")
	}
	for _, g := range []Graph{defaultGraph(t), mainGraph(t, "testdata/roi_main.json")} {
		var buf bytes.Buffer
		if err := RenderDOT(&buf, g); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dot, "-Tplain")
		cmd.Stdin = &buf
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("dot: %v", err)
		}
		boxes := map[string]svgRect{}
		type edge struct {
			from, to string
			pts      []float64
		}
		var edges []edge
		for _, line := range strings.Split(string(out), "\n") {
			f := plainFields(line)
			switch {
			case len(f) > 5 && f[0] == "node":
				var v [4]float64
				for k := range v {
					v[k], _ = strconv.ParseFloat(f[k+2], 64)
				}
				// Shrunk a little: an edge may graze a corner.
				boxes[f[1]] = svgRect{v[0] - v[2]/2 + 0.05, v[1] - v[3]/2 + 0.05, v[0] + v[2]/2 - 0.05, v[1] + v[3]/2 - 0.05}
			case len(f) > 3 && f[0] == "edge":
				n, _ := strconv.Atoi(f[3])
				e := edge{from: f[1], to: f[2]}
				for _, s := range f[4 : 4+2*n] {
					v, _ := strconv.ParseFloat(s, 64)
					e.pts = append(e.pts, v*100) // inches to hundredths, for segmentHits' step
				}
				edges = append(edges, e)
			}
		}
		for _, e := range edges {
			for name, b := range boxes {
				if name == e.from || name == e.to {
					continue
				}
				b = svgRect{b.x0 * 100, b.y0 * 100, b.x1 * 100, b.y1 * 100}
				for k := 0; k+3 < len(e.pts); k += 2 {
					if segmentHits(e.pts[k], e.pts[k+1], e.pts[k+2], e.pts[k+3], b) {
						t.Errorf("%s: edge %s -> %s runs through %s", g.Name, e.from, e.to, name)
						break
					}
				}
			}
		}
	}
}
