package nn

import (
	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// Attention is one multi-head attention call over merged [B·L, heads·hd]
// queries, keys and values (kernels.Attention): what it keeps for the
// backward pass is the attention weights and the dropout mask, not the
// context.
type Attention struct {
	k        kernels.Attention
	q, kk, v []float32 // the operands (the caller keeps them alive)
	probs    []float32
	keep     []uint64
	active   bool
}

// AttentionScratch holds the context and the per-worker blocks.
type AttentionScratch struct{ ctx, work []float32 }

// Forward returns the context [b·lq, heads·hd] (in sc) of lq queries over
// lk keys per item, with the additive key mask [b, lk] (or nil) and
// dropout p on the weights when train is set.
func (a *Attention) Forward(sc *AttentionScratch, q, k, v []float32, b, lq, lk, heads int, p float32, mask []float32, train bool, rng *tensor.RNG) []float32 {
	d := len(q) / (b * lq)
	hd := d / heads
	a.q, a.kk, a.v = q, k, v
	a.k = kernels.Attention{Batch: b, Heads: heads, HeadDim: hd, Lq: lq, Lk: lk,
		Q: kernels.Merged(lq, heads, hd), K: kernels.Merged(lk, heads, hd),
		V: kernels.Merged(lk, heads, hd), Ctx: kernels.Merged(lq, heads, hd), Dropout: p}
	probs := Grow(&a.probs, a.k.ProbsLen())
	a.active = train && p > 0
	var keep []uint64
	if a.active {
		a.keep = growWords(a.keep, kernels.MaskWords(len(probs)))
		keep = a.keep
	}
	ctx := Grow(&sc.ctx, b*lq*d)
	a.k.Forward(ctx, probs, keep, q, k, v, mask, rng, Grow(&sc.work, a.k.WorkLen()))
	return ctx
}

func (a *Attention) activeKeep() []uint64 {
	if !a.active {
		return nil
	}
	return a.keep
}

// Context writes the last forward output into ctx again and returns it.
func (a *Attention) Context(sc *AttentionScratch, ctx []float32) []float32 {
	a.k.Context(ctx, a.probs, a.activeKeep(), a.v, Grow(&sc.work, a.k.WorkLen()))
	return ctx
}

// Backward writes the gradients of the queries, keys and values for dctx
// into dq, dk and dv.
func (a *Attention) Backward(sc *AttentionScratch, dq, dk, dv, dctx []float32) {
	a.k.Backward(dq, dk, dv, dctx, a.probs, a.activeKeep(), a.q, a.kk, a.v, Grow(&sc.work, a.k.WorkLen()))
}

// Probs returns the attention weights of the last forward pass
// [B, heads, Lq, Lk] (before dropout).
func (a *Attention) Probs() []float32 { return a.probs }
