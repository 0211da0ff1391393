package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// ParseError is a YAML or JSON file that could not be read, with the
// position of the offending token.
type ParseError struct {
	Pos     Pos
	Message string
	Detail  string // source excerpt with a caret, when the parser gave one
}

// Error formats the problem as file:line:column: invalid YAML: message.
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: invalid YAML: %s", e.Pos, e.Message)
}

// ParseFile parses one configuration document into nested values and
// the position of every dotted key path. A document that is empty or
// null yields an empty mapping; one whose top level is not a mapping is
// an error.
func ParseFile(name string, data []byte) (*Tree, error) {
	var raw any
	// Values come from the decoder (anchors, aliases and merge keys
	// resolved by the library); positions come from the AST below.
	if err := yaml.UnmarshalWithOptions(data, &raw); err != nil {
		return nil, yamlError(name, err)
	}
	t := NewTree()
	if raw == nil {
		return t, nil
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(name, err)
	}
	// Rebuild the values from the AST for spec-conformant merge keys;
	// keep the decoder's values if the AST holds something unexpected.
	if len(file.Docs) == 1 {
		conv := &astValues{anchors: map[string]any{}}
		v, err := conv.value(file.Docs[0])
		var dup *duplicateKeyError
		if errors.As(err, &dup) {
			pe := &ParseError{Pos: Pos{File: name}, Message: dup.Error()}
			if tk := dup.at.GetToken(); tk != nil && tk.Position != nil {
				pe.Pos.Line, pe.Pos.Col = tk.Position.Line, tk.Position.Column
			}
			return nil, pe
		}
		if err == nil && v != nil {
			raw = v
		}
	}
	top, ok := normalize(raw).(map[string]any)
	if !ok {
		return nil, &ParseError{Pos: Pos{File: name, Line: 1, Col: 1}, Message: "top level must be a mapping of keys"}
	}
	t.Values = top
	for _, doc := range file.Docs {
		if doc.Body != nil {
			recordPositions(name, "", doc.Body, t.Sources)
		}
	}
	return t, nil
}

// yamlError turns a go-yaml error into a ParseError at file:line:column.
func yamlError(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		pe := &ParseError{Pos: Pos{File: name}, Message: ye.GetMessage(), Detail: ye.FormatError(false, true)}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pe.Pos.Line, pe.Pos.Col = tk.Position.Line, tk.Position.Column
		}
		return pe
	}
	return &ParseError{Pos: Pos{File: name}, Message: err.Error()}
}

// recordPositions walks the AST and stores where each key was written.
// Keys reached only through an alias or merge key keep the position of
// the key that pulled them in (their parent).
func recordPositions(file, prefix string, n ast.Node, out map[string]Pos) {
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			recordPositions(file, prefix, mv, out)
		}
	case *ast.MappingValueNode:
		key := keyString(n.Key)
		if key == "<<" {
			return
		}
		path := joinPath(prefix, key)
		if tk := n.Key.GetToken(); tk != nil && tk.Position != nil {
			out[path] = Pos{File: file, Line: tk.Position.Line, Col: tk.Position.Column}
		}
		if n.Value != nil {
			recordPositions(file, path, n.Value, out)
		}
	case *ast.AnchorNode:
		if n.Value != nil {
			recordPositions(file, prefix, n.Value, out)
		}
	case *ast.TagNode:
		if n.Value != nil {
			recordPositions(file, prefix, n.Value, out)
		}
	}
}

func keyString(k ast.MapKeyNode) string {
	if k == nil {
		return ""
	}
	if _, ok := k.(*ast.MergeKeyNode); ok {
		return "<<"
	}
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		// An explicit "? key" entry.
		if inner, ok := mk.Value.(ast.MapKeyNode); ok {
			return keyString(inner)
		}
		if mk.Value == nil {
			return "null"
		}
	}
	if tn, ok := k.(*ast.TagNode); ok {
		// "!!null : x" or "!!str 1: x": the key is the tagged value.
		if inner, ok := tn.Value.(ast.MapKeyNode); ok {
			return keyString(inner)
		}
	}
	if _, ok := k.(*ast.NullNode); ok {
		// "~", "null", "Null" and "NULL" are all YAML's null key, which
		// the decoder spells "null"; the token text would give "~".
		return "null"
	}
	if s, ok := k.(ast.ScalarNode); ok {
		if v := s.GetValue(); v != nil {
			return fmt.Sprint(v)
		}
	}
	if tk := k.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// normalize maps the decoder's value types onto the small set the rest of
// the package handles: map[string]any, []any, string, int64, float64,
// bool and nil.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = normalize(x)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = normalize(x)
		}
		return v
	case uint64:
		if v > math.MaxInt64 {
			return float64(v)
		}
		return int64(v)
	case uint:
		return int64(v)
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case float32:
		return float64(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

// isHidden reports whether a top-level key is a Kedro-style private key.
func isHidden(key string) bool { return strings.HasPrefix(key, "_") }
