package pipelines

import (
	"context"
	"strings"
	"testing"

	"mmc/catalog"
	"mmc/catalog/formats"
	"mmc/config"
	"mmc/flow"
	"mmc/ml/checkpoint"
	"mmc/ml/vilbert"
	"mmc/nodes"
)

// TestPretrainThenFineTune pretrains the demo ViLBERT on a shrunken
// synthetic set for a few steps, checks that the masked-token loss falls,
// and that vilbert_synthetic_train loads the written checkpoint as
// pretrained weights (encoder loaded, classifier initialised) and trains
// from it.
func TestPretrainThenFineTune(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	const ckpt = "data/06_models/vilbert_pretrained_synthetic.safetensors"
	const pp, tp = "vilbert_pretrain.pretrain.", "vilbert_synthetic_train.train."
	cfg, err := config.Load(config.Options{ConfSource: copyConf(t, ""), RuntimeParams: map[string]any{
		"synthetic.splits": []any{
			map[string]any{"name": "train", "memes": int64(32), "labelled": true},
			map[string]any{"name": "dev_seen", "memes": int64(8), "labelled": true},
			map[string]any{"name": "test_seen", "memes": int64(8), "labelled": true},
			map[string]any{"name": "test_unseen", "memes": int64(4), "labelled": false},
		},
		"synthetic.detector.dim":            int64(16),
		pp + "model.vilbert.v_feature_size": int64(16),
		pp + "steps":                        int64(40),
		pp + "batch_size":                   int64(16),
		pp + "warmup_steps":                 int64(4),
		pp + "lr":                           2.0e-3,
		pp + "mask.token_prob":              0.3,
		pp + "log_every":                    int64(0),
		tp + "model.vilbert.v_feature_size": int64(16),
		tp + "model.init_weights":           ckpt,
		tp + "loop.epochs":                  int64(1),
		tp + "state_dir":                    "",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	cat, err := catalog.New(cfg.Catalog, cfg.Parameters, catalog.Options{Formats: formats.All()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*flow.Pipeline{SyntheticMemes(), Pretrain()} {
		if err := flow.Check(p, cat); err != nil {
			t.Fatal(err)
		}
		if _, err := flow.Run(context.Background(), p, cat, flow.RunOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var hist nodes.PretrainHistory
	readJSON(t, "data/06_models/vilbert_pretrain_history.json", &hist)
	if len(hist.Steps) != 40 {
		t.Fatalf("%d steps in the history, want 40", len(hist.Steps))
	}
	mean := func(s []nodes.PretrainStep) (mlm, total float64) {
		for _, x := range s {
			mlm, total = mlm+x.MLM, total+x.Loss
		}
		return mlm / float64(len(s)), total / float64(len(s))
	}
	firstMLM, firstTotal := mean(hist.Steps[:8])
	lastMLM, lastTotal := mean(hist.Steps[32:])
	t.Logf("first 8 steps: mlm %.3f total %.3f; last 8: mlm %.3f total %.3f", firstMLM, firstTotal, lastMLM, lastTotal)
	if !(lastMLM < firstMLM-0.5) || !(lastTotal < firstTotal) {
		t.Errorf("losses did not fall: mlm %.3f → %.3f, total %.3f → %.3f", firstMLM, lastMLM, firstTotal, lastTotal)
	}

	// The checkpoint loads as the CC weights do.
	sd, _, err := checkpoint.LoadSafetensors(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	var tpar nodes.TrainParams
	if err := config.Decode(cat.Params(), "vilbert_synthetic_train.train", &tpar); err != nil {
		t.Fatal(err)
	}
	m, err := vilbert.New(tpar.Model.ViLBERT.Config, 1)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.LoadStateDict(sd, vilbert.LoadOptions{SkipClassifier: true})
	if err != nil {
		t.Fatal(err)
	}
	bert := 0
	for _, p := range m.Parameters() {
		if strings.HasPrefix(p.Name, "bert.") {
			bert++
		}
	}
	if rep.Kind != vilbert.KindPretrained || len(rep.Loaded) != bert || len(rep.Missing) != 0 || len(rep.Unexpected) != 0 || len(rep.Initialised) == 0 {
		t.Errorf("load report %s (kind %s), want all %d encoder keys loaded and the classifier initialised", rep, rep.Kind, bert)
	}
	for _, k := range rep.Initialised {
		if !strings.HasPrefix(k, "classifier.") {
			t.Errorf("%s initialised, want only the classifier", k)
		}
	}
	for _, k := range rep.Ignored {
		if !strings.HasPrefix(k, "model.cls.") {
			t.Errorf("%s ignored, want only the pretraining heads", k)
		}
	}

	// Fine-tuning from it runs (init_weights fails on missing keys).
	if _, err := flow.Run(context.Background(), SyntheticTrain(), cat, flow.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}
