package pipelines

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/flow"
)

// copyConf copies conf/base into a scratch conf source and writes the
// given local catalog overrides.
func copyConf(t *testing.T, localCatalog string) string {
	t.Helper()
	conf := t.TempDir()
	for _, env := range []string{"base", "local"} {
		os.MkdirAll(filepath.Join(conf, env), 0o755)
	}
	files, err := filepath.Glob(filepath.Join("..", "conf", "base", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no conf/base files: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(conf, "base", filepath.Base(f)), b, 0o644)
	}
	if localCatalog != "" {
		os.WriteFile(filepath.Join(conf, "local", "catalog.yml"), []byte(localCatalog), 0o644)
	}
	return conf
}

// TestTrainingPipelinesValidate builds every training, validation and
// inference pipeline and checks it against the committed configuration:
// datasets resolve to formats that hold their types and every parameter
// subtree decodes strictly.
func TestTrainingPipelinesValidate(t *testing.T) {
	cfg, err := config.Load(config.Options{ConfSource: copyConf(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	for name, build := range map[string]func() *flow.Pipeline{
		"vilbert_lmdb_train": ViLBERTLMDBTrain, "vilbert_precomputed_train": ViLBERTPrecomputedTrain,
		"text_only_baseline": TextOnlyBaseline, "image_only_baseline": ImageOnlyBaseline,
		"vilbert_validate": ViLBERTValidate, "vilbert_inference": ViLBERTInference,
		"vilbert_inference_local": ViLBERTInferenceLocal, "synthetic_train": SyntheticTrain,
		"synthetic_baselines": SyntheticBaselines, "default": Default,
	} {
		t.Run(name, func(t *testing.T) {
			p := build()
			if err := p.Err(); err != nil {
				t.Fatal(err)
			}
			if err := flow.Check(p, cat); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDefaultThenValidateAndInference runs the embedded default end to
// end on a shrunken synthetic set and a tiny ViLBERT, then scores and
// predicts with the checkpoint it wrote through vilbert_validate and
// vilbert_inference (their inputs pointed at the synthetic set).
func TestDefaultThenValidateAndInference(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	const out = "data/05_model_output/vilbert_synthetic_train/"
	local := `
raw_memes:
  type: meme_folder
  filepath: data/01_raw/synthetic_memes
mmf_detectron_lmdb:
  type: region_features
  filepath: data/03_features/synthetic/detectron.lmdb
vilbert_validate.model:
  type: model_checkpoint
  filepath: ` + out + `vilbert_best.safetensors
vilbert_inference.model:
  type: model_checkpoint
  filepath: ` + out + `vilbert_best.safetensors
`
	const p = "vilbert_synthetic_train.train."
	cfg, err := config.Load(config.Options{ConfSource: copyConf(t, local), RuntimeParams: map[string]any{
		"synthetic.splits": []any{
			map[string]any{"name": "train", "memes": int64(48), "labelled": true},
			map[string]any{"name": "dev_seen", "memes": int64(16), "labelled": true},
			map[string]any{"name": "test_seen", "memes": int64(16), "labelled": true},
			map[string]any{"name": "test_unseen", "memes": int64(8), "labelled": false},
		},
		"synthetic.detector.dim":                         int64(16),
		p + "model.vilbert.v_feature_size":               int64(16),
		p + "loop.epochs":                                int64(2),
		"vilbert_validate.evaluate.data.max_features":    int64(8),
		"vilbert_validate.evaluate.data.max_seq_length":  int64(16),
		"vilbert_validate.evaluate.split":                "test_seen",
		"vilbert_inference.evaluate.data.max_features":   int64(8),
		"vilbert_inference.evaluate.data.max_seq_length": int64(16),
		"inference_split":                                "test_unseen",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*flow.Pipeline{Default(), ViLBERTValidate(), ViLBERTInference()} {
		if err := flow.Check(p, cat); err != nil {
			t.Fatal(err)
		}
		if _, err := flow.Run(context.Background(), p, cat, flow.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"vilbert_best.safetensors", "vilbert_best.json", "training_history.json", "roc_curve.png", "training_curves.png", "training_state/CURRENT"} {
		if _, err := os.Stat(out + f); err != nil {
			t.Error(err)
		}
	}
	var test, val map[string]float64
	readJSON(t, out+"test_metrics.json", &test)
	readJSON(t, "data/05_model_output/vilbert_validate/metrics.json", &val)
	for _, m := range []map[string]float64{test, val} {
		for _, k := range []string{"auroc", "accuracy", "f1", "loss"} {
			if _, ok := m[k]; !ok || len(m) != 4 {
				t.Errorf("metrics %v: want exactly auroc, accuracy, f1, loss", m)
			}
		}
	}
	// The default evaluates test_seen, and vilbert_validate was pointed at
	// test_seen too: the same checkpoint must give the same numbers.
	if test["auroc"] != val["auroc"] || test["loss"] != val["loss"] {
		t.Errorf("test metrics %v, validate on the same split %v", test, val)
	}
	for _, f := range []string{out + "submission_test_seen.csv", "data/05_model_output/vilbert_inference/submission_test_unseen.csv"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if lines[0] != "id,proba,label" || len(lines) < 2 {
			t.Errorf("%s starts %q with %d lines", f, lines[0], len(lines))
		}
	}
	var rep struct {
		Split    string `json:"split"`
		Memes    int    `json:"memes"`
		Labelled bool   `json:"labelled"`
	}
	readJSON(t, "data/05_model_output/vilbert_inference/inference_report.json", &rep)
	if rep.Split != "test_unseen" || rep.Labelled || rep.Memes != 8 {
		t.Errorf("inference report %+v, want 8 unlabelled test_unseen memes", rep)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
