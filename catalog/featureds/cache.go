package featureds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"mmc/features"
	"mmc/features/h5store"
)

// Extraction caching (HDF5 stores saved from a value that names its
// extractor, such as nodes.ExtractFeatures' stream):
//
//   - a store already at the path, made by the same extractor with the
//     same parameters and holding every image the stream would yield, is
//     kept: nothing is extracted;
//   - a store made with other parameters is an error that names the
//     parameters that differ; it is never silently reused or replaced;
//   - the records are written to numbered part files in <path>.partial/,
//     each committed (atomically) every PartSize images and when the
//     extraction stops on an error or a cancellation; the next run keeps
//     the images the parts hold, extracts the others, then merges the
//     parts into the store at the path and removes the folder. A killed
//     run loses at most the part being written.

// PartSize is how many images a part file of an interrupted-safe
// extraction holds before it is committed.
const PartSize = 256

// planned is an extraction stream that lists its images up front and
// can leave out those a store already holds.
type planned interface {
	// ImageIDs are the ids Each yields, in order.
	ImageIDs() []string
	// EachMissing is Each over the images have reports false for.
	EachMissing(have func(id string) bool, fn func(*features.Record) error) error
}

// notifier is a stream that reports the store's notices (found,
// resuming) to the user; catalog formats do not print.
type notifier interface {
	Notify(msg string)
}

func notify(v any, format string, args ...any) {
	if n, ok := v.(notifier); ok {
		n.Notify(fmt.Sprintf(format, args...))
	}
}

// PartialDir is where the parts of an unfinished extraction into path
// are kept.
func PartialDir(path string) string { return path + ".partial" }

// sameParams compares extractor parameters by their JSON (map keys
// sorted, numbers as JSON numbers) and lists the top-level keys that
// differ.
func sameParams(a, b map[string]any) (bool, []string) {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) == string(jb) {
		return true, nil
	}
	var diff []string
	for k, va := range a {
		x, _ := json.Marshal(va)
		y, _ := json.Marshal(b[k])
		if _, ok := b[k]; !ok || string(x) != string(y) {
			diff = append(diff, fmt.Sprintf("%s: %s → %s", k, x, y))
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok {
			y, _ := json.Marshal(vb)
			diff = append(diff, fmt.Sprintf("%s: (absent) → %s", k, y))
		}
	}
	sort.Strings(diff)
	return false, diff
}

// checkProvenance opens the store at path and checks it was made by
// name with params; it returns the ids it holds.
func checkProvenance(path, what, name string, params map[string]any) ([]string, error) {
	s, err := h5store.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w (delete it to extract again)", what, path, err)
	}
	defer s.Close()
	got, err := s.ExtractorParams()
	if err != nil {
		return nil, err
	}
	if s.Extractor() != name {
		return nil, fmt.Errorf("%s %s was extracted by %q, the parameters now select %q: it is not reused; delete it (or point the catalog entry elsewhere) to extract again, or restore the parameters", what, path, s.Extractor(), name)
	}
	if ok, diff := sameParams(got, params); !ok {
		return nil, fmt.Errorf("%s %s was extracted by %s with other parameters than the current ones (%s): it is not reused; delete it (or point the catalog entry elsewhere) to extract again, or restore the parameters", what, path, name, strings.Join(diff, "; "))
	}
	return s.IDs(), nil
}

// saveExtraction is Save for a stream with provenance into an HDF5 store.
func (d *dataset) saveExtraction(ctx context.Context, v any, p provenance, pl planned) error {
	name, params := p.Extractor(), p.ExtractorParams()
	want := pl.ImageIDs()
	partial := PartialDir(d.path)
	if _, err := os.Stat(d.path); err == nil {
		ids, err := checkProvenance(d.path, "feature store", name, params)
		if err != nil {
			return err
		}
		held := make(map[string]bool, len(ids))
		for _, id := range ids {
			held[id] = true
		}
		missing := 0
		for _, id := range want {
			if !held[id] {
				missing++
			}
		}
		if missing == 0 {
			notify(v, "%s: %s holds the %s features of all %d images, with the same parameters: extraction skipped", d.format, d.path, name, len(want))
			return nil
		}
		// Images were added: the store becomes the first part.
		if err := os.MkdirAll(partial, 0o755); err != nil {
			return fmt.Errorf("%s %s: %w", d.format, partial, err)
		}
		if err := os.Rename(d.path, filepath.Join(partial, "part-00000.h5")); err != nil {
			return fmt.Errorf("%s %s: %w", d.format, d.path, err)
		}
		notify(v, "%s: %s holds %d of %d images: extracting the %d others", d.format, d.path, len(want)-missing, len(want), missing)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", d.format, d.path, err)
	}

	parts, _ := filepath.Glob(filepath.Join(partial, "part-*.h5"))
	slices.Sort(parts)
	have := map[string]bool{}
	for _, part := range parts {
		ids, err := checkProvenance(part, "unfinished extraction part", name, params)
		if err != nil {
			return err
		}
		for _, id := range ids {
			have[id] = true
		}
	}
	if len(have) > 0 {
		notify(v, "%s: resuming the extraction into %s: %d images already extracted in %s", d.format, d.path, len(have), partial)
	}
	if err := os.MkdirAll(partial, 0o755); err != nil {
		return fmt.Errorf("%s %s: %w", d.format, partial, err)
	}

	next := len(parts)
	if len(parts) > 0 {
		fmt.Sscanf(filepath.Base(parts[len(parts)-1]), "part-%05d.h5", &next)
		next++
	}
	pw := &partWriter{dir: partial, next: next, v: v, name: name, params: params}
	put := func(r *features.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return pw.put(r)
	}
	if err := pl.EachMissing(func(id string) bool { return have[id] }, put); err != nil {
		kept, cerr := pw.commit()
		if cerr != nil {
			return errors.Join(err, cerr)
		}
		return fmt.Errorf("%w (extraction stopped: %d images are kept in %s, and the next run resumes from there)", err, len(have)+kept, partial)
	}
	if _, err := pw.commit(); err != nil {
		return err
	}
	return d.mergeParts(ctx, want, name, params)
}

// partWriter writes records into part files of PartSize images.
type partWriter struct {
	dir    string
	next   int
	v      any
	name   string
	params map[string]any
	w      *h5store.Writer
	n      int // records in w
	total  int // records committed
}

func (pw *partWriter) options(compression int) *h5store.Options {
	o := &h5store.Options{Compression: compression, Extractor: pw.name, ExtractorParams: pw.params}
	if w, ok := pw.v.(widest); ok {
		o.Regions = w.MaxRegions()
	}
	return o
}

func (pw *partWriter) put(r *features.Record) error {
	if pw.w == nil {
		w, err := h5store.Create(filepath.Join(pw.dir, fmt.Sprintf("part-%05d.h5", pw.next)), pw.options(1))
		if err != nil {
			return err
		}
		pw.w, pw.n = w, 0
		pw.next++
	}
	if err := pw.w.Put(r); err != nil {
		return err
	}
	pw.n++
	if pw.n >= PartSize {
		if _, err := pw.commit(); err != nil {
			return err
		}
	}
	return nil
}

// commit closes the part being written (nothing when it is empty) and
// returns how many records all committed parts of this run hold.
func (pw *partWriter) commit() (int, error) {
	if pw.w == nil {
		return pw.total, nil
	}
	w, n := pw.w, pw.n
	pw.w = nil
	if n == 0 {
		return pw.total, w.Abort()
	}
	if err := w.Close(); err != nil {
		return pw.total, err
	}
	pw.total += n
	return pw.total, nil
}

// mergeParts writes every part's records into the store at d.path (in
// the stream's image order when it has one), then removes the parts.
// merged is the value a merge saves: the parts' width and provenance.
type merged struct {
	regions int
	name    string
	params  map[string]any
}

func (m merged) MaxRegions() int                 { return m.regions }
func (m merged) Extractor() string               { return m.name }
func (m merged) ExtractorParams() map[string]any { return m.params }

func (d *dataset) mergeParts(ctx context.Context, want []string, name string, params map[string]any) error {
	partial := PartialDir(d.path)
	parts, _ := filepath.Glob(filepath.Join(partial, "part-*.h5"))
	slices.Sort(parts)
	stores := make([]*h5store.Store, 0, len(parts))
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	where := map[string]*h5store.Store{}
	var order []string
	for _, part := range parts {
		s, err := h5store.Open(part)
		if err != nil {
			return fmt.Errorf("%s: merging %s: %w", d.format, part, err)
		}
		stores = append(stores, s)
		for _, id := range s.IDs() {
			if where[id] == nil {
				order = append(order, id)
			}
			where[id] = s
		}
	}
	if len(want) > 0 {
		order = want
	}
	// The parts say the padding width: the stream's MaxRegions would
	// load its extractor (a backbone's weights) for nothing.
	regions := 0
	for _, s := range stores {
		regions = max(regions, s.Regions())
	}
	w, err := d.create(d.path, merged{regions: regions, name: name, params: params})
	if err != nil {
		return err
	}
	for _, id := range order {
		if err := ctx.Err(); err != nil {
			w.Abort()
			return err
		}
		s := where[id]
		if s == nil {
			w.Abort()
			return fmt.Errorf("%s %s: image %s was not extracted", d.format, d.path, id)
		}
		r, err := s.Get(id)
		if err == nil {
			err = w.Put(r)
		}
		if err != nil {
			w.Abort()
			return fmt.Errorf("%s %s: merging image %s: %w", d.format, d.path, id, err)
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	for _, s := range stores {
		s.Close()
	}
	stores = nil
	if err := os.RemoveAll(partial); err != nil {
		return fmt.Errorf("%s: removing %s after the merge: %w", d.format, partial, err)
	}
	return nil
}
