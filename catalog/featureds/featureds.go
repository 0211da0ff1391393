// Package featureds registers the catalog formats of region-feature
// stores, one implementation over both on-disk layouts:
//
//   - "lmdb_features": MMF's detectron.lmdb (features/lmdbstore, pickled
//     numpy dicts that MMF reads);
//   - "hdf5_features": one HDF5 file in the layout of features/h5store
//     (h5py-readable);
//   - "region_features": either, chosen by the path: HDF5 for a .h5 or
//     .hdf5 extension, else LMDB (a directory, or a single file).
//
// An entry and its save_args (decoded strictly; which keys apply follows
// the store chosen):
//
//	train_features:
//	  type: lmdb_features
//	  filepath: data/04_feature/hateful_memes/detectron.lmdb
//	  save_args:
//	    map_size: 1099511627776   # LMDB map size in bytes (default 1 TiB, as MMF)
//	    no_subdir: false          # true writes one file instead of a directory
//
//	vg_features:
//	  type: hdf5_features
//	  filepath: data/04_feature/hateful_memes/features.h5
//	  save_args:
//	    regions: 100            # R, records are zero-padded to it (see below)
//	    dim: 2048               # D, 0 takes it from the first record
//	    compression: 4          # gzip level 1-9, -1 for none (default 4)
//	    extractor: vg-frcnn-r101
//	    extractor_params: {min_boxes: 10, max_boxes: 100}
//
// HDF5 provenance left out of save_args comes from the saved value when
// it can say: regions 0 takes MaxRegions() (the synthetic detector's
// widest record) and falls back to h5store's default; an empty extractor
// and absent extractor_params take Extractor() and ExtractorParams().
//
// Handles may have one of these types:
//
//   - features.Maybe: the open store, or none (Reader nil) when the path
//     does not exist, for nodes that can do without it. With load_args
//     {optional: true} the entry counts as existing even when absent, so
//     a run does not stop before such a node.
//   - features.Reader: the open store (an *lmdbstore.Reader, read with pread,
//     with MMF's id lookup and GetForImage, or an *h5store.Store); it stays
//     open for the rest of the run (the catalog has no end-of-run hook).
//   - []*features.Record: every record, in the store's id order.
//   - iter.Seq2[*features.Record, error]: a stream that opens the store
//     when iterated and closes it at the end.
//   - any interface with Len() int and Each(func(*features.Record) error)
//     error, such as synth.Regions: a *Records that re-reads the store on
//     every pass.
//
// Saving takes any of these values; nothing appears at the path unless
// every record was written.
//
// Import it for its side effect: import _ "mmc/catalog/featureds".
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

	"mmc/catalog"
	"mmc/features"
	"mmc/features/h5store"
	"mmc/features/lmdbstore"
)

// The catalog "type:" names this package registers.
const (
	LMDBFormat   = "lmdb_features"
	HDF5Format   = "hdf5_features"
	ByPathFormat = "region_features"
)

var (
	readerType = reflect.TypeFor[features.Reader]()
	sliceType  = reflect.TypeFor[[]*features.Record]()
	seqType    = reflect.TypeFor[iter.Seq2[*features.Record, error]]()
	eachType   = reflect.TypeFor[*Records]()
	maybeType  = reflect.TypeFor[features.Maybe]()
)

const kinds = "features.Reader, []*features.Record, iter.Seq2[*features.Record, error] or a Len/Each stream"

// Formats returns the region-feature store formats: lmdb_features,
// hdf5_features and region_features.
func Formats() []catalog.Format {
	return []catalog.Format{{
		Name:          LMDBFormat,
		Doc:           "MMF detectron.lmdb region features (pickled numpy dicts, MMF-readable): " + kinds,
		New:           func(s catalog.Spec) (catalog.Dataset, error) { return newDataset(s, lmdbBackend) },
		Accepts:       accepts,
		NeedsFilepath: true,
	}, {
		Name:          HDF5Format,
		Doc:           "region features in one HDF5 file (features/h5store layout, h5py-readable): " + kinds,
		New:           func(s catalog.Spec) (catalog.Dataset, error) { return newDataset(s, hdf5Backend) },
		Accepts:       accepts,
		NeedsFilepath: true,
	}, {
		Name:          ByPathFormat,
		Doc:           "region features in HDF5 (.h5/.hdf5 extension) or else MMF detectron.lmdb, as " + HDF5Format + " or " + LMDBFormat + ": " + kinds,
		New:           func(s catalog.Spec) (catalog.Dataset, error) { return newDataset(s, backendFor(s.Filepath)) },
		Accepts:       accepts,
		NeedsFilepath: true,
	}}
}

func accepts(t reflect.Type) error {
	switch {
	case t == readerType, t == sliceType, t == seqType, t == maybeType:
		return nil
	case t.Kind() == reflect.Interface && t.NumMethod() > 0 && eachType.Implements(t):
		return nil
	}
	return fmt.Errorf("supports features.Reader, []*features.Record, iter.Seq2[*features.Record, error] or an interface with Len() int and Each(func(*features.Record) error) error, not %v", t)
}

// backendFor picks the store of a region_features path by its extension.
func backendFor(path string) *backend {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".h5", ".hdf5":
		return hdf5Backend
	}
	return lmdbBackend
}

// writer is a store being written: Close commits it, Abort leaves
// nothing at its path.
type writer interface {
	features.Writer
	Abort() error
}

// backend is one on-disk layout.
type backend struct {
	format string // the format registered for exactly this layout
	open   func(path string) (features.Reader, error)
	// record reads the record stored under id, one of the reader's IDs(),
	// exactly (LMDB's Get would apply MMF's int-first lookup instead).
	record func(r features.Reader, id string) (*features.Record, error)
	// args decodes and checks save_args; create then opens a writer for
	// the value about to be saved.
	args func(s catalog.Spec) (create func(path string, v any) (writer, error), err error)
}

var lmdbBackend = &backend{
	format: LMDBFormat,
	open:   func(path string) (features.Reader, error) { return lmdbstore.Open(path, nil) },
	record: func(r features.Reader, id string) (*features.Record, error) { return r.(*lmdbstore.Reader).GetKey(id) },
	args: func(s catalog.Spec) (func(string, any) (writer, error), error) {
		var a struct {
			MapSize  int64 `yaml:"map_size"`
			NoSubdir bool  `yaml:"no_subdir"`
		}
		if err := s.DecodeSaveArgs(&a); err != nil {
			return nil, err
		}
		if a.MapSize < 0 {
			return nil, fmt.Errorf("dataset %q: save_args map_size %d must not be negative", s.Name, a.MapSize)
		}
		opts := lmdbstore.Options{MapSize: a.MapSize, NoSubdir: a.NoSubdir}
		return func(path string, _ any) (writer, error) { return lmdbstore.Create(path, &opts) }, nil
	},
}

// widest is a stream that knows its largest region count before it is
// read, such as the synthetic detector's output.
type widest interface{ MaxRegions() int }

// provenance is a value that names the extractor of its features.
type provenance interface {
	Extractor() string
	ExtractorParams() map[string]any
}

var hdf5Backend = &backend{
	format: HDF5Format,
	open:   func(path string) (features.Reader, error) { return h5store.Open(path) },
	record: func(r features.Reader, id string) (*features.Record, error) { return r.Get(id) },
	args: func(s catalog.Spec) (func(string, any) (writer, error), error) {
		var a struct {
			Regions         int            `yaml:"regions"`
			Dim             int            `yaml:"dim"`
			Compression     int            `yaml:"compression"`
			Extractor       string         `yaml:"extractor"`
			ExtractorParams map[string]any `yaml:"extractor_params"`
		}
		if err := s.DecodeSaveArgs(&a); err != nil {
			return nil, err
		}
		if a.Regions < 0 || a.Dim < 0 {
			return nil, fmt.Errorf("dataset %q: save_args regions %d and dim %d must not be negative", s.Name, a.Regions, a.Dim)
		}
		if a.Compression != 0 && a.Compression != h5store.NoCompression && (a.Compression < 1 || a.Compression > 9) {
			return nil, fmt.Errorf("dataset %q: save_args compression %d: want a gzip level 1-9, or -1 for none", s.Name, a.Compression)
		}
		return func(path string, v any) (writer, error) {
			o := h5store.Options{Regions: a.Regions, Dim: a.Dim, Compression: a.Compression,
				Extractor: a.Extractor, ExtractorParams: a.ExtractorParams}
			if w, ok := v.(widest); ok && o.Regions == 0 {
				o.Regions = w.MaxRegions()
			}
			if p, ok := v.(provenance); ok {
				if o.Extractor == "" {
					o.Extractor = p.Extractor()
				}
				if o.ExtractorParams == nil {
					o.ExtractorParams = p.ExtractorParams()
				}
			}
			// A store's folder may not exist yet (h5store creates only the file).
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, fmt.Errorf("%s %s: %w", s.Type, path, err)
			}
			return h5store.Create(path, &o)
		}, nil
	},
}

type dataset struct {
	format   string // the entry's type, for messages
	path     string
	store    *backend
	create   func(path string, v any) (writer, error)
	optional bool // load_args optional: counts as existing, loads as features.Maybe
}

func newDataset(s catalog.Spec, b *backend) (catalog.Dataset, error) {
	create, err := b.args(s)
	if err != nil {
		return nil, err
	}
	var la struct {
		Optional bool `yaml:"optional"`
	}
	if err := s.DecodeLoadArgs(&la); err != nil {
		return nil, err
	}
	return &dataset{format: s.Type, path: s.Filepath, store: b, create: create, optional: la.Optional}, nil
}

func (d *dataset) Describe() string { return d.format + " " + d.path }

func (d *dataset) Exists() (bool, error) {
	if d.optional {
		return true, nil // an absent store loads as an empty features.Maybe
	}
	_, err := os.Stat(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d *dataset) Load(ctx context.Context, t reflect.Type) (any, error) {
	if t == maybeType {
		if _, err := os.Stat(d.path); errors.Is(err, os.ErrNotExist) {
			return features.Maybe{Missing: fmt.Sprintf("region features %s (%s) do not exist", d.path, d.store.format)}, nil
		}
		r, err := d.store.open(d.path)
		if err != nil {
			return nil, err
		}
		return features.Maybe{Reader: r}, nil
	}
	if _, err := os.Stat(d.path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("region features %s (%s) do not exist: extract them (MMF's detectron.lmdb from the Hateful Memes release, or the feature-extraction pipelines), or use --env=demo for the synthetic set: %w",
			d.path, d.store.format, catalog.ErrNotFound)
	}
	recs := &Records{path: d.path, store: d.store}
	switch t {
	case readerType:
		return d.store.open(d.path)
	case sliceType:
		var out []*features.Record
		err := recs.each(ctx, func(r *features.Record) error {
			out = append(out, r)
			return nil
		})
		return out, err
	}
	r, err := d.store.open(d.path)
	if err != nil {
		return nil, err
	}
	recs.n = len(r.IDs())
	if err := r.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", d.path, err)
	}
	if t == seqType {
		return recs.All(), nil
	}
	return recs, nil
}

func (d *dataset) Save(ctx context.Context, v any) error {
	if v == nil {
		return fmt.Errorf("%s %s: nothing to save (nil)", d.format, d.path)
	}
	if _, ok := v.(interface {
		Each(func(*features.Record) error) error
	}); !ok {
		switch v.(type) {
		case []*features.Record, iter.Seq2[*features.Record, error], features.Reader:
		default:
			return fmt.Errorf("%s saves features.Reader, []*features.Record, iter.Seq2[*features.Record, error] or a value with Each(func(*features.Record) error) error, not %T", d.format, v)
		}
	}
	if p, ok := v.(provenance); ok && d.store == hdf5Backend {
		if pl, ok := v.(planned); ok {
			return d.saveExtraction(ctx, v, p, pl)
		}
	}
	w, err := d.create(d.path, v)
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

// write puts every record of v, one of the kinds Save checked.
func write(ctx context.Context, w writer, v any) error {
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
	}
	r := v.(features.Reader)
	for _, id := range r.IDs() {
		rec, err := r.Get(id)
		if err != nil {
			return err
		}
		if err := put(rec); err != nil {
			return err
		}
	}
	return nil
}

// Records is a saved store read as a stream: every pass opens it,
// yields its records in id order and closes it, so no handle outlives
// an iteration.
type Records struct {
	path  string
	store *backend
	n     int
}

// Open opens the store for random access by image id; the caller
// closes it.
func (r *Records) Open() (features.Reader, error) { return r.store.open(r.path) }

// Path is the store's path.
func (r *Records) Path() string { return r.path }

// Len is the number of records, as of loading.
func (r *Records) Len() int { return r.n }

// Each calls fn for every record in order, stopping at its first error.
func (r *Records) Each(fn func(*features.Record) error) error {
	return r.each(context.Background(), fn)
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

func (r *Records) each(ctx context.Context, fn func(*features.Record) error) (err error) {
	s, err := r.store.open(r.path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", r.path, cerr)
		}
	}()
	for _, id := range s.IDs() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.store.record(s, id)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
