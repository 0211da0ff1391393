package formats

import (
	"context"
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

// MemeFolder is the "meme_folder" format: a memes.Folder, one
// <split>.jsonl per split, loaded leniently (bad lines listed) unless
// load_args.strict.
func MemeFolder() catalog.Format {
	return catalog.Format{
		Name:          "meme_folder",
		Doc:           "a Hateful Memes style folder: <split>.jsonl files (load_args: splits, default all; strict) and images relative to it",
		Accepts:       catalog.AcceptTypes(reflect.TypeFor[memes.Folder]()),
		NeedsFilepath: true,
		New: func(s catalog.Spec) (catalog.Dataset, error) {
			var args struct {
				Splits []string `yaml:"splits"`
				// Strict makes the first bad line an error (file:line)
				// instead of an entry in memes.Split.BadLines: what training
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
	}
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
	f := memes.Folder{Root: d.root}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(d.root, n+".jsonl")
		file, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("split %s: %w", n, err)
		}
		ms, bad, err := memes.ReadSplitLenient(file, path)
		file.Close()
		if err != nil {
			return nil, err
		}
		if d.strict && len(bad) > 0 {
			return nil, fmt.Errorf("%s (and %d more bad lines in this file)", bad[0], len(bad)-1)
		}
		f.Splits = append(f.Splits, memes.Split{Name: n, Memes: ms, BadLines: bad})
	}
	return f, nil
}

func (d *memeFolderDataset) Save(_ context.Context, v any) error {
	f, ok := v.(memes.Folder)
	if !ok {
		return fmt.Errorf("meme_folder saves a memes.Folder, got %T", v)
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
