package text

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultMaxSeqLen is MMF's max_seq_length for the Hateful Memes
// bert_tokenizer processor.
const DefaultMaxSeqLen = 128

// MaxInputCharsPerWord is BERT's limit: a longer word becomes [UNK]
// without being split into pieces.
const MaxInputCharsPerWord = 100

// Tokenizer is a BERT uncased WordPiece tokenizer over one vocabulary.
// It is safe for concurrent use.
type Tokenizer struct {
	vocab                    *Vocab
	pad, unk, cls, sep, mask int32
}

// New returns a tokenizer over v. The ids of [PAD], [UNK], [CLS], [SEP]
// and [MASK] are looked up in v; a vocabulary lacking one is an error.
func New(v *Vocab) (*Tokenizer, error) {
	t := &Tokenizer{vocab: v}
	for _, s := range []struct {
		tok string
		id  *int32
	}{{PadToken, &t.pad}, {UnkToken, &t.unk}, {ClsToken, &t.cls}, {SepToken, &t.sep}, {MaskToken, &t.mask}} {
		id, ok := v.ID(s.tok)
		if !ok {
			return nil, fmt.Errorf("tokenizer: vocabulary has no %s token", s.tok)
		}
		*s.id = id
	}
	return t, nil
}

// Default returns a tokenizer over the embedded bert-base-uncased vocabulary.
func Default() *Tokenizer {
	t, err := New(DefaultVocab())
	if err != nil {
		panic(err) // the embedded vocabulary is fixed and tested
	}
	return t
}

// Vocab returns the tokenizer's vocabulary.
func (t *Tokenizer) Vocab() *Vocab { return t.vocab }

// PadID, UnkID, ClsID, SepID and MaskID are the special token ids.
func (t *Tokenizer) PadID() int32  { return t.pad }
func (t *Tokenizer) UnkID() int32  { return t.unk }
func (t *Tokenizer) ClsID() int32  { return t.cls }
func (t *Tokenizer) SepID() int32  { return t.sep }
func (t *Tokenizer) MaskID() int32 { return t.mask }

// Tokenize returns the WordPiece tokens of text, without [CLS]/[SEP].
func (t *Tokenizer) Tokenize(text string) []string {
	var toks []string
	t.pieces(text, func(id int32) { toks = append(toks, t.vocab.tokens[id]) })
	return toks
}

// TokenIDs returns the ids of Tokenize(text).
func (t *Tokenizer) TokenIDs(text string) []int32 {
	var ids []int32
	t.pieces(text, func(id int32) { ids = append(ids, id) })
	return ids
}

// pieces runs the full tokenization and emits one vocabulary id per
// token. Special tokens written literally in text ("[SEP]") are kept
// whole, as Hugging Face's tokenize does; the text between them goes
// through BasicTokenizer and WordPiece.
func (t *Tokenizer) pieces(text string, emit func(id int32)) {
	word := func(w string) { t.wordPiece(w, emit) }
	for {
		i, special := nextSpecial(text)
		if i < 0 {
			basicTokenize(text, word)
			return
		}
		basicTokenize(text[:i], word)
		id, _ := t.vocab.ID(special)
		emit(id)
		text = text[i+len(special):]
	}
}

// nextSpecial finds the first literal special token in text.
func nextSpecial(text string) (int, string) {
	for off := 0; ; {
		j := strings.IndexByte(text[off:], '[')
		if j < 0 {
			return -1, ""
		}
		off += j
		for _, s := range specialTokens {
			if strings.HasPrefix(text[off:], s) {
				return off, s
			}
		}
		off++
	}
}

// wordPiece splits one basic-tokenized word greedily, longest match
// first, into vocabulary pieces ("straw", "##berries"). A word longer
// than MaxInputCharsPerWord, or with any position where no piece
// matches, becomes a single [UNK].
func (t *Tokenizer) wordPiece(word string, emit func(id int32)) {
	if utf8.RuneCountInString(word) > MaxInputCharsPerWord {
		emit(t.unk)
		return
	}
	// Pieces go to a small stack buffer first: a failed match anywhere
	// turns the whole word into [UNK].
	var buf [16]int32
	ids := buf[:0]
	for start := 0; start < len(word); {
		table := t.vocab.ids
		if start > 0 {
			table = t.vocab.cont
		}
		end := len(word)
		var id int32
		found := false
		for end > start {
			if id, found = table[word[start:end]]; found {
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if !found {
			emit(t.unk)
			return
		}
		ids = append(ids, id)
		start = end
	}
	for _, id := range ids {
		emit(id)
	}
}

// Encoding is one text as BERT input, exactly as MMF's bert_tokenizer
// processor builds it: [CLS] tokens [SEP], zero-padded to the sequence
// length. As JSON it uses MMF's sample field names.
type Encoding struct {
	IDs        []int32  `json:"input_ids"`   // padded with the [PAD] id
	InputMask  []int32  `json:"input_mask"`  // 1 for [CLS], the tokens and [SEP]; 0 for padding
	SegmentIDs []int32  `json:"segment_ids"` // token_type_ids: all 0 for a single text
	Tokens     []string `json:"tokens"`      // [CLS] tokens [SEP], unpadded
}

// Len is the number of real (unpadded) positions.
func (e Encoding) Len() int { return len(e.Tokens) }

// Encode tokenizes text and frames it for BERT: the tokens are truncated
// from the end to maxSeqLen-2, wrapped in [CLS] … [SEP] and padded to
// maxSeqLen. maxSeqLen 0 means DefaultMaxSeqLen; below 2 there is no
// room for the special tokens and it is an error.
func (t *Tokenizer) Encode(text string, maxSeqLen int) (Encoding, error) {
	if maxSeqLen == 0 {
		maxSeqLen = DefaultMaxSeqLen
	}
	if maxSeqLen < 2 {
		return Encoding{}, fmt.Errorf("encode: max_seq_length %d leaves no room for [CLS] and [SEP]", maxSeqLen)
	}
	e := Encoding{
		IDs:        make([]int32, maxSeqLen),
		InputMask:  make([]int32, maxSeqLen),
		SegmentIDs: make([]int32, maxSeqLen),
	}
	ids := e.IDs[:1]
	ids[0] = t.cls
	limit := maxSeqLen - 1
	t.pieces(text, func(id int32) {
		if len(ids) < limit {
			ids = append(ids, id)
		}
	})
	ids = append(ids, t.sep)
	e.Tokens = make([]string, len(ids))
	for i, id := range ids {
		e.InputMask[i] = 1
		e.Tokens[i] = t.vocab.tokens[id]
	}
	for i := len(ids); i < maxSeqLen; i++ {
		e.IDs[i] = t.pad
	}
	return e, nil
}
