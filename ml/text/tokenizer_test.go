package text

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestKnownTokenizations(t *testing.T) {
	tk := Default()
	tests := []struct {
		text   string
		tokens []string
		ids    []int32 // with [CLS]/[SEP]; nil to skip
	}{
		{"i like strawberries", []string{"i", "like", "straw", "##berries"}, []int32{101, 1045, 2066, 13137, 20968, 102}},
		{"Café naïve", []string{"cafe", "naive"}, nil},
		{"Hello, World!", []string{"hello", ",", "world", "!"}, []int32{101, 7592, 1010, 2088, 999, 102}},
		{"", nil, []int32{101, 102}},
		{" \t\n ", nil, []int32{101, 102}},
		{"中文", []string{"中", "文"}, nil},
		{"ΟΔΟΣ", []string{"ο", "##δ", "##ο", "##σ"}, nil}, // per-character lowering: no final sigma
		{"a\x00b\u200bc\ufffd", []string{"abc"}, nil},
		{"don't", []string{"don", "'", "t"}, nil},
		{strings.Repeat("a", 101), []string{"[UNK]"}, nil},
		{"hello [SEP] world", []string{"hello", "[SEP]", "world"}, []int32{101, 7592, 102, 2088, 102}},
		{"[sep]", []string{"[", "sep", "]"}, nil},
		{"\u0301\u0301", nil, nil}, // only combining marks: nothing left
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.text), func(t *testing.T) {
			got := tk.Tokenize(tc.text)
			if !reflect.DeepEqual(got, tc.tokens) {
				t.Errorf("Tokenize = %q, want %q", got, tc.tokens)
			}
			if tc.ids == nil {
				return
			}
			e, err := tk.Encode(tc.text, len(tc.ids))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e.IDs, tc.ids) {
				t.Errorf("Encode ids = %v, want %v", e.IDs, tc.ids)
			}
		})
	}
}

type goldenCase struct {
	Text       string   `json:"text"`
	Tokens     []string `json:"tokens"`
	IDs        []int32  `json:"ids"`
	MaxSeqLen  int      `json:"max_seq_len"`
	InputIDs   []int32  `json:"input_ids"`
	InputMask  []int32  `json:"input_mask"`
	SegmentIDs []int32  `json:"segment_ids"`
}

// TestGolden compares with testdata/golden.jsonl, written by the
// independent Python re-implementation in scripts/fixtures/tokenizer.py.
func TestGolden(t *testing.T) {
	f, err := os.Open("testdata/golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk := Default()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for line := 1; sc.Scan(); line++ {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("golden.jsonl:%d: %v", line, err)
		}
		n++
		if got := tk.Tokenize(c.Text); !slices.Equal(got, c.Tokens) {
			t.Errorf("golden.jsonl:%d %q:\n got  %q\n want %q", line, c.Text, got, c.Tokens)
			continue
		}
		if got := tk.TokenIDs(c.Text); !slices.Equal(got, c.IDs) {
			t.Errorf("golden.jsonl:%d %q: ids %v, want %v", line, c.Text, got, c.IDs)
		}
		e, err := tk.Encode(c.Text, c.MaxSeqLen)
		if err != nil {
			t.Fatalf("golden.jsonl:%d: %v", line, err)
		}
		if !slices.Equal(e.IDs, c.InputIDs) || !slices.Equal(e.InputMask, c.InputMask) || !slices.Equal(e.SegmentIDs, c.SegmentIDs) {
			t.Errorf("golden.jsonl:%d %q (max %d): got %v/%v/%v, want %v/%v/%v", line, c.Text, c.MaxSeqLen,
				e.IDs, e.InputMask, e.SegmentIDs, c.InputIDs, c.InputMask, c.SegmentIDs)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 300 {
		t.Fatalf("only %d golden cases", n)
	}
}

func TestEncodeFraming(t *testing.T) {
	tk := Default()
	long := strings.Repeat("word ", 300)
	tests := []struct {
		name    string
		text    string
		maxLen  int
		wantLen int // real positions
		wantErr bool
	}{
		{"default length", "hello world", 0, 4, false},
		{"truncated", long, 128, 128, false},
		{"exactly fits", "a b c", 5, 5, false},
		{"one too many", "a b c d", 5, 5, false},
		{"only specials", "a b c", 2, 2, false},
		{"too short", "a", 1, 0, true},
		{"negative", "a", -3, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := tk.Encode(tc.text, tc.maxLen)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			size := tc.maxLen
			if size == 0 {
				size = DefaultMaxSeqLen
			}
			if len(e.IDs) != size || len(e.InputMask) != size || len(e.SegmentIDs) != size {
				t.Fatalf("lengths %d/%d/%d, want %d", len(e.IDs), len(e.InputMask), len(e.SegmentIDs), size)
			}
			if e.Len() != tc.wantLen {
				t.Fatalf("Len = %d, want %d", e.Len(), tc.wantLen)
			}
			checkEncoding(t, tk, e)
		})
	}
}

// checkEncoding asserts the invariants MMF's processor guarantees.
func checkEncoding(t *testing.T, tk *Tokenizer, e Encoding) {
	t.Helper()
	n := e.Len()
	if n < 2 || e.IDs[0] != tk.ClsID() || e.IDs[n-1] != tk.SepID() {
		t.Fatalf("not framed by [CLS]…[SEP]: %v", e.IDs)
	}
	for i, id := range e.IDs {
		if id < 0 || int(id) >= tk.Vocab().Len() {
			t.Fatalf("id %d at %d outside the vocabulary", id, i)
		}
		wantMask := int32(0)
		if i < n {
			wantMask = 1
			if tk.Vocab().Token(id) != e.Tokens[i] {
				t.Fatalf("token %d: %q has id %d", i, e.Tokens[i], id)
			}
		} else if id != tk.PadID() {
			t.Fatalf("padding id %d at %d", id, i)
		}
		if e.InputMask[i] != wantMask || e.SegmentIDs[i] != 0 {
			t.Fatalf("mask/segment at %d: %d/%d", i, e.InputMask[i], e.SegmentIDs[i])
		}
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "i like strawberries", "Café [SEP] 中文 😂", "\x00\xff\xfe", strings.Repeat("ab", 80), "[[[CLS"} {
		f.Add(s, 16)
	}
	tk := Default()
	f.Fuzz(func(t *testing.T, s string, maxLen int) {
		maxLen = 2 + (maxLen&0x7fffffff)%200
		e, err := tk.Encode(s, maxLen)
		if err != nil {
			t.Fatal(err)
		}
		checkEncoding(t, tk, e)
		ids := tk.TokenIDs(s)
		want := min(len(ids), maxLen-2)
		if e.Len() != want+2 || !slices.Equal(e.IDs[1:want+1], ids[:want]) {
			t.Fatalf("Encode disagrees with TokenIDs: %v vs %v", e.IDs, ids)
		}
	})
}

// memeTexts builds n caption-like texts (mixed case, punctuation, the odd
// accent and emoji) of typical Hateful Memes length.
func memeTexts(n int) []string {
	words := strings.Fields("when you finally realize that the dishwasher was never broken LOL " +
		"isn't it funny how people love their goats?! café résumé 😂 #1 memes muslims " +
		"y'all gonna act like you didn't see this... look at my new friends everybody")
	texts := make([]string, n)
	for i := range texts {
		k := 8 + i%20
		var b strings.Builder
		for j := 0; j < k; j++ {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[(i*7+j*13)%len(words)])
		}
		texts[i] = b.String()
	}
	return texts
}

// BenchmarkEncodeTrainSplit encodes 8,500 meme-like texts (the size of
// Hateful Memes train.jsonl) per iteration at max_seq_length 128.
func BenchmarkEncodeTrainSplit(b *testing.B) {
	tk := Default()
	texts := memeTexts(8500)
	b.ResetTimer()
	for b.Loop() {
		for _, s := range texts {
			if _, err := tk.Encode(s, DefaultMaxSeqLen); err != nil {
				b.Fatal(err)
			}
		}
	}
}
