package tensor

import (
	"fmt"

	"mmc/ml/kernels"
)

// LayerNorm normalises each row of x's last axis to zero mean and unit
// variance (biased, as PyTorch), then applies gamma and beta ([n] each;
// either may be nil for no affine part).
func LayerNorm(x, gamma, beta *Tensor, eps float32) *Tensor {
	rows, n := lastDim("LayerNorm", x)
	for _, p := range []*Tensor{gamma, beta} {
		if p != nil && (p.Dim() != 1 || p.Shape[0] != x.Shape[x.Dim()-1]) {
			panic(fmt.Sprintf("tensor.LayerNorm: parameter %v does not match the last axis of %v", p.Shape, x.Shape))
		}
	}
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	mean := make([]float32, rows)
	rstd := make([]float32, rows)
	kernels.LayerNorm(out.Data, mean, rstd, x.Data, data(gamma), data(beta), rows, n, eps)
	return out.record(func() {
		var dx, dg, db []float32
		if x.requiresGrad {
			dx = make([]float32, len(x.Data))
		}
		if gamma != nil && gamma.requiresGrad {
			dg = gamma.grad()
		}
		if beta != nil && beta.requiresGrad {
			db = beta.grad()
		}
		kernels.LayerNormBackward(dx, dg, db, out.Grad, x.Data, mean, rstd, data(gamma), rows, n)
		if dx != nil {
			x.accumulate(dx)
		}
	}, x, gamma, beta)
}

// data is t.Data, or nil for a nil tensor.
func data(t *Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Data
}
