package lmdbstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/PowerDNS/lmdb-go/lmdb"

	"mmc/features"
	"mmc/pickle"
)

// expectedImage is one entry of testdata/expected.json, written by
// scripts/fixtures/pickle_lmdb.py from the same arrays it pickled.
type expectedImage struct {
	Key             string    `json:"key"`
	NumBoxes        int       `json:"num_boxes"`
	Features        []float64 `json:"features"`
	BBox            []float64 `json:"bbox"`
	ImageWidth      int       `json:"image_width"`
	ImageHeight     int       `json:"image_height"`
	Objects         []int64   `json:"objects"`
	ClsProb         []float64 `json:"cls_prob"`
	TransformerBBox []float64 `json:"transformer_bbox"`
}

func loadExpected(t *testing.T) (mmf, vmt []expectedImage) {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 scripts/fixtures/pickle_lmdb.py)", err)
	}
	var e struct{ MMF, VMT []expectedImage }
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e.MMF, e.VMT
}

func sameFloats(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if float64(got[i]) != want[i] {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func checkRecord(t *testing.T, rec *features.Record, e expectedImage) {
	t.Helper()
	if rec.ID != e.Key || rec.NumBoxes != e.NumBoxes || rec.ImageW != e.ImageWidth || rec.ImageH != e.ImageHeight {
		t.Fatalf("record %q: id %q, %d boxes, %dx%d; want %q, %d, %dx%d", e.Key, rec.ID, rec.NumBoxes,
			rec.ImageW, rec.ImageH, e.Key, e.NumBoxes, e.ImageWidth, e.ImageHeight)
	}
	if rec.Detected != 0 {
		t.Fatalf("%s: Detected %d from a store without num_detected, want 0 (unknown)", e.Key, rec.Detected)
	}
	sameFloats(t, e.Key+" features", rec.Features, e.Features)
	sameFloats(t, e.Key+" bbox", rec.Boxes, e.BBox)
	if e.Objects != nil && !reflect.DeepEqual(rec.Objects, e.Objects) {
		t.Fatalf("%s objects = %v, want %v", e.Key, rec.Objects, e.Objects)
	}
	if e.ClsProb != nil {
		sameFloats(t, e.Key+" cls_prob", rec.ClsProb, e.ClsProb)
	} else if rec.ClsProb != nil {
		t.Fatalf("%s: cls_prob None decoded as %v", e.Key, rec.ClsProb)
	}
}

func TestReadPythonWrittenMMFStore(t *testing.T) {
	mmf, _ := loadExpected(t)
	for _, path := range []string{"testdata/mmf.lmdb", "testdata/mmf_single.lmdb"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			r, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			want := mmf
			if strings.Contains(path, "single") {
				want = mmf[:2]
			}
			var ids []string
			for _, e := range want {
				ids = append(ids, e.Key)
			}
			if !reflect.DeepEqual(r.IDs(), ids) {
				t.Fatalf("IDs = %v, want %v", r.IDs(), ids)
			}
			for _, e := range want {
				rec, err := r.Get(e.Key)
				if err != nil {
					t.Fatal(err)
				}
				checkRecord(t, rec, e)
			}
		})
	}
}

func TestMMFKeyLookup(t *testing.T) {
	r, err := Open("testdata/mmf.lmdb", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		in, key string
		image   bool
	}{
		{"img/02345.png", "2345", true},  // b"2345" first
		{"img/01234.png", "01234", true}, // b"1234" absent, falls back to b"01234"
		{"img/42953.png", "42953", true},
		{"02345", "2345", false},
		{"02345.npy", "2345", false},
		{"x_2345", "2345", false}, // MMF uses the part after the last "_"
		{"01234", "01234", false},
	}
	for _, tc := range tests {
		var rec *features.Record
		if tc.image {
			rec, err = r.GetForImage(tc.in)
		} else {
			rec, err = r.Get(tc.in)
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if rec.ID != tc.key {
			t.Errorf("%q found key %q, want %q", tc.in, rec.ID, tc.key)
		}
	}
	_, err = r.GetForImage("img/99999.png")
	if err == nil || !strings.Contains(err.Error(), `"99999"`) || !strings.Contains(err.Error(), "mmf.lmdb") {
		t.Errorf("missing image error = %v", err)
	}
}

func TestReadVilbertMultiTaskStore(t *testing.T) {
	_, vmt := loadExpected(t)
	r, err := Open("testdata/vmt.lmdb", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, e := range vmt {
		rec, err := r.Get(e.Key)
		if err != nil {
			t.Fatal(err)
		}
		checkRecord(t, rec, e)
	}
}

func TestPadRegionsMatchesTransformerBBox(t *testing.T) {
	mmf, vmt := loadExpected(t)
	const maxFeatures = 4
	for _, e := range append(mmf, vmt...) {
		rec := &features.Record{ID: e.Key, NumBoxes: e.NumBoxes, ImageW: e.ImageWidth, ImageH: e.ImageHeight}
		for _, f := range e.Features {
			rec.Features = append(rec.Features, float32(f))
		}
		for _, f := range e.BBox {
			rec.Boxes = append(rec.Boxes, float32(f))
		}
		rec.Dim = 8
		feats, boxes5, mask := features.PadRegions(rec, maxFeatures)
		n := min(e.NumBoxes, maxFeatures)
		if len(feats) != maxFeatures*8 || len(boxes5) != maxFeatures*5 || len(mask) != maxFeatures {
			t.Fatalf("%s: lengths %d %d %d", e.Key, len(feats), len(boxes5), len(mask))
		}
		sameFloats(t, e.Key+" padded features[:n]", feats[:n*8], e.Features[:n*8])
		sameFloats(t, e.Key+" boxes5[:n]", boxes5[:n*5], e.TransformerBBox[:n*5])
		for i := n * 8; i < len(feats); i++ {
			if feats[i] != 0 {
				t.Fatalf("%s: padding feature %d = %v", e.Key, i, feats[i])
			}
		}
		for i := n * 5; i < len(boxes5); i++ {
			if boxes5[i] != 0 {
				t.Fatalf("%s: padding box %d = %v", e.Key, i, boxes5[i])
			}
		}
		for i, m := range mask {
			if want := float32(0); i < n && m != 1 || i >= n && m != want {
				t.Fatalf("%s: mask = %v, want %d ones", e.Key, mask, n)
			}
		}
	}
	// maxFeatures <= 0 is MMF's 100.
	if f, _, _ := features.PadRegions(&features.Record{Dim: 2}, 0); len(f) != 200 {
		t.Errorf("default max features gave %d values", len(f))
	}
}

func sampleRecords() []*features.Record {
	var recs []*features.Record
	for i, id := range []string{"42953", "02345", "7", "100"} {
		n := i + 1
		if id == "100" {
			n = 0
		}
		rec := &features.Record{ID: id, Dim: 3, NumBoxes: n, ImageW: 640 + i, ImageH: 480}
		for j := 0; j < n*3; j++ {
			rec.Features = append(rec.Features, float32(j)*0.25-float32(i))
		}
		for j := 0; j < n; j++ {
			rec.Boxes = append(rec.Boxes, float32(j), float32(j)+1.5, float32(j)+10, float32(j)+20.25)
			rec.Objects = append(rec.Objects, int64(j*7))
		}
		if i < 2 {
			rec.Detected = n - i // 1 of 1, then 1 of 2; the others unknown
		}
		if i%2 == 0 {
			rec.ClsProb = make([]float32, n*2)
			for j := range rec.ClsProb {
				rec.ClsProb[j] = float32(j) / 10
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

// sameRecord compares records, treating nil and empty slices alike
// (a store keeps no difference between them).
func sameRecord(a, b *features.Record) bool {
	if a.ID != b.ID || a.Dim != b.Dim || a.NumBoxes != b.NumBoxes || a.ImageW != b.ImageW || a.ImageH != b.ImageH || a.Detected != b.Detected {
		return false
	}
	eq := func(x, y []float32) bool { return len(x) == len(y) && (len(x) == 0 || reflect.DeepEqual(x, y)) }
	return eq(a.Features, b.Features) && eq(a.Boxes, b.Boxes) && eq(a.ClsProb, b.ClsProb) &&
		(a.ClsProb == nil) == (b.ClsProb == nil) &&
		len(a.Objects) == len(b.Objects) && (len(a.Objects) == 0 || reflect.DeepEqual(a.Objects, b.Objects))
}

func writeStore(t testing.TB, path string, opts *Options, recs []*features.Record) {
	t.Helper()
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := w.Put(rec); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s visible before Close (%v)", path, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteThenRead(t *testing.T) {
	recs := sampleRecords()
	for _, noSubdir := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "out", "detectron.lmdb")
		writeStore(t, path, &Options{NoSubdir: noSubdir, MapSize: 1 << 26}, recs)
		r, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"42953", "02345", "7", "100"}; !reflect.DeepEqual(r.IDs(), want) {
			t.Fatalf("IDs = %v, want %v", r.IDs(), want)
		}
		for _, want := range recs {
			got, err := r.Get(want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !sameRecord(got, want) {
				t.Fatalf("round trip of %q:\n got %+v\nwant %+v", want.ID, got, want)
			}
		}
		r.Close()
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Errorf("scratch files left beside the store: %v", entries)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.lmdb")
	w, err := Create(path, &Options{MapSize: 1 << 24})
	if err != nil {
		t.Fatal(err)
	}
	rec := sampleRecords()[0]
	if err := w.Put(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(rec); err == nil || !strings.Contains(err.Error(), "written twice") {
		t.Errorf("duplicate id: %v", err)
	}
	if err := w.Put(&features.Record{ID: "keys", Dim: 1}); err == nil {
		t.Error("the id \"keys\" would clobber the key list")
	}
	bad := &features.Record{ID: "9", Dim: 2, NumBoxes: 1, Features: []float32{1}}
	if err := w.Put(bad); err == nil || !strings.Contains(err.Error(), `"9"`) {
		t.Errorf("invalid record: %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Abort left %v", entries)
	}
}

// TestPythonReadsGoStore checks the written store with MMF's own reading
// code path (python3-lmdb + pickle + numpy); it skips without them.
func TestPythonReadsGoStore(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import lmdb, numpy").Run(); err != nil {
		t.Skip("python3-lmdb/numpy not available")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "detectron.lmdb")
	recs := sampleRecords()
	writeStore(t, path, nil, recs)
	type exp struct {
		Key         string    `json:"key"`
		NumBoxes    int       `json:"num_boxes"`
		Dim         int       `json:"dim"`
		Features    []float32 `json:"features"`
		BBox        []float32 `json:"bbox"`
		ImageWidth  int       `json:"image_width"`
		ImageHeight int       `json:"image_height"`
		Objects     []int64   `json:"objects"`
		NumDetected int       `json:"num_detected"`
	}
	var all []exp
	for _, r := range recs {
		all = append(all, exp{r.ID, r.NumBoxes, r.Dim, append([]float32{}, r.Features...),
			append([]float32{}, r.Boxes...), r.ImageW, r.ImageH, r.Objects, r.Detected})
	}
	b, _ := json.Marshal(all)
	expPath := filepath.Join(dir, "expected.json")
	if err := os.WriteFile(expPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "../../scripts/fixtures/pickle_lmdb.py", "check-lmdb", path, expPath).CombinedOutput()
	if err != nil {
		t.Fatalf("python check failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing.lmdb"), nil); err == nil || !strings.Contains(err.Error(), "missing.lmdb") {
		t.Errorf("missing store: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.lmdb")
	os.WriteFile(bad, []byte("not an lmdb file at all, just some bytes"), 0o644)
	if _, err := Open(bad, nil); err == nil {
		t.Error("a non-LMDB file must not open")
	}
}

func fixtureValues(f *testing.F) [][]byte {
	var vals [][]byte
	for _, path := range []string{"testdata/mmf.lmdb", "testdata/vmt.lmdb"} {
		env, err := lmdb.NewEnv()
		if err != nil {
			f.Fatal(err)
		}
		if err := env.Open(path, lmdb.Readonly|lmdb.NoLock, 0o644); err != nil {
			f.Fatal(err)
		}
		env.View(func(txn *lmdb.Txn) error {
			dbi, _ := txn.OpenRoot(0)
			cur, err := txn.OpenCursor(dbi)
			if err != nil {
				return err
			}
			defer cur.Close()
			for {
				_, v, err := cur.Get(nil, nil, lmdb.Next)
				if err != nil {
					return nil
				}
				vals = append(vals, append([]byte(nil), v...))
			}
		})
		env.Close()
	}
	return vals
}

func FuzzDecode(f *testing.F) {
	for _, v := range fixtureValues(f) {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, val []byte) {
		rec, err := Decode("fuzz", val)
		if err != nil {
			return
		}
		if err := rec.Validate(); err != nil {
			t.Fatalf("Decode returned an invalid record: %v", err)
		}
		if rec.Dim < 1000 && rec.NumBoxes < 1000 {
			features.PadRegions(rec, 4)
		}
		if _, err := Encode(rec); err != nil {
			t.Fatalf("re-encoding a decoded record: %v", err)
		}
	})
}

func TestConcurrentGets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.lmdb")
	recs := sampleRecords()
	writeStore(t, path, &Options{MapSize: 1 << 24}, recs)
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				want := recs[(g+i)%len(recs)]
				got, err := r.Get(want.ID)
				if err == nil && !sameRecord(got, want) {
					err = fmt.Errorf("goroutine %d read %q wrong", g, want.ID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecodeNumDetected: mmc's extra "num_detected" key is read when
// present (any int form) and checked against the stored rows.
func TestDecodeNumDetected(t *testing.T) {
	rec := sampleRecords()[1] // 2 regions
	for _, tc := range []struct {
		name string
		val  any // nil: no key
		want int
		err  string
	}{
		{"absent", nil, 0, ""},
		{"python int", int64(1), 1, ""},
		{"all rows", int64(2), 2, ""},
		{"more than the rows", int64(3), 0, "3 detected regions, outside 0…num_boxes 2"},
		{"negative", int64(-1), 0, "-1 detected regions"},
		{"a string", "2", 0, `"num_detected" is`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := *rec
			r.Detected = 0
			b, err := Encode(&r)
			if err != nil {
				t.Fatal(err)
			}
			v, err := pickle.Unpickle(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.val != nil {
				v.(*pickle.Dict).Set("num_detected", tc.val)
			}
			if b, err = pickle.Marshal(v); err != nil {
				t.Fatal(err)
			}
			got, err := Decode(r.ID, b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), r.ID) {
					t.Fatalf("Decode error %v, want %q naming %q", err, tc.err, r.ID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Detected != tc.want {
				t.Errorf("Detected %d, want %d", got.Detected, tc.want)
			}
		})
	}
}
