package nodes

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/internal/mmfcase"
	"mmc/memes"
	"mmc/ml/metrics"
	"mmc/ml/models"
	"mmc/ml/text"
	"mmc/ml/train"
	"mmc/ml/vilbert"
)

// MMF fixture paths, relative to the nodes package.
const (
	mmfCheckpoint = "testdata/mmf_tiny_finetuned.pth"
	mmfConfig     = "testdata/mmf_tiny_config.json"
)

func readMMFCase(t *testing.T) (mmfcase.Case, mapFeatures) {
	t.Helper()
	c, err := mmfcase.Read()
	if err != nil {
		t.Fatal(err)
	}
	feats := mapFeatures{}
	for _, r := range c.FeatureRecords() {
		feats[r.ID] = r
	}
	return c, feats
}

// loadMMFCheckpoint opens the fixture through the model_checkpoint
// catalog format, as a catalog entry with load_args.vilbert_config would.
func loadMMFCheckpoint(t *testing.T) models.Trained {
	t.Helper()
	conf := config.NewTree()
	conf.Set("model", map[string]any{
		"type": "model_checkpoint", "filepath": mmfCheckpoint,
		"load_args": map[string]any{"vilbert_config": mmfConfig},
	}, config.Pos{})
	cat, err := catalog.New(conf, nil, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cat.Load(context.Background(), "model", reflect.TypeFor[models.Trained]())
	if err != nil {
		t.Fatal(err)
	}
	return v.(models.Trained)
}

// TestMMFCheckpointMatchesTorch predicts with an MMF fine-tuned PyTorch
// checkpoint (model.bert.* + model.classifier.*, beside a pickled
// argparse config and Adam state) and compares with torch's logits.
func TestMMFCheckpointMatchesTorch(t *testing.T) {
	c, feats := readMMFCase(t)
	// The fixture built its inputs from these ids; the Go tokenizer must
	// produce them, or the comparison below would test nothing.
	for i, m := range c.Memes {
		e, err := text.Default().Encode(m.Text, c.MaxSeqLength)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e.IDs, c.InputIDs[i]) {
			t.Fatalf("meme %s %q: Go token ids %v, fixture %v", m.ID, m.Text, e.IDs, c.InputIDs[i])
		}
	}
	tm := loadMMFCheckpoint(t)
	mp, err := tm.Params()
	if err != nil {
		t.Fatal(err)
	}
	if mp.Kind != models.KindViLBERT || mp.ViLBERT.HiddenSize != 16 || mp.FeatDim != c.Records[0].Dim {
		t.Fatalf("checkpoint described as %+v", mp)
	}
	ep := EvalParams{Split: "test_unseen", Data: DataParams{MaxSeqLength: c.MaxSeqLength, MaxFeatures: c.MaxFeatures}, BatchSize: 3, Workers: 2}
	folder := memes.Folder{Root: "testdata", Splits: []memes.Split{{Name: "test_unseen", Memes: c.Memes}}}
	pr, err := PredictFolder(context.Background(), ep, tm, folder, feats)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.IDs) != len(c.Memes) {
		t.Fatalf("%d predictions for %d memes", len(pr.IDs), len(c.Memes))
	}
	for i, id := range pr.IDs {
		if id != string(c.Memes[i].ID) {
			t.Fatalf("prediction %d is meme %s, want %s", i, id, c.Memes[i].ID)
		}
		for k := range 2 {
			if got, want := float64(pr.Logits[2*i+k]), c.Logits[i][k]; math.Abs(got-want) > 1e-4*max(1, math.Abs(want)) {
				t.Errorf("meme %s logit %d: %.6f, torch %.6f", id, k, got, want)
			}
		}
		p := metrics.ProbHateful(float64(pr.Logits[2*i]), float64(pr.Logits[2*i+1]))
		if math.Abs(p-c.Proba[i]) > 1e-4 {
			t.Errorf("meme %s P(hateful) %.6f, torch %.6f", id, p, c.Proba[i])
		}
	}
}

// TestMMFCheckpointErrors checks that a PyTorch checkpoint that does not
// fit the configured architecture fails naming a tensor, and that an
// absent checkpoint or configuration fails naming its path.
func TestMMFCheckpointErrors(t *testing.T) {
	c, feats := readMMFCase(t)
	ep := EvalParams{Data: DataParams{MaxSeqLength: c.MaxSeqLength, MaxFeatures: c.MaxFeatures}, BatchSize: 4}
	ctx := context.Background()

	// A configuration that does not fit the checkpoint (a wider text
	// stream) is caught when the weights are loaded, naming a tensor.
	b, err := os.ReadFile(mmfConfig)
	if err != nil {
		t.Fatal(err)
	}
	wide := filepath.Join(t.TempDir(), "wide.json")
	if err := os.WriteFile(wide, []byte(strings.Replace(string(b), `"hidden_size": 16`, `"hidden_size": 32`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	d := checkpointDataset(t, mmfCheckpoint, wide)
	v, err := d.Load(ctx, reflect.TypeFor[models.Trained]())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PredictSplit(ctx, ep, v.(models.Trained), c.Memes, feats); err == nil || !strings.Contains(err.Error(), "bert.") {
		t.Errorf("hidden_size 32 over a checkpoint of 16: %v; want an error naming the tensor", err)
	}

	missing := filepath.Join(t.TempDir(), "mmf_final.pth")
	_, err = checkpointDataset(t, missing, "").Load(ctx, reflect.TypeFor[models.Trained]())
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "training pipeline") {
		t.Errorf("missing checkpoint: %v; want the path and what writes it", err)
	}
	if err := d.Save(ctx, v); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("saving over a .pth: %v; want a read-only error", err)
	}

	d = checkpointDataset(t, mmfCheckpoint, filepath.Join(t.TempDir(), "nope.json"))
	if _, err := d.Load(ctx, reflect.TypeFor[models.Trained]()); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("missing vilbert_config: %v; want its path", err)
	}
}

// TestInitWeightsFromMMFCheckpoint starts training from the MMF
// checkpoint (init_weights): the encoder comes from the file and the
// classifier stays freshly initialised; a missing file trains from
// scratch with a message naming the path and what provides it, and a
// file of another architecture is an error naming it.
func TestInitWeightsFromMMFCheckpoint(t *testing.T) {
	cfg, err := vilbert.LoadConfigJSON(mmfConfig)
	if err != nil {
		t.Fatal(err)
	}
	mp := models.Params{Kind: models.KindViLBERT, ViLBERT: models.ViLBERTParams{Config: cfg}, FeatDim: cfg.VFeatureSize, InitWeights: mmfCheckpoint}
	build := func(mp models.Params) train.Model {
		m, err := models.Build(mp, 3)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := build(mp)
	fresh := train.Snapshot(m)
	msg, err := models.Initialise(m, mp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, mmfCheckpoint) || !strings.Contains(msg, "0 missing") {
		t.Errorf("report %q: want the path and no missing tensor", msg)
	}
	ref := loadMMFCheckpoint(t).Weights
	for _, p := range m.Params() {
		got := p.Tensor.Data
		switch {
		case strings.HasPrefix(p.Name, "classifier."):
			if !reflect.DeepEqual(got, fresh[p.Name].Data) {
				t.Errorf("%s changed: init_weights must leave the classifier as initialised", p.Name)
			}
		case !reflect.DeepEqual(got, ref["model."+p.Name].Data):
			t.Errorf("%s differs from the checkpoint's model.%s", p.Name, p.Name)
		}
	}

	missing := mp
	missing.InitWeights = filepath.Join(t.TempDir(), "vilbert_pretrained_cc.bin")
	msg, err = models.Initialise(build(missing), missing)
	if err == nil || !strings.Contains(err.Error(), missing.InitWeights) || !strings.Contains(err.Error(), "init_weights: none") || !strings.Contains(err.Error(), "vilbert_pretrain") {
		t.Errorf("missing init_weights: %q, %v; want an error naming the path, its sources and init_weights: none (issue 15)", msg, err)
	}

	wide := mp
	wide.ViLBERT.HiddenSize = 32
	if _, err := models.Initialise(build(wide), wide); err == nil || !strings.Contains(err.Error(), mmfCheckpoint) {
		t.Errorf("init_weights of another size: %v; want an error naming %s", err, mmfCheckpoint)
	}
}

// checkpointDataset is a model_checkpoint dataset at path, with
// load_args.vilbert_config set when cfg is not empty.
func checkpointDataset(t *testing.T, path, cfg string) catalog.Dataset {
	t.Helper()
	spec := catalog.Spec{Name: "model", Type: "model_checkpoint", Filepath: path, Conf: config.NewTree(), Key: "model"}
	if cfg != "" {
		spec.LoadArgs = map[string]any{"vilbert_config": cfg}
	}
	d, err := formats.ModelCheckpoint().New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
