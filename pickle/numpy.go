package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// littleEndianHost is true where float32 memory has numpy's "<f4" layout.
var littleEndianHost = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Dtype is a numeric numpy dtype: Kind is 'f' (float), 'i' (signed),
// 'u' (unsigned) or 'b' (bool); other kinds (object, strings, structured)
// decode but every conversion refuses them.
type Dtype struct {
	Kind      byte
	Size      int // bytes per element
	BigEndian bool
	Str       string // the spelling numpy pickled, e.g. "f4"
}

// PyName implements Named.
func (d *Dtype) PyName() string { return "numpy.dtype(" + strconv.Quote(d.Str) + ")" }

// String is numpy's dtype.str form ("<f4").
func (d *Dtype) String() string {
	if d.Size == 1 {
		return "|" + string(d.Kind) + "1"
	}
	if d.BigEndian {
		return ">" + string(d.Kind) + strconv.Itoa(d.Size)
	}
	return "<" + string(d.Kind) + strconv.Itoa(d.Size)
}

// byteOrder is the order of the dtype's bytes.
func (d *Dtype) byteOrder() binary.ByteOrder {
	if d.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// errNoData is the conversion error of an array that was never built.
var errNoData = errors.New("ndarray has no data (BUILD missing)")

func (d *Dtype) numeric() bool {
	switch d.Kind {
	case 'f':
		return d.Size == 2 || d.Size == 4 || d.Size == 8
	case 'i', 'u':
		return d.Size == 1 || d.Size == 2 || d.Size == 4 || d.Size == 8
	case 'b':
		return d.Size == 1
	}
	return false
}

// ParseDtype parses a numpy type string such as "f4", "<i8", ">f2", "?".
func ParseDtype(s string) (*Dtype, error) {
	d := &Dtype{Str: s}
	body := s
	if body != "" {
		switch body[0] {
		case '<', '=', '|':
			body = body[1:]
		case '>':
			d.BigEndian = true
			body = body[1:]
		}
	}
	if body == "?" {
		body = "b1"
	}
	if len(body) < 2 {
		return nil, fmt.Errorf("dtype %q is not a numeric type string", s)
	}
	n, err := strconv.Atoi(body[1:])
	if err != nil || n <= 0 || n > 64 {
		return nil, fmt.Errorf("dtype %q has no valid item size", s)
	}
	d.Kind, d.Size = body[0], n
	return d, nil
}

// Build applies numpy's dtype __setstate__: (version, byteorder,
// subarray, names, fields, elsize, alignment, flags[, metadata]).
func (d *Dtype) Build(state any) error {
	t, ok := state.(Tuple)
	if !ok || len(t) < 2 {
		return fmt.Errorf("dtype state must be a tuple of at least 2, got %s", TypeName(state))
	}
	if len(t) >= 4 && (t[2] != nil || t[3] != nil) {
		return fmt.Errorf("structured or subarray dtype %q is not supported", d.Str)
	}
	bo, ok := t[1].(string)
	if !ok {
		return fmt.Errorf("dtype byte order must be a str, got %s", TypeName(t[1]))
	}
	switch bo {
	case "<", "=", "|":
		d.BigEndian = false
	case ">":
		d.BigEndian = true
	default:
		return fmt.Errorf("dtype byte order %q", bo)
	}
	return nil
}

// NDArray is a numpy array. Data holds the raw element bytes in the
// array's dtype and byte order, row-major unless Fortran is set; it
// aliases the pickle input.
type NDArray struct {
	Dtype   *Dtype
	Shape   []int
	Fortran bool
	Data    []byte
}

// Size is the number of elements.
func (a *NDArray) Size() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// shapeFrom converts a pickled shape tuple, checking for negative sizes
// and overflow.
func shapeFrom(v any) ([]int, int, error) {
	t, ok := v.(Tuple)
	if !ok {
		if n, ok := AsInt(v); ok {
			t = Tuple{n}
		} else {
			return nil, 0, fmt.Errorf("shape must be a tuple of ints, got %s", TypeName(v))
		}
	}
	if len(t) > 32 {
		return nil, 0, fmt.Errorf("shape has %d dimensions, numpy allows 32", len(t))
	}
	shape := make([]int, len(t))
	total := 1
	for i, e := range t {
		n, ok := AsInt(e)
		if !ok || n < 0 || n > math.MaxInt32 {
			return nil, 0, fmt.Errorf("shape %s: dimension %d is not a valid size", Repr(t), i)
		}
		shape[i] = int(n)
		if shape[i] != 0 && total > math.MaxInt64/8/shape[i] {
			return nil, 0, fmt.Errorf("shape %s overflows", Repr(t))
		}
		total *= shape[i]
	}
	return shape, total, nil
}

func (a *NDArray) set(shape any, dt any, fortran bool, raw any) error {
	d, ok := dt.(*Dtype)
	if !ok {
		return fmt.Errorf("array dtype must be a numpy.dtype, got %s", TypeName(dt))
	}
	if !d.numeric() {
		return fmt.Errorf("array dtype %q is not numeric (object, string and structured arrays are not supported)", d.Str)
	}
	dims, n, err := shapeFrom(shape)
	if err != nil {
		return err
	}
	data, ok := AsBytes(raw)
	if !ok {
		return fmt.Errorf("array data must be bytes, got %s", TypeName(raw))
	}
	if n*d.Size != len(data) {
		return fmt.Errorf("array of shape %v and dtype %s needs %d bytes, data has %d", dims, d, n*d.Size, len(data))
	}
	a.Dtype, a.Shape, a.Fortran, a.Data = d, dims, fortran, data
	return nil
}

// Build applies ndarray.__setstate__: (version, shape, dtype, is_fortran,
// rawdata), or the version-less 4-tuple.
func (a *NDArray) Build(state any) error {
	t, ok := state.(Tuple)
	if !ok {
		return fmt.Errorf("ndarray state must be a tuple, got %s", TypeName(state))
	}
	if len(t) == 5 {
		t = t[1:]
	}
	if len(t) != 4 {
		return fmt.Errorf("ndarray state has %d items, want 4 or 5", len(t))
	}
	fortran, ok := AsInt(t[2])
	if !ok {
		return fmt.Errorf("ndarray is_fortran must be a bool, got %s", TypeName(t[2]))
	}
	return a.set(t[0], t[1], fortran != 0, t[3])
}

// cIndex maps row-major element i to its position in Data.
type cIndex struct {
	fortran bool
	shape   []int
	fstride []int
	idx     []int
	pos     int
}

func newCIndex(a *NDArray) *cIndex {
	c := &cIndex{fortran: a.Fortran && len(a.Shape) > 1, shape: a.Shape}
	if c.fortran {
		c.fstride = make([]int, len(a.Shape))
		s := 1
		for i := range a.Shape {
			c.fstride[i] = s
			s *= a.Shape[i]
		}
		c.idx = make([]int, len(a.Shape))
	}
	return c
}

// next returns the Data element index of the next row-major element.
func (c *cIndex) next() int {
	if !c.fortran {
		p := c.pos
		c.pos++
		return p
	}
	p := c.pos
	for d := len(c.idx) - 1; d >= 0; d-- {
		c.idx[d]++
		c.pos += c.fstride[d]
		if c.idx[d] < c.shape[d] {
			break
		}
		c.pos -= c.idx[d] * c.fstride[d]
		c.idx[d] = 0
	}
	return p
}

// Float32 converts the array to a new row-major []float32 (the one copy
// a reader makes). Integer and bool arrays convert too.
func (a *NDArray) Float32() ([]float32, error) {
	out := make([]float32, a.Size())
	return out, a.Float32Into(out)
}

// Float32Into converts into dst, which must hold exactly Size() values.
func (a *NDArray) Float32Into(dst []float32) error {
	if a.Dtype == nil {
		return errNoData
	}
	if len(dst) != a.Size() {
		return fmt.Errorf("destination holds %d values, array has %d", len(dst), a.Size())
	}
	d := a.Dtype
	bo := d.byteOrder()
	if d.Kind == 'f' && d.Size == 4 && !a.Fortran && !d.BigEndian {
		if littleEndianHost && len(dst) > 0 {
			// Same layout as the host: one memmove, no per-element decode.
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), a.Data)
			return nil
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.Data[4*i:]))
		}
		return nil
	}
	ci := newCIndex(a)
	for i := range dst {
		j := ci.next() * d.Size
		b := a.Data[j : j+d.Size]
		switch d.Kind {
		case 'f':
			switch d.Size {
			case 2:
				dst[i] = HalfToFloat32(bo.Uint16(b))
			case 4:
				dst[i] = math.Float32frombits(bo.Uint32(b))
			case 8:
				dst[i] = float32(math.Float64frombits(bo.Uint64(b)))
			}
		case 'i':
			dst[i] = float32(signed(b, bo))
		case 'u':
			dst[i] = float32(unsigned(b, bo))
		case 'b':
			if b[0] != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	}
	return nil
}

// Float64 converts the array to a new row-major []float64, exact for
// every numeric dtype but 64-bit integers beyond 2^53.
func (a *NDArray) Float64() ([]float64, error) {
	if a.Dtype == nil {
		return nil, errNoData
	}
	d := a.Dtype
	bo := d.byteOrder()
	out := make([]float64, a.Size())
	ci := newCIndex(a)
	for i := range out {
		j := ci.next() * d.Size
		b := a.Data[j : j+d.Size]
		switch d.Kind {
		case 'f':
			switch d.Size {
			case 2:
				out[i] = float64(HalfToFloat32(bo.Uint16(b)))
			case 4:
				out[i] = float64(math.Float32frombits(bo.Uint32(b)))
			case 8:
				out[i] = math.Float64frombits(bo.Uint64(b))
			}
		case 'i':
			out[i] = float64(signed(b, bo))
		case 'u':
			out[i] = float64(unsigned(b, bo))
		case 'b':
			if b[0] != 0 {
				out[i] = 1
			}
		}
	}
	return out, nil
}

// Int64 converts an integer or bool array to a new row-major []int64.
func (a *NDArray) Int64() ([]int64, error) {
	if a.Dtype == nil {
		return nil, errNoData
	}
	d := a.Dtype
	if d.Kind != 'i' && d.Kind != 'u' && d.Kind != 'b' {
		return nil, fmt.Errorf("ndarray of dtype %s is not an integer array", d)
	}
	bo := d.byteOrder()
	out := make([]int64, a.Size())
	ci := newCIndex(a)
	for i := range out {
		j := ci.next() * d.Size
		b := a.Data[j : j+d.Size]
		if d.Kind == 'i' {
			out[i] = signed(b, bo)
		} else {
			out[i] = int64(unsigned(b, bo))
		}
	}
	return out, nil
}

func signed(b []byte, bo binary.ByteOrder) int64 {
	switch len(b) {
	case 1:
		return int64(int8(b[0]))
	case 2:
		return int64(int16(bo.Uint16(b)))
	case 4:
		return int64(int32(bo.Uint32(b)))
	default:
		return int64(bo.Uint64(b))
	}
}

func unsigned(b []byte, bo binary.ByteOrder) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(bo.Uint16(b))
	case 4:
		return uint64(bo.Uint32(b))
	default:
		return bo.Uint64(b)
	}
}

// HalfToFloat32 converts an IEEE 754 binary16 value to float32 exactly.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal half: value = mant × 2^-24, exact in float32.
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// ndarrayClass is the numpy.ndarray global: only _reconstruct takes it.
type ndarrayClass struct{}

func (ndarrayClass) PyName() string { return "numpy.ndarray" }

func reconstruct(args Tuple) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("_reconstruct takes 3 arguments, got %d", len(args))
	}
	if _, ok := args[0].(ndarrayClass); !ok {
		return nil, fmt.Errorf("_reconstruct of %s: only numpy.ndarray is supported", TypeName(args[0]))
	}
	return &NDArray{}, nil
}

// dtypeClass is the numpy.dtype global.
type dtypeClass struct{}

func (dtypeClass) PyName() string { return "numpy.dtype" }

func (dtypeClass) Call(args Tuple) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("numpy.dtype needs a type string")
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("numpy.dtype argument must be a str, got %s", TypeName(args[0]))
	}
	if strings.HasPrefix(s, "O") || strings.HasPrefix(s, "V") || strings.HasPrefix(s, "U") || strings.HasPrefix(s, "S") {
		// Keep the spelling so the array that uses it fails with a clear
		// message; these dtypes carry no numeric data.
		return &Dtype{Kind: s[0], Str: s}, nil
	}
	return ParseDtype(s)
}

func (c dtypeClass) New(args Tuple, kwargs *Dict) (any, error) { return c.Call(args) }

func numpyScalar(args Tuple) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("scalar takes (dtype, bytes), got %d arguments", len(args))
	}
	d, ok := args[0].(*Dtype)
	if !ok || !d.numeric() {
		return nil, fmt.Errorf("scalar of dtype %s is not supported", TypeName(args[0]))
	}
	b, ok := AsBytes(args[1])
	if !ok || len(b) != d.Size {
		return nil, fmt.Errorf("scalar of dtype %s needs %d bytes", d, d.Size)
	}
	a := &NDArray{Dtype: d, Shape: nil, Data: b}
	switch d.Kind {
	case 'f':
		if d.Size == 8 {
			bo := d.byteOrder()
			return math.Float64frombits(bo.Uint64(b)), nil
		}
		f, err := a.Float32()
		if err != nil {
			return nil, err
		}
		return float64(f[0]), nil
	case 'b':
		return b[0] != 0, nil
	case 'u':
		bo := d.byteOrder()
		if unsigned(b, bo) > math.MaxInt64 {
			return nil, fmt.Errorf("uint64 scalar does not fit an int64")
		}
	}
	v, err := a.Int64()
	if err != nil {
		return nil, err
	}
	return v[0], nil
}

func frombuffer(args Tuple) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("_frombuffer takes (buffer, dtype, shape, order), got %d arguments", len(args))
	}
	order, ok := args[3].(string)
	if !ok || (order != "C" && order != "F") {
		return nil, fmt.Errorf("_frombuffer order must be 'C' or 'F', got %s", Repr(args[3]))
	}
	a := &NDArray{}
	if err := a.set(args[2], args[1], order == "F", args[0]); err != nil {
		return nil, err
	}
	return a, nil
}

func codecsEncode(args Tuple) (any, error) {
	if len(args) == 0 || len(args) > 2 {
		return nil, fmt.Errorf("_codecs.encode takes (str, encoding), got %d arguments", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("_codecs.encode argument must be a str, got %s", TypeName(args[0]))
	}
	enc := "utf-8"
	if len(args) == 2 {
		if enc, ok = args[1].(string); !ok {
			return nil, fmt.Errorf("_codecs.encode encoding must be a str")
		}
	}
	switch strings.ToLower(strings.ReplaceAll(enc, "_", "-")) {
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1":
		out := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("character U+%04X does not fit latin-1", r)
			}
			out = append(out, byte(r))
		}
		return out, nil
	case "utf-8", "utf8":
		return []byte(s), nil
	}
	return nil, fmt.Errorf("_codecs.encode encoding %q is not supported", enc)
}

func bytesCall(args Tuple) (any, error) {
	if len(args) == 1 {
		if l, ok := args[0].(*List); ok {
			out := make([]byte, len(l.Items))
			for i, e := range l.Items {
				n, ok := AsInt(e)
				if !ok || n < 0 || n > 255 {
					return nil, fmt.Errorf("bytes item %d is not in range(256)", i)
				}
				out[i] = byte(n)
			}
			return out, nil
		}
	}
	return bytearrayCall(args)
}

func bytearrayCall(args Tuple) (any, error) {
	switch len(args) {
	case 0:
		return []byte{}, nil
	case 1:
		if b, ok := args[0].([]byte); ok {
			return b, nil
		}
	case 2:
		return codecsEncode(args)
	}
	return nil, fmt.Errorf("bytearray arguments not supported")
}

func pairsInto(d *Dict, args Tuple) error {
	if len(args) == 0 {
		return nil
	}
	if len(args) > 1 {
		return fmt.Errorf("takes at most 1 argument, got %d", len(args))
	}
	var items []any
	switch x := args[0].(type) {
	case *List:
		items = x.Items
	case Tuple:
		items = x
	case *Dict:
		for i, k := range x.Keys() {
			if err := d.Set(k, x.Values()[i]); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("argument must be a list of pairs, got %s", TypeName(args[0]))
	}
	for _, it := range items {
		var kv []any
		switch p := it.(type) {
		case Tuple:
			kv = p
		case *List:
			kv = p.Items
		}
		if len(kv) != 2 {
			return fmt.Errorf("item is not a (key, value) pair")
		}
		if err := d.Set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

type orderedDictClass struct{}

func (orderedDictClass) PyName() string { return "collections.OrderedDict" }
func (orderedDictClass) Call(args Tuple) (any, error) {
	d := NewDict()
	d.Ordered = true
	return d, pairsInto(d, args)
}
func (c orderedDictClass) New(args Tuple, _ *Dict) (any, error) { return c.Call(args) }

type setClass struct{ frozen bool }

func (s setClass) PyName() string {
	if s.frozen {
		return "builtins.frozenset"
	}
	return "builtins.set"
}
func (s setClass) Call(args Tuple) (any, error) {
	out := &Set{Frozen: s.frozen}
	if len(args) == 1 {
		switch x := args[0].(type) {
		case *List:
			out.Items = append(out.Items, x.Items...)
		case Tuple:
			out.Items = append(out.Items, x...)
		default:
			return nil, fmt.Errorf("set argument must be a list, got %s", TypeName(args[0]))
		}
	} else if len(args) > 1 {
		return nil, fmt.Errorf("set takes at most 1 argument")
	}
	return out, nil
}
func (s setClass) New(args Tuple, _ *Dict) (any, error) { return s.Call(args) }

// copyregReconstructor is copyreg._reconstructor(cls, base, state), the
// protocol 0/1 way to create an object; only inert classes are accepted.
func copyregReconstructor(args Tuple) (any, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("_reconstructor takes 3 arguments, got %d", len(args))
	}
	c, ok := args[0].(*Class)
	if !ok {
		return nil, fmt.Errorf("_reconstructor of %s is not supported", globalName(args[0]))
	}
	return &Object{Class: c, Args: Tuple{args[1], args[2]}}, nil
}

type namedFunc struct {
	name string
	f    func(Tuple) (any, error)
}

func (n namedFunc) PyName() string                   { return n.name }
func (n namedFunc) Call(args Tuple) (any, error)     { return n.f(args) }
func fn(name string, f func(Tuple) (any, error)) any { return namedFunc{name, f} }

// builtinGlobals is the allowlist. Everything here builds plain data.
var builtinGlobals = func() map[string]any {
	g := map[string]any{
		"collections.OrderedDict": orderedDictClass{},
		"builtins.set":            setClass{},
		"builtins.frozenset":      setClass{frozen: true},
		"builtins.bytearray":      fn("builtins.bytearray", bytearrayCall),
		"builtins.bytes":          fn("builtins.bytes", bytesCall),
		"_codecs.encode":          fn("_codecs.encode", codecsEncode),
		"copyreg._reconstructor":  fn("copyreg._reconstructor", copyregReconstructor),
		"numpy.ndarray":           ndarrayClass{},
		"numpy.dtype":             dtypeClass{},
	}
	for _, core := range []string{"numpy.core", "numpy._core"} {
		g[core+".multiarray._reconstruct"] = fn(core+".multiarray._reconstruct", reconstruct)
		g[core+".multiarray.scalar"] = fn(core+".multiarray.scalar", numpyScalar)
		g[core+".numeric._frombuffer"] = fn(core+".numeric._frombuffer", frombuffer)
	}
	return g
}()
