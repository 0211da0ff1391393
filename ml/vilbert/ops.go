package vilbert

import (
	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// This file holds the building blocks with their backward passes beside
// them: Linear, LayerNorm, GELU, dropout and multi-head attention over
// additive key masks. Activations live in buffers owned by each module and
// reused from step to step, so a training loop allocates nothing after its
// first step. A module is used once per forward pass, which is what makes
// caching its input in the module itself safe.

// grow returns (*b)[:n], reallocating only when the capacity is short. The
// contents are unspecified; callers overwrite them.
func grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	*b = (*b)[:n]
	return *b
}

// slot returns the buffer *p points to, creating a private one on first
// use. Modules whose buffers only live during one module's forward or
// backward step share them across layers through link.
func slot(p **[]float32) *[]float32 {
	if *p == nil {
		*p = new([]float32)
	}
	return *p
}

// link points every p at one shared buffer.
func link(ps ...**[]float32) {
	shared := new([]float32)
	for _, p := range ps {
		*p = shared
	}
}

// zeroed is grow followed by clearing.
func zeroed(b *[]float32, n int) []float32 {
	s := grow(b, n)
	clear(s)
	return s
}

// gradOf returns p's gradient buffer, allocating zeros on first use.
func gradOf(p *tensor.Tensor) []float32 {
	if p.Grad == nil {
		p.Grad = make([]float32, len(p.Data))
	}
	return p.Grad
}

// gradSink decides where parameter gradients go. Normally (apply nil)
// they accumulate in each parameter's own Grad. During BackwardApply a
// module's gradients are written to one of two shared zeroed buffers and
// handed to apply as soon as the module has finished them, so the model
// holds two gradient buffers instead of one per parameter. Each module of
// the model shares the sink built with it.
type gradSink struct {
	apply func(*tensor.Tensor) error
	bufs  [2][]float32
	used  int
	err   error // the first error apply returned; later gradients are dropped
}

// grad returns the buffer p's gradient accumulates into.
func (s *gradSink) grad(p *tensor.Tensor) []float32 {
	if s == nil || s.apply == nil {
		return gradOf(p)
	}
	// Two buffers suffice: a module finishes at most two parameters at
	// once (weight and bias).
	if s.used == len(s.bufs) {
		panic("vilbert: more than two parameter gradients in flight")
	}
	p.Grad = zeroed(&s.bufs[s.used], len(p.Data))
	s.used++
	return p.Grad
}

// done hands the finished gradients of ps to apply and releases their
// buffers. Parameters without a gradient are skipped.
func (s *gradSink) done(ps ...*tensor.Tensor) {
	if s == nil || s.apply == nil {
		return
	}
	for _, p := range ps {
		if p.Grad == nil {
			continue
		}
		if s.err == nil {
			s.err = s.apply(p)
		}
		p.Grad = nil
	}
	s.used = 0
}

// paramMaker creates parameters. With alloc false it only records shapes,
// which lets ParamCount size the full model without a gigabyte of zeros.
type paramMaker struct {
	alloc bool
	rng   *tensor.RNG
	std   float32
	sink  *gradSink // shared by every module built
}

func (pm *paramMaker) tensor(shape ...int) *tensor.Tensor {
	if !pm.alloc {
		return &tensor.Tensor{Shape: shape}
	}
	return tensor.Param(shape...)
}

// normal is a weight drawn from N(0, std²), as BERT's _init_weights does
// for Linear and Embedding weights.
func (pm *paramMaker) normal(shape ...int) *tensor.Tensor {
	t := pm.tensor(shape...)
	for i := range t.Data {
		t.Data[i] = pm.rng.NormFloat32() * pm.std
	}
	return t
}

func (pm *paramMaker) fill(v float32, shape ...int) *tensor.Tensor {
	t := pm.tensor(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// Linear is y = x·Wᵀ + b with W in PyTorch's [out, in] layout.
type Linear struct {
	Weight *tensor.Tensor `pt:"weight"` // [out, in]
	Bias   *tensor.Tensor `pt:"bias"`   // [out]

	in, out int
	x       []float32 // cached input [rows, in]
	rows    int
	y, dx   *[]float32 // output and input-gradient buffers (see link)
	sink    *gradSink
}

func newLinear(pm *paramMaker, in, out int) Linear {
	return Linear{Weight: pm.normal(out, in), Bias: pm.fill(0, out), in: in, out: out, sink: pm.sink}
}

// Forward maps x [rows, in] to y [rows, out].
func (l *Linear) Forward(x []float32, rows int) []float32 {
	l.x, l.rows = x, rows
	y := grow(slot(&l.y), rows*l.out)
	kernels.Linear(y, x, l.Weight.Data, l.Bias.Data, rows, l.in, l.out)
	return y
}

// Backward accumulates dW += dyᵀ·x and db += Σ dy for trainable
// parameters and returns dx = dy·W in the module's own buffer, or nil when
// needDx is false.
func (l *Linear) Backward(dy []float32, needDx bool) []float32 {
	var dx []float32
	if needDx {
		dx = grow(slot(&l.dx), l.rows*l.in)
	}
	l.backward(dy, dx, false)
	return dx
}

// BackwardInto adds dy·W into dx, for inputs that fan out to several
// layers (Q, K and V read the same hidden states).
func (l *Linear) BackwardInto(dy, dx []float32) { l.backward(dy, dx, true) }

func (l *Linear) backward(dy, dx []float32, add bool) {
	var dw, db []float32
	if l.Weight.RequiresGrad() {
		dw = l.sink.grad(l.Weight)
	}
	if l.Bias.RequiresGrad() {
		db = l.sink.grad(l.Bias)
	}
	kernels.LinearBackward(dx, dw, db, dy, l.x, l.Weight.Data, l.rows, l.in, l.out, add)
	l.sink.done(l.Weight, l.Bias) // only now: dx reads the weights before the update
}

// LayerNorm normalises each row over its last axis: (x−μ)/√(σ²+ε)·γ + β.
type LayerNorm struct {
	Weight *tensor.Tensor `pt:"weight"` // γ [dim]
	Bias   *tensor.Tensor `pt:"bias"`   // β [dim]

	dim        int
	eps        float32
	rows       int
	x          []float32 // a private copy of the input
	mean, rstd []float32
	y          *[]float32 // output; Recompute rebuilds it, so it may be shared
	dx         *[]float32
	sink       *gradSink
}

func newLayerNorm(pm *paramMaker, dim int, eps float32) LayerNorm {
	return LayerNorm{Weight: pm.fill(1, dim), Bias: pm.fill(0, dim), dim: dim, eps: eps, sink: pm.sink}
}

// Forward normalises x [rows, dim].
func (n *LayerNorm) Forward(x []float32, rows int) []float32 {
	n.rows = rows
	copy(grow(&n.x, rows*n.dim), x)
	return n.Recompute()
}

// Recompute rebuilds the last output (bit-identical: the same kernel on
// the same input) and returns it.
func (n *LayerNorm) Recompute() []float32 {
	y := grow(slot(&n.y), n.rows*n.dim)
	kernels.LayerNorm(y, grow(&n.mean, n.rows), grow(&n.rstd, n.rows), n.x, n.Weight.Data, n.Bias.Data, n.rows, n.dim, n.eps)
	return y
}

// Backward returns dx and accumulates dγ, dβ for trainable parameters.
func (n *LayerNorm) Backward(dy []float32) []float32 {
	dx := grow(slot(&n.dx), n.rows*n.dim)
	var dg, db []float32
	if n.Weight.RequiresGrad() {
		dg = n.sink.grad(n.Weight)
	}
	if n.Bias.RequiresGrad() {
		db = n.sink.grad(n.Bias)
	}
	kernels.LayerNormBackward(dx, dg, db, dy, n.x, n.mean, n.rstd, n.Weight.Data, n.rows, n.dim)
	n.sink.done(n.Weight, n.Bias)
	return dx
}

// gelu is the exact form x·Φ(x) = x/2·(1 + erf(x/√2)) used by BERT and
// MMF (kernels.GELU). Its output is not kept: Recompute rebuilds it for
// the backward pass of the layer that reads it, so the buffer can be
// shared across layers.
type gelu struct {
	x  []float32
	y  *[]float32
	dx *[]float32
}

// Recompute evaluates the last forward output again and returns it.
func (a *gelu) Recompute() []float32 { return a.Forward(a.x) }

func (a *gelu) Forward(x []float32) []float32 {
	a.x = x
	y := grow(slot(&a.y), len(x))
	kernels.GELU(y, x)
	return y
}

func (a *gelu) Backward(dy []float32) []float32 {
	dx := grow(slot(&a.dx), len(dy))
	kernels.GELUBackward(dx, dy, a.x)
	return dx
}

// dropout zeroes values with probability p in training and scales the
// rest by 1/(1−p); the keep bits (kernels.DropoutMask) are kept for the
// backward pass.
type dropout struct {
	p      float32
	active bool
	keep   []uint64
}

// apply drops values of x in place.
func (d *dropout) apply(x []float32, train bool, rng *tensor.RNG) {
	d.active = train && d.p > 0
	if !d.active {
		return
	}
	words := kernels.MaskWords(len(x))
	if cap(d.keep) < words {
		d.keep = make([]uint64, words)
	}
	d.keep = d.keep[:words]
	kernels.DropoutMask(d.keep, len(x), d.p, rng)
	kernels.DropoutApply(x, x, d.keep, d.p)
}

// backward applies the same mask and scale to a gradient, in place.
func (d *dropout) backward(g []float32) {
	if d.active {
		kernels.DropoutApply(g, g, d.keep, d.p)
	}
}

// attention is multi-head scaled dot-product attention of Lq queries over
// Lk keys per batch item, with an additive mask over keys
// (kernels.Attention). Queries, keys and values are [B·L, heads·hd]
// row-major, so a head is a strided column block and no split/merge
// copies are needed.
type attention struct {
	heads, hd int
	drop      dropout

	k          kernels.Attention
	q, kk, v   []float32
	probs      []float32  // [B, heads, Lq, Lk] softmax output (before dropout)
	ctx        *[]float32 // rebuilt by RecomputeContext, so shareable
	dq, dk, dv *[]float32
	work       *[]float32
}

// Forward returns the merged context [B·Lq, heads·hd].
func (a *attention) Forward(q, k, v []float32, b, lq, lk int, mask []float32, train bool, rng *tensor.RNG) []float32 {
	a.q, a.kk, a.v = q, k, v
	a.k = kernels.Attention{Batch: b, Heads: a.heads, HeadDim: a.hd, Lq: lq, Lk: lk,
		Q: kernels.Merged(lq, a.heads, a.hd), K: kernels.Merged(lk, a.heads, a.hd),
		V: kernels.Merged(lk, a.heads, a.hd), Ctx: kernels.Merged(lq, a.heads, a.hd), Dropout: a.drop.p}
	probs := grow(&a.probs, a.k.ProbsLen())
	a.drop.active = train && a.drop.p > 0
	var keep []uint64
	if a.drop.active {
		keep = a.keep()
	}
	ctx := grow(slot(&a.ctx), b*lq*a.heads*a.hd)
	a.k.Forward(ctx, probs, keep, q, k, v, mask, rng, grow(slot(&a.work), a.k.WorkLen()))
	return ctx
}

func (a *attention) keep() []uint64 {
	words := kernels.MaskWords(a.k.ProbsLen())
	if cap(a.drop.keep) < words {
		a.drop.keep = make([]uint64, words)
	}
	a.drop.keep = a.drop.keep[:words]
	return a.drop.keep
}

func (a *attention) activeKeep() []uint64 {
	if !a.drop.active {
		return nil
	}
	return a.drop.keep
}

// RecomputeContext rebuilds the last forward output for the backward
// pass of the projection that reads it.
func (a *attention) RecomputeContext() []float32 {
	ctx := grow(slot(&a.ctx), a.k.Batch*a.k.Lq*a.heads*a.hd)
	a.k.Context(ctx, a.probs, a.activeKeep(), a.v, grow(slot(&a.work), a.k.WorkLen()))
	return ctx
}

// Backward takes dctx and returns dq, dk, dv (module-owned buffers).
func (a *attention) Backward(dctx []float32) (dq, dk, dv []float32) {
	dq = grow(slot(&a.dq), len(a.q))
	dk = grow(slot(&a.dk), len(a.kk))
	dv = grow(slot(&a.dv), len(a.v))
	a.k.Backward(dq, dk, dv, dctx, a.probs, a.activeKeep(), a.q, a.kk, a.v, grow(slot(&a.work), a.k.WorkLen()))
	return dq, dk, dv
}

// addInto adds src into dst elementwise.
func addInto(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// add returns a+b in *buf (created on first use).
func add(buf **[]float32, a, b []float32) []float32 {
	return sumInto(slot(buf), a, b)
}

func sumInto(buf *[]float32, a, b []float32) []float32 {
	out := grow(buf, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}
