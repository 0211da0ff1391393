package nn

import (
	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// Attention is one multi-head attention call over strided queries, keys
// and values (kernels.Attention): it keeps the attention weights, the
// dropout mask and the context for the backward pass. The context is a
// [b·lq, d] block, as small as one projection's output; recomputing it
// in the backward pass cost a seventh of the attention products.
type Attention struct {
	k        kernels.Attention
	q, kk, v []float32 // the operands (the caller keeps them alive)
	probs    []float32
	keep     []uint64
	ctx      []float32
	active   bool
}

// AttentionScratch holds the per-worker blocks.
type AttentionScratch struct{ work []float32 }

// Forward returns the context [b·lq, d] (kept until the next call) of lq queries over lk
// keys per item in heads heads of d/heads, with the additive key mask
// [b, lk] (or nil) and dropout p on the weights when train is set. The
// rows of q lie qLd apart and those of k and v kvLd apart (d for plain
// [b·l, d] operands, 3·d for the columns of a fused QKV output); the
// gradients Backward writes have the same layout.
func (a *Attention) Forward(sc *AttentionScratch, q, k, v []float32, qLd, kvLd, b, lq, lk, heads, d int, p float32, mask []float32, train bool, rng *tensor.RNG) []float32 {
	hd := d / heads
	a.q, a.kk, a.v = q, k, v
	a.k = kernels.Attention{Batch: b, Heads: heads, HeadDim: hd, Lq: lq, Lk: lk,
		Q:   kernels.Layout{Ld: qLd, BatchStride: lq * qLd, HeadStride: hd},
		K:   kernels.Layout{Ld: kvLd, BatchStride: lk * kvLd, HeadStride: hd},
		V:   kernels.Layout{Ld: kvLd, BatchStride: lk * kvLd, HeadStride: hd},
		Ctx: kernels.Merged(lq, heads, hd), Dropout: p}
	probs := Grow(&a.probs, a.k.ProbsLen())
	a.active = train && p > 0
	var keep []uint64
	if a.active {
		a.keep = growWords(a.keep, kernels.MaskWords(len(probs)))
		keep = a.keep
	}
	ctx := Grow(&a.ctx, b*lq*d)
	a.k.Forward(ctx, probs, keep, q, k, v, mask, rng, Grow(&sc.work, a.k.WorkLen()))
	return ctx
}

func (a *Attention) activeKeep() []uint64 {
	if !a.active {
		return nil
	}
	return a.keep
}

// Context returns the output of the last forward pass [b·lq, d].
func (a *Attention) Context() []float32 { return a.ctx }

// Backward writes the gradients of the queries, keys and values for dctx
// into dq, dk and dv.
func (a *Attention) Backward(sc *AttentionScratch, dq, dk, dv, dctx []float32) {
	a.k.Backward(dq, dk, dv, dctx, a.probs, a.activeKeep(), a.q, a.kk, a.v, Grow(&sc.work, a.k.WorkLen()))
}

// Probs returns the attention weights of the last forward pass
// [B, heads, Lq, Lk] (before dropout).
func (a *Attention) Probs() []float32 { return a.probs }
