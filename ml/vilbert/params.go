package vilbert

import (
	"reflect"
	"strconv"
	"strings"

	"mmc/ml/tensor"
)

// NamedParam is one parameter with its checkpoint key (MMF layout without
// the "model." prefix, e.g. "bert.encoder.layer.0.attention.self.query.weight").
type NamedParam struct {
	Name   string
	Tensor *tensor.Tensor
}

// Parameters lists every parameter in a fixed order (the struct order,
// which follows MMF's module order), with its key.
func (m *Model) Parameters() []NamedParam {
	return walk(m, "")
}

var tensorType = reflect.TypeFor[*tensor.Tensor]()

// walk collects the *tensor.Tensor fields reachable from v through fields
// tagged `pt`. A tag is a key path segment joined with "."; the empty tag
// inlines the field's keys; a tag ending in "_" prefixes the next segment
// without a dot ("v_" + "intermediate.dense"). Slices number their
// elements as PyTorch's ModuleList does.
func walk(v any, prefix string) []NamedParam {
	var out []NamedParam
	walkValue(reflect.ValueOf(v), prefix, &out)
	return out
}

func walkValue(v reflect.Value, prefix string, out *[]NamedParam) {
	if v.Type() == tensorType {
		if !v.IsNil() {
			*out = append(*out, NamedParam{Name: prefix, Tensor: v.Interface().(*tensor.Tensor)})
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkValue(v.Elem(), prefix, out)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkValue(v.Index(i), join(prefix, strconv.Itoa(i)), out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			tag, ok := t.Field(i).Tag.Lookup("pt")
			if !ok || !t.Field(i).IsExported() {
				continue
			}
			walkValue(v.Field(i), join(prefix, tag), out)
		}
	}
}

func join(prefix, seg string) string {
	switch {
	case seg == "":
		return prefix
	case prefix == "":
		return seg
	case strings.HasSuffix(prefix, "_"):
		return prefix + seg
	default:
		return prefix + "." + seg
	}
}

// paramIndex maps keys to parameters.
func (m *Model) paramIndex() map[string]*tensor.Tensor {
	idx := map[string]*tensor.Tensor{}
	for _, p := range m.Parameters() {
		idx[p.Name] = p.Tensor
	}
	return idx
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
