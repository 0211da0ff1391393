package checkpoint

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	sd := StateDict{
		"b.weight": {Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25}},
		"a.bias":   {Shape: []int{3}, Data: []float32{7, 8, 9}},
		"scalar":   {Shape: []int{}, Data: []float32{42}},
		"empty":    {Shape: []int{0, 4}, Data: []float32{}},
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := SaveSafetensors(path, sd, map[string]string{"step": "12"}); err != nil {
		t.Fatal(err)
	}
	got, meta, err := LoadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta["step"] != "12" || len(got) != len(sd) {
		t.Fatalf("metadata %v, %d tensors", meta, len(got))
	}
	for k, want := range sd {
		g := got[k]
		if g == nil || len(g.Shape) != len(want.Shape) || len(g.Data) != len(want.Data) {
			t.Fatalf("%s: got %+v, want %+v", k, g, want)
		}
		for i := range want.Shape {
			if g.Shape[i] != want.Shape[i] {
				t.Fatalf("%s: shape %v, want %v", k, g.Shape, want.Shape)
			}
		}
		for i := range want.Data {
			if g.Data[i] != want.Data[i] {
				t.Fatalf("%s[%d] = %v, want %v", k, i, g.Data[i], want.Data[i])
			}
		}
	}
	raw, _ := os.ReadFile(path)
	if hl := binary.LittleEndian.Uint64(raw); (8+hl)%8 != 0 {
		t.Fatalf("data section starts at %d, not 8-byte aligned", 8+hl)
	}
}

// TestLoadConvertsDTypes reads a file written from Python with F32, F16,
// BF16 and F64 tensors and compares with torch's own float conversions.
func TestLoadConvertsDTypes(t *testing.T) {
	got, meta, err := LoadSafetensors("testdata/dtypes.safetensors")
	if err != nil {
		t.Fatalf("fixture (regenerate with python3 scripts/fixtures/numeric.py): %v", err)
	}
	want, _, err := LoadSafetensors("testdata/dtypes_expected.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" {
		t.Fatalf("metadata %v", meta)
	}
	for _, k := range []string{"f32", "f16", "bf16", "f64"} {
		for i, w := range want[k].Data {
			if got[k].Data[i] != w {
				t.Errorf("%s[%d] = %v, torch gives %v", k, i, got[k].Data[i], w)
			}
		}
	}
}

func TestHalfToFloat32(t *testing.T) {
	cases := map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.9604645e-08,
		0x0400: 6.1035156e-05, 0x3555: 0.33325195,
	}
	for h, want := range cases {
		if got := HalfToFloat32(h); got != want {
			t.Errorf("HalfToFloat32(%#04x) = %v, want %v", h, got, want)
		}
	}
	if !math.IsInf(float64(HalfToFloat32(0xfc00)), -1) || !math.IsNaN(float64(HalfToFloat32(0x7e00))) {
		t.Error("infinity or NaN not preserved")
	}
	if math.Signbit(float64(HalfToFloat32(0x8000))) != true {
		t.Error("negative zero lost its sign")
	}
}

func writeRaw(t *testing.T, header string, data []byte) string {
	t.Helper()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, append(append(n[:], header...), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadRejectsMalformedHeaders(t *testing.T) {
	cases := []struct {
		name, header string
		data         int
		want         string
	}{
		{"bad json", `{"a":`, 0, "header JSON"},
		{"dtype", `{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, 1, `unsupported dtype "I8"`},
		{"span mismatch", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4, "needs 8 bytes"},
		{"out of range", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4, "outside 4 data bytes"},
		{"negative dim", `{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, 0, "invalid shape"},
		{"huge shape", `{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}`, 0, "invalid shape"},
		{"overlap", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, "overlap"},
		{"gap", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, "gap"},
		{"trailing", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8, "after its last tensor"},
		{"metadata type", `{"__metadata__":{"a":1}}`, 0, "string values"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadSafetensors(writeRaw(t, tc.header, make([]byte, tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("header length beyond file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.safetensors")
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], 1<<40)
		os.WriteFile(path, append(n[:], "{}"...), 0o644)
		if _, _, err := LoadSafetensors(path); err == nil || !strings.Contains(err.Error(), "does not fit") {
			t.Fatalf("got %v", err)
		}
	})
}

// FuzzSafetensorsHeader feeds arbitrary header bytes and data lengths to
// the validator: it must never panic, and whatever it accepts must tile
// the data section exactly.
func FuzzSafetensorsHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`), int64(8))
	f.Add([]byte(`{"__metadata__":{"k":"v"},"x":{"dtype":"BF16","shape":[1,3],"data_offsets":[0,6]}}`), int64(6))
	f.Add([]byte(`{"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`), int64(8))
	f.Add([]byte(`{"a":{"dtype":"F16","shape":[9223372036854775807,2],"data_offsets":[0,4]}}`), int64(4))
	f.Fuzz(func(t *testing.T, hdr []byte, dataLen int64) {
		if dataLen < 0 || dataLen > 1<<40 {
			return
		}
		infos, _, err := parseSafetensorsHeader(hdr, dataLen)
		if err != nil {
			return
		}
		var at int64
		for _, in := range infos {
			if in.begin != at || in.end < in.begin {
				t.Fatalf("accepted non-tiling offsets %+v", infos)
			}
			at = in.end
		}
		if at != dataLen {
			t.Fatalf("accepted header covering %d of %d bytes", at, dataLen)
		}
	})
}

func BenchmarkSaveLoadSafetensors(b *testing.B) {
	sd := StateDict{"w": {Shape: []int{1 << 20}, Data: make([]float32, 1<<20)}}
	path := filepath.Join(b.TempDir(), "b.safetensors")
	b.SetBytes(4 << 20)
	for b.Loop() {
		if err := SaveSafetensors(path, sd, nil); err != nil {
			b.Fatal(err)
		}
		if _, _, err := LoadSafetensors(path); err != nil {
			b.Fatal(err)
		}
	}
}
