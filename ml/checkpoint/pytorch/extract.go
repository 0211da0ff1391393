package pytorch

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"mmc/ml/checkpoint"
	"mmc/pickle"
)

// stateDictKeys are where checkpoints commonly keep the weights: MMF and
// Lightning use "model"/"state_dict", training scripts "model_state_dict".
var stateDictKeys = []string{"state_dict", "model", "model_state_dict", "module"}

// maxNesting bounds the walk over nested dicts, which may be cyclic.
const maxNesting = 32

func extract(root any, opts *Options) (checkpoint.StateDict, error) {
	d, where, err := findStateDict(root, opts.Key)
	if err != nil {
		return nil, err
	}
	sd := checkpoint.StateDict{}
	if err := flatten(sd, d, "", where, opts, 0); err != nil {
		return nil, err
	}
	if len(sd) == 0 {
		return nil, fmt.Errorf("%s holds no floating-point tensors", where)
	}
	return sd, nil
}

func findStateDict(root any, key string) (*pickle.Dict, string, error) {
	d, ok := root.(*pickle.Dict)
	if !ok {
		return nil, "", fmt.Errorf("saved object is %s, not a dict of tensors (save model.state_dict(), not the model)", pickle.TypeName(root))
	}
	if key != "" {
		cur := d
		for _, part := range strings.Split(key, ".") {
			v, ok := cur.GetString(part)
			if !ok {
				return nil, "", fmt.Errorf("no key %q on the path %q (have %s)", part, key, keyList(cur))
			}
			if cur, ok = v.(*pickle.Dict); !ok {
				return nil, "", fmt.Errorf("%q is %s, not a dict", key, pickle.TypeName(v))
			}
		}
		return cur, fmt.Sprintf("entry %q", key), nil
	}
	if holdsTensors(d) {
		return d, "the top-level dict", nil
	}
	for _, k := range stateDictKeys {
		if v, ok := d.GetString(k); ok {
			if sub, ok := v.(*pickle.Dict); ok && holdsTensors(sub) {
				return sub, fmt.Sprintf("entry %q", k), nil
			}
		}
	}
	return nil, "", fmt.Errorf("no state_dict found: the top level holds no tensors and none of %q does (have %s; set Options.Key)", stateDictKeys, keyList(d))
}

func holdsTensors(d *pickle.Dict) bool {
	for _, v := range d.Values() {
		if _, ok := v.(*Tensor); ok {
			return true
		}
	}
	return false
}

func keyList(d *pickle.Dict) string {
	var names []string
	for _, k := range d.Keys() {
		names = append(names, pickle.Repr(k))
		if len(names) == 12 {
			names = append(names, "…")
			break
		}
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// flatten copies the tensors of d into sd, joining nested dict keys with
// "."; other values (ints, configs) are left out, but a bare global (a
// pickled function or class) is an error.
func flatten(sd checkpoint.StateDict, d *pickle.Dict, prefix, where string, opts *Options, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("%s: dicts nested deeper than %d", where, maxNesting)
	}
	for i, k := range d.Keys() {
		ks, ok := k.(string)
		if !ok {
			continue
		}
		name := prefix + ks
		switch v := d.Values()[i].(type) {
		case *Tensor:
			if !v.storage.dt.float && !opts.Ints {
				continue
			}
			arr, err := v.materialize()
			if err != nil {
				return fmt.Errorf("tensor %q: %w", name, err)
			}
			key := stripPrefixes(name, opts.StripPrefixes)
			if _, dup := sd[key]; dup {
				return fmt.Errorf("tensor %q: key %q already taken after stripping prefixes %q", name, key, opts.StripPrefixes)
			}
			sd[key] = arr
		case *pickle.Dict:
			if err := flatten(sd, v, name+".", where, opts, depth+1); err != nil {
				return err
			}
		default:
			// A function or class where a weight belongs is no weight and
			// no configuration either: refused even in lenient loading,
			// which keeps only objects beside the weights inert.
			if g, ok := pickle.GlobalName(v); ok {
				return fmt.Errorf("%s: %q is the pickled global %s, not a tensor; refusing the checkpoint", where, name, g)
			}
		}
	}
	return nil
}

func stripPrefixes(key string, prefixes []string) string {
	for changed := true; changed; {
		changed = false
		for _, p := range prefixes {
			if p != "" && strings.HasPrefix(key, p) {
				key = key[len(p):]
				changed = true
			}
		}
	}
	return key
}

// maxBroadcast is how many elements a view may have beyond its storage
// (stride-0 expanded tensors); it bounds what a hostile file can make
// Load allocate.
const maxBroadcast = 1 << 20

// materialize copies the view into a dense row-major float32 array.
func (t *Tensor) materialize() (*checkpoint.Array, error) {
	s := t.storage
	numel := 1
	for _, n := range t.size {
		if n != 0 && numel > math.MaxInt32/n {
			return nil, fmt.Errorf("size %v is too large", t.size)
		}
		numel *= n
	}
	shape := append([]int{}, t.size...)
	if numel == 0 {
		return &checkpoint.Array{Shape: shape, Data: []float32{}}, nil
	}
	// The last element a view touches must lie inside the storage.
	last := t.offset
	for i, n := range t.size {
		last += (n - 1) * t.stride[i]
	}
	if last >= s.numel {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %d of a %d-element storage %q",
			t.offset, t.size, t.stride, last, s.numel, s.key)
	}
	if numel > s.numel && numel > maxBroadcast {
		return nil, fmt.Errorf("view of %d elements over a %d-element storage", numel, s.numel)
	}
	out := make([]float32, numel)
	es := s.dt.size
	if contiguous(t.size, t.stride) {
		if s.data == nil && s.dt.name == "FloatStorage" && !s.bigEndian && littleEndianHost {
			// Straight from the file into the tensor.
			dst := unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*numel)
			if err := readFull(s, dst, t.offset); err != nil {
				return nil, err
			}
			return &checkpoint.Array{Shape: shape, Data: out}, nil
		}
		src, err := s.bytes(t.offset, numel)
		if err != nil {
			return nil, err
		}
		decodeRun(out, src, s.dt, s.bigEndian)
		return &checkpoint.Array{Shape: shape, Data: out}, nil
	}
	// Strides are non-negative, so the view lies within elements
	// [offset, last] of the storage.
	data, err := s.bytes(t.offset, last-t.offset+1)
	if err != nil {
		return nil, err
	}
	// Walk the view in row-major order; each innermost row with unit
	// stride decodes as one run.
	rank := len(t.size)
	inner, innerStride := t.size[rank-1], t.stride[rank-1]
	idx := make([]int, rank-1)
	pos := 0
	for o := 0; o < numel; o += inner {
		row := out[o : o+inner]
		if innerStride == 1 {
			decodeRun(row, data[pos*es:(pos+inner)*es], s.dt, s.bigEndian)
		} else {
			for i := range row {
				p := (pos + i*innerStride) * es
				decodeRun(row[i:i+1], data[p:p+es], s.dt, s.bigEndian)
			}
		}
		for d := rank - 2; d >= 0; d-- {
			idx[d]++
			pos += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			pos -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
	return &checkpoint.Array{Shape: shape, Data: out}, nil
}

// bytes returns n elements of s starting at element first: a slice of
// data, or read from src.
func (s *storage) bytes(first, n int) ([]byte, error) {
	es := s.dt.size
	if s.data != nil || s.src == nil {
		return s.data[first*es : (first+n)*es], nil
	}
	buf := make([]byte, n*es)
	return buf, readFull(s, buf, first)
}

// readFull reads len(dst) bytes of s from element first on.
func readFull(s *storage, dst []byte, first int) error {
	if s.src == nil {
		copy(dst, s.data[first*s.dt.size:])
		return nil
	}
	if _, err := s.src.ReadAt(dst, s.off+int64(first*s.dt.size)); err != nil {
		return fmt.Errorf("storage %q: %w", s.key, err)
	}
	return nil
}

func contiguous(size, stride []int) bool {
	want := 1
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// littleEndianHost is true where float32 memory has torch's on-disk
// little-endian layout, so float32 storages copy with one memmove.
var littleEndianHost = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// decodeRun converts len(dst) consecutive elements of type dt from src.
// The dtype switch sits outside the loops so each loop stays tight.
func decodeRun(dst []float32, src []byte, dt dtype, bigEndian bool) {
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	switch dt.name {
	case "FloatStorage":
		if !bigEndian && littleEndianHost && len(dst) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), src)
			return
		}
		for i := range dst {
			dst[i] = math.Float32frombits(bo.Uint32(src[4*i:]))
		}
	case "HalfStorage":
		for i := range dst {
			dst[i] = pickle.HalfToFloat32(bo.Uint16(src[2*i:]))
		}
	case "BFloat16Storage":
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(bo.Uint16(src[2*i:])) << 16)
		}
	case "DoubleStorage":
		for i := range dst {
			dst[i] = float32(math.Float64frombits(bo.Uint64(src[8*i:])))
		}
	case "LongStorage":
		for i := range dst {
			dst[i] = float32(int64(bo.Uint64(src[8*i:])))
		}
	case "IntStorage":
		for i := range dst {
			dst[i] = float32(int32(bo.Uint32(src[4*i:])))
		}
	case "ShortStorage":
		for i := range dst {
			dst[i] = float32(int16(bo.Uint16(src[2*i:])))
		}
	case "CharStorage":
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	default: // ByteStorage, BoolStorage
		for i := range dst {
			dst[i] = float32(src[i])
		}
	}
}
