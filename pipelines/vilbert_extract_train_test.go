package pipelines

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/flow"
)

// visionPipelines are the six image → features → ViLBERT pipelines.
var visionPipelines = map[string]func() *flow.Pipeline{
	"vilbert_resnet152_grid_train":    ViLBERTResNet152GridTrain,
	"vilbert_resnet152_roi_train":     ViLBERTResNet152RoITrain,
	"vilbert_resnet_vg_train":         ViLBERTResNetVGTrain,
	"vilbert_dinov2_train":            ViLBERTDINOv2Train,
	"vilbert_dinov2_multilayer_train": ViLBERTDINOv2MultilayerTrain,
	"vilbert_train":                   ViLBERTTrain,
}

// confRoot is the repository's conf folder, as an absolute path (tests
// change directory).
var confRoot, _ = filepath.Abs(filepath.Join("..", "conf"))

// copyEnvConf copies conf/base and conf/<env> into a scratch conf source.
func copyEnvConf(t *testing.T, env string) string {
	t.Helper()
	conf := t.TempDir()
	for _, e := range []string{"base", env} {
		if err := os.CopyFS(filepath.Join(conf, e), os.DirFS(filepath.Join(confRoot, e))); err != nil {
			t.Fatal(err)
		}
	}
	return conf
}

func visionCatalog(t *testing.T, env string, params map[string]any) *catalog.Catalog {
	t.Helper()
	cfg, err := config.Load(config.Options{ConfSource: copyEnvConf(t, env), Env: env, RuntimeParams: params})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestVisionPipelinesValidate checks the six pipelines against conf/base
// and conf/demo: datasets resolve to formats holding their types, every
// parameter subtree decodes strictly.
func TestVisionPipelinesValidate(t *testing.T) {
	for _, env := range []string{"local", "demo"} {
		cat := visionCatalog(t, env, nil)
		for name, build := range visionPipelines {
			p := build()
			if err := p.Err(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := flow.Check(p, cat); err != nil {
				t.Errorf("%s (%s): %v", name, env, err)
			}
		}
	}
}

// TestVisionPipelinesRunUnderDemo runs each of the six pipelines with
// --env=demo on a shrunken synthetic set (random demo backbones, one
// epoch) and checks each writes its test metrics; then that a second
// run finds the feature store and extracts nothing, and that a store
// made with other extractor parameters is an error naming them.
func TestVisionPipelinesRunUnderDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("extracts and trains six times")
	}
	params := map[string]any{
		"synthetic.splits": []any{
			map[string]any{"name": "train", "memes": int64(32), "labelled": true},
			map[string]any{"name": "dev_seen", "memes": int64(16), "labelled": true},
			map[string]any{"name": "test_seen", "memes": int64(16), "labelled": true},
		},
	}
	for name := range visionPipelines {
		params[name+".train.loop.epochs"] = int64(1)
	}
	cat := visionCatalog(t, "demo", params)
	params["vilbert_train.extract_features.resnet152_grid.grid_size"] = int64(3)
	other := visionCatalog(t, "demo", params)
	t.Chdir(t.TempDir())
	ctx := context.Background()
	if _, err := flow.Run(ctx, SyntheticMemes(), cat, flow.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"vilbert_resnet152_grid_train", "vilbert_resnet152_roi_train", "vilbert_resnet_vg_train",
		"vilbert_dinov2_train", "vilbert_dinov2_multilayer_train", "vilbert_train"} {
		if _, err := flow.Run(ctx, visionPipelines[name](), cat, flow.RunOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var m map[string]float64
		readJSON(t, "data/05_model_output/"+name+"/test_metrics.json", &m)
		if _, ok := m["auroc"]; !ok {
			t.Errorf("%s: test metrics %v without auroc", name, m)
		}
	}

	// vilbert_train shares vilbert_resnet152_grid_train's store: running
	// it again extracts nothing and leaves the store as it was.
	store := "data/03_features/synthetic/resnet152_grid.h5"
	before, err := os.Stat(store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flow.Run(ctx, ViLBERTTrain(), cat, flow.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(store)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("second run rewrote %s; want the store found and extraction skipped", store)
	}

	// vilbert_inference_local with the DINOv2 checkpoint and no region
	// store: it runs the checkpoint's extractor (the same random demo
	// backbone) on the image and gives the probability the test split's
	// submission has for that meme.
	const ckpt = "data/05_model_output/vilbert_dinov2_train/vilbert_best"
	const dst = "data/05_model_output/vilbert_lmdb_train/vilbert_best"
	os.MkdirAll(filepath.Dir(dst), 0o755)
	for _, ext := range []string{".safetensors", ".json"} {
		b, err := os.ReadFile(ckpt + ext)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(dst+ext, b, 0o644)
	}
	os.RemoveAll("data/03_features/synthetic/detectron.lmdb")
	var meme struct {
		ID   json.Number `json:"id"`
		Img  string      `json:"img"`
		Text string      `json:"text"`
	}
	line, _, _ := strings.Cut(string(mustRead(t, "data/01_raw/synthetic_memes/test_seen.jsonl")), "\n")
	if err := json.Unmarshal([]byte(line), &meme); err != nil {
		t.Fatal(err)
	}
	params["inference_local.image"] = "data/01_raw/synthetic_memes/" + meme.Img
	params["inference_local.text"] = meme.Text
	delete(params, "vilbert_train.extract_features.resnet152_grid.grid_size")
	local := visionCatalog(t, "demo", params)
	if _, err := flow.Run(ctx, ViLBERTInferenceLocal(), local, flow.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	var pred struct{ Proba float64 }
	readJSON(t, "data/05_model_output/vilbert_inference_local/prediction.json", &pred)
	want := ""
	for _, row := range strings.Split(string(mustRead(t, "data/05_model_output/vilbert_dinov2_train/submission_test_seen.csv")), "\n") {
		if id, p, ok := strings.Cut(row, ","); ok && id == meme.ID.String() {
			want, _, _ = strings.Cut(p, ",")
		}
	}
	if w, err := strconv.ParseFloat(want, 64); err != nil || math.Abs(w-pred.Proba) > 1e-6 {
		t.Errorf("inference_local on meme %s: proba %v, the test submission says %q", meme.ID, pred.Proba, want)
	}
	t.Logf("inference_local on meme %s: proba %v, submission %s", meme.ID, pred.Proba, want)

	// Other extractor parameters, same store: an error naming them.
	_, err = flow.Run(ctx, ViLBERTTrain(), other, flow.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "other parameters") || !strings.Contains(err.Error(), "grid_size") || !strings.Contains(err.Error(), store) {
		t.Errorf("store of other parameters: %v; want an error naming the store and grid_size", err)
	}
	// The same when the runner skips the extraction node because its
	// output exists (--only-missing-outputs): training checks the store.
	os.RemoveAll("data/05_model_output/vilbert_train")
	_, err = flow.Run(ctx, ViLBERTTrain(), other, flow.RunOptions{OnlyMissingOutputs: true})
	if err == nil || !strings.Contains(err.Error(), "other parameters") || !strings.Contains(err.Error(), `"grid_size":3`) || !strings.Contains(err.Error(), store) {
		t.Errorf("--only-missing-outputs, store of other parameters: %v; want an error naming the store and grid_size", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
