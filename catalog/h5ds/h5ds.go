// Package h5ds registers the "hdf5_features" catalog format: a region
// feature store in the HDF5 layout of features/h5store, loaded for random
// access or as a stream and saved atomically.
//
//	train_features:
//	  type: hdf5_features
//	  filepath: data/04_feature/hateful_memes/features.h5
//	  save_args:
//	    regions: 100            # R, records are zero-padded to it (default 100)
//	    dim: 2048               # D, 0 takes it from the first record
//	    compression: 4          # gzip level 1-9, -1 for none (default 4)
//	    extractor: vg-frcnn-r101
//	    extractor_params: {min_boxes: 10, max_boxes: 100}
//
// Handles may have one of these types:
//
//   - features.Reader: the open store (an *h5store.Store) for lookups by
//     id; it stays open for the rest of the run.
//   - []*features.Record: every record, in file order.
//   - iter.Seq2[*features.Record, error]: a stream that opens the file
//     when iterated and closes it at the end.
//   - any interface with Len() int and Each(func(*features.Record) error)
//     error (such as the synthetic detector's synth.Regions): a *Records
//     that re-reads the file on every pass.
//
// Saving takes any of these values; nothing appears at the path unless
// every record was written.
//
// Import it for its side effect: import _ "mmc/catalog/h5ds".
package h5ds

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"reflect"

	"mmc/catalog"
	"mmc/features"
	"mmc/features/h5store"
)

// FormatName is the catalog "type:" of this format.
const FormatName = "hdf5_features"

var (
	readerType = reflect.TypeFor[features.Reader]()
	sliceType  = reflect.TypeFor[[]*features.Record]()
	seqType    = reflect.TypeFor[iter.Seq2[*features.Record, error]]()
	eachType   = reflect.TypeFor[*Records]()
)

func init() {
	catalog.Register(catalog.Format{
		Name:          FormatName,
		Doc:           "region features in one HDF5 file (features/h5store layout, h5py-readable): features.Reader, []*features.Record, iter.Seq2[*features.Record, error] or a Len/Each stream",
		New:           newDataset,
		Accepts:       accepts,
		NeedsFilepath: true,
	})
}

func accepts(t reflect.Type) error {
	switch {
	case t == readerType, t == sliceType, t == seqType:
		return nil
	case t.Kind() == reflect.Interface && t.NumMethod() > 0 && eachType.Implements(t):
		return nil
	}
	return fmt.Errorf("supports features.Reader, []*features.Record, iter.Seq2[*features.Record, error] or an interface with Len() int and Each(func(*features.Record) error) error, not %v", t)
}

// saveArgs are the entry's save_args, decoded strictly.
type saveArgs struct {
	Regions         int            `yaml:"regions"`
	Dim             int            `yaml:"dim"`
	Compression     int            `yaml:"compression"`
	Extractor       string         `yaml:"extractor"`
	ExtractorParams map[string]any `yaml:"extractor_params"`
}

type dataset struct {
	path string
	opts h5store.Options
}

func newDataset(s catalog.Spec) (catalog.Dataset, error) {
	var a saveArgs
	if err := s.DecodeSaveArgs(&a); err != nil {
		return nil, err
	}
	if a.Regions < 0 || a.Dim < 0 {
		return nil, fmt.Errorf("save_args regions %d and dim %d must not be negative", a.Regions, a.Dim)
	}
	if a.Compression != 0 && a.Compression != h5store.NoCompression && (a.Compression < 1 || a.Compression > 9) {
		return nil, fmt.Errorf("save_args compression %d: want a gzip level 1-9, or -1 for none", a.Compression)
	}
	return &dataset{path: s.Filepath, opts: h5store.Options{
		Regions: a.Regions, Dim: a.Dim, Compression: a.Compression,
		Extractor: a.Extractor, ExtractorParams: a.ExtractorParams,
	}}, nil
}

func (d *dataset) Describe() string { return FormatName + " " + d.path }

func (d *dataset) Exists() (bool, error) {
	_, err := os.Stat(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *dataset) Load(ctx context.Context, t reflect.Type) (any, error) {
	if _, err := os.Stat(d.path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hdf5 features %s does not exist: %w", d.path, catalog.ErrNotFound)
	}
	switch {
	case t == readerType:
		return h5store.Open(d.path)
	case t == sliceType:
		var out []*features.Record
		err := eachRecord(ctx, d.path, func(r *features.Record) error {
			out = append(out, r)
			return nil
		})
		return out, err
	}
	s, err := h5store.Open(d.path)
	if err != nil {
		return nil, err
	}
	recs := &Records{path: d.path, n: s.Len()}
	if err := s.Close(); err != nil {
		return nil, err
	}
	if t == seqType {
		return recs.All(), nil
	}
	return recs, nil
}

func (d *dataset) Save(ctx context.Context, v any) error {
	w, err := h5store.Create(d.path, &d.opts)
	if err != nil {
		return err
	}
	if err := d.write(ctx, w, v); err != nil {
		if aerr := w.Abort(); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return err
	}
	return w.Close()
}

func (d *dataset) write(ctx context.Context, w *h5store.Writer, v any) error {
	put := func(r *features.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return w.Put(r)
	}
	switch v := v.(type) {
	case []*features.Record:
		for _, r := range v {
			if err := put(r); err != nil {
				return err
			}
		}
		return nil
	case iter.Seq2[*features.Record, error]:
		for r, err := range v {
			if err != nil {
				return err
			}
			if err := put(r); err != nil {
				return err
			}
		}
		return nil
	case interface {
		Each(func(*features.Record) error) error
	}:
		return v.Each(put)
	case features.Reader:
		for _, id := range v.IDs() {
			r, err := v.Get(id)
			if err != nil {
				return err
			}
			if err := put(r); err != nil {
				return err
			}
		}
		return nil
	case nil:
		return errors.New("nothing to save (nil)")
	}
	return fmt.Errorf("%s saves features.Reader, []*features.Record, iter.Seq2[*features.Record, error] or a value with Each(func(*features.Record) error) error, not %T", FormatName, v)
}

// Records is a saved feature file read as a stream: every pass opens
// the file, yields its records in file order and closes it, so no
// handle outlives an iteration.
type Records struct {
	path string
	n    int
}

// Len is the number of records, as of loading.
func (r *Records) Len() int { return r.n }

// Each calls fn for every record in file order, stopping at its first error.
func (r *Records) Each(fn func(*features.Record) error) error {
	return eachRecord(context.Background(), r.path, fn)
}

// All is the records as an iterator; an error ends the sequence.
func (r *Records) All() iter.Seq2[*features.Record, error] {
	return func(yield func(*features.Record, error) bool) {
		stop := errors.New("stop")
		err := r.Each(func(rec *features.Record) error {
			if !yield(rec, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			yield(nil, err)
		}
	}
}

func eachRecord(ctx context.Context, path string, fn func(*features.Record) error) (err error) {
	s, err := h5store.Open(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.Close(); err == nil {
			err = cerr
		}
	}()
	for _, id := range s.IDs() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := s.Get(id)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
