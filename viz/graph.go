package viz

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Graph is a pipeline as the viewer sees it: plain data, with no tie to the
// runner, so any pipeline representation can be converted into it.
//
// Edges are not stored: they follow from each node's Inputs, Outputs and
// Params, so a Graph cannot contradict itself. A dataset named in a node's
// Inputs or Outputs but missing from Datasets is shown as an in-memory
// dataset, the way Kedro treats unregistered intermediates.
type Graph struct {
	// Name is the pipeline name, e.g. "__default__".
	Name string
	// Nodes are the task nodes, in pipeline order.
	Nodes []Node
	// Datasets describes the catalog entries the nodes read and write.
	Datasets []Dataset
	// Params holds the resolved parameter values the nodes read, by key.
	Params []Param
}

// Node is one task node of a pipeline.
type Node struct {
	// Name is the full node name, namespace included ("train.fit").
	Name string
	// Namespace is the dotted modular-pipeline path ("" for none).
	Namespace string
	// Tags are the node's tags.
	Tags []string
	// Func is the Go function the node runs ("mmc/nodes.Tokenize").
	Func string
	// Source is the function's source location, "file:line".
	Source string
	// Code is the function's source text, when the caller has it (mmc
	// embeds its node sources at build time).
	Code string
	// Inputs and Outputs name the datasets the node loads and saves.
	Inputs  []string
	Outputs []string
	// Params are the parameter keys the node reads, without the Kedro
	// "params:" prefix ("model", "train.lr").
	Params []string
}

// Dataset is one catalog entry.
type Dataset struct {
	// Name is the dataset name as used in node inputs and outputs.
	Name string
	// Type is the catalog type ("jsonl", "png", "memory" …).
	Type string
	// Filepath is where the data lives; empty for in-memory data.
	Filepath string
	// Layer is the catalog metadata layer ("raw", "primary" …), if any.
	Layer string
	// InMemory marks data that exists only while a run lasts.
	InMemory bool
}

// Param is one resolved parameter value.
type Param struct {
	// Key is the dotted parameter key ("model", "train.lr").
	Key string
	// Value is the resolved value; it must marshal to JSON.
	Value any
}

// Kind says what sort of item a graph element is.
type Kind string

// The item kinds, named as Kedro-Viz names them.
const (
	KindTask       Kind = "task"
	KindData       Kind = "data"
	KindParameters Kind = "parameters"
)

// Role says where a dataset sits in the flow of a pipeline.
type Role string

// The dataset roles.
const (
	// RoleFreeInput is a dataset no node produces: it must exist before a run.
	RoleFreeInput Role = "free_input"
	// RoleTerminal is a dataset some node produces and no node consumes.
	RoleTerminal Role = "terminal_output"
	// RoleIntermediate is produced by one node and consumed by another.
	RoleIntermediate Role = "intermediate"
)

// Edge joins two items by their IDs, from producer to consumer.
type Edge struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// ParamPrefix is the prefix Kedro gives parameter inputs.
const ParamPrefix = "params:"

// ID returns the stable short ID of an item of the given kind and name: the
// first 8 hex digits of a SHA-1, as Kedro-Viz uses short hashes. Kinds are
// hashed in, so a node and a dataset may share a name.
func ID(kind Kind, name string) string {
	sum := sha1.Sum([]byte(string(kind) + "\x00" + name))
	return hex.EncodeToString(sum[:4])
}

// item is one drawable element of a resolved graph.
type item struct {
	ID   string
	Kind Kind
	Name string
	// Index into Graph.Nodes, Graph.Datasets or Graph.Params; -1 for a
	// dataset or parameter that the graph references but does not describe.
	Index int
	Layer string
	Role  Role
}

// resolved is a Graph checked and indexed for rendering.
type resolved struct {
	g        Graph
	items    []item
	byID     map[string]int
	edges    []Edge
	datasets map[string]Dataset
	params   map[string]Param
	// dataNS is each dataset's namespace (see dataNamespace), computed
	// once: finding it scans every node. Read-only after resolve, so a
	// server may lay out views concurrently.
	dataNS map[string]string
	// nsList caches namespaces(); set by resolve before any concurrent use.
	nsList []string
}

// resolve checks g and builds the item and edge lists. Datasets and
// parameters come in order of first use, so output is deterministic.
func resolve(g Graph) (*resolved, error) {
	r := &resolved{
		g:        g,
		byID:     map[string]int{},
		datasets: map[string]Dataset{},
		params:   map[string]Param{},
	}
	declared := map[string]int{}
	for i, d := range g.Datasets {
		if d.Name == "" {
			return nil, fmt.Errorf("viz: graph %q: dataset %d has no name", g.Name, i)
		}
		if _, dup := declared[d.Name]; dup {
			return nil, fmt.Errorf("viz: graph %q: dataset %q declared twice", g.Name, d.Name)
		}
		declared[d.Name] = i
		r.datasets[d.Name] = d
	}
	paramIdx := map[string]int{}
	for i, p := range g.Params {
		if _, dup := paramIdx[p.Key]; dup {
			return nil, fmt.Errorf("viz: graph %q: parameter %q given twice", g.Name, p.Key)
		}
		paramIdx[p.Key] = i
		r.params[p.Key] = p
	}
	producer := map[string]string{}
	consumed := map[string]bool{}
	seenNode := map[string]bool{}
	for i, n := range g.Nodes {
		if n.Name == "" {
			return nil, fmt.Errorf("viz: graph %q: node %d has no name", g.Name, i)
		}
		if seenNode[n.Name] {
			return nil, fmt.Errorf("viz: graph %q: node %q appears twice", g.Name, n.Name)
		}
		seenNode[n.Name] = true
		for _, out := range n.Outputs {
			if p, dup := producer[out]; dup {
				return nil, fmt.Errorf("viz: graph %q: dataset %q is output of both %q and %q", g.Name, out, p, n.Name)
			}
			if slices.Contains(n.Inputs, out) {
				return nil, fmt.Errorf("viz: graph %q: node %q reads its own output %q", g.Name, n.Name, out)
			}
			producer[out] = n.Name
		}
		for _, in := range n.Inputs {
			consumed[in] = true
		}
	}

	add := func(it item) {
		if _, ok := r.byID[it.ID]; ok {
			return
		}
		r.byID[it.ID] = len(r.items)
		r.items = append(r.items, it)
	}
	role := func(name string) Role {
		_, produced := producer[name]
		switch {
		case !produced:
			return RoleFreeInput
		case !consumed[name]:
			return RoleTerminal
		}
		return RoleIntermediate
	}
	addData := func(name string) string {
		id := ID(KindData, name)
		idx, ok := declared[name]
		if !ok {
			idx = -1
		}
		add(item{ID: id, Kind: KindData, Name: name, Index: idx, Layer: r.datasets[name].Layer, Role: role(name)})
		return id
	}
	for i, n := range g.Nodes {
		tid := ID(KindTask, n.Name)
		add(item{ID: tid, Kind: KindTask, Name: n.Name, Index: i})
		for _, key := range n.Params {
			key = strings.TrimPrefix(key, ParamPrefix)
			pidx, ok := paramIdx[key]
			if !ok {
				pidx = -1
			}
			pid := ID(KindParameters, key)
			add(item{ID: pid, Kind: KindParameters, Name: ParamPrefix + key, Index: pidx})
			r.edges = append(r.edges, Edge{Source: pid, Target: tid})
		}
		for _, in := range n.Inputs {
			r.edges = append(r.edges, Edge{Source: addData(in), Target: tid})
		}
		for _, out := range n.Outputs {
			r.edges = append(r.edges, Edge{Source: tid, Target: addData(out)})
		}
	}
	// Declared datasets no node touches still belong to the catalog view.
	for _, d := range g.Datasets {
		addData(d.Name)
	}
	if err := r.checkAcyclic(); err != nil {
		return nil, err
	}
	r.dataNS = map[string]string{}
	if len(r.namespaces()) > 0 {
		// The namespaces of the nodes that touch each dataset.
		touch := map[string][]string{}
		for _, n := range r.g.Nodes {
			for _, d := range n.Inputs {
				touch[d] = append(touch[d], n.Namespace)
			}
			for _, d := range n.Outputs {
				touch[d] = append(touch[d], n.Namespace)
			}
		}
		for _, it := range r.items {
			if it.Kind == KindData {
				if ns := r.findDataNamespace(it.Name, touch); ns != "" {
					r.dataNS[it.Name] = ns
				}
			}
		}
	}
	return r, nil
}

// checkAcyclic fails when the edges form a cycle, naming one item on it.
func (r *resolved) checkAcyclic() error {
	indeg := make([]int, len(r.items))
	succ := make([][]int, len(r.items))
	for _, e := range r.edges {
		s, t := r.byID[e.Source], r.byID[e.Target]
		succ[s] = append(succ[s], t)
		indeg[t]++
	}
	queue := []int{}
	for i, d := range indeg {
		if d == 0 {
			queue = append(queue, i)
		}
	}
	seen := 0
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		seen++
		for _, t := range succ[v] {
			if indeg[t]--; indeg[t] == 0 {
				queue = append(queue, t)
			}
		}
	}
	if seen == len(r.items) {
		return nil
	}
	for i, d := range indeg {
		if d > 0 && r.items[i].Kind == KindTask {
			return fmt.Errorf("viz: graph %q has a cycle through node %q", r.g.Name, r.items[i].Name)
		}
	}
	return fmt.Errorf("viz: graph %q has a cycle", r.g.Name)
}

// dataset returns the description of the data item it, synthesising an
// in-memory one for undeclared names.
func (r *resolved) dataset(it item) Dataset {
	if it.Index >= 0 {
		return r.g.Datasets[it.Index]
	}
	return Dataset{Name: it.Name, Type: "memory", InMemory: true}
}

// tags returns every tag used by the graph's nodes, sorted.
func (r *resolved) tags() []string {
	set := map[string]bool{}
	for _, n := range r.g.Nodes {
		for _, t := range n.Tags {
			set[t] = true
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Edges returns the graph's edges by item ID: parameter → task,
// dataset → task and task → dataset, in node order.
func (g Graph) Edges() ([]Edge, error) {
	r, err := resolve(g)
	if err != nil {
		return nil, err
	}
	return r.edges, nil
}

// Validate reports the first inconsistency in g: an unnamed or duplicate
// node or dataset, a dataset output by two nodes, or a node that reads its
// own output.
func (g Graph) Validate() error {
	_, err := resolve(g)
	return err
}
