package nodes

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/checkpoint"
	"mmc/ml/metrics"
	"mmc/ml/models"
)

// tinyTextBERT is a text_bert model small enough to train in a test.
func tinyTextBERT() models.Params {
	return models.Params{Kind: models.KindTextBERT, InitWeights: models.NoInitWeights, TextBERT: models.TextBERTConfig{VocabSize: 30522,
		HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32, MaxPositionEmbeddings: 16, TypeVocabSize: 2}}
}

// TestTextBERTCheckpointRoundTrip saves a trained text_bert model through
// the model_checkpoint format and predicts with the reloaded file
// (issue 16 item 9: the sidecar must rebuild the model, not fail with
// "sizes must be positive").
func TestTextBERTCheckpointRoundTrip(t *testing.T) {
	ctx := context.Background()
	feats := mapFeatures{}
	tr, val := toyMemes(48, 8, feats), toyMemes(32, 9, feats)
	p := toyParams(t.TempDir())
	p.Model, p.Loop.Epochs = tinyTextBERT(), 1
	tm, _, err := TrainSplits(ctx, p, tr, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	ds := checkpointDataset(t, filepath.Join(t.TempDir(), "text.safetensors"), "")
	if err := ds.Save(ctx, tm); err != nil {
		t.Fatal(err)
	}
	v, err := ds.Load(ctx, reflect.TypeFor[models.Trained]())
	if err != nil {
		t.Fatal(err)
	}
	ep := EvalParams{Data: p.Data, BatchSize: 16}
	want, err := PredictSplit(ctx, ep, tm, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	got, err := PredictSplit(ctx, ep, v.(models.Trained), val, feats)
	if err != nil {
		t.Fatalf("predict with a reloaded text_bert checkpoint: %v", err)
	}
	if !reflect.DeepEqual(got.Logits, want.Logits) {
		t.Error("reloaded text_bert checkpoint predicts differently")
	}
}

// TestCheckpointMessages: a missing sidecar is named as such (not as a
// missing dataset), a missing tensor is named, extra tensors are named
// in a warning and are an error under strict_weights.
func TestCheckpointMessages(t *testing.T) {
	ctx := context.Background()
	feats := mapFeatures{}
	tr, val := toyMemes(48, 10, feats), toyMemes(32, 11, feats)
	p := toyParams(t.TempDir())
	p.Loop.Epochs = 1
	tm, _, err := TrainSplits(ctx, p, tr, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "best.safetensors")
	ds := checkpointDataset(t, path, "")
	if err := ds.Save(ctx, tm); err != nil {
		t.Fatal(err)
	}
	side := checkpoint.SidecarPath(path)
	if err := os.Remove(side); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"exists": func() error { _, err := ds.Exists(); return err }(),
		"load":   func() error { _, err := ds.Load(ctx, reflect.TypeFor[models.Trained]()); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), "sidecar "+side+" (the model description that rebuilds it) is missing") || strings.Contains(err.Error(), "not found") {
			t.Errorf("%s without the sidecar: %v; want the sidecar named as missing beside existing weights", name, err)
		}
	}

	ep := EvalParams{Data: p.Data, BatchSize: 16}
	lacking := models.Trained{Weights: checkpoint.StateDict{}, Sidecar: tm.Sidecar}
	for k, a := range tm.Weights {
		if k != "classifier.bias" {
			lacking.Weights[k] = a
		}
	}
	if _, err := PredictSplit(ctx, ep, lacking, val, feats); err == nil || !strings.Contains(err.Error(), `"classifier.bias"`) {
		t.Errorf("checkpoint without classifier.bias: %v; want the tensor named", err)
	}

	extra := models.Trained{Weights: checkpoint.StateDict{"stray.weight": {Shape: []int{1}, Data: []float32{1}}}, Sidecar: tm.Sidecar}
	for k, a := range tm.Weights {
		extra.Weights[k] = a
	}
	if _, err := PredictSplit(ctx, ep, extra, val, feats); err != nil {
		t.Errorf("extra tensor, not strict: %v; want a warning only", err)
	}
	_, _, rep, err := models.Load(extra, false)
	if err != nil || !strings.Contains(rep.Warning(), `"stray.weight"`) {
		t.Errorf("extra tensor: warning %q (%v), want it named", rep.Warning(), err)
	}
	ep.StrictWeights = true
	if _, err := PredictSplit(ctx, ep, extra, val, feats); err == nil || !strings.Contains(err.Error(), `"stray.weight"`) || !strings.Contains(err.Error(), "strict") {
		t.Errorf("extra tensor, strict: %v; want an error naming it", err)
	}
}

// TestPredictLocalRefusesMissingImage: the image's stem alone must not
// find features (issue 16 item 8).
func TestPredictLocalRefusesMissingImage(t *testing.T) {
	ctx := context.Background()
	feats := mapFeatures{}
	tr, val := toyMemes(48, 12, feats), toyMemes(32, 13, feats)
	p := toyParams(t.TempDir())
	p.Loop.Epochs = 1
	tm, _, err := TrainSplits(ctx, p, tr, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	id := string(val[0].ID) // its features are in the store
	garbage := filepath.Join(dir, "junk", id+".png")
	os.MkdirAll(filepath.Dir(garbage), 0o755)
	os.WriteFile(garbage, []byte("not a picture"), 0o644)
	for _, c := range []struct{ image, want string }{
		{filepath.Join(dir, id+".png"), "no such file"},
		{garbage, "not a readable PNG or JPEG"},
	} {
		lp := LocalParams{Image: c.image, Text: val[0].Text, Data: p.Data}
		if _, err := PredictLocal(ctx, lp, tm, features.Maybe{Reader: feats}); err == nil || !strings.Contains(err.Error(), c.image) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("image %s: error %v, want it named with %q", c.image, err, c.want)
		}
	}
	good := filepath.Join(dir, id+".png")
	writeTestPNG(t, good)
	got, err := PredictLocal(ctx, LocalParams{Image: good, Text: val[0].Text, Data: p.Data}, tm, features.Maybe{Reader: feats})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := PredictSplit(ctx, EvalParams{Data: p.Data, BatchSize: 1, Workers: 1}, tm, []memes.Meme{val[0]}, feats)
	if err != nil {
		t.Fatal(err)
	}
	if want := metrics.ProbHateful(float64(pr.Logits[0]), float64(pr.Logits[1])); got.Proba != want {
		t.Errorf("local prediction %+v, the split prediction gives P(hateful) %v", got, want)
	}
}

// writeTestPNG writes a small valid PNG at path.
func writeTestPNG(t *testing.T, path string) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
