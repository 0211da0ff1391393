package pipelines

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/flow"
	"mmc/nodes"
)

// TestSyntheticDefaultRuns runs the generator and the data report end to
// end with the committed configuration (sizes shrunk through runtime
// parameters), in a scratch directory, on the parallel runner.
func TestSyntheticDefaultRuns(t *testing.T) {
	conf := t.TempDir()
	os.MkdirAll(filepath.Join(conf, "base"), 0o755)
	for _, f := range []string{"parameters_synthetic.yml", "catalog_synthetic.yml"} {
		b, err := os.ReadFile(filepath.Join("..", "conf", "base", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(conf, "base", f), b, 0o644)
	}
	cfg, err := config.Load(config.Options{ConfSource: conf, RuntimeParams: map[string]any{
		"synthetic.splits":       []any{map[string]any{"name": "train", "memes": int64(16), "labelled": true}, map[string]any{"name": "test_unseen", "memes": int64(8), "labelled": false}},
		"synthetic.detector.dim": int64(32),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	p := flow.Sum(SyntheticMemes(), SyntheticDataProcessing())
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if err := flow.Check(p, cat); err != nil {
		t.Fatal(err)
	}
	if _, err := flow.Run(context.Background(), p, cat, flow.RunOptions{MaxWorkers: 2}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"data/01_raw/synthetic_memes/train.jsonl", "data/01_raw/synthetic_memes/test_unseen.jsonl",
		"data/01_raw/synthetic_memes/train_scenes.json", "data/01_raw/synthetic_memes/synthetic_params.json",
		"data/03_features/synthetic/detectron.lmdb", "data/03_features/synthetic/region_features.h5",
		"data/08_reporting/data_report.json", "data/08_reporting/data_report.png",
	} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	b, err := os.ReadFile("data/08_reporting/data_report.json")
	if err != nil {
		t.Fatal(err)
	}
	var rep nodes.DataReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Totals.Memes != 24 || rep.Totals.UniqueImages != 24 {
		t.Errorf("report: ok %v, %d memes, %d images", rep.OK, rep.Totals.Memes, rep.Totals.UniqueImages)
	}
	for _, name := range []string{"synthetic_detectron_lmdb", "synthetic_features_h5"} {
		rs, err := catalog.Load(context.Background(), cat, SyntheticDetectronLMDB)
		if name == "synthetic_features_h5" {
			rs, err = catalog.Load(context.Background(), cat, SyntheticFeaturesH5)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rs.Len() != 24 {
			t.Errorf("%s holds %d records, want 24", name, rs.Len())
		}
	}
}
