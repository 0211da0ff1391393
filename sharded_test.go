package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/catalog/formats"
	"mmc/cli"
	"mmc/export"
	"mmc/features/h5store"
	"mmc/partition"
)

// TestShardedExtractionEqualsUnsharded extracts the synthetic set's
// features once with extract_features and once in three shards of
// extract_features_sharded (each `run --shard i/3 --nodes
// extract_feature_shard`, as the tasks of an export do), merged by
// merge_feature_parts: the two stores hold the same records in the same
// order with the same width and provenance. A merge with a shard
// missing names it.
func TestShardedExtractionEqualsUnsharded(t *testing.T) {
	if export.ShardableTag != partition.Tag {
		t.Fatalf("export fans out nodes tagged %q, but shardable nodes are tagged %q", export.ShardableTag, partition.Tag)
	}
	conf := smallSyntheticConf(t, 24, 16)
	t.Chdir(t.TempDir())
	r := newRegistry()
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		app := &cli.App{Registry: r, Formats: formats.All(), Stdout: &out, Stderr: &errb}
		rc := app.Main(context.Background(), append([]string{"run", "--env=demo", "--conf-source", conf}, args...))
		return rc, errb.String()
	}
	mustRun := func(args ...string) {
		t.Helper()
		if rc, msg := run(args...); rc != 0 {
			t.Fatalf("run %v: exit %d\n%s", args, rc, msg)
		}
	}
	mustRun("--pipeline=synthetic_memes")
	mustRun("--pipeline=extract_features")
	store := filepath.Join("data", "03_features", "extracted", "region_features.h5")
	ref := store + ".unsharded"
	if err := os.Rename(store, ref); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if i == 2 {
			rc, msg := run("--pipeline=extract_features_sharded", "--nodes", "merge_feature_parts")
			if rc == 0 || !strings.Contains(msg, "run --shard 2/3") {
				t.Errorf("merge with shard 2/3 missing: exit %d, %s; want the missing shard named", rc, msg)
			}
		}
		mustRun("--pipeline=extract_features_sharded", "--nodes", "extract_feature_shard", "--shard", fmt.Sprintf("%d/3", i))
	}
	mustRun("--pipeline=extract_features_sharded", "--nodes", "merge_feature_parts")
	if rc, msg := run("--pipeline=extract_features", "--shard", "0/2"); rc != 2 || !strings.Contains(msg, "no node of this run is shardable") {
		t.Errorf("--shard on a pipeline without shardable nodes: exit %d, %s", rc, msg)
	}

	a, err := h5store.Open(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := h5store.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !reflect.DeepEqual(a.IDs(), b.IDs()) || a.Regions() != b.Regions() || a.Dim() != b.Dim() || a.Extractor() != b.Extractor() {
		t.Fatalf("stores differ: ids %d vs %d, regions %d vs %d, dim %d vs %d, extractor %q vs %q",
			a.Len(), b.Len(), a.Regions(), b.Regions(), a.Dim(), b.Dim(), a.Extractor(), b.Extractor())
	}
	pa, _ := a.ExtractorParams()
	pb, _ := b.ExtractorParams()
	if !reflect.DeepEqual(pa, pb) {
		t.Errorf("extractor params differ: %v vs %v", pa, pb)
	}
	for _, id := range a.IDs() {
		ra, err1 := a.Get(id)
		rb, err2 := b.Get(id)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !reflect.DeepEqual(ra, rb) {
			t.Fatalf("record %s differs", id)
		}
	}
	ba, _ := os.ReadFile(ref)
	bb, _ := os.ReadFile(store)
	t.Logf("%d records in %d shards; files byte-identical: %v", a.Len(), 3, bytes.Equal(ba, bb))
}
