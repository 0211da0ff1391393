// Package lmdbds registers the "lmdb_features" catalog format: MMF's
// detectron.lmdb region-feature store (features/lmdbstore), loaded for
// random access or as a stream and saved atomically in the format MMF
// reads.
//
//	train_features:
//	  type: lmdb_features
//	  filepath: data/04_feature/hateful_memes/detectron.lmdb
//	  save_args:
//	    map_size: 1099511627776   # LMDB map size in bytes (default 1 TiB, as MMF)
//	    no_subdir: false          # true writes one file instead of a directory
//
// Handles may have one of these types:
//
//   - features.Reader: the open store (an *lmdbstore.Reader, memory-mapped,
//     with MMF's id lookup and GetForImage); it stays open for the rest
//     of the run (the catalog has no end-of-run hook; a map costs no heap).
//   - []*features.Record: every record, in the store's key-list order.
//   - iter.Seq2[*features.Record, error]: a stream that opens the store
//     when iterated and closes it at the end.
//   - any interface with Len() int and Each(func(*features.Record) error)
//     error: a *Records that re-reads the store on every pass.
//
// Saving takes any of these values; nothing appears at the path unless
// every record was written.
//
// Import it for its side effect: import _ "mmc/catalog/lmdbds".
package lmdbds

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"reflect"

	"mmc/catalog"
	"mmc/features"
	"mmc/features/lmdbstore"
)

// FormatName is the catalog "type:" of this format.
const FormatName = "lmdb_features"

var (
	readerType = reflect.TypeFor[features.Reader]()
	sliceType  = reflect.TypeFor[[]*features.Record]()
	seqType    = reflect.TypeFor[iter.Seq2[*features.Record, error]]()
	eachType   = reflect.TypeFor[*Records]()
)

func init() {
	catalog.Register(catalog.Format{
		Name:          FormatName,
		Doc:           "MMF detectron.lmdb region features (pickled numpy dicts, MMF-readable): features.Reader, []*features.Record, iter.Seq2[*features.Record, error] or a Len/Each stream",
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
	MapSize  int64 `yaml:"map_size"`
	NoSubdir bool  `yaml:"no_subdir"`
}

type dataset struct {
	path string
	opts lmdbstore.Options
}

func newDataset(s catalog.Spec) (catalog.Dataset, error) {
	var a saveArgs
	if err := s.DecodeSaveArgs(&a); err != nil {
		return nil, err
	}
	if a.MapSize < 0 {
		return nil, fmt.Errorf("dataset %q: save_args map_size %d must not be negative", s.Name, a.MapSize)
	}
	return &dataset{path: s.Filepath, opts: lmdbstore.Options{MapSize: a.MapSize, NoSubdir: a.NoSubdir}}, nil
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
		return nil, fmt.Errorf("lmdb features %s does not exist: %w", d.path, catalog.ErrNotFound)
	}
	switch {
	case t == readerType:
		return lmdbstore.Open(d.path, nil)
	case t == sliceType:
		var out []*features.Record
		err := eachRecord(ctx, d.path, func(r *features.Record) error {
			out = append(out, r)
			return nil
		})
		return out, err
	}
	s, err := lmdbstore.Open(d.path, nil)
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
	if v == nil {
		return errors.New("nothing to save (nil)")
	}
	w, err := lmdbstore.Create(d.path, &d.opts)
	if err != nil {
		return err
	}
	if err := write(ctx, w, v); err != nil {
		if aerr := w.Abort(); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return err
	}
	return w.Close()
}

func write(ctx context.Context, w *lmdbstore.Writer, v any) error {
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
	}
	return fmt.Errorf("%s saves features.Reader, []*features.Record, iter.Seq2[*features.Record, error] or a value with Each(func(*features.Record) error) error, not %T", FormatName, v)
}

// Records is a saved store read as a stream: every pass opens it,
// yields its records in key-list order and closes it, so no handle
// outlives an iteration.
type Records struct {
	path string
	n    int
}

// Len is the number of records, as of loading.
func (r *Records) Len() int { return r.n }

// Each calls fn for every record in order, stopping at its first error.
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
	s, err := lmdbstore.Open(path, nil)
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
		rec, err := s.GetKey(id)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
