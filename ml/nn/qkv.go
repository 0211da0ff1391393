package nn

import "mmc/ml/kernels"

// QKV is three Linears over the same input (the query, key and value
// projections of attention) run as one product with their weights packed
// into [3·out, in]: the input is read and packed once instead of three
// times, and the input gradient is one product over 3·out instead of
// three accumulated ones. The parameters stay three Linears, so
// checkpoint keys do not change.
type QKV [3]*Linear

// QKVScratch holds the packed weights and biases (rebuilt from the
// parameters at each use, so an update in between is never missed).
type QKVScratch struct{ w, b []float32 }

func (q QKV) pack(sc *QKVScratch) (w, b []float32, in, out int) {
	in, out = q[0].Dims()
	w, b = Grow(&sc.w, 3*out*in), Grow(&sc.b, 3*out)
	for i, l := range q {
		copy(w[i*out*in:(i+1)*out*in], l.Weight.Data)
		copy(b[i*out:(i+1)*out], l.Bias.Data)
	}
	return w, b, in, out
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
	in, out := q[0].Dims()
	// One projection at a time: a sink holds two gradients at once.
	params := func(parts int) {
		for i, l := range q {
			if dw := s.gradIf(l.Weight); dw != nil {
				kernels.WeightGradParts(parts, dw, dy[i*out:], 3*out, x, rows, in, out)
			}
			if db := s.gradIf(l.Bias); db != nil {
				kernels.BiasGradStrided(db, dy[i*out:], rows, out, 3*out)
			}
			s.Done(l.Weight, l.Bias)
		}
	}
	if dx == nil {
		params(kernels.Workers())
		return
	}
	// The input gradient, one product over weights packed before any of
	// them is updated, runs beside the weight gradients.
	w, _, _, _ := q.pack(sc)
	beta := float32(0)
	if addDx {
		beta = 1
	}
	kernels.Pair(rows*in*3*out, func(parts int) { kernels.LinearDxParts(parts, dx, dy, w, rows, in, 3*out, beta) }, params)
}
