// Package metrics computes the binary-classification metrics of the
// Hateful Memes challenge the way MMF reports them (which is the way
// scikit-learn computes them): AUROC over P(hateful), accuracy and binary
// F1 over the predicted label, and mean cross-entropy over two logits.
//
// Label conventions: labels are 0 (not hateful) and 1 (hateful). A model
// emits two logits per example, [l0, l1]; P(hateful) is softmax(l)[1] and
// the predicted label is argmax(l), with a tie going to class 0 as numpy's
// argmax does. On probabilities that is "label 1 iff p > 0.5" (PredictProba).
//
// Undefined AUROC: with only one class present in the labels, AUROC (and
// the ROC curve's TPR or FPR) has no value. Every function here returns
// ErrSingleClass in that case — never NaN and never a made-up 0.5 — so
// the caller decides whether to skip the metric or fail; scikit-learn
// raises a ValueError for the same input.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"mmc/ml/kernels"
)

// ErrSingleClass is returned when AUROC or the ROC curve is asked of
// labels that contain only one class.
var ErrSingleClass = errors.New("only one class present in the labels: ROC AUC is undefined")

// Binary is the metric set written to test_metrics.json.
type Binary struct {
	AUROC    float64 `json:"auroc"`
	Accuracy float64 `json:"accuracy"`
	F1       float64 `json:"f1"`
	Loss     float64 `json:"loss"`
}

// checkLabels verifies that labels and scores align and that every label
// is 0 or 1 and every score is finite.
func checkLabels(labels []int, scores []float64) error {
	if len(labels) != len(scores) {
		return fmt.Errorf("metrics: %d labels but %d scores", len(labels), len(scores))
	}
	if len(labels) == 0 {
		return errors.New("metrics: no examples")
	}
	for i, y := range labels {
		if y != 0 && y != 1 {
			return fmt.Errorf("metrics: label %d at index %d, want 0 or 1", y, i)
		}
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("metrics: score %v at index %d is not finite", s, i)
		}
	}
	return nil
}

// ROC is a receiver operating characteristic curve: point i is reached
// by predicting positive when score >= Thresholds[i]. Thresholds
// decrease; the first point is (0, 0) with threshold +Inf.
type ROC struct {
	FPR        []float64
	TPR        []float64
	Thresholds []float64
}

// ROCCurve computes the ROC curve like scikit-learn's roc_curve: scores
// are sorted in decreasing order and one point is emitted per distinct
// score (tied scores move the curve diagonally in one step), preceded by
// (0, 0). With dropIntermediate, a point is removed when both its false-
// and true-positive counts are collinear with its neighbours (their
// second differences are zero), which keeps every corner of the plotted
// curve and the area under it; the first and last points always stay.
//
// The first threshold is +Inf, as in scikit-learn ≥ 1.3 (older versions
// wrote max(score)+1 there; it is a sentinel either way).
func ROCCurve(labels []int, scores []float64, dropIntermediate bool) (ROC, error) {
	if err := checkLabels(labels, scores); err != nil {
		return ROC{}, err
	}
	fps, tps, thr := binaryCurve(labels, scores)
	if dropIntermediate && len(fps) > 2 {
		keep := 1
		for i := 1; i < len(fps)-1; i++ {
			d2f := fps[i+1] - 2*fps[i] + fps[i-1]
			d2t := tps[i+1] - 2*tps[i] + tps[i-1]
			if d2f != 0 || d2t != 0 {
				fps[keep], tps[keep], thr[keep] = fps[i], tps[i], thr[i]
				keep++
			}
		}
		last := len(fps) - 1
		fps[keep], tps[keep], thr[keep] = fps[last], tps[last], thr[last]
		fps, tps, thr = fps[:keep+1], tps[:keep+1], thr[:keep+1]
	}
	nNeg, nPos := fps[len(fps)-1], tps[len(tps)-1]
	if nNeg == 0 || nPos == 0 {
		return ROC{}, ErrSingleClass
	}
	roc := ROC{
		FPR:        make([]float64, len(fps)+1),
		TPR:        make([]float64, len(tps)+1),
		Thresholds: make([]float64, len(thr)+1),
	}
	roc.Thresholds[0] = math.Inf(1)
	for i := range fps {
		roc.FPR[i+1] = float64(fps[i]) / float64(nNeg)
		roc.TPR[i+1] = float64(tps[i]) / float64(nPos)
		roc.Thresholds[i+1] = thr[i]
	}
	return roc, nil
}

// binaryCurve returns, for each distinct score in decreasing order, the
// number of negatives (fps) and positives (tps) scored at or above it.
func binaryCurve(labels []int, scores []float64) (fps, tps []int, thr []float64) {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	// The order inside a tie does not matter: only the counts at the end
	// of each run of equal scores are kept.
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	pos := 0
	for k, i := range idx {
		pos += labels[i]
		if k == len(idx)-1 || scores[idx[k+1]] != scores[i] {
			tps = append(tps, pos)
			fps = append(fps, k+1-pos)
			thr = append(thr, scores[i])
		}
	}
	return fps, tps, thr
}

// AUROC is the area under the ROC curve of scores (higher means label 1),
// computed like scikit-learn's roc_auc_score: the trapezoidal area over
// one point per distinct score, so a run of tied scores contributes half
// credit for each positive/negative pair inside it (the same value as the
// Mann–Whitney statistic with average ranks). It returns ErrSingleClass
// when the labels hold one class only.
func AUROC(labels []int, scores []float64) (float64, error) {
	if err := checkLabels(labels, scores); err != nil {
		return 0, err
	}
	fps, tps, _ := binaryCurve(labels, scores)
	nNeg, nPos := fps[len(fps)-1], tps[len(tps)-1]
	if nNeg == 0 || nPos == 0 {
		return 0, ErrSingleClass
	}
	// Integer arithmetic up to the final division keeps the area exact:
	// twice the trapezoid sum is Σ Δfps·(tps_i + tps_{i-1}).
	var twice float64
	prevF, prevT := 0, 0
	for i := range fps {
		twice += float64(fps[i]-prevF) * float64(tps[i]+prevT)
		prevF, prevT = fps[i], tps[i]
	}
	return twice / (2 * float64(nNeg) * float64(nPos)), nil
}

// Accuracy is the fraction of preds equal to labels.
func Accuracy(labels, preds []int) (float64, error) {
	if len(labels) != len(preds) {
		return 0, fmt.Errorf("metrics: %d labels but %d predictions", len(labels), len(preds))
	}
	if len(labels) == 0 {
		return 0, errors.New("metrics: no examples")
	}
	ok := 0
	for i := range labels {
		if labels[i] == preds[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(labels)), nil
}

// F1 is the binary F1 score of class 1 (scikit-learn's f1_score with
// average="binary"): 2·TP / (2·TP + FP + FN). When there is no positive
// label and no positive prediction the score is undefined; like
// scikit-learn's default zero_division it is then 0.
func F1(labels, preds []int) (float64, error) {
	if len(labels) != len(preds) {
		return 0, fmt.Errorf("metrics: %d labels but %d predictions", len(labels), len(preds))
	}
	var tp, fp, fn int
	for i := range labels {
		y, p := labels[i], preds[i]
		if (y != 0 && y != 1) || (p != 0 && p != 1) {
			return 0, fmt.Errorf("metrics: label %d / prediction %d at index %d, want 0 or 1", y, p, i)
		}
		switch {
		case y == 1 && p == 1:
			tp++
		case y == 0 && p == 1:
			fp++
		case y == 1 && p == 0:
			fn++
		}
	}
	if 2*tp+fp+fn == 0 {
		return 0, nil
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn), nil
}

// ProbHateful is softmax([l0, l1])[1], computed as the logistic of
// l1 − l0 so that large logits do not overflow.
func ProbHateful(l0, l1 float64) float64 {
	d := l1 - l0
	if d >= 0 {
		return 1 / (1 + math.Exp(-d))
	}
	e := math.Exp(d)
	return e / (1 + e)
}

// PredictProba turns P(hateful) into a label: 1 iff p > 0.5. This equals
// argmax over the two logits (ties go to class 0, as numpy's argmax).
func PredictProba(p float64) int {
	if p > 0.5 {
		return 1
	}
	return 0
}

// CrossEntropy is the mean of −log softmax(logits[i])[labels[i]] over the
// batch, PyTorch's nn.CrossEntropyLoss() with mean reduction. logits is
// row-major [N, 2].
func CrossEntropy(logits []float32, labels []int) (float64, error) {
	if len(logits) != 2*len(labels) {
		return 0, fmt.Errorf("metrics: %d logits for %d labels, want [N, 2]", len(logits), len(labels))
	}
	if len(labels) == 0 {
		return 0, errors.New("metrics: no examples")
	}
	for i, y := range labels {
		if y != 0 && y != 1 {
			return 0, fmt.Errorf("metrics: label %d at index %d, want 0 or 1", y, i)
		}
	}
	loss, _, err := kernels.CrossEntropy(nil, logits, labels, 2, 0) // the loss the models train with
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	return loss, nil
}

// Evaluate computes the challenge's metric set from [N, 2] logits.
// Loss is the mean cross-entropy; AUROC uses softmax P(hateful); accuracy
// and F1 use the argmax label. A single-class label set yields
// ErrSingleClass (wrapped) and no metrics.
func Evaluate(logits []float32, labels []int) (Binary, error) {
	loss, err := CrossEntropy(logits, labels)
	if err != nil {
		return Binary{}, err
	}
	probs := make([]float64, len(labels))
	preds := make([]int, len(labels))
	for i := range labels {
		probs[i] = ProbHateful(float64(logits[2*i]), float64(logits[2*i+1]))
		if logits[2*i+1] > logits[2*i] {
			preds[i] = 1
		}
	}
	auc, err := AUROC(labels, probs)
	if err != nil {
		return Binary{}, fmt.Errorf("evaluate %d examples: %w", len(labels), err)
	}
	acc, err := Accuracy(labels, preds)
	if err != nil {
		return Binary{}, err
	}
	f1, err := F1(labels, preds)
	if err != nil {
		return Binary{}, err
	}
	return Binary{AUROC: auc, Accuracy: acc, F1: f1, Loss: loss}, nil
}
