package featureds

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
	"mmc/features/lmdbstore"
)

func newCatalog(t *testing.T, yml string) (*catalog.Catalog, string) {
	t.Helper()
	dir := t.TempDir()
	conf, err := config.ParseFile("catalog.yml", []byte(strings.ReplaceAll(yml, "$DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.New(conf, nil, catalog.Options{Formats: append(catalog.Builtin(), Formats()...)})
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

// regions mirrors synth.Regions without importing the application.
type regions interface {
	Len() int
	Each(fn func(*features.Record) error) error
}

const lmdbEntries = `
feats:
  type: lmdb_features
  filepath: $DIR/detectron.lmdb
  save_args:
    map_size: 67108864
single:
  type: lmdb_features
  filepath: $DIR/single.lmdb
  save_args: {no_subdir: true, map_size: 67108864}
`

// sampleRecords makes n records of 0 to maxBoxes-1 regions (the count
// cycles) with ids from id, for both stores' round trips.
func sampleRecords(n, maxBoxes int, id func(i int) string) []*features.Record {
	out := make([]*features.Record, n)
	for i := range out {
		nb := i % maxBoxes
		r := &features.Record{ID: id(i), Dim: 3, NumBoxes: nb, ImageW: 10 * (i + 1), ImageH: 5,
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

// lmdbRecords have MMF-style ids with leading zeros.
func lmdbRecords(n int) []*features.Record {
	return sampleRecords(n, 4, func(i int) string { return fmt.Sprintf("%05d", 100+i) })
}

func TestLMDBSaveLoadEveryType(t *testing.T) {
	ctx := context.Background()
	c, dir := newCatalog(t, lmdbEntries)
	want := lmdbRecords(6)
	if err := c.Save(ctx, "feats", want); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "detectron.lmdb", "data.mdb")); err != nil || st.IsDir() {
		t.Fatalf("data.mdb: %v", err)
	}

	v, err := c.Load(ctx, "feats", reflect.TypeFor[features.Reader]())
	if err != nil {
		t.Fatal(err)
	}
	store := v.(*lmdbstore.Reader)
	defer store.Close()
	got, err := store.GetForImage("img/00103.png")
	if err != nil || !reflect.DeepEqual(got, want[3]) {
		t.Fatalf("GetForImage = %+v, %v", got, err)
	}

	v, err = c.Load(ctx, "feats", reflect.TypeFor[[]*features.Record]())
	if err != nil {
		t.Fatal(err)
	}
	loaded := v.([]*features.Record)
	if len(loaded) != len(want) {
		t.Fatalf("loaded %d records", len(loaded))
	}
	for i := range want {
		if want[i].NumBoxes > 0 && !reflect.DeepEqual(loaded[i], want[i]) {
			t.Fatalf("record %d = %+v, want %+v", i, loaded[i], want[i])
		}
	}

	v, err = c.Load(ctx, "feats", reflect.TypeFor[iter.Seq2[*features.Record, error]]())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for r, err := range v.(iter.Seq2[*features.Record, error]) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		if len(ids) == 2 {
			break // an early stop must close cleanly
		}
	}
	if !reflect.DeepEqual(ids, []string{"00100", "00101"}) {
		t.Fatalf("stream ids %v", ids)
	}

	v, err = c.Load(ctx, "feats", reflect.TypeFor[regions]())
	if err != nil {
		t.Fatal(err)
	}
	rs := v.(regions)
	n := 0
	if err := rs.Each(func(r *features.Record) error { n++; return nil }); err != nil || rs.Len() != 6 || n != 6 {
		t.Fatalf("Each: %v, Len %d, saw %d", err, rs.Len(), n)
	}

	// Save the stream and the open Reader through the single-file entry.
	for _, src := range []any{rs, features.Reader(store)} {
		if err := c.Save(ctx, "single", src); err != nil {
			t.Fatal(err)
		}
		cp, err := lmdbstore.Open(filepath.Join(dir, "single.lmdb"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Len() != 6 {
			t.Errorf("copy has %d images", cp.Len())
		}
		cp.Close()
	}
}

const hdf5Entries = `
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

func hdf5Records(n int) []*features.Record {
	return sampleRecords(n, 5, func(i int) string { return fmt.Sprint(100 + i) })
}

func TestHDF5SaveLoadEveryType(t *testing.T) {
	ctx := context.Background()
	c, dir := newCatalog(t, hdf5Entries)
	want := hdf5Records(7)
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

// detected mirrors the synthetic detector's stream: it knows its widest
// record and names its extractor.
type detected struct{ recs []*features.Record }

func (d detected) Len() int { return len(d.recs) }
func (d detected) Each(fn func(*features.Record) error) error {
	for _, r := range d.recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
func (d detected) MaxRegions() int                 { return 3 }
func (d detected) Extractor() string               { return "stream detector" }
func (d detected) ExtractorParams() map[string]any { return map[string]any{"seed": 7} }

func TestRegionFeaturesByPath(t *testing.T) {
	ctx := context.Background()
	c, dir := newCatalog(t, `
lmdb:
  type: region_features
  filepath: $DIR/detectron.lmdb
  save_args: {map_size: 67108864}
h5:
  type: region_features
  filepath: $DIR/features.HDF5
  save_args: {compression: -1}
named:
  type: region_features
  filepath: $DIR/named.h5
  save_args: {regions: 5, extractor: conf-detector}
`)
	want := lmdbRecords(4)
	stream := detected{want}
	for _, name := range []string{"lmdb", "h5", "named"} {
		if err := c.Save(ctx, name, stream); err != nil {
			t.Fatalf("save %s: %v", name, err)
		}
		v, err := c.Load(ctx, name, reflect.TypeFor[regions]())
		if err != nil {
			t.Fatal(err)
		}
		var got []*features.Record
		if err := v.(regions).Each(func(r *features.Record) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if v.(regions).Len() != 4 || len(got) != 4 {
			t.Fatalf("%s: Len %d, %d records", name, v.(regions).Len(), len(got))
		}
		for i := range want {
			if got[i].ID != want[i].ID || (want[i].NumBoxes > 0 && !reflect.DeepEqual(got[i].Features, want[i].Features)) {
				t.Errorf("%s record %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "detectron.lmdb", "data.mdb")); err != nil {
		t.Errorf("lmdb store: %v", err)
	}
	tests := []struct {
		file, extractor string
		regions         int
		seed            any
	}{
		{"features.HDF5", "stream detector", 3, float64(7)}, // provenance from the stream
		{"named.h5", "conf-detector", 5, float64(7)},        // save_args win, params still from the stream
	}
	for _, tc := range tests {
		s, err := h5store.Open(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := s.ExtractorParams()
		if s.Regions() != tc.regions || s.Extractor() != tc.extractor || p["seed"] != tc.seed {
			t.Errorf("%s: R=%d extractor %q params %v", tc.file, s.Regions(), s.Extractor(), p)
		}
		s.Close()
	}
	if err := c.Save(ctx, "lmdb", nil); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("Save(nil) = %v", err)
	}
}

func TestMissingStoreNamesTheRemedy(t *testing.T) {
	c, _ := newCatalog(t, "f:\n  type: region_features\n  filepath: $DIR/none.h5\n")
	_, err := c.Load(context.Background(), "f", reflect.TypeFor[features.Reader]())
	if !errors.Is(err, catalog.ErrNotFound) || !strings.Contains(err.Error(), "--env=demo") || !strings.Contains(err.Error(), HDF5Format) {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{"f:\n  type: region_features\n  filepath: f.h5\n  save_args: {map_size: 3}\n",
		"f:\n  type: region_features\n  filepath: f.lmdb\n  save_args: {regions: 3}\n"} {
		c, _ := newCatalog(t, bad)
		if err := c.Check("f", reflect.TypeFor[features.Reader]()); err == nil || !strings.Contains(err.Error(), "unknown") {
			t.Errorf("save_args of the other store accepted: %v", err)
		}
	}
}

func TestSaveFailureLeavesNothing(t *testing.T) {
	tests := []struct {
		store, entries string
		records        func(int) []*features.Record
		spoil          func(*features.Record)
		want           string
	}{
		{"lmdb", lmdbEntries, lmdbRecords, func(r *features.Record) { r.Features = r.Features[:1] }, "00102"},
		{"hdf5", hdf5Entries, hdf5Records, func(r *features.Record) {
			r.Dim = 5
			r.Features = make([]float32, r.NumBoxes*5)
		}, "dim 5, the store has dim 3"},
	}
	for _, tc := range tests {
		t.Run(tc.store, func(t *testing.T) {
			c, dir := newCatalog(t, tc.entries)
			bad := tc.records(3)
			tc.spoil(bad[2])
			if err := c.Save(context.Background(), "feats", bad); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := c.Save(ctx, "feats", tc.records(3)); !errors.Is(err, context.Canceled) {
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
		})
	}
}

func TestEntryChecks(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"lmdb unknown save arg", "f:\n  type: lmdb_features\n  filepath: f.lmdb\n  save_args: {mapsize: 3}\n", "mapsize"},
		{"lmdb negative map size", "f:\n  type: lmdb_features\n  filepath: f.lmdb\n  save_args: {map_size: -1}\n", "must not be negative"},
		{"hdf5 unknown save arg", "f:\n  type: hdf5_features\n  filepath: f.h5\n  save_args: {region: 3}\n", "region"},
		{"hdf5 bad gzip level", "f:\n  type: hdf5_features\n  filepath: f.h5\n  save_args: {compression: 11}\n", "compression 11"},
		{"hdf5 negative dim", "f:\n  type: hdf5_features\n  filepath: f.h5\n  save_args: {dim: -2}\n", "must not be negative"},
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
	for _, entries := range []string{lmdbEntries, hdf5Entries} {
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
}
