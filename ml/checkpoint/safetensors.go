package checkpoint

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"mmc/atomicfile"
)

// maxSafetensorsHeader bounds the JSON header we accept (the reference
// implementation uses the same 100 MB limit), so a corrupt length field
// cannot make us allocate without bound.
const maxSafetensorsHeader = 100 << 20

// SaveSafetensors writes sd as a safetensors file (float32, keys sorted)
// with optional string metadata, atomically: readers see the old file or
// the complete new one.
func SaveSafetensors(path string, sd StateDict, metadata map[string]string) error {
	keys := sd.Keys()
	header := make(map[string]any, len(keys)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var offset int64
	for _, k := range keys {
		a := sd[k]
		if a == nil {
			return fmt.Errorf("save %s: tensor %q is nil", path, k)
		}
		if err := a.Check(k); err != nil {
			return fmt.Errorf("save %s: %w", path, err)
		}
		if k == "__metadata__" {
			return fmt.Errorf("save %s: key %q is reserved", path, k)
		}
		shape := a.Shape
		if shape == nil {
			shape = []int{}
		}
		size := int64(len(a.Data)) * 4
		header[k] = headerEntry{DType: "F32", Shape: shape, Offsets: [2]int64{offset, offset + size}}
		offset += size
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("save %s: header: %w", path, err)
	}
	// Pad with spaces so tensor data starts 8-byte aligned, as the
	// reference writer does.
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	err = atomicfile.WriteFile(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
		if _, err := bw.Write(n[:]); err != nil {
			return err
		}
		if _, err := bw.Write(hdr); err != nil {
			return err
		}
		buf := make([]byte, 0, 1<<20)
		for _, k := range keys {
			data := sd[k].Data
			for len(data) > 0 {
				n := min(len(data), cap(buf)/4)
				buf = buf[:4*n]
				for i, v := range data[:n] {
					binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
				}
				if _, err := bw.Write(buf); err != nil {
					return err
				}
				data = data[n:]
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// headerEntry is one tensor's description in a safetensors header.
type headerEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// tensorInfo is a validated header entry.
type tensorInfo struct {
	name     string
	dtype    string
	shape    []int
	elemSize int
	begin    int64
	end      int64
}

var dtypeSizes = map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8}

// LoadSafetensors reads a safetensors file into float32 arrays, converting
// F16, BF16 and F64, and returns its metadata. The header is validated
// before any tensor is allocated: its length against the file size, each
// dtype, shape and offset range, and that the tensors tile the data
// section exactly.
func LoadSafetensors(path string) (StateDict, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("load safetensors %s: %w", path, err)
	}
	var n [8]byte
	if _, err := io.ReadFull(f, n[:]); err != nil {
		return nil, nil, fmt.Errorf("load safetensors %s: header length: %w", path, err)
	}
	hlen := binary.LittleEndian.Uint64(n[:])
	if hlen > maxSafetensorsHeader || hlen > uint64(st.Size()-8) {
		return nil, nil, fmt.Errorf("load safetensors %s: header length %d does not fit a %d-byte file", path, hlen, st.Size())
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, nil, fmt.Errorf("load safetensors %s: header: %w", path, err)
	}
	dataLen := st.Size() - 8 - int64(hlen)
	infos, meta, err := parseSafetensorsHeader(hdr, dataLen)
	if err != nil {
		return nil, nil, fmt.Errorf("load safetensors %s: %w", path, err)
	}
	base := 8 + int64(hlen)
	sd := make(StateDict, len(infos))
	var raw []byte
	for _, t := range infos {
		size := t.end - t.begin
		if int64(cap(raw)) < size {
			raw = make([]byte, size)
		}
		raw = raw[:size]
		if _, err := f.ReadAt(raw, base+t.begin); err != nil {
			return nil, nil, fmt.Errorf("load safetensors %s: tensor %q: %w", path, t.name, err)
		}
		sd[t.name] = &Array{Shape: t.shape, Data: decodeFloats(raw, t.dtype)}
	}
	return sd, meta, nil
}

// parseSafetensorsHeader validates a header against a data section of
// dataLen bytes and returns the tensors sorted by offset.
func parseSafetensorsHeader(hdr []byte, dataLen int64) ([]tensorInfo, map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, nil, fmt.Errorf("header JSON: %w", err)
	}
	var meta map[string]string
	infos := make([]tensorInfo, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("header __metadata__: want string values: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, fmt.Errorf("header entry %q: %w", name, err)
		}
		size, ok := dtypeSizes[e.DType]
		if !ok {
			return nil, nil, fmt.Errorf("tensor %q: unsupported dtype %q (want F32, F16, BF16 or F64)", name, e.DType)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && count > (1<<62)/int64(d)) {
				return nil, nil, fmt.Errorf("tensor %q: invalid shape %v", name, e.Shape)
			}
			count *= int64(d)
		}
		b, en := e.Offsets[0], e.Offsets[1]
		if b < 0 || en < b || en > dataLen {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside %d data bytes", name, b, en, dataLen)
		}
		if en-b != count*int64(size) {
			return nil, nil, fmt.Errorf("tensor %q: %s shape %v needs %d bytes, data_offsets span %d", name, e.DType, e.Shape, count*int64(size), en-b)
		}
		shape := e.Shape
		if shape == nil {
			shape = []int{}
		}
		infos = append(infos, tensorInfo{name: name, dtype: e.DType, shape: shape, elemSize: size, begin: b, end: en})
	}
	sort.Slice(infos, func(i, j int) bool {
		if infos[i].begin != infos[j].begin {
			return infos[i].begin < infos[j].begin
		}
		return infos[i].end < infos[j].end
	})
	var at int64
	for _, t := range infos {
		if t.begin != at {
			if t.begin < at {
				return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap the previous tensor", t.name, t.begin, t.end)
			}
			return nil, nil, fmt.Errorf("tensor %q: gap in data before offset %d", t.name, t.begin)
		}
		at = t.end
	}
	if at != dataLen {
		return nil, nil, fmt.Errorf("data section has %d bytes after its last tensor", dataLen-at)
	}
	return infos, meta, nil
}

// decodeFloats converts little-endian raw values of dtype to float32.
func decodeFloats(raw []byte, dtype string) []float32 {
	switch dtype {
	case "F32":
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out
	case "F64":
		out := make([]float32, len(raw)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
		return out
	case "BF16":
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
		return out
	default: // F16
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out
	}
}

// HalfToFloat32 converts an IEEE 754 binary16 value to float32 exactly,
// subnormals, infinities and NaN included.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant·2^-24
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	}
}
