package nn

import (
	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// Explicit-backward use of the modules. Besides the autograd Forward on
// tensors, Linear and LayerNorm (and the BERT blocks in bert.go) run over
// plain slices with a hand-written backward pass. A module holds only its
// parameters; what a forward pass keeps for its backward pass lives in a
// state value the caller owns (one per module and call), and temporaries
// live in a scratch value that modules of one kind share. Two calls with
// their own states and scratches can run at once on the same parameters.

// Grow returns (*b)[:n], reallocating only when the capacity is short.
// The contents are unspecified; callers overwrite them.
func Grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	*b = (*b)[:n]
	return *b
}

// Zeroed is Grow followed by clearing.
func Zeroed(b *[]float32, n int) []float32 {
	s := Grow(b, n)
	clear(s)
	return s
}

// AddInto adds src into dst (kernels.Add in place).
func AddInto(dst, src []float32) { kernels.Add(dst, dst, src) }

// GradSink decides where parameter gradients go. A nil sink, or one
// without an apply function, accumulates them in each parameter's Grad.
// With Start(apply), a module's gradients are written to shared zeroed
// buffers and handed to apply as soon as the module has finished them (an
// optimizer step inside the backward pass), so a model holds as many
// gradient buffers as one module has gradients in flight (two for a
// Linear, six for a fused QKV) instead of one per parameter.
type GradSink struct {
	apply     func(*tensor.Tensor) error
	applyRows RowApply
	bufs      [][]float32 // grown to the most gradients in flight at once
	used      int
	err       error // the first error apply returned; later updates are skipped
}

// RowApply takes the gradient of a table p [rows, width] given on some of
// its rows only: grad holds len(rows) rows of width values for the
// strictly increasing row indices rows; every other row's gradient is 0
// (an embedding table's, touched only at the batch's ids).
type RowApply func(p *tensor.Tensor, rows []int32, grad []float32) error

// Start routes finished gradients to apply until Stop.
func (s *GradSink) Start(apply func(*tensor.Tensor) error) { s.StartRows(apply, nil) }

// StartRows is Start where an embedding table may hand its gradient to
// applyRows on its touched rows only (Rows), without a dense buffer the
// size of the table.
func (s *GradSink) StartRows(apply func(*tensor.Tensor) error, applyRows RowApply) {
	s.apply, s.applyRows, s.err, s.used = apply, applyRows, nil, 0
}

// Stop returns to accumulating in Grad and reports the first error apply
// returned since Start.
func (s *GradSink) Stop() error {
	s.apply, s.applyRows = nil, nil
	return s.err
}

// Rows reports whether p's gradient may be handed over by row (DoneRows)
// instead of in a dense buffer from Grad.
func (s *GradSink) Rows(p *tensor.Tensor) bool {
	return s != nil && s.apply != nil && s.applyRows != nil && p.RequiresGrad()
}

// DoneRows hands the finished row-sparse gradient of p (see RowApply) to
// the update; only valid when Rows(p).
func (s *GradSink) DoneRows(p *tensor.Tensor, rows []int32, grad []float32) {
	if s.err == nil {
		s.err = s.applyRows(p, rows, grad)
	}
}

// Grad returns the buffer p's gradient accumulates into.
func (s *GradSink) Grad(p *tensor.Tensor) []float32 {
	if s == nil || s.apply == nil {
		if p.Grad == nil {
			p.Grad = make([]float32, len(p.Data))
		}
		return p.Grad
	}
	clear(s.slot(p))
	return p.Grad
}

// slot points p.Grad at the next shared buffer, sized but not zeroed.
func (s *GradSink) slot(p *tensor.Tensor) []float32 {
	if s.used == len(s.bufs) {
		s.bufs = append(s.bufs, nil)
	}
	p.Grad = Grow(&s.bufs[s.used], len(p.Data))
	s.used++
	return p.Grad
}

// Done hands the finished gradients of ps to apply and releases their
// buffers. Parameters without a gradient are skipped.
func (s *GradSink) Done(ps ...*tensor.Tensor) {
	if s == nil || s.apply == nil {
		return
	}
	for _, p := range ps {
		if p == nil || p.Grad == nil {
			continue
		}
		if s.err == nil {
			s.err = s.apply(p)
		}
		p.Grad = nil
	}
	s.used = 0
}

// weightGrad is gradIf for a gradient the caller writes whole (a weight
// product): through a sink the buffer is not zeroed first and add is
// false (overwrite it); without one it is p.Grad and add is true.
func (s *GradSink) weightGrad(p *tensor.Tensor) (g []float32, add bool) {
	if p == nil || !p.RequiresGrad() {
		return nil, false
	}
	if s == nil || s.apply == nil {
		return s.Grad(p), true
	}
	return s.slot(p), false
}

// gradIf is s.Grad(p) for a trainable p, nil otherwise.
func (s *GradSink) gradIf(p *tensor.Tensor) []float32 {
	if p == nil || !p.RequiresGrad() {
		return nil
	}
	return s.Grad(p)
}

// Dims returns the layer's input and output sizes.
func (l *Linear) Dims() (in, out int) { return l.Weight.Shape[1], l.Weight.Shape[0] }

// Apply writes y = x·Wᵀ + b for x [rows, in] into y [rows, out].
func (l *Linear) Apply(y, x []float32, rows int) {
	in, out := l.Dims()
	var b []float32
	if l.Bias != nil {
		b = l.Bias.Data
	}
	kernels.Linear(y, x, l.Weight.Data, b, rows, in, out)
}

// Backprop takes dy [rows, out] on the output of Apply(x). It adds the
// weight and bias gradients of trainable parameters through s and writes
// (addDx false) or adds (addDx true) dy·W into dx [rows, in], unless dx is
// nil. The parameters are handed on only after dx is computed, so an
// update inside the backward pass never changes the W that dx reads.
func (l *Linear) Backprop(dx, dy, x []float32, rows int, addDx bool, s *GradSink) {
	in, out := l.Dims()
	dw, addDw := s.weightGrad(l.Weight)
	kernels.LinearBackwardInto(dx, dw, s.gradIf(l.Bias), dy, x, l.Weight.Data, rows, in, out, addDx, addDw)
	s.Done(l.Weight, l.Bias)
}

// LNState is what LayerNorm keeps for its backward pass: its input and
// the row statistics.
type LNState struct {
	X, Mean, Rstd []float32
	rows          int
}

// Input sizes the state for rows×d values and returns the input buffer,
// for the caller to write the normalised layer's input into.
func (st *LNState) Input(rows, d int) []float32 {
	st.rows = rows
	return Grow(&st.X, rows*d)
}

// Normalize writes the layer's output for the input in st into y (the
// same values every time: a backward pass may call it again instead of
// keeping y).
func (l *LayerNorm) Normalize(y []float32, st *LNState) {
	d := l.Weight.Shape[0]
	kernels.LayerNorm(y, Grow(&st.Mean, st.rows), Grow(&st.Rstd, st.rows), st.X, l.Weight.Data, data(l.Bias), st.rows, d, l.Eps)
}

// Renormalize writes the output of the last Normalize of st into y again
// from the statistics it saved (bit-identical, one pass less).
func (l *LayerNorm) Renormalize(y []float32, st *LNState) {
	d := l.Weight.Shape[0]
	kernels.LayerNormApply(y, st.X, st.Mean, st.Rstd, l.Weight.Data, data(l.Bias), st.rows, d)
}

// Backprop writes the input gradient for dy into dx (unless nil) and adds
// the gradients of trainable γ and β through s.
func (l *LayerNorm) Backprop(dx, dy []float32, st *LNState, s *GradSink) {
	d := l.Weight.Shape[0]
	kernels.LayerNormBackward(dx, s.gradIf(l.Weight), s.gradIf(l.Bias), dy, st.X, st.Mean, st.Rstd, l.Weight.Data, st.rows, d)
	s.Done(l.Weight, l.Bias)
}

func data(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Data
}

// DropState is one dropout application's mask (kernels.DropoutMask).
type DropState struct {
	active bool
	keep   []uint64
}

// Apply drops values of x in place with probability p when train is set
// (drawing from rng) and keeps the mask for Backprop.
func (d *DropState) Apply(x []float32, p float32, train bool, rng *tensor.RNG) {
	if keep := d.draw(len(x), p, train, rng); keep != nil {
		kernels.DropoutApply(x, x, keep, p)
	}
}

// ApplyAdd writes dropout(x) + add into dst (x is left as it was), with
// the mask drawn and kept as Apply does: a dropout before a residual sum
// in one pass (kernels.DropoutAdd).
func (d *DropState) ApplyAdd(dst, x, add []float32, p float32, train bool, rng *tensor.RNG) {
	kernels.DropoutAdd(dst, x, add, d.draw(len(x), p, train, rng), p)
}

// draw records whether this application drops anything and, if so,
// draws and keeps a fresh mask for n values; nil when it does not.
func (d *DropState) draw(n int, p float32, train bool, rng *tensor.RNG) []uint64 {
	d.active = train && p > 0
	if !d.active {
		return nil
	}
	d.keep = growWords(d.keep, kernels.MaskWords(n))
	kernels.DropoutMask(d.keep, n, p, rng)
	return d.keep
}

// BackpropInto writes g with the forward pass's mask and scale applied
// into dst (a copy without dropout); dst may be g.
func (d *DropState) BackpropInto(dst, g []float32, p float32) {
	switch {
	case d.active:
		kernels.DropoutApply(dst, g, d.keep, p)
	case len(g) > 0 && &dst[0] != &g[0]:
		copy(dst, g)
	}
}

// Backprop applies the forward pass's mask and scale to g in place.
func (d *DropState) Backprop(g []float32, p float32) { d.BackpropInto(g, g, p) }

func growWords(b []uint64, n int) []uint64 {
	if cap(b) < n {
		return make([]uint64, n)
	}
	return b[:n]
}

// GELUInto writes the exact GELU of x into y (kernels.GELU).
func GELUInto(y, x []float32) { kernels.GELU(y, x) }

// GELUBackwardInto writes dy·GELU'(x) into dx (dx may be dy).
func GELUBackwardInto(dx, dy, x []float32) { kernels.GELUBackward(dx, dy, x) }
