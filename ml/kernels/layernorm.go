package kernels

import "math"

// LayerNorm normalises each of the rows of x [rows, d] to zero mean and
// unit (biased) variance, statistics in float64, and writes
// x̂·gamma + beta into y (y may be x). gamma and beta may be nil (1 and
// 0). mean and rstd ([rows] each) receive the statistics for the backward
// pass and may be nil for inference.
func LayerNorm(y, mean, rstd, x, gamma, beta []float32, rows, d int, eps float32) {
	checkLen("LayerNorm", len(x), rows*d)
	checkLen("LayerNorm", len(y), rows*d)
	ParallelFor(rows, 4*d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, o := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			var s float64
			for _, v := range in {
				s += float64(v)
			}
			mu := s / float64(d)
			var vs float64
			for _, v := range in {
				t := float64(v) - mu
				vs += t * t
			}
			m32 := float32(mu)
			r32 := float32(1 / math.Sqrt(vs/float64(d)+float64(eps)))
			if mean != nil {
				mean[r] = m32
			}
			if rstd != nil {
				rstd[r] = r32
			}
			switch {
			case gamma != nil && beta != nil:
				for j, v := range in {
					o[j] = (v-m32)*r32*gamma[j] + beta[j]
				}
			default:
				for j, v := range in {
					h := (v - m32) * r32
					if gamma != nil {
						h *= gamma[j]
					}
					if beta != nil {
						h += beta[j]
					}
					o[j] = h
				}
			}
		}
	})
}

// LayerNormBackward takes dy on the output of LayerNorm(x) with the saved
// mean and rstd. It writes the input gradient into dx (unless nil; dx may
// be dy) and adds the parameter gradients into dgamma and dbeta (unless
// nil). gamma nil means 1.
func LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma []float32, rows, d int) {
	checkLen("LayerNormBackward", len(x), rows*d)
	checkLen("LayerNormBackward", len(dy), rows*d)
	workers := Workers()
	var parts []float32
	if dgamma != nil || dbeta != nil {
		parts = make([]float32, 2*workers*d)
	}
	used := ParallelChunks(rows, 6*d, func(c, lo, hi int) {
		var dg, db []float32
		if parts != nil {
			dg, db = parts[2*c*d:(2*c+1)*d], parts[(2*c+1)*d:(2*c+2)*d]
		}
		for r := lo; r < hi; r++ {
			in, g := x[r*d:(r+1)*d], dy[r*d:(r+1)*d]
			m, rs := mean[r], rstd[r]
			if dg != nil {
				for j, v := range in {
					dg[j] += g[j] * ((v - m) * rs)
					db[j] += g[j]
				}
			}
			if dx == nil {
				continue
			}
			var s1, s2 float64 // Σ dx̂ and Σ dx̂·x̂
			for j, v := range in {
				dh := g[j]
				if gamma != nil {
					dh *= gamma[j]
				}
				s1 += float64(dh)
				s2 += float64(dh * ((v - m) * rs))
			}
			a, b := float32(s1/float64(d)), float32(s2/float64(d))
			o := dx[r*d : (r+1)*d]
			for j, v := range in {
				dh := g[j]
				if gamma != nil {
					dh *= gamma[j]
				}
				o[j] = rs * (dh - a - (v-m)*rs*b)
			}
		}
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
