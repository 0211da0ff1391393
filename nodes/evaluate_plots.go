package nodes

import (
	"context"
	"fmt"
	"image"

	"mmc/ml/metrics"
	"mmc/ml/train"
	"mmc/plot"
)

// ROCCurvePlot draws the ROC curve of labelled predictions, with the
// AUROC in the title.
func ROCCurvePlot(_ context.Context, pr Predictions) (image.Image, error) {
	probs := make([]float64, len(pr.IDs))
	for i := range probs {
		probs[i] = metrics.ProbHateful(float64(pr.Logits[2*i]), float64(pr.Logits[2*i+1]))
	}
	roc, err := metrics.ROCCurve(pr.Labels, probs, true)
	if err != nil {
		return nil, fmt.Errorf("roc curve over %d memes: %w", len(probs), err)
	}
	auc, err := metrics.AUROC(pr.Labels, probs)
	if err != nil {
		return nil, fmt.Errorf("roc curve: %w", err)
	}
	return plot.ROCChart(plot.Options{Title: "ROC", XLabel: "False positive rate", YLabel: "True positive rate"}, roc.FPR, roc.TPR, auc)
}

// TrainingCurvesPlot draws the per-epoch train and validation loss and
// the validation AUROC.
func TrainingCurvesPlot(_ context.Context, h train.History) (image.Image, error) {
	n := len(h.Epochs)
	if n == 0 {
		return nil, fmt.Errorf("training curves: the history has no epochs")
	}
	x := plot.Epochs(n)
	trainLoss, valLoss, valAUC := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, e := range h.Epochs {
		trainLoss[i], valLoss[i], valAUC[i] = e.TrainLoss, e.ValLoss, e.ValAUROC
	}
	return plot.LineChart(plot.Options{Title: fmt.Sprintf("Training (best epoch %d, val AUROC %.4f)", h.BestEpoch, h.BestAUROC), XLabel: "epoch"},
		plot.Series{Name: "train loss", X: x, Y: trainLoss},
		plot.Series{Name: "val loss", X: x, Y: valLoss},
		plot.Series{Name: "val AUROC", X: x, Y: valAUC})
}
