package tensor

import "mmc/ml/kernels"

// The tape ops run their loops through ml/kernels, so ml/ has one
// threading model and one threshold.

func parallelFor(n, cost int, fn func(lo, hi int)) { kernels.ParallelFor(n, cost, fn) }

func addTo(dst, src []float32) { kernels.Add(dst, dst, src) }
