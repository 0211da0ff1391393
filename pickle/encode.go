package pickle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Marshal encodes v as a protocol-3 pickle that CPython 3 (and numpy, for
// arrays) loads with plain pickle.loads. Supported values: nil, bool,
// int, int64, float32, float64, string, []byte, Tuple, []any, *List,
// *Dict and *NDArray (written exactly as numpy pickles arrays:
// numpy.core.multiarray._reconstruct + BUILD). Protocol 3 keeps the
// output readable by every Python 3 that MMF runs on.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	b.Write([]byte{opProto, 3})
	if err := encode(&b, v, 0); err != nil {
		return nil, err
	}
	b.WriteByte(opStop)
	return b.Bytes(), nil
}

const maxEncodeDepth = 1000

func encode(b *bytes.Buffer, v any, depth int) error {
	if depth > maxEncodeDepth {
		return fmt.Errorf("pickle: value nested deeper than %d", maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		b.WriteByte(opNone)
	case bool:
		if x {
			b.WriteByte(opNewTrue)
		} else {
			b.WriteByte(opNewFalse)
		}
	case int:
		encodeInt(b, int64(x))
	case int64:
		encodeInt(b, x)
	case float32:
		encodeFloat(b, float64(x))
	case float64:
		encodeFloat(b, x)
	case string:
		b.WriteByte(opBinUnicode)
		writeU32(b, len(x))
		b.WriteString(x)
	case []byte:
		encodeBytes(b, x)
	case Tuple:
		return encodeTuple(b, x, depth)
	case []any:
		return encodeList(b, x, depth)
	case *List:
		return encodeList(b, x.Items, depth)
	case *Dict:
		b.WriteByte(opEmptyDict)
		if x.Len() == 0 {
			return nil
		}
		b.WriteByte(opMark)
		for i, k := range x.Keys() {
			if err := encode(b, k, depth+1); err != nil {
				return err
			}
			if err := encode(b, x.Values()[i], depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(opSetItems)
	case *NDArray:
		return encodeNDArray(b, x)
	default:
		return fmt.Errorf("pickle: cannot encode %T", v)
	}
	return nil
}

func writeU32(b *bytes.Buffer, n int) {
	var tmp [4]byte
	binary.LittleEndian.PutUint32(tmp[:], uint32(n))
	b.Write(tmp[:])
}

func encodeInt(b *bytes.Buffer, n int64) {
	switch {
	case n >= 0 && n < 1<<8:
		b.Write([]byte{opBinInt1, byte(n)})
	case n >= 0 && n < 1<<16:
		b.Write([]byte{opBinInt2, byte(n), byte(n >> 8)})
	case n >= math.MinInt32 && n <= math.MaxInt32:
		b.WriteByte(opBinInt)
		writeU32(b, int(uint32(int32(n))))
	default:
		var tmp [8]byte
		binary.LittleEndian.PutUint64(tmp[:], uint64(n))
		b.Write([]byte{opLong1, 8})
		b.Write(tmp[:])
	}
}

func encodeFloat(b *bytes.Buffer, f float64) {
	var tmp [8]byte
	binary.BigEndian.PutUint64(tmp[:], math.Float64bits(f))
	b.WriteByte(opBinFloat)
	b.Write(tmp[:])
}

func encodeBytes(b *bytes.Buffer, x []byte) {
	if len(x) < 256 {
		b.Write([]byte{opShortBinBytes, byte(len(x))})
	} else {
		b.WriteByte(opBinBytes)
		writeU32(b, len(x))
	}
	b.Write(x)
}

func encodeTuple(b *bytes.Buffer, t Tuple, depth int) error {
	if len(t) == 0 {
		b.WriteByte(opEmptyTuple)
		return nil
	}
	if len(t) > 3 {
		b.WriteByte(opMark)
	}
	for _, e := range t {
		if err := encode(b, e, depth+1); err != nil {
			return err
		}
	}
	if len(t) > 3 {
		b.WriteByte(opTuple)
	} else {
		b.WriteByte(opTuple1 + byte(len(t)-1))
	}
	return nil
}

func encodeList(b *bytes.Buffer, items []any, depth int) error {
	b.WriteByte(opEmptyList)
	if len(items) == 0 {
		return nil
	}
	b.WriteByte(opMark)
	for _, e := range items {
		if err := encode(b, e, depth+1); err != nil {
			return err
		}
	}
	b.WriteByte(opAppends)
	return nil
}

func writeGlobal(b *bytes.Buffer, mod, name string) {
	b.WriteByte(opGlobal)
	b.WriteString(mod + "\n" + name + "\n")
}

func encodeNDArray(b *bytes.Buffer, a *NDArray) error {
	if a.Dtype == nil || !a.Dtype.numeric() {
		return fmt.Errorf("pickle: cannot encode an ndarray without a numeric dtype")
	}
	if a.Size()*a.Dtype.Size != len(a.Data) {
		return fmt.Errorf("pickle: ndarray of shape %v and dtype %s has %d data bytes", a.Shape, a.Dtype, len(a.Data))
	}
	if len(a.Data) > math.MaxUint32 {
		return fmt.Errorf("pickle: ndarray of %d bytes does not fit protocol 3", len(a.Data))
	}
	b.Grow(len(a.Data) + 256)
	// _reconstruct(ndarray, (0,), b'b')
	writeGlobal(b, "numpy.core.multiarray", "_reconstruct")
	writeGlobal(b, "numpy", "ndarray")
	encodeInt(b, 0)
	b.WriteByte(opTuple1)
	encodeBytes(b, []byte("b"))
	b.WriteByte(opTuple3)
	b.WriteByte(opReduce)
	// state: (1, shape, dtype, is_fortran, rawdata)
	b.WriteByte(opMark)
	encodeInt(b, 1)
	shape := make(Tuple, len(a.Shape))
	for i, d := range a.Shape {
		shape[i] = int64(d)
	}
	if err := encodeTuple(b, shape, 1); err != nil {
		return err
	}
	d := a.Dtype
	writeGlobal(b, "numpy", "dtype")
	name := string(d.Kind) + fmt.Sprint(d.Size)
	if d.Kind == 'b' {
		name = "b1"
	}
	if err := encodeTuple(b, Tuple{name, false, true}, 1); err != nil {
		return err
	}
	b.WriteByte(opReduce)
	order := "<"
	if d.Size == 1 {
		order = "|"
	} else if d.BigEndian {
		order = ">"
	}
	if err := encodeTuple(b, Tuple{int64(3), order, nil, nil, nil, int64(-1), int64(-1), int64(0)}, 1); err != nil {
		return err
	}
	b.WriteByte(opBuild)
	encode(b, a.Fortran, 1)
	encodeBytes(b, a.Data)
	b.WriteByte(opTuple)
	b.WriteByte(opBuild)
	return nil
}

// Float32Array wraps row-major float32 values as a little-endian "<f4"
// ndarray of the given shape.
func Float32Array(data []float32, shape ...int) *NDArray {
	raw := make([]byte, 4*len(data))
	if littleEndianHost && len(data) > 0 {
		copy(raw, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data)))
	} else {
		for i, f := range data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
	}
	return &NDArray{Dtype: &Dtype{Kind: 'f', Size: 4, Str: "f4"}, Shape: shape, Data: raw}
}

// Int64Array wraps row-major int64 values as a "<i8" ndarray.
func Int64Array(data []int64, shape ...int) *NDArray {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return &NDArray{Dtype: &Dtype{Kind: 'i', Size: 8, Str: "i8"}, Shape: shape, Data: raw}
}
