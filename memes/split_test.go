package memes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeSplit(t *testing.T) {
	label := func(v int) *int { return &v }
	tests := []struct {
		name    string
		in      string
		want    []Meme
		wantErr string
	}{
		{
			name: "labelled",
			in:   "{\"id\": 42953, \"img\": \"img/42953.png\", \"label\": 0, \"text\": \"its their character not their color that matters\"}\n{\"id\":\"01235\",\"img\":\"img/01235.png\",\"label\":1,\"text\":\"x\"}\n",
			want: []Meme{
				{ID: "42953", Img: "img/42953.png", Label: label(0), Text: "its their character not their color that matters"},
				{ID: "01235", Img: "img/01235.png", Label: label(1), Text: "x"},
			},
		},
		{
			name: "unlabelled test split, BOM, CRLF, blank lines, no final newline, extra field",
			in:   "\xef\xbb\xbf{\"id\": 1, \"img\": \"img/00001.png\", \"text\": \"a\"}\r\n\n  \n{\"id\": 2, \"img\": \"img/00002.png\", \"text\": \"\", \"label\": null, \"extra\": [1]}",
			want: []Meme{{ID: "1", Img: "img/00001.png", Text: "a"}, {ID: "2", Img: "img/00002.png", Text: ""}},
		},
		{name: "empty file", in: "", want: nil},
		{name: "malformed", in: "{\"id\": 1, \"img\": \"a.png\", \"text\": \"a\"}\n{\"id\": 2, \"img\": \n", wantErr: "s.jsonl:2: malformed JSON"},
		{name: "not an object", in: "[1,2]\n", wantErr: "s.jsonl:1: not a JSON object"},
		{name: "missing img", in: "{\"id\": 1, \"text\": \"a\"}\n", wantErr: "s.jsonl:1: field \"img\" missing"},
		{name: "missing text", in: "{\"id\": 1, \"img\": \"a.png\"}\n", wantErr: "s.jsonl:1: field \"text\" missing"},
		{name: "bad id", in: "{\"id\": [1], \"img\": \"a.png\", \"text\": \"a\"}\n", wantErr: "s.jsonl:1: field \"id\""},
		{name: "empty id", in: "{\"id\": \"\", \"img\": \"a.png\", \"text\": \"a\"}\n", wantErr: "field \"id\" is empty"},
		{name: "img not string", in: "{\"id\": 1, \"img\": 5, \"text\": \"a\"}\n", wantErr: "field \"img\" must be a string"},
		{name: "text not string", in: "{\"id\": 1, \"img\": \"a.png\", \"text\": 7}\n", wantErr: "field \"text\" must be a string"},
		{name: "label 2", in: "{\"id\": 1, \"img\": \"a.png\", \"text\": \"a\", \"label\": 2}\n", wantErr: "field \"label\" must be 0 or 1, got 2"},
		{name: "label string", in: "{\"id\": 1, \"img\": \"a.png\", \"text\": \"a\", \"label\": \"1\"}\n", wantErr: "field \"label\" must be 0 or 1"},
		{name: "duplicate id", in: "{\"id\": 7, \"img\": \"a.png\", \"text\": \"a\"}\n\n{\"id\": \"7\", \"img\": \"b.png\", \"text\": \"b\"}\n", wantErr: "s.jsonl:3: id 7 already on line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeSplit(strings.NewReader(tc.in), "s.jsonl")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d memes, want %d", len(got), len(tc.want))
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.ID != w.ID || g.Img != w.Img || g.Text != w.Text || g.HasLabel() != w.HasLabel() ||
					(g.HasLabel() && *g.Label != *w.Label) {
					t.Errorf("meme %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestReadSplitFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dev_seen.jsonl")
	content := "{\"id\": 8291, \"img\": \"img/08291.png\", \"label\": 1, \"text\": \"white people is this a shooting range\"}\n" +
		"{\"id\": 46971, \"img\": \"img/46971.png\", \"label\": 0, \"text\": \"bravery at its finest\"}\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := ReadSplit(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != "8291" || *ms[0].Label != 1 || ms[1].Text != "bravery at its finest" {
		t.Fatalf("got %+v", ms)
	}
	if _, err := ReadSplit(filepath.Join(dir, "missing.jsonl")); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestScanSplitCallbackError(t *testing.T) {
	stop := errors.New("stop here")
	in := "{\"id\": 1, \"img\": \"a.png\", \"text\": \"a\"}\n{\"id\": 2, \"img\": \"b.png\", \"text\": \"b\"}\n"
	n := 0
	err := ScanSplit(strings.NewReader(in), "s.jsonl", func(m Meme) error {
		n++
		if m.ID == "2" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "s.jsonl:2: meme 2") || n != 2 {
		t.Fatalf("err = %v after %d memes", err, n)
	}
}

func FuzzDecodeSplit(f *testing.F) {
	f.Add([]byte("{\"id\": 42953, \"img\": \"img/42953.png\", \"label\": 0, \"text\": \"a\"}\n"))
	f.Add([]byte("{\"id\": \"x\", \"img\": \"i\", \"text\": \"\"}\n{\"id\": \"x\""))
	f.Add([]byte("\xef\xbb\xbf\n\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := DecodeSplit(strings.NewReader(string(data)), "fuzz.jsonl")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.jsonl:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		for _, m := range ms {
			if m.ID == "" || m.Img == "" || (m.HasLabel() && *m.Label != 0 && *m.Label != 1) {
				t.Fatalf("invalid meme accepted: %+v", m)
			}
		}
	})
}
