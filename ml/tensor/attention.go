package tensor

import (
	"fmt"
	"slices"

	"mmc/ml/kernels"
)

// Attention is scaled dot-product attention with an additive key mask:
// softmax(q·kᵀ/√hd + mask)·v, with dropout on the attention weights when
// train is true. q is [B, nh, Tq, hd], k and v are [B, nh, Tk, hd], mask
// holds B×Tk values (see MaskedSoftmax) or is nil. It returns the context
// [B, nh, Tq, hd] and the attention weights [B, nh, Tq, Tk] before
// dropout; the weights are a leaf without history (gradients flow through
// the context only).
//
// It is one tape op over kernels.Attention: every head's scores, softmax,
// dropout and context product run together, and only the weights and the
// dropout mask are kept for the backward pass.
func Attention(q, k, v, mask *Tensor, dropout float32, rng *RNG, train bool) (ctx, probs *Tensor) {
	mustDim("Attention q", q, 4)
	mustDim("Attention k", k, 4)
	mustDim("Attention v", v, 4)
	if !slices.Equal(k.Shape, v.Shape) || q.Shape[0] != k.Shape[0] || q.Shape[1] != k.Shape[1] || q.Shape[3] != k.Shape[3] {
		panic(fmt.Sprintf("tensor.Attention: q %v, k %v, v %v do not agree", q.Shape, k.Shape, v.Shape))
	}
	b, nh, tq, hd, tk := q.Shape[0], q.Shape[1], q.Shape[2], q.Shape[3], k.Shape[2]
	var m []float32
	if mask != nil {
		if len(mask.Data) != b*tk {
			panic(fmt.Sprintf("tensor.Attention: mask %v does not give one value per key for keys %v", mask.Shape, k.Shape))
		}
		m = mask.Data
	}
	a := &kernels.Attention{Batch: b, Heads: nh, HeadDim: hd, Lq: tq, Lk: tk,
		Q: kernels.Split(tq, nh, hd), K: kernels.Split(tk, nh, hd), V: kernels.Split(tk, nh, hd), Ctx: kernels.Split(tq, nh, hd)}
	var keep []uint64
	if train && dropout > 0 {
		if rng == nil {
			panic("tensor.Attention: training-mode dropout needs an RNG")
		}
		a.Dropout = dropout
		keep = make([]uint64, kernels.MaskWords(a.ProbsLen()))
	}
	probs = Zeros(b, nh, tq, tk)
	ctx = Zeros(b, nh, tq, hd)
	work := make([]float32, a.WorkLen())
	a.Forward(ctx.Data, probs.Data, keep, q.Data, k.Data, v.Data, m, rng, work)
	ctx.record(func() {
		dq, dk, dv := make([]float32, len(q.Data)), make([]float32, len(k.Data)), make([]float32, len(v.Data))
		a.Backward(dq, dk, dv, ctx.Grad, probs.Data, keep, q.Data, k.Data, v.Data, make([]float32, a.WorkLen()))
		q.accumulate(dq)
		k.accumulate(dk)
		v.accumulate(dv)
	}, q, k, v)
	return ctx, probs
}
