package nn

import (
	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// Attention is one multi-head attention call over strided queries, keys
// and values (kernels.Attention): it keeps the attention weights and the
// dropout mask for the backward pass, and the context when KeepContext
// is set (else Context computes it again).
type Attention struct {
	// KeepContext keeps the [b·lq, d] output for the backward pass: a
	// seventh of the attention products and a dropout pass fewer for one
	// projection's output of memory per attention (ViLBERT at batch 8:
	// 75 MB, so it recomputes; a BERT layer keeps it).
	KeepContext bool

	k        kernels.Attention
	q, kk, v []float32 // the operands (the caller keeps them alive)
	probs    []float32
	keep     []uint64
	ctx      []float32 // the kept context (KeepContext)
	active   bool
}

// AttentionScratch holds the context when it is not kept, and the
// per-worker blocks.
type AttentionScratch struct{ ctx, work []float32 }

// Forward returns the context [b·lq, d] (in sc, or kept in a with
// KeepContext) of lq queries over lk
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
	buf := &sc.ctx
	if a.KeepContext {
		buf = &a.ctx
	}
	ctx := Grow(buf, b*lq*d)
	a.k.Forward(ctx, probs, keep, q, k, v, mask, rng, Grow(&sc.work, a.k.WorkLen()))
	return ctx
}

func (a *Attention) activeKeep() []uint64 {
	if !a.active {
		return nil
	}
	return a.keep
}

// Context returns the output of the last forward pass [b·lq, d]: the kept
// one, or (without KeepContext) one computed again into sc.
func (a *Attention) Context(sc *AttentionScratch) []float32 {
	if a.KeepContext {
		return a.ctx
	}
	ctx := Grow(&sc.ctx, a.k.Batch*a.k.Lq*a.k.Heads*a.k.HeadDim)
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
