package features

import (
	"fmt"
	"math"
	"reflect"
	"testing"
)

func TestPadRegions(t *testing.T) {
	rec := &Record{ID: "1", Dim: 2, NumBoxes: 3, ImageW: 200, ImageH: 100,
		Features: []float32{1, 2, 3, 4, 5, 6},
		Boxes:    []float32{10, 20, 110, 70, 0, 0, 200, 100, 50, 50, 60, 60}}
	for _, c := range []struct {
		name                string
		max                 int
		feats, boxes5, mask []float32
	}{
		{"padded", 4,
			[]float32{1, 2, 3, 4, 5, 6, 0, 0},
			[]float32{0.05, 0.2, 0.55, 0.7, 0.25, 0, 0, 1, 1, 1, 0.25, 0.5, 0.3, 0.6, 0.005, 0, 0, 0, 0, 0},
			[]float32{1, 1, 1, 0}},
		{"truncated", 2,
			[]float32{1, 2, 3, 4},
			[]float32{0.05, 0.2, 0.55, 0.7, 0.25, 0, 0, 1, 1, 1},
			[]float32{1, 1}},
	} {
		f, b, m := PadRegions(rec, c.max)
		if !reflect.DeepEqual(f, c.feats) || !reflect.DeepEqual(m, c.mask) {
			t.Errorf("%s: features %v mask %v, want %v %v", c.name, f, m, c.feats, c.mask)
		}
		if len(b) != len(c.boxes5) {
			t.Fatalf("%s: %d location values, want %d", c.name, len(b), len(c.boxes5))
		}
		for i := range b {
			if math.Abs(float64(b[i]-c.boxes5[i])) > 1e-7 {
				t.Errorf("%s: location %d = %v, want %v", c.name, i, b[i], c.boxes5[i])
			}
		}
	}
	f, b, m := PadRegions(rec, 0)
	if len(f) != DefaultMaxFeatures*rec.Dim || len(b) != DefaultMaxFeatures*5 || len(m) != DefaultMaxFeatures {
		t.Errorf("maxFeatures 0: %d, %d, %d values, want MMF's %d regions", len(f), len(b), len(m), DefaultMaxFeatures)
	}
	// numpy's order: the area from pixels, then one float32 division.
	odd := &Record{Dim: 1, NumBoxes: 1, ImageW: 3, ImageH: 7, Features: []float32{0}, Boxes: []float32{0.1, 0.2, 2.9, 6.3}}
	_, b, _ = PadRegions(odd, 1)
	if want := (float32(6.3) - float32(0.2)) * (float32(2.9) - float32(0.1)) / float32(21); b[4] != want {
		t.Errorf("area %v, want %v (float32, area first)", b[4], want)
	}
}

func TestFeaturePath(t *testing.T) {
	for in, want := range map[string]string{
		"img/42953.png":          "42953",
		"42953.png":              "42953",
		"img/01235.jpg":          "01235",
		"a/b/c/x.tar.gz":         "x",
		"img/noext":              "noext",
		"/abs/path/img/7.png":    "7",
		"img/dotted.name.v2.png": "dotted",
	} {
		if got := FeaturePath(in); got != want {
			t.Errorf("FeaturePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRecordValidate(t *testing.T) {
	ok := Record{ID: "1", Dim: 2, NumBoxes: 1, Features: []float32{1, 2}, Boxes: []float32{0, 0, 1, 1}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Record){
		"dim":      func(r *Record) { r.Dim = 0 },
		"features": func(r *Record) { r.Features = r.Features[:1] },
		"boxes":    func(r *Record) { r.Boxes = nil },
		"objects":  func(r *Record) { r.Objects = []int64{1, 2} },
	} {
		r := ok
		edit(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: invalid record accepted", name)
		}
	}
}

func ExamplePadRegions() {
	rec := &Record{Dim: 1, NumBoxes: 1, ImageW: 200, ImageH: 100, Features: []float32{7}, Boxes: []float32{10, 20, 110, 70}}
	feats, boxes5, mask := PadRegions(rec, 2)
	fmt.Println(feats, boxes5, mask)
	// Output: [7 0] [0.05 0.2 0.55 0.7 0.25 0 0 0 0 0] [1 0]
}
