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

func geluWithGradSerial(y, d, x []float32) {
	for i, v := range x {
		c := normCDF(v)
		y[i] = v * c
		d[i] = geluGradFrom(v, c)
	}
}

func mulSerial(dst, a, b []float32) {
	for i, v := range a {
		dst[i] = v * b[i]
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
		for j, v := range o {
			o[j] = Expf(v - mx)
		}
		inv := 1 / lanes16Sum(o, nil)
		for j := range o {
			o[j] *= inv
		}
	}
}

// lanes16Sum is Σ a[j] (Σ a[j]·b[j] when b is not nil) in the C kernel's
// order: 16 partial sums, lane j%16, folded pairwise 8+8, 4+4, 2+2, 1+1.
func lanes16Sum(a, b []float32) float32 {
	var l [16]float32
	for j, v := range a {
		if b != nil {
			v *= b[j]
		}
		l[j%16] += v
	}
	for w := 8; w > 0; w /= 2 {
		for i := 0; i < w; i++ {
			l[i] += l[i+w]
		}
	}
	return l[0]
}

func softmaxBackwardSerial(dx, y, dy []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		yr, gr, o := y[r*n:(r+1)*n], dy[r*n:(r+1)*n], dx[r*n:(r+1)*n]
		dot := lanes16Sum(yr, gr)
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

func layerNormSerial(y, mean, rstd, x, g, b []float32, rows, d int, eps float32) {
	for r := 0; r < rows; r++ {
		in := x[r*d : (r+1)*d]
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
		lnApplyRow(y[r*d:(r+1)*d], in, m32, r32, g, b)
	}
}

func lnApplyRow(o, in []float32, m, r float32, g, b []float32) {
	for j, v := range in {
		h := (v - m) * r
		if g != nil {
			h *= g[j]
		}
		if b != nil {
			h += b[j]
		}
		o[j] = h
	}
}

func layerNormApplySerial(y, x, mean, rstd, g, b []float32, rows, d int) {
	for r := 0; r < rows; r++ {
		lnApplyRow(y[r*d:(r+1)*d], x[r*d:(r+1)*d], mean[r], rstd[r], g, b)
	}
}

func layerNormBackwardSerial(dx, dg, db, dy, x, mean, rstd, g []float32, rows, d int) {
	for r := 0; r < rows; r++ {
		in, gr := x[r*d:(r+1)*d], dy[r*d:(r+1)*d]
		m, rs := mean[r], rstd[r]
		if dg != nil {
			for j, v := range in {
				dg[j] += gr[j] * ((v - m) * rs)
				db[j] += gr[j]
			}
		}
		if dx == nil {
			continue
		}
		var s1, s2 float64
		for j, v := range in {
			h := gr[j]
			if g != nil {
				h *= g[j]
			}
			s1 += float64(h)
			s2 += float64(h * ((v - m) * rs))
		}
		a, bb := float32(s1/float64(d)), float32(s2/float64(d))
		o := dx[r*d : (r+1)*d]
		for j, v := range in {
			h := gr[j]
			if g != nil {
				h *= g[j]
			}
			o[j] = rs * (h - a - (v-m)*rs*bb)
		}
	}
}

// maskAt is DropoutApply over src whose first value is value off of the
// mask, a mask word at a time.
func maskAt(dst, src []float32, keep []uint64, off int, p float32) {
	scale := 1 / (1 - p)
	for i := 0; i < len(src); {
		j := off + i
		w := keep[j>>6] >> (j & 63)
		end := min(len(src), i+64-(j&63))
		for ; i < end; i++ {
			if w&1 != 0 {
				dst[i] = src[i] * scale
			} else {
				dst[i] = 0
			}
			w >>= 1
		}
	}
}

func dropoutAddSerial(dst, src, add []float32, keep []uint64, off int, p float32) {
	if keep == nil {
		for i, v := range src {
			dst[i] = v + add[i]
		}
		return
	}
	scale := 1 / (1 - p)
	for i, v := range src {
		j := off + i
		var h float32
		if keep[j>>6]>>(j&63)&1 != 0 {
			h = v * scale
		}
		dst[i] = h + add[i]
	}
}

func dropoutMaskWords(keep []uint64, w0, w1, n int, s0, threshold uint64) {
	for w := w0; w < w1; w++ {
		var bits uint64
		end := min(64, n-w*64)
		s := s0 + uint64(w*64)*golden
		for j := 0; j < end; j++ {
			s += golden
			if mix(s)>>40 >= threshold {
				bits |= 1 << j
			}
		}
		keep[w] = bits
	}
}

func colSumSerial(acc []float64, dy []float32, rows, cols, ld int) {
	for r := 0; r < rows; r++ {
		for j, v := range dy[r*ld : r*ld+cols] {
			acc[j] += float64(v)
		}
	}
}
