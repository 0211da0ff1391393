package h5store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/hdf5"

	"mmc/features"
)

// Bounds on what a file's metadata may claim, so that a corrupt header
// is an error rather than a huge allocation.
const (
	maxImages  = 1 << 26 // images in one store
	maxIDBytes = 4096    // bytes of one fixed-length id
	maxRegions = 1 << 16 // regions per image
	maxDim     = 1 << 16 // feature width, classes
)

// ErrNotFound is returned (wrapped) by Get for an id the store lacks.
var ErrNotFound = errors.New("id not in feature store")

// Store reads a feature file; see the package doc for the layout and the
// variants it accepts. It is safe for concurrent use.
type Store struct {
	path string
	f    *hdf5.File

	feats, boxes, objects, clsProb *hdf5.Dataset
	regions, dim, classes          int

	ids      []string
	index    map[string]int
	numBoxes []int32
	widths   []int32
	heights  []int32
	detected []int32 // /num_detected, zeros when the file has none

	extractor string
	params    string
}

var _ features.Reader = (*Store)(nil)

// Open opens path read-only and loads its ids and per-image sizes; the
// region features are read per image by Get.
func Open(path string) (*Store, error) {
	if err := checkSuperblock(path); err != nil {
		return nil, fmt.Errorf("h5store: %w", err)
	}
	defer lockH5()()
	f, err := hdf5.OpenFile(path, hdf5.F_ACC_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("h5store: opening %s as HDF5 failed (missing, or not an HDF5 file)", path)
	}
	s := &Store{path: path, f: f}
	if err := s.load(); err != nil {
		s.closeAll()
		return nil, fmt.Errorf("h5store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) load() error {
	if !s.f.LinkExists("ids") || !s.f.LinkExists("features") {
		return errors.New("not a feature store: needs datasets /ids and /features")
	}
	var err error
	if s.ids, err = readIDs(s.f); err != nil {
		return err
	}
	n := len(s.ids)
	s.index = make(map[string]int, n)
	for i, id := range s.ids {
		if first, dup := s.index[id]; dup {
			return fmt.Errorf("/ids: id %q at rows %d and %d", id, first, i)
		}
		s.index[id] = i
	}

	var dims []uint
	if s.feats, dims, err = openNumeric(s.f, "features", hdf5.T_FLOAT, 3); err != nil {
		return err
	}
	if int(dims[0]) != n {
		return fmt.Errorf("/features has %d images, /ids has %d", dims[0], n)
	}
	if dims[1] > maxRegions || dims[2] == 0 || dims[2] > maxDim {
		return fmt.Errorf("/features has shape %v: want at most %d regions of 1 to %d values (a corrupt file?)", dims, maxRegions, maxDim)
	}
	s.regions, s.dim = int(dims[1]), int(dims[2])
	if s.f.LinkExists("boxes") {
		if s.boxes, dims, err = openNumeric(s.f, "boxes", hdf5.T_FLOAT, 3); err != nil {
			return err
		}
		if want := []uint{uint(n), uint(s.regions), 4}; !slices.Equal(dims, want) {
			return fmt.Errorf("/boxes has shape %v, want %v", dims, want)
		}
	}
	if s.f.LinkExists("objects") {
		if s.objects, dims, err = openNumeric(s.f, "objects", hdf5.T_INTEGER, 2); err != nil {
			return err
		}
		if want := []uint{uint(n), uint(s.regions)}; !slices.Equal(dims, want) {
			return fmt.Errorf("/objects has shape %v, want %v", dims, want)
		}
	}
	if s.f.LinkExists("cls_prob") {
		if s.clsProb, dims, err = openNumeric(s.f, "cls_prob", hdf5.T_FLOAT, 3); err != nil {
			return err
		}
		if dims[0] != uint(n) || dims[1] != uint(s.regions) {
			return fmt.Errorf("/cls_prob has shape %v, want [%d %d C]", dims, n, s.regions)
		}
		if dims[2] > maxDim {
			return fmt.Errorf("/cls_prob has %d classes, want at most %d", dims[2], maxDim)
		}
		s.classes = int(dims[2])
	}

	if s.numBoxes, err = readPerImage(s.f, "num_boxes", n, int32(s.regions)); err != nil {
		return err
	}
	for i, nb := range s.numBoxes {
		if nb < 0 || int(nb) > s.regions {
			return fmt.Errorf("/num_boxes[%d] = %d (id %q), outside 0…%d", i, nb, s.ids[i], s.regions)
		}
	}
	if s.detected, err = readPerImage(s.f, "num_detected", n, 0); err != nil {
		return err
	}
	for i, d := range s.detected {
		if d < 0 || d > s.numBoxes[i] {
			return fmt.Errorf("/num_detected[%d] = %d (id %q), outside 0…num_boxes %d", i, d, s.ids[i], s.numBoxes[i])
		}
	}
	if s.widths, err = readPerImage(s.f, "image_width", n, 0); err != nil {
		return err
	}
	if s.heights, err = readPerImage(s.f, "image_height", n, 0); err != nil {
		return err
	}
	if s.extractor, err = readStringAttr(s.f, "extractor"); err != nil {
		return err
	}
	if s.params, err = readStringAttr(s.f, "extractor_params"); err != nil {
		return err
	}
	return nil
}

// readIDs reads /ids: fixed- or variable-length strings, or integers.
func readIDs(f *hdf5.File) ([]string, error) {
	d, err := f.OpenDataset("ids")
	if err != nil {
		return nil, fmt.Errorf("opening /ids: %v", err)
	}
	defer d.Close()
	dims, err := shape(d)
	if err != nil {
		return nil, err
	}
	if len(dims) != 1 {
		return nil, fmt.Errorf("/ids has shape %v, want [N]", dims)
	}
	if dims[0] > maxImages {
		return nil, fmt.Errorf("/ids has %d entries, more than the %d a feature store may hold (a corrupt file?)", dims[0], maxImages)
	}
	n := int(dims[0])
	t, err := d.Datatype()
	if err != nil {
		return nil, fmt.Errorf("type of /ids: %v", err)
	}
	defer t.Close()
	switch t.Class() {
	case hdf5.T_STRING:
		if isVarString(t) {
			return readVarStrings(d, n)
		}
		size := int(t.Size())
		if size <= 0 || size > maxIDBytes {
			return nil, fmt.Errorf("/ids holds strings of %d bytes, want 1 to %d", size, maxIDBytes)
		}
		buf := make([]byte, n*size)
		if err := readRaw(d, t, buf); err != nil {
			return nil, err
		}
		ids := make([]string, n)
		for i := range ids {
			// Null-padded, null-terminated or space-padded: all trimmed.
			ids[i] = strings.TrimRight(string(buf[i*size:(i+1)*size]), "\x00 ")
		}
		return ids, nil
	case hdf5.T_INTEGER:
		v := make([]int64, n)
		if err := readInto(d, memInt64, v, nil, nil); err != nil {
			return nil, err
		}
		ids := make([]string, n)
		for i, x := range v {
			ids[i] = strconv.FormatInt(x, 10)
		}
		return ids, nil
	default:
		return nil, fmt.Errorf("/ids has type class %d, want strings or integers", t.Class())
	}
}

// openNumeric opens a dataset of the given type class (integers also
// pass where floats are wanted) and rank, returning its shape.
func openNumeric(f *hdf5.File, name string, class hdf5.TypeClass, rank int) (*hdf5.Dataset, []uint, error) {
	d, err := f.OpenDataset(name)
	if err != nil {
		return nil, nil, fmt.Errorf("opening /%s: %v", name, err)
	}
	t, err := d.Datatype()
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("type of /%s: %v", name, err)
	}
	got := t.Class()
	t.Close()
	if got != class && !(class == hdf5.T_FLOAT && got == hdf5.T_INTEGER) {
		d.Close()
		return nil, nil, fmt.Errorf("/%s has type class %d, want %d (%s)", name, got, class, className(class))
	}
	dims, err := shape(d)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	if len(dims) != rank {
		d.Close()
		return nil, nil, fmt.Errorf("/%s has shape %v, want rank %d", name, dims, rank)
	}
	return d, dims, nil
}

func className(c hdf5.TypeClass) string {
	if c == hdf5.T_FLOAT {
		return "float"
	}
	return "integer"
}

// readPerImage reads an optional [N] numeric dataset as int32; a missing
// one reads as fill for every image.
func readPerImage(f *hdf5.File, name string, n int, fill int32) ([]int32, error) {
	out := make([]int32, n)
	if !f.LinkExists(name) {
		for i := range out {
			out[i] = fill
		}
		return out, nil
	}
	d, dims, err := openNumeric(f, name, hdf5.T_FLOAT, 1)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if int(dims[0]) != n {
		return nil, fmt.Errorf("/%s has %d values, /ids has %d", name, dims[0], n)
	}
	if err := readInto(d, memInt32, out, nil, nil); err != nil {
		return nil, err
	}
	return out, nil
}

func readStringAttr(f *hdf5.File, name string) (string, error) {
	if !hasAttr(f.Identifier, name) {
		return "", nil
	}
	root, err := f.OpenGroup("/")
	if err != nil {
		return "", fmt.Errorf("opening /: %v", err)
	}
	defer root.Close()
	a, err := root.OpenAttribute(name)
	if err != nil {
		return "", fmt.Errorf("opening attribute %s: %v", name, err)
	}
	defer a.Close()
	var v string
	if err := a.Read(&v, hdf5.T_GO_STRING); err != nil {
		return "", fmt.Errorf("attribute %s is not a readable string: %v", name, err)
	}
	return v, nil
}

func shape(d *hdf5.Dataset) ([]uint, error) {
	sp := d.Space()
	if sp == nil {
		return nil, fmt.Errorf("no dataspace for %s", d.Name())
	}
	defer sp.Close()
	dims, _, err := sp.SimpleExtentDims()
	if err != nil {
		return nil, fmt.Errorf("shape of %s: %v", d.Name(), err)
	}
	return dims, nil
}

// String names the store in messages.
func (s *Store) String() string { return "h5 store " + s.path }

// Get reads one image's features: only its num_boxes real regions,
// through a hyperslab of row i, converted to float32 by HDF5.
func (s *Store) Get(id string) (*features.Record, error) {
	i, ok := s.index[id]
	if !ok {
		return nil, fmt.Errorf("h5store %s: %q: %w", s.path, id, ErrNotFound)
	}
	nb := int(s.numBoxes[i])
	r := &features.Record{
		ID: id, Dim: s.dim, NumBoxes: nb,
		Features: make([]float32, nb*s.dim),
		Boxes:    make([]float32, nb*4),
		ImageW:   int(s.widths[i]), ImageH: int(s.heights[i]),
		Detected: int(s.detected[i]),
	}
	defer lockH5()()
	if s.f == nil {
		return nil, fmt.Errorf("h5store %s: Get after Close", s.path)
	}
	if err := readRow(s.feats, memFloat32, i, r.Features, nb, s.dim); err != nil {
		return nil, fmt.Errorf("h5store %s: features of %q: %w", s.path, id, err)
	}
	if s.boxes != nil {
		if err := readRow(s.boxes, memFloat32, i, r.Boxes, nb, 4); err != nil {
			return nil, fmt.Errorf("h5store %s: boxes of %q: %w", s.path, id, err)
		}
	}
	if s.objects != nil {
		r.Objects = make([]int64, nb)
		if err := readRow(s.objects, memInt64, i, r.Objects, nb); err != nil {
			return nil, fmt.Errorf("h5store %s: objects of %q: %w", s.path, id, err)
		}
	}
	if s.clsProb != nil {
		r.ClsProb = make([]float32, nb*s.classes)
		if err := readRow(s.clsProb, memFloat32, i, r.ClsProb, nb, s.classes); err != nil {
			return nil, fmt.Errorf("h5store %s: cls_prob of %q: %w", s.path, id, err)
		}
	}
	return r, nil
}

// readRow reads the first counts[0] entries of row i of d into buf.
func readRow[T float32 | int64](d *hdf5.Dataset, mem memType, i int, buf []T, counts ...int) error {
	if len(buf) == 0 {
		return nil
	}
	offset := []uint{uint(i)}
	count := []uint{1}
	for _, c := range counts {
		offset = append(offset, 0)
		count = append(count, uint(c))
	}
	fs := d.Space()
	if fs == nil {
		return fmt.Errorf("no dataspace for %s", d.Name())
	}
	defer fs.Close()
	if err := fs.SelectHyperslab(offset, nil, count, nil); err != nil {
		return fmt.Errorf("selecting %v at %v: %v", count, offset, err)
	}
	// The memory space has the selection's shape: with a flat one HDF5
	// takes a much slower element-mapping path.
	ms, err := hdf5.CreateSimpleDataspace(count, nil)
	if err != nil {
		return fmt.Errorf("memory space: %v", err)
	}
	defer ms.Close()
	return readInto(d, mem, buf, ms, fs)
}

// IDs returns the image ids in file order (a copy).
func (s *Store) IDs() []string { return append([]string(nil), s.ids...) }

// Len is the number of images.
func (s *Store) Len() int { return len(s.ids) }

// Has reports whether the store holds id.
func (s *Store) Has(id string) bool { _, ok := s.index[id]; return ok }

// Regions is R, the padded number of regions per image.
func (s *Store) Regions() int { return s.regions }

// Dim is D, the feature width.
func (s *Store) Dim() int { return s.dim }

// Extractor is the "extractor" attribute ("" when absent).
func (s *Store) Extractor() string { return s.extractor }

// ExtractorParams decodes the "extractor_params" JSON attribute (nil
// when absent).
func (s *Store) ExtractorParams() (map[string]any, error) {
	if s.params == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s.params), &m); err != nil {
		return nil, fmt.Errorf("h5store %s: attribute extractor_params: %w", s.path, err)
	}
	return m, nil
}

// Close releases the file. Get after Close is an error.
func (s *Store) Close() error {
	defer lockH5()()
	return s.closeAll()
}

func (s *Store) closeAll() error {
	var first error
	for _, d := range []*hdf5.Dataset{s.feats, s.boxes, s.objects, s.clsProb} {
		if d != nil {
			if err := d.Close(); err != nil && first == nil {
				first = fmt.Errorf("h5store %s: closing a dataset: %v", s.path, err)
			}
		}
	}
	s.feats, s.boxes, s.objects, s.clsProb = nil, nil, nil, nil
	if s.f != nil {
		if err := s.f.Close(); err != nil && first == nil {
			first = fmt.Errorf("h5store %s: closing: %v", s.path, err)
		}
		s.f = nil
	}
	return first
}
