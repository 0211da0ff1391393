//go:build !cgo || noblas

package kernels

// The Go versions of conv_cgo.go's loops (see there and conv_winograd.go).

func winoWeightsSerial(u, weight []float32, outC, inC, lo, hi, plane int) {
	for o := lo; o < hi; o++ {
		for i := 0; i < inC; i++ {
			g := weight[(o*inC+i)*9 : (o*inC+i+1)*9 : (o*inC+i+1)*9]
			// G g: 4×3
			var a [12]float32
			for col := 0; col < 3; col++ {
				g0, g1, g2 := g[col], g[3+col], g[6+col]
				a[col] = g0
				a[3+col] = 0.5 * (g0 + g1 + g2)
				a[6+col] = 0.5 * (g0 - g1 + g2)
				a[9+col] = g2
			}
			// (G g) Gᵀ: 4×4
			at := o*inC + i
			for r := 0; r < 4; r++ {
				x0, x1, x2 := a[3*r], a[3*r+1], a[3*r+2]
				u[(4*r+0)*plane+at] = x0
				u[(4*r+1)*plane+at] = 0.5 * (x0 + x1 + x2)
				u[(4*r+2)*plane+at] = 0.5 * (x0 - x1 + x2)
				u[(4*r+3)*plane+at] = x2
			}
		}
	}
}

// winoInput writes Bᵀ d B of tiles t0…t0+nt of channel ci (plane: that
// channel's [n, h, w] values) into v [16, inC, nt]. Tile t = (image·th +
// ty)·tw + tx reads input rows 2ty−1…2ty+2 and columns 2tx−1…2tx+2, zero
// outside the image.
func winoInputSerial(v, plane []float32, ci, stride, nt, t0, h, w, th, tw int) {
	base := ci * nt
	var d [16]float32
	for k := 0; k < nt; k++ {
		t := t0 + k
		tx := t % tw
		ty := t / tw % th
		img := t / (tw * th)
		y0, x0 := 2*ty-1, 2*tx-1
		src := plane[img*h*w : (img+1)*h*w]
		if y0 >= 0 && x0 >= 0 && y0+4 <= h && x0+4 <= w {
			for r := 0; r < 4; r++ {
				row := src[(y0+r)*w+x0 : (y0+r)*w+x0+4 : (y0+r)*w+x0+4]
				d[4*r], d[4*r+1], d[4*r+2], d[4*r+3] = row[0], row[1], row[2], row[3]
			}
		} else {
			for r := 0; r < 4; r++ {
				y := y0 + r
				for q := 0; q < 4; q++ {
					x := x0 + q
					if y >= 0 && y < h && x >= 0 && x < w {
						d[4*r+q] = src[y*w+x]
					} else {
						d[4*r+q] = 0
					}
				}
			}
		}
		// Bᵀ d: rows
		var e [16]float32
		for q := 0; q < 4; q++ {
			d0, d1, d2, d3 := d[q], d[4+q], d[8+q], d[12+q]
			e[q] = d0 - d2
			e[4+q] = d1 + d2
			e[8+q] = d2 - d1
			e[12+q] = d1 - d3
		}
		// (Bᵀ d) B: columns
		at := base + k
		for r := 0; r < 4; r++ {
			x0, x1, x2, x3 := e[4*r], e[4*r+1], e[4*r+2], e[4*r+3]
			v[(4*r+0)*stride+at] = x0 - x2
			v[(4*r+1)*stride+at] = x1 + x2
			v[(4*r+2)*stride+at] = x2 - x1
			v[(4*r+3)*stride+at] = x1 - x3
		}
	}
}

// winoOutput turns the products m [16, outC, nt] of output channel o
// into its 2×2 output tiles, Aᵀ m A, adds the bias (and the value out
// already holds when acc), applies the ReLU when relu and stores them in
// plane, that channel's [n, h, w] values (tiles past the edge are cut).
func winoOutputSerial(plane, m []float32, o, stride, nt, t0, h, w, th, tw int, bias float32, acc, relu bool) {
	base := o * nt
	for k := 0; k < nt; k++ {
		t := t0 + k
		tx := t % tw
		ty := t / tw % th
		img := t / (tw * th)
		at := base + k
		var s [8]float32 // Aᵀ m: 2×4
		for q := 0; q < 4; q++ {
			m0, m1, m2, m3 := m[q*stride+at], m[(4+q)*stride+at], m[(8+q)*stride+at], m[(12+q)*stride+at]
			s[q] = m0 + m1 + m2
			s[4+q] = m1 - m2 - m3
		}
		y0, x0 := 2*ty, 2*tx
		dst := plane[img*h*w : (img+1)*h*w]
		for r := 0; r < 2; r++ {
			y := y0 + r
			if y >= h {
				break
			}
			a0, a1, a2, a3 := s[4*r], s[4*r+1], s[4*r+2], s[4*r+3]
			out := [2]float32{a0 + a1 + a2, a1 - a2 - a3}
			for q := 0; q < 2; q++ {
				x := x0 + q
				if x >= w {
					break
				}
				val := out[q] + bias
				if acc {
					val = dst[y*w+x] + out[q] + bias
				}
				if relu && val < 0 {
					val = 0
				}
				dst[y*w+x] = val
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
