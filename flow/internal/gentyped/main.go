// Command gentyped writes flow/typed_gen.go: the typed node constructors
// (Node1, Node2x2, Sink1, ...) and, for the shapes listed in wired, their
// named form (Wire4(name, fn).Reads(...).Writes(...)). Each constructor
// is the same few lines with a different number of type parameters,
// which Go generics cannot express once; generating them keeps the
// family uniform. Run it with `go generate ./flow`.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
	"strings"
)

// maxIn and maxOut bound the positional constructors.
const maxIn, maxOut = 5, 3

// wired lists the shapes {inputs, outputs} that get the named form: the
// ones whose positional argument list is long enough to misread. Add a
// shape here and run go generate when a pipeline needs another.
var wired = [][2]int{{2, 2}, {3, 1}, {3, 2}, {4, 1}}

func main() {
	out := "typed_gen.go"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	src, err := generate()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(out+".tmp", src, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		log.Fatal(err)
	}
}

// shape names one arity of node function.
type shape struct{ in, out int }

var (
	inVars  = []string{"A", "B", "C", "D", "E"}
	outVars = []string{"O1", "O2", "O3"}
	words   = []string{"no", "one", "two", "three", "four", "five"}
)

func (s shape) name() string {
	switch {
	case s.out == 0:
		return fmt.Sprintf("Sink%d", s.in)
	case s.out == 1:
		return fmt.Sprintf("Node%d", s.in)
	}
	return fmt.Sprintf("Node%dx%d", s.in, s.out)
}

// suffix is the shape part of the name: "4", "3x2", "0x2".
func (s shape) suffix() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.name(), "Node"), "Sink")
}

func (s shape) outs() []string {
	if s.out == 1 {
		return []string{"O"}
	}
	return outVars[:s.out]
}

// typeParams is "A, B, O any".
func (s shape) typeParams() string {
	return strings.Join(append(append([]string{}, inVars[:s.in]...), s.outs()...), ", ") + " any"
}

// typeArgs is "A, B, O".
func (s shape) typeArgs() string {
	return strings.Join(append(append([]string{}, inVars[:s.in]...), s.outs()...), ", ")
}

// fnType is "func(ctx context.Context, a A, b B) (O, error)".
func (s shape) fnType() string {
	args := []string{"ctx context.Context"}
	for _, v := range inVars[:s.in] {
		args = append(args, strings.ToLower(v)+" "+v)
	}
	res := "error"
	if s.out > 0 {
		res = "(" + strings.Join(append(append([]string{}, s.outs()...), "error"), ", ") + ")"
	}
	return fmt.Sprintf("func(%s) %s", strings.Join(args, ", "), res)
}

func (s shape) inParams() []string {
	var p []string
	for _, v := range inVars[:s.in] {
		p = append(p, fmt.Sprintf("in%s catalog.Handle[%s]", v, v))
	}
	return p
}

func (s shape) outParams() []string {
	var p []string
	for _, v := range s.outs() {
		p = append(p, fmt.Sprintf("out%s catalog.Handle[%s]", v, v))
	}
	return p
}

func (s shape) inNames() []string {
	var p []string
	for _, v := range inVars[:s.in] {
		p = append(p, "in"+v)
	}
	return p
}

func (s shape) outNames() []string {
	var p []string
	for _, v := range s.outs() {
		p = append(p, "out"+v)
	}
	return p
}

func plural(n int, what string) string {
	if n == 1 {
		return words[n] + " " + what
	}
	return words[n] + " " + what + "s"
}

func (s shape) positional(b *bytes.Buffer) {
	fmt.Fprintf(b, "// %s makes a node from a function with %s and %s.\n", s.name(), plural(s.in, "input"), plural(s.out, "output"))
	params := append([]string{"name string", "fn " + s.fnType()}, append(s.inParams(), s.outParams()...)...)
	fmt.Fprintf(b, "func %s[%s](%s) *Node {\n", s.name(), s.typeParams(), strings.Join(params, ", "))
	fmt.Fprintf(b, "\treturn newNode(name, fn, []catalog.Ref{%s}, []catalog.Ref{%s}, func(ctx context.Context, in []any) ([]any, error) {\n",
		strings.Join(s.inNames(), ", "), strings.Join(s.outNames(), ", "))
	args := []string{"ctx"}
	for i, v := range inVars[:s.in] {
		args = append(args, fmt.Sprintf("as[%s](in[%d])", v, i))
	}
	call := fmt.Sprintf("fn(%s)", strings.Join(args, ", "))
	if s.out == 0 {
		fmt.Fprintf(b, "\t\treturn nil, %s\n", call)
	} else {
		var rs []string
		for i := range s.out {
			rs = append(rs, fmt.Sprintf("r%d", i))
		}
		fmt.Fprintf(b, "\t\t%s, err := %s\n", strings.Join(rs, ", "), call)
		fmt.Fprintf(b, "\t\treturn []any{%s}, err\n", strings.Join(rs, ", "))
	}
	b.WriteString("\t})\n}\n\n")
}

func (s shape) named(b *bytes.Buffer) {
	w, r := "Wiring"+s.suffix(), "Reading"+s.suffix()
	ta := s.typeArgs()
	fmt.Fprintf(b, "// Wire%s is %s with its datasets named by role:\n//\n//\tWire%s(name, fn).Reads(%s).Writes(%s)\n",
		s.suffix(), s.name(), s.suffix(), strings.Join(s.inNames(), ", "), strings.Join(s.outNames(), ", "))
	fmt.Fprintf(b, "func Wire%s[%s](name string, fn %s) %s[%s] {\n\treturn %s[%s]{name: name, fn: fn}\n}\n\n", s.suffix(), s.typeParams(), s.fnType(), w, ta, w, ta)
	fmt.Fprintf(b, "// %s is a %s awaiting the datasets it reads.\ntype %s[%s] struct {\n\tname string\n\tfn   %s\n}\n\n", w, s.name(), w, s.typeParams(), s.fnType())
	fmt.Fprintf(b, "// Reads names the datasets the function reads, in argument order.\nfunc (w %s[%s]) Reads(%s) %s[%s] {\n\treturn %s[%s]{w: w, %s}\n}\n\n",
		w, ta, strings.Join(s.inParams(), ", "), r, ta, r, ta, strings.Join(keyed(s.inNames()), ", "))
	fmt.Fprintf(b, "// %s is a %s awaiting the datasets it writes.\ntype %s[%s] struct {\n\tw %s[%s]\n", r, s.name(), r, s.typeParams(), w, ta)
	for _, p := range s.inParams() {
		fmt.Fprintf(b, "\t%s\n", p)
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(b, "// Writes names the datasets the function's results go to, in result order, and makes the node.\nfunc (r %s[%s]) Writes(%s) *Node {\n", r, ta, strings.Join(s.outParams(), ", "))
	args := []string{"r.w.name", "r.w.fn"}
	for _, n := range s.inNames() {
		args = append(args, "r."+n)
	}
	args = append(args, s.outNames()...)
	fmt.Fprintf(b, "\treturn %s(%s)\n}\n\n", s.name(), strings.Join(args, ", "))
}

// keyed turns names into "x: x" composite-literal fields.
func keyed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + ": " + n
	}
	return out
}

func generate() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by gentyped (go generate ./flow); DO NOT EDIT.\n\npackage flow\n\nimport (\n\t\"context\"\n\n\t\"mmc/catalog\"\n)\n\n")
	for in := 0; in <= maxIn; in++ {
		for out := 0; out <= maxOut; out++ {
			if in == 0 && out == 0 {
				continue
			}
			shape{in, out}.positional(&b)
		}
	}
	for _, s := range wired {
		shape{s[0], s[1]}.named(&b)
	}
	return format.Source(b.Bytes())
}
