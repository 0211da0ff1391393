package text

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDefaultVocab(t *testing.T) {
	v := DefaultVocab()
	if v.Len() != 30522 {
		t.Fatalf("Len = %d, want 30522", v.Len())
	}
	for tok, want := range map[string]int32{"[PAD]": 0, "[unused0]": 1, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103, "the": 1996, "##berries": 20968, "##～": 30521} {
		if id, ok := v.ID(tok); !ok || id != want {
			t.Errorf("ID(%q) = %d, %v; want %d", tok, id, ok, want)
		}
		if got := v.Token(want); got != tok {
			t.Errorf("Token(%d) = %q, want %q", want, got, tok)
		}
	}
	if v.Token(-1) != "" || v.Token(30522) != "" {
		t.Error("Token out of range should be empty")
	}
}

func TestParseVocab(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantLen int
		wantErr string
	}{
		{"plain", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##lo\n", 7, ""},
		{"crlf and no final newline", "a\r\nb", 2, ""},
		{"duplicate", "a\nb\na\n", 0, "x.txt:3: token \"a\" already on line 1"},
		{"empty line", "a\n\nb\n", 0, "x.txt:2: empty token"},
		{"empty file", "", 0, "no tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseVocab(strings.NewReader(tc.content), "x.txt")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Len() != tc.wantLen {
				t.Fatalf("Len = %d, want %d", v.Len(), tc.wantLen)
			}
		})
	}
}

// TestCustomVocab checks that special ids come from the vocabulary file,
// not from bert-base-uncased's numbering.
func TestCustomVocab(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vocab.txt")
	content := "help\n[MASK]\n[SEP]\n##lo\n[CLS]\nhel\n[UNK]\n[PAD]\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := LoadVocab(path)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	e, err := tk.Encode("Hello HELP xyz", 8)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{4, 5, 3, 0, 6, 2, 7, 7}
	if !slices.Equal(e.IDs, want) {
		t.Fatalf("ids %v, want %v (tokens %q)", e.IDs, want, e.Tokens)
	}
	if _, err := New(&Vocab{ids: map[string]int32{"[PAD]": 0}}); err == nil || !strings.Contains(err.Error(), "[UNK]") {
		t.Fatalf("missing [UNK]: err = %v", err)
	}
	if _, err := LoadVocab(filepath.Join(t.TempDir(), "missing.txt")); err == nil {
		t.Fatal("missing file: want error")
	}
}
