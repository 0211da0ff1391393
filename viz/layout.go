package viz

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Layout is a graph placed on a plane, left to right: every edge leaves a
// box's right side and enters a box further right. Coordinates are pixels
// with Y growing downwards.
type Layout struct {
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Boxes  []Box   `json:"boxes"`
	Paths  []Path  `json:"paths"`
	// Bands are the catalog layers as vertical strips, in layer order.
	Bands []Band `json:"bands"`
	// Collapsed lists the namespaces drawn as one box each.
	Collapsed []string `json:"collapsed"`
}

// Box is one item's rectangle; X, Y is its top-left corner.
type Box struct {
	ID   string `json:"id"`
	Kind Kind   `json:"type"`
	Name string `json:"name"`
	// Label is the text drawn in the box: the name without the namespace
	// it sits in ("train_model" for "vilbert.train_model"); the full
	// name is shown on hover.
	Label string `json:"label"`
	// Layer is a dataset's catalog layer, if any.
	Layer string  `json:"layer,omitempty"`
	Rank  int     `json:"rank"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	W     float64 `json:"w"`
	H     float64 `json:"h"`
}

// Path is an edge's route: from the source's right side through bend
// points to the target's left side, X increasing all the way.
type Path struct {
	Source string  `json:"source"`
	Target string  `json:"target"`
	Points []Point `json:"points"`
}

// Point is a position on the plane.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Band is a layer's strip, from X to X+W across the whole height.
type Band struct {
	Layer string  `json:"layer"`
	X     float64 `json:"x"`
	W     float64 `json:"w"`
}

// LayoutOptions tunes ComputeLayout. The zero value shows everything.
type LayoutOptions struct {
	// HideParams leaves parameter items out, as Kedro-Viz does by default.
	HideParams bool
	// Collapse names namespaces to draw as a single box each, standing for
	// their nodes and the datasets that never leave them; namespaces
	// nested in a collapsed one go with it. A namespace whose collapse
	// would close a cycle (it feeds data out and takes results back in)
	// stays expanded; Layout.Collapsed says which were collapsed.
	Collapse []string
}

// Sizes in pixels. CharWidth matches the web page's 12px sans-serif labels
// closely enough for boxes to fit their text.
const (
	CharWidth  = 7.0
	boxPadding = 24.0
	taskHeight = 32.0
	dataHeight = 32.0
	parHeight  = 24.0
	dummyH     = 6.0
	colGap     = 56.0
	rowGap     = 14.0
	margin     = 24.0
	// layerDotW is the room a dataset's layer dot takes, drawn when the
	// layers are not shown as bands.
	layerDotW = 10.0
)

// ComputeLayout places g left to right in the manner of a Sugiyama layout:
// ranks by longest path (free inputs and parameters pulled next to their
// first consumer), every catalog layer in its own column band, long edges
// broken by bend points, order within a rank by barycentre sweeps that keep
// the arrangement with fewest crossings, and Y positions that line items up
// with their neighbours without overlap.
func ComputeLayout(g Graph, opt LayoutOptions) (Layout, error) {
	r, err := resolve(g)
	if err != nil {
		return Layout{}, err
	}
	return r.layout(opt)
}

// lnode is a vertex of the layout graph: an item, or a bend point of a
// long edge (item < 0).
type lnode struct {
	item       int
	rank       int
	w, h       float64
	pred, succ []int
	y          float64
}

func (r *resolved) layout(opt LayoutOptions) (Layout, error) {
	items, edges, collapsed, err := r.view(opt)
	if err != nil {
		return Layout{}, err
	}
	keep := make([]bool, len(items))
	for i := range keep {
		keep[i] = true
	}
	ranks, bandsOK := r.ranks(items, keep, edges)

	// Layout graph: the items, then bend points for edges spanning ranks.
	var nodes []lnode
	idx := make([]int, len(items))
	labels := make([]string, len(items))
	for i, it := range items {
		labels[i] = r.label(it)
		w, h := boxSize(it, labels[i])
		if it.Kind == KindData && it.Layer != "" {
			w += layerDotW
		}
		idx[i] = len(nodes)
		nodes = append(nodes, lnode{item: i, rank: ranks[i], w: w, h: h})
	}
	type chain struct {
		src, dst int
		via      []int
	}
	chains := make([]chain, 0, len(edges))
	for _, e := range edges {
		s, t := idx[e[0]], idx[e[1]]
		c := chain{src: e[0], dst: e[1]}
		prev := s
		for rk := nodes[s].rank + 1; rk < nodes[t].rank; rk++ {
			d := len(nodes)
			nodes = append(nodes, lnode{item: -1, rank: rk, h: dummyH})
			nodes[prev].succ = append(nodes[prev].succ, d)
			nodes[d].pred = append(nodes[d].pred, prev)
			c.via = append(c.via, d)
			prev = d
		}
		nodes[prev].succ = append(nodes[prev].succ, t)
		nodes[t].pred = append(nodes[t].pred, prev)
		chains = append(chains, c)
	}

	maxRank := 0
	for _, n := range nodes {
		maxRank = max(maxRank, n.rank)
	}
	cols := make([][]int, maxRank+1)
	if len(nodes) == 0 {
		cols = nil
	}
	for v := range nodes {
		cols[nodes[v].rank] = append(cols[nodes[v].rank], v)
	}
	orderColumns(nodes, cols)

	// X: each rank is a column as wide as its widest box.
	colX := make([]float64, len(cols))
	colW := make([]float64, len(cols))
	x := margin
	for rk, col := range cols {
		for _, v := range col {
			colW[rk] = max(colW[rk], nodes[v].w)
		}
		colX[rk] = x
		x += colW[rk] + colGap
	}
	placeY(nodes, cols)

	lay := Layout{Width: x - colGap + margin, Bands: []Band{}, Boxes: []Box{}, Paths: []Path{}, Collapsed: collapsed}
	if len(cols) == 0 {
		lay.Width = 2 * margin
	}
	minY := math.Inf(1)
	for _, n := range nodes {
		minY = min(minY, n.y-n.h/2)
	}
	shift := margin - minY
	bottom := 0.0
	boxOf := make([]int, len(items))
	for _, n := range nodes {
		if n.item < 0 {
			continue
		}
		it := items[n.item]
		boxOf[n.item] = len(lay.Boxes)
		lay.Boxes = append(lay.Boxes, Box{
			ID: it.ID, Kind: it.Kind, Name: it.Name, Label: labels[n.item], Layer: it.Layer, Rank: n.rank,
			X: colX[n.rank] + (colW[n.rank]-n.w)/2, Y: n.y - n.h/2 + shift, W: n.w, H: n.h,
		})
		bottom = max(bottom, n.y+n.h/2+shift)
	}
	lay.Height = bottom + margin
	if len(lay.Boxes) == 0 {
		lay.Height = 2 * margin
	}
	for _, c := range chains {
		sb, tb := lay.Boxes[boxOf[c.src]], lay.Boxes[boxOf[c.dst]]
		p := Path{Source: sb.ID, Target: tb.ID}
		p.Points = append(p.Points, Point{sb.X + sb.W, sb.Y + sb.H/2})
		// Leave the source's column straight: a box narrower than its
		// column would otherwise bend the edge through a wider neighbour.
		if right := colX[sb.Rank] + colW[sb.Rank]; right > sb.X+sb.W {
			p.Points = append(p.Points, Point{right, sb.Y + sb.H/2})
		}
		// Through each column a long edge runs straight across the slot
		// its bend point holds, so it bends only in the gaps between
		// columns and never crosses a box.
		for _, d := range c.via {
			rk, y := nodes[d].rank, nodes[d].y+shift
			p.Points = append(p.Points, Point{colX[rk], y}, Point{colX[rk] + colW[rk], y})
		}
		// And enter the target's column straight.
		if left := colX[tb.Rank]; left < tb.X {
			p.Points = append(p.Points, Point{left, tb.Y + tb.H/2})
		}
		p.Points = append(p.Points, Point{tb.X, tb.Y + tb.H/2})
		lay.Paths = append(lay.Paths, p)
	}
	if bandsOK {
		lay.Bands = r.bands(lay, colX)
	}
	return lay, nil
}

// label is the text drawn in an item's box: task and dataset names lose
// the namespace they sit in, a collapsed namespace shows its last part.
func (r *resolved) label(it item) string {
	ns := ""
	switch it.Kind {
	case KindTask:
		ns = r.g.Nodes[it.Index].Namespace
	case KindData:
		// A dataset named inside a namespace ("vilbert.best_model") reads
		// as its last part wherever it is drawn; the hover gives the rest.
		for _, cand := range r.namespaces() {
			if strings.HasPrefix(it.Name, cand+".") && len(cand) > len(ns) {
				ns = cand
			}
		}
	case KindModularPipeline:
		if i := strings.LastIndexByte(it.Name, '.'); i >= 0 {
			return it.Name[i+1:]
		}
	}
	if ns != "" && strings.HasPrefix(it.Name, ns+".") {
		return it.Name[len(ns)+1:]
	}
	return it.Name
}

// boxSize is the size of an item's box, from its label length.
func boxSize(it item, label string) (w, h float64) {
	w = float64(len([]rune(label)))*CharWidth + boxPadding
	switch it.Kind {
	case KindTask:
		return w, taskHeight
	case KindParameters:
		return w, parHeight
	case KindModularPipeline:
		return w + 8, taskHeight + 8
	}
	return w, dataHeight
}

// bands turns each layer's data columns into a strip. A strip starts half
// a gap before its first data column and runs to the next strip, so the
// task columns between two layers sit inside the earlier one.
func (r *resolved) bands(lay Layout, colX []float64) []Band {
	var out []Band
	for _, layer := range r.layerOrder() {
		first := -1
		for _, b := range lay.Boxes {
			if b.Kind == KindData && b.Layer == layer && (first < 0 || b.Rank < first) {
				first = b.Rank
			}
		}
		if first < 0 {
			continue
		}
		out = append(out, Band{Layer: layer, X: colX[first] - colGap/2})
	}
	if len(out) == 0 {
		return out
	}
	out[0].X = 0
	for i := range out {
		end := lay.Width
		if i+1 < len(out) {
			end = out[i+1].X
		} else {
			// The last strip ends after its layer's data, not at the
			// drawing's edge: the columns after it hold none of it.
			end = 0
			for _, b := range lay.Boxes {
				if b.Kind == KindData && b.Layer == out[i].Layer {
					end = max(end, b.X+b.W)
				}
			}
			end = min(lay.Width, end+colGap/2)
			if lay.Width-end < colGap {
				end = lay.Width
			}
		}
		out[i].W = end - out[i].X
	}
	return out
}

// ranks assigns each kept item a column. With layer bands, all data of
// one layer sits strictly left of all data of the next; bandsOK is false
// when the layers cannot be ordered that way and bands are dropped.
func (r *resolved) ranks(items []item, keep []bool, edges [][2]int) (rank []int, bandsOK bool) {
	n := len(items)
	type wedge struct{ to, w int }
	build := func(withBands bool) ([][]wedge, int) {
		adj := make([][]wedge, n)
		for _, e := range edges {
			adj[e[0]] = append(adj[e[0]], wedge{e[1], 1})
		}
		if !withBands {
			return adj, n
		}
		layers := r.layerOrder()
		pos := map[string]int{}
		for i, l := range layers {
			pos[l] = i
		}
		// One barrier vertex between each pair of consecutive layers.
		total := n + max(len(layers)-1, 0)
		adj = append(adj, make([][]wedge, total-n)...)
		for i, it := range items {
			if !keep[i] || it.Kind != KindData || it.Layer == "" {
				continue
			}
			k := pos[it.Layer]
			if k < len(layers)-1 {
				adj[i] = append(adj[i], wedge{n + k, 0})
			}
			if k > 0 {
				adj[n+k-1] = append(adj[n+k-1], wedge{i, 1})
			}
		}
		for k := 0; k+1 < len(layers)-1; k++ {
			adj[n+k] = append(adj[n+k], wedge{n + k + 1, 1})
		}
		return adj, total
	}
	longest := func(adj [][]wedge, total int) ([]int, bool) {
		indeg := make([]int, total)
		for _, out := range adj {
			for _, e := range out {
				indeg[e.to]++
			}
		}
		var order []int
		for v := 0; v < total; v++ {
			if indeg[v] == 0 {
				order = append(order, v)
			}
		}
		for i := 0; i < len(order); i++ {
			for _, e := range adj[order[i]] {
				if indeg[e.to]--; indeg[e.to] == 0 {
					order = append(order, e.to)
				}
			}
		}
		if len(order) < total {
			return nil, false
		}
		rk := make([]int, total)
		for _, v := range order {
			for _, e := range adj[v] {
				rk[e.to] = max(rk[e.to], rk[v]+e.w)
			}
		}
		// Pull items without real predecessors right, next to their
		// earliest consumer: free inputs and parameters sit beside the
		// node that reads them instead of at the far left.
		hasPred := make([]bool, total)
		for _, e := range edges {
			hasPred[e[1]] = true
		}
		for i := len(order) - 1; i >= 0; i-- {
			v := order[i]
			if v >= n || hasPred[v] || len(adj[v]) == 0 {
				continue
			}
			lim := math.MaxInt
			for _, e := range adj[v] {
				lim = min(lim, rk[e.to]-e.w)
			}
			rk[v] = max(rk[v], lim)
		}
		// Barrier vertices are not drawn: close the gaps they leave.
		return compact(rk[:n], keep), true
	}
	free, _ := longest(build(false))
	if len(r.layerOrder()) == 0 {
		return free, false
	}
	banded, ok := longest(build(true))
	if !ok {
		return free, false
	}
	// Bands put every layer in its own columns, which stretches an edge
	// into a layer that the rest of the graph reaches much later (a data
	// report beside the raw data, in the reporting layer at the far
	// right). Keep them only while they lengthen the edges little; else
	// each dataset shows its layer itself.
	span := func(rk []int) int {
		total := 0
		for _, e := range edges {
			total += rk[e[1]] - rk[e[0]]
		}
		return total
	}
	if sb, sf := span(banded), span(free); float64(sb) > 1.25*float64(sf)+2 {
		return free, false
	}
	for _, e := range edges {
		if banded[e[1]]-banded[e[0]] > free[e[1]]-free[e[0]]+2 {
			return free, false
		}
	}
	return banded, true
}

// compact renumbers ranks so that no column is empty.
func compact(rk []int, keep []bool) []int {
	used := map[int]bool{}
	for i, v := range rk {
		if keep[i] {
			used[v] = true
		}
	}
	distinct := make([]int, 0, len(used))
	for v := range used {
		distinct = append(distinct, v)
	}
	sort.Ints(distinct)
	to := map[int]int{}
	for i, v := range distinct {
		to[v] = i
	}
	out := make([]int, len(rk))
	for i, v := range rk {
		out[i] = to[v]
	}
	return out
}

// orderColumns orders every column by alternating barycentre sweeps and
// keeps the order with the fewest edge crossings seen.
func orderColumns(nodes []lnode, cols [][]int) {
	pos := make([]float64, len(nodes))
	setPos := func() {
		for _, col := range cols {
			for i, v := range col {
				pos[v] = float64(i)
			}
		}
	}
	setPos()
	best := crossings(nodes, cols, pos)
	saved := cloneCols(cols)
	bary := make([]float64, len(nodes))
	for iter := 0; iter < 24 && best > 0; iter++ {
		down := iter%2 == 0
		for k := range cols {
			rk := k
			if !down {
				rk = len(cols) - 1 - k
			}
			col := cols[rk]
			for i, v := range col {
				nb := nodes[v].pred
				if !down {
					nb = nodes[v].succ
				}
				if len(nb) == 0 {
					bary[v] = float64(i)
					continue
				}
				sum := 0.0
				for _, u := range nb {
					sum += pos[u]
				}
				bary[v] = sum / float64(len(nb))
			}
			sort.SliceStable(col, func(a, b int) bool { return bary[col[a]] < bary[col[b]] })
			for i, v := range col {
				pos[v] = float64(i)
			}
		}
		if c := crossings(nodes, cols, pos); c < best {
			best, saved = c, cloneCols(cols)
		}
	}
	for i := range cols {
		copy(cols[i], saved[i])
	}
}

func cloneCols(cols [][]int) [][]int {
	out := make([][]int, len(cols))
	for i, c := range cols {
		out[i] = append([]int(nil), c...)
	}
	return out
}

// crossings counts pairs of edges that cross between neighbouring
// columns, by counting inversions of target positions with a Fenwick tree.
func crossings(nodes []lnode, cols [][]int, pos []float64) int {
	total := 0
	for _, col := range cols {
		type pair struct{ a, b int }
		var ps []pair
		width := 0
		for _, v := range col {
			for _, t := range nodes[v].succ {
				ps = append(ps, pair{int(pos[v]), int(pos[t])})
				width = max(width, int(pos[t])+1)
			}
		}
		sort.Slice(ps, func(i, j int) bool {
			if ps[i].a != ps[j].a {
				return ps[i].a < ps[j].a
			}
			return ps[i].b < ps[j].b
		})
		tree := make([]int, width+1)
		seen := 0
		for _, p := range ps {
			// Edges seen so far with a target strictly below p.b cross p.
			le := 0
			for i := p.b + 1; i > 0; i -= i & -i {
				le += tree[i]
			}
			total += seen - le
			for i := p.b + 1; i <= width; i += i & -i {
				tree[i]++
			}
			seen++
		}
	}
	return total
}

// placeY gives each node a vertical centre: columns start stacked, then
// sweeps move every node towards the mean of its neighbours, keeping the
// column's order and spacing (an isotonic regression per column).
func placeY(nodes []lnode, cols [][]int) {
	for _, col := range cols {
		y := 0.0
		for _, v := range col {
			nodes[v].y = y + nodes[v].h/2
			y += nodes[v].h + rowGap
		}
	}
	for iter := 0; iter < 8; iter++ {
		down := iter%2 == 0
		for k := range cols {
			rk := k
			if !down {
				rk = len(cols) - 1 - k
			}
			col := cols[rk]
			want := make([]float64, len(col))
			for i, v := range col {
				nb := nodes[v].pred
				if !down {
					nb = nodes[v].succ
				}
				if len(nb) == 0 {
					want[i] = nodes[v].y
					continue
				}
				sum := 0.0
				for _, u := range nb {
					sum += nodes[u].y
				}
				want[i] = sum / float64(len(nb))
			}
			ys := spaced(want, col, nodes)
			for i, v := range col {
				nodes[v].y = ys[i]
			}
		}
	}
}

// spaced returns the positions closest (least squares) to want such that
// consecutive nodes keep their order and do not overlap: with offsets
// removed, the constraint is monotonicity, solved by pool-adjacent-violators.
func spaced(want []float64, col []int, nodes []lnode) []float64 {
	off := make([]float64, len(col))
	for i := 1; i < len(col); i++ {
		off[i] = off[i-1] + nodes[col[i-1]].h/2 + rowGap + nodes[col[i]].h/2
	}
	type block struct {
		sum   float64
		count int
	}
	var blocks []block
	for i := range col {
		blocks = append(blocks, block{want[i] - off[i], 1})
		for len(blocks) > 1 {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			if a.sum/float64(a.count) <= b.sum/float64(b.count) {
				break
			}
			blocks = append(blocks[:len(blocks)-2], block{a.sum + b.sum, a.count + b.count})
		}
	}
	out := make([]float64, 0, len(col))
	for _, b := range blocks {
		for j := 0; j < b.count; j++ {
			out = append(out, b.sum/float64(b.count)+off[len(out)])
		}
	}
	return out
}

// conventionalLayers are Kedro's layer names in data-engineering order,
// used to break ties when the graph alone does not order two layers.
var conventionalLayers = []string{"raw", "intermediate", "primary", "feature", "model_input", "models", "model_output", "reporting"}

var layerNumber = regexp.MustCompile(`^(\d+)[_\- ]`)

// layerRank is the tie-break key of a layer name: a leading number
// ("03_primary") wins, then Kedro's conventional order.
func layerRank(name string) (float64, bool) {
	if m := layerNumber.FindStringSubmatch(name); m != nil {
		n, _ := strconv.Atoi(m[1])
		return float64(n), true
	}
	for i, l := range conventionalLayers {
		if strings.EqualFold(name, l) {
			return float64(i + 1), true
		}
	}
	return 0, false
}

// layerOrder orders the catalog layers the graph uses as Kedro-Viz does:
// a layer comes after every layer whose data flows into it, ties broken by
// layerRank and then by first appearance. Layers caught in a cycle follow
// in tie-break order.
func (r *resolved) layerOrder() []string {
	var layers []string
	first := map[string]int{}
	for _, it := range r.items {
		if it.Kind == KindData && it.Layer != "" {
			if _, ok := first[it.Layer]; !ok {
				first[it.Layer] = len(layers)
				layers = append(layers, it.Layer)
			}
		}
	}
	if len(layers) == 0 {
		return []string{}
	}
	// For each item, the layers of its nearest layered upstream data.
	preds := make([][]int, len(r.items))
	for _, e := range r.edges {
		preds[r.byID[e.Target]] = append(preds[r.byID[e.Target]], r.byID[e.Source])
	}
	up := make([]map[string]bool, len(r.items))
	after := map[string]map[string]bool{}
	var visit func(v int) map[string]bool
	visit = func(v int) map[string]bool {
		if up[v] != nil {
			return up[v]
		}
		in := map[string]bool{}
		for _, p := range preds[v] {
			for l := range visit(p) {
				in[l] = true
			}
		}
		if it := r.items[v]; it.Kind == KindData && it.Layer != "" {
			for l := range in {
				if l != it.Layer {
					if after[it.Layer] == nil {
						after[it.Layer] = map[string]bool{}
					}
					after[it.Layer][l] = true
				}
			}
			in = map[string]bool{it.Layer: true}
		}
		up[v] = in
		return in
	}
	for v := range r.items {
		visit(v)
	}
	less := func(a, b string) bool {
		ra, oka := layerRank(a)
		rb, okb := layerRank(b)
		if oka != okb {
			return oka
		}
		if oka && ra != rb {
			return ra < rb
		}
		return first[a] < first[b]
	}
	sort.SliceStable(layers, func(i, j int) bool { return less(layers[i], layers[j]) })
	var out []string
	done := map[string]bool{}
	for len(out) < len(layers) {
		picked := ""
		for _, l := range layers {
			if done[l] {
				continue
			}
			ready := true
			for p := range after[l] {
				ready = ready && done[p]
			}
			if ready {
				picked = l
				break
			}
		}
		if picked == "" {
			// A cycle among layers: take the next in tie-break order.
			for _, l := range layers {
				if !done[l] {
					picked = l
					break
				}
			}
		}
		done[picked] = true
		out = append(out, picked)
	}
	return out
}
