package lmdbds

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
	"mmc/features/lmdbstore"
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
  type: lmdb_features
  filepath: $DIR/detectron.lmdb
  save_args:
    map_size: 67108864
single:
  type: lmdb_features
  filepath: $DIR/single.lmdb
  save_args: {no_subdir: true, map_size: 67108864}
`

func records(n int) []*features.Record {
	out := make([]*features.Record, n)
	for i := range out {
		nb := i % 4
		r := &features.Record{ID: fmt.Sprintf("%05d", 100+i), Dim: 3, NumBoxes: nb, ImageW: 10 * (i + 1), ImageH: 5,
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

// regions mirrors the synthetic detector's Len/Each stream type.
type regions interface {
	Len() int
	Each(fn func(*features.Record) error) error
}

func TestSaveLoadEveryType(t *testing.T) {
	ctx := context.Background()
	c, dir := newCatalog(t, entries)
	want := records(6)
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

func TestSaveFailureLeavesNothing(t *testing.T) {
	c, dir := newCatalog(t, entries)
	bad := records(3)
	bad[2].Features = bad[2].Features[:1]
	if err := c.Save(context.Background(), "feats", bad); err == nil || !strings.Contains(err.Error(), "00102") {
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
		{"unknown save arg", "f:\n  type: lmdb_features\n  filepath: f.lmdb\n  save_args: {mapsize: 3}\n", "mapsize"},
		{"negative map size", "f:\n  type: lmdb_features\n  filepath: f.lmdb\n  save_args: {map_size: -1}\n", "must not be negative"},
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
