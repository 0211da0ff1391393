package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode"
)

// DecodeError is a parameter that does not fit the Go type it decodes
// into: an unknown key, a wrong type or a value out of range.
type DecodeError struct {
	Pos     Pos
	Path    string
	Message string
}

// Error formats the problem as file:line:column: parameter "key": message.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s: parameter %q: %s", e.Pos, e.Path, e.Message)
}

// Decode decodes the subtree at path (dotted; "" for all of it) into v,
// which must be a non-nil pointer. Decoding is strict: a key with no
// matching struct field is an error naming the file, line and nearest
// field. Struct fields map to keys by their `yaml` tag, else `json` tag,
// else the snake_case of the field name; "-" skips a field. Keys missing
// from the configuration leave fields at their current values, so callers
// can pre-fill defaults.
func Decode(t *Tree, path string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config.Decode: need a non-nil pointer, got %T", v)
	}
	val, ok := t.Get(path)
	if !ok {
		return &DecodeError{Pos: t.Source(path), Path: path, Message: fmt.Sprintf("missing%s", DidYouMean(path, t.Leaves("")))}
	}
	d := decoder{tree: t}
	return d.decode(path, val, rv.Elem())
}

// DecodeValue decodes val, a subtree already in hand, strictly into v
// like Decode; path names it in errors and finds positions in t. It
// serves keys that contain dots themselves (catalog entries such as
// "{pipeline}.metrics"), which a dotted path cannot reach through Get.
func DecodeValue(t *Tree, path string, val any, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config.DecodeValue: need a non-nil pointer, got %T", v)
	}
	d := decoder{tree: t}
	return d.decode(path, val, rv.Elem())
}

// CheckDecodable reports whether the subtree at path decodes into typ,
// without keeping the result (used to validate parameters before a run).
func CheckDecodable(t *Tree, path string, typ reflect.Type) (any, error) {
	p := reflect.New(typ)
	if err := Decode(t, path, p.Interface()); err != nil {
		return nil, err
	}
	return p.Elem().Interface(), nil
}

type decoder struct{ tree *Tree }

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d decoder) fail(path, format string, args ...any) error {
	return &DecodeError{Pos: d.tree.Source(path), Path: path, Message: fmt.Sprintf(format, args...)}
}

func (d decoder) decode(path string, val any, dst reflect.Value) error {
	if dst.Kind() == reflect.Pointer {
		if val == nil {
			dst.Set(reflect.Zero(dst.Type()))
			return nil
		}
		if dst.IsNil() {
			dst.Set(reflect.New(dst.Type().Elem()))
		}
		return d.decode(path, val, dst.Elem())
	}
	if dst.Type() == durationType {
		s, ok := val.(string)
		if !ok {
			return d.fail(path, "want a duration such as \"1m30s\", got %s", describe(val))
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			return d.fail(path, "%v", err)
		}
		dst.SetInt(int64(dur))
		return nil
	}
	if dst.CanAddr() && dst.Addr().Type().Implements(textUnmarshalerType) {
		if s, ok := val.(string); ok {
			if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				return d.fail(path, "%v", err)
			}
			return nil
		}
	}
	switch dst.Kind() {
	case reflect.Interface:
		if val == nil {
			dst.Set(reflect.Zero(dst.Type()))
			return nil
		}
		rv := reflect.ValueOf(deepCopy(val))
		if !rv.Type().AssignableTo(dst.Type()) {
			return d.fail(path, "cannot store %s in %s", describe(val), dst.Type())
		}
		dst.Set(rv)
	case reflect.Struct:
		m, ok := val.(map[string]any)
		if !ok {
			return d.fail(path, "want a mapping for %s, got %s", dst.Type(), describe(val))
		}
		return d.decodeStruct(path, m, dst)
	case reflect.Map:
		m, ok := val.(map[string]any)
		if !ok {
			return d.fail(path, "want a mapping, got %s", describe(val))
		}
		if dst.Type().Key().Kind() != reflect.String {
			return d.fail(path, "map keys must be strings, not %s", dst.Type().Key())
		}
		if dst.IsNil() {
			dst.Set(reflect.MakeMapWithSize(dst.Type(), len(m)))
		}
		for _, k := range sortedKeys(m) {
			ev := reflect.New(dst.Type().Elem()).Elem()
			if err := d.decode(path+"."+k, m[k], ev); err != nil {
				return err
			}
			dst.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
	case reflect.Slice:
		s, ok := val.([]any)
		if !ok {
			return d.fail(path, "want a list, got %s", describe(val))
		}
		out := reflect.MakeSlice(dst.Type(), len(s), len(s))
		for i, x := range s {
			if err := d.decode(fmt.Sprintf("%s.%d", path, i), x, out.Index(i)); err != nil {
				return err
			}
		}
		dst.Set(out)
	case reflect.Array:
		s, ok := val.([]any)
		if !ok || len(s) != dst.Len() {
			return d.fail(path, "want a list of %d items, got %s", dst.Len(), describe(val))
		}
		for i, x := range s {
			if err := d.decode(fmt.Sprintf("%s.%d", path, i), x, dst.Index(i)); err != nil {
				return err
			}
		}
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			return d.fail(path, "want a string, got %s", describe(val))
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			return d.fail(path, "want true or false, got %s", describe(val))
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := asInt(val)
		if !ok {
			return d.fail(path, "want an integer, got %s", describe(val))
		}
		if dst.OverflowInt(i) {
			return d.fail(path, "%d overflows %s", i, dst.Type())
		}
		dst.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := asInt(val)
		if !ok || i < 0 {
			return d.fail(path, "want a non-negative integer, got %s", describe(val))
		}
		if dst.OverflowUint(uint64(i)) {
			return d.fail(path, "%d overflows %s", i, dst.Type())
		}
		dst.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		var f float64
		switch x := val.(type) {
		case int64:
			f = float64(x)
		case float64:
			f = x
		default:
			return d.fail(path, "want a number, got %s", describe(val))
		}
		if dst.Kind() == reflect.Float32 && math.Abs(f) > math.MaxFloat32 && !math.IsInf(f, 0) {
			return d.fail(path, "%g overflows float32", f)
		}
		dst.SetFloat(f)
	default:
		return d.fail(path, "cannot decode into %s", dst.Type())
	}
	return nil
}

func (d decoder) decodeStruct(path string, m map[string]any, dst reflect.Value) error {
	fields := structFields(dst.Type())
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	for _, k := range sortedKeys(m) {
		idx, ok := fields[k]
		sub := joinPath(path, k)
		if !ok {
			return &DecodeError{Pos: d.tree.Source(sub), Path: sub,
				Message: "unknown parameter" + DidYouMean(k, names)}
		}
		if err := d.decode(sub, m[k], dst.FieldByIndex(idx)); err != nil {
			return err
		}
	}
	return nil
}

// structFields maps configuration keys to field indexes, descending into
// embedded structs without a tag.
func structFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, tagged := fieldKey(f)
		if name == "-" {
			continue
		}
		if f.Anonymous && !tagged && f.Type.Kind() == reflect.Struct {
			for k, idx := range structFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		out[name] = []int{i}
	}
	return out
}

func fieldKey(f reflect.StructField) (string, bool) {
	for _, tag := range []string{"yaml", "json"} {
		if v, ok := f.Tag.Lookup(tag); ok {
			name, _, _ := strings.Cut(v, ",")
			if name != "" {
				return name, true
			}
		}
	}
	return SnakeCase(f.Name), false
}

// SnakeCase turns a Go field name into its configuration key:
// NumMemes → num_memes, LR → lr, HTTPPort → http_port.
func SnakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]) ||
				(i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("string %q", x)
	}
	return fmt.Sprintf("%T %v", v, v)
}
