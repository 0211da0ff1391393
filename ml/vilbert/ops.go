package vilbert

import (
	"math"
	"runtime"
	"sync"

	"mmc/ml/blas"
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

// parallelFor splits [0,n) over the available processors when the work
// (n·cost scalar operations) is worth a goroutine per processor.
func parallelFor(n, cost int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 || n*max(cost, 1) < 1<<14 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	fn(0, min(chunk, n))
	wg.Wait()
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
	for r := 0; r < rows; r++ {
		copy(y[r*l.out:(r+1)*l.out], l.Bias.Data)
	}
	blas.Sgemm(false, true, rows, l.out, l.in, 1, x, l.in, l.Weight.Data, l.in, 1, y, l.out)
	return y
}

// Backward accumulates dW += dyᵀ·x and db += Σ dy for trainable
// parameters and returns dx = dy·W in the module's own buffer, or nil when
// needDx is false.
func (l *Linear) Backward(dy []float32, needDx bool) []float32 {
	l.accumulateParamGrads(dy)
	if !needDx {
		l.sink.done(l.Weight, l.Bias)
		return nil
	}
	dx := grow(slot(&l.dx), l.rows*l.in)
	blas.Sgemm(false, false, l.rows, l.in, l.out, 1, dy, l.out, l.Weight.Data, l.in, 0, dx, l.in)
	l.sink.done(l.Weight, l.Bias) // only now: dx reads the weights before the update
	return dx
}

// BackwardInto adds dy·W into dx, for inputs that fan out to several
// layers (Q, K and V read the same hidden states).
func (l *Linear) BackwardInto(dy, dx []float32) {
	l.accumulateParamGrads(dy)
	blas.Sgemm(false, false, l.rows, l.in, l.out, 1, dy, l.out, l.Weight.Data, l.in, 1, dx, l.in)
	l.sink.done(l.Weight, l.Bias)
}

func (l *Linear) accumulateParamGrads(dy []float32) {
	if l.Weight.RequiresGrad() {
		blas.Sgemm(true, false, l.out, l.in, l.rows, 1, dy, l.out, l.x, l.in, 1, l.sink.grad(l.Weight), l.in)
	}
	if l.Bias.RequiresGrad() {
		db := l.sink.grad(l.Bias)
		for r := 0; r < l.rows; r++ {
			row := dy[r*l.out : (r+1)*l.out]
			for j, v := range row {
				db[j] += v
			}
		}
	}
}

// LayerNorm normalises each row over its last axis: (x−μ)/√(σ²+ε)·γ + β.
type LayerNorm struct {
	Weight *tensor.Tensor `pt:"weight"` // γ [dim]
	Bias   *tensor.Tensor `pt:"bias"`   // β [dim]

	dim        int
	eps        float64
	rows       int
	xhat, rstd []float32
	y          *[]float32 // output; Recompute rebuilds it from x̂, so it may be shared
	dx         *[]float32
	sink       *gradSink
}

func newLayerNorm(pm *paramMaker, dim int, eps float32) LayerNorm {
	return LayerNorm{Weight: pm.fill(1, dim), Bias: pm.fill(0, dim), dim: dim, eps: float64(eps), sink: pm.sink}
}

// Forward normalises x [rows, dim].
func (n *LayerNorm) Forward(x []float32, rows int) []float32 {
	d := n.dim
	n.rows = rows
	y := grow(slot(&n.y), rows*d)
	xhat := grow(&n.xhat, rows*d)
	rstd := grow(&n.rstd, rows)
	g, b := n.Weight.Data, n.Bias.Data
	parallelFor(rows, 4*d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x[r*d : (r+1)*d]
			var mean float64
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(d)
			var variance float64
			for _, v := range row {
				t := float64(v) - mean
				variance += t * t
			}
			variance /= float64(d)
			rs := 1 / math.Sqrt(variance+n.eps)
			rstd[r] = float32(rs)
			xh, yr := xhat[r*d:(r+1)*d], y[r*d:(r+1)*d]
			for j, v := range row {
				h := float32((float64(v) - mean) * rs)
				xh[j] = h
				yr[j] = h*g[j] + b[j]
			}
		}
	})
	return y
}

// Recompute rebuilds the last output x̂·γ + β (bit-identical: the same
// float32 operations as Forward) and returns it.
func (n *LayerNorm) Recompute() []float32 {
	d := n.dim
	y := grow(slot(&n.y), n.rows*d)
	g, b := n.Weight.Data, n.Bias.Data
	parallelFor(n.rows, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xh, yr := n.xhat[r*d:(r+1)*d], y[r*d:(r+1)*d]
			for j, h := range xh {
				yr[j] = h*g[j] + b[j]
			}
		}
	})
	return y
}

// Backward returns dx and accumulates dγ, dβ for trainable parameters.
func (n *LayerNorm) Backward(dy []float32) []float32 {
	d, rows := n.dim, n.rows
	dx := grow(slot(&n.dx), rows*d)
	g := n.Weight.Data
	parallelFor(rows, 6*d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dyr, xh, dxr := dy[r*d:(r+1)*d], n.xhat[r*d:(r+1)*d], dx[r*d:(r+1)*d]
			var s1, s2 float64 // Σ dx̂ and Σ dx̂·x̂
			for j, v := range dyr {
				dh := float64(v * g[j])
				s1 += dh
				s2 += dh * float64(xh[j])
			}
			s1 /= float64(d)
			s2 /= float64(d)
			rs := float64(n.rstd[r])
			for j, v := range dyr {
				dh := float64(v * g[j])
				dxr[j] = float32(rs * (dh - s1 - float64(xh[j])*s2))
			}
		}
	})
	if n.Weight.RequiresGrad() || n.Bias.RequiresGrad() {
		dg, db := n.sink.grad(n.Weight), n.sink.grad(n.Bias)
		for r := 0; r < rows; r++ {
			dyr, xh := dy[r*d:(r+1)*d], n.xhat[r*d:(r+1)*d]
			for j, v := range dyr {
				dg[j] += v * xh[j]
				db[j] += v
			}
		}
		n.sink.done(n.Weight, n.Bias)
	}
	return dx
}

// gelu is the exact form x·Φ(x) = x/2·(1 + erf(x/√2)) used by BERT and
// MMF, evaluated in float32 precision by tensor.GELUInto. Its output is not
// kept: Recompute rebuilds it for the backward pass of the layer that
// reads it, so the buffer can be shared across layers.
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
	parallelFor(len(x), 20, func(lo, hi int) { tensor.GELUInto(y[lo:hi], x[lo:hi]) })
	return y
}

func (a *gelu) Backward(dy []float32) []float32 {
	dx := grow(slot(&a.dx), len(dy))
	parallelFor(len(dy), 20, func(lo, hi int) { tensor.GELUGradInto(dx[lo:hi], dy[lo:hi], a.x[lo:hi]) })
	return dx
}

// expf is e^x in float32 precision (Cephes' expf: range reduction by
// ln 2 and a degree-7 polynomial, about 1 ulp). It underflows to 0 below
// −87.3 and overflows to +Inf above 88.7.
func expf(x float32) float32 {
	switch {
	case x < -87.3:
		return 0
	case x > 88.7:
		return float32(math.Inf(1))
	}
	// k = floor(x·log₂e + ½) without math.Floor, which is a slow call here.
	t := x*1.44269504 + 0.5
	ki := int32(t) // truncates toward zero
	if float32(ki) > t {
		ki--
	}
	k := float32(ki)
	r := x - k*0.693359375 + k*2.12194440e-4
	q := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	y := q*r*r + r + 1
	return y * math.Float32frombits(uint32(ki+127)<<23)
}

// dropout zeroes values with probability p in training and scales the
// rest by 1/(1−p); the keep bits are kept for the backward pass.
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
	words := (len(x) + 63) / 64
	if cap(d.keep) < words {
		d.keep = make([]uint64, words)
	}
	d.keep = d.keep[:words]
	clear(d.keep)
	threshold := uint32(float64(d.p) * (1 << 24))
	scale := 1 / (1 - d.p)
	for i := range x {
		if uint32(rng.Uint64()>>40) >= threshold {
			d.keep[i>>6] |= 1 << (i & 63)
			x[i] *= scale
		} else {
			x[i] = 0
		}
	}
}

// backward applies the same mask and scale to a gradient, in place.
func (d *dropout) backward(g []float32) {
	if !d.active {
		return
	}
	scale := 1 / (1 - d.p)
	for i := range g {
		if d.keep[i>>6]&(1<<(i&63)) != 0 {
			g[i] *= scale
		} else {
			g[i] = 0
		}
	}
}

// attention is multi-head scaled dot-product attention of Lq queries over
// Lk keys per batch item, with an additive mask over keys. Queries, keys
// and values are [B·L, heads·hd] row-major, so a head is a strided column
// block and no split/merge copies are needed.
type attention struct {
	heads, hd int
	drop      dropout

	b, lq, lk int
	q, k, v   []float32
	mask      []float32 // [B, Lk] additive
	probs     []float32 // [B, heads, Lq, Lk] softmax output
	// dprob holds the probabilities after dropout. Only the keep bits
	// are stored; the backward pass rebuilds it, so the buffer can be
	// shared across layers.
	dprob      *[]float32
	ctx        *[]float32 // rebuilt by RecomputeContext, so shareable
	dq, dk, dv *[]float32
	ds         *[]float32
}

// Forward returns the merged context [B·Lq, heads·hd].
func (a *attention) Forward(q, k, v []float32, b, lq, lk int, mask []float32, train bool, rng *tensor.RNG) []float32 {
	a.q, a.k, a.v, a.b, a.lq, a.lk, a.mask = q, k, v, b, lq, lk, mask
	D := a.heads * a.hd
	scale := float32(1 / math.Sqrt(float64(a.hd)))
	probs := grow(&a.probs, b*a.heads*lq*lk)
	for bi := 0; bi < b; bi++ {
		for h := 0; h < a.heads; h++ {
			s := probs[(bi*a.heads+h)*lq*lk : (bi*a.heads+h+1)*lq*lk]
			blas.Sgemm(false, true, lq, lk, a.hd, scale, q[bi*lq*D+h*a.hd:], D, k[bi*lk*D+h*a.hd:], D, 0, s, lk)
		}
	}
	parallelFor(b*a.heads*lq, 8*lk, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi := r / (a.heads * lq)
			softmaxRow(probs[r*lk:(r+1)*lk], mask[bi*lk:(bi+1)*lk])
		}
	})
	p := probs
	if train && a.drop.p > 0 {
		p = grow(slot(&a.dprob), len(probs))
		copy(p, probs)
		a.drop.apply(p, train, rng)
	} else {
		a.drop.active = false
	}
	return a.context(p)
}

// context is P·V per head, merged: [B·Lq, heads·hd].
func (a *attention) context(p []float32) []float32 {
	b, lq, lk, D := a.b, a.lq, a.lk, a.heads*a.hd
	ctx := grow(slot(&a.ctx), b*lq*D)
	for bi := 0; bi < b; bi++ {
		for h := 0; h < a.heads; h++ {
			pr := p[(bi*a.heads+h)*lq*lk : (bi*a.heads+h+1)*lq*lk]
			blas.Sgemm(false, false, lq, a.hd, lk, 1, pr, lk, a.v[bi*lk*D+h*a.hd:], D, 0, ctx[bi*lq*D+h*a.hd:], D)
		}
	}
	return ctx
}

// droppedProbs returns the probabilities as the forward pass used them,
// rebuilding the dropped copy from the kept mask bits.
func (a *attention) droppedProbs() []float32 {
	if !a.drop.active {
		return a.probs
	}
	p := grow(slot(&a.dprob), len(a.probs))
	copy(p, a.probs)
	a.drop.backward(p) // the same mask and scale as the forward pass
	return p
}

// RecomputeContext rebuilds the last forward output for the backward
// pass of the projection that reads it.
func (a *attention) RecomputeContext() []float32 { return a.context(a.droppedProbs()) }

func softmaxRow(s, mask []float32) {
	m := float32(math.Inf(-1))
	for j := range s {
		s[j] += mask[j]
		m = max(m, s[j])
	}
	var sum float64
	for j, v := range s {
		e := expf(v - m)
		s[j] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for j := range s {
		s[j] *= inv
	}
}

// Backward takes dctx and returns dq, dk, dv (module-owned buffers).
func (a *attention) Backward(dctx []float32) (dq, dk, dv []float32) {
	b, lq, lk, H, hd := a.b, a.lq, a.lk, a.heads, a.hd
	D := H * hd
	scale := float32(1 / math.Sqrt(float64(hd)))
	dq = grow(slot(&a.dq), b*lq*D)
	dk = grow(slot(&a.dk), b*lk*D)
	dv = grow(slot(&a.dv), b*lk*D)
	ds := grow(slot(&a.ds), b*H*lq*lk)
	p := a.droppedProbs()
	for bi := 0; bi < b; bi++ {
		for h := 0; h < H; h++ {
			o := (bi*H + h) * lq * lk
			// dP' = dctx·Vᵀ ; dV = P'ᵀ·dctx
			blas.Sgemm(false, true, lq, lk, hd, 1, dctx[bi*lq*D+h*hd:], D, a.v[bi*lk*D+h*hd:], D, 0, ds[o:o+lq*lk], lk)
			blas.Sgemm(true, false, lk, hd, lq, 1, p[o:o+lq*lk], lk, dctx[bi*lq*D+h*hd:], D, 0, dv[bi*lk*D+h*hd:], D)
		}
	}
	a.drop.backward(ds)
	// Softmax backward: dS = P ⊙ (dP − Σ_j P·dP).
	probs := a.probs
	parallelFor(b*H*lq, 4*lk, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			pr, dr := probs[r*lk:(r+1)*lk], ds[r*lk:(r+1)*lk]
			var dot float64
			for j, v := range pr {
				dot += float64(v * dr[j])
			}
			d := float32(dot)
			for j, v := range pr {
				dr[j] = v * (dr[j] - d)
			}
		}
	})
	for bi := 0; bi < b; bi++ {
		for h := 0; h < H; h++ {
			o := (bi*H + h) * lq * lk
			blas.Sgemm(false, false, lq, hd, lk, scale, ds[o:o+lq*lk], lk, a.k[bi*lk*D+h*hd:], D, 0, dq[bi*lq*D+h*hd:], D)
			blas.Sgemm(true, false, lk, hd, lq, scale, ds[o:o+lq*lk], lk, a.q[bi*lq*D+h*hd:], D, 0, dk[bi*lk*D+h*hd:], D)
		}
	}
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
