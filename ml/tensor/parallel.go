package tensor

import "mmc/ml/kernels"

// The tape ops run their loops through ml/kernels, so ml/ has one
// threading model and one threshold.

func parallelFor(n, cost int, fn func(lo, hi int)) { kernels.ParallelFor(n, cost, fn) }

func addTo(dst, src []float32) {
	parallelFor(len(dst), 1, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}
