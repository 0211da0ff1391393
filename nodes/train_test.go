package nodes

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/models"
	"mmc/ml/train"
	"mmc/ml/vilbert"
)

// mapFeatures is an in-memory features.Reader.
type mapFeatures map[string]*features.Record

func (m mapFeatures) Get(id string) (*features.Record, error) {
	r, ok := m[id]
	if !ok {
		return nil, fmt.Errorf("no features for %q", id)
	}
	return r, nil
}
func (m mapFeatures) IDs() []string { return nil }
func (m mapFeatures) Close() error  { return nil }

// toyMemes makes memes whose label needs the image: "hateful" iff the
// caption's colour word matches the sign of the image's first feature.
func toyMemes(n int, seed uint64, feats mapFeatures) []memes.Meme {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]memes.Meme, n)
	const d = 4
	for i := range out {
		id := strconv.Itoa(int(seed)*10000 + i)
		red := r.IntN(2) == 1
		sign := float32(1)
		if r.IntN(2) == 0 {
			sign = -1
		}
		nb := 1 + r.IntN(3)
		rec := &features.Record{ID: id, Dim: d, NumBoxes: nb, ImageW: 100, ImageH: 50,
			Features: make([]float32, nb*d), Boxes: make([]float32, nb*4)}
		for b := range nb {
			rec.Features[b*d] = sign * (0.5 + r.Float32())
			rec.Features[b*d+1] = r.Float32()
			copy(rec.Boxes[b*4:], []float32{10, 5, 60, 45})
		}
		feats[id] = rec
		text := "a blue thing"
		if red {
			text = "a red thing"
		}
		label := 0
		if red == (sign > 0) {
			label = 1
		}
		out[i] = memes.Meme{ID: memes.ID(id), Img: "img/" + id + ".png", Text: text, Label: &label}
	}
	return out
}

func toyParams(dir string) TrainParams {
	return TrainParams{
		Model: models.Params{Kind: models.KindPooledLinear, PooledLinear: models.PooledLinearParams{UseText: true, UseImage: true, TextBuckets: 64}},
		Data:  DataParams{MaxSeqLength: 8, MaxFeatures: 3},
		Loop: train.Config{Epochs: 3, BatchSize: 16, Seed: 5, Patience: 2, Workers: 2, Ahead: 2,
			Optimizer: train.OptimConfig{LR: 0.05, WeightDecay: 0.01, WarmupSteps: 2}, Loss: train.LossConfig{Kind: "ce"}},
		StateDir: filepath.Join(dir, "state"),
		Resume:   "auto",
	}
}

func TestTrainEvaluateRoundTrip(t *testing.T) {
	feats := mapFeatures{}
	tr, val, test := toyMemes(200, 1, feats), toyMemes(80, 2, feats), toyMemes(80, 3, feats)
	dir := t.TempDir()
	p := toyParams(dir)
	tm, hist, err := TrainSplits(context.Background(), p, tr, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist.Epochs) != 3 || hist.BestEpoch == 0 || tm.Sidecar.Epoch != hist.BestEpoch {
		t.Fatalf("history %+v, sidecar epoch %d", hist, tm.Sidecar.Epoch)
	}
	ds := checkpointDataset(t, filepath.Join(dir, "out", "best.safetensors"), "")
	if err := ds.Save(context.Background(), tm); err != nil {
		t.Fatal(err)
	}
	if ok, err := ds.Exists(); !ok || err != nil {
		t.Fatalf("Exists after Save: %v, %v", ok, err)
	}
	loaded, err := ds.Load(context.Background(), reflect.TypeFor[models.Trained]())
	if err != nil {
		t.Fatal(err)
	}
	ep := EvalParams{Data: p.Data, BatchSize: 32, Workers: 2}
	pr, err := PredictSplit(context.Background(), ep, loaded.(models.Trained), val, feats)
	if err != nil {
		t.Fatal(err)
	}
	m, err := EvaluatePredictions(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if m.AUROC != hist.BestAUROC {
		t.Errorf("val AUROC from the saved checkpoint %v, best epoch recorded %v", m.AUROC, hist.BestAUROC)
	}
	pt, err := PredictSplit(context.Background(), ep, tm, test, feats)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Submission(context.Background(), pt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(test) || rows[0].ID != string(test[0].ID) {
		t.Fatalf("%d rows, first %+v", len(rows), rows[0])
	}
	for _, r := range rows {
		if (r.Proba > 0.5) != (r.Label == 1) {
			t.Fatalf("row %+v: label disagrees with proba", r)
		}
	}
	// A second run with the same state directory resumes the finished
	// run instead of training again, and returns the same model.
	tm2, hist2, err := TrainSplits(context.Background(), p, tr, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tm2.Weights, tm.Weights) || hist2.BestAUROC != hist.BestAUROC {
		t.Error("rerun over a finished state differs from the first run")
	}
}

func TestTrainParamErrors(t *testing.T) {
	feats := mapFeatures{}
	tr, val := toyMemes(20, 1, feats), toyMemes(10, 2, feats)
	tests := []struct {
		name string
		edit func(*TrainParams)
	}{
		{"bad resume", func(p *TrainParams) { p.Resume = "sometimes" }},
		{"require without state", func(p *TrainParams) { p.Resume = "require" }},
		{"unknown model", func(p *TrainParams) { p.Model.Kind = "resnet" }},
		{"no epochs", func(p *TrainParams) { p.Loop.Epochs = 0 }},
		{"bad loss", func(p *TrainParams) { p.Loop.Loss.Kind = "hinge" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := toyParams(t.TempDir())
			tt.edit(&p)
			if _, _, err := TrainSplits(context.Background(), p, tr, val, feats); err == nil {
				t.Error("TrainModel accepted the parameters")
			}
		})
	}
	delete(feats, string(tr[3].ID))
	p := toyParams(t.TempDir())
	if _, _, err := TrainSplits(context.Background(), p, tr, val, feats); err == nil {
		t.Error("TrainModel ran with a meme whose features are missing")
	}
}

// tinyViLBERT is a ViLBERT small enough to train in a test.
func tinyViLBERT(featDim int) vilbert.Config {
	c := vilbert.DefaultConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 16, 2, 2, 32
	c.VFeatureSize, c.VHiddenSize, c.VNumHiddenLayers, c.VNumAttentionHeads, c.VIntermediateSize = featDim, 16, 1, 2, 16
	c.BiHiddenSize, c.BiNumAttentionHeads, c.BiIntermediateSize = 16, 2, 16
	c.VBiAttentionID, c.TBiAttentionID = []int{1}, []int{1}
	c.MaxPositionEmbeddings = 16
	return c
}

func TestTrainViLBERTResumeAndReload(t *testing.T) {
	feats := mapFeatures{}
	tr, val := toyMemes(48, 4, feats), toyMemes(24, 5, feats)
	dir := t.TempDir()
	p := toyParams(dir)
	p.Model = models.Params{Kind: models.KindViLBERT, ViLBERT: models.ViLBERTParams{Config: tinyViLBERT(4)}}
	p.Loop.Epochs, p.Loop.Patience = 3, 0
	p.Loop.Optimizer.LR = 1e-3
	p.Resume = "never"
	ref, refHist, err := TrainSplits(context.Background(), p, tr, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	// Interrupt a second run after epoch 2: it stops before epoch 3 and
	// the resumed run trains epoch 3 only.
	p.StateDir = filepath.Join(dir, "state2")
	p.Resume = "auto"
	ctx, cancel := context.WithCancel(context.Background())
	testHookEpoch = func(_ context.Context, e train.Epoch) {
		if e.Epoch == 2 {
			cancel()
		}
	}
	_, _, err = TrainSplits(ctx, p, tr, val, feats)
	testHookEpoch = nil
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	got, gotHist, err := TrainSplits(context.Background(), p, tr, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Weights, ref.Weights) {
		t.Error("resumed ViLBERT weights differ from the uninterrupted run")
	}
	if gotHist.BestAUROC != refHist.BestAUROC || len(gotHist.Epochs) != len(refHist.Epochs) {
		t.Errorf("resumed history %+v, uninterrupted %+v", gotHist, refHist)
	}
	pr, err := PredictSplit(context.Background(), EvalParams{Data: p.Data, BatchSize: 7}, got, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	m, err := EvaluatePredictions(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if m.AUROC != refHist.BestAUROC {
		t.Errorf("AUROC of the reloaded checkpoint %v, best epoch %v", m.AUROC, refHist.BestAUROC)
	}
}

func TestTrainTextBERTReload(t *testing.T) {
	feats := mapFeatures{}
	tr, val := toyMemes(64, 6, feats), toyMemes(32, 7, feats)
	p := toyParams(t.TempDir())
	p.Model = models.Params{Kind: models.KindTextBERT, TextBERT: models.TextBERTConfig{VocabSize: 30522, HiddenSize: 16, NumHiddenLayers: 1,
		NumAttentionHeads: 2, IntermediateSize: 32, MaxPositionEmbeddings: 16, TypeVocabSize: 2, Dropout: 0.1}}
	p.Loop.Epochs = 2
	tm, hist, err := TrainSplits(context.Background(), p, tr, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	// The same batches as validation: a barely trained model's scores
	// are near ties that float rounding of other batch shapes could swap.
	pr, err := PredictSplit(context.Background(), EvalParams{Data: p.Data, BatchSize: p.Loop.BatchSize}, tm, val, feats)
	if err != nil {
		t.Fatal(err)
	}
	m, err := EvaluatePredictions(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if m.AUROC != hist.BestAUROC {
		t.Errorf("reloaded TextBERT AUROC %v, best epoch %v", m.AUROC, hist.BestAUROC)
	}
	if _, ok := tm.Weights["bert.encoder.layer.0.output.LayerNorm.weight"]; !ok {
		t.Error("checkpoint lacks Hugging Face BERT key names")
	}
}
