package tensor

import (
	"fmt"

	"mmc/ml/kernels"
)

// Softmax normalises the last axis of x.
func Softmax(x *Tensor) *Tensor { return MaskedSoftmax(x, nil) }

// MaskedSoftmax adds an additive mask to x and normalises the last axis in
// one pass, as attention does: x is [B, ..., Tk] (typically scores
// [B, H, Tq, Tk]) and mask holds B×Tk values (shape [B, 1, 1, Tk] or
// [B, Tk]; 0 to keep a key, a large negative number to drop it), broadcast
// over the middle axes. mask may be nil and never receives a gradient.
func MaskedSoftmax(x, mask *Tensor) *Tensor {
	rows, n := lastDim("MaskedSoftmax", x)
	perBatch := 1
	var m []float32
	if mask != nil {
		b := x.Shape[0]
		if x.Dim() < 2 || len(mask.Data) != b*n {
			panic(fmt.Sprintf("tensor.MaskedSoftmax: mask %v does not give one value per key for scores %v", mask.Shape, x.Shape))
		}
		perBatch = rows / b
		m = mask.Data
	}
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	kernels.Softmax(out.Data, x.Data, m, rows, n, perBatch)
	return out.record(func() {
		g := make([]float32, len(x.Data))
		kernels.SoftmaxBackward(g, out.Data, out.Grad, rows, n)
		x.accumulate(g)
	}, x)
}
