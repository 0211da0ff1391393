// Package memes holds the Hateful Memes record type shared by the data
// layer, the synthetic generator and the training pipelines.
package memes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Meme is one line of a Hateful Memes split file
// ({"id": 42953, "img": "img/42953.png", "label": 0, "text": "..."}).
// Label is nil on unlabelled splits (the challenge's test files).
type Meme struct {
	ID    ID     `json:"id"`
	Img   string `json:"img"`
	Label *int   `json:"label,omitempty"`
	Text  string `json:"text"`
}

// HasLabel reports whether the meme carries a 0/1 label.
func (m Meme) HasLabel() bool { return m.Label != nil }

// ID is a meme id. The original files write it as a JSON number
// (42953) and some re-exports as a string ("42953" or "04253"), so it
// accepts both and keeps the exact digits, leading zeros included.
type ID string

// UnmarshalJSON accepts a JSON number or string.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("meme id must be a number or a string, got %s", b)
	}
	*id = ID(n.String())
	return nil
}

// MarshalJSON writes an all-digit id without leading zeros as a number,
// as the original files do, and anything else as a string.
func (id ID) MarshalJSON() ([]byte, error) {
	s := string(id)
	if n, err := strconv.ParseUint(s, 10, 63); err == nil && strconv.FormatUint(n, 10) == s {
		return []byte(s), nil
	}
	return json.Marshal(s)
}
