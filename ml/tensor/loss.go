package tensor

import (
	"fmt"
	"math"

	"mmc/ml/kernels"
)

// IgnoreIndex is the label that CrossEntropy and FocalLoss skip, as
// PyTorch's ignore_index default.
const IgnoreIndex = kernels.IgnoreIndex

// CrossEntropy is the mean softmax cross-entropy of logits [N, C] against
// class labels (len N), with PyTorch's label smoothing: the target puts
// 1−smoothing on the label and smoothing/C on every class. Labels equal to
// IgnoreIndex do not count. The result is a 0-d tensor.
func CrossEntropy(logits *Tensor, labels []int, smoothing float32) *Tensor {
	_, c := checkLogits("CrossEntropy", logits, labels)
	g := make([]float32, len(logits.Data))
	loss, _, err := kernels.CrossEntropy(g, logits.Data, labels, c, smoothing)
	if err != nil {
		panic("tensor.CrossEntropy: " + err.Error())
	}
	out := Scalar(float32(loss))
	return out.record(func() {
		if s := out.Grad[0]; s != 1 {
			for i := range g {
				g[i] *= s
			}
		}
		logits.accumulate(g)
	}, logits)
}

// FocalLoss is the mean focal loss of Lin et al. over softmax logits
// [N, C]: α·(1−p)^γ·(−log p) with p the probability of the label. γ = 0
// and α = 1 give CrossEntropy. Labels equal to IgnoreIndex do not count.
func FocalLoss(logits *Tensor, labels []int, alpha, gamma float32) *Tensor {
	n, c := checkLogits("FocalLoss", logits, labels)
	logps := make([]float64, n*c)
	a, gm := float64(alpha), float64(gamma)
	loss, count := 0.0, 0
	for i := 0; i < n; i++ {
		logp := logSoftmaxRow(logps[i*c:(i+1)*c], logits.Data[i*c:(i+1)*c])
		if labels[i] == IgnoreIndex {
			continue
		}
		count++
		p := math.Exp(logp[labels[i]])
		loss += -a * math.Pow(1-p, gm) * logp[labels[i]]
	}
	out := Scalar(float32(loss / float64(max(count, 1))))
	return out.record(func() {
		g := make([]float32, len(logits.Data))
		scale := float64(out.Grad[0]) / float64(max(count, 1))
		for i := 0; i < n; i++ {
			y := labels[i]
			if y == IgnoreIndex {
				continue
			}
			lp := logps[i*c+y]
			p := math.Exp(lp)
			// dL/dp, then dp/dz_j = p(δ_jy − p_j).
			dLdp := a * (gm*math.Pow(1-p, gm-1)*lp - math.Pow(1-p, gm)/p)
			if gm == 0 {
				dLdp = -a / p
			}
			for j := 0; j < c; j++ {
				delta := 0.0
				if j == y {
					delta = 1
				}
				g[i*c+j] = float32(scale * dLdp * p * (delta - math.Exp(logps[i*c+j])))
			}
		}
		logits.accumulate(g)
	}, logits)
}

func checkLogits(op string, logits *Tensor, labels []int) (n, c int) {
	mustDim(op, logits, 2)
	n, c = logits.Shape[0], logits.Shape[1]
	if len(labels) != n {
		panic(fmt.Sprintf("tensor.%s: %d labels for logits %v", op, len(labels), logits.Shape))
	}
	for i, y := range labels {
		if y != IgnoreIndex && (y < 0 || y >= c) {
			panic(fmt.Sprintf("tensor.%s: label %d at row %d outside %d classes", op, y, i, c))
		}
	}
	return n, c
}

// logSoftmaxRow writes log-softmax(in) into dst (float64) and returns it.
func logSoftmaxRow(dst []float64, in []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range in {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range in {
		s += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(s)
	for j, v := range in {
		dst[j] = float64(v) - lse
	}
	return dst
}
