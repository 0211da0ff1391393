package viz

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// RenderDOT writes g as a Graphviz digraph laid out left to right: tasks are
// boxes, datasets cylinders, parameters dashed notes, and datasets that
// share a catalog layer are grouped in labelled clusters (one per part of
// the layer that sits together, see textGroups).
func RenderDOT(w io.Writer, g Graph) error {
	r, err := resolve(g)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "digraph %s {\n", dotQuote(g.Name))
	// newrank ranks the whole graph at once, so clusters cannot pull an
	// edge backwards.
	bw.WriteString("  rankdir=LR;\n  newrank=true;\n  graph [fontname=\"Helvetica\", fontsize=12];\n  node [fontname=\"Helvetica\", fontsize=11];\n")
	line := func(indent string, it item) {
		fmt.Fprintf(bw, "%s%s [%s];\n", indent, dotQuote(dotName(it)), dotAttrs(r, it))
	}
	clusters := 0
	for _, grp := range r.textGroups() {
		if grp.layer == "" {
			line("  ", grp.items[0])
			continue
		}
		fmt.Fprintf(bw, "  subgraph cluster_layer_%d {\n    label=%s;\n    style=dashed;\n", clusters, dotQuote(grp.layer))
		clusters++
		for _, it := range grp.items {
			line("    ", it)
		}
		bw.WriteString("  }\n")
	}
	for _, e := range r.edges {
		src := r.items[r.byID[e.Source]]
		// A task's outputs sit next to it: weighted edges keep Graphviz
		// from pulling a much-read output (the raw memes) far right,
		// which stretched its cluster across the graph.
		attrs := ""
		if src.Kind == KindTask {
			attrs = " [weight=4]"
		}
		fmt.Fprintf(bw, "  %s -> %s%s;\n", dotQuote(dotName(src)), dotQuote(dotName(r.items[r.byID[e.Target]])), attrs)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// layerGroups splits the items for a text rendering: free items
// (parameters, data without a layer, tasks whose outputs are in no single
// layer) in item order, layered items by layer, and the layers in the
// order the viewer stacks them. A task goes with the layer of its
// outputs, as Kedro-Viz places it: a layer's cluster then holds whole
// steps (read, compute, write), and Graphviz does not have to stretch a
// cluster around a task outside it, which drew an arrow backwards.
func (r *resolved) layerGroups() (free []item, layered map[string][]item, order []string) {
	layered = map[string][]item{}
	for _, it := range r.items {
		layer := ""
		switch it.Kind {
		case KindData:
			layer = it.Layer
		case KindTask:
			layer = r.taskLayer(it)
		}
		if layer != "" {
			layered[layer] = append(layered[layer], it)
			continue
		}
		free = append(free, it)
	}
	return free, layered, r.layerOrder()
}

// taskLayer is the one layer all of a task's layered outputs share, or "".
func (r *resolved) taskLayer(it item) string {
	layer := ""
	for _, out := range r.g.Nodes[it.Index].Outputs {
		l := r.datasets[out].Layer
		switch {
		case l == "":
		case layer == "":
			layer = l
		case layer != l:
			return ""
		}
	}
	return layer
}

// dotName is an item's DOT node ID: kind-prefixed, so a node and a dataset
// of the same name stay apart, and readable in the .dot file.
func dotName(it item) string { return string(it.Kind) + ":" + it.Name }

func dotAttrs(r *resolved, it item) string {
	var b strings.Builder
	b.WriteString("label=" + dotLabel(r, it))
	switch it.Kind {
	case KindTask:
		n := r.g.Nodes[it.Index]
		b.WriteString(", shape=box, style=\"rounded,filled\", fillcolor=\"#dbe8f7\"")
		tip := n.Func
		if n.Source != "" {
			tip += " (" + n.Source + ")"
		}
		if len(n.Tags) > 0 {
			tip += " tags: " + strings.Join(n.Tags, ", ")
		}
		if tip != "" {
			fmt.Fprintf(&b, ", tooltip=%s", dotQuote(strings.TrimSpace(tip)))
		}
	case KindData:
		d := r.dataset(it)
		// Persisted data is filled like Mermaid's; in-memory data is an
		// empty dashed outline, gone when the run ends.
		b.WriteString(", shape=cylinder")
		if d.InMemory {
			b.WriteString(", style=dashed, color=\"#4f8a3c\"")
		} else {
			b.WriteString(", style=filled, fillcolor=\"#eef5e9\", color=\"#4f8a3c\"")
		}
		fmt.Fprintf(&b, ", tooltip=%s", dotQuote(strings.TrimSpace(d.Type+" "+d.Filepath)))
	case KindParameters:
		b.WriteString(", shape=note, style=dashed, fontsize=9")
	}
	return b.String()
}

// dotLabel is an item's DOT label: its name, and for an item inside a
// namespace the short name over the namespace in small grey type (an
// HTML-like label), so namespaced boxes are not twice as wide as their
// names.
func dotLabel(r *resolved, it item) string {
	name, ns := r.textLabel(it)
	if ns == "" {
		return dotQuote(name)
	}
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return "<" + esc.Replace(name) + `<BR/><FONT POINT-SIZE="9" COLOR="#555555">` + esc.Replace(ns) + "</FONT>>"
}

// dotQuote quotes s as a DOT string.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// RenderMermaid writes g as a Mermaid flowchart (left to right), with
// catalog layers as subgraphs (a layer whose parts lie apart gets one per
// part, see textGroups) and a class per item kind. Items and edges come in
// the order of the viewer's own layout (column, then height): Mermaid
// keeps declaration order within a rank, so its drawing inherits the
// layout's crossing reduction instead of crossing edges inside the layer
// subgraphs.
func RenderMermaid(w io.Writer, g Graph) error {
	r, err := resolve(g)
	if err != nil {
		return err
	}
	groups := r.textGroups()
	pos := map[string]int{}
	for _, grp := range groups {
		for _, it := range grp.items {
			pos[it.ID] = len(pos)
		}
	}
	bw := bufio.NewWriter(w)
	// Mermaid's default layout (dagre) orders nodes poorly around
	// subgraphs: drawn with it, an edge crossed the training-curves box.
	// ELK (bundled with mermaid-cli 11, an add-on elsewhere) lays out
	// nested graphs properly; a renderer without it falls back to dagre,
	// and one older than Mermaid 10 ignores the unknown key. The init
	// directive, unlike front matter, parses in every version.
	bw.WriteString(mermaidInit + "\n")
	bw.WriteString("flowchart LR\n")
	clusters := 0
	for _, grp := range groups {
		if grp.layer == "" {
			fmt.Fprintf(bw, "  %s\n", mermaidNode(r, grp.items[0]))
			continue
		}
		fmt.Fprintf(bw, "  subgraph layer%d[%s]\n", clusters, mermaidLabel(grp.layer))
		clusters++
		for _, it := range grp.items {
			fmt.Fprintf(bw, "    %s\n", mermaidNode(r, it))
		}
		bw.WriteString("  end\n")
	}
	edges := slices.Clone(r.edges)
	slices.SortStableFunc(edges, func(a, b Edge) int {
		if d := pos[a.Source] - pos[b.Source]; d != 0 {
			return d
		}
		return pos[a.Target] - pos[b.Target]
	})
	for _, e := range edges {
		fmt.Fprintf(bw, "  %s --> %s\n", mermaidID(r.items[r.byID[e.Source]]), mermaidID(r.items[r.byID[e.Target]]))
	}
	bw.WriteString("  classDef task fill:#dbe8f7,stroke:#3b6ea8\n")
	bw.WriteString("  classDef data fill:#eef5e9,stroke:#4f8a3c\n")
	bw.WriteString("  classDef memory fill:#ffffff,stroke:#4f8a3c,stroke-dasharray:4 3\n")
	bw.WriteString("  classDef parameters fill:#fdf6e3,stroke:#b58900,stroke-dasharray:3 3\n")
	classes := map[string][]string{}
	for _, it := range r.items {
		class := string(it.Kind)
		if it.Kind == KindData && r.dataset(it).InMemory {
			class = "memory"
		}
		classes[class] = append(classes[class], mermaidID(it))
	}
	for _, class := range []string{"task", "data", "memory", "parameters"} {
		if ids := classes[class]; len(ids) > 0 {
			fmt.Fprintf(bw, "  class %s %s\n", strings.Join(ids, ","), class)
		}
	}
	return bw.Flush()
}

// mermaidInit is the first line of RenderMermaid's output: it asks for the
// ELK layout.
const mermaidInit = `%%{init: {"layout": "elk"}}%%`

// mermaidID is an item's Mermaid node ID: Mermaid IDs must be plain words.
func mermaidID(it item) string { return string(it.Kind[0]) + "_" + it.ID }

// mermaidNode declares an item (see mermaidItemLabel): tasks as boxes, persisted data as
// cylinders, in-memory data as stadiums (dashed by their class),
// parameters as hexagons.
func mermaidNode(r *resolved, it item) string {
	label := mermaidItemLabel(r, it)
	switch it.Kind {
	case KindData:
		if r.dataset(it).InMemory {
			return mermaidID(it) + "([" + label + "])"
		}
		return mermaidID(it) + "[(" + label + ")]"
	case KindParameters:
		return mermaidID(it) + "{{" + label + "}}"
	}
	return mermaidID(it) + "[" + label + "]"
}

// mermaidItemLabel is an item's Mermaid label: its name, and for an item
// inside a namespace the short name over the namespace in small type, so
// namespaced boxes are not twice as wide as their names.
func mermaidItemLabel(r *resolved, it item) string {
	name, ns := r.textLabel(it)
	if ns == "" {
		return mermaidLabel(name)
	}
	return `"` + mermaidText(name) + "<br><small>" + mermaidText(ns) + `</small>"`
}

// mermaidLabel quotes s for a Mermaid label.
func mermaidLabel(s string) string { return `"` + mermaidText(s) + `"` }

// mermaidText escapes s for the inside of a quoted Mermaid label, which
// Mermaid reads as HTML: it has entity codes (#quot;) instead of
// backslash escapes.
func mermaidText(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", " ")
	return r.Replace(s)
}

// RenderJSON writes g in the shape of Kedro-Viz's GET /api/main response.
func RenderJSON(w io.Writer, g Graph) error {
	m, err := Main(g)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("viz: encoding graph %q as JSON: %w", g.Name, err)
	}
	return nil
}
