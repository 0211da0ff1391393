package kernels

import (
	"fmt"
	"math"

	"mmc/ml/blas"
)

// Layout locates the heads of one attention operand in its buffer: the
// rows of head h of batch item b start at Offset + b·BatchStride +
// h·HeadStride and lie Ld apart. Heads are read in place, so neither a
// split into [B, heads, L, hd] nor a merge back is copied.
type Layout struct{ Offset, Ld, BatchStride, HeadStride int }

// Merged is the layout of a [B·L, heads·hd] row-major operand (the output
// of a Linear): a head is a block of hd columns.
func Merged(l, heads, hd int) Layout {
	return Layout{Ld: heads * hd, BatchStride: l * heads * hd, HeadStride: hd}
}

// Split is the layout of a [B, heads, L, hd] operand.
func Split(l, heads, hd int) Layout {
	return Layout{Ld: hd, BatchStride: heads * l * hd, HeadStride: l * hd}
}

func (l Layout) at(b, h int) int { return l.Offset + b*l.BatchStride + h*l.HeadStride }

// Attention is multi-head scaled dot-product attention of Lq queries over
// Lk keys per batch item, with an additive key mask [Batch, Lk] and
// dropout on the attention weights:
//
//	probs = softmax(Q·Kᵀ/√HeadDim + mask),  ctx = dropout(probs)·V
//
// Every (item, head) pair runs whole on one worker: its score product,
// softmax, dropout and context product in one pass over a Lq×Lk block.
type Attention struct {
	Batch, Heads, HeadDim, Lq, Lk int
	Q, K, V, Ctx                  Layout
	// DQ, DK, DV are the layouts of the gradients Backward writes; a zero
	// Layout means the operand's own.
	DQ, DK, DV Layout
	Dropout    float32
}

// ProbsLen is the length of the probabilities buffer: Batch·Heads·Lq·Lk.
func (a *Attention) ProbsLen() int { return a.Batch * a.Heads * a.Lq * a.Lk }

// WorkLen is the scratch length Forward and Backward need.
func (a *Attention) WorkLen() int { return Workers() * 2 * a.Lq * a.Lk }

func (a *Attention) check(op string, probs, work []float32) {
	if a.Heads <= 0 || a.HeadDim <= 0 {
		panic(fmt.Sprintf("kernels.Attention.%s: %d heads of %d", op, a.Heads, a.HeadDim))
	}
	checkLen("Attention."+op+" probs", len(probs), a.ProbsLen())
	checkLen("Attention."+op+" work", len(work), a.WorkLen())
}

// Forward writes the softmax weights into probs [Batch, Heads, Lq, Lk]
// and the context into ctx. With keep not nil and Dropout > 0, the
// dropout mask of the weights is drawn from rng into keep
// [MaskWords(ProbsLen())]; probs stays the weights before dropout. mask
// may be nil. work holds WorkLen() values.
func (a *Attention) Forward(ctx, probs []float32, keep []uint64, q, k, v, mask []float32, rng *RNG, work []float32) {
	a.check("Forward", probs, work)
	drop := keep != nil && a.Dropout > 0
	if drop {
		DropoutMask(keep, a.ProbsLen(), a.Dropout, rng)
	}
	if mask != nil {
		checkLen("Attention mask", len(mask), a.Batch*a.Lk)
	}
	lq, lk, hd := a.Lq, a.Lk, a.HeadDim
	blk := lq * lk
	scale := float32(1 / math.Sqrt(float64(hd)))
	a.forPairs(func(c, b, h int) {
		o := (b*a.Heads + h) * blk
		s := probs[o : o+blk]
		blas.SgemmSerial(false, true, lq, lk, hd, scale, q[a.Q.at(b, h):], a.Q.Ld, k[a.K.at(b, h):], a.K.Ld, 0, s, lk)
		var m []float32
		if mask != nil {
			m = mask[b*lk : (b+1)*lk]
		}
		softmaxSerial(s, s, m, lq, lk, lq)
		p := s
		if drop {
			p = work[c*2*blk : c*2*blk+blk]
			maskAt(p, s, keep, o, a.Dropout)
		}
		blas.SgemmSerial(false, false, lq, hd, lk, 1, p, lk, v[a.V.at(b, h):], a.V.Ld, 0, ctx[a.Ctx.at(b, h):], a.Ctx.Ld)
	})
}

// Backward takes dctx on the context of the last Forward (probs and keep
// as it left them, keep nil without dropout) and writes the gradients of
// q, k and v into dq, dk and dv (overwriting them).
func (a *Attention) Backward(dq, dk, dv, dctx, probs []float32, keep []uint64, q, k, v, work []float32) {
	a.check("Backward", probs, work)
	drop := keep != nil && a.Dropout > 0
	lq, lk, hd := a.Lq, a.Lk, a.HeadDim
	blk := lq * lk
	scale := float32(1 / math.Sqrt(float64(hd)))
	lDQ, lDK, lDV := or(a.DQ, a.Q), or(a.DK, a.K), or(a.DV, a.V)
	a.forPairs(func(c, b, h int) {
		o := (b*a.Heads + h) * blk
		p := probs[o : o+blk]
		ds := work[c*2*blk : c*2*blk+blk]
		pd := p
		if drop {
			pd = work[c*2*blk+blk : (c+1)*2*blk]
			maskAt(pd, p, keep, o, a.Dropout)
		}
		dc := dctx[a.Ctx.at(b, h):]
		// dP' = dctx·Vᵀ ; dV = P'ᵀ·dctx
		blas.SgemmSerial(false, true, lq, lk, hd, 1, dc, a.Ctx.Ld, v[a.V.at(b, h):], a.V.Ld, 0, ds, lk)
		blas.SgemmSerial(true, false, lk, hd, lq, 1, pd, lk, dc, a.Ctx.Ld, 0, dv[lDV.at(b, h):], lDV.Ld)
		if drop {
			maskAt(ds, ds, keep, o, a.Dropout)
		}
		softmaxBackwardSerial(ds, p, ds, lq, lk)
		blas.SgemmSerial(false, false, lq, hd, lk, scale, ds, lk, k[a.K.at(b, h):], a.K.Ld, 0, dq[lDQ.at(b, h):], lDQ.Ld)
		blas.SgemmSerial(true, false, lk, hd, lq, scale, ds, lk, q[a.Q.at(b, h):], a.Q.Ld, 0, dk[lDK.at(b, h):], lDK.Ld)
	})
}

func or(l, def Layout) Layout {
	if l.Ld == 0 {
		return def
	}
	return l
}

// forPairs runs fn over every (item, head) pair, spread over the workers;
// c is the worker's chunk index (its scratch block).
func (a *Attention) forPairs(fn func(c, b, h int)) {
	cost := a.Lq * a.Lk * a.HeadDim * 4
	ParallelChunks(a.Batch*a.Heads, cost, func(c, lo, hi int) {
		for i := lo; i < hi; i++ {
			fn(c, i/a.Heads, i%a.Heads)
		}
	})
}

// Context writes ctx = dropout(probs)·V again from the weights Forward
// left (keep nil without dropout), for callers that do not keep the
// context between the forward and the backward pass.
func (a *Attention) Context(ctx, probs []float32, keep []uint64, v, work []float32) {
	a.check("Context", probs, work)
	drop := keep != nil && a.Dropout > 0
	lq, lk, hd := a.Lq, a.Lk, a.HeadDim
	blk := lq * lk
	a.forPairs(func(c, b, h int) {
		o := (b*a.Heads + h) * blk
		p := probs[o : o+blk]
		if drop {
			p = work[c*2*blk : c*2*blk+blk]
			maskAt(p, probs[o:o+blk], keep, o, a.Dropout)
		}
		blas.SgemmSerial(false, false, lq, hd, lk, 1, p, lk, v[a.V.at(b, h):], a.V.Ld, 0, ctx[a.Ctx.at(b, h):], a.Ctx.Ld)
	})
}
