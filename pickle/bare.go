package pickle

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// maxBareDepth bounds the walk for bare globals; the decoder's own limits
// keep real nesting far below it.
const maxBareDepth = 1 << 10

// GlobalName reports whether v is a bare global — a class or function
// that GLOBAL or STACK_GLOBAL pushed and nothing called — and names it
// "module.name".
func GlobalName(v any) (string, bool) {
	switch v.(type) {
	case *Dtype: // a dtype is data that names itself, not a global
		return "", false
	case *Class, Callable, Newer, Named:
		return globalName(v), true
	}
	return "", false
}

// checkNoBareGlobals fails if a bare global is part of the decoded value.
// Allowlisted globals are there to build data; one left over as a value
// (a function or class where a tensor or number should be) is inert
// here but would be live in Python's pickle, so strict decoding refuses
// the pickle instead of passing a reference on. Values shared through
// the memo are visited once.
func checkNoBareGlobals(v any) error {
	w := bareWalk{seen: map[any]bool{}}
	steps, name, err := w.find(v, 0)
	if err != nil {
		return err
	}
	if name == "" {
		return nil
	}
	slices.Reverse(steps)
	path := strings.Join(steps, "")
	if path == "" {
		path = "the top level"
	}
	return fmt.Errorf("pickle: %w: global %s is a value at %s, never called (a pickle of data holds no functions or classes; Options.Lenient keeps it as inert data)",
		ErrUnsupported, name, path)
}

type bareWalk struct{ seen map[any]bool }

// once reports whether the container at p (a pointer, or a slice's
// backing array and length) is seen for the first time.
func (w *bareWalk) once(p any) bool {
	if w.seen[p] {
		return false
	}
	w.seen[p] = true
	return true
}

type sliceID struct {
	p uintptr
	n int
}

// find returns the name of the first bare global under v and the path
// to it, innermost step first (built only when one is found).
func (w *bareWalk) find(v any, depth int) ([]string, string, error) {
	if name, ok := GlobalName(v); ok {
		return nil, name, nil
	}
	if depth > maxBareDepth {
		return nil, "", fmt.Errorf("pickle: value nested deeper than %d", maxBareDepth)
	}
	items := func(xs []any, open, close string) ([]string, string, error) {
		if len(xs) == 0 || !w.once(sliceID{reflect.ValueOf(xs).Pointer(), len(xs)}) {
			return nil, "", nil
		}
		for i, x := range xs {
			if p, n, err := w.find(x, depth+1); n != "" || err != nil {
				return append(p, open+strconv.Itoa(i)+close), n, err
			}
		}
		return nil, "", nil
	}
	switch x := v.(type) {
	case Tuple:
		return items(x, "[", "]")
	case *List:
		if x == nil || !w.once(x) {
			return nil, "", nil
		}
		return items(x.Items, "[", "]")
	case *Set:
		if x == nil || !w.once(x) {
			return nil, "", nil
		}
		return items(x.Items, "{item ", "}")
	case *Dict:
		if x == nil || !w.once(x) {
			return nil, "", nil
		}
		for i, k := range x.keys {
			if p, n, err := w.find(k, depth+1); n != "" || err != nil {
				return append(p, "{key "+Repr(k)+"}"), n, err
			}
			if p, n, err := w.find(x.values[i], depth+1); n != "" || err != nil {
				return append(p, "["+Repr(k)+"]"), n, err
			}
		}
		if x.Attrs != nil {
			p, n, err := w.find(x.Attrs, depth+1)
			if n != "" || err != nil {
				return append(p, ".__dict__"), n, err
			}
		}
		// *Object: only lenient decoding makes objects, and it keeps
		// globals, so there is nothing to look for.
	}
	return nil, "", nil
}
