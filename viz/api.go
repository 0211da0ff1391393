package viz

import (
	"fmt"
	"sort"
	"strings"
)

// MainResponse is the body of GET /api/main, in Kedro-Viz's shape
// (package/kedro_viz/api/rest/responses/pipelines.py) so Kedro-Viz tooling
// can read it; fields after Kedro-Viz's own add what the Go viewer shows.
type MainResponse struct {
	Nodes            []APINode                  `json:"nodes"`
	Edges            []Edge                     `json:"edges"`
	Layers           []string                   `json:"layers"`
	Tags             []NamedID                  `json:"tags"`
	Pipelines        []NamedID                  `json:"pipelines"`
	ModularPipelines map[string]ModularPipeline `json:"modular_pipelines"`
	SelectedPipeline string                     `json:"selected_pipeline"`
}

// NamedID is an {id, name} pair, as Kedro-Viz lists tags and pipelines.
type NamedID struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// APINode is one node of /api/main. Kedro-Viz's fields come first; the
// rest are the details the Go viewer's side panel shows.
type APINode struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Tags             []string `json:"tags"`
	Pipelines        []string `json:"pipelines"`
	Type             Kind     `json:"type"`
	ModularPipelines []string `json:"modular_pipelines"`

	// Task nodes.
	FullName   string         `json:"full_name,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Func       string         `json:"func,omitempty"`
	Source     string         `json:"source,omitempty"`
	Code       string         `json:"code,omitempty"`
	Inputs     []string       `json:"inputs,omitempty"`
	Outputs    []string       `json:"outputs,omitempty"`

	// Data nodes.
	Layer       string `json:"layer,omitempty"`
	DatasetType string `json:"dataset_type,omitempty"`
	Filepath    string `json:"filepath,omitempty"`
	Role        Role   `json:"role,omitempty"`
	InMemory    bool   `json:"in_memory,omitempty"`

	// Parameter nodes: the resolved value (null when the graph lacks it).
	Value any `json:"value,omitempty"`
}

// ModularPipeline is one namespace of the graph, as Kedro-Viz describes it.
type ModularPipeline struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Inputs   []string       `json:"inputs"`
	Outputs  []string       `json:"outputs"`
	Children []ModularChild `json:"children"`
}

// ModularChild is a member of a modular pipeline: a node or a nested one.
type ModularChild struct {
	ID   string `json:"id"`
	Type Kind   `json:"type"`
}

// RootModularPipeline is the ID of the top of the namespace tree.
const RootModularPipeline = "__root__"

// KindModularPipeline marks a namespace among a modular pipeline's children.
const KindModularPipeline Kind = "modularPipeline"

// Main builds the /api/main response for g.
func Main(g Graph) (MainResponse, error) {
	r, err := resolve(g)
	if err != nil {
		return MainResponse{}, err
	}
	return r.main(), nil
}

func (r *resolved) main() MainResponse {
	g := r.g
	m := MainResponse{
		Edges:            r.edges,
		Layers:           r.layerOrder(),
		Tags:             []NamedID{},
		Pipelines:        []NamedID{{ID: g.Name, Name: g.Name}},
		SelectedPipeline: g.Name,
	}
	if m.Edges == nil {
		m.Edges = []Edge{}
	}
	for _, t := range r.tags() {
		m.Tags = append(m.Tags, NamedID{ID: t, Name: t})
	}
	for _, it := range r.items {
		n := r.apiNode(it)
		n.Code = "" // source text only in /api/nodes/{id}
		m.Nodes = append(m.Nodes, n)
	}
	if m.Nodes == nil {
		m.Nodes = []APINode{}
	}
	m.ModularPipelines = r.modularPipelines()
	return m
}

func (r *resolved) apiNode(it item) APINode {
	n := APINode{
		ID:               it.ID,
		Name:             it.Name,
		Tags:             []string{},
		Pipelines:        []string{r.g.Name},
		Type:             it.Kind,
		ModularPipelines: []string{},
	}
	switch it.Kind {
	case KindTask:
		node := r.g.Nodes[it.Index]
		n.FullName = node.Name
		n.Name = strings.TrimPrefix(node.Name, node.Namespace+".")
		if node.Namespace != "" {
			n.ModularPipelines = []string{node.Namespace}
		}
		n.Tags = append(n.Tags, node.Tags...)
		sort.Strings(n.Tags)
		n.Func, n.Source, n.Code = node.Func, node.Source, node.Code
		n.Inputs, n.Outputs = node.Inputs, node.Outputs
		if len(node.Params) > 0 {
			n.Parameters = map[string]any{}
			for _, key := range node.Params {
				key = strings.TrimPrefix(key, ParamPrefix)
				n.Parameters[key] = r.params[key].Value
			}
		}
	case KindData:
		d := r.dataset(it)
		n.Layer, n.DatasetType, n.Filepath = d.Layer, d.Type, d.Filepath
		n.Role, n.InMemory = it.Role, d.InMemory
		n.Tags = r.dataTags(it.Name)
		if ns := r.dataNamespace(it.Name); ns != "" {
			n.ModularPipelines = []string{ns}
		}
	case KindParameters:
		n.Value = r.params[strings.TrimPrefix(it.Name, ParamPrefix)].Value
		n.Tags = r.paramTags(strings.TrimPrefix(it.Name, ParamPrefix))
	}
	return n
}

// dataTags returns the tags of the nodes that read or write a dataset:
// Kedro-Viz gives data the tags of its neighbours so a tag filter keeps
// whole paths visible.
func (r *resolved) dataTags(name string) []string {
	set := map[string]bool{}
	for _, n := range r.g.Nodes {
		touches := false
		for _, d := range n.Inputs {
			touches = touches || d == name
		}
		for _, d := range n.Outputs {
			touches = touches || d == name
		}
		if touches {
			for _, t := range n.Tags {
				set[t] = true
			}
		}
	}
	return sortedKeys(set)
}

func (r *resolved) paramTags(key string) []string {
	set := map[string]bool{}
	for _, n := range r.g.Nodes {
		for _, p := range n.Params {
			if strings.TrimPrefix(p, ParamPrefix) == key {
				for _, t := range n.Tags {
					set[t] = true
				}
			}
		}
	}
	return sortedKeys(set)
}

// dataNamespace is the deepest namespace that both names a dataset by
// prefix and contains every node touching it; "" when none does.
func (r *resolved) dataNamespace(name string) string {
	return r.dataNS[name]
}

func (r *resolved) findDataNamespace(name string, touch map[string][]string) string {
	best := ""
	for _, ns := range r.namespaces() {
		if !strings.HasPrefix(name, ns+".") || len(ns) <= len(best) {
			continue
		}
		inside := true
		for _, nns := range touch[name] {
			inside = inside && (nns == ns || strings.HasPrefix(nns, ns+"."))
		}
		if inside {
			best = ns
		}
	}
	return best
}

// namespaces returns every namespace and all its ancestors, sorted.
func (r *resolved) namespaces() []string {
	if r.nsList != nil {
		return r.nsList
	}
	set := map[string]bool{}
	for _, n := range r.g.Nodes {
		if n.Namespace == "" || set[n.Namespace] {
			continue
		}
		parts := strings.Split(n.Namespace, ".")
		for i := range parts {
			set[strings.Join(parts[:i+1], ".")] = true
		}
	}
	r.nsList = append([]string{}, sortedKeys(set)...)
	return r.nsList
}

// modularPipelines builds the namespace tree: each namespace lists its
// nested namespaces and the nodes directly in it, plus the datasets that
// cross its boundary as inputs and outputs.
func (r *resolved) modularPipelines() map[string]ModularPipeline {
	out := map[string]ModularPipeline{
		RootModularPipeline: {ID: RootModularPipeline, Name: RootModularPipeline, Inputs: []string{}, Outputs: []string{}, Children: []ModularChild{}},
	}
	nss := r.namespaces()
	for _, ns := range nss {
		out[ns] = ModularPipeline{ID: ns, Name: ns, Inputs: []string{}, Outputs: []string{}, Children: []ModularChild{}}
	}
	addChild := func(parent string, c ModularChild) {
		mp := out[parent]
		mp.Children = append(mp.Children, c)
		out[parent] = mp
	}
	for _, ns := range nss {
		parent := RootModularPipeline
		if i := strings.LastIndex(ns, "."); i >= 0 {
			parent = ns[:i]
		}
		addChild(parent, ModularChild{ID: ns, Type: KindModularPipeline})
	}
	for _, it := range r.items {
		parent := RootModularPipeline
		switch it.Kind {
		case KindTask:
			if ns := r.g.Nodes[it.Index].Namespace; ns != "" {
				parent = ns
			}
		case KindData:
			if ns := r.dataNamespace(it.Name); ns != "" {
				parent = ns
			}
		}
		addChild(parent, ModularChild{ID: it.ID, Type: it.Kind})
	}
	for _, ns := range nss {
		in := func(n Node) bool { return n.Namespace == ns || strings.HasPrefix(n.Namespace, ns+".") }
		produced, consumed := map[string]bool{}, map[string]bool{}
		for _, n := range r.g.Nodes {
			if in(n) {
				for _, d := range n.Outputs {
					produced[d] = true
				}
				for _, d := range n.Inputs {
					consumed[d] = true
				}
			}
		}
		outside := map[string]bool{}
		for _, n := range r.g.Nodes {
			if !in(n) {
				for _, d := range n.Inputs {
					outside[d] = true
				}
			}
		}
		mp := out[ns]
		for _, d := range sortedKeys(consumed) {
			if !produced[d] {
				mp.Inputs = append(mp.Inputs, ID(KindData, d))
			}
		}
		for _, d := range sortedKeys(produced) {
			if outside[d] || r.items[r.byID[ID(KindData, d)]].Role == RoleTerminal {
				mp.Outputs = append(mp.Outputs, ID(KindData, d))
			}
		}
		out[ns] = mp
	}
	return out
}

// NodeDetail returns the /api/main entry of the item with the given ID.
func NodeDetail(g Graph, id string) (APINode, error) {
	r, err := resolve(g)
	if err != nil {
		return APINode{}, err
	}
	i, ok := r.byID[id]
	if !ok {
		return APINode{}, fmt.Errorf("viz: graph %q has no item with id %q", g.Name, id)
	}
	return r.apiNode(r.items[i]), nil
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
