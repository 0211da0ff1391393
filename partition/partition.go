// Package partition holds the types of sharded work: a Shard (the i-th
// of n) and Parts, the content of a partitioned dataset (Kedro's
// PartitionedDataset idea: a folder with one file per partition, each
// stored in an ordinary format, loaded on demand).
//
// A shardable node reads its Shard as a parameter ("params:shard", set
// by `run --shard i/n`), processes the i-th of n slices of its input
// and returns Parts holding that one partition; saving it writes one
// file beside the other shards' files. A merge node reads all Parts and
// builds the whole result. The catalog format is "partitioned"
// (catalog/formats); exports fan a node tagged Tag out over n tasks.
package partition

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Tag marks a shardable node (the exports read it).
const Tag = "shardable"

// Shard is the Index-th (from 0) of Count slices of a node's work. The
// zero value, like {0, 1}, is the whole work.
type Shard struct {
	Index int `yaml:"index" json:"index"`
	Count int `yaml:"count" json:"count"`
}

// Parse reads "i/n" (0 <= i < n).
func Parse(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want i/n, e.g. 0/4", s)
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(i))
	b, err2 := strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want i/n with whole numbers, e.g. 0/4", s)
	}
	sh := Shard{Index: a, Count: b}
	if b < 1 {
		return Shard{}, fmt.Errorf("shard %q: n must be at least 1", s)
	}
	return sh, sh.Validate()
}

// Validate checks 0 <= Index < Count (a zero Count means 1).
func (s Shard) Validate() error {
	n := s.count()
	if s.Count < 0 || s.Index < 0 || s.Index >= n {
		return fmt.Errorf("shard %d/%d: want 0 <= i < n", s.Index, s.Count)
	}
	return nil
}

func (s Shard) count() int { return max(s.Count, 1) }

// String is "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.count()) }

// Range is the shard's contiguous slice [lo, hi) of n items: the slices
// of all shards cover 0..n in order, their sizes differing by at most 1.
func (s Shard) Range(n int) (lo, hi int) {
	c := s.count()
	return s.Index * n / c, (s.Index + 1) * n / c
}

// ID names the shard's partition: "part-00002-of-00004". IDs sort in
// shard order.
func (s Shard) ID() string { return fmt.Sprintf("part-%05d-of-%05d", s.Index, s.count()) }

// ParseID reads a partition ID written by ID.
func ParseID(id string) (Shard, bool) {
	var s Shard
	if _, err := fmt.Sscanf(id, "part-%05d-of-%05d", &s.Index, &s.Count); err != nil || s.ID() != id || s.Validate() != nil {
		return Shard{}, false
	}
	return s, true
}

// Complete checks that ids are exactly the partitions of one sharding
// (0/n … n-1/n) and returns n; the error names what is missing or mixed.
func Complete(ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, fmt.Errorf("no partitions: run the shardable node first")
	}
	counts := map[int]bool{}
	have := map[int]bool{}
	for _, id := range ids {
		s, ok := ParseID(id)
		if !ok {
			return 0, fmt.Errorf("partition %q is not named part-<i>-of-<n>", id)
		}
		counts[s.Count] = true
		have[s.Index] = true
	}
	if len(counts) > 1 {
		var cs []int
		for c := range counts {
			cs = append(cs, c)
		}
		sort.Ints(cs)
		return 0, fmt.Errorf("partitions of %d different shardings (%v shards): delete the partitions folder and run the shards again", len(cs), cs)
	}
	var n int
	for c := range counts {
		n = c
	}
	var missing []string
	for i := range n {
		if !have[i] {
			missing = append(missing, Shard{Index: i, Count: n}.String())
		}
	}
	if len(missing) > 0 {
		return 0, fmt.Errorf("%d of %d shards are missing: run --shard %s", len(missing), n, strings.Join(missing, ", --shard "))
	}
	return n, nil
}

// Parts is the content of a partitioned dataset: partition ID → value.
// Built by a node with Of (values in memory) or by the catalog (values
// loaded on demand from their files).
type Parts[T any] struct {
	ids  []string
	vals map[string]T
	meta map[string]map[string]any
	load func(ctx context.Context, id string) (any, error)
}

// Of returns parts holding vals; meta (may be nil) is saved beside each
// partition as small JSON (<id>.meta.json) and read back by Meta.
func Of[T any](vals map[string]T, meta map[string]map[string]any) Parts[T] {
	p := Parts[T]{vals: vals, meta: meta}
	for id := range vals {
		p.ids = append(p.ids, id)
	}
	sort.Strings(p.ids)
	return p
}

// IDs lists the partitions, sorted.
func (p Parts[T]) IDs() []string { return append([]string(nil), p.ids...) }

// Len is the number of partitions.
func (p Parts[T]) Len() int { return len(p.ids) }

// Get returns one partition's value, loading it when needed.
func (p Parts[T]) Get(ctx context.Context, id string) (T, error) {
	var zero T
	if v, ok := p.vals[id]; ok {
		return v, nil
	}
	if p.load == nil || !p.has(id) {
		return zero, fmt.Errorf("no partition %q", id)
	}
	v, err := p.load(ctx, id)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("partition %q loaded as %T, want %v", id, v, reflect.TypeFor[T]())
	}
	return t, nil
}

func (p Parts[T]) has(id string) bool {
	i := sort.SearchStrings(p.ids, id)
	return i < len(p.ids) && p.ids[i] == id
}

// Meta is a partition's metadata (nil when none).
func (p Parts[T]) Meta(id string) map[string]any { return p.meta[id] }

// Elem is T, for the catalog format.
func (p Parts[T]) Elem() reflect.Type { return reflect.TypeFor[T]() }

// Value is Get without the type, for the catalog format.
func (p Parts[T]) Value(ctx context.Context, id string) (any, error) { return p.Get(ctx, id) }

// Bind makes p the parts stored under ids, loaded by load; for the
// catalog format.
func (p *Parts[T]) Bind(ids []string, meta map[string]map[string]any, load func(ctx context.Context, id string) (any, error)) {
	p.ids = append([]string(nil), ids...)
	sort.Strings(p.ids)
	p.meta, p.load, p.vals = meta, load, nil
}

// Erased is Parts[T] for any T, as the catalog format sees it.
type Erased interface {
	Elem() reflect.Type
	IDs() []string
	Value(ctx context.Context, id string) (any, error)
	Meta(id string) map[string]any
}

// Binder is *Parts[T] for any T.
type Binder interface {
	Erased
	Bind(ids []string, meta map[string]map[string]any, load func(ctx context.Context, id string) (any, error))
}
