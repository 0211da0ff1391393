package h5store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/hdf5"

	"mmc/atomicfile"
	"mmc/features"
)

// Format identifies the layout in the file's "format" attribute.
const (
	Format        = "mmc-region-features"
	FormatVersion = "1"
)

// DefaultRegions is R when Options.Regions is 0: MMF's max_features.
const DefaultRegions = 100

// DefaultCompression is the gzip level when Options.Compression is 0.
const DefaultCompression = 4

// NoCompression turns gzip off when set as Options.Compression.
const NoCompression = -1

// Options configures a new store. The zero value (or nil) works: 100 regions, the
// feature width taken from the first record, gzip level 4.
type Options struct {
	Regions     int // R: records are zero-padded to this many regions; more is an error
	Dim         int // D: feature width; 0 takes it from the first record
	Compression int // gzip level 1–9; 0 means DefaultCompression, NoCompression disables it

	Extractor       string         // stored in the "extractor" attribute
	ExtractorParams map[string]any // stored as JSON in "extractor_params"
}

// growBy is how many images the extendible datasets grow at a time.
const growBy = 256

// Writer streams records into a new HDF5 file; see the package doc for
// the layout. Nothing appears at the final path until Close succeeds;
// call Close or Abort, or the temporary file stays behind. A Writer is
// not safe for concurrent use.
type Writer struct {
	path, tmp string
	guard     *os.File // flocked while writing (atomicfile.CreateTemp)
	opts      Options

	f                              *hdf5.File
	feats, boxes, objects, clsProb *hdf5.Dataset
	dim, classes, capacity         int
	wantCls                        bool // records carry cls_prob; the dataset waits for C

	ids      []string
	index    map[string]int
	numBoxes []int32
	widths   []int32
	heights  []int32
	detected []int32 // features.Record.Detected; /num_detected when any is set
	anyDet   bool

	featBuf, boxBuf, clsBuf []float32
	objBuf                  []int64

	err  error // first failure; Close then discards the file
	done bool
}

var _ features.Writer = (*Writer)(nil)

// Create starts a store that Close will place at path (replacing any
// file there). The data goes to a temporary file in the same directory.
// nil options mean the zero Options.
func Create(path string, o *Options) (*Writer, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Regions == 0 {
		opts.Regions = DefaultRegions
	}
	if opts.Regions < 0 || opts.Dim < 0 {
		return nil, fmt.Errorf("h5store %s: regions %d and dim %d must not be negative", path, opts.Regions, opts.Dim)
	}
	switch {
	case opts.Compression == 0:
		opts.Compression = DefaultCompression
	case opts.Compression != NoCompression && (opts.Compression < 1 || opts.Compression > 9):
		return nil, fmt.Errorf("h5store %s: gzip level %d outside 1–9", path, opts.Compression)
	}
	if _, err := json.Marshal(opts.ExtractorParams); err != nil {
		return nil, fmt.Errorf("h5store %s: extractor params: %w", path, err)
	}
	// A flocked guard temporary beside the file: another live writer of
	// path makes this fail naming its pid, and stale temporaries of
	// killed writers go. (The HDF5 file itself cannot carry our flock:
	// libhdf5 takes its own.)
	guard, err := atomicfile.CreateTemp(path)
	if err != nil {
		return nil, fmt.Errorf("h5store %s: %w", path, err)
	}
	tmpf, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		releaseGuard(guard)
		return nil, fmt.Errorf("h5store: %w", err)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	unlock := lockH5()
	f, err := hdf5.CreateFile(tmp, hdf5.F_ACC_TRUNC)
	unlock()
	if err != nil {
		os.Remove(tmp)
		releaseGuard(guard)
		return nil, fmt.Errorf("h5store %s: creating HDF5 file %s failed: %v", path, tmp, err)
	}
	return &Writer{path: path, tmp: tmp, guard: guard, opts: opts, f: f, index: make(map[string]int)}, nil
}

// Put appends one image's features, zero-padding them to R regions.
// After an error the writer is unusable and Close discards the file.
func (w *Writer) Put(r *features.Record) error {
	if w.done {
		return fmt.Errorf("h5store %s: Put after Close", w.path)
	}
	if w.err != nil {
		return w.err
	}
	if err := w.put(r); err != nil {
		w.err = fmt.Errorf("h5store %s: %w", w.path, err)
		return w.err
	}
	return nil
}

func (w *Writer) put(r *features.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.ID == "" {
		return errors.New("record with an empty id")
	}
	if first, dup := w.index[r.ID]; dup {
		return fmt.Errorf("id %q written twice (first as image %d)", r.ID, first)
	}
	if r.NumBoxes > w.opts.Regions {
		return fmt.Errorf("features %q: %d regions, the store holds at most %d (Options.Regions)", r.ID, r.NumBoxes, w.opts.Regions)
	}
	if r.ImageW < 0 || r.ImageH < 0 || r.ImageW > 1<<31-1 || r.ImageH > 1<<31-1 {
		return fmt.Errorf("features %q: image size %d×%d", r.ID, r.ImageW, r.ImageH)
	}
	defer lockH5()()
	if w.feats == nil {
		if err := w.createStreams(r); err != nil {
			return err
		}
	}
	if err := w.checkShape(r); err != nil {
		return err
	}
	n := len(w.ids)
	if n == w.capacity {
		w.capacity += growBy
		if err := w.resize(w.capacity); err != nil {
			return err
		}
	}
	R, D := w.opts.Regions, w.dim
	clear(w.featBuf[copy(w.featBuf, r.Features):])
	clear(w.boxBuf[copy(w.boxBuf, r.Boxes):])
	if err := writeRow(w.feats, n, w.featBuf, R, D); err != nil {
		return fmt.Errorf("features %q: %w", r.ID, err)
	}
	if err := writeRow(w.boxes, n, w.boxBuf, R, 4); err != nil {
		return fmt.Errorf("boxes %q: %w", r.ID, err)
	}
	if w.objects != nil {
		clear(w.objBuf[copy(w.objBuf, r.Objects):])
		if err := writeRow(w.objects, n, w.objBuf, R); err != nil {
			return fmt.Errorf("objects %q: %w", r.ID, err)
		}
	}
	if w.clsProb != nil {
		clear(w.clsBuf[copy(w.clsBuf, r.ClsProb):])
		if err := writeRow(w.clsProb, n, w.clsBuf, R, w.classes); err != nil {
			return fmt.Errorf("cls_prob %q: %w", r.ID, err)
		}
	}
	w.index[r.ID] = n
	w.ids = append(w.ids, r.ID)
	w.numBoxes = append(w.numBoxes, int32(r.NumBoxes))
	w.widths = append(w.widths, int32(r.ImageW))
	w.heights = append(w.heights, int32(r.ImageH))
	w.detected = append(w.detected, int32(r.Detected))
	w.anyDet = w.anyDet || r.Detected > 0
	return nil
}

// checkShape makes every record agree with the first on width and on
// which optional fields it carries.
func (w *Writer) checkShape(r *features.Record) error {
	if r.Dim != w.dim {
		return fmt.Errorf("features %q: dim %d, the store has dim %d", r.ID, r.Dim, w.dim)
	}
	if (r.Objects != nil) != (w.objects != nil) {
		return fmt.Errorf("features %q: objects present=%v, but present=%v in the first record", r.ID, r.Objects != nil, w.objects != nil)
	}
	if (r.ClsProb != nil) != w.wantCls {
		return fmt.Errorf("features %q: cls_prob present=%v, but present=%v in the first record", r.ID, r.ClsProb != nil, w.wantCls)
	}
	if w.wantCls && w.clsProb == nil && r.NumBoxes > 0 {
		if len(r.ClsProb)%r.NumBoxes != 0 {
			return fmt.Errorf("features %q: %d cls_prob values do not split into %d regions", r.ID, len(r.ClsProb), r.NumBoxes)
		}
		if err := w.createClsProb(len(r.ClsProb) / r.NumBoxes); err != nil {
			return err
		}
	}
	if w.clsProb != nil && len(r.ClsProb) != r.NumBoxes*w.classes {
		return fmt.Errorf("features %q: %d cls_prob values, want num_boxes %d × %d classes", r.ID, len(r.ClsProb), r.NumBoxes, w.classes)
	}
	return nil
}

// createStreams creates the per-region datasets, shaped by the first
// record (feature width, optional objects and class probabilities).
func (w *Writer) createStreams(r *features.Record) error {
	w.dim = w.opts.Dim
	if w.dim == 0 {
		w.dim = r.Dim
	}
	R := uint(w.opts.Regions)
	var err error
	if w.feats, err = w.createDataset("features", hdf5.T_NATIVE_FLOAT, R, uint(w.dim)); err != nil {
		return err
	}
	if w.boxes, err = w.createDataset("boxes", hdf5.T_NATIVE_FLOAT, R, 4); err != nil {
		return err
	}
	w.featBuf = make([]float32, w.opts.Regions*w.dim)
	w.boxBuf = make([]float32, w.opts.Regions*4)
	if r.Objects != nil {
		if w.objects, err = w.createDataset("objects", hdf5.T_NATIVE_INT64, R); err != nil {
			return err
		}
		w.objBuf = make([]int64, w.opts.Regions)
	}
	// cls_prob's class count C is known only from a record with regions;
	// checkShape creates the dataset then.
	w.wantCls = r.ClsProb != nil
	return nil
}

// createClsProb creates /cls_prob with c classes, sized like the other
// per-region datasets; rows written before it existed read as zeros,
// which is right because those images had no regions.
func (w *Writer) createClsProb(c int) error {
	var err error
	w.classes = c
	if w.clsProb, err = w.createDataset("cls_prob", hdf5.T_NATIVE_FLOAT, uint(w.opts.Regions), uint(c)); err != nil {
		return err
	}
	w.clsBuf = make([]float32, w.opts.Regions*c)
	if w.capacity > 0 {
		return w.resize(w.capacity)
	}
	return nil
}

// createDataset makes an extendible [0, inner...] dataset chunked one
// image at a time, gzip-compressed unless disabled.
func (w *Writer) createDataset(name string, t *hdf5.Datatype, inner ...uint) (*hdf5.Dataset, error) {
	dims := append([]uint{0}, inner...)
	maxDims := append([]uint{^uint(0)}, inner...) // H5S_UNLIMITED on the image axis
	chunk := append([]uint{1}, inner...)
	for i := range chunk {
		chunk[i] = max(chunk[i], 1)
	}
	space, err := hdf5.CreateSimpleDataspace(dims, maxDims)
	if err != nil {
		return nil, fmt.Errorf("dataspace for /%s %v: %v", name, dims, err)
	}
	defer space.Close()
	dcpl, err := hdf5.NewPropList(hdf5.P_DATASET_CREATE)
	if err != nil {
		return nil, fmt.Errorf("property list for /%s: %v", name, err)
	}
	defer dcpl.Close()
	if err := dcpl.SetChunk(chunk); err != nil {
		return nil, fmt.Errorf("chunking /%s by %v: %v", name, chunk, err)
	}
	if w.opts.Compression != NoCompression {
		if err := dcpl.SetDeflate(w.opts.Compression); err != nil {
			return nil, fmt.Errorf("gzip for /%s: %v", name, err)
		}
	}
	d, err := w.f.CreateDatasetWith(name, t, space, dcpl)
	if err != nil {
		return nil, fmt.Errorf("creating /%s: %v", name, err)
	}
	return d, nil
}

func (w *Writer) resize(n int) error {
	for _, d := range []*hdf5.Dataset{w.feats, w.boxes, w.objects, w.clsProb} {
		if d == nil {
			continue
		}
		sp := d.Space()
		if sp == nil {
			return fmt.Errorf("no dataspace for %s", d.Name())
		}
		dims, _, err := sp.SimpleExtentDims()
		sp.Close()
		if err != nil {
			return fmt.Errorf("dims of %s: %v", d.Name(), err)
		}
		dims[0] = uint(n)
		if err := setExtent(d, dims); err != nil {
			return err
		}
	}
	return nil
}

// writeRow writes buf as row n of d, whose inner dimensions are inner.
func writeRow[T float32 | int64](d *hdf5.Dataset, n int, buf []T, inner ...int) error {
	count := []uint{1}
	offset := []uint{uint(n)}
	for _, v := range inner {
		count = append(count, uint(v))
		offset = append(offset, 0)
	}
	if len(buf) == 0 {
		return nil
	}
	fs := d.Space()
	if fs == nil {
		return fmt.Errorf("no dataspace for %s", d.Name())
	}
	defer fs.Close()
	if err := fs.SelectHyperslab(offset, nil, count, nil); err != nil {
		return fmt.Errorf("selecting row %d of %s: %v", n, d.Name(), err)
	}
	// Shaped like the selection: a flat memory space makes HDF5 map
	// element by element, ~50× slower (see BenchmarkPut/BenchmarkGet).
	ms, err := hdf5.CreateSimpleDataspace(count, nil)
	if err != nil {
		return fmt.Errorf("memory space: %v", err)
	}
	defer ms.Close()
	var zero T
	mem := memFloat32
	if _, ok := any(zero).(int64); ok {
		mem = memInt64
	}
	return writeFrom(d, mem, buf, ms, fs)
}

// Close writes the per-image datasets and attributes, closes the file
// and renames it into place. After an earlier error it discards the file
// and returns that error.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	defer releaseGuard(w.guard)
	if w.err != nil {
		w.discard()
		return w.err
	}
	if err := w.finish(); err != nil {
		w.discard()
		return fmt.Errorf("h5store %s: %w", w.path, err)
	}
	// CreateTemp made the file owner-only; a store is an ordinary data file.
	if err := os.Chmod(w.tmp, 0o644); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("h5store %s: %w", w.path, err)
	}
	if err := syncFile(w.tmp); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("h5store %s: %w", w.path, err)
	}
	if err := os.Rename(w.tmp, w.path); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("h5store: %w", err)
	}
	return nil
}

// Abort discards everything written so far; the final path is
// untouched. It is a no-op after Close.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	defer releaseGuard(w.guard)
	w.discard()
	if err := os.Remove(w.tmp); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("h5store %s: removing %s: %w", w.path, w.tmp, err)
	}
	return nil
}

func (w *Writer) finish() error {
	defer lockH5()()
	n := len(w.ids)
	if w.feats == nil {
		// No records: the per-region datasets still exist, empty, so a
		// reader sees a valid store of zero images.
		w.dim = max(w.opts.Dim, 1)
		if err := w.createStreams(&features.Record{Dim: w.dim}); err != nil {
			return err
		}
	}
	if w.wantCls && w.clsProb == nil {
		if err := w.createClsProb(1); err != nil {
			return err
		}
	}
	if err := w.resize(n); err != nil {
		return err
	}
	if err := w.writeIDs(); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		v    []int32
	}{{"num_boxes", w.numBoxes}, {"image_width", w.widths}, {"image_height", w.heights}} {
		if err := w.writeInt32s(c.name, c.v); err != nil {
			return err
		}
	}
	if w.anyDet {
		if err := w.writeInt32s("num_detected", w.detected); err != nil {
			return err
		}
	}
	params, _ := json.Marshal(w.opts.ExtractorParams) // checked in Create
	if w.opts.ExtractorParams == nil {
		params = []byte("{}")
	}
	for _, a := range [][2]string{{"format", Format}, {"format_version", FormatVersion}, {"extractor", w.opts.Extractor}, {"extractor_params", string(params)}} {
		if err := w.writeAttr(a[0], a[1]); err != nil {
			return err
		}
	}
	return w.closeAll()
}

func (w *Writer) writeIDs() error {
	size := 1
	for _, id := range w.ids {
		size = max(size, len(id))
	}
	t, err := hdf5.T_C_S1.Copy()
	if err != nil {
		return fmt.Errorf("string type: %v", err)
	}
	defer t.Close()
	if err := t.SetSize(size); err != nil {
		return fmt.Errorf("string type of %d bytes: %v", size, err)
	}
	buf := make([]byte, size*len(w.ids))
	for i, id := range w.ids {
		copy(buf[i*size:], id)
	}
	space, err := hdf5.CreateSimpleDataspace([]uint{uint(len(w.ids))}, nil)
	if err != nil {
		return fmt.Errorf("dataspace for /ids: %v", err)
	}
	defer space.Close()
	d, err := w.f.CreateDataset("ids", t, space)
	if err != nil {
		return fmt.Errorf("creating /ids: %v", err)
	}
	defer d.Close()
	return writeRaw(d, t, buf, nil, nil)
}

func (w *Writer) writeInt32s(name string, v []int32) error {
	space, err := hdf5.CreateSimpleDataspace([]uint{uint(len(v))}, nil)
	if err != nil {
		return fmt.Errorf("dataspace for /%s: %v", name, err)
	}
	defer space.Close()
	d, err := w.f.CreateDataset(name, hdf5.T_NATIVE_INT32, space)
	if err != nil {
		return fmt.Errorf("creating /%s: %v", name, err)
	}
	defer d.Close()
	return writeFrom(d, memInt32, v, nil, nil)
}

func (w *Writer) writeAttr(name, value string) error {
	root, err := w.f.OpenGroup("/")
	if err != nil {
		return fmt.Errorf("opening /: %v", err)
	}
	defer root.Close()
	space, err := hdf5.CreateDataspace(hdf5.S_SCALAR)
	if err != nil {
		return fmt.Errorf("scalar dataspace: %v", err)
	}
	defer space.Close()
	a, err := root.CreateAttribute(name, hdf5.T_GO_STRING, space)
	if err != nil {
		return fmt.Errorf("creating attribute %s: %v", name, err)
	}
	defer a.Close()
	if err := a.Write(&value, hdf5.T_GO_STRING); err != nil {
		return fmt.Errorf("writing attribute %s: %v", name, err)
	}
	return nil
}

// closeAll closes every open HDF5 object and then the file; the caller
// holds h5mu.
func (w *Writer) closeAll() error {
	var first error
	for _, d := range []*hdf5.Dataset{w.feats, w.boxes, w.objects, w.clsProb} {
		if d != nil {
			if err := d.Close(); err != nil && first == nil {
				first = fmt.Errorf("closing %s: %v", d.Name(), err)
			}
		}
	}
	w.feats, w.boxes, w.objects, w.clsProb = nil, nil, nil, nil
	if w.f != nil {
		if err := w.f.Close(); err != nil && first == nil {
			first = fmt.Errorf("closing the HDF5 file: %v", err)
		}
		w.f = nil
	}
	return first
}

func (w *Writer) discard() {
	unlock := lockH5()
	w.closeAll()
	unlock()
	os.Remove(w.tmp)
}

// releaseGuard unlocks and removes the guard temporary.
func releaseGuard(g *os.File) {
	if g != nil {
		g.Close()
		os.Remove(g.Name())
	}
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
