package nodes

import (
	"context"
	"fmt"

	"mmc/features"
	"mmc/memes"
	"mmc/ml/batch"
	"mmc/ml/metrics"
	"mmc/ml/models"
	"mmc/ml/train"
	"mmc/progress"
)

// EvalParams configures prediction over a split (…→ evaluate).
type EvalParams struct {
	Split     string     `yaml:"split"` // the meme folder's split to predict
	Data      DataParams `yaml:"data"`
	BatchSize int        `yaml:"batch_size"`
	Workers   int        `yaml:"workers"` // loader goroutines
	// StrictWeights makes checkpoint tensors the model has no place for
	// an error; otherwise they are named in a warning and ignored.
	StrictWeights bool `yaml:"strict_weights"`
}

// Predictions are a model's logits over a split, in the split's order.
type Predictions struct {
	IDs    []string  `json:"ids"`
	Logits []float32 `json:"logits"` // [N, 2]
	Labels []int     `json:"labels"` // batch.NoLabel where the split has none
}

// SubmissionRow is one line of the challenge's submission CSV.
type SubmissionRow struct {
	ID    string  `csv:"id"`
	Proba float64 `csv:"proba"` // softmax P(hateful)
	Label int     `csv:"label"` // argmax of the logits
}

// PredictFolder runs a trained model over the folder's split p.Split.
func PredictFolder(ctx context.Context, p EvalParams, tm models.Trained, folder memes.Folder, feats features.Reader) (Predictions, error) {
	ms, err := folder.Memes(p.Split)
	if err != nil {
		return Predictions{}, fmt.Errorf("predict: %w", err)
	}
	return PredictSplit(ctx, p, tm, ms, feats)
}

// PredictSplit runs a trained model over memes without gradients.
func PredictSplit(ctx context.Context, p EvalParams, tm models.Trained, ms []memes.Meme, feats features.Reader) (Predictions, error) {
	if len(ms) == 0 {
		return Predictions{}, fmt.Errorf("predict: the split holds no memes")
	}
	model, mp, rep, err := models.Load(tm, p.StrictWeights)
	if err != nil {
		return Predictions{}, err
	}
	if w := rep.Warning(); w != "" {
		progress.Logf("predict: %s", w)
	}
	src, err := newSource(ms, feats, p.Data, mp.FeatDim)
	if err != nil {
		return Predictions{}, err
	}
	bs := p.BatchSize
	if bs <= 0 {
		bs = 32
	}
	ids, logits, labels, err := train.Predict(ctx, model, src, bs, p.Workers, 2*max(p.Workers, 1))
	if err != nil {
		return Predictions{}, fmt.Errorf("predict: %w", err)
	}
	return Predictions{IDs: ids, Logits: logits, Labels: labels}, nil
}

// EvaluatePredictions computes AUROC, accuracy, F1 and loss; every meme
// must have a label.
func EvaluatePredictions(_ context.Context, pr Predictions) (metrics.Binary, error) {
	for i, y := range pr.Labels {
		if y == batch.NoLabel {
			return metrics.Binary{}, fmt.Errorf("evaluate: meme %s has no label; use an inference pipeline for unlabelled splits", pr.IDs[i])
		}
	}
	m, err := metrics.Evaluate(pr.Logits, pr.Labels)
	if err != nil {
		return metrics.Binary{}, fmt.Errorf("evaluate %d memes: %w", len(pr.Labels), err)
	}
	return m, nil
}

// Submission turns predictions into the challenge's CSV rows.
func Submission(_ context.Context, pr Predictions) ([]SubmissionRow, error) {
	if len(pr.Logits) != 2*len(pr.IDs) {
		return nil, fmt.Errorf("submission: %d logits for %d memes", len(pr.Logits), len(pr.IDs))
	}
	rows := make([]SubmissionRow, len(pr.IDs))
	for i, id := range pr.IDs {
		p := metrics.ProbHateful(float64(pr.Logits[2*i]), float64(pr.Logits[2*i+1]))
		label := 0
		if pr.Logits[2*i+1] > pr.Logits[2*i] {
			label = 1
		}
		rows[i] = SubmissionRow{ID: id, Proba: p, Label: label}
	}
	return rows, nil
}
