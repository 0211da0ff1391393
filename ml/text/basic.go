package text

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// basicTokenize is BERT's BasicTokenizer with do_lower_case=True,
// tokenize_chinese_chars=True and strip_accents unset: it cleans text,
// spaces out CJK ideographs, splits on whitespace, lower-cases each word,
// strips accents (NFD, then drop category Mn) and splits punctuation into
// single-character words. Each resulting word is passed to emit.
func basicTokenize(text string, emit func(word string)) {
	cleaned := cleanText(text)
	for _, tok := range strings.FieldsFunc(cleaned, unicode.IsSpace) {
		if isASCII(tok) {
			splitPunct(asciiLower(tok), emit)
			continue
		}
		splitPunct(stripAccents(lowerPerChar(tok)), emit)
	}
}

// cleanText drops NUL, U+FFFD and control characters, turns every
// whitespace character into a plain space and surrounds CJK ideographs
// with spaces. Invalid UTF-8 decodes to U+FFFD and is dropped with it.
func cleanText(text string) string {
	var b strings.Builder
	b.Grow(len(text) + 8)
	for _, r := range text {
		switch {
		case r == 0 || r == utf8.RuneError || isControl(r):
		case isWhitespace(r):
			b.WriteByte(' ')
		case isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isWhitespace is BERT's _is_whitespace: space, tab, newline, carriage
// return, or any Unicode space separator (Zs).
func isWhitespace(r rune) bool {
	if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
		return true
	}
	return r >= 0x80 && unicode.Is(unicode.Zs, r)
}

// isControl is BERT's _is_control: any category C* character (Cc, Cf,
// Co, Cs and unassigned Cn) except tab, newline and carriage return,
// which count as whitespace instead.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	// Go has no Cn table: a code point in no other category is unassigned.
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isPunctuation is BERT's _is_punctuation: every non-alphanumeric ASCII
// printable character ("$", "^", "`" included, though Unicode files them
// under S) and every Unicode P* character.
func isPunctuation(r rune) bool {
	if r < 0x80 {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}

// isCJK reports whether r is in one of the CJK Unified Ideographs blocks
// BERT spaces out (Hangul, kana and full-width forms are not included).
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// lowerPerChar lower-cases each character on its own (simple case
// mapping). Hugging Face lower-cases the text one character at a time
// before BasicTokenizer sees it (tokenize's per-character re.sub when
// do_lower_case is set; the fast tokenizer's normalizer likewise), so
// Python's context-dependent final sigma never applies: "ΟΔΟΣ" → "οδοσ".
// Python maps "İ" to "i" + U+0307, whose combining dot accent stripping
// removes, so the simple mapping "i" gives the same words.
func lowerPerChar(s string) string { return strings.ToLower(s) }

// stripAccents decomposes s (NFD) and drops nonspacing marks (Mn).
func stripAccents(s string) string {
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// splitPunct emits the runs of non-punctuation in word and each
// punctuation character on its own. Empty words (a word made only of
// combining marks) emit nothing.
func splitPunct(word string, emit func(string)) {
	start := 0
	for i, r := range word {
		if !isPunctuation(r) {
			continue
		}
		if i > start {
			emit(word[start:i])
		}
		size := utf8.RuneLen(r)
		emit(word[i : i+size])
		start = i + size
	}
	if start < len(word) {
		emit(word[start:])
	}
}
