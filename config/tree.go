package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is where a configuration value was set: a file position, or a
// pseudo-file such as "--params" for values given on the command line.
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the position as file:line:column, leaving out zero parts.
func (p Pos) String() string {
	switch {
	case p.File == "":
		return "<unknown>"
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Tree is one resolved kind of configuration (parameters, catalog or
// globals): nested values as decoded from YAML (map[string]any, []any,
// string, int64, float64, bool, nil) and, for every dotted key path, the
// position that set it.
type Tree struct {
	Values  map[string]any
	Sources map[string]Pos
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	return &Tree{Values: map[string]any{}, Sources: map[string]Pos{}}
}

// Get returns the value at a dotted key path ("" is the whole tree).
func (t *Tree) Get(path string) (any, bool) {
	if t == nil {
		return nil, false
	}
	var cur any = t.Values
	if path == "" {
		return cur, true
	}
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[part]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// Source returns where the value at path was set, falling back to the
// nearest ancestor whose position is known.
func (t *Tree) Source(path string) Pos {
	if t == nil {
		return Pos{}
	}
	for p := path; p != ""; {
		if pos, ok := t.Sources[p]; ok {
			return pos
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return Pos{}
}

// Leaves lists the dotted paths of every non-mapping value below path,
// sorted. An empty mapping counts as a leaf.
func (t *Tree) Leaves(path string) []string {
	v, ok := t.Get(path)
	if !ok {
		return nil
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			out = append(out, prefix)
			return
		}
		for k, sub := range m {
			walk(joinPath(prefix, k), sub)
		}
	}
	walk(path, v)
	sort.Strings(out)
	return out
}

// Keys lists the top-level keys, sorted.
func (t *Tree) Keys() []string {
	if t == nil {
		return nil
	}
	keys := make([]string, 0, len(t.Values))
	for k := range t.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Set stores v at a dotted path, creating intermediate mappings (and
// replacing non-mapping values in the way), and records pos for it and
// for every key inside v that has no position of its own.
func (t *Tree) Set(path string, v any, pos Pos) {
	parts := strings.Split(path, ".")
	m := t.Values
	for i, part := range parts[:len(parts)-1] {
		next, ok := m[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[part] = next
			t.Sources[strings.Join(parts[:i+1], ".")] = pos
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
	t.dropSources(path)
	t.Sources[path] = pos
}

// dropSources forgets the positions of keys strictly below path.
func (t *Tree) dropSources(path string) {
	prefix := path + "."
	for k := range t.Sources {
		if strings.HasPrefix(k, prefix) {
			delete(t.Sources, k)
		}
	}
}

// Clone returns a deep copy.
func (t *Tree) Clone() *Tree {
	c := &Tree{Values: deepCopy(t.Values).(map[string]any), Sources: make(map[string]Pos, len(t.Sources))}
	for k, v := range t.Sources {
		c.Sources[k] = v
	}
	return c
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
