package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/pickle"
)

type expectedTensor struct {
	Shape []int     `json:"shape"`
	Dtype string    `json:"dtype"`
	Data  []float64 `json:"data"`
}

func loadExpected(t *testing.T) map[string]map[string]expectedTensor {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 scripts/fixtures/pickle_lmdb.py)", err)
	}
	var e map[string]map[string]expectedTensor
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func isFloat(dtype string) bool {
	switch dtype {
	case "torch.float32", "torch.float16", "torch.bfloat16", "torch.float64":
		return true
	}
	return false
}

// checkAgainst compares sd with the tensors torch saved, exactly: every
// conversion to float32 here is the one torch's .float() makes.
func checkAgainst(t *testing.T, sd checkpoint.StateDict, want map[string]expectedTensor, ints bool, strip string) {
	t.Helper()
	n := 0
	for key, e := range want {
		arr, ok := sd[strings.TrimPrefix(key, strip)]
		if !isFloat(e.Dtype) && !ints {
			if ok {
				t.Errorf("%s (%s) loaded without Options.Ints", key, e.Dtype)
			}
			continue
		}
		n++
		if !ok {
			t.Errorf("%s missing (have %v)", key, sd.Keys())
			continue
		}
		if err := arr.Check(key); err != nil {
			t.Error(err)
		}
		if !reflect.DeepEqual(arr.Shape, append([]int{}, e.Shape...)) {
			t.Errorf("%s shape %v, want %v", key, arr.Shape, e.Shape)
		}
		if len(arr.Data) != len(e.Data) {
			t.Errorf("%s has %d values, want %d", key, len(arr.Data), len(e.Data))
			continue
		}
		for i := range arr.Data {
			if float64(arr.Data[i]) != e.Data[i] {
				t.Errorf("%s[%d] = %v, want %v", key, i, arr.Data[i], e.Data[i])
				break
			}
		}
	}
	if len(sd) != n {
		t.Errorf("loaded %d tensors, want %d: %v", len(sd), n, sd.Keys())
	}
}

func TestLoadMatchesTorch(t *testing.T) {
	want := loadExpected(t)
	tests := []struct {
		file  string
		opts  Options
		want  string
		ints  bool
		strip string
	}{
		{"state_zip.pt", Options{}, "state", false, ""},
		{"state_legacy.pt", Options{}, "state", false, ""},
		{"state_zip.pt", Options{Ints: true}, "state", true, ""},
		{"state_legacy.pt", Options{Ints: true, StripPrefixes: []string{"module."}}, "state", true, "module."},
		{"params_zip.pt", Options{}, "params", false, ""},
		{"mmf_zip.pth", Options{Lenient: true}, "state", false, ""},
		{"mmf_legacy.pth", Options{Lenient: true, Key: "model"}, "state", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			sd, err := Load(filepath.Join("testdata", tc.file), &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkAgainst(t, sd, want[tc.want], tc.ints, tc.strip)
		})
	}
}

func TestNestedStateDict(t *testing.T) {
	sd, err := Load("testdata/nested.pt", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := sd["a.w"]; a == nil || !reflect.DeepEqual(a.Data, []float32{1, 1}) {
		t.Fatalf("got %v", sd.Keys())
	}
}

func TestStripPrefixes(t *testing.T) {
	tests := []struct {
		key      string
		prefixes []string
		want     string
	}{
		{"module.model.bert.x", []string{"module.", "model."}, "bert.x"},
		{"model.module.x", []string{"module.", "model."}, "x"},
		{"bert.x", []string{"module."}, "bert.x"},
		{"module.x", nil, "module.x"},
		{"x", []string{""}, "x"},
	}
	for _, tc := range tests {
		if got := stripPrefixes(tc.key, tc.prefixes); got != tc.want {
			t.Errorf("stripPrefixes(%q, %q) = %q, want %q", tc.key, tc.prefixes, got, tc.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	zip, err := os.ReadFile("testdata/state_zip.pt")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := os.ReadFile("testdata/state_legacy.pt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string
		data []byte
		opts Options
		want string
	}{
		{"torchscript", "torchscript.pt", nil, Options{}, "TorchScript"},
		{"config object, strict", "mmf_zip.pth", nil, Options{}, "argparse.Namespace"},
		{"whole module, strict", "whole_module.pt", nil, Options{}, "torch.nn.modules.linear.Linear"},
		{"whole module, lenient", "whole_module.pt", nil, Options{Lenient: true}, "not a dict of tensors"},
		{"missing key", "mmf_zip.pth", nil, Options{Lenient: true, Key: "model.nope"}, `no key "nope"`},
		{"not a checkpoint", "", []byte("hello world, not a checkpoint"), Options{}, "not a torch.save file"},
		{"truncated zip", "", zip[:len(zip)/2], Options{}, "zip"},
		{"truncated legacy", "", legacy[:len(legacy)-100], Options{}, "bytes"},
		{"legacy without storages", "", legacy[:1580], Options{}, "storage"},
		{"plain pickle", "", []byte("\x80\x02}q\x00."), Options{}, "magic number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.file != "" {
				_, err = Load(filepath.Join("testdata", tc.file), &tc.opts)
			} else {
				_, err = Decode(tc.data, &tc.opts)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	_, err = Load("testdata/mmf_zip.pth", nil)
	if !errors.Is(err, pickle.ErrUnsupported) || !strings.Contains(err.Error(), "Lenient") {
		t.Errorf("strict error should be ErrUnsupported and suggest Lenient: %v", err)
	}
	if _, err := Load("testdata/does_not_exist.pt", nil); err == nil || !strings.Contains(err.Error(), "does_not_exist.pt") {
		t.Errorf("missing file: %v", err)
	}
}

func TestMaterializeViews(t *testing.T) {
	s := &storage{dt: storageTypes["FloatStorage"], key: "0", numel: 6, data: make([]byte, 24)}
	for i := 0; i < 6; i++ {
		s.data[4*i+2], s.data[4*i+3] = 0x80|byte(i<<4), 0x3f // 1 + i/8 as float32 bits 0x3f80_0000 + i<<20
	}
	tests := []struct {
		name         string
		offset       int
		size, stride []int
		want         []float32
		err          string
	}{
		{"contiguous", 0, []int{2, 3}, []int{3, 1}, []float32{1, 1.125, 1.25, 1.375, 1.5, 1.625}, ""},
		{"transposed", 0, []int{3, 2}, []int{1, 3}, []float32{1, 1.375, 1.125, 1.5, 1.25, 1.625}, ""},
		{"offset stride", 1, []int{2}, []int{3}, []float32{1.125, 1.5}, ""},
		{"broadcast", 2, []int{2, 2}, []int{0, 1}, []float32{1.25, 1.375, 1.25, 1.375}, ""},
		{"empty", 0, []int{0, 5}, []int{5, 1}, []float32{}, ""},
		{"past the end", 4, []int{3}, []int{1}, nil, "reaches element 6"},
		{"huge broadcast", 0, []int{1 << 22}, []int{0}, nil, "over a 6-element storage"},
	}
	for _, tc := range tests {
		arr, err := (&Tensor{storage: s, offset: tc.offset, size: tc.size, stride: tc.stride}).materialize()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(arr.Data, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, arr.Data, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"state_legacy.pt", "mmf_legacy.pth", "nested.pt", "params_zip.pt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		sd, err := Decode(data, &Options{Lenient: lenient, Ints: true})
		if err != nil {
			return
		}
		for k, a := range sd {
			if err := a.Check(k); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestRezippedArchive rewrites state_zip.pt with another archive prefix
// and deflate-compressed entries (torch writes stored ones), which must
// load the same.
func TestRezippedArchive(t *testing.T) {
	zr, err := zip.OpenReader("testdata/state_zip.pt")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		name := "some/other/prefix/" + strings.TrimPrefix(f.Name, "state_zip/")
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sd, err := Decode(buf.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, sd, loadExpected(t)["state"], false, "")
}
