package partition

import (
	"context"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    Shard
		wantErr bool
	}{
		{"0/4", Shard{0, 4}, false},
		{" 3 / 4", Shard{3, 4}, false},
		{"4/4", Shard{}, true},
		{"-1/4", Shard{}, true},
		{"1/0", Shard{}, true},
		{"1", Shard{}, true},
		{"a/b", Shard{}, true},
	} {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("Parse(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// TestRangeCoversInOrder: the shards' slices tile 0..n in order.
func TestRangeCoversInOrder(t *testing.T) {
	for _, n := range []int{0, 1, 5, 10, 101} {
		for _, c := range []int{1, 2, 3, 7} {
			next := 0
			for i := range c {
				lo, hi := Shard{i, c}.Range(n)
				if lo != next || hi < lo || hi-lo > n/c+1 {
					t.Fatalf("n=%d c=%d shard %d: [%d,%d) after %d", n, c, i, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("n=%d c=%d: shards end at %d", n, c, next)
			}
		}
	}
	if lo, hi := (Shard{}).Range(9); lo != 0 || hi != 9 {
		t.Errorf("zero shard covers [%d,%d), want all", lo, hi)
	}
}

func TestIDsAndComplete(t *testing.T) {
	s := Shard{2, 12}
	if id := s.ID(); id != "part-00002-of-00012" {
		t.Fatalf("ID = %s", id)
	}
	if got, ok := ParseID(s.ID()); !ok || got != s {
		t.Errorf("ParseID(%s) = %v %v", s.ID(), got, ok)
	}
	for _, bad := range []string{"part-2-of-12", "part-00012-of-00012", "x"} {
		if _, ok := ParseID(bad); ok {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
	ids := func(ss ...Shard) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID())
		}
		return out
	}
	if n, err := Complete(ids(Shard{0, 3}, Shard{1, 3}, Shard{2, 3})); n != 3 || err != nil {
		t.Errorf("complete set: %d %v", n, err)
	}
	for _, tt := range []struct {
		ids  []string
		want string
	}{
		{nil, "no partitions"},
		{ids(Shard{0, 3}, Shard{2, 3}), "run --shard 1/3"},
		{ids(Shard{0, 1}, Shard{0, 2}, Shard{1, 2}), "different shardings"},
		{[]string{"extra"}, `"extra" is not named`},
	} {
		if _, err := Complete(tt.ids); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Complete(%v) = %v, want %q", tt.ids, err, tt.want)
		}
	}
}

func TestPartsLoadOnDemand(t *testing.T) {
	p := Of(map[string]int{"b": 2, "a": 1}, map[string]map[string]any{"a": {"k": "v"}})
	if ids := p.IDs(); len(ids) != 2 || ids[0] != "a" {
		t.Fatalf("IDs = %v", ids)
	}
	if v, err := p.Get(context.Background(), "b"); v != 2 || err != nil {
		t.Errorf("Get(b) = %v %v", v, err)
	}
	loads := 0
	var q Parts[int]
	q.Bind([]string{"y", "x"}, nil, func(_ context.Context, id string) (any, error) { loads++; return len(id) * 10, nil })
	if q.Len() != 2 || loads != 0 {
		t.Fatalf("bound parts: len %d, %d loads before any Get", q.Len(), loads)
	}
	if v, _ := q.Get(context.Background(), "x"); v != 10 || loads != 1 {
		t.Errorf("Get(x) = %d after %d loads", v, loads)
	}
	if _, err := q.Get(context.Background(), "z"); err == nil {
		t.Error("Get of a missing partition succeeded")
	}
	var _ Binder = &q
}

// FuzzParse: --shard values come from the command line; Parse never
// panics, and what it accepts is valid and prints back the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0/1", "3/4", "4/4", "-1/2", "1/0", "a/b", "99999999999999999999/1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := Parse(s)
		if err != nil {
			return
		}
		if sh.Validate() != nil {
			t.Fatalf("Parse(%q) = %v, which is not valid", s, sh)
		}
		if back, err := Parse(sh.String()); err != nil || back != sh {
			t.Fatalf("Parse(%q) = %v, but its String %q parses to %v, %v", s, sh, sh.String(), back, err)
		}
		if got, ok := ParseID(sh.ID()); sh.Count < 100000 && (!ok || got != sh) {
			t.Fatalf("ParseID(ID(%v)) = %v %v", sh, got, ok)
		}
	})
}
