package viz

import (
	"fmt"
	"slices"
	"strings"
)

// view returns the items and edges to lay out under opt: parameters
// dropped if hidden, and each collapsed namespace merged into one
// modular-pipeline item. Edges are between indices of the returned items,
// without duplicates or self-loops.
func (r *resolved) view(opt LayoutOptions) ([]item, [][2]int, []string, error) {
	known := r.namespaces()
	var want []string
	for _, ns := range opt.Collapse {
		if !slices.Contains(known, ns) {
			return nil, nil, nil, fmt.Errorf("viz: graph %q has no namespace %q to collapse (namespaces: %s)", r.g.Name, ns, strings.Join(known, ", "))
		}
		if !slices.Contains(want, ns) {
			want = append(want, ns)
		}
	}
	// Outer namespaces first, so an inner one inside a collapsed outer
	// one is recognised as already covered.
	slices.SortFunc(want, func(a, b string) int {
		if da, db := strings.Count(a, "."), strings.Count(b, "."); da != db {
			return da - db
		}
		return strings.Compare(a, b)
	})
	collapsed := []string{}
	for _, ns := range want {
		if outerCollapsed(ns, collapsed) != "" {
			continue
		}
		try := append(slices.Clone(collapsed), ns)
		items, edges := r.buildView(opt.HideParams, try)
		if acyclic(len(items), edges) {
			collapsed = try
		}
	}
	items, edges := r.buildView(opt.HideParams, collapsed)
	return items, edges, collapsed, nil
}

// outerCollapsed returns the collapsed namespace that contains ns (ns
// itself included), or "".
func outerCollapsed(ns string, collapsed []string) string {
	for _, c := range collapsed {
		if ns == c || strings.HasPrefix(ns, c+".") {
			return c
		}
	}
	return ""
}

func (r *resolved) buildView(hideParams bool, collapsed []string) ([]item, [][2]int) {
	var items []item
	to := make([]int, len(r.items))
	boxes := map[string]int{}
	for i, it := range r.items {
		to[i] = -1
		if hideParams && it.Kind == KindParameters {
			continue
		}
		ns := ""
		switch it.Kind {
		case KindTask:
			ns = r.g.Nodes[it.Index].Namespace
		case KindData:
			// Only data that lives and dies inside the namespace goes
			// into its box: what it reads from outside and the results
			// it leaves (terminal outputs) stay visible beside it.
			if it.Role == RoleIntermediate {
				ns = r.dataNamespace(it.Name)
			}
		}
		if c := outerCollapsed(ns, collapsed); ns != "" && c != "" {
			b, ok := boxes[c]
			if !ok {
				b = len(items)
				boxes[c] = b
				items = append(items, item{ID: c, Kind: KindModularPipeline, Name: c, Index: -1})
			}
			to[i] = b
			continue
		}
		to[i] = len(items)
		items = append(items, it)
	}
	var edges [][2]int
	seen := map[[2]int]bool{}
	for _, e := range r.edges {
		s, t := to[r.byID[e.Source]], to[r.byID[e.Target]]
		if s < 0 || t < 0 || s == t || seen[[2]int{s, t}] {
			continue
		}
		seen[[2]int{s, t}] = true
		edges = append(edges, [2]int{s, t})
	}
	return items, edges
}

// acyclic reports whether the n-vertex graph has no directed cycle.
func acyclic(n int, edges [][2]int) bool {
	indeg := make([]int, n)
	succ := make([][]int, n)
	for _, e := range edges {
		succ[e[0]] = append(succ[e[0]], e[1])
		indeg[e[1]]++
	}
	var queue []int
	for v, d := range indeg {
		if d == 0 {
			queue = append(queue, v)
		}
	}
	for i := 0; i < len(queue); i++ {
		for _, t := range succ[queue[i]] {
			if indeg[t]--; indeg[t] == 0 {
				queue = append(queue, t)
			}
		}
	}
	return len(queue) == n
}
