package tensor

import (
	"fmt"
	"math"
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
	perBatch := 0
	if mask != nil {
		b := x.Shape[0]
		if x.Dim() < 2 || len(mask.Data) != b*n {
			panic(fmt.Sprintf("tensor.MaskedSoftmax: mask %v does not give one value per key for scores %v", mask.Shape, x.Shape))
		}
		perBatch = rows / b
	}
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	parallelFor(rows, 8*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, o := x.Data[r*n:(r+1)*n], out.Data[r*n:(r+1)*n]
			var m []float32
			if mask != nil {
				bi := r / perBatch
				m = mask.Data[bi*n : (bi+1)*n]
			}
			softmaxRow(o, in, m)
		}
	})
	return out.record(func() {
		g := make([]float32, len(x.Data))
		softmaxBackward(g, out.Data, out.Grad, rows, n)
		x.accumulate(g)
	}, x)
}

// softmaxRow writes softmax(in + mask) into o; mask may be nil.
func softmaxRow(o, in, mask []float32) {
	mx := float32(math.Inf(-1))
	for j, v := range in {
		if mask != nil {
			v += mask[j]
		}
		o[j] = v
		mx = max(mx, v)
	}
	if math.IsInf(float64(mx), -1) {
		// Every key masked out with -inf: PyTorch yields NaN; a uniform row
		// keeps training finite and is what a finite large mask gives.
		for j := range o {
			o[j] = 1 / float32(len(o))
		}
		return
	}
	var s float32
	for j, v := range o {
		e := expf(v - mx)
		o[j] = e
		s += e
	}
	inv := 1 / s
	for j := range o {
		o[j] *= inv
	}
}

// softmaxBackward writes dx = y ⊙ (dy − Σ dy⊙y) row by row.
func softmaxBackward(dx, y, dy []float32, rows, n int) {
	parallelFor(rows, 4*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, gr, o := y[r*n:(r+1)*n], dy[r*n:(r+1)*n], dx[r*n:(r+1)*n]
			var dot float32
			for j := range yr {
				dot += yr[j] * gr[j]
			}
			for j := range yr {
				o[j] = yr[j] * (gr[j] - dot)
			}
		}
	})
}
