package viz

import (
	"cmp"
	"slices"
	"strings"
)

// textGroup is one step of a DOT or Mermaid rendering: a free item, or a
// cluster of items of one catalog layer that sit together in the viewer's
// layout.
type textGroup struct {
	// layer is the cluster's layer; "" for a free item.
	layer string
	items []item
}

// textGroups splits the items for a text rendering (see layerGroups) and
// orders everything as the viewer's own layout does: column, then height.
// Graphviz and Mermaid keep declaration order as their starting order
// within a rank, so their drawings inherit the layout's crossing
// reduction.
//
// A layer is not one cluster: a cluster must be a rectangle, and a layer
// whose items lie far apart (the data report beside the raw data and the
// training plots at the far right, both "reporting") would pull them
// together, stretch edges across the whole graph and cross them inside
// the cluster. Each layer is cut into the parts its own edges connect;
// parts are then merged only where the rectangle around them holds no
// item of the layout that they did not already enclose.
func (r *resolved) textGroups() []textGroup {
	free, layered, order := r.layerGroups()
	boxes := map[string]Box{}
	pos := map[string]int{}
	if lay, err := r.layout(LayoutOptions{}); err == nil {
		sorted := slices.Clone(lay.Boxes)
		slices.SortStableFunc(sorted, func(a, b Box) int {
			if a.Rank != b.Rank {
				return a.Rank - b.Rank
			}
			return cmp.Compare(a.Y, b.Y)
		})
		for i, b := range sorted {
			pos[b.ID] = i
			boxes[b.ID] = b
		}
	} else {
		for i, it := range r.items {
			pos[it.ID] = i
		}
	}
	byPos := func(a, b item) int { return pos[a.ID] - pos[b.ID] }

	var groups []textGroup
	for _, it := range free {
		groups = append(groups, textGroup{items: []item{it}})
	}
	for _, layer := range order {
		for _, part := range r.layerParts(layered[layer], boxes) {
			slices.SortStableFunc(part, byPos)
			groups = append(groups, textGroup{layer: layer, items: part})
		}
	}
	slices.SortStableFunc(groups, func(a, b textGroup) int { return byPos(a.items[0], b.items[0]) })
	return groups
}

// layerParts cuts one layer's items into clusters: connected by the
// layer's own edges, then merged while the merged rectangle in the layout
// takes in no further item. Without a layout (boxes empty) the layer
// stays whole.
func (r *resolved) layerParts(items []item, boxes map[string]Box) [][]item {
	if len(boxes) == 0 {
		return [][]item{items}
	}
	in := map[string]int{}
	parent := make([]int, len(items))
	for i, it := range items {
		in[it.ID] = i
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	for _, e := range r.edges {
		a, okA := in[e.Source]
		b, okB := in[e.Target]
		if okA && okB {
			parent[find(a)] = find(b)
		}
	}
	var parts [][]item
	root := map[int]int{}
	for i, it := range items {
		k, ok := root[find(i)]
		if !ok {
			k = len(parts)
			root[find(i)] = k
			parts = append(parts, nil)
		}
		parts[k] = append(parts[k], it)
	}

	type rect struct{ x0, y0, x1, y1 float64 }
	bound := func(p []item) rect {
		r := rect{x0: 1e18, y0: 1e18, x1: -1e18, y1: -1e18}
		for _, it := range p {
			b := boxes[it.ID]
			r = rect{min(r.x0, b.X), min(r.y0, b.Y), max(r.x1, b.X+b.W), max(r.y1, b.Y+b.H)}
		}
		return r
	}
	// enclosed lists the boxes a rectangle overlaps.
	enclosed := func(q rect) map[string]bool {
		out := map[string]bool{}
		for id, b := range boxes {
			if b.X < q.x1 && q.x0 < b.X+b.W && b.Y < q.y1 && q.y0 < b.Y+b.H {
				out[id] = true
			}
		}
		return out
	}
	for merged := true; merged && len(parts) > 1; {
		merged = false
	search:
		for i := range parts {
			for j := i + 1; j < len(parts); j++ {
				union := append(slices.Clone(parts[i]), parts[j]...)
				had := enclosed(bound(parts[i]))
				for id := range enclosed(bound(parts[j])) {
					had[id] = true
				}
				grows := false
				for id := range enclosed(bound(union)) {
					if !had[id] {
						grows = true
						break
					}
				}
				if !grows {
					parts[i] = union
					parts = slices.Delete(parts, j, j+1)
					merged = true
					break search
				}
			}
		}
	}
	return parts
}

// textLabel splits an item's label for a text rendering: the name as the
// viewer draws it (without its namespace) and the namespace, shown
// smaller on a second line, so namespaced boxes are not twice as wide
// as their names.
func (r *resolved) textLabel(it item) (name, namespace string) {
	name = r.label(it)
	full := it.Name
	prefix := ""
	if it.Kind == KindParameters {
		prefix = ParamPrefix
		full = strings.TrimPrefix(it.Name, ParamPrefix)
		name = full
		for _, ns := range r.namespaces() {
			if strings.HasPrefix(full, ns+".") && len(ns) > len(namespace) {
				namespace = ns
			}
		}
		if namespace != "" {
			name = full[len(namespace)+1:]
		}
		return prefix + name, namespace
	}
	if name != full && strings.HasSuffix(full, "."+name) {
		namespace = strings.TrimSuffix(full, "."+name)
	}
	return name, namespace
}
