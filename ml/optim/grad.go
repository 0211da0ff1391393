package optim

import (
	"fmt"
	"math"

	"mmc/ml/tensor"
)

// NonFiniteError reports a NaN or Inf in a loss or gradient.
type NonFiniteError struct {
	Step  int    // 1-based optimizer step at which it was seen
	What  string // "loss" or "gradient"
	Param string // offending parameter (empty for a loss)
}

func (e *NonFiniteError) Error() string {
	if e.Param == "" {
		return fmt.Sprintf("step %d: non-finite %s", e.Step, e.What)
	}
	return fmt.Sprintf("step %d: non-finite %s in parameter %q", e.Step, e.What, e.Param)
}

// CheckLoss returns a *NonFiniteError when loss is NaN or Inf; step is the
// optimizer step the loss belongs to.
func CheckLoss(step int, loss float32) error {
	if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
		return &NonFiniteError{Step: step, What: "loss"}
	}
	return nil
}

// ClipGradNorm scales the gradients of params so that their global L2 norm
// is at most maxNorm, as torch.nn.utils.clip_grad_norm_ (coefficient
// maxNorm/(norm+1e-6), applied only when below 1). It returns the norm
// before clipping. Parameters without a gradient are ignored.
func ClipGradNorm(params []*tensor.Tensor, maxNorm float64) float64 {
	// Rounded to float32 where PyTorch holds float32 tensors (each norm,
	// their norm, the coefficient), so clipped gradients agree bit for bit
	// more often than not.
	sum := 0.0
	for _, p := range params {
		s := 0.0
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
		n := float64(float32(math.Sqrt(s)))
		sum += n * n
	}
	norm := float32(math.Sqrt(sum))
	c := float32(maxNorm) / (norm + 1e-6)
	if c < 1 {
		for _, p := range params {
			for i := range p.Grad {
				p.Grad[i] *= c
			}
		}
	}
	return float64(norm)
}

// Accumulation spreads one optimizer step over Steps micro-batches: scale
// each micro-batch loss by LossScale before Backward (gradients add up in
// the parameters), and step the optimizer when Ready says so.
type Accumulation struct {
	Steps int // micro-batches per optimizer step; values below 1 mean 1
	seen  int
}

// LossScale is 1/Steps, making the accumulated gradient a mean.
func (a *Accumulation) LossScale() float32 { return 1 / float32(max(a.Steps, 1)) }

// Ready counts one micro-batch and reports whether the optimizer should
// step now (after every Steps-th call).
func (a *Accumulation) Ready() bool {
	a.seen++
	if a.seen >= max(a.Steps, 1) {
		a.seen = 0
		return true
	}
	return false
}

// Pending is the number of micro-batches counted since the last step.
func (a *Accumulation) Pending() int { return a.seen }
