package h5ds

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/config"
	"mmc/features"
	"mmc/features/h5store"
)

func newCatalog(t *testing.T, yml string) (*catalog.Catalog, string) {
	t.Helper()
	dir := t.TempDir()
	conf, err := config.ParseFile("catalog.yml", []byte(strings.ReplaceAll(yml, "$DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.New(conf, nil, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

const entries = `
feats:
  type: hdf5_features
  filepath: $DIR/features.h5
  save_args:
    regions: 4
    compression: 1
    extractor: test-detector
    extractor_params: {min_boxes: 1, max_boxes: 4}
copy:
  type: hdf5_features
  filepath: $DIR/copy.h5
`

func records(n int) []*features.Record {
	out := make([]*features.Record, n)
	for i := range out {
		nb := i % 5
		r := &features.Record{ID: fmt.Sprint(100 + i), Dim: 3, NumBoxes: nb, ImageW: 10 * (i + 1), ImageH: 5,
			Features: make([]float32, nb*3), Boxes: make([]float32, nb*4)}
		for j := range r.Features {
			r.Features[j] = float32(i) + float32(j)/8
		}
		for j := range r.Boxes {
			r.Boxes[j] = float32(j)
		}
		out[i] = r
	}
	return out
}

// regions mirrors synth.Regions without importing the application.
type regions interface {
	Len() int
	Each(fn func(*features.Record) error) error
}

func TestSaveLoadEveryType(t *testing.T) {
	ctx := context.Background()
	c, dir := newCatalog(t, entries)
	want := records(7)
	if err := c.Save(ctx, "feats", want); err != nil {
		t.Fatal(err)
	}

	v, err := c.Load(ctx, "feats", reflect.TypeFor[features.Reader]())
	if err != nil {
		t.Fatal(err)
	}
	store := v.(*h5store.Store)
	defer store.Close()
	if store.Regions() != 4 || store.Extractor() != "test-detector" {
		t.Errorf("regions %d extractor %q", store.Regions(), store.Extractor())
	}
	if p, _ := store.ExtractorParams(); p["max_boxes"] != float64(4) {
		t.Errorf("extractor params %v", p)
	}
	got, err := store.Get("103")
	if err != nil || !reflect.DeepEqual(got, want[3]) {
		t.Fatalf("Get(103) = %+v, %v", got, err)
	}

	v, err = c.Load(ctx, "feats", reflect.TypeFor[[]*features.Record]())
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Fatalf("slice load = %v, %v", v, err)
	}

	v, err = c.Load(ctx, "feats", reflect.TypeFor[iter.Seq2[*features.Record, error]]())
	if err != nil {
		t.Fatal(err)
	}
	var streamed []*features.Record
	for r, err := range v.(iter.Seq2[*features.Record, error]) {
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, r)
		if len(streamed) == 3 {
			break // early stop must close cleanly
		}
	}
	if !reflect.DeepEqual(streamed, want[:3]) {
		t.Fatalf("stream = %v", streamed)
	}

	v, err = c.Load(ctx, "feats", reflect.TypeFor[regions]())
	if err != nil {
		t.Fatal(err)
	}
	rs := v.(regions)
	n := 0
	if err := rs.Each(func(r *features.Record) error {
		if !reflect.DeepEqual(r, want[n]) {
			return fmt.Errorf("record %d = %+v", n, r)
		}
		n++
		return nil
	}); err != nil || rs.Len() != 7 || n != 7 {
		t.Fatalf("Each: %v, Len %d, saw %d", err, rs.Len(), n)
	}

	// Save the stream and the open Reader through the other entry.
	if err := c.Save(ctx, "copy", rs); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx, "copy", features.Reader(store)); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx, "copy", catalog.Seq(want[:2])); err != nil {
		t.Fatal(err)
	}
	cp, err := h5store.Open(filepath.Join(dir, "copy.h5"))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if cp.Len() != 2 || cp.Regions() != h5store.DefaultRegions {
		t.Fatalf("copy: %d images, R=%d", cp.Len(), cp.Regions())
	}
}

func TestSaveFailureLeavesNothing(t *testing.T) {
	c, dir := newCatalog(t, entries)
	bad := records(3)
	bad[2].Dim = 5
	bad[2].Features = make([]float32, bad[2].NumBoxes*5)
	err := c.Save(context.Background(), "feats", bad)
	if err == nil || !strings.Contains(err.Error(), "dim 5, the store has dim 3") {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Save(ctx, "feats", records(3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled save: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if ok, err := c.Exists("feats"); ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if _, err := c.Load(context.Background(), "feats", reflect.TypeFor[features.Reader]()); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("load of a missing store: %v", err)
	}
}

func TestEntryChecks(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"unknown save arg", "f:\n  type: hdf5_features\n  filepath: f.h5\n  save_args: {region: 3}\n", "region"},
		{"bad gzip level", "f:\n  type: hdf5_features\n  filepath: f.h5\n  save_args: {compression: 11}\n", "compression 11"},
		{"negative dim", "f:\n  type: hdf5_features\n  filepath: f.h5\n  save_args: {dim: -2}\n", "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newCatalog(t, tc.yml)
			_, err := c.Load(context.Background(), "f", reflect.TypeFor[features.Reader]())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	c, _ := newCatalog(t, entries)
	if err := c.Check("feats", reflect.TypeFor[string]()); err == nil || !strings.Contains(err.Error(), "features.Reader") {
		t.Errorf("Check(string) = %v", err)
	}
	for _, ty := range []reflect.Type{reflect.TypeFor[features.Reader](), reflect.TypeFor[[]*features.Record](),
		reflect.TypeFor[iter.Seq2[*features.Record, error]](), reflect.TypeFor[regions]()} {
		if err := c.Check("feats", ty); err != nil {
			t.Errorf("Check(%v) = %v", ty, err)
		}
	}
	if err := c.Save(context.Background(), "feats", 42); err == nil || !strings.Contains(err.Error(), "not int") {
		t.Errorf("Save(42) = %v", err)
	}
}
