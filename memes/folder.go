package memes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Folder is a Hateful Memes style data set on disk: the memes of
// each split file found under Root (Root/<split>.jsonl, images relative
// to Root). The meme_folder catalog format loads it leniently, so that
// bad lines are reported instead of stopping the load.
type Folder struct {
	Root   string
	Splits []Split
}

// Split is one split file's memes, in file order (duplicates kept),
// and the lines that could not be read as a meme ("file:line: reason").
type Split struct {
	Name     string
	Memes    []Meme
	BadLines []string
}

// Memes returns the memes of the split called name; a split with
// unreadable lines is an error naming the first.
func (f Folder) Memes(name string) ([]Meme, error) {
	var have []string
	for _, s := range f.Splits {
		if s.Name == name {
			if len(s.BadLines) > 0 {
				return nil, fmt.Errorf("split %q of %s has %d unreadable lines, first %s", name, f.Root, len(s.BadLines), s.BadLines[0])
			}
			return s.Memes, nil
		}
		have = append(have, s.Name)
	}
	return nil, fmt.Errorf("split %q not found in %s (have %v); the split file is %s/%s.jsonl", name, f.Root, have, f.Root, name)
}

// ReadSplitLenient reads a split file line by line, keeping every meme
// that decodes and describing every line that does not ("path:line:
// reason"), so one bad line does not hide the rest of the report.
// Only an I/O error stops it.
func ReadSplitLenient(r io.Reader, path string) ([]Meme, []string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var ms []Meme
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
			m, perr := ParseLine(t)
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

// ParseLine decodes one JSONL line of a split file and checks the fields a Hateful
// Memes record needs.
func ParseLine(b []byte) (Meme, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return Meme{}, fmt.Errorf("not a JSON object: %w", err)
	}
	for _, k := range []string{"id", "img", "text"} {
		if _, ok := fields[k]; !ok {
			return Meme{}, fmt.Errorf("field %q is missing", k)
		}
	}
	var m Meme
	if err := json.Unmarshal(b, &m); err != nil {
		return Meme{}, fmt.Errorf("bad field: %w", err)
	}
	if m.ID == "" {
		return Meme{}, fmt.Errorf("field \"id\" is empty")
	}
	if m.Img == "" {
		return Meme{}, fmt.Errorf("field \"img\" is empty")
	}
	if raw, ok := fields["label"]; ok && string(raw) == "null" {
		m.Label = nil
	} else if m.Label != nil && *m.Label != 0 && *m.Label != 1 {
		return Meme{}, fmt.Errorf("field \"label\" is %d, want 0 or 1", *m.Label)
	}
	return m, nil
}
