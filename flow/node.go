package flow

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"mmc/catalog"
)

// port is a node's view of one dataset: its (possibly renamed) name and
// the Go type the node reads or writes.
type port struct {
	name string
	typ  reflect.Type
}

func (p port) Name() string       { return p.name }
func (p port) Type() reflect.Type { return p.typ }

// Node is one step of a pipeline: a function, the datasets it reads and
// writes, a unique name, tags and an optional namespace. Nodes are
// immutable; Tagged and the pipeline namespace functions return copies.
type Node struct {
	name      string // short name, without namespace
	namespace string
	tags      []string
	inputs    []port
	outputs   []port
	funcName  string
	source    string  // file:line of the function
	fnPtr     uintptr // code pointer of the function, for node equality
	version   string  // declared code version for the cache ("" = the binary's build)
	call      func(ctx context.Context, in []any) ([]any, error)
	err       error // construction problem, reported by pipeline validation
}

// validTag is a valid name, or key:value of two (resource tags such as
// cpu:2 and memory:16Gi, read by the exports).
func validTag(s string) bool {
	if k, v, ok := strings.Cut(s, ":"); ok {
		return validName(k) && validName(v)
	}
	return validName(s)
}

// validName reports whether s matches Kedro's `[\w.-]+` (ASCII letters,
// digits, '_', '.', '-'); a loop, as it runs for every node built.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func newNode(name string, fn any, ins, outs []catalog.Ref, call func(context.Context, []any) ([]any, error)) *Node {
	n := &Node{name: name, call: call}
	n.funcName, n.source = describeFunc(fn)
	if v := reflect.ValueOf(fn); v.Kind() == reflect.Func && !v.IsNil() {
		n.fnPtr = v.Pointer()
	}
	for _, r := range ins {
		n.inputs = append(n.inputs, port{r.Name(), r.Type()})
	}
	for _, r := range outs {
		n.outputs = append(n.outputs, port{r.Name(), r.Type()})
	}
	n.err = n.check()
	return n
}

// check reports what Kedro rejects when a node is defined.
func (n *Node) check() error {
	switch {
	case n.name == "":
		return fmt.Errorf("node of function %s has no name", n.funcName)
	case !validName(n.name):
		return fmt.Errorf("node name %q may only contain letters, digits, '_', '.', '-'", n.name)
	case len(n.inputs) == 0 && len(n.outputs) == 0:
		return fmt.Errorf("node %q has neither inputs nor outputs", n.name)
	}
	// Nodes have a handful of ports: pairwise scans beat a map.
	for k, o := range n.outputs {
		if o.name == "" {
			return fmt.Errorf("node %q has an output with an empty name", n.name)
		}
		for _, prev := range n.outputs[:k] {
			if prev.name == o.name {
				return fmt.Errorf("node %q writes output %q twice", n.name, o.name)
			}
		}
		if _, isParam := catalog.IsParam(o.name); isParam {
			return fmt.Errorf("node %q writes parameters %q; parameters are read-only", n.name, o.name)
		}
	}
	for _, i := range n.inputs {
		if i.name == "" {
			return fmt.Errorf("node %q has an input with an empty name", n.name)
		}
		for _, o := range n.outputs {
			if o.name == i.name {
				return fmt.Errorf("node %q reads %q, which is also its own output", n.name, i.name)
			}
		}
	}
	for _, t := range n.tags {
		if !validTag(t) {
			return fmt.Errorf("node %q: tag %q may only contain letters, digits, '_', '.', '-' (and one ':' in a key:value tag such as memory:16Gi)", n.name, t)
		}
	}
	return nil
}

// funcInfo caches name and source per function pointer: generated
// pipelines reuse a few functions for thousands of nodes.
var funcInfo sync.Map // uintptr → [2]string{name, source}

func describeFunc(fn any) (name, source string) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return fmt.Sprintf("%T", fn), ""
	}
	pc := v.Pointer()
	if info, ok := funcInfo.Load(pc); ok {
		i := info.([2]string)
		return i[0], i[1]
	}
	name = "func"
	if f := runtime.FuncForPC(pc); f != nil {
		name = f.Name()
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		file, line := f.FileLine(pc)
		source = file + ":" + strconv.Itoa(line)
	}
	funcInfo.Store(pc, [2]string{name, source})
	return name, source
}

// as converts a loaded value to T, mapping a nil interface to T's zero.
func as[T any](v any) T {
	if v == nil {
		var zero T
		return zero
	}
	return v.(T)
}

// Name is the full name: namespace + "." + short name when namespaced.
func (n *Node) Name() string {
	if n.namespace == "" {
		return n.name
	}
	return n.namespace + "." + n.name
}

// ShortName is the name without namespace.
func (n *Node) ShortName() string { return n.name }

// Namespace is the node's namespace ("" when none).
func (n *Node) Namespace() string { return n.namespace }

// Tags are the node's tags, sorted.
func (n *Node) Tags() []string { return slices.Clone(n.tags) }

// Func is the package-qualified name of the node function.
func (n *Node) Func() string { return n.funcName }

// Source is the file:line where the node function is defined.
func (n *Node) Source() string { return n.source }

// Inputs are the datasets the node reads, in argument order.
func (n *Node) Inputs() []catalog.Ref { return refs(n.inputs) }

// Outputs are the datasets the node writes, in result order.
func (n *Node) Outputs() []catalog.Ref { return refs(n.outputs) }

// InputNames are the names of Inputs.
func (n *Node) InputNames() []string { return names(n.inputs) }

// OutputNames are the names of Outputs.
func (n *Node) OutputNames() []string { return names(n.outputs) }

// Err is the problem found when the node was made, if any.
func (n *Node) Err() error { return n.err }

func refs(ps []port) []catalog.Ref {
	out := make([]catalog.Ref, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

func names(ps []port) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name
	}
	return out
}

// Equal reports whether two nodes are the same step: the same full name,
// function, inputs and outputs (names and Go types, in order). Tags do
// not count (as in Kedro, whose node identity is name, inputs, outputs):
// a node built twice, for two pipelines that are then summed, is one node.
func (n *Node) Equal(o *Node) bool {
	return n == o || n.name == o.name && n.namespace == o.namespace && n.fnPtr == o.fnPtr && n.funcName == o.funcName &&
		slices.Equal(n.inputs, o.inputs) && slices.Equal(n.outputs, o.outputs)
}

// wiring describes the node's function and datasets for error messages:
// "pkg.F(a, b → c)".
func (n *Node) wiring() string {
	return fmt.Sprintf("%s(%s → %s)", n.funcName, strings.Join(names(n.inputs), ", "), strings.Join(names(n.outputs), ", "))
}

// Tagged returns a copy of the node with tags added.
func (n *Node) Tagged(tags ...string) *Node {
	c := *n
	c.tags = slices.Clone(n.tags)
	for _, t := range tags {
		if !slices.Contains(c.tags, t) {
			c.tags = append(c.tags, t)
		}
	}
	slices.Sort(c.tags)
	if c.err == nil {
		c.err = c.check()
	}
	return &c
}

// Versioned returns a copy of the node that declares its code version:
// the cache then compares this string instead of the binary's build, so
// rebuilding the program does not re-run the node; change the string when
// the function's behaviour changes.
func (n *Node) Versioned(v string) *Node {
	c := *n
	c.version = v
	return &c
}

// Version is the code version the node declares ("" when none).
func (n *Node) Version() string { return n.version }

// Call runs the node function on loaded inputs, turning a panic into an
// error so a failing node cannot take the runner down.
func (n *Node) Call(ctx context.Context, in []any) (out []any, err error) {
	defer func() {
		if r := recover(); r != nil {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			err = &PanicError{Node: n.Name(), Value: r, Stack: string(buf)}
		}
	}()
	if len(in) != len(n.inputs) {
		return nil, fmt.Errorf("node %q: got %d inputs, want %d", n.Name(), len(in), len(n.inputs))
	}
	out, err = n.call(ctx, in)
	if err != nil {
		return nil, err
	}
	if len(out) != len(n.outputs) {
		return nil, fmt.Errorf("node %q: function returned %d values, want %d", n.Name(), len(out), len(n.outputs))
	}
	return out, nil
}

// PanicError is a node function's panic, caught by the runner.
type PanicError struct {
	Node  string
	Value any
	Stack string
}

// Error names the node and the panic value; Stack holds the trace.
func (e *PanicError) Error() string { return fmt.Sprintf("node %q panicked: %v", e.Node, e.Value) }

var (
	ctxType = reflect.TypeFor[context.Context]()
	errType = reflect.TypeFor[error]()
)

// Func makes a node from any function of the form
// func(context.Context, A, B, ...) (X, Y, ..., error), wired to refs by
// name. The function's shape and the refs' types are checked when the
// node is made; a mismatch is reported by pipeline validation. Prefer
// the typed constructors (Node1, Node2x2, ...), which the compiler checks.
func Func(name string, fn any, inputs, outputs []catalog.Ref) *Node {
	v := reflect.ValueOf(fn)
	n := newNode(name, fn, inputs, outputs, nil)
	if n.err != nil {
		return n
	}
	if v.Kind() != reflect.Func {
		n.err = fmt.Errorf("node %q: %T is not a function", name, fn)
		return n
	}
	t := v.Type()
	if t.IsVariadic() || t.NumIn() != len(inputs)+1 || t.In(0) != ctxType {
		n.err = fmt.Errorf("node %q: function %s must take a context.Context and %d inputs", name, t, len(inputs))
		return n
	}
	if t.NumOut() != len(outputs)+1 || t.Out(t.NumOut()-1) != errType {
		n.err = fmt.Errorf("node %q: function %s must return %d outputs and an error", name, t, len(outputs))
		return n
	}
	for i, r := range inputs {
		if !r.Type().AssignableTo(t.In(i + 1)) {
			n.err = fmt.Errorf("node %q: input %q is %v, but the function's argument %d is %v", name, r.Name(), r.Type(), i+1, t.In(i+1))
			return n
		}
	}
	for i, r := range outputs {
		if !t.Out(i).AssignableTo(r.Type()) {
			n.err = fmt.Errorf("node %q: output %q is %v, but the function returns %v", name, r.Name(), r.Type(), t.Out(i))
			return n
		}
	}
	n.call = func(ctx context.Context, in []any) ([]any, error) {
		args := make([]reflect.Value, len(in)+1)
		args[0] = reflect.ValueOf(ctx)
		for i, x := range in {
			if x == nil {
				args[i+1] = reflect.Zero(t.In(i + 1))
			} else {
				args[i+1] = reflect.ValueOf(x)
			}
		}
		res := v.Call(args)
		if e := res[len(res)-1]; !e.IsNil() {
			return nil, e.Interface().(error)
		}
		out := make([]any, len(res)-1)
		for i := range out {
			out[i] = res[i].Interface()
		}
		return out, nil
	}
	return n
}
