package pickle

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// Tuple is a Python tuple.
type Tuple []any

// List is a Python list. It is a pointer type because pickles mutate
// lists after creating them (APPEND) and may share them through the memo.
type List struct {
	Items []any
}

// Set is a Python set or frozenset, in insertion order.
type Set struct {
	Items  []any
	Frozen bool
}

// Dict is a Python dict (or collections.OrderedDict) that keeps insertion
// order. Keys are any hashable decoded value: string, []byte, int64,
// *big.Int, float64, bool, nil, Tuple of those, or an object (by identity).
type Dict struct {
	keys   []any
	values []any
	index  map[string]int
	// Ordered is true for collections.OrderedDict.
	Ordered bool
	// Attrs holds instance attributes set by BUILD, such as the
	// "_metadata" that torch attaches to a state_dict.
	Attrs *Dict
}

// NewDict returns an empty dict.
func NewDict() *Dict { return &Dict{index: map[string]int{}} }

// Len is the number of entries.
func (d *Dict) Len() int { return len(d.keys) }

// Keys returns the keys in insertion order (the slice is shared; do not modify).
func (d *Dict) Keys() []any { return d.keys }

// Values returns the values in insertion order (shared; do not modify).
func (d *Dict) Values() []any { return d.values }

// Set inserts or replaces key. It fails for unhashable keys.
func (d *Dict) Set(key, value any) error {
	h, err := keyOf(key)
	if err != nil {
		return err
	}
	if d.index == nil {
		d.index = map[string]int{}
	}
	if i, ok := d.index[h]; ok {
		d.values[i] = value
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, key)
	d.values = append(d.values, value)
	return nil
}

// Get looks key up.
func (d *Dict) Get(key any) (any, bool) {
	h, err := keyOf(key)
	if err != nil || d.index == nil {
		return nil, false
	}
	i, ok := d.index[h]
	if !ok {
		return nil, false
	}
	return d.values[i], true
}

// GetString looks up a str key.
func (d *Dict) GetString(key string) (any, bool) { return d.Get(key) }

// Build stores a BUILD state as attributes: OrderedDict and dict
// subclasses pickle their instance __dict__ this way.
func (d *Dict) Build(state any) error {
	attrs, ok := state.(*Dict)
	if !ok {
		if state == nil {
			return nil
		}
		return fmt.Errorf("dict state must be a dict, got %s", TypeName(state))
	}
	d.Attrs = attrs
	return nil
}

// maxKeyDepth bounds the nesting of tuple keys, so hashing cannot recurse
// without bound on hostile input.
const maxKeyDepth = 64

// maxKeyBytes bounds the canonical form of one key: tuples shared
// through the memo could otherwise expand exponentially.
const maxKeyBytes = 1 << 16

func keyOf(k any) (string, error) {
	budget := maxKeyBytes
	return hashKey(k, 0, &budget)
}

// hashKey returns a canonical string for a hashable value, following
// Python's equality: True == 1 == 1.0.
func hashKey(k any, depth int, budget *int) (string, error) {
	if depth > maxKeyDepth {
		return "", fmt.Errorf("dict key nested deeper than %d", maxKeyDepth)
	}
	if *budget--; *budget < 0 {
		return "", fmt.Errorf("dict key larger than %d bytes", maxKeyBytes)
	}
	switch v := k.(type) {
	case nil:
		return "N", nil
	case bool:
		if v {
			return "i1", nil
		}
		return "i0", nil
	case int64:
		return "i" + strconv.FormatInt(v, 10), nil
	case *big.Int:
		return "i" + v.String(), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<63 {
			return "i" + strconv.FormatInt(int64(v), 10), nil
		}
		return "f" + strconv.FormatUint(math.Float64bits(v), 16), nil
	case string:
		return "s" + strconv.Itoa(len(v)) + ":" + v, nil
	case []byte:
		return "b" + strconv.Itoa(len(v)) + ":" + string(v), nil
	case Tuple:
		s := "t" + strconv.Itoa(len(v)) + "("
		for _, e := range v {
			h, err := hashKey(e, depth+1, budget)
			if err != nil {
				return "", err
			}
			if *budget -= len(h); *budget < 0 {
				return "", fmt.Errorf("dict key larger than %d bytes", maxKeyBytes)
			}
			s += strconv.Itoa(len(h)) + ":" + h
		}
		return s + ")", nil
	case *Object, *Class:
		return fmt.Sprintf("p%p", v), nil
	default:
		return "", fmt.Errorf("unhashable dict key of type %s", TypeName(k))
	}
}

// Class is a reference to a global that the decoder does not know, kept
// inert in lenient mode. Calling it yields an *Object; nothing is executed.
type Class struct {
	Module, Name string
}

// String is "module.name".
func (c *Class) String() string { return c.Module + "." + c.Name }

// Object is an instance of an unknown class, produced only in lenient
// mode: the constructor arguments and BUILD state are recorded as data.
type Object struct {
	Class     *Class
	Args      Tuple
	Kwargs    *Dict
	State     any
	ListItems []any // APPENDs to a list subclass
	DictItems *Dict // SETITEMs to a dict subclass
}

// Build records the state.
func (o *Object) Build(state any) error {
	o.State = state
	return nil
}

// Callable is a global that REDUCE (and NEWOBJ unless it is a Newer) may
// call with the decoded argument tuple.
type Callable interface {
	Call(args Tuple) (any, error)
}

// Newer is a class global that NEWOBJ/NEWOBJ_EX instantiate (cls.__new__).
type Newer interface {
	New(args Tuple, kwargs *Dict) (any, error)
}

// Builder is a value that accepts a BUILD state (__setstate__).
type Builder interface {
	Build(state any) error
}

// Func adapts a Go function to a Callable global.
type Func func(args Tuple) (any, error)

// Call calls f.
func (f Func) Call(args Tuple) (any, error) { return f(args) }

// TypeName names the Python type of a decoded value, for error messages.
func TypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case *Set:
		return "set"
	case *Object:
		return x.Class.String()
	case *Class:
		return "class " + x.String()
	case *NDArray:
		return "numpy.ndarray"
	case *Dtype:
		return "numpy.dtype"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// AsInt converts a decoded int (or bool, or integral numpy scalar) to int64.
func AsInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

// AsFloat converts a decoded float or int to float64.
func AsFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// AsBytes returns the raw bytes of a bytes value, or the bytes of a str
// (protocol-0/2 pickles from Python 2 carry raw data as str).
func AsBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}
