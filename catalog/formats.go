package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"iter"
	"os"
	"reflect"
	"strconv"

	"mmc/atomicfile"
	"mmc/config"
)

// Builtin returns the generic formats every catalog knows (json, jsonl,
// text, png, csv, memory, png_folder); New uses them when
// Options.Formats is nil.
func Builtin() []Format {
	return []Format{
		{Name: "json", Doc: "one JSON document, decoded into the handle's type",
			New: newJSON, Accepts: acceptSerialisable, NeedsFilepath: true},
		{Name: "jsonl", Doc: "one JSON value per line: []T, or iter.Seq2[T, error] to stream",
			New: newJSONL, Accepts: acceptJSONL, NeedsFilepath: true},
		{Name: "text", Doc: "a text file as string or []byte",
			New: newText, Accepts: AcceptTypes(reflect.TypeFor[string](), reflect.TypeFor[[]byte]()), NeedsFilepath: true},
		{Name: "png", Doc: "a PNG image as image.Image",
			New: newPNG, Accepts: AcceptTypes(reflect.TypeFor[image.Image]()), NeedsFilepath: true},
		{Name: "csv", Doc: "CSV with a header row: [][]string (header first) or []struct (columns by csv tag)",
			New: newCSV, Accepts: acceptCSV, NeedsFilepath: true},
		{Name: "memory", Doc: "kept in memory for the run; same as no entry",
			New: func(s Spec) (Dataset, error) { return &memoryDataset{name: s.Name}, nil }},
		pngFolderFormat(),
	}
}

func acceptSerialisable(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return fmt.Errorf("cannot hold %v", t)
	}
	return nil
}

// fileExists reports whether a regular file or directory is at path.
func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}

func openForLoad(path string) (*os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("file %s does not exist: %w", path, ErrNotFound)
	}
	return f, err
}

// jsonDataset is a whole-file JSON document.
type jsonDataset struct {
	path string
	args struct {
		Indent int `yaml:"indent"`
	}
	load struct {
		DisallowUnknownFields bool `yaml:"disallow_unknown_fields"`
	}
}

func newJSON(s Spec) (Dataset, error) {
	d := &jsonDataset{path: s.Filepath}
	if err := s.DecodeSaveArgs(&d.args); err != nil {
		return nil, err
	}
	if err := s.DecodeLoadArgs(&d.load); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *jsonDataset) Load(_ context.Context, t reflect.Type) (any, error) {
	f, err := openForLoad(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	if d.load.DisallowUnknownFields {
		dec.DisallowUnknownFields()
	}
	p := reflect.New(t)
	if err := dec.Decode(p.Interface()); err != nil {
		return nil, fmt.Errorf("%s: %w", d.path, err)
	}
	return p.Elem().Interface(), nil
}

func (d *jsonDataset) Save(_ context.Context, v any) error {
	return atomicfile.WriteFile(d.path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		if d.args.Indent > 0 {
			enc.SetIndent("", fmt.Sprintf("%*s", d.args.Indent, ""))
		}
		return enc.Encode(v)
	})
}

func (d *jsonDataset) Exists() (bool, error) { return fileExists(d.path) }
func (d *jsonDataset) Describe() string      { return "json " + d.path }

// textDataset is a whole text file.
type textDataset struct{ path string }

func newText(s Spec) (Dataset, error) { return &textDataset{path: s.Filepath}, nil }

func (d *textDataset) Load(_ context.Context, t reflect.Type) (any, error) {
	b, err := os.ReadFile(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("file %s does not exist: %w", d.path, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if t.Kind() == reflect.String {
		return string(b), nil
	}
	return b, nil
}

func (d *textDataset) Save(_ context.Context, v any) error {
	switch v := v.(type) {
	case string:
		return atomicfile.WriteBytes(d.path, []byte(v))
	case []byte:
		return atomicfile.WriteBytes(d.path, v)
	}
	return fmt.Errorf("text dataset saves string or []byte, not %T", v)
}

func (d *textDataset) Exists() (bool, error) { return fileExists(d.path) }
func (d *textDataset) Describe() string      { return "text " + d.path }

// pngDataset is one PNG image.
type pngDataset struct{ path string }

func newPNG(s Spec) (Dataset, error) { return &pngDataset{path: s.Filepath}, nil }

func (d *pngDataset) Load(_ context.Context, _ reflect.Type) (any, error) {
	f, err := openForLoad(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.path, err)
	}
	return img, nil
}

func (d *pngDataset) Save(_ context.Context, v any) error {
	img, ok := v.(image.Image)
	if !ok {
		return fmt.Errorf("png dataset saves image.Image, not %T", v)
	}
	return atomicfile.WriteFile(d.path, func(w io.Writer) error { return png.Encode(w, img) })
}

func (d *pngDataset) Exists() (bool, error) { return fileExists(d.path) }
func (d *pngDataset) Describe() string      { return "png " + d.path }

// memoryDataset is an explicit "type: memory" entry; the catalog treats
// it like a name without entry, so it only exists as a marker.
type memoryDataset struct{ name string }

func (d *memoryDataset) Load(context.Context, reflect.Type) (any, error) {
	return nil, fmt.Errorf("memory dataset %q is handled by the catalog", d.name)
}
func (d *memoryDataset) Save(context.Context, any) error {
	return fmt.Errorf("memory dataset %q is handled by the catalog", d.name)
}
func (d *memoryDataset) Exists() (bool, error) { return false, nil }
func (d *memoryDataset) Describe() string      { return "memory" }

// JSONLError is a JSONL line that is not valid JSON for the target type.
type JSONLError struct {
	File string
	Line int
	Err  error
}

// Error formats the problem as file:line: message.
func (e *JSONLError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Unwrap returns the JSON decoding error.
func (e *JSONLError) Unwrap() error { return e.Err }

// ReadJSONL calls fn for each non-blank line of r decoded into a new T;
// errors name file:line. It stops at the first error fn returns.
func ReadJSONL[T any](r io.Reader, file string, fn func(T) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return &JSONLError{File: file, Line: line, Err: err}
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &JSONLError{File: file, Line: line + 1, Err: err}
	}
	return nil
}

// jsonlDataset is one JSON value per line.
type jsonlDataset struct{ path string }

func newJSONL(s Spec) (Dataset, error) { return &jsonlDataset{path: s.Filepath}, nil }

// seqElem returns E when t is iter.Seq2[E, error] (or an equivalent
// function type), else nil.
func seqElem(t reflect.Type) reflect.Type {
	if t.Kind() != reflect.Func || t.NumIn() != 1 || t.NumOut() != 0 {
		return nil
	}
	y := t.In(0)
	if y.Kind() != reflect.Func || y.NumIn() != 2 || y.NumOut() != 1 || y.Out(0).Kind() != reflect.Bool || y.In(1) != reflect.TypeFor[error]() {
		return nil
	}
	return y.In(0)
}

func acceptJSONL(t reflect.Type) error {
	if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 {
		return nil
	}
	if seqElem(t) != nil {
		return nil
	}
	return fmt.Errorf("loads []T or iter.Seq2[T, error], not %v", t)
}

func (d *jsonlDataset) Load(ctx context.Context, t reflect.Type) (any, error) {
	if elem := seqElem(t); elem != nil {
		return d.stream(ctx, t, elem), nil
	}
	f, err := openForLoad(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := reflect.MakeSlice(t, 0, 64)
	err = readJSONLReflect(f, d.path, t.Elem(), func(v reflect.Value) error {
		out = reflect.Append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.Interface(), nil
}

func readJSONLReflect(r io.Reader, file string, elem reflect.Type, fn func(reflect.Value) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		p := reflect.New(elem)
		if err := json.Unmarshal(b, p.Interface()); err != nil {
			return &JSONLError{File: file, Line: line, Err: err}
		}
		if err := fn(p.Elem()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &JSONLError{File: file, Line: line + 1, Err: err}
	}
	return nil
}

// stream builds an iter.Seq2[E, error] that reads the file lazily; each
// iteration opens the file anew, so the sequence can be ranged twice.
func (d *jsonlDataset) stream(ctx context.Context, seqType, elem reflect.Type) any {
	yieldType := seqType.In(0)
	errZero := reflect.Zero(reflect.TypeFor[error]())
	fn := reflect.MakeFunc(seqType, func(args []reflect.Value) []reflect.Value {
		yield := args[0]
		call := func(v reflect.Value, err error) bool {
			e := errZero
			if err != nil {
				e = reflect.ValueOf(&err).Elem()
			}
			return yield.Call([]reflect.Value{v, e})[0].Bool()
		}
		_ = yieldType
		f, err := openForLoad(d.path)
		if err != nil {
			call(reflect.Zero(elem), err)
			return nil
		}
		defer f.Close()
		stop := errors.New("stop")
		err = readJSONLReflect(f, d.path, elem, func(v reflect.Value) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !call(v, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			call(reflect.Zero(elem), err)
		}
		return nil
	})
	return fn.Interface()
}

func (d *jsonlDataset) Save(ctx context.Context, v any) error {
	rv := reflect.ValueOf(v)
	return atomicfile.WriteFile(d.path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		if rv.Kind() == reflect.Slice {
			for i := 0; i < rv.Len(); i++ {
				if err := enc.Encode(rv.Index(i).Interface()); err != nil {
					return fmt.Errorf("line %d: %w", i+1, err)
				}
			}
			return nil
		}
		if seqElem(rv.Type()) == nil {
			return fmt.Errorf("jsonl dataset saves a slice or iter.Seq2[T, error], not %T", v)
		}
		var werr error
		line := 0
		yield := reflect.MakeFunc(rv.Type().In(0), func(args []reflect.Value) []reflect.Value {
			line++
			if e := args[1]; !e.IsNil() {
				werr = e.Interface().(error)
			} else if err := ctx.Err(); err != nil {
				werr = err
			} else if err := enc.Encode(args[0].Interface()); err != nil {
				werr = fmt.Errorf("line %d: %w", line, err)
			}
			return []reflect.Value{reflect.ValueOf(werr == nil)}
		})
		rv.Call([]reflect.Value{yield})
		return werr
	})
}

func (d *jsonlDataset) Exists() (bool, error) { return fileExists(d.path) }
func (d *jsonlDataset) Describe() string      { return "jsonl " + d.path }

// Seq returns a sequence over values, for saving a slice through a
// streaming handle.
func Seq[T any](values []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, v := range values {
			if !yield(v, nil) {
				return
			}
		}
	}
}

// csvDataset is a CSV file with a header row.
type csvDataset struct {
	path string
	args struct {
		Delimiter string `yaml:"delimiter"`
	}
}

func newCSV(s Spec) (Dataset, error) {
	d := &csvDataset{path: s.Filepath}
	if err := s.DecodeLoadArgs(&d.args); err != nil {
		return nil, err
	}
	if len([]rune(d.args.Delimiter)) > 1 {
		return nil, fmt.Errorf("csv delimiter %q must be one character", d.args.Delimiter)
	}
	return d, nil
}

func (d *csvDataset) comma() rune {
	if d.args.Delimiter == "" {
		return ','
	}
	return []rune(d.args.Delimiter)[0]
}

var stringsTable = reflect.TypeFor[[][]string]()

func acceptCSV(t reflect.Type) error {
	if t == stringsTable {
		return nil
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
		for i := 0; i < t.Elem().NumField(); i++ {
			f := t.Elem().Field(i)
			if !f.IsExported() {
				continue
			}
			switch f.Type.Kind() {
			case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			default:
				return fmt.Errorf("csv column %s has type %v; columns must be strings, numbers or bools", f.Name, f.Type)
			}
		}
		return nil
	}
	return fmt.Errorf("loads [][]string or []struct, not %v", t)
}

// csvColumns maps column names to field indexes: csv tag, else snake_case.
func csvColumns(t reflect.Type) ([]string, []int) {
	var names []string
	var idx []int
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Tag.Get("csv")
		if name == "-" {
			continue
		}
		if name == "" {
			name = config.SnakeCase(f.Name)
		}
		names = append(names, name)
		idx = append(idx, i)
	}
	return names, idx
}

func (d *csvDataset) Load(_ context.Context, t reflect.Type) (any, error) {
	f, err := openForLoad(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.Comma = d.comma()
	if t == stringsTable {
		rows, err := r.ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.path, err)
		}
		return rows, nil
	}
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", d.path, err)
	}
	names, idx := csvColumns(t.Elem())
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	fieldCol := make([]int, len(names))
	for i, n := range names {
		c, ok := col[n]
		if !ok {
			return nil, fmt.Errorf("%s: header has no column %q%s", d.path, n, config.DidYouMean(n, header))
		}
		fieldCol[i] = c
	}
	out := reflect.MakeSlice(t, 0, 64)
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.path, err)
		}
		v := reflect.New(t.Elem()).Elem()
		for i, fi := range idx {
			if err := setCSVField(v.Field(fi), rec[fieldCol[i]]); err != nil {
				return nil, fmt.Errorf("%s:%d: column %q: %w", d.path, line, names[i], err)
			}
		}
		out = reflect.Append(out, v)
	}
	return out.Interface(), nil
}

func setCSVField(f reflect.Value, s string) error {
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, f.Type().Bits())
		if err != nil {
			return err
		}
		f.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(s, 10, f.Type().Bits())
		if err != nil {
			return err
		}
		f.SetUint(u)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(s, f.Type().Bits())
		if err != nil {
			return err
		}
		f.SetFloat(x)
	default:
		return fmt.Errorf("unsupported column type %v", f.Type())
	}
	return nil
}

func formatCSVField(f reflect.Value) string {
	switch f.Kind() {
	case reflect.String:
		return f.String()
	case reflect.Bool:
		return strconv.FormatBool(f.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(f.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(f.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(f.Float(), 'g', -1, f.Type().Bits())
	}
	return fmt.Sprint(f.Interface())
}

func (d *csvDataset) Save(_ context.Context, v any) error {
	return atomicfile.WriteFile(d.path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Comma = d.comma()
		if rows, ok := v.([][]string); ok {
			if err := cw.WriteAll(rows); err != nil {
				return err
			}
			return cw.Error()
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice || rv.Type().Elem().Kind() != reflect.Struct {
			return fmt.Errorf("csv dataset saves [][]string or []struct, not %T", v)
		}
		names, idx := csvColumns(rv.Type().Elem())
		if err := cw.Write(names); err != nil {
			return err
		}
		rec := make([]string, len(idx))
		for i := 0; i < rv.Len(); i++ {
			for j, fi := range idx {
				rec[j] = formatCSVField(rv.Index(i).Field(fi))
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

func (d *csvDataset) Exists() (bool, error) { return fileExists(d.path) }
func (d *csvDataset) Describe() string      { return "csv " + d.path }
