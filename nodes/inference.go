package nodes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/batch"
	"mmc/ml/metrics"
	"mmc/ml/models"
)

// InferenceReport summarises predictions over a split: how many memes,
// and the metrics when every meme has a label.
type InferenceReport struct {
	Split    string          `json:"split"`
	Memes    int             `json:"memes"`
	Labelled bool            `json:"labelled"`
	Metrics  *metrics.Binary `json:"metrics,omitempty"`
}

// InferenceSummary scores predictions when the split is labelled and
// only counts them otherwise.
func InferenceSummary(ctx context.Context, p EvalParams, pr Predictions) (InferenceReport, error) {
	rep := InferenceReport{Split: p.Split, Memes: len(pr.IDs), Labelled: true}
	for _, y := range pr.Labels {
		if y == batch.NoLabel {
			rep.Labelled = false
			return rep, nil
		}
	}
	m, err := EvaluatePredictions(ctx, pr)
	if err != nil {
		return rep, err
	}
	rep.Metrics = &m
	return rep, nil
}

// LocalParams is one meme given on the command line
// (--params inference_local.image=PATH,inference_local.text="…").
type LocalParams struct {
	Image string     `yaml:"image"` // image path; its file stem is the feature store key (MMF's feature_path)
	Text  string     `yaml:"text"`
	Data  DataParams `yaml:"data"`
}

// LocalPrediction is the result for one meme.
type LocalPrediction struct {
	Image string  `json:"image"`
	Text  string  `json:"text"`
	Proba float64 `json:"proba"` // softmax P(hateful)
	Label int     `json:"label"`
}

// PredictLocal classifies one meme whose region features are in the
// configured store under the image's file stem and returns the
// probability (the pipeline saves it as prediction.json). The image
// must exist and decode: a stem alone would find the features of
// whatever picture once had that name.
func PredictLocal(ctx context.Context, p LocalParams, tm models.Trained, feats features.Reader) (LocalPrediction, error) {
	if p.Image == "" {
		return LocalPrediction{}, fmt.Errorf("inference_local: no image given (--params inference_local.image=PATH,inference_local.text=\"...\")")
	}
	data, err := os.ReadFile(p.Image)
	if err != nil {
		return LocalPrediction{}, fmt.Errorf("inference_local: image %s: %w", p.Image, err)
	}
	if _, err := memes.DecodeImage(data); err != nil {
		return LocalPrediction{}, fmt.Errorf("inference_local: image %s is not a readable PNG or JPEG: %w", p.Image, err)
	}
	stem := filepath.Base(p.Image)
	m := memes.Meme{ID: memes.ID(stem), Img: p.Image, Text: p.Text}
	pr, err := PredictSplit(ctx, EvalParams{Data: p.Data, BatchSize: 1, Workers: 1}, tm, []memes.Meme{m}, feats)
	if err != nil {
		return LocalPrediction{}, fmt.Errorf("inference_local %s: %w", p.Image, err)
	}
	prob := metrics.ProbHateful(float64(pr.Logits[0]), float64(pr.Logits[1]))
	return LocalPrediction{Image: p.Image, Text: p.Text, Proba: prob, Label: metrics.PredictProba(prob)}, nil
}
