package nodes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"mmc/atomicfile"
	"mmc/catalog"
	"mmc/memes"
	"mmc/synth"
)

// hatefulMemesSplits is the order the challenge's phase-2 files are
// listed in; other *.jsonl files follow alphabetically.
var hatefulMemesSplits = []string{"train", "dev_seen", "test_seen", "dev_unseen", "test_unseen", "dev", "test"}

func init() {
	catalog.Register(catalog.Format{
		Name:          "meme_folder",
		Doc:           "a Hateful Memes style folder: <split>.jsonl files (load_args: splits, default all; strict) and images relative to it",
		Accepts:       catalog.AcceptTypes(reflect.TypeFor[MemeFolder]()),
		NeedsFilepath: true,
		New: func(s catalog.Spec) (catalog.Dataset, error) {
			var args struct {
				Splits []string `yaml:"splits"`
				// Strict makes the first bad line an error (file:line)
				// instead of an entry in MemeSplit.BadLines: what training
				// wants, while data_processing wants the full list.
				Strict bool `yaml:"strict"`
			}
			if err := s.DecodeLoadArgs(&args); err != nil {
				return nil, err
			}
			var save struct {
				// Exclusive removes the folder's other *.jsonl files after a
				// save, so a regenerated set with fewer splits leaves no
				// stale split behind.
				Exclusive bool `yaml:"exclusive"`
			}
			if err := s.DecodeSaveArgs(&save); err != nil {
				return nil, err
			}
			for _, sp := range args.Splits {
				if sp == "" || strings.ContainsAny(sp, `/\`) {
					return nil, fmt.Errorf("dataset %q: load_args.splits: %q is not a split file stem such as train", s.Name, sp)
				}
			}
			return &memeFolderDataset{root: s.Filepath, splits: args.Splits, strict: args.Strict, exclusive: save.Exclusive}, nil
		},
	})
}

type memeFolderDataset struct {
	root      string
	splits    []string
	strict    bool
	exclusive bool
}

func (d *memeFolderDataset) Describe() string { return "meme_folder " + d.root }

// splitNames lists the splits to load: load_args.splits, else every
// *.jsonl under the root.
func (d *memeFolderDataset) splitNames() ([]string, error) {
	if len(d.splits) > 0 {
		return d.splits, nil
	}
	entries, err := os.ReadDir(d.root)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".jsonl"); ok && !e.IsDir() && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	rank := func(n string) int {
		if i := slices.Index(hatefulMemesSplits, n); i >= 0 {
			return i
		}
		return len(hatefulMemesSplits)
	}
	slices.SortFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return names, nil
}

func (d *memeFolderDataset) Exists() (bool, error) {
	names, err := d.splitNames()
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(d.root, n+".jsonl")); err != nil {
			return false, nil
		}
	}
	return len(names) > 0, nil
}

func (d *memeFolderDataset) Load(ctx context.Context, _ reflect.Type) (any, error) {
	names, err := d.splitNames()
	if err != nil {
		return nil, fmt.Errorf("list splits: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no split files (*.jsonl) in %s", d.root)
	}
	f := MemeFolder{Root: d.root}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(d.root, n+".jsonl")
		file, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("split %s: %w", n, err)
		}
		ms, bad, err := readSplitLenient(file, path)
		file.Close()
		if err != nil {
			return nil, err
		}
		if d.strict && len(bad) > 0 {
			return nil, fmt.Errorf("%s (and %d more bad lines in this file)", bad[0], len(bad)-1)
		}
		f.Splits = append(f.Splits, MemeSplit{Name: n, Memes: ms, BadLines: bad})
	}
	return f, nil
}

func (d *memeFolderDataset) Save(_ context.Context, v any) error {
	f, ok := v.(MemeFolder)
	if !ok {
		return fmt.Errorf("meme_folder saves a nodes.MemeFolder, got %T", v)
	}
	for _, s := range f.Splits {
		path := filepath.Join(d.root, s.Name+".jsonl")
		if err := atomicfile.WriteFile(path, func(w io.Writer) error { return synth.WriteJSONL(w, s.Memes) }); err != nil {
			return err
		}
	}
	if !d.exclusive {
		return nil
	}
	keep := map[string]bool{}
	for _, s := range f.Splits {
		keep[s.Name+".jsonl"] = true
	}
	entries, err := os.ReadDir(d.root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".jsonl") && !keep[n] {
			if err := os.Remove(filepath.Join(d.root, n)); err != nil {
				return fmt.Errorf("remove stale split: %w", err)
			}
		}
	}
	return nil
}

// readSplitLenient reads a split file line by line, keeping every meme
// that decodes and describing every line that does not ("path:line:
// reason"), so one bad line does not hide the rest of the report.
// Only an I/O error stops it.
func readSplitLenient(r io.Reader, path string) ([]memes.Meme, []string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var ms []memes.Meme
	var bad []string
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			m, perr := parseMemeLine(t)
			if perr != nil {
				bad = append(bad, fmt.Sprintf("%s:%d: %v", path, line, perr))
			} else {
				ms = append(ms, m)
			}
		}
		if err == io.EOF {
			return ms, bad, nil
		}
	}
}

// parseMemeLine decodes one JSONL line and checks the fields a Hateful
// Memes record needs.
func parseMemeLine(b []byte) (memes.Meme, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return memes.Meme{}, fmt.Errorf("not a JSON object: %w", err)
	}
	for _, k := range []string{"id", "img", "text"} {
		if _, ok := fields[k]; !ok {
			return memes.Meme{}, fmt.Errorf("field %q is missing", k)
		}
	}
	var m memes.Meme
	if err := json.Unmarshal(b, &m); err != nil {
		return memes.Meme{}, fmt.Errorf("bad field: %w", err)
	}
	if m.ID == "" {
		return memes.Meme{}, fmt.Errorf("field \"id\" is empty")
	}
	if m.Img == "" {
		return memes.Meme{}, fmt.Errorf("field \"img\" is empty")
	}
	if raw, ok := fields["label"]; ok && string(raw) == "null" {
		m.Label = nil
	} else if m.Label != nil && *m.Label != 0 && *m.Label != 1 {
		return memes.Meme{}, fmt.Errorf("field \"label\" is %d, want 0 or 1", *m.Label)
	}
	return m, nil
}
