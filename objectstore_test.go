package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"mmc/catalog/formats"
	"mmc/cli"
)

// TestPipelineRunsOnObjectStorage moves every dataset of the
// configuration into a bucket of an S3-protocol server started here on
// 127.0.0.1 (gofakes3, the real protocol over HTTP, not a client mock)
// and runs synthetic_memes and then vilbert_lmdb_train under
// --env=demo: the raw memes, the LMDB feature store and the checkpoint
// are written to and read from the bucket (and then a sharded feature
// extraction whose partitions live there too), and nothing of them lands on
// the local disk but the object cache.
func TestPipelineRunsOnObjectStorage(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("mmc"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()

	conf := smallSyntheticConf(t, 24, 16)
	// Every catalog filepath under data/ moves into the bucket.
	fp := regexp.MustCompile(`(?m)^(\s+)filepath: data/(\S+)\s*$`)
	err := filepath.WalkDir(conf, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "catalog") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(p, fp.ReplaceAll(b, []byte("${1}filepath: s3://mmc/data/${2}\n${1}credentials: fake_s3")), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	creds := fmt.Sprintf("fake_s3:\n  key: test-key\n  secret: ${env:MMC_TEST_S3_SECRET}\n  endpoint_url: %s\n  region: us-east-1\n", srv.URL)
	if err := os.WriteFile(filepath.Join(conf, "demo", "credentials.yml"), []byte(creds), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MMC_TEST_S3_SECRET", "test-secret")
	cache := t.TempDir()
	t.Setenv("MMC_CACHE_DIR", cache)
	work := t.TempDir()
	t.Chdir(work)

	r := newRegistry()
	for _, args := range [][]string{
		{"run", "--env=demo", "--conf-source", conf, "--pipeline=synthetic_memes"},
		{"run", "--env=demo", "--conf-source", conf, "--pipeline=vilbert_lmdb_train", "--params",
			"vilbert_lmdb_train.train.model.vilbert.v_feature_size=16,vilbert_lmdb_train.train.loop.epochs=1"},
		// Sharded extraction with its partitions in the bucket: each
		// shard's save adds one partition beside the other's.
		{"run", "--env=demo", "--conf-source", conf, "--pipeline=extract_features_sharded", "--nodes=extract_feature_shard", "--shard=0/2"},
		{"run", "--env=demo", "--conf-source", conf, "--pipeline=extract_features_sharded", "--nodes=extract_feature_shard", "--shard=1/2"},
		{"run", "--env=demo", "--conf-source", conf, "--pipeline=extract_features_sharded", "--nodes=merge_feature_parts"},
	} {
		var out, errb bytes.Buffer
		app := &cli.App{Registry: r, Formats: formats.All(), Stdout: &out, Stderr: &errb}
		if rc := app.Main(context.Background(), args); rc != 0 {
			t.Fatalf("%v: exit %d:\n%s", args, rc, errb.String())
		}
	}

	objs, err := backend.ListBucket("mmc", nil, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs.Contents {
		keys = append(keys, o.Key)
	}
	for _, want := range []string{
		"data/01_raw/synthetic_memes/train.jsonl",
		"data/03_features/synthetic/detectron.lmdb/data.mdb",
		"data/05_model_output/vilbert_lmdb_train/vilbert_best.safetensors",
		"data/05_model_output/vilbert_lmdb_train/vilbert_best.json",
		"data/05_model_output/vilbert_lmdb_train/test_metrics.json",
		"data/05_model_output/vilbert_lmdb_train/submission_test_seen.csv",
		"data/03_features/extracted/parts/part-00000-of-00002.h5",
		"data/03_features/extracted/parts/part-00001-of-00002.meta.json",
		"data/03_features/extracted/region_features.h5",
	} {
		if !slices.Contains(keys, want) {
			t.Errorf("bucket lacks %s", want)
		}
	}
	for _, k := range keys {
		if strings.Contains(k, ".mmc-upload-") {
			t.Errorf("temporary upload key left in the bucket: %s", k)
		}
	}
	// Locally only the training state (a parameter path, not a dataset).
	filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "training_state") {
			t.Errorf("local file written outside the object cache: %s", p)
		}
		return nil
	})
	t.Logf("%d objects in the bucket", len(keys))
}
