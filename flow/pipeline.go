package flow

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"mmc/catalog"
	"mmc/config"
)

// Pipeline is an immutable, validated set of nodes in a deterministic
// topological order (Kahn's algorithm, each ready group sorted by name).
type Pipeline struct {
	nodes     []*Node // topological order when err == nil
	groups    [][]*Node
	byName    map[string]*Node
	producer  map[string]*Node   // dataset → node writing it
	consumers map[string][]*Node // dataset → nodes reading it
	types     map[string]reflect.Type
	err       error
}

// New builds a pipeline from nodes and validates its structure. Problems
// (duplicate node names, outputs written twice, a node reading its own
// output, a dataset used with two Go types, cycles) are kept and
// reported by Err, so pipelines compose without error plumbing and fail
// before anything runs.
func New(nodes ...*Node) *Pipeline {
	p := &Pipeline{byName: make(map[string]*Node, len(nodes)), producer: make(map[string]*Node, len(nodes)),
		consumers: make(map[string][]*Node, len(nodes)), types: make(map[string]reflect.Type, len(nodes))}
	var errs []error
	var dupNames, dupWiring []string
	uniq := make([]*Node, 0, len(nodes))
	at := make(map[string]int, len(nodes)) // full name → index in uniq
	for _, n := range nodes {
		if n == nil {
			errs = append(errs, errors.New("nil node"))
			continue
		}
		if i, dup := at[n.Name()]; dup {
			prev := uniq[i]
			if prev.Equal(n) {
				// The same step, e.g. built by two pipelines now summed:
				// keep one, with the tags of both.
				if !slices.Equal(prev.tags, n.tags) {
					uniq[i] = prev.Tagged(n.tags...)
					p.byName[n.Name()] = uniq[i]
				}
				continue
			}
			if !slices.Contains(dupNames, n.Name()) {
				dupNames = append(dupNames, n.Name())
			}
			dupWiring = append(dupWiring, fmt.Sprintf("%q is %s and %s", n.Name(), prev.wiring(), n.wiring()))
			continue
		}
		if n.err != nil {
			errs = append(errs, n.err)
		}
		p.byName[n.Name()] = n
		at[n.Name()] = len(uniq)
		uniq = append(uniq, n)
	}
	if len(dupNames) > 0 {
		errs = append(errs, fmt.Errorf("node names must be unique; these appear more than once: %s\n  %s",
			strings.Join(dupNames, ", "), strings.Join(dupWiring, "\n  ")))
	}
	for _, n := range uniq {
		for _, o := range n.outputs {
			if prev, dup := p.producer[o.name]; dup {
				errs = append(errs, fmt.Errorf("output %q is written by more than one node: %q and %q", o.name, prev.Name(), n.Name()))
				continue
			}
			p.producer[o.name] = n
			errs = append(errs, p.noteType(o, n))
		}
		for _, in := range n.inputs {
			p.consumers[in.name] = append(p.consumers[in.name], n)
			errs = append(errs, p.noteType(in, n))
		}
	}
	p.nodes = uniq
	if err := errors.Join(errs...); err != nil {
		p.err = err
		return p
	}
	p.err = p.toposort()
	return p
}

// noteType records the Go type of a dataset and reports a conflict.
func (p *Pipeline) noteType(d port, n *Node) error {
	if _, isParam := catalog.IsParam(d.name); isParam {
		return nil
	}
	prev, ok := p.types[d.name]
	if !ok {
		p.types[d.name] = d.typ
		return nil
	}
	if prev != d.typ {
		return fmt.Errorf("dataset %q is used as %v and as %v (node %q)", d.name, prev, d.typ, n.Name())
	}
	return nil
}

func (p *Pipeline) toposort() error {
	n := len(p.nodes)
	index := make(map[*Node]int, n)
	names := make([]string, n)
	for i, node := range p.nodes {
		index[node] = i
		names[i] = node.Name()
	}
	indeg := make([]int, n)
	children := make([][]int, n)
	for i, node := range p.nodes {
		last := -1
		for _, in := range node.inputs {
			prod, ok := p.producer[in.name]
			if !ok {
				continue
			}
			j := index[prod]
			// Nodes rarely read two outputs of one producer; a linear
			// scan of this node's edges so far is cheaper than a set.
			if j == last || slices.Contains(children[j], i) {
				continue
			}
			last = j
			indeg[i]++
			children[j] = append(children[j], i)
		}
	}
	var ready []int
	for i := range p.nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	order := make([]*Node, 0, n)
	var groups [][]*Node
	for len(ready) > 0 {
		sort.Slice(ready, func(a, b int) bool { return names[ready[a]] < names[ready[b]] })
		group := make([]*Node, len(ready))
		var next []int
		for k, i := range ready {
			group[k] = p.nodes[i]
			for _, c := range children[i] {
				indeg[c]--
				if indeg[c] == 0 {
					next = append(next, c)
				}
			}
		}
		groups = append(groups, group)
		order = append(order, group...)
		ready = next
	}
	if len(order) != n {
		var cyc []string
		for i := range p.nodes {
			if indeg[i] > 0 {
				cyc = append(cyc, names[i])
			}
		}
		sort.Strings(cyc)
		return fmt.Errorf("circular dependencies exist among these %d nodes: %s", len(cyc), strings.Join(cyc, ", "))
	}
	p.nodes, p.groups = order, groups
	return nil
}

// Sum is the union of pipelines (Kedro's a + b): the nodes of all of
// them, re-validated. A node object present in several is kept once.
func Sum(ps ...*Pipeline) *Pipeline {
	var all []*Node
	for _, q := range ps {
		if q != nil {
			all = append(all, q.nodes...)
		}
	}
	return New(all...)
}

// Err is the validation error, or nil for a valid pipeline.
func (p *Pipeline) Err() error { return p.err }

// Nodes are the nodes in topological order (in insertion order when the
// pipeline is invalid).
func (p *Pipeline) Nodes() []*Node { return slices.Clone(p.nodes) }

// Groups are the topological generations: each group's nodes depend only
// on nodes of earlier groups.
func (p *Pipeline) Groups() [][]*Node { return p.groups }

// Len is the number of nodes.
func (p *Pipeline) Len() int { return len(p.nodes) }

// Node returns the node with the given full name.
func (p *Pipeline) Node(name string) (*Node, bool) {
	n, ok := p.byName[name]
	return n, ok
}

// NodeNames are the full node names in topological order.
func (p *Pipeline) NodeNames() []string {
	out := make([]string, len(p.nodes))
	for i, n := range p.nodes {
		out[i] = n.Name()
	}
	return out
}

// Producer returns the node that writes a dataset.
func (p *Pipeline) Producer(dataset string) (*Node, bool) {
	n, ok := p.producer[dataset]
	return n, ok
}

// Consumers returns the nodes that read a dataset.
func (p *Pipeline) Consumers(dataset string) []*Node { return slices.Clone(p.consumers[dataset]) }

// DatasetType is the Go type a dataset is used with in this pipeline
// (nil for parameters and unknown names).
func (p *Pipeline) DatasetType(name string) reflect.Type { return p.types[name] }

// Inputs are the free inputs: datasets (parameters included) read but not
// produced in the pipeline, sorted.
func (p *Pipeline) Inputs() []string {
	var out []string
	for d := range p.consumers {
		if _, ok := p.producer[d]; !ok {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// Outputs are the terminal outputs: datasets produced and not read
// inside the pipeline, sorted.
func (p *Pipeline) Outputs() []string {
	var out []string
	for d := range p.producer {
		if _, ok := p.consumers[d]; !ok {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// Datasets are all dataset names the pipeline reads or writes, sorted.
func (p *Pipeline) Datasets() []string {
	seen := map[string]bool{}
	for d := range p.producer {
		seen[d] = true
	}
	for d := range p.consumers {
		seen[d] = true
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Tags are the tags used by any node, sorted.
func (p *Pipeline) Tags() []string {
	seen := map[string]bool{}
	for _, n := range p.nodes {
		for _, t := range n.tags {
			seen[t] = true
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Describe lists the nodes in execution order with their functions, then
// the free inputs, for `registry describe`.
func (p *Pipeline) Describe() string {
	var b strings.Builder
	b.WriteString("nodes:\n")
	for _, n := range p.nodes {
		fmt.Fprintf(&b, "  - %s (%s)\n", n.Name(), n.funcName)
	}
	b.WriteString("inputs:\n")
	for _, in := range p.Inputs() {
		fmt.Fprintf(&b, "  - %s\n", in)
	}
	b.WriteString("outputs:\n")
	for _, o := range p.Outputs() {
		fmt.Fprintf(&b, "  - %s\n", o)
	}
	return b.String()
}

// Remap renames datasets and parameters when a pipeline is namespaced
// (Kedro's pipeline(inputs=, outputs=, parameters=)). Each map goes from
// the name inside the pipeline to the name outside. Parameters are
// written as keys ("train" → "shared.train") or, as in Kedro, with the
// prefix ("params:train" → "params:shared.train"); they belong in
// Parameters only, never in Inputs. A name mapped to itself is kept as
// is, without the namespace prefix. Renames builds a map from typed
// handles, so the compiler checks that both sides hold the same type.
type Remap struct {
	Inputs     map[string]string
	Outputs    map[string]string
	Parameters map[string]string
}

// Renaming maps one dataset or parameter inside a pipeline to a name
// outside it; Rename makes one from two handles of the same type.
type Renaming struct{ Inside, Outside string }

// Rename maps the handle inside a pipeline to the one outside. Both are
// catalog.Handle[T] for one T, so a namespaced pipeline cannot be wired
// to a dataset of another type:
//
//	flow.Namespaced(p, "ns", flow.Remap{Inputs: flow.Renames(
//		flow.Rename(trainMemes, RawMemes),
//		flow.Rename(trainFeatures, MMFDetectronLMDB),
//	)})
func Rename[T any](inside, outside catalog.Handle[T]) Renaming {
	return Renaming{Inside: inside.Name(), Outside: outside.Name()}
}

// Renames collects renamings into a Remap map (Inputs, Outputs or, for
// parameter handles, Parameters).
func Renames(rs ...Renaming) map[string]string {
	m := make(map[string]string, len(rs))
	for _, r := range rs {
		m[r.Inside] = r.Outside
	}
	return m
}

// Namespaced returns p with every node moved into namespace ns and every
// dataset renamed "ns.<name>" and parameter "params:ns.<key>", except
// those listed in m. Mapped inputs must be free inputs of p and mapped
// outputs must be produced by p; an unknown name is an error with a
// suggestion. An empty ns applies only the remapping.
func Namespaced(p *Pipeline, ns string, m Remap) *Pipeline {
	if p.err != nil {
		return p
	}
	free := p.Inputs()
	var errs []error
	for _, k := range sortedKeys(m.Inputs) {
		if pk, isParam := catalog.IsParam(k); isParam {
			hint := fmt.Sprintf("Remap.Parameters{%q: ...}", pk)
			if k == "parameters" {
				hint = "Remap.Parameters for the keys it reads (the whole tree is never renamed)"
			}
			errs = append(errs, fmt.Errorf("namespace %q: input %q is a parameter; parameters are remapped with %s, not Remap.Inputs", ns, k, hint))
			continue
		}
		if _, isParam := catalog.IsParam(m.Inputs[k]); isParam {
			errs = append(errs, fmt.Errorf("namespace %q: input %q is mapped to parameter %q; a dataset cannot become a parameter (use Remap.Parameters between parameters)", ns, k, m.Inputs[k]))
			continue
		}
		if !slices.Contains(free, k) {
			if _, produced := p.producer[k]; produced {
				errs = append(errs, fmt.Errorf("namespace %q: input %q is produced inside the pipeline; inputs must be free inputs", ns, k))
			} else {
				errs = append(errs, fmt.Errorf("namespace %q: input %q does not exist in the pipeline%s", ns, k, config.DidYouMean(k, free)))
			}
		}
	}
	for _, k := range sortedKeys(m.Outputs) {
		if _, ok := p.producer[k]; !ok {
			errs = append(errs, fmt.Errorf("namespace %q: output %q is not produced by the pipeline%s", ns, k, config.DidYouMean(k, sortedKeys(p.producer))))
		}
	}
	params := make(map[string]string, len(m.Parameters))
	for _, k := range sortedKeys(m.Parameters) {
		// Kedro's spelling "params:x" → "params:y" and the bare "x" → "y"
		// mean the same.
		key := strings.TrimPrefix(k, catalog.ParamsPrefix)
		to := strings.TrimPrefix(m.Parameters[k], catalog.ParamsPrefix)
		if _, ok := p.consumers[catalog.ParamsPrefix+key]; !ok {
			errs = append(errs, fmt.Errorf("namespace %q: parameter %q is not used by the pipeline%s", ns, k, config.DidYouMean(key, usedParams(p))))
			continue
		}
		if prev, dup := params[key]; dup && prev != to {
			errs = append(errs, fmt.Errorf("namespace %q: parameter %q is mapped twice, to %q and to %q", ns, key, prev, to))
			continue
		}
		params[key] = to
	}
	if len(errs) > 0 {
		return &Pipeline{nodes: p.nodes, err: errors.Join(errs...)}
	}
	rename := func(name string) string {
		if key, ok := catalog.IsParam(name); ok {
			if name == "parameters" {
				return name
			}
			if to, ok := params[key]; ok {
				return catalog.ParamsPrefix + to
			}
			if ns == "" {
				return name
			}
			return catalog.ParamsPrefix + ns + "." + key
		}
		if to, ok := m.Inputs[name]; ok {
			return to
		}
		if to, ok := m.Outputs[name]; ok {
			return to
		}
		if ns == "" {
			return name
		}
		return ns + "." + name
	}
	out := make([]*Node, len(p.nodes))
	for i, n := range p.nodes {
		c := *n
		if ns != "" {
			if c.namespace == "" {
				c.namespace = ns
			} else {
				c.namespace = ns + "." + c.namespace
			}
		}
		c.inputs = make([]port, len(n.inputs))
		for j, in := range n.inputs {
			c.inputs[j] = port{rename(in.name), in.typ}
		}
		c.outputs = make([]port, len(n.outputs))
		for j, o := range n.outputs {
			c.outputs[j] = port{rename(o.name), o.typ}
		}
		out[i] = &c
	}
	return New(out...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// usedParams lists the parameter keys the pipeline's nodes read.
func usedParams(p *Pipeline) []string {
	var out []string
	for d := range p.consumers {
		if key, ok := catalog.IsParam(d); ok && d != "parameters" {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}
