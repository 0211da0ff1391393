package config

import (
	"fmt"
	"strconv"
	"strings"
)

// resolver replaces ${...} interpolations in one tree.
type resolver struct {
	kind    Kind
	tree    *Tree
	globals *Tree
	runtime map[string]any
	// usedBy records, per top-level key, the runtime keys its value read
	// through ${runtime_params:...} (nil: not recorded).
	usedBy map[string]map[string]bool
	top    string
	depth  int
}

func (r *resolver) resolveTree() error {
	for _, k := range r.tree.Keys() {
		r.top = k
		v, err := r.resolveValue(k, r.tree.Values[k])
		if err != nil {
			return err
		}
		r.tree.Values[k] = v
	}
	return nil
}

func (r *resolver) resolveValue(path string, v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			x, err := r.resolveValue(path+"."+k, v[k])
			if err != nil {
				return nil, err
			}
			v[k] = x
		}
		return v, nil
	case []any:
		for i, x := range v {
			y, err := r.resolveValue(fmt.Sprintf("%s.%d", path, i), x)
			if err != nil {
				return nil, err
			}
			v[i] = y
		}
		return v, nil
	case string:
		if !strings.Contains(v, "${") {
			return v, nil
		}
		out, err := r.interpolate(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s key %q: %w", r.tree.Source(path), r.kind, path, err)
		}
		return out, nil
	}
	return v, nil
}

// interpolate expands every ${...} in s. When s is exactly one
// interpolation the value keeps its type (an int stays an int).
func (r *resolver) interpolate(s string) (any, error) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > 32 {
		return nil, fmt.Errorf("interpolation nested too deeply (a reference cycle?) at %q", s)
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		j += i
		end, err := matchBrace(s, j+2)
		if err != nil {
			return nil, err
		}
		v, err := r.expand(s[j+2 : end])
		if err != nil {
			return nil, err
		}
		if j == 0 && end == len(s)-1 {
			return v, nil
		}
		b.WriteString(s[i:j])
		b.WriteString(scalarString(v))
		i = end + 1
	}
	return b.String(), nil
}

// matchBrace returns the index of the "}" closing an interpolation whose
// body starts at from, allowing nested ${...}.
func matchBrace(s string, from int) (int, error) {
	depth := 1
	for i := from; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unterminated interpolation in %q", s)
}

// splitTop splits body at the first comma outside nested ${...}.
func splitTop(body string) (string, string, bool) {
	depth := 0
	for i := 0; i < len(body); i++ {
		switch {
		case body[i] == '$' && i+1 < len(body) && body[i+1] == '{':
			depth++
			i++
		case body[i] == '}':
			depth--
		case body[i] == ',' && depth == 0:
			return body[:i], body[i+1:], true
		}
	}
	return body, "", false
}

func (r *resolver) expand(body string) (any, error) {
	source, rest := "", body
	if i := strings.IndexByte(body, ':'); i >= 0 && !strings.Contains(body[:i], "${") {
		source, rest = strings.TrimSpace(body[:i]), body[i+1:]
	}
	key, def, hasDef := splitTop(rest)
	key = strings.TrimSpace(key)
	var defVal any
	if hasDef {
		d := strings.TrimSpace(def)
		if strings.Contains(d, "${") {
			v, err := r.interpolate(d)
			if err != nil {
				return nil, err
			}
			defVal = v
		} else {
			defVal = ParseScalar(d)
		}
	}
	switch source {
	case "globals":
		if v, ok := r.globals.Get(key); ok {
			return r.resolveNested(deepCopy(v))
		}
		if hasDef {
			return defVal, nil
		}
		return nil, fmt.Errorf("${globals:%s}: no such key in globals%s", key, DidYouMean(key, r.globals.Leaves("")))
	case "runtime_params":
		if r.kind == Globals {
			return nil, fmt.Errorf("${runtime_params:%s} is not allowed in globals", key)
		}
		if r.usedBy != nil {
			if r.usedBy[r.top] == nil {
				r.usedBy[r.top] = map[string]bool{}
			}
			r.usedBy[r.top][key] = true
		}
		if v, ok := r.runtime[key]; ok {
			return deepCopy(v), nil
		}
		if hasDef {
			return defVal, nil
		}
		return nil, fmt.Errorf("${runtime_params:%s}: not given with --params and no default", key)
	case "":
		if v, ok := r.tree.Get(key); ok {
			return r.resolveNested(deepCopy(v))
		}
		if hasDef {
			return defVal, nil
		}
		return nil, fmt.Errorf("${%s}: no such %s key%s", key, r.kind, DidYouMean(key, r.tree.Leaves("")))
	}
	return nil, fmt.Errorf("unsupported interpolation %q (use globals: or runtime_params:)", "${"+body+"}")
}

// resolveNested expands interpolations inside a referenced value.
func (r *resolver) resolveNested(v any) (any, error) {
	if s, ok := v.(string); ok && strings.Contains(s, "${") {
		return r.interpolate(s)
	}
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			y, err := r.resolveNested(x)
			if err != nil {
				return nil, err
			}
			m[k] = y
		}
	}
	return v, nil
}

func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// ParseScalar types a command-line or default value the way YAML would:
// integers, floats, true/false, null, else the string itself (quotes
// around it are removed).
func ParseScalar(s string) any {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	case "null", "~":
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP_") {
		return f
	}
	return s
}

// ParseParams parses a --params value: "a.b=1,c=x" with the first "=" of
// each item splitting key from value; values are typed by ParseScalar and
// keys stay dotted. A comma inside [...] does not split.
func ParseParams(s string) (map[string]any, error) {
	out := map[string]any{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, item := range splitOutsideBrackets(s) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("--params item %q: want key=value", item)
		}
		k = strings.TrimSpace(k)
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("--params item %q: %w", item, err)
		}
		out[k] = ParseScalar(strings.TrimSpace(v))
	}
	return out, nil
}

func splitOutsideBrackets(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}
