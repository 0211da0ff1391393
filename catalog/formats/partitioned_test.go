package formats

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/config"
	"mmc/partition"
)

// TestPartitionedShardsAddUp: two saves of one partition each (two
// shards) give a folder that loads as both, with their metadata.
func TestPartitionedShardsAddUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "parts")
	conf, err := config.ParseFile("catalog.yml", []byte("parts:\n  type: partitioned\n  filepath: "+dir+
		"\n  dataset: {type: json, save_args: {indent: 1}}\n  filename_suffix: .json\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.New(conf, nil, catalog.Options{Formats: All()})
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[partition.Parts[[]int]]()
	if err := c.Check("parts", typ); err != nil {
		t.Fatal(err)
	}
	if err := c.Check("parts", reflect.TypeFor[[]int]()); err == nil || !strings.Contains(err.Error(), "partition.Parts") {
		t.Errorf("a plain slice handle: err = %v", err)
	}
	ctx := context.Background()
	if ok, _ := c.Exists("parts"); ok {
		t.Fatal("exists before any shard saved")
	}
	for i := range 2 {
		s := partition.Shard{Index: i, Count: 2}
		v := partition.Of(map[string][]int{s.ID(): {i, i + 10}}, map[string]map[string]any{s.ID(): {"shard": s.String()}})
		if err := c.Save(ctx, "parts", v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Load(ctx, "parts", typ)
	if err != nil {
		t.Fatal(err)
	}
	parts := got.(partition.Parts[[]int])
	if n, err := partition.Complete(parts.IDs()); n != 2 || err != nil {
		t.Fatalf("ids %v: %v", parts.IDs(), err)
	}
	second := partition.Shard{Index: 1, Count: 2}.ID()
	v, err := parts.Get(ctx, second)
	if err != nil || !reflect.DeepEqual(v, []int{1, 11}) {
		t.Errorf("partition %s = %v, %v", second, v, err)
	}
	if m := parts.Meta(second); m["shard"] != "1/2" {
		t.Errorf("metadata %v", m)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("folder holds %d files, want 2 partitions and 2 metadata files", len(entries))
	}
}

func TestPartitionedEntryErrors(t *testing.T) {
	for entry, want := range map[string]string{
		"  dataset: {type: nope}\n":                  `partition type "nope"`,
		"  dataset: json\n  suffix: .json\n":         `unknown key "suffix"`,
		"  dataset: {type: json, save_arg: {}}\n":    "unknown key dataset.save_arg",
		"  dataset: {type: json, save_args: {x: 1}}": "x",
	} {
		conf, err := config.ParseFile("catalog.yml", []byte("parts:\n  type: partitioned\n  filepath: p\n"+entry))
		if err != nil {
			t.Fatal(err)
		}
		c, err := catalog.New(conf, nil, catalog.Options{Formats: All()})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check("parts", reflect.TypeFor[partition.Parts[int]]()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", entry, err, want)
		}
	}
}
