package pickle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// norm mirrors norm() in scripts/fixtures/pickle_lmdb.py.
func norm(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x
	case int64:
		return map[string]any{"int": fmt.Sprint(x)}
	case *big.Int:
		return map[string]any{"int": x.String()}
	case []byte:
		return map[string]any{"bytes": hex.EncodeToString(x)}
	case *NDArray:
		data, err := x.Float64()
		if err != nil {
			t.Fatal(err)
		}
		shape := make([]any, len(x.Shape))
		for i, d := range x.Shape {
			shape[i] = d
		}
		return map[string]any{"ndarray": x.Dtype.String(), "shape": shape, "data": data}
	case Tuple:
		out := []any{}
		for _, e := range x {
			out = append(out, norm(t, e))
		}
		return map[string]any{"tuple": out}
	case *List:
		return norm(t, x.Items)
	case []any:
		out := []any{}
		for _, e := range x {
			out = append(out, norm(t, e))
		}
		return out
	case *Set:
		var s []string
		for _, e := range x.Items {
			s = append(s, fmt.Sprint(e))
		}
		sort.Strings(s)
		return map[string]any{"set": s}
	case *Dict:
		out := []any{}
		for i, k := range x.Keys() {
			out = append(out, []any{norm(t, k), norm(t, x.Values()[i])})
		}
		return map[string]any{"dict": out}
	}
	t.Fatalf("unexpected decoded type %T", v)
	return nil
}

func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 scripts/fixtures/pickle_lmdb.py)", err)
	}
	return b
}

func TestUnpickleMatchesPython(t *testing.T) {
	var expected map[string]any
	if err := json.Unmarshal(readFixture(t, "values.json"), &expected); err != nil {
		t.Fatal(err)
	}
	for proto := 0; proto <= 5; proto++ {
		t.Run(fmt.Sprintf("protocol%d", proto), func(t *testing.T) {
			v, err := Unpickle(readFixture(t, fmt.Sprintf("values_p%d.pkl", proto)), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := jsonRoundTrip(t, norm(t, v))
			if !reflect.DeepEqual(got, expected["values"]) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(expected["values"])
				t.Fatalf("decoded value differs from Python's\n got %s\nwant %s", gb, wb)
			}
			d := v.(*Dict)
			if !d.Ordered {
				t.Error("OrderedDict not marked Ordered")
			}
			if x, _ := d.GetString("tuple"); x == nil {
				t.Error("GetString(tuple) found nothing")
			}
			if x, _ := d.Get(Tuple{int64(1), "k"}); x != "tuple key" {
				t.Errorf("tuple key lookup = %v", x)
			}
			if x, _ := d.Get(7.0); x != "int key" {
				t.Errorf("7.0 must find the key 7 as in Python, got %v", x)
			}
		})
	}
	t.Run("numpy._core", func(t *testing.T) {
		v, err := Unpickle(readFixture(t, "numpy2_core.pkl"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonRoundTrip(t, norm(t, v)); !reflect.DeepEqual(got, expected["numpy2_core"]) {
			t.Fatalf("got %v", got)
		}
	})
}

func TestStrictRefusesUnknownGlobals(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"os.system via GLOBAL", []byte("cposix\nsystem\n(S'echo hi'\ntR."), "posix.system"},
		{"builtins.eval via STACK_GLOBAL", []byte("\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R."), "builtins.eval"},
		{"argparse object", readFixture(t, "namespace.pkl"), "argparse.Namespace"},
		{"INST", []byte("(S'ls'\nios\nsystem\n."), "os.system"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unpickle(tc.data, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error = %v, want ErrUnsupported naming %s", err, tc.want)
			}
		})
	}
}

func TestLenientKeepsObjectsInert(t *testing.T) {
	v, err := Unpickle(readFixture(t, "namespace.pkl"), &Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := v.(*Dict).GetString("config")
	obj, ok := cfg.(*Object)
	if !ok || obj.Class.String() != "argparse.Namespace" {
		t.Fatalf("config = %#v", cfg)
	}
	state, ok := obj.State.(*Dict)
	if !ok {
		t.Fatalf("state = %#v", obj.State)
	}
	if name, _ := state.GetString("name"); name != "vilbert" {
		t.Errorf("state name = %v", name)
	}
	// Even in lenient mode a REDUCE of os.system only records data.
	v, err = Unpickle([]byte("cposix\nsystem\n(S'echo hi'\ntR."), &Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if o := v.(*Object); o.Class.Name != "system" || o.Args[0] != "echo hi" {
		t.Errorf("got %#v", o)
	}
}

func TestMalformedInputIsAnError(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "before STOP"},
		{"no stop", "\x80\x02K\x01", "before STOP"},
		{"bytes length beyond input", "\x80\x03B\xff\xff\xff\x7f", "exceeds"},
		{"bytes8 huge", "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xff", "exceeds"},
		{"frame huge", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f", "exceeds"},
		{"memo miss", "\x80\x02j\xff\xff\xff\xff.", "memo key"},
		{"pop empty", "0.", "underflow"},
		{"stop with two", "K\x01K\x02.", "2 values"},
		{"setitems on list", "](K\x01K\x02u.", "SETITEM on list"},
		{"unhashable key", "}]K\x01s.", "unhashable"},
		{"tuple1 underflow", "\x85.", "underflow"},
		{"bad protocol", "\x80\x09N.", "protocol 9"},
		{"unknown opcode", "\xffN.", "unknown opcode"},
		{"huge long", "\x8b\x00\x00\x01\x00" + strings.Repeat("\x01", 1<<16) + ".", "larger than"},
		{"array length mismatch", "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01K\x05\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04abcdtb.", "needs 20 bytes"},
		{"object dtype", "cnumpy\ndtype\nX\x02\x00\x00\x00O8\x85R.", ""},
		{"out-of-band buffer", "\x80\x05\x97.", "out-of-band"},
		{"persistent id without loader", "\x80\x02K\x01Q.", "persistent id"},
		{"reduce non-tuple", "c_codecs\nencode\nK\x01R.", "must be a tuple"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unpickle([]byte(tc.data), nil)
			if tc.want == "" {
				return // must only not panic
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	many := bytes.Repeat([]byte("N"), 100)
	if _, err := Unpickle(append(many, '.'), &Options{MaxStack: 10}); err == nil || !strings.Contains(err.Error(), "stack exceeds") {
		t.Errorf("stack limit: %v", err)
	}
	memo := []byte("N")
	for i := 0; i < 20; i++ {
		memo = append(memo, 'q', byte(i))
	}
	if _, err := Unpickle(append(memo, '.'), &Options{MaxMemo: 10}); err == nil || !strings.Contains(err.Error(), "memo exceeds") {
		t.Errorf("memo limit: %v", err)
	}
	marks := bytes.Repeat([]byte("("), 100)
	if _, err := Unpickle(marks, &Options{MaxMarks: 50}); err == nil || !strings.Contains(err.Error(), "MARKs nested") {
		t.Errorf("mark limit: %v", err)
	}
	// A tuple key nested past the hashing depth limit fails instead of
	// recursing without bound.
	deep := []byte("}N")
	for i := 0; i < 100; i++ {
		deep = append(deep, 0x85)
	}
	deep = append(deep, "Ns."...)
	if _, err := Unpickle(deep, nil); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("key depth: %v", err)
	}
}

func TestSharedTupleKeyDoesNotExplode(t *testing.T) {
	// ((x, x), (x, x)) ... 40 levels deep is 2^40 leaves through sharing.
	data := []byte("}N")
	for i := 0; i < 40; i++ {
		data = append(data, '2', 0x86)
	}
	data = append(data, "Ns."...)
	if _, err := Unpickle(data, nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error = %v, want a key size error", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	d := NewDict()
	d.Set("features", Float32Array([]float32{1, -2.5, 3e-8, math.MaxFloat32}, 2, 2))
	d.Set("objects", Int64Array([]int64{-1, 1 << 40}, 2))
	d.Set("ints", []any{int64(0), int64(255), int64(256), int64(65536), int64(-1), int64(1 << 40), int64(math.MinInt64)})
	d.Set("t", Tuple{"x", 1.5, nil, true, false, []byte("raw")})
	d.Set("keys", &List{Items: []any{[]byte("2345"), []byte("02345")}})
	d.Set("empty", Tuple{Tuple{}, []any{}, NewDict(), ""})
	b, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Unpickle(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonRoundTrip(t, norm(t, v)), jsonRoundTrip(t, norm(t, d)); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip\n got %v\nwant %v", got, want)
	}
	if _, err := Marshal(map[string]int{}); err == nil {
		t.Error("Marshal of an unsupported type must fail")
	}
}

func TestHalfToFloat32(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.33325195}, {0x7bff, 65504},
		{0x0001, 5.9604645e-08}, {0x03ff, 6.097555e-05}, {0x7c00, float32(math.Inf(1))},
	}
	for _, tc := range tests {
		if got := HalfToFloat32(tc.h); got != tc.want {
			t.Errorf("HalfToFloat32(%#04x) = %g, want %g", tc.h, got, tc.want)
		}
	}
	if !math.IsNaN(float64(HalfToFloat32(0x7e00))) {
		t.Error("0x7e00 must be NaN")
	}
}

func TestDecodeLong(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, "0"}, {[]byte{0xff}, "-1"}, {[]byte{0x80, 0x00}, "128"}, {[]byte{0x00, 0x80}, "-32768"},
		{[]byte{1, 0, 0, 0, 0, 0, 0, 0, 0x40}, "1180591620717411303425"},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0x80, 0xff}, "-9223372036854775808"},
	}
	for _, tc := range tests {
		if got := fmt.Sprint(decodeLong(tc.in)); got != tc.want {
			t.Errorf("decodeLong(% x) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzUnpickle(f *testing.F) {
	for _, name := range []string{"values_p0.pkl", "values_p2.pkl", "values_p4.pkl", "values_p5.pkl", "namespace.pkl", "numpy2_core.pkl"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Add([]byte("cposix\nsystem\n(S'x'\ntR."), true)
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		v, err := Unpickle(data, &Options{Lenient: lenient, MaxStack: 1 << 16, MaxMemo: 1 << 16})
		if err != nil {
			return
		}
		// Whatever decodes must be usable without panics.
		if d, ok := v.(*Dict); ok {
			for _, x := range d.Values() {
				if a, ok := x.(*NDArray); ok && a.Dtype != nil {
					a.Float32()
					a.Float64()
				}
			}
		}
	})
}
