package kernels

import "sync/atomic"

// AdamW applies one AdamW update to the parameters p with gradient g and
// moments m and v (all the same length), element by element in the order
// of PyTorch's single-tensor implementation:
//
//	p ← p·keep;  m ← m·b1 + c1·g;  v ← v·b2 + c2·g²;  p ← p − stepSize·m/(√v/bc2sqrt + eps)
//
// with keep = 1 − lr·weight_decay and c1, c2 the complements 1−β computed
// in float64 by the caller. Every product and sum is rounded in float32
// as written (the vectorised kernel fuses none), so the result is the
// same bit for bit as a scalar loop.
func AdamW(p, g, m, v []float32, keep, b1, c1, b2, c2, stepSize, bc2sqrt, eps float32) {
	n := len(p)
	checkLen("AdamW", len(g), n)
	checkLen("AdamW", len(m), n)
	checkLen("AdamW", len(v), n)
	ParallelFor(n, 8, func(lo, hi int) {
		adamwSerial(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], keep, b1, c1, b2, c2, stepSize, bc2sqrt, eps)
	})
}

// AllFinite reports whether every value of s is finite (no NaN, no ±Inf).
func AllFinite(s []float32) bool {
	var bad atomic.Bool
	ParallelFor(len(s), 1, func(lo, hi int) {
		if !allFiniteSerial(s[lo:hi]) {
			bad.Store(true)
		}
	})
	return !bad.Load()
}
