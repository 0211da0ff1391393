//go:build !cgo || noblas

package kernels

import "math"

func geluSerial(y, x []float32) {
	for i, v := range x {
		y[i] = geluScalar(v)
	}
}

func geluGradSerial(dx, dy, x []float32) {
	for i, v := range x {
		dx[i] = dy[i] * geluGradScalar(v)
	}
}

func biasGELUSerial(y, h, b []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		yr, hr := y[r*n:(r+1)*n], h[r*n:(r+1)*n]
		for i := range hr {
			v := hr[i] + b[i]
			hr[i] = v
			yr[i] = geluScalar(v)
		}
	}
}

func softmaxSerial(dst, src, mask []float32, rows, n, per int) {
	per = max(per, 1)
	for r := 0; r < rows; r++ {
		in, o := src[r*n:(r+1)*n], dst[r*n:(r+1)*n]
		var m []float32
		if mask != nil {
			m = mask[(r/per)*n : (r/per+1)*n]
		}
		mx := float32(math.Inf(-1))
		for j, v := range in {
			if m != nil {
				v += m[j]
			}
			o[j] = v
			mx = max(mx, v)
		}
		if math.IsInf(float64(mx), -1) {
			for j := range o {
				o[j] = 1 / float32(n)
			}
			continue
		}
		var s float32
		for j, v := range o {
			e := Expf(v - mx)
			o[j] = e
			s += e
		}
		inv := 1 / s
		for j := range o {
			o[j] *= inv
		}
	}
}

func softmaxBackwardSerial(dx, y, dy []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		yr, gr, o := y[r*n:(r+1)*n], dy[r*n:(r+1)*n], dx[r*n:(r+1)*n]
		var dot float32
		for j := range yr {
			dot += yr[j] * gr[j]
		}
		for j := range yr {
			o[j] = yr[j] * (gr[j] - dot)
		}
	}
}

func adamwSerial(p, g, m, v []float32, keep, b1, c1, b2, c2, stepSize, bc2sqrt, eps float32) {
	for i := range p {
		p[i] *= keep
		m[i] = m[i]*b1 + c1*g[i]
		v[i] = v[i]*b2 + c2*g[i]*g[i]
		denom := float32(math.Sqrt(float64(v[i])))/bc2sqrt + eps
		p[i] -= stepSize * m[i] / denom
	}
}

func allFiniteSerial(s []float32) bool {
	for _, v := range s {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return false
		}
	}
	return true
}
