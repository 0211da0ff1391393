package pickle

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// reprLimit bounds Repr's output: decoded values may share subtrees
// through the memo, so printing them naively can take exponential time.
const reprLimit = 120

// Repr is a short, bounded Python-like rendering of a decoded value for
// error messages; long or deep values are cut with "…".
func Repr(v any) string {
	var b strings.Builder
	repr(&b, v, 0)
	s := b.String()
	if len(s) > reprLimit {
		s = s[:reprLimit] + "…"
	}
	return s
}

func repr(b *strings.Builder, v any, depth int) {
	if b.Len() > reprLimit {
		return
	}
	if depth > 4 {
		b.WriteString("…")
		return
	}
	seq := func(open, close string, items []any) {
		b.WriteString(open)
		for i, e := range items {
			if i > 0 {
				b.WriteString(", ")
			}
			if b.Len() > reprLimit {
				b.WriteString("…")
				break
			}
			repr(b, e, depth+1)
		}
		b.WriteString(close)
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		if len(x) > reprLimit {
			x = x[:reprLimit]
		}
		b.WriteString(strconv.Quote(x))
	case []byte:
		if len(x) > reprLimit {
			x = x[:reprLimit]
		}
		b.WriteString("b" + strconv.Quote(string(x)))
	case Tuple:
		seq("(", ")", x)
	case *List:
		seq("[", "]", x.Items)
	case *Set:
		seq("{", "}", x.Items)
	case *Dict:
		fmt.Fprintf(b, "<dict of %d>", x.Len())
	default:
		b.WriteString("<" + TypeName(v) + ">")
	}
}
