package config

import (
	"fmt"
	"math"

	"github.com/goccy/go-yaml/ast"
)

// astValues converts a parsed document into plain values with YAML
// merge-key semantics: keys written in a mapping always win over keys
// pulled in by "<<", wherever the "<<" stands, and among several merged
// mappings the first wins. (go-yaml v1.19.2 lets a "<<" written after a
// key override it; see reference/go_dependencies.md.)
type astValues struct {
	anchors map[string]any
}

func (c *astValues) value(n ast.Node) (any, error) {
	switch n := n.(type) {
	case nil:
		return nil, nil
	case *ast.DocumentNode:
		return c.value(n.Body)
	case *ast.AnchorNode:
		v, err := c.value(n.Value)
		if err != nil {
			return nil, err
		}
		if n.Name != nil {
			c.anchors[n.Name.GetToken().Value] = v
		}
		return v, nil
	case *ast.AliasNode:
		name := ""
		if n.Value != nil {
			name = n.Value.GetToken().Value
		}
		v, ok := c.anchors[name]
		if !ok {
			return nil, fmt.Errorf("unknown alias %q", name)
		}
		return deepCopy(v), nil
	case *ast.TagNode:
		return c.value(n.Value)
	case *ast.MappingNode:
		return c.mapping(n.Values)
	case *ast.MappingValueNode:
		return c.mapping([]*ast.MappingValueNode{n})
	case *ast.SequenceNode:
		out := make([]any, 0, len(n.Values))
		for _, x := range n.Values {
			v, err := c.value(x)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *ast.InfinityNode:
		return normalize(n.GetValue()), nil
	case *ast.NanNode:
		return math.NaN(), nil
	case ast.ScalarNode:
		return normalize(n.GetValue()), nil
	}
	return nil, fmt.Errorf("unsupported YAML node %s", n.Type())
}

func (c *astValues) mapping(entries []*ast.MappingValueNode) (any, error) {
	out := map[string]any{}
	var merged []map[string]any
	for _, mv := range entries {
		key := keyString(mv.Key)
		v, err := c.value(mv.Value)
		if err != nil {
			return nil, err
		}
		if key != "<<" {
			if _, dup := out[key]; dup {
				// Two spellings of one key ("~" and "null"): the
				// decoder would silently keep the last.
				return nil, &duplicateKeyError{key: key, at: mv.Key}
			}
			out[key] = v
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			merged = append(merged, v)
		case []any:
			for _, x := range v {
				m, ok := x.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("merge key list must hold mappings")
				}
				merged = append(merged, m)
			}
		default:
			return nil, fmt.Errorf("merge key value must be a mapping")
		}
	}
	for _, m := range merged {
		for k, v := range m {
			if _, set := out[k]; !set {
				out[k] = v
			}
		}
	}
	return out, nil
}

// duplicateKeyError is a key written twice in one mapping under two
// spellings the decoder does not tell apart.
type duplicateKeyError struct {
	key string
	at  ast.Node
}

func (e *duplicateKeyError) Error() string {
	return fmt.Sprintf("mapping key %q already defined", e.key)
}
