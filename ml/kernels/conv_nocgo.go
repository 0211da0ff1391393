//go:build !cgo || noblas

package kernels

// The Go versions of conv_cgo.go's loops (see there and conv_winograd.go).

// winoBT, winoAT and winoG are the one-dimensional transforms of F(m, 3)
// on x spaced by sx into y spaced by sy.
func winoBT(m int, y []float32, sy int, x []float32, sx int) {
	if m == 2 {
		d0, d1, d2, d3 := x[0], x[sx], x[2*sx], x[3*sx]
		y[0], y[sy], y[2*sy], y[3*sy] = d0-d2, d1+d2, d2-d1, d1-d3
		return
	}
	d0, d1, d2, d3, d4, d5 := x[0], x[sx], x[2*sx], x[3*sx], x[4*sx], x[5*sx]
	y[0] = 4*d0 - 5*d2 + d4
	y[sy] = d3 + d4 - 4*(d1+d2)
	y[2*sy] = d4 - d3 + 4*(d1-d2)
	y[3*sy] = d4 - d2 + 2*(d3-d1)
	y[4*sy] = d4 - d2 - 2*(d3-d1)
	y[5*sy] = 4*d1 - 5*d3 + d5
}

func winoAT(m int, y []float32, sy int, x []float32, sx int) {
	if m == 2 {
		m0, m1, m2, m3 := x[0], x[sx], x[2*sx], x[3*sx]
		y[0], y[sy] = m0+m1+m2, m1-m2-m3
		return
	}
	m0, m1, m2, m3, m4, m5 := x[0], x[sx], x[2*sx], x[3*sx], x[4*sx], x[5*sx]
	s12, d12, s34, d34 := m1+m2, m1-m2, m3+m4, m3-m4
	y[0] = m0 + s12 + s34
	y[sy] = d12 + 2*d34
	y[2*sy] = s12 + 4*s34
	y[3*sy] = d12 + 8*d34 + m5
}

func winoG(m int, y []float64, sy int, x []float64, sx int) {
	g0, g1, g2 := x[0], x[sx], x[2*sx]
	if m == 2 {
		y[0], y[sy], y[2*sy], y[3*sy] = g0, 0.5*(g0+g1+g2), 0.5*(g0-g1+g2), g2
		return
	}
	y[0] = g0 / 4
	y[sy] = -(g0 + g1 + g2) / 6
	y[2*sy] = -(g0 - g1 + g2) / 6
	y[3*sy] = g0/24 + g1/12 + g2/6
	y[4*sy] = g0/24 - g1/12 + g2/6
	y[5*sy] = g2
}

func winoWeightsSerial(m int, u, weight []float32, outC, inC, lo, hi, plane int) {
	a := m + 2
	var x [9]float64
	var ga [18]float64
	var t [36]float64
	for o := lo; o < hi; o++ {
		for i := 0; i < inC; i++ {
			for j, v := range weight[(o*inC+i)*9 : (o*inC+i+1)*9] {
				x[j] = float64(v)
			}
			for c := 0; c < 3; c++ {
				winoG(m, ga[c:], 3, x[c:], 3)
			}
			for r := 0; r < a; r++ {
				winoG(m, t[r*a:], 1, ga[r*3:], 1)
			}
			at := o*inC + i
			for p := 0; p < a*a; p++ {
				u[p*plane+at] = float32(t[p])
			}
		}
	}
}

func winoInputSerial(m int, v, plane []float32, ci, stride, nt, t0, h, w, th, tw int) {
	a := m + 2
	var d, e [36]float32
	for k := 0; k < nt; k++ {
		t := t0 + k
		tx, ty, img := t%tw, t/tw%th, t/(tw*th)
		y0, x0 := m*ty-1, m*tx-1
		src := plane[img*h*w : (img+1)*h*w]
		for r := 0; r < a; r++ {
			y := y0 + r
			for q := 0; q < a; q++ {
				x := x0 + q
				if y >= 0 && y < h && x >= 0 && x < w {
					d[a*r+q] = src[y*w+x]
				} else {
					d[a*r+q] = 0
				}
			}
		}
		for q := 0; q < a; q++ {
			winoBT(m, e[q:], a, d[q:], a)
		}
		for r := 0; r < a; r++ {
			winoBT(m, d[a*r:], 1, e[a*r:], 1)
		}
		for p := 0; p < a*a; p++ {
			v[p*stride+ci*nt+k] = d[p]
		}
	}
}

func winoOutputSerial(m int, plane, prod []float32, o, stride, nt, t0, h, w, th, tw int, bias float32, acc, relu bool) {
	a := m + 2
	var x [36]float32
	var s [24]float32
	var y [16]float32
	for k := 0; k < nt; k++ {
		t := t0 + k
		tx, ty, img := t%tw, t/tw%th, t/(tw*th)
		for p := 0; p < a*a; p++ {
			x[p] = prod[p*stride+o*nt+k]
		}
		for q := 0; q < a; q++ {
			winoAT(m, s[q:], a, x[q:], a)
		}
		for r := 0; r < m; r++ {
			winoAT(m, y[m*r:], 1, s[a*r:], 1)
		}
		dst := plane[img*h*w : (img+1)*h*w]
		for r := 0; r < m && m*ty+r < h; r++ {
			row := dst[(m*ty+r)*w : (m*ty+r+1)*w]
			for q := 0; q < m && m*tx+q < w; q++ {
				val := y[m*r+q] + bias
				if acc {
					val = row[m*tx+q] + y[m*r+q] + bias
				}
				if relu && val < 0 {
					val = 0
				}
				row[m*tx+q] = val
			}
		}
	}
}

// convEpilogueSerial adds bias[o] (nil: none) to the width values at
// out[o·ld:] of rows o < rows and applies the ReLU when relu.
func convEpilogueSerial(out, bias []float32, rows, ld, width int, relu bool) {
	for o := 0; o < rows; o++ {
		var bv float32
		if bias != nil {
			bv = bias[o]
		}
		row := out[o*ld : o*ld+width]
		if relu {
			for i, v := range row {
				row[i] = max(v+bv, 0)
			}
		} else if bv != 0 {
			for i := range row {
				row[i] += bv
			}
		}
	}
}
