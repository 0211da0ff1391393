package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"

	"mmc/catalog"
	"mmc/features"
	"mmc/features/h5store"
	"mmc/features/lmdbstore"
	"mmc/synth"
)

func init() {
	catalog.Register(catalog.Format{
		Name:          "synthetic_regions_lmdb",
		Doc:           "region features streamed into an MMF detectron.lmdb (features/lmdbstore); loads back as a stream over the store",
		Accepts:       catalog.AcceptTypes(reflect.TypeFor[synth.Regions]()),
		NeedsFilepath: true,
		New: func(s catalog.Spec) (catalog.Dataset, error) {
			return &regionsDataset{
				path: s.Filepath, kind: "synthetic_regions_lmdb",
				create: func(path string) (regionWriter, error) { return lmdbstore.Create(path, nil) },
				open:   func(path string) (features.Reader, error) { return lmdbstore.Open(path, nil) },
			}, nil
		},
	})
	catalog.Register(catalog.Format{
		Name: "synthetic_regions_hdf5",
		Doc: "region features streamed into the HDF5 layout of features/h5store (save_args: regions, compression); " +
			"loads back as a stream over the file",
		Accepts:       catalog.AcceptTypes(reflect.TypeFor[synth.Regions]()),
		NeedsFilepath: true,
		New: func(s catalog.Spec) (catalog.Dataset, error) {
			var args struct {
				// Regions pads every image to this many rows; 0 takes the
				// stream's own maximum (synthetic sets have few regions).
				Regions     int `yaml:"regions"`
				Compression int `yaml:"compression"`
			}
			if err := s.DecodeSaveArgs(&args); err != nil {
				return nil, err
			}
			d := &regionsDataset{path: s.Filepath, kind: "synthetic_regions_hdf5",
				open: func(path string) (features.Reader, error) { return h5store.Open(path) }}
			d.createFor = func(path string, rs synth.Regions) (regionWriter, error) {
				o := &h5store.Options{Regions: args.Regions, Compression: args.Compression, Extractor: "mmc synthetic detector"}
				if dr, ok := rs.(interface {
					MaxRegions() int
					Params() synth.DetectorParams
				}); ok {
					if o.Regions == 0 {
						o.Regions = dr.MaxRegions()
					}
					o.ExtractorParams = structToMap(dr.Params())
				}
				return h5store.Create(path, o)
			}
			return d, nil
		},
	})
}

// structToMap turns a parameter struct into the JSON object HDF5
// attributes record.
func structToMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// regionWriter is a features.Writer that can also give up without
// leaving anything at its path.
type regionWriter interface {
	features.Writer
	Abort() error
}

// regionsDataset writes a synth.Regions stream into a feature store and
// reads a store back as one.
type regionsDataset struct {
	path   string
	kind   string
	create func(path string) (regionWriter, error)
	// createFor, when set, is used instead of create: the store's shape
	// depends on the stream.
	createFor func(path string, rs synth.Regions) (regionWriter, error)
	open      func(path string) (features.Reader, error)
}

func (d *regionsDataset) Describe() string { return d.kind + " " + d.path }

func (d *regionsDataset) Exists() (bool, error) {
	_, err := os.Stat(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *regionsDataset) Save(_ context.Context, v any) error {
	rs, ok := v.(synth.Regions)
	if !ok || rs == nil {
		return fmt.Errorf("%s saves a synth.Regions, got %T", d.kind, v)
	}
	var w regionWriter
	var err error
	if d.createFor != nil {
		w, err = d.createFor(d.path, rs)
	} else {
		w, err = d.create(d.path)
	}
	if err != nil {
		return err
	}
	if _, err := synth.WriteFeatures(w, rs); err != nil {
		if aerr := w.Abort(); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	}
	return w.Close()
}

func (d *regionsDataset) Load(context.Context, reflect.Type) (any, error) {
	r, err := d.open(d.path)
	if err != nil {
		return nil, err
	}
	n := len(r.IDs())
	if err := r.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", d.path, err)
	}
	return &storedRegions{path: d.path, open: d.open, n: n}, nil
}

// storedRegions streams the records of a store in its id order, opening
// it for each pass so no handle outlives the iteration.
type storedRegions struct {
	path string
	open func(path string) (features.Reader, error)
	n    int
}

func (s *storedRegions) Len() int { return s.n }

func (s *storedRegions) Each(fn func(*features.Record) error) (err error) {
	r, err := s.open(s.path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := r.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", s.path, cerr)
		}
	}()
	for _, id := range r.IDs() {
		rec, err := r.Get(id)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
