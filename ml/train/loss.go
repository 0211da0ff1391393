package train

import (
	"fmt"
	"math"

	"mmc/ml/kernels"
)

// Loss names accepted by LossConfig.Kind.
const (
	LossCE    = "ce"
	LossFocal = "focal"
)

// LossConfig selects the training loss over two logits.
//
//   - "ce": cross-entropy, optionally with label smoothing ε
//     (PyTorch's CrossEntropyLoss(label_smoothing=ε): the target is
//     (1−ε)·onehot + ε/2).
//   - "focal": −α_t (1−p_t)^γ log p_t with p_t the softmax probability
//     of the true class and α_t = α for label 1, 1−α for label 0
//     (torchvision's sigmoid_focal_loss convention, on the softmax).
//
// Both are averaged over the batch.
type LossConfig struct {
	Kind           string  `yaml:"kind" json:"kind"`
	FocalAlpha     float64 `yaml:"focal_alpha" json:"focal_alpha"`
	FocalGamma     float64 `yaml:"focal_gamma" json:"focal_gamma"`
	LabelSmoothing float64 `yaml:"label_smoothing" json:"label_smoothing"`
}

// Validate checks the kind and ranges.
func (c LossConfig) Validate() error {
	switch c.Kind {
	case LossCE, "":
	case LossFocal:
		if c.FocalAlpha < 0 || c.FocalAlpha > 1 {
			return fmt.Errorf("loss: focal_alpha %v outside [0, 1]", c.FocalAlpha)
		}
		if c.FocalGamma < 0 {
			return fmt.Errorf("loss: focal_gamma %v is negative", c.FocalGamma)
		}
	default:
		return fmt.Errorf("loss: unknown kind %q (want %q or %q)", c.Kind, LossCE, LossFocal)
	}
	if c.LabelSmoothing < 0 || c.LabelSmoothing >= 1 {
		return fmt.Errorf("loss: label_smoothing %v outside [0, 1)", c.LabelSmoothing)
	}
	if c.LabelSmoothing != 0 && c.Kind == LossFocal {
		return fmt.Errorf("loss: label_smoothing applies to %q only, not %q", LossCE, LossFocal)
	}
	return nil
}

// Compute returns the mean loss over the batch and its gradient with
// respect to the [N, 2] logits (row-major, same layout). It is computed
// in float64 and returns an error for a label other than 0 or 1.
func (c LossConfig) Compute(logits []float32, labels []int) (float64, []float32, error) {
	n := len(labels)
	if len(logits) != 2*n || n == 0 {
		return 0, nil, fmt.Errorf("loss: %d logits for %d labels, want [N, 2] with N > 0", len(logits), n)
	}
	grad := make([]float32, len(logits))
	for i, y := range labels {
		if y != 0 && y != 1 {
			return 0, nil, fmt.Errorf("loss: label %d at batch index %d, want 0 or 1", y, i)
		}
	}
	if c.Kind != LossFocal {
		// Cross-entropy with label smoothing: the one kernel of ml/.
		loss, _, err := kernels.CrossEntropy(grad, logits, labels, 2, float32(c.LabelSmoothing))
		if err != nil {
			return 0, nil, fmt.Errorf("loss: %w", err)
		}
		return loss, grad, nil
	}
	var total float64
	for i, y := range labels {
		z := [2]float64{float64(logits[2*i]), float64(logits[2*i+1])}
		m := math.Max(z[0], z[1])
		lse := m + math.Log(math.Exp(z[0]-m)+math.Exp(z[1]-m))
		logp := [2]float64{z[0] - lse, z[1] - lse}
		p := [2]float64{math.Exp(logp[0]), math.Exp(logp[1])}
		var l float64
		var g [2]float64
		a := 1 - c.FocalAlpha
		if y == 1 {
			a = c.FocalAlpha
		}
		pt, logpt := p[y], logp[y]
		q := 1 - pt
		pow := math.Pow(q, c.FocalGamma)
		l = -a * pow * logpt
		// dL/dp_t, then dp_t/dz_j = p_t(δ_jy − p_j).
		var dpow float64
		if c.FocalGamma != 0 && q > 0 {
			dpow = c.FocalGamma * math.Pow(q, c.FocalGamma-1)
		}
		dLdpt := -a * (-dpow*logpt + pow/pt)
		for j := range 2 {
			delta := 0.0
			if j == y {
				delta = 1
			}
			g[j] = dLdpt * pt * (delta - p[j])
		}
		total += l
		grad[2*i] = float32(g[0] / float64(n))
		grad[2*i+1] = float32(g[1] / float64(n))
	}
	return total / float64(n), grad, nil
}
