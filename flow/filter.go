package flow

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"mmc/config"
)

// Filter selects part of a pipeline, like Kedro's Pipeline.filter: each
// non-empty field is applied to the original pipeline on its own and the
// results are intersected, so the order of options does not matter.
type Filter struct {
	Tags       []string // nodes with any of these tags
	NodeNames  []string // exactly these nodes
	FromNodes  []string // these nodes and everything downstream
	ToNodes    []string // these nodes and everything upstream
	FromInputs []string // nodes depending, transitively, on these datasets
	ToOutputs  []string // nodes needed to produce these datasets
	Namespaces []string // nodes in these namespaces (or below them)
}

// IsZero reports whether the filter selects everything.
func (f Filter) IsZero() bool {
	return len(f.Tags)+len(f.NodeNames)+len(f.FromNodes)+len(f.ToNodes)+
		len(f.FromInputs)+len(f.ToOutputs)+len(f.Namespaces) == 0
}

// Filter returns the sub-pipeline the filter selects. An unknown node,
// dataset or namespace is an error with a suggestion, and so is a
// selection left with no nodes.
func (p *Pipeline) Filter(f Filter) (*Pipeline, error) {
	if p.err != nil {
		return nil, p.err
	}
	if f.IsZero() {
		return p, nil
	}
	keep := map[*Node]bool{}
	for _, n := range p.nodes {
		keep[n] = true
	}
	intersect := func(sel map[*Node]bool) {
		for n := range keep {
			if !sel[n] {
				delete(keep, n)
			}
		}
	}
	var errs []error
	if len(f.Tags) > 0 {
		sel := map[*Node]bool{}
		for _, n := range p.nodes {
			for _, t := range f.Tags {
				if slices.Contains(n.tags, t) {
					sel[n] = true
				}
			}
		}
		intersect(sel)
	}
	if len(f.NodeNames) > 0 {
		sel, err := p.only(f.NodeNames)
		errs = append(errs, err)
		intersect(sel)
	}
	if len(f.FromNodes) > 0 {
		sel, err := p.only(f.FromNodes)
		errs = append(errs, err)
		intersect(p.downstream(sel))
	}
	if len(f.ToNodes) > 0 {
		sel, err := p.only(f.ToNodes)
		errs = append(errs, err)
		intersect(p.upstream(sel))
	}
	if len(f.FromInputs) > 0 {
		sel := map[*Node]bool{}
		for _, d := range f.FromInputs {
			cons := p.consumers[d]
			if len(cons) == 0 {
				errs = append(errs, fmt.Errorf("--from-inputs: no node reads dataset %q%s", d, config.DidYouMean(d, sortedKeys(p.consumers))))
			}
			for _, n := range cons {
				sel[n] = true
			}
		}
		intersect(p.downstream(sel))
	}
	if len(f.ToOutputs) > 0 {
		sel := map[*Node]bool{}
		for _, d := range f.ToOutputs {
			prod, ok := p.producer[d]
			if !ok {
				errs = append(errs, fmt.Errorf("--to-outputs: no node writes dataset %q%s", d, config.DidYouMean(d, sortedKeys(p.producer))))
				continue
			}
			sel[prod] = true
		}
		intersect(p.upstream(sel))
	}
	if len(f.Namespaces) > 0 {
		sel := map[*Node]bool{}
		for _, ns := range f.Namespaces {
			found := false
			for _, n := range p.nodes {
				if n.namespace == ns || strings.HasPrefix(n.namespace, ns+".") {
					sel[n] = true
					found = true
				}
			}
			if !found {
				errs = append(errs, fmt.Errorf("--namespaces: no node is in namespace %q%s", ns, config.DidYouMean(ns, p.namespaces())))
			}
		}
		intersect(sel)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []*Node
	for _, n := range p.nodes {
		if keep[n] {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("pipeline contains no nodes after applying all provided filters")
	}
	return New(out...), nil
}

// only resolves node names, suggesting the namespaced form or the nearest
// name for an unknown one.
func (p *Pipeline) only(names []string) (map[*Node]bool, error) {
	sel := map[*Node]bool{}
	var errs []error
	for _, name := range names {
		if n, ok := p.byName[name]; ok {
			sel[n] = true
			continue
		}
		var nsMatches []string
		for _, n := range p.nodes {
			if n.name == name {
				nsMatches = append(nsMatches, n.Name())
			}
		}
		if len(nsMatches) > 0 {
			errs = append(errs, fmt.Errorf("unknown node %q (did you mean %s? node names include their namespace)", name, strings.Join(quoteAll(nsMatches), " or ")))
			continue
		}
		errs = append(errs, fmt.Errorf("unknown node %q%s", name, config.DidYouMean(name, p.NodeNames())))
	}
	return sel, errors.Join(errs...)
}

func (p *Pipeline) namespaces() []string {
	seen := map[string]bool{}
	for _, n := range p.nodes {
		if n.namespace != "" {
			seen[n.namespace] = true
		}
	}
	return sortedKeys(seen)
}

// downstream is sel plus every node that transitively reads their outputs.
func (p *Pipeline) downstream(sel map[*Node]bool) map[*Node]bool {
	return closure(sel, func(n *Node) []*Node {
		var next []*Node
		for _, o := range n.outputs {
			next = append(next, p.consumers[o.name]...)
		}
		return next
	})
}

// upstream is sel plus every node that transitively produces their inputs.
func (p *Pipeline) upstream(sel map[*Node]bool) map[*Node]bool {
	return closure(sel, func(n *Node) []*Node {
		var next []*Node
		for _, in := range n.inputs {
			if prod, ok := p.producer[in.name]; ok {
				next = append(next, prod)
			}
		}
		return next
	})
}

// closure is sel plus every node reachable from it through next.
func closure(sel map[*Node]bool, next func(*Node) []*Node) map[*Node]bool {
	out := map[*Node]bool{}
	stack := make([]*Node, 0, len(sel))
	for n := range sel {
		stack = append(stack, n)
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if out[n] {
			continue
		}
		out[n] = true
		stack = append(stack, next(n)...)
	}
	return out
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}
