package memes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadSplit reads a Hateful Memes split file (train.jsonl, dev_seen.jsonl,
// …): one JSON object per line with "id", "img", "text" and, on labelled
// splits, "label" (0 or 1). Lines are decoded as they are read. Blank
// lines are skipped; a malformed line, a missing or mistyped field, a
// label other than 0/1 or a repeated id is an error naming the file, the
// line and the field. Unknown fields are ignored.
func ReadSplit(path string) ([]Meme, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read split: %w", err)
	}
	defer f.Close()
	return DecodeSplit(f, path)
}

// DecodeSplit is ReadSplit over any reader; name labels errors.
func DecodeSplit(r io.Reader, name string) ([]Meme, error) {
	var out []Meme
	err := ScanSplit(r, name, func(m Meme) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

// ScanSplit decodes a split line by line and calls fn for each meme, so
// a caller can stream a large file; an error from fn stops the scan and
// is returned with the line number.
func ScanSplit(r io.Reader, name string, fn func(Meme) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	seen := make(map[ID]int)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 BOM
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			m, derr := decodeMeme(t)
			if derr != nil {
				return fmt.Errorf("%s:%d: %w", name, line, derr)
			}
			if first, dup := seen[m.ID]; dup {
				return fmt.Errorf("%s:%d: id %s already on line %d", name, line, m.ID, first)
			}
			seen[m.ID] = line
			if ferr := fn(m); ferr != nil {
				return fmt.Errorf("%s:%d: meme %s: %w", name, line, m.ID, ferr)
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// decodeMeme decodes one line field by field, so an error can say which
// field is wrong.
func decodeMeme(line []byte) (Meme, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Meme{}, fmt.Errorf("malformed JSON at byte %d: %w", se.Offset, err)
		}
		return Meme{}, fmt.Errorf("not a JSON object: %w", err)
	}
	var m Meme
	for _, name := range []string{"id", "img", "text"} {
		if _, ok := fields[name]; !ok {
			return Meme{}, fmt.Errorf("field %q missing", name)
		}
	}
	if err := json.Unmarshal(fields["id"], &m.ID); err != nil {
		return Meme{}, fmt.Errorf("field \"id\": %w", err)
	}
	if m.ID == "" {
		return Meme{}, errors.New("field \"id\" is empty")
	}
	if err := json.Unmarshal(fields["img"], &m.Img); err != nil {
		return Meme{}, fmt.Errorf("field \"img\" must be a string: %s", fields["img"])
	}
	if m.Img == "" {
		return Meme{}, errors.New("field \"img\" is empty")
	}
	if err := json.Unmarshal(fields["text"], &m.Text); err != nil {
		return Meme{}, fmt.Errorf("field \"text\" must be a string: %s", fields["text"])
	}
	if raw, ok := fields["label"]; ok && string(raw) != "null" {
		var label int
		if err := json.Unmarshal(raw, &label); err != nil || (label != 0 && label != 1) {
			return Meme{}, fmt.Errorf("field \"label\" must be 0 or 1, got %s", raw)
		}
		m.Label = &label
	}
	return m, nil
}
