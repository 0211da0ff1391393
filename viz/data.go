package viz

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DatasetStatus is what /api/datasets says of one persisted dataset.
type DatasetStatus struct {
	Exists  bool      `json:"exists"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime,omitzero"`
	// Dir is set for a dataset stored as a directory (its size is the
	// sum of its files).
	Dir bool `json:"dir,omitempty"`
	// Error says why the file could not be inspected (outside the project,
	// unreadable).
	Error string `json:"error,omitempty"`
}

// Preview is the body of /api/preview/{id}: what the dataset panel shows.
type Preview struct {
	// Kind is "table" (Columns, Rows), "image" (URL), "json" (Value),
	// "chart" (Series, and Value), "dir" (Entries) or "none" (Note).
	Kind    string               `json:"kind"`
	Columns []string             `json:"columns,omitempty"`
	Rows    [][]string           `json:"rows,omitempty"`
	URL     string               `json:"url,omitempty"`
	Value   any                  `json:"value,omitempty"`
	Series  map[string][]float64 `json:"series,omitempty"`
	Entries []string             `json:"entries,omitempty"`
	// Images are URLs of a few images of a folder dataset (memes).
	Images []string      `json:"images,omitempty"`
	Note   string        `json:"note,omitempty"`
	Status DatasetStatus `json:"status"`
}

// Limits on what a preview reads.
const (
	previewRows     = 10
	previewMaxBytes = 4 << 20
	previewEntries  = 20
)

// dataFile is a dataset's file path, checked to lie inside the project
// root: a relative, clean path without "..", or an absolute one under
// root, made relative. os.Root then refuses symbolic links that lead out
// of the project.
func dataFile(root string, d Dataset) (string, error) {
	p := filepath.ToSlash(d.Filepath)
	switch {
	case d.InMemory || p == "":
		return "", fmt.Errorf("dataset %q has no file", d.Name)
	case strings.Contains(p, "://"):
		return "", fmt.Errorf("dataset %q lives at %s, outside the project; not previewed", d.Name, p)
	case filepath.IsAbs(d.Filepath) && root != "":
		absRoot, err := filepath.Abs(root)
		if err != nil {
			return "", fmt.Errorf("dataset %q: project root %s: %w", d.Name, root, err)
		}
		rel, err := filepath.Rel(absRoot, filepath.Clean(d.Filepath))
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("dataset %q: file %s is outside the project", d.Name, d.Filepath)
		}
		p = filepath.ToSlash(rel)
	case path.IsAbs(p) || filepath.IsAbs(d.Filepath):
		return "", fmt.Errorf("dataset %q: file %s is outside the project", d.Name, d.Filepath)
	}
	p = path.Clean(p)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("dataset %q: file %s is outside the project", d.Name, d.Filepath)
	}
	return p, nil
}

// openRoot opens the project root, or says why there is none.
func (s *Server) openRoot() (*os.Root, error) {
	if s.opt.Root == "" {
		return nil, errors.New("this viewer was started without a project directory")
	}
	return os.OpenRoot(s.opt.Root)
}

// status inspects one dataset's file under root (opened from rootDir).
func status(root *os.Root, rootDir string, d Dataset) DatasetStatus {
	p, err := dataFile(rootDir, d)
	if err != nil {
		return DatasetStatus{Error: err.Error()}
	}
	fi, err := root.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return DatasetStatus{}
	}
	if err != nil {
		return DatasetStatus{Error: err.Error()}
	}
	st := DatasetStatus{Exists: true, Size: fi.Size(), ModTime: fi.ModTime().UTC(), Dir: fi.IsDir()}
	if fi.IsDir() {
		st.Size = 0
		sub, err := root.OpenRoot(p)
		if err != nil {
			return DatasetStatus{Exists: true, Dir: true, Error: err.Error()}
		}
		defer sub.Close()
		fs.WalkDir(sub.FS(), ".", func(_ string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				if info, err := e.Info(); err == nil {
					st.Size += info.Size()
					if info.ModTime().After(st.ModTime) {
						st.ModTime = info.ModTime().UTC()
					}
				}
			}
			return nil
		})
	}
	return st
}

// serveDatasets answers each persisted dataset's status, by dataset name.
func (s *Server) serveDatasets(st *site, w http.ResponseWriter, req *http.Request) {
	out := map[string]DatasetStatus{}
	root, err := s.openRoot()
	if err != nil {
		writeJSON(w, out)
		return
	}
	defer root.Close()
	for _, it := range st.r.items {
		if it.Kind != KindData {
			continue
		}
		if d := st.r.dataset(it); !d.InMemory && d.Filepath != "" {
			out[it.Name] = status(root, s.opt.Root, d)
		}
	}
	writeJSON(w, out)
}

// previewDataset finds the dataset a preview request names, or writes an
// error.
func previewDataset(st *site, w http.ResponseWriter, id string) (Dataset, bool) {
	i, ok := st.r.byID[id]
	if !ok || st.r.items[i].Kind != KindData {
		http.Error(w, fmt.Sprintf("no dataset with id %q in pipeline %q", id, st.name), http.StatusNotFound)
		return Dataset{}, false
	}
	return st.r.dataset(st.r.items[i]), true
}

var imageTypes = map[string]string{".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}

// servePreview answers what the dataset panel shows of a dataset's file.
func (s *Server) servePreview(st *site, w http.ResponseWriter, req *http.Request) {
	d, ok := previewDataset(st, w, req.PathValue("id"))
	if !ok {
		return
	}
	if d.InMemory {
		writeJSON(w, Preview{Kind: "none", Note: "in-memory data exists only while a run lasts"})
		return
	}
	root, err := s.openRoot()
	if err != nil {
		writeJSON(w, Preview{Kind: "none", Note: err.Error()})
		return
	}
	defer root.Close()
	pv := Preview{Kind: "none", Status: status(root, s.opt.Root, d)}
	switch {
	case pv.Status.Error != "":
		pv.Note = pv.Status.Error
	case !pv.Status.Exists:
		pv.Note = "not written yet (run the pipeline)"
	case pv.Status.Dir:
		pv = previewDir(root, s.opt.Root, d, pv, req.URL.Query().Get("pipeline"))
	default:
		pv = previewFile(root, s.opt.Root, d, pv, req.URL.Query().Get("pipeline"))
	}
	writeJSON(w, pv)
}

// previewDir lists a folder dataset and, for a meme folder, shows the
// first rows of its first JSON-lines split and a few of its images.
func previewDir(root *os.Root, rootDir string, d Dataset, pv Preview, pipeline string) Preview {
	p, _ := dataFile(rootDir, d)
	sub, err := root.OpenRoot(p)
	if err != nil {
		pv.Note = err.Error()
		return pv
	}
	defer sub.Close()
	names, err := readDirNames(sub, ".")
	if err != nil {
		pv.Note = err.Error()
		return pv
	}
	pv.Kind = "dir"
	pv.Note = fmt.Sprintf("%d entries", len(names))
	pv.Entries = names[:min(len(names), previewEntries)]
	for _, n := range names {
		if strings.HasSuffix(n, ".jsonl") {
			if f, err := sub.Open(n); err == nil {
				t := previewJSONL(f, Preview{})
				f.Close()
				pv.Columns, pv.Rows = t.Columns, t.Rows
				pv.Note += "; first rows of " + n
			}
			break
		}
	}
	id := ID(KindData, d.Name)
	for _, dir := range []string{".", "img", "images"} {
		files, err := readDirNames(sub, dir)
		if err != nil {
			continue
		}
		for _, f := range files {
			if _, ok := imageTypes[strings.ToLower(path.Ext(f))]; ok && len(pv.Images) < 4 {
				pv.Images = append(pv.Images, "api/preview/"+id+"/raw?pipeline="+urlQueryEscape(pipeline)+"&file="+urlQueryEscape(path.Join(dir, f)))
			}
		}
	}
	return pv
}

// readDirNames lists a folder under root, sorted (at most 1000 names).
func readDirNames(root *os.Root, dir string) ([]string, error) {
	f, err := root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1000)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

func previewFile(root *os.Root, rootDir string, d Dataset, pv Preview, pipeline string) Preview {
	p, _ := dataFile(rootDir, d)
	ext := strings.ToLower(path.Ext(p))
	if _, ok := imageTypes[ext]; ok {
		pv.Kind = "image"
		pv.URL = "api/preview/" + ID(KindData, d.Name) + "/raw?pipeline=" + urlQueryEscape(pipeline)
		return pv
	}
	f, err := root.Open(p)
	if err != nil {
		pv.Note = err.Error()
		return pv
	}
	defer f.Close()
	switch ext {
	case ".jsonl", ".ndjson":
		return previewJSONL(f, pv)
	case ".csv", ".tsv":
		r := csv.NewReader(bufio.NewReader(io.LimitReader(f, previewMaxBytes)))
		if ext == ".tsv" {
			r.Comma = '\t'
		}
		r.FieldsPerRecord = -1
		r.LazyQuotes = true
		for len(pv.Rows) <= previewRows {
			rec, err := r.Read()
			if err != nil {
				break
			}
			if pv.Columns == nil {
				pv.Columns = rec
				continue
			}
			pv.Rows = append(pv.Rows, rec)
		}
		pv.Kind = "table"
		return pv
	case ".json":
		b, err := io.ReadAll(io.LimitReader(f, previewMaxBytes+1))
		if err != nil || len(b) > previewMaxBytes {
			pv.Note = "too large to preview"
			return pv
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			pv.Note = fmt.Sprintf("not valid JSON: %v", err)
			return pv
		}
		pv.Kind, pv.Value = "json", v
		if series := HistorySeries(v); len(series) > 0 {
			pv.Kind, pv.Series = "chart", series
		}
		return pv
	}
	pv.Note = "no preview for " + d.Type + " data"
	return pv
}

// previewJSONL reads the first rows of a JSON-lines file as a table: the
// keys of the objects (in first-seen order) are the columns.
func previewJSONL(f io.Reader, pv Preview) Preview {
	sc := bufio.NewScanner(io.LimitReader(f, previewMaxBytes))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var objs []map[string]json.RawMessage
	idx := map[string]bool{}
	for len(objs) < previewRows && sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var o map[string]json.RawMessage
		if err := json.Unmarshal(line, &o); err != nil {
			o = map[string]json.RawMessage{"value": json.RawMessage(line)}
		}
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !idx[k] {
				idx[k] = true
				pv.Columns = append(pv.Columns, k)
			}
		}
		objs = append(objs, o)
	}
	for _, o := range objs {
		row := make([]string, len(pv.Columns))
		for i, c := range pv.Columns {
			if v, ok := o[c]; ok {
				var s string
				if json.Unmarshal(v, &s) != nil {
					s = string(v)
				}
				row[i] = s
			}
		}
		pv.Rows = append(pv.Rows, row)
	}
	pv.Kind = "table"
	return pv
}

// HistorySeries finds a training history in a JSON value: a list of
// objects with numeric fields (at the top, or under any key, as
// training_history.json keeps its "epochs"), returned as one series per
// field with at least two points.
func HistorySeries(v any) map[string][]float64 {
	var rows []any
	switch v := v.(type) {
	case []any:
		rows = v
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if list, ok := v[k].([]any); ok && len(list) >= 2 {
				rows = list
				break
			}
		}
	}
	if len(rows) < 2 {
		return nil
	}
	series := map[string][]float64{}
	for _, row := range rows {
		obj, ok := row.(map[string]any)
		if !ok {
			return nil
		}
		for k, x := range obj {
			if f, ok := x.(float64); ok {
				series[k] = append(series[k], f)
			}
		}
	}
	for k, s := range series {
		if len(s) != len(rows) {
			delete(series, k)
		}
	}
	return series
}

// servePreviewRaw sends an image dataset's bytes, and nothing else.
func (s *Server) servePreviewRaw(st *site, w http.ResponseWriter, req *http.Request) {
	d, ok := previewDataset(st, w, req.PathValue("id"))
	if !ok {
		return
	}
	p, err := dataFile(s.opt.Root, d)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	// ?file= names an image inside a folder dataset: a clean relative
	// path, opened under the dataset's folder.
	if file := req.URL.Query().Get("file"); file != "" {
		if !fs.ValidPath(file) || file == "." {
			http.Error(w, fmt.Sprintf("dataset %q: file %q is not a path inside it", d.Name, file), http.StatusNotFound)
			return
		}
		p = path.Join(p, file)
	}
	ctype, ok := imageTypes[strings.ToLower(path.Ext(p))]
	if !ok {
		http.Error(w, fmt.Sprintf("dataset %q: %s is not an image", d.Name, p), http.StatusNotFound)
		return
	}
	root, err := s.openRoot()
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	defer root.Close()
	f, err := root.Open(p)
	if err != nil {
		http.Error(w, fmt.Sprintf("dataset %q: %v", d.Name, err), http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.Error(w, fmt.Sprintf("dataset %q is not a regular file", d.Name), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, req, "", fi.ModTime(), f)
}
