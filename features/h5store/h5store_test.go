package h5store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"mmc/features"
)

type expectedRecord struct {
	ID          string    `json:"id"`
	NumBoxes    int       `json:"num_boxes"`
	Features    []float64 `json:"features"`
	Boxes       []float64 `json:"boxes"`
	ImageWidth  int       `json:"image_width"`
	ImageHeight int       `json:"image_height"`
	Objects     []int64   `json:"objects"`
	ClsProb     []float64 `json:"cls_prob"`
}

type expectedFile struct {
	Regions         int              `json:"regions"`
	Dim             int              `json:"dim"`
	Extractor       string           `json:"extractor"`
	ExtractorParams map[string]any   `json:"extractor_params"`
	Records         []expectedRecord `json:"records"`
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestReadH5py reads files h5py wrote (scripts/fixtures/data_layer.py):
// float32, float64 and float16 data, fixed/variable/integer ids. Values
// must equal numpy's astype(float32) bit for bit.
func TestReadH5py(t *testing.T) {
	raw, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]expectedFile
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	for name, ef := range want {
		t.Run(name, func(t *testing.T) {
			s, err := Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Regions() != ef.Regions || s.Dim() != ef.Dim || s.Len() != len(ef.Records) {
				t.Fatalf("R=%d D=%d N=%d, want %d %d %d", s.Regions(), s.Dim(), s.Len(), ef.Regions, ef.Dim, len(ef.Records))
			}
			if s.Extractor() != ef.Extractor {
				t.Errorf("extractor %q, want %q", s.Extractor(), ef.Extractor)
			}
			params, err := s.ExtractorParams()
			if err != nil || !reflect.DeepEqual(params, ef.ExtractorParams) {
				t.Errorf("params %v (%v), want %v", params, err, ef.ExtractorParams)
			}
			var ids []string
			for _, er := range ef.Records {
				ids = append(ids, er.ID)
				r, err := s.Get(er.ID)
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Validate(); err != nil {
					t.Fatal(err)
				}
				if r.Detected != 0 {
					t.Errorf("%s: Detected %d from a file without /num_detected, want 0 (unknown)", er.ID, r.Detected)
				}
				if r.NumBoxes != er.NumBoxes || r.ImageW != er.ImageWidth || r.ImageH != er.ImageHeight || r.Dim != ef.Dim {
					t.Errorf("%s: header %d boxes %dx%d, want %d boxes %dx%d", er.ID, r.NumBoxes, r.ImageW, r.ImageH, er.NumBoxes, er.ImageWidth, er.ImageHeight)
				}
				if !reflect.DeepEqual(r.Features, toF32(er.Features)) {
					t.Errorf("%s: features %v, want %v", er.ID, r.Features, er.Features)
				}
				if !reflect.DeepEqual(r.Boxes, toF32(er.Boxes)) {
					t.Errorf("%s: boxes %v, want %v", er.ID, r.Boxes, er.Boxes)
				}
				if er.Objects != nil {
					if !reflect.DeepEqual(r.Objects, er.Objects) || !reflect.DeepEqual(r.ClsProb, toF32(er.ClsProb)) {
						t.Errorf("%s: objects %v cls %v, want %v %v", er.ID, r.Objects, r.ClsProb, er.Objects, er.ClsProb)
					}
				}
			}
			if !reflect.DeepEqual(s.IDs(), ids) {
				t.Errorf("IDs %v, want %v", s.IDs(), ids)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notH5 := filepath.Join(dir, "x.h5")
	if err := os.WriteFile(notH5, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.h5"), "missing.h5: no such file"},
		{notH5, "x.h5 is not an HDF5 file"},
		{"testdata/bad_types.h5", "testdata/bad_types.h5: /features has type class 3, want 1 (float)"},
	}
	for _, tc := range tests {
		if _, err := Open(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func sampleRecords(n, regions, dim int, withExtras bool) []*features.Record {
	recs := make([]*features.Record, n)
	for i := range recs {
		nb := (i * 7) % (regions + 1)
		r := &features.Record{ID: fmt.Sprintf("%05d", i*37), Dim: dim, NumBoxes: nb, ImageW: 300 + i, ImageH: 200 + 2*i,
			Features: make([]float32, nb*dim), Boxes: make([]float32, nb*4)}
		for j := range r.Features {
			r.Features[j] = float32(math.Sin(float64(i*1000+j))) * 5
		}
		for j := range r.Boxes {
			r.Boxes[j] = float32(i + j)
		}
		if withExtras {
			r.Objects = make([]int64, nb)
			r.ClsProb = make([]float32, nb*3)
			for j := range r.Objects {
				r.Objects[j] = int64(i*10 + j)
			}
			for j := range r.ClsProb {
				r.ClsProb[j] = float32(j) / 10
			}
			r.Detected = nb / 2 // some images 0: none passed the threshold
		}
		recs[i] = r
	}
	return recs
}

func writeStore(t *testing.T, path string, opts *Options, recs []*features.Record) {
	t.Helper()
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s visible before Close (%v)", path, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		opts   Options
		extras bool
	}{
		{"defaults", 5, Options{}, false},
		{"more images than one growth step, no gzip", growBy + 3, Options{Regions: 6, Compression: NoCompression}, false},
		{"objects and class probabilities", 4, Options{Regions: 5, Compression: 9, Extractor: "synthetic", ExtractorParams: map[string]any{"seed": 1.0}}, true},
		{"empty store", 0, Options{Regions: 3, Dim: 8}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "features.h5")
			regions := tc.opts.Regions
			if regions == 0 {
				regions = DefaultRegions
			}
			recs := sampleRecords(tc.n, regions, 16, tc.extras)
			opts := &tc.opts
			if reflect.ValueOf(tc.opts).IsZero() {
				opts = nil // nil options are the zero Options
			}
			writeStore(t, path, opts, recs)
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Len() != tc.n || s.Regions() != regions {
				t.Fatalf("Len %d Regions %d, want %d %d", s.Len(), s.Regions(), tc.n, regions)
			}
			for i, want := range recs {
				if s.IDs()[i] != want.ID {
					t.Fatalf("IDs()[%d] = %q, want %q", i, s.IDs()[i], want.ID)
				}
				got, err := s.Get(want.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("record %s:\n got  %+v\n want %+v", want.ID, got, want)
				}
			}
			if s.Extractor() != tc.opts.Extractor {
				t.Errorf("extractor %q", s.Extractor())
			}
			if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(nope) = %v, want ErrNotFound", err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v (%v)", fi.Mode(), err)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
			if len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestNumDetected: /num_detected is written only when some record has a
// Detected count, and reads back per image; without it Detected is 0.
func TestNumDetected(t *testing.T) {
	for _, tc := range []struct {
		name     string
		detected []int
		wantSet  bool
	}{
		{"detector counts", []int{3, 0, 1}, true},
		{"no counts", []int{0, 0, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.h5")
			recs := sampleRecords(len(tc.detected), 4, 2, false)
			for i, r := range recs {
				r.NumBoxes, r.Features, r.Boxes = 4, make([]float32, 4*2), make([]float32, 4*4)
				r.Detected = tc.detected[i]
			}
			writeStore(t, path, &Options{Regions: 4}, recs)
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.f.LinkExists("num_detected"); got != tc.wantSet {
				t.Errorf("/num_detected present = %v, want %v", got, tc.wantSet)
			}
			for i, want := range tc.detected {
				r, err := s.Get(recs[i].ID)
				if err != nil {
					t.Fatal(err)
				}
				if r.Detected != want {
					t.Errorf("%s: Detected %d, want %d", r.ID, r.Detected, want)
				}
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	rec := func(id string, nb, dim int) *features.Record {
		return &features.Record{ID: id, Dim: dim, NumBoxes: nb, Features: make([]float32, nb*dim), Boxes: make([]float32, nb*4)}
	}
	tests := []struct {
		name string
		recs []*features.Record
		want string
	}{
		{"too many regions", []*features.Record{rec("1", 4, 2)}, "\"1\": 4 regions, the store holds at most 3"},
		{"duplicate id", []*features.Record{rec("1", 1, 2), rec("1", 1, 2)}, "id \"1\" written twice"},
		{"dim changes", []*features.Record{rec("1", 1, 2), rec("2", 1, 3)}, "\"2\": dim 3, the store has dim 2"},
		{"invalid record", []*features.Record{{ID: "1", Dim: 2, NumBoxes: 1, Features: []float32{1}}}, "\"1\": 1 values"},
		{"empty id", []*features.Record{rec("", 1, 2)}, "empty id"},
		{"more detected than regions", []*features.Record{{ID: "1", Dim: 2, NumBoxes: 1, Features: make([]float32, 2), Boxes: make([]float32, 4), Detected: 2}}, "\"1\": 2 detected regions, outside 0…num_boxes 1"},
		{"objects appear later", []*features.Record{rec("1", 1, 2), {ID: "2", Dim: 2, NumBoxes: 1, Features: make([]float32, 2), Boxes: make([]float32, 4), Objects: []int64{3}}}, "objects present=true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.h5")
			w, err := Create(path, &Options{Regions: 3})
			if err != nil {
				t.Fatal(err)
			}
			var putErr error
			for _, r := range tc.recs {
				if putErr = w.Put(r); putErr != nil {
					break
				}
			}
			if putErr == nil || !strings.Contains(putErr.Error(), tc.want) || !strings.Contains(putErr.Error(), path) {
				t.Fatalf("Put error %v, want %q naming the file", putErr, tc.want)
			}
			if err := w.Close(); err == nil {
				t.Fatal("Close after a failed Put must fail")
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("store committed despite the error (%v)", err)
			}
			if left, _ := os.ReadDir(filepath.Dir(path)); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
	if _, err := Create(filepath.Join(t.TempDir(), "f.h5"), &Options{Compression: 12}); err == nil {
		t.Error("gzip level 12 accepted")
	}
}

func TestAbortKeepsOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.h5")
	writeStore(t, path, &Options{Regions: 2}, sampleRecords(2, 2, 4, false))
	w, err := Create(path, &Options{Regions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Put(sampleRecords(1, 2, 4, false)[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != 2 {
		t.Fatalf("old store replaced: %d images", s.Len())
	}
}

func TestConcurrentGet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.h5")
	recs := sampleRecords(20, 10, 32, false)
	writeStore(t, path, &Options{Regions: 10}, recs)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				want := recs[(i*3+g)%len(recs)]
				got, err := s.Get(want.ID)
				if err != nil || !reflect.DeepEqual(got.Features, want.Features) {
					errs <- fmt.Errorf("Get(%s): %v", want.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestH5pyReadsGoFile checks the other direction: h5py (when installed)
// opens a Go-written store and sees the documented layout.
func TestH5pyReadsGoFile(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import h5py, numpy").Run(); err != nil {
		t.Skipf("h5py not available (%s -c 'import h5py' failed: %v); skipping the h5py read-back", py, err)
	}
	path := filepath.Join(t.TempDir(), "go.h5")
	recs := sampleRecords(3, 4, 6, true)
	writeStore(t, path, &Options{Regions: 4, Extractor: "go-test", ExtractorParams: map[string]any{"k": "v"}}, recs)
	script := `
import h5py, json, sys
with h5py.File(sys.argv[1], "r") as f:
    ids = list(f["ids"].asstr()[:])  # the package doc's example
    out = {"ids": ids,
           "shapes": {k: list(f[k].shape) for k in f},
           "dtypes": {k: f[k].dtype.str for k in f if k != "ids"},
           "chunks": list(f["features"].chunks), "compression": f["features"].compression,
           "attrs": {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()},
           "num_boxes": f["num_boxes"][:].tolist(), "w": f["image_width"][:].tolist(),
           "num_detected": f["num_detected"][:].tolist(),
           "feat": [f["features"][i, :n].ravel().tolist() for i, n in enumerate(f["num_boxes"][:])],
           "pad": float(abs(f["features"][0, f["num_boxes"][0]:]).sum())}
print(json.dumps(out))
`
	outb, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("h5py failed: %v\n%s", err, outb)
	}
	var got struct {
		IDs         []string          `json:"ids"`
		Shapes      map[string][]int  `json:"shapes"`
		Dtypes      map[string]string `json:"dtypes"`
		Chunks      []int             `json:"chunks"`
		Compression string            `json:"compression"`
		Attrs       map[string]string `json:"attrs"`
		NumBoxes    []int             `json:"num_boxes"`
		NumDetected []int             `json:"num_detected"`
		W           []int             `json:"w"`
		Feat        [][]float64       `json:"feat"`
		Pad         float64           `json:"pad"`
	}
	if err := json.Unmarshal(outb, &got); err != nil {
		t.Fatalf("%v: %s", err, outb)
	}
	wantShapes := map[string][]int{"ids": {3}, "features": {3, 4, 6}, "boxes": {3, 4, 4}, "num_boxes": {3},
		"image_width": {3}, "image_height": {3}, "objects": {3, 4}, "cls_prob": {3, 4, 3}, "num_detected": {3}}
	if !reflect.DeepEqual(got.Shapes, wantShapes) {
		t.Errorf("shapes %v, want %v", got.Shapes, wantShapes)
	}
	wantTypes := map[string]string{"features": "<f4", "boxes": "<f4", "num_boxes": "<i4", "image_width": "<i4",
		"image_height": "<i4", "objects": "<i8", "cls_prob": "<f4", "num_detected": "<i4"}
	if !reflect.DeepEqual(got.Dtypes, wantTypes) {
		t.Errorf("dtypes %v, want %v", got.Dtypes, wantTypes)
	}
	if !reflect.DeepEqual(got.Chunks, []int{1, 4, 6}) || got.Compression != "gzip" {
		t.Errorf("chunks %v compression %q", got.Chunks, got.Compression)
	}
	if got.Attrs["format"] != Format || got.Attrs["extractor"] != "go-test" || got.Attrs["extractor_params"] != `{"k":"v"}` {
		t.Errorf("attrs %v", got.Attrs)
	}
	for i, r := range recs {
		if got.IDs[i] != r.ID || got.NumBoxes[i] != r.NumBoxes || got.NumDetected[i] != r.Detected || got.W[i] != r.ImageW || !reflect.DeepEqual(toF32(got.Feat[i]), r.Features) {
			t.Errorf("image %d: h5py sees %s %d %d %v", i, got.IDs[i], got.NumBoxes[i], got.W[i], got.Feat[i])
		}
	}
	if got.Pad != 0 {
		t.Errorf("padding rows sum to %v, want 0", got.Pad)
	}
}

// benchStore writes n images of MMF's shape (100 regions × 2048) with
// detector-like features: non-negative, many zeros, a few decimals.
func benchStore(b *testing.B, n int) (string, []*features.Record) {
	b.Helper()
	recs := make([]*features.Record, n)
	for i := range recs {
		r := &features.Record{ID: fmt.Sprint(10000 + i), Dim: 2048, NumBoxes: 100, ImageW: 500, ImageH: 400,
			Features: make([]float32, 100*2048), Boxes: make([]float32, 400)}
		for j := range r.Features {
			if (i+j)%3 == 0 {
				r.Features[j] = float32((i*31+j*17)%1000) / 100
			}
		}
		recs[i] = r
	}
	path := filepath.Join(b.TempDir(), "bench.h5")
	w, err := Create(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Put(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return path, recs
}

// BenchmarkGet reads one [100, 2048] image (gzip level 4) by id.
func BenchmarkGet(b *testing.B) {
	path, recs := benchStore(b, 16)
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(100 * 2048 * 4)
	i := 0
	for b.Loop() {
		if _, err := s.Get(recs[i%len(recs)].ID); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPut writes one [100, 2048] image (gzip level 4).
func BenchmarkPut(b *testing.B) {
	_, recs := benchStore(b, 4)
	w, err := Create(filepath.Join(b.TempDir(), "put.h5"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(100 * 2048 * 4)
	i := 0
	for b.Loop() {
		r := *recs[i%len(recs)]
		r.ID = fmt.Sprint(i)
		if err := w.Put(&r); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// TestCorruptFiles feeds truncated and damaged copies of an h5py file to
// Open and Get: each must fail with an error or read without crashing
// (a flipped byte inside raw data is not detectable), and a truncated
// file must never load silently in full.
func TestCorruptFiles(t *testing.T) {
	data, err := os.ReadFile("testdata/h5py_f4.h5")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	readAll := func(path string) error {
		s, err := Open(path)
		if err != nil {
			return err
		}
		defer s.Close()
		for _, id := range s.IDs() {
			if _, err := s.Get(id); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range []int{0, 8, 100, 512, 2048, 4096, len(data) / 2, len(data) - 100} {
		path := filepath.Join(dir, fmt.Sprintf("trunc%d.h5", n))
		if err := os.WriteFile(path, data[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := readAll(path); err == nil {
			t.Errorf("file truncated to %d of %d bytes read without error", n, len(data))
		}
	}
	for i := range 16 {
		off := (i*7919 + 13) % len(data)
		c := append([]byte(nil), data...)
		for k := off; k < off+8 && k < len(c); k++ {
			c[k] ^= 0xA5
		}
		path := filepath.Join(dir, fmt.Sprintf("flip%d.h5", off))
		if err := os.WriteFile(path, c, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := readAll(path); err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("error does not name the file: %v", err)
		}
	}
}

// BenchmarkGetVsH5py reads the same [100, 2048] gzip images with Get and
// with h5py (f["features"][i, :n] plus boxes, in a python3 subprocess
// timed on its own) and reports go-ns/read, h5py-ns/read and their ratio.
func BenchmarkGetVsH5py(b *testing.B) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import h5py").Run(); err != nil {
		b.Skipf("h5py not available: %v", err)
	}
	path, recs := benchStore(b, 16)
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	i := 0
	for b.Loop() {
		if _, err := s.Get(recs[i%len(recs)].ID); err != nil {
			b.Fatal(err)
		}
		i++
	}
	goNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	script := `
import h5py, sys, time
reads = int(sys.argv[2])
with h5py.File(sys.argv[1], "r") as f:
    feats, boxes, nb = f["features"], f["boxes"], f["num_boxes"][:]
    t = time.perf_counter()
    for k in range(reads):
        i = k % len(nb)
        feats[i, :nb[i]]; boxes[i, :nb[i]]
    print((time.perf_counter() - t) / reads * 1e9)
`
	out, err := exec.Command(py, "-c", script, path, fmt.Sprint(max(b.N, 16))).Output()
	if err != nil {
		b.Fatalf("h5py: %v", err)
	}
	var pyNs float64
	if _, err := fmt.Sscan(string(out), &pyNs); err != nil {
		b.Fatalf("h5py output %q: %v", out, err)
	}
	b.ReportMetric(pyNs, "h5py-ns/read")
	b.ReportMetric(goNs/pyNs, "ratio")
}
