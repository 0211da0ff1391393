package kernels

import "mmc/ml/blas"

// Linear writes y = x·wᵀ + b for x [rows, in], w [out, in] (PyTorch's
// layout) and b [out] (nil for none) into y [rows, out].
func Linear(y, x, w, b []float32, rows, in, out int) {
	beta := float32(0)
	if b != nil {
		checkLen("Linear bias", len(b), out)
		checkLen("Linear", len(y), rows*out)
		ParallelFor(rows, out, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				copy(y[r*out:(r+1)*out], b[:out])
			}
		})
		beta = 1
	}
	blas.Sgemm(false, true, rows, out, in, 1, x, in, w, in, beta, y, out)
}

// LinearBackward takes dy [rows, out] on the output of Linear. It writes
// (addDx false) or adds (addDx true) dx = dy·w into dx [rows, in], adds
// dyᵀ·x into dw [out, in] and the column sums of dy into db [out]. Each of
// dx, dw and db may be nil to skip it.
//
// The two products are independent and of equal size: with two or more
// workers they run side by side, each on its share (Pair).
func LinearBackward(dx, dw, db, dy, x, w []float32, rows, in, out int, addDx bool) {
	LinearBackwardInto(dx, dw, db, dy, x, w, rows, in, out, addDx, true)
}

// LinearBackwardInto is LinearBackward where addDw false overwrites dw
// instead of adding to it: a fresh gradient buffer need not be zeroed
// first (a serial pass over the weight's size before the pair, with the
// other core idle); the product's own zeroing runs on its side of the
// pair.
func LinearBackwardInto(dx, dw, db, dy, x, w []float32, rows, in, out int, addDx, addDw bool) {
	if db != nil {
		BiasGrad(db, dy, rows, out)
	}
	weight := func(parts int) {
		if dw != nil {
			WeightGradParts(parts, dw, dy, out, x, rows, in, out, addDw)
		}
	}
	input := func(parts int) {
		if dx != nil {
			beta := float32(0)
			if addDx {
				beta = 1
			}
			blas.SgemmParts(parts, false, false, rows, in, out, 1, dy, out, w, in, beta, dx, in)
		}
	}
	if dw == nil || dx == nil {
		weight(Workers())
		input(Workers())
		return
	}
	Pair(rows*in*out, input, weight)
}

// WeightGrad adds dyᵀ·x into dw [out, in] for dy [rows, out] with rows
// ldy apart (a column block of a wider gradient) and x [rows, in].
func WeightGrad(dw, dy []float32, ldy int, x []float32, rows, in, out int) {
	WeightGradParts(Workers(), dw, dy, ldy, x, rows, in, out, true)
}

// WeightGradParts is WeightGrad split over at most parts goroutines (see
// Pair); add false overwrites dw instead (see LinearBackwardInto).
func WeightGradParts(parts int, dw, dy []float32, ldy int, x []float32, rows, in, out int, add bool) {
	beta := float32(0)
	if add {
		beta = 1
	}
	blas.SgemmParts(parts, true, false, out, in, rows, 1, dy, ldy, x, in, beta, dw, in)
}

// BiasGrad adds the column sums of dy [rows, cols] into db [cols], summed
// in float64 per worker.
func BiasGrad(db, dy []float32, rows, cols int) { BiasGradStrided(db, dy, rows, cols, cols) }

// BiasGradStrided is BiasGrad over rows ld apart.
func BiasGradStrided(db, dy []float32, rows, cols, ld int) {
	if rows > 0 {
		checkLen("BiasGrad", len(dy), (rows-1)*ld+cols)
	}
	checkLen("BiasGrad", len(db), cols)
	parts := make([]float64, Workers()*cols)
	used := ParallelChunks(rows, cols, func(c, lo, hi int) {
		colSumSerial(parts[c*cols:(c+1)*cols], dy[lo*ld:], hi-lo, cols, ld)
	})
	for j := range db[:cols] {
		var s float64
		for c := 0; c < used; c++ {
			s += parts[c*cols+j]
		}
		db[j] += float32(s)
	}
}

// LinearDxParts writes dx = dy·w + beta·dx for dy [rows, out] and w [out,
// in], split over at most parts goroutines (see Pair).
func LinearDxParts(parts int, dx, dy, w []float32, rows, in, out int, beta float32) {
	blas.SgemmParts(parts, false, false, rows, in, out, 1, dy, out, w, in, beta, dx, in)
}
