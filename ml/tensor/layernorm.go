package tensor

import (
	"fmt"
	"math"
)

// LayerNorm normalises each row of x's last axis to zero mean and unit
// variance (biased, as PyTorch), then applies gamma and beta ([n] each;
// either may be nil for no affine part).
func LayerNorm(x, gamma, beta *Tensor, eps float32) *Tensor {
	rows, n := lastDim("LayerNorm", x)
	for _, p := range []*Tensor{gamma, beta} {
		if p != nil && (p.Dim() != 1 || p.Shape[0] != x.Shape[x.Dim()-1]) {
			panic(fmt.Sprintf("tensor.LayerNorm: parameter %v does not match the last axis of %v", p.Shape, x.Shape))
		}
	}
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	mean := make([]float32, rows)
	rstd := make([]float32, rows)
	parallelFor(rows, 4*n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, o := x.Data[r*n:(r+1)*n], out.Data[r*n:(r+1)*n]
			s := 0.0
			for _, v := range in {
				s += float64(v)
			}
			mu := s / float64(n)
			vs := 0.0
			for _, v := range in {
				d := float64(v) - mu
				vs += d * d
			}
			rs := 1 / math.Sqrt(vs/float64(n)+float64(eps))
			m32, r32 := float32(mu), float32(rs)
			mean[r], rstd[r] = m32, r32
			for j, v := range in {
				h := (v - m32) * r32
				if gamma != nil {
					h *= gamma.Data[j]
				}
				if beta != nil {
					h += beta.Data[j]
				}
				o[j] = h
			}
		}
	})
	return out.record(func() {
		dy := out.Grad
		workers := maxWorkers()
		dgs := make([][]float32, workers)
		dbs := make([][]float32, workers)
		var dx []float32
		if x.requiresGrad {
			dx = make([]float32, len(x.Data))
		}
		used := parallelChunks(rows, 6*n, func(c, lo, hi int) {
			dg := make([]float32, n)
			db := make([]float32, n)
			dxh := make([]float32, n)
			for r := lo; r < hi; r++ {
				in, g := x.Data[r*n:(r+1)*n], dy[r*n:(r+1)*n]
				m, rs := mean[r], rstd[r]
				var s1, s2 float64
				for j, v := range in {
					xh := (v - m) * rs
					dg[j] += g[j] * xh
					db[j] += g[j]
					d := g[j]
					if gamma != nil {
						d *= gamma.Data[j]
					}
					dxh[j] = d
					s1 += float64(d)
					s2 += float64(d * xh)
				}
				if dx != nil {
					a, b := float32(s1/float64(n)), float32(s2/float64(n))
					o := dx[r*n : (r+1)*n]
					for j, v := range in {
						xh := (v - m) * rs
						o[j] = rs * (dxh[j] - a - xh*b)
					}
				}
			}
			dgs[c], dbs[c] = dg, db
		})
		if dx != nil {
			x.accumulate(dx)
		}
		if gamma != nil && gamma.requiresGrad {
			reducePartials(gamma.grad(), dgs[:used])
		}
		if beta != nil && beta.requiresGrad {
			reducePartials(beta.grad(), dbs[:used])
		}
	}, x, gamma, beta)
}

func reducePartials(dst []float32, parts [][]float32) {
	for _, p := range parts {
		for j, v := range p {
			dst[j] += v
		}
	}
}
