// Package pytorch reads torch.save files (.bin, .pt, .pth) into a
// checkpoint.StateDict without executing anything: the pickle inside is
// decoded by mmc/pickle with an allowlist of the tensor rebuilders and
// storage classes torch writes, so a file that pickles anything else is
// a clear error naming the class (or, with Options.Lenient, keeps that
// object as inert data beside the weights, as MMF's configs are). A
// function or class stored as a value (never called, even an allowlisted
// one) is refused by strict decoding wherever it is, and inside the
// state dict even with Lenient, naming its key.
//
// Both layouts are read: the zip archive of torch ≥ 1.6
// (<prefix>/data.pkl plus one <prefix>/data/<key> entry per storage,
// under any prefix) and the legacy stream (magic number, protocol
// version, sys info, the object pickle, the storage key list, then the
// raw storages). Tensors are materialised honouring size, stride and
// storage offset, so transposed views and views sharing one storage come
// out as the dense arrays torch would show. float32, float16, bfloat16
// and float64 convert to float32; integer and bool tensors (such as
// BatchNorm's num_batches_tracked) are skipped unless Options.Ints asks
// for them as float32 too. TorchScript archives (torch.jit.save) are
// refused: load them in Python and save model.state_dict().
package pytorch

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"mmc/ml/checkpoint"
	"mmc/pickle"
)

// Options controls Load. The zero value reads a plain state_dict file or
// a checkpoint that keeps it under "state_dict" or "model", and refuses
// unknown classes.
type Options struct {
	// Key is the dotted path of the state_dict inside the saved object
	// (e.g. "model"). Empty means: the top level if it holds tensors,
	// else the first of "state_dict", "model", "model_state_dict",
	// "module" that does.
	Key string
	// StripPrefixes are removed from the start of every key, repeatedly
	// and in any order ("module.model.x" with both listed gives "x").
	StripPrefixes []string
	// Ints converts integer and bool tensors to float32 instead of
	// skipping them.
	Ints bool
	// Lenient keeps objects of unknown classes (OmegaConf configs,
	// argparse Namespaces, optimizer classes) as inert data instead of
	// failing; they are never executed and never part of the result.
	Lenient bool
}

// Load reads the state_dict saved at path.
func Load(path string, opts *Options) (checkpoint.StateDict, error) {
	if opts == nil {
		opts = &Options{}
	}
	sd, err := load(path, opts)
	if err != nil {
		return nil, fmt.Errorf("pytorch: %s: %w", path, err)
	}
	return sd, nil
}

// load reads zip archives through ReadAt, so each float32 storage goes
// from the page cache straight into its tensor (one copy, no mapping);
// legacy files, which are parsed sequentially, are mapped.
func load(path string, opts *Options) (checkpoint.StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var magic [4]byte
	if n, _ := f.ReadAt(magic[:], 0); n == 4 && string(magic[:]) == "PK\x03\x04" {
		root, err := loadZip(f, st.Size(), opts)
		if err != nil {
			return nil, lenientHint(err, opts)
		}
		return extract(root, opts)
	}
	data, release, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	defer release()
	return Decode(data, opts)
}

func lenientHint(err error, opts *Options) error {
	if errors.Is(err, pickle.ErrUnsupported) && !opts.Lenient {
		return fmt.Errorf("%w (set Options.Lenient to keep objects of other classes, such as configs, as inert data)", err)
	}
	return err
}

// Decode reads a torch.save file held in memory.
func Decode(data []byte, opts *Options) (checkpoint.StateDict, error) {
	if opts == nil {
		opts = &Options{}
	}
	var (
		root any
		err  error
	)
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		root, err = loadZip(bytes.NewReader(data), int64(len(data)), opts)
	case len(data) > 2 && data[0] == 0x80:
		root, err = loadLegacy(data, opts)
	case len(data) > 262 && string(data[257:262]) == "ustar":
		err = errors.New("tar-format checkpoints (torch < 0.4) are not supported")
	default:
		err = errors.New("not a torch.save file (neither a zip archive nor a pickle stream)")
	}
	if err != nil {
		return nil, lenientHint(err, opts)
	}
	return extract(root, opts)
}

// dtype is a storage element type.
type dtype struct {
	name  string // torch class name, e.g. "FloatStorage"
	size  int
	float bool
}

var storageTypes = map[string]dtype{
	"FloatStorage":    {"FloatStorage", 4, true},
	"HalfStorage":     {"HalfStorage", 2, true},
	"BFloat16Storage": {"BFloat16Storage", 2, true},
	"DoubleStorage":   {"DoubleStorage", 8, true},
	"LongStorage":     {"LongStorage", 8, false},
	"IntStorage":      {"IntStorage", 4, false},
	"ShortStorage":    {"ShortStorage", 2, false},
	"CharStorage":     {"CharStorage", 1, false},
	"ByteStorage":     {"ByteStorage", 1, false},
	"BoolStorage":     {"BoolStorage", 1, false},
}

// storageClass is the pickled torch.*Storage global.
type storageClass struct{ dt dtype }

func (s storageClass) PyName() string { return "torch." + s.dt.name }

// storage is one deserialised torch storage: numel elements of dt.
type storage struct {
	dt        dtype
	key       string
	numel     int
	data      []byte // numel*dt.size bytes, little-endian unless bigEndian
	bigEndian bool
	// src and off locate the bytes instead of data when they are read
	// on demand (stored zip entries): element 0 is at src offset off.
	src io.ReaderAt
	off int64
}

// Tensor is a pickled tensor before materialisation.
type Tensor struct {
	storage *storage
	offset  int
	size    []int
	stride  []int
}

// torchGlobals is the allowlist entries torch.save pickles reference.
var torchGlobals = globals()

func globals() map[string]any {
	g := map[string]any{}
	for name, dt := range storageTypes {
		g["torch."+name] = storageClass{dt}
	}
	rebuild := func(args pickle.Tuple) (any, error) {
		if len(args) < 4 {
			return nil, fmt.Errorf("_rebuild_tensor takes at least 4 arguments, got %d", len(args))
		}
		st, ok := args[0].(*storage)
		if !ok {
			return nil, fmt.Errorf("tensor storage is %s, want a torch storage", pickle.TypeName(args[0]))
		}
		off, ok := pickle.AsInt(args[1])
		if !ok || off < 0 {
			return nil, fmt.Errorf("tensor storage offset %s is not a non-negative int", pickle.Repr(args[1]))
		}
		size, err := ints(args[2], "size")
		if err != nil {
			return nil, err
		}
		stride, err := ints(args[3], "stride")
		if err != nil {
			return nil, err
		}
		if len(size) != len(stride) {
			return nil, fmt.Errorf("tensor size %v and stride %v differ in rank", size, stride)
		}
		return &Tensor{storage: st, offset: int(off), size: size, stride: stride}, nil
	}
	g["torch._utils._rebuild_tensor_v2"] = torchFunc{"torch._utils._rebuild_tensor_v2", rebuild}
	g["torch._utils._rebuild_tensor"] = torchFunc{"torch._utils._rebuild_tensor", rebuild}
	param := func(args pickle.Tuple) (any, error) {
		if len(args) < 1 {
			return nil, errors.New("_rebuild_parameter needs the tensor")
		}
		if _, ok := args[0].(*Tensor); !ok {
			return nil, fmt.Errorf("parameter data is %s, want a tensor", pickle.TypeName(args[0]))
		}
		return args[0], nil
	}
	g["torch._utils._rebuild_parameter"] = torchFunc{"torch._utils._rebuild_parameter", param}
	g["torch._utils._rebuild_parameter_with_state"] = torchFunc{"torch._utils._rebuild_parameter_with_state", param}
	return g
}

// torchFunc is an allowlisted torch function; it says its name, so an
// error about a bare reference to it (one never called) can name it.
type torchFunc struct {
	name string
	f    func(pickle.Tuple) (any, error)
}

func (t torchFunc) PyName() string                      { return t.name }
func (t torchFunc) Call(args pickle.Tuple) (any, error) { return t.f(args) }

func ints(v any, what string) ([]int, error) {
	t, ok := v.(pickle.Tuple)
	if !ok {
		if l, ok2 := v.(*pickle.List); ok2 {
			t = l.Items
		} else {
			return nil, fmt.Errorf("tensor %s is %s, want a tuple", what, pickle.TypeName(v))
		}
	}
	if len(t) > 64 {
		return nil, fmt.Errorf("tensor %s has %d dimensions", what, len(t))
	}
	out := make([]int, len(t))
	for i, e := range t {
		n, ok := pickle.AsInt(e)
		if !ok || n < 0 || n > 1<<40 {
			return nil, fmt.Errorf("tensor %s %s: item %d is not a valid int", what, pickle.Repr(t), i)
		}
		out[i] = int(n)
	}
	return out, nil
}

// parsePID checks a ('storage', cls, key, location, numel[, view]) id.
func parsePID(pid any) (dtype, string, int, pickle.Tuple, error) {
	t, ok := pid.(pickle.Tuple)
	if !ok || len(t) < 5 {
		return dtype{}, "", 0, nil, fmt.Errorf("persistent id %s is not a storage tuple", pickle.TypeName(pid))
	}
	if s, _ := t[0].(string); s != "storage" {
		return dtype{}, "", 0, nil, fmt.Errorf("persistent id of kind %s is not supported", pickle.Repr(t[0]))
	}
	cls, ok := t[1].(storageClass)
	if !ok {
		return dtype{}, "", 0, nil, fmt.Errorf("storage class %s is not supported", pickle.Repr(t[1]))
	}
	key, ok := t[2].(string)
	if !ok {
		return dtype{}, "", 0, nil, fmt.Errorf("storage key %s is not a str", pickle.Repr(t[2]))
	}
	numel, ok := pickle.AsInt(t[4])
	if !ok || numel < 0 || numel > 1<<40 {
		return dtype{}, "", 0, nil, fmt.Errorf("storage %q size %s is not valid", key, pickle.Repr(t[4]))
	}
	var view pickle.Tuple
	if len(t) > 5 && t[5] != nil {
		if view, ok = t[5].(pickle.Tuple); !ok || len(view) != 3 {
			return dtype{}, "", 0, nil, fmt.Errorf("storage %q view metadata %s is not (key, offset, size)", key, pickle.Repr(t[5]))
		}
	}
	return cls.dt, key, int(numel), view, nil
}

func loadZip(ra io.ReaderAt, size int64, opts *Options) (any, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, fmt.Errorf("read zip archive: %w", err)
	}
	files := map[string]*zip.File{}
	var pkl []string
	for _, f := range zr.File {
		files[f.Name] = f
		if f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl") {
			pkl = append(pkl, f.Name)
		}
	}
	if len(pkl) == 0 {
		return nil, errors.New("zip archive has no data.pkl (not a torch.save file)")
	}
	sort.Slice(pkl, func(i, j int) bool { return strings.Count(pkl[i], "/") < strings.Count(pkl[j], "/") })
	prefix := strings.TrimSuffix(pkl[0], "data.pkl")
	if files[prefix+"constants.pkl"] != nil || hasPrefix(files, prefix+"code/") {
		return nil, errors.New("this is a TorchScript archive (torch.jit.save); load it in Python and save model.state_dict() with torch.save")
	}
	bigEndian := false
	if f := files[prefix+"byteorder"]; f != nil {
		b, err := readEntry(f, 16)
		if err != nil {
			return nil, err
		}
		bigEndian = strings.TrimSpace(string(b)) == "big"
	}
	pklData, err := readEntry(files[pkl[0]], int(min(size, math.MaxInt32)))
	if err != nil {
		return nil, err
	}
	storages := map[string]*storage{}
	load := func(pid any) (any, error) {
		dt, key, numel, _, err := parsePID(pid)
		if err != nil {
			return nil, err
		}
		if s, ok := storages[key]; ok {
			if s.dt != dt {
				return nil, fmt.Errorf("storage %q used as both %s and %s", key, s.dt.name, dt.name)
			}
			return s, nil
		}
		f := files[prefix+"data/"+key]
		if f == nil {
			return nil, fmt.Errorf("storage %q: archive has no entry %sdata/%s", key, prefix, key)
		}
		need := numel * dt.size
		if uint64(need) > f.UncompressedSize64 {
			return nil, fmt.Errorf("storage %q: %d × %s needs %d bytes, entry has %d", key, numel, dt.name, need, f.UncompressedSize64)
		}
		s := &storage{dt: dt, key: key, numel: numel, bigEndian: bigEndian}
		if f.Method == zip.Store {
			// torch stores storages uncompressed: read them in place later.
			off, err := f.DataOffset()
			if err != nil {
				return nil, fmt.Errorf("storage %q: %w", key, err)
			}
			if off < 0 || off+int64(need) > size {
				return nil, fmt.Errorf("storage %q: entry %s runs past the end of the file", key, f.Name)
			}
			s.src, s.off = ra, off
		} else if s.data, err = readEntry(f, need); err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		storages[key] = s
		return s, nil
	}
	return pickle.Unpickle(pklData, &pickle.Options{Globals: torchGlobals, Lenient: opts.Lenient, PersistentLoad: load})
}

func hasPrefix(files map[string]*zip.File, p string) bool {
	for name := range files {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func readEntry(f *zip.File, limit int) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", f.Name, err)
	}
	if f.UncompressedSize64 >= uint64(limit) && len(b) < limit {
		return nil, fmt.Errorf("entry %s: truncated at %d bytes", f.Name, len(b))
	}
	return b, nil
}

// legacyMagic is torch's MAGIC_NUMBER, the first pickle of a legacy file.
const legacyMagic = "119547037146038801333356"

func loadLegacy(data []byte, opts *Options) (any, error) {
	magic, off, err := pickle.UnpickleAt(data, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("legacy header: %w", err)
	}
	if pickle.Repr(magic) != legacyMagic {
		return nil, errors.New("pickle stream without torch's magic number (not a torch.save file)")
	}
	proto, off, err := pickle.UnpickleAt(data, off, nil)
	if err != nil {
		return nil, fmt.Errorf("legacy protocol version: %w", err)
	}
	if p, _ := pickle.AsInt(proto); p != 1001 {
		return nil, fmt.Errorf("legacy protocol version %s, want 1001", pickle.Repr(proto))
	}
	info, off, err := pickle.UnpickleAt(data, off, nil)
	if err != nil {
		return nil, fmt.Errorf("legacy sys info: %w", err)
	}
	bigEndian := false
	if d, ok := info.(*pickle.Dict); ok {
		if le, ok := d.GetString("little_endian"); ok && le == false {
			bigEndian = true
		}
	}

	type pending struct {
		s          *storage
		root       string
		viewOffset int
	}
	roots := map[string]*storage{}
	var views []pending
	load := func(pid any) (any, error) {
		dt, key, numel, view, err := parsePID(pid)
		if err != nil {
			return nil, err
		}
		root, ok := roots[key]
		if !ok {
			root = &storage{dt: dt, key: key, numel: numel, bigEndian: bigEndian}
			roots[key] = root
		} else if root.dt != dt {
			return nil, fmt.Errorf("storage %q used as both %s and %s", key, root.dt.name, dt.name)
		}
		if view == nil {
			return root, nil
		}
		vkey, _ := view[0].(string)
		voff, ok1 := pickle.AsInt(view[1])
		vsize, ok2 := pickle.AsInt(view[2])
		if !ok1 || !ok2 || voff < 0 || vsize < 0 || voff+vsize > int64(numel) {
			return nil, fmt.Errorf("storage view %s of %q (size %d) is out of range", pickle.Repr(view), key, numel)
		}
		v := &storage{dt: dt, key: vkey, numel: int(vsize), bigEndian: bigEndian}
		views = append(views, pending{v, key, int(voff)})
		return v, nil
	}
	root, off, err := pickle.UnpickleAt(data, off, &pickle.Options{Globals: torchGlobals, Lenient: opts.Lenient, PersistentLoad: load})
	if err != nil {
		return nil, err
	}
	keysV, off, err := pickle.UnpickleAt(data, off, nil)
	if err != nil {
		return nil, fmt.Errorf("legacy storage keys: %w", err)
	}
	keys, ok := keysV.(*pickle.List)
	if !ok {
		return nil, fmt.Errorf("legacy storage keys are %s, want a list", pickle.TypeName(keysV))
	}
	for _, kv := range keys.Items {
		key, ok := kv.(string)
		if !ok {
			return nil, fmt.Errorf("legacy storage key %s is not a str", pickle.Repr(kv))
		}
		if off+8 > len(data) {
			return nil, fmt.Errorf("storage %q: file ends before its size", key)
		}
		var n uint64
		for i := 7; i >= 0; i-- {
			n = n<<8 | uint64(data[off+i])
		}
		off += 8
		s := roots[key]
		if s == nil {
			return nil, fmt.Errorf("storage %q is in the key list but no tensor uses it", key)
		}
		if n != uint64(s.numel) {
			return nil, fmt.Errorf("storage %q: file says %d elements, pickle says %d", key, n, s.numel)
		}
		nb := s.numel * s.dt.size
		if nb > len(data)-off {
			return nil, fmt.Errorf("storage %q: %d bytes, only %d left in the file", key, nb, len(data)-off)
		}
		s.data = data[off : off+nb : off+nb]
		off += nb
	}
	for key, s := range roots {
		if s.data == nil && s.numel > 0 {
			return nil, fmt.Errorf("storage %q has no data in the file", key)
		}
	}
	for _, v := range views {
		r := roots[v.root]
		a, b := v.viewOffset*r.dt.size, (v.viewOffset+v.s.numel)*r.dt.size
		v.s.data = r.data[a:b:b]
	}
	return root, nil
}
