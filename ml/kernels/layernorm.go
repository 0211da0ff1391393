package kernels

// LayerNorm normalises each of the rows of x [rows, d] to zero mean and
// unit (biased) variance, statistics in float64, and writes
// x̂·gamma + beta into y (y may be x). gamma and beta may be nil (1 and
// 0). mean and rstd ([rows] each) receive the statistics for the backward
// pass and may be nil for inference.
func LayerNorm(y, mean, rstd, x, gamma, beta []float32, rows, d int, eps float32) {
	checkLen("LayerNorm", len(x), rows*d)
	checkLen("LayerNorm", len(y), rows*d)
	ParallelFor(rows, 4*d, func(lo, hi int) {
		var m, r []float32
		if mean != nil {
			m = mean[lo:hi]
		}
		if rstd != nil {
			r = rstd[lo:hi]
		}
		layerNormSerial(y[lo*d:hi*d], m, r, x[lo*d:hi*d], gamma, beta, hi-lo, d, eps)
	})
}

// LayerNormApply writes LayerNorm's output again from the statistics a
// LayerNorm call saved: the same values bit for bit, without the pass
// over the data that computes them.
func LayerNormApply(y, x, mean, rstd, gamma, beta []float32, rows, d int) {
	checkLen("LayerNormApply", len(x), rows*d)
	checkLen("LayerNormApply", len(y), rows*d)
	checkLen("LayerNormApply", len(mean), rows)
	checkLen("LayerNormApply", len(rstd), rows)
	ParallelFor(rows, 2*d, func(lo, hi int) {
		layerNormApplySerial(y[lo*d:hi*d], x[lo*d:hi*d], mean[lo:hi], rstd[lo:hi], gamma, beta, hi-lo, d)
	})
}

// LayerNormBackward takes dy on the output of LayerNorm(x) with the saved
// mean and rstd. It writes the input gradient into dx (unless nil; dx may
// be dy) and adds the parameter gradients into dgamma and dbeta (unless
// nil). gamma nil means 1.
func LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma []float32, rows, d int) {
	checkLen("LayerNormBackward", len(x), rows*d)
	checkLen("LayerNormBackward", len(dy), rows*d)
	checkLen("LayerNormBackward", len(mean), rows)
	checkLen("LayerNormBackward", len(rstd), rows)
	if dx != nil {
		checkLen("LayerNormBackward", len(dx), rows*d)
	}
	var parts []float32
	if dgamma != nil || dbeta != nil {
		parts = make([]float32, 2*Workers()*d)
	}
	used := ParallelChunks(rows, 6*d, func(c, lo, hi int) {
		var dg, db, dxc []float32
		if parts != nil {
			dg, db = parts[2*c*d:(2*c+1)*d], parts[(2*c+1)*d:(2*c+2)*d]
		}
		if dx != nil {
			dxc = dx[lo*d : hi*d]
		}
		layerNormBackwardSerial(dxc, dg, db, dy[lo*d:hi*d], x[lo*d:hi*d], mean[lo:hi], rstd[lo:hi], gamma, hi-lo, d)
	})
	for c := 0; c < used && parts != nil; c++ {
		if dgamma != nil {
			for j, v := range parts[2*c*d : (2*c+1)*d] {
				dgamma[j] += v
			}
		}
		if dbeta != nil {
			for j, v := range parts[(2*c+1)*d : (2*c+2)*d] {
				dbeta[j] += v
			}
		}
	}
}
