package pickle

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStrictRefusesBareGlobals is issue 16 item 12 (pickle): a global
// that is a value of the pickle (never called) is refused in strict
// decoding, naming it and where it sits; lenient decoding keeps it inert.
func TestStrictRefusesBareGlobals(t *testing.T) {
	cases := []struct {
		name, data, global, where string
	}{
		{"the whole pickle", "cbuiltins\nset\n.", "builtins.set", "at the top level"},
		{"a dict value", "\x80\x02}X\x01\x00\x00\x00wccollections\nOrderedDict\ns.", "collections.OrderedDict", `at ["w"]`},
		{"in a list in a tuple", "\x80\x02K\x01]cnumpy\ndtype\na\x86.", "numpy.dtype", "at [1][0]"},
		{"a caller's global", "\x80\x02}X\x01\x00\x00\x00fcmy\nfunc\ns.", "pickle.Func", `at ["f"]`},
		{"a numpy dtype is data, its class is not", "\x80\x02](cnumpy\ndtype\nX\x02\x00\x00\x00f4\x85Rcnumpy\ndtype\ne.", "numpy.dtype", "at [1]"},
		{"an attribute of a dict subclass", "\x80\x02ccollections\nOrderedDict\n)R}X\x01\x00\x00\x00fc_codecs\nencode\nsb.", "_codecs.encode", `at .__dict__["f"]`},
		{"a python 2 builtin", "c__builtin__\nfrozenset\n.", "builtins.frozenset", "at the top level"},
	}
	callers := map[string]any{"my.func": Func(func(Tuple) (any, error) { return nil, nil })}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unpickle([]byte(c.data), &Options{Globals: callers})
			if err == nil || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "global "+c.global+" is a value "+c.where) {
				t.Fatalf("strict: %v, want ErrUnsupported naming %s %s", err, c.global, c.where)
			}
			v, err := Unpickle([]byte(c.data), &Options{Globals: callers, Lenient: true})
			if err != nil {
				t.Fatalf("lenient: %v", err)
			}
			if v == nil {
				t.Fatal("lenient: no value")
			}
		})
	}
	// Called globals are fine: OrderedDict(), set([1]), dtype("f4").
	for _, ok := range []string{"\x80\x02ccollections\nOrderedDict\n)R.", "\x80\x02cbuiltins\nset\n]K\x01a\x85R.", "\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f4\x85R."} {
		if _, err := Unpickle([]byte(ok), nil); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// TestBareGlobalWalkVisitsSharedValuesOnce: a tuple (x, x) nested 60
// deep through the memo has 2^60 paths; the walk must visit each value
// once.
func TestBareGlobalWalkVisitsSharedValuesOnce(t *testing.T) {
	data := []byte("\x80\x02N")
	for i := 0; i < 60; i++ {
		data = append(data, "q\x00h\x00\x86"...)
	}
	data = append(data, '.')
	start := time.Now()
	if _, err := Unpickle(data, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	withGlobal := append(append([]byte("\x80\x02ccollections\nOrderedDict\n"), data[3:len(data)-1]...), '.')
	if _, err := Unpickle(withGlobal, nil); err == nil || !strings.Contains(err.Error(), "[0][0][0]") {
		t.Errorf("global at the bottom of the shared tuples: %v", err)
	}
}
