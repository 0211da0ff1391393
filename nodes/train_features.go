package nodes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"mmc/catalog"
	"mmc/features"
	"mmc/features/h5store"
	"mmc/features/lmdbstore"
	"mmc/synth"
)

// The "region_features" catalog format opens a region-feature store for
// random access as a features.Reader: an HDF5 file (.h5, .hdf5, read
// with features/h5store) or an MMF detectron.lmdb (anything else, a
// directory or a single file, read with features/lmdbstore). It is
// read-only: stores are produced by feature extraction or the synthetic
// detector.
func init() {
	catalog.Register(catalog.Format{
		Name:          "region_features",
		Doc:           "region features for random access (features.Reader): MMF detectron.lmdb, or HDF5 by .h5/.hdf5 extension; read-only",
		Accepts:       catalog.AcceptTypes(reflect.TypeFor[features.Reader]()),
		NeedsFilepath: true,
		New: func(s catalog.Spec) (catalog.Dataset, error) {
			return &featureStoreDataset{path: s.Filepath}, nil
		},
	})
}

type featureStoreDataset struct{ path string }

func (d *featureStoreDataset) isHDF5() bool {
	ext := strings.ToLower(filepath.Ext(d.path))
	return ext == ".h5" || ext == ".hdf5"
}

func (d *featureStoreDataset) Load(context.Context, reflect.Type) (any, error) {
	if _, err := os.Stat(d.path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("region features %s not found: extract them (MMF's detectron.lmdb from the Hateful Memes release, or the feature-extraction pipelines), or use --env=demo for the synthetic set", d.path)
	}
	if d.isHDF5() {
		return h5store.Open(d.path)
	}
	return lmdbstore.Open(d.path, nil)
}

func (d *featureStoreDataset) Save(context.Context, any) error {
	return fmt.Errorf("region_features %s is read-only; feature stores are written by the extraction pipelines", d.path)
}

func (d *featureStoreDataset) Exists() (bool, error) {
	_, err := os.Stat(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *featureStoreDataset) Describe() string { return "region_features " + d.path }

// IndexRegions reads a stream of region records (the synthetic
// detector's output) into memory for random access by image id.
func IndexRegions(_ context.Context, rs synth.Regions) (features.Reader, error) {
	idx := &memoryFeatures{recs: make(map[string]*features.Record, rs.Len())}
	err := rs.Each(func(r *features.Record) error {
		if _, dup := idx.recs[r.ID]; dup {
			return fmt.Errorf("index regions: image id %q appears twice", r.ID)
		}
		idx.recs[r.ID] = r
		idx.ids = append(idx.ids, r.ID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index regions: %w", err)
	}
	return idx, nil
}

// memoryFeatures is a features.Reader over records held in memory;
// it is never written after IndexRegions, so concurrent reads are safe.
type memoryFeatures struct {
	recs map[string]*features.Record
	ids  []string
}

func (m *memoryFeatures) Get(id string) (*features.Record, error) {
	r, ok := m.recs[id]
	if !ok {
		return nil, fmt.Errorf("no region features for image %q (%d images indexed)", id, len(m.recs))
	}
	return r, nil
}

func (m *memoryFeatures) IDs() []string { return append([]string(nil), m.ids...) }

func (m *memoryFeatures) Close() error { return nil }
