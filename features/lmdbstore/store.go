// Package lmdbstore reads and writes MMF's detectron.lmdb region-feature
// stores: one pickled dict of numpy arrays per image, keyed by the image
// id, plus a b"keys" entry holding the pickled list of all keys. Stores
// are read by a pure-Go, bounds-checked LMDB reader (mdb.go; writes use
// liblmdb), and only the requested image's arrays are converted. The
// vilbert-multi-task variant of the value dict reads too.
package lmdbstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/PowerDNS/lmdb-go/lmdb"

	"mmc/atomicfile"
	"mmc/features"
	"mmc/pickle"
)

// keysKey is the entry holding the pickled list of image keys.
const keysKey = "keys"

// Options configures Open and Create. The zero value matches MMF.
type Options struct {
	// MapSize is the LMDB map size a writer reserves (default 1 TiB, as
	// MMF's lmdb_conversion.py; it is address space, not disk).
	MapSize int64
	// NoSubdir makes Create write a single-file LMDB at path instead of a
	// directory holding data.mdb. Open decides by looking at the path,
	// as MMF does (subdir=os.path.isdir(path)).
	NoSubdir bool
}

// Reader is an open detectron.lmdb. It implements features.Reader and is
// safe for concurrent use. It reads the LMDB file format itself, with
// pread and bounds checks on every page (mdb.go), instead of mapping the
// file through liblmdb: a truncated or corrupt store is an error naming
// the file and what is wrong, never a SIGBUS.
type Reader struct {
	path  string
	db    *mdbFile
	bufs  sync.Pool // *[]byte value buffers
	ids   []string
	index map[string]struct{}
}

var _ features.Reader = (*Reader)(nil)

// Open opens the store at path read-only, as a directory holding
// data.mdb or as a single file (MMF: subdir=os.path.isdir(path)). The
// data file is checked against its newest meta page (its last page must
// be in the file) before anything else is read.
func Open(path string, opts *Options) (*Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open lmdb %s: %w", path, err)
	}
	file := path
	if st.IsDir() {
		file = filepath.Join(path, "data.mdb")
	}
	db, err := openMDB(file)
	if err != nil {
		return nil, fmt.Errorf("open lmdb %s: %w", path, err)
	}
	r := &Reader{path: path, db: db, index: map[string]struct{}{}}
	val, ok, err := db.get([]byte(keysKey))
	switch {
	case err != nil:
	case !ok:
		err = db.walk(func(k []byte) error {
			if string(k) != keysKey {
				r.ids = append(r.ids, string(k))
			}
			return nil
		})
	default:
		r.ids, err = decodeKeys(val)
	}
	if err != nil {
		db.close()
		return nil, fmt.Errorf("open lmdb %s: %w", path, err)
	}
	for _, id := range r.ids {
		r.index[id] = struct{}{}
	}
	return r, nil
}

// decodeKeys decodes the b"keys" entry: a pickled list of bytes (MMF) or
// of str.
func decodeKeys(val []byte) ([]string, error) {
	v, err := pickle.Unpickle(val, nil)
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", keysKey, err)
	}
	var items []any
	switch l := v.(type) {
	case *pickle.List:
		items = l.Items
	case pickle.Tuple:
		items = l
	default:
		return nil, fmt.Errorf("entry %q is %s, want a list of keys", keysKey, pickle.TypeName(v))
	}
	ids := make([]string, len(items))
	for i, it := range items {
		switch k := it.(type) {
		case []byte:
			ids[i] = string(k)
		case string:
			ids[i] = k
		default:
			return nil, fmt.Errorf("entry %q: item %d is %s, want bytes", keysKey, i, pickle.TypeName(it))
		}
	}
	return ids, nil
}

// String names the store in messages.
func (r *Reader) String() string { return "lmdb store " + r.path }

// IDs returns the keys in the order of the b"keys" list.
func (r *Reader) IDs() []string { return r.ids }

// Len is the number of images.
func (r *Reader) Len() int { return len(r.ids) }

// Resolve applies MMF's LMDBFeatureReader lookup to a feature path such
// as "02345" or "02345.npy": first str(int(last "_"-separated part)), so
// "02345" finds b"2345", then the path itself. It returns the key found.
func (r *Reader) Resolve(featurePath string) (string, bool) {
	split, _, _ := strings.Cut(featurePath, ".npy")
	parts := strings.Split(split, "_")
	if n, err := strconv.ParseInt(strings.TrimSpace(parts[len(parts)-1]), 10, 64); err == nil {
		k := strconv.FormatInt(n, 10)
		if _, ok := r.index[k]; ok {
			return k, true
		}
	}
	if _, ok := r.index[split]; ok {
		return split, true
	}
	return "", false
}

// Get returns the features of the image id, found with MMF's lookup
// (Resolve). The record's ID is the key that matched.
func (r *Reader) Get(id string) (*features.Record, error) {
	key, ok := r.Resolve(id)
	if !ok {
		return nil, fmt.Errorf("lmdb %s: no features for image %q (tried %q)", r.path, id, r.tried(id))
	}
	return r.GetKey(key)
}

// GetKey reads the record stored under exactly key (one of IDs()),
// without MMF's int-first lookup.
func (r *Reader) GetKey(key string) (*features.Record, error) {
	if _, ok := r.index[key]; !ok {
		return nil, fmt.Errorf("lmdb %s: no key %q", r.path, key)
	}
	// Values (often ~1 MB of features) are read into a pooled buffer:
	// Decode copies what it keeps.
	bp, _ := r.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer r.bufs.Put(bp)
	val, ok, err := r.db.getInto([]byte(key), *bp)
	if cap(val) > cap(*bp) {
		*bp = val[:0]
	}
	if err == nil && !ok {
		err = errors.New("listed in the keys entry but absent from the database")
	}
	if err != nil {
		return nil, fmt.Errorf("lmdb %s: key %q: %w", r.path, key, err)
	}
	rec, err := Decode(key, val)
	if err != nil {
		return nil, fmt.Errorf("lmdb %s: key %q: %w", r.path, key, err)
	}
	return rec, nil
}

func (r *Reader) tried(id string) []string {
	split, _, _ := strings.Cut(id, ".npy")
	parts := strings.Split(split, "_")
	var out []string
	if n, err := strconv.ParseInt(strings.TrimSpace(parts[len(parts)-1]), 10, 64); err == nil {
		out = append(out, strconv.FormatInt(n, 10))
	}
	return append(out, split)
}

// GetForImage maps a Hateful Memes image path to its feature path as
// MMF's HatefulMemesFeaturesDataset does ("img/02345.png" → "02345")
// and looks it up like Get.
func (r *Reader) GetForImage(imgPath string) (*features.Record, error) {
	return r.Get(features.FeaturePath(imgPath))
}

// Close closes the data file.
func (r *Reader) Close() error { return r.db.close() }

// Writer builds a detectron.lmdb. Nothing appears at the final path until
// Close succeeds: the environment is built in a scratch directory beside
// it and moved into place atomically.
type Writer struct {
	path    string
	opts    Options
	scratch string
	release func() // unlocks scratch
	env     *lmdb.Env
	dbi     lmdb.DBI
	keys    []any
	seen    map[string]struct{}
	mu      sync.Mutex
	closed  bool
	failed  error
}

var _ features.Writer = (*Writer)(nil)

// Create starts a store at path.
func Create(path string, opts *Options) (*Writer, error) {
	w := &Writer{path: path, seen: map[string]struct{}{}}
	if opts != nil {
		w.opts = *opts
	}
	if w.opts.MapSize <= 0 {
		w.opts.MapSize = 1 << 40
	}
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create lmdb %s: %w", path, err)
	}
	scratch, release, err := atomicfile.MkdirBuild(path)
	if err != nil {
		return nil, fmt.Errorf("create lmdb %s: %w", path, err)
	}
	w.scratch, w.release = scratch, release
	if err := w.openEnv(); err != nil {
		release()
		os.RemoveAll(scratch)
		return nil, fmt.Errorf("create lmdb %s: %w", path, err)
	}
	return w, nil
}

func (w *Writer) dataPath() string {
	if w.opts.NoSubdir {
		return filepath.Join(w.scratch, "data.lmdb")
	}
	return w.scratch
}

func (w *Writer) openEnv() error {
	env, err := lmdb.NewEnv()
	if err != nil {
		return err
	}
	if err := env.SetMapSize(w.opts.MapSize); err != nil {
		env.Close()
		return err
	}
	flags := uint(lmdb.NoSync)
	if w.opts.NoSubdir {
		flags |= lmdb.NoSubdir
	}
	if err := env.Open(w.dataPath(), flags, 0o644); err != nil {
		env.Close()
		return err
	}
	err = env.Update(func(txn *lmdb.Txn) error {
		w.dbi, err = txn.OpenRoot(0)
		return err
	})
	if err != nil {
		env.Close()
		return err
	}
	w.env = env
	return nil
}

// Put adds one image. Its ID is the LMDB key (written as given, leading
// zeros included); a repeated ID is an error.
func (w *Writer) Put(rec *features.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("lmdb %s: Put after Close", w.path)
	}
	if w.failed != nil {
		return w.failed
	}
	if rec.ID == "" || rec.ID == keysKey {
		return fmt.Errorf("lmdb %s: invalid image id %q", w.path, rec.ID)
	}
	if _, dup := w.seen[rec.ID]; dup {
		return fmt.Errorf("lmdb %s: image id %q written twice", w.path, rec.ID)
	}
	val, err := Encode(rec)
	if err != nil {
		return fmt.Errorf("lmdb %s: %w", w.path, err)
	}
	if err := w.put([]byte(rec.ID), val); err != nil {
		w.failed = fmt.Errorf("lmdb %s: put %q: %w", w.path, rec.ID, err)
		return w.failed
	}
	w.seen[rec.ID] = struct{}{}
	w.keys = append(w.keys, []byte(rec.ID))
	return nil
}

func (w *Writer) put(key, val []byte) error {
	return w.env.Update(func(txn *lmdb.Txn) error {
		return txn.Put(w.dbi, key, val, 0)
	})
}

// Close writes the b"keys" list, syncs, and moves the store to its path,
// replacing any previous store there. After a failed Put, Close discards
// the scratch copy and returns the Put error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.release()
	defer os.RemoveAll(w.scratch)
	if w.failed != nil {
		w.env.Close()
		return w.failed
	}
	err := w.finish()
	w.env.Close()
	if err != nil {
		return fmt.Errorf("lmdb %s: %w", w.path, err)
	}
	if w.opts.NoSubdir {
		if err := os.Rename(w.dataPath(), w.path); err != nil {
			return fmt.Errorf("lmdb %s: %w", w.path, err)
		}
		return nil
	}
	// Unlocked, the scratch directory is no longer another writer's
	// temporary to WriteDir (its pid is alive, so it is not swept).
	w.release()
	return atomicfile.WriteDir(w.path, func(tmp string) error {
		return os.Rename(filepath.Join(w.scratch, "data.mdb"), filepath.Join(tmp, "data.mdb"))
	})
}

func (w *Writer) finish() error {
	keys, err := pickle.Marshal(&pickle.List{Items: w.keys})
	if err != nil {
		return err
	}
	if err := w.put([]byte(keysKey), keys); err != nil {
		return fmt.Errorf("put keys: %w", err)
	}
	return w.env.Sync(true)
}

// Abort discards everything written; the path is left untouched.
func (w *Writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("lmdb: Abort after Close")
	}
	w.closed = true
	w.env.Close()
	defer w.release()
	return os.RemoveAll(w.scratch)
}
