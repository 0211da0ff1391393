package nn

import (
	"mmc/ml/kernels"
	"mmc/ml/tensor"
)

// QKV is three Linears over the same input (the query, key and value
// projections of attention) run as one product with their weights packed
// into [3·out, in]: the input is read and packed once instead of three
// times, and the input gradient is one product over 3·out instead of
// three accumulated ones. The parameters stay three Linears, so
// checkpoint keys do not change.
type QKV [3]*Linear

// QKVScratch holds the packed weights and biases (rebuilt from the
// parameters at each use, so an update in between is never missed) when
// the parameters do not already lie side by side (see NewQKV).
type QKVScratch struct{ w, b []float32 }

func (q QKV) pack(sc *QKVScratch) (w, b []float32, in, out int) {
	in, out = q[0].Dims()
	w = joined(&sc.w, q[0].Weight.Data, q[1].Weight.Data, q[2].Weight.Data)
	b = joined(&sc.b, q[0].Bias.Data, q[1].Bias.Data, q[2].Bias.Data)
	return w, b, in, out
}

// joined returns x, y and z as one slice: in place when they lie side by
// side (adjacent), else copied into buf.
func joined(buf *[]float32, x, y, z []float32) []float32 {
	if all := adjacent(x, y, z); all != nil {
		return all
	}
	n := len(x)
	all := Grow(buf, 3*n)
	copy(all, x)
	copy(all[n:], y)
	copy(all[2*n:], z)
	return all
}

// adjacent returns x, y and z as one slice when they lie one after the
// other in one array (x's capacity reaches over both others), else nil.
func adjacent(x, y, z []float32) []float32 {
	n := len(x)
	if n == 0 || len(y) != n || len(z) != n || cap(x) < 3*n {
		return nil
	}
	all := x[:3*n]
	if &all[n] != &y[0] || &all[2*n] != &z[0] {
		return nil
	}
	return all
}

// NewQKV returns three Linears in → out for a QKV whose weights (and
// biases) are views of one [3·out, in] (and [3·out]) array, so QKV's fused
// product reads them in place instead of copying them at every call.
// init, if not nil, fills each weight in turn (query, key, value: the
// order three separate initialisations would draw in); biases start at 0.
func NewQKV(in, out int, init func(w *tensor.Tensor)) (q, k, v *Linear) {
	w, b := make([]float32, 3*out*in), make([]float32, 3*out)
	var ls [3]*Linear
	for i := range ls {
		// Each view keeps the capacity to the array's end: adjacent
		// finds the three from the first.
		wt := tensor.New(w[i*out*in:(i+1)*out*in], out, in).SetRequiresGrad(true)
		if init != nil {
			init(wt)
		}
		ls[i] = &Linear{Weight: wt, Bias: tensor.New(b[i*out:(i+1)*out], out).SetRequiresGrad(true)}
	}
	return ls[0], ls[1], ls[2]
}

// Forward writes [x·Wqᵀ+bq | x·Wkᵀ+bk | x·Wvᵀ+bv] into y [rows, 3·out]:
// row r holds the query, key and value of input row r side by side.
func (q QKV) Forward(sc *QKVScratch, y, x []float32, rows int) {
	w, b, in, out := q.pack(sc)
	kernels.Linear(y, x, w, b, rows, in, 3*out)
}

// Backward takes dy [rows, 3·out] laid out as Forward's output. It writes
// (addDx false) or adds (addDx true) the input gradient into dx unless dx
// is nil, then adds each projection's weight and bias gradients through s
// and hands them on.
func (q QKV) Backward(sc *QKVScratch, dx []float32, addDx bool, dy, x []float32, rows int, s *GradSink) {
	var w []float32
	if dx != nil { // only the input gradient reads the packed weights
		w, _, _, _ = q.pack(sc)
	}
	fusedBackward(q[:], w, dx, addDx, dy, x, rows, s)
}

// fusedBackward is the backward pass of len(ls) Linears in → out over the
// same input x run as one product with the packed weights w [len(ls)·out,
// in] (read only when dx is not nil): dy is [rows, len(ls)·out], each
// Linear's gradient a column block. At most three Linears (a QKV, or its
// key and value).
func fusedBackward(ls []*Linear, w, dx []float32, addDx bool, dy, x []float32, rows int, s *GradSink) {
	in, out := ls[0].Dims()
	ld := len(ls) * out
	// The biases' gradients first, on every worker; then the weights'
	// products (as many flops as the input gradient's) beside the input
	// gradient, and the updates after both, again on every worker. Updates
	// inside the pair ran on the weights' side only and left the other
	// core idle for a fifth of the pair (bench/vilbert).
	var dwa [3][]float32 // len(ls) ≤ 3: no allocation in a step
	var adda [3]bool
	dws, add := dwa[:len(ls)], adda[:len(ls)]
	for i, l := range ls {
		dws[i], add[i] = s.weightGrad(l.Weight)
		if db := s.gradIf(l.Bias); db != nil {
			kernels.BiasGradStrided(db, dy[i*out:], rows, out, ld)
		}
	}
	params := func(parts int) {
		for i, dw := range dws {
			if dw != nil {
				kernels.WeightGradParts(parts, dw, dy[i*out:], ld, x, rows, in, out, add[i])
			}
		}
	}
	done := func() {
		for _, l := range ls {
			s.Done(l.Weight, l.Bias)
		}
	}
	if dx == nil {
		params(kernels.Workers())
		done()
		return
	}
	// The input gradient, one product over the weights (updated only
	// after it), runs beside the weight gradients.
	beta := float32(0)
	if addDx {
		beta = 1
	}
	kernels.Pair(rows*in*ld, func(parts int) { kernels.LinearDxParts(parts, dx, dy, w, rows, in, ld, beta) }, params)
	done()
}
