package kernels

import (
	"fmt"
	"math"
)

// IgnoreIndex is the label CrossEntropy skips (PyTorch's ignore_index).
const IgnoreIndex = -100

// CrossEntropy is the mean softmax cross-entropy of logits [n, c] against
// labels (len n) with PyTorch's label smoothing (the target puts
// 1−smoothing on the label and smoothing/c on every class); rows labelled
// IgnoreIndex do not count. When dlogits is not nil it receives the
// gradient of the mean loss (zero rows for ignored labels). count is the
// number of labelled rows; with none, loss is NaN as in PyTorch. It
// returns an error for a label outside [0, c).
func CrossEntropy(dlogits, logits []float32, labels []int, c int, smoothing float32) (loss float64, count int, err error) {
	n := len(labels)
	if len(logits) != n*c {
		return 0, 0, fmt.Errorf("cross-entropy over %d logits for %d labels of %d classes", len(logits), n, c)
	}
	for i, y := range labels {
		if y != IgnoreIndex && (y < 0 || y >= c) {
			return 0, 0, fmt.Errorf("label %d of row %d outside 0..%d", y, i, c-1)
		}
		if y != IgnoreIndex {
			count++
		}
	}
	eps := float64(smoothing)
	logp := make([]float64, c)
	scale := 1 / float64(max(count, 1))
	for i, y := range labels {
		row := logits[i*c : (i+1)*c]
		if y == IgnoreIndex {
			if dlogits != nil {
				clear(dlogits[i*c : (i+1)*c])
			}
			continue
		}
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(s)
		var sumAll float64
		for j, v := range row {
			logp[j] = float64(v) - lse
			sumAll += logp[j]
		}
		loss -= (1-eps)*logp[y] + eps/float64(c)*sumAll
		if dlogits != nil {
			for j := range row {
				target := eps / float64(c)
				if j == y {
					target += 1 - eps
				}
				dlogits[i*c+j] = float32((math.Exp(logp[j]) - target) * scale)
			}
		}
	}
	if count == 0 {
		return math.NaN(), 0, nil
	}
	return loss / float64(count), count, nil
}
