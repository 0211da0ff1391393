package detect

import "math"

// roiAlignHWC is torchvision's roi_align (aligned=False, the given
// sampling ratio) over a channels-last map feat [h·w, c], writing box
// idx[j]'s [c, oh, ow] result at dst[idx[j]·c·oh·ow:]. Each bilinear tap
// then reads c contiguous values instead of one value in each of c
// planes; the arithmetic (tap weights, the order of the sums, the
// division by the sample count) is that of kernels.RoIAlign, so results
// are identical. Boxes are processed in parallel. With batch > 0 the
// output is channel-major instead, [c, batch, oh, ow] (box idx[j] at
// position idx[j] of the batch), as a ResNet head takes it.
func roiAlignHWC(dst, feat []float32, c, h, w int, boxes []float32, idx []int, oh, ow int, scale float32, sampling, batch int) {
	n := len(boxes) / 4
	per := c * oh * ow
	parallel(n, per*4*max(sampling*sampling, 4), func(lo, hi int) {
		acc := make([]float32, c)
		for r := lo; r < hi; r++ {
			b := boxes[4*r : 4*r+4]
			sx, sy := b[0]*scale, b[1]*scale
			rw := max(b[2]*scale-sx, 1)
			rh := max(b[3]*scale-sy, 1)
			binH, binW := rh/float32(oh), rw/float32(ow)
			gh, gw := sampling, sampling
			if sampling <= 0 {
				gh = int(ceil32(rh / float32(oh)))
				gw = int(ceil32(rw / float32(ow)))
			}
			count := float32(max(gh*gw, 1))
			base, chStride := idx[r]*per, oh*ow
			if batch > 0 {
				base, chStride = idx[r]*oh*ow, batch*oh*ow
			}
			for py := 0; py < oh; py++ {
				for px := 0; px < ow; px++ {
					clear(acc)
					for iy := 0; iy < gh; iy++ {
						y := sy + float32(py)*binH + (float32(iy)+0.5)*binH/float32(gh)
						for ix := 0; ix < gw; ix++ {
							x := sx + float32(px)*binW + (float32(ix)+0.5)*binW/float32(gw)
							if y < -1 || y > float32(h) || x < -1 || x > float32(w) {
								continue
							}
							y, x := max(y, 0), max(x, 0)
							yl, xl := int(y), int(x)
							var yh, xh int
							if yl >= h-1 {
								yl, yh, y = h-1, h-1, float32(h-1)
							} else {
								yh = yl + 1
							}
							if xl >= w-1 {
								xl, xh, x = w-1, w-1, float32(w-1)
							} else {
								xh = xl + 1
							}
							ly, lx := y-float32(yl), x-float32(xl)
							hy, hx := 1-ly, 1-lx
							w1, w2, w3, w4 := hy*hx, hy*lx, ly*hx, ly*lx
							f1 := feat[(yl*w+xl)*c : (yl*w+xl+1)*c]
							f2 := feat[(yl*w+xh)*c : (yl*w+xh+1)*c]
							f3 := feat[(yh*w+xl)*c : (yh*w+xl+1)*c]
							f4 := feat[(yh*w+xh)*c : (yh*w+xh+1)*c]
							for ch := range acc {
								acc[ch] += w1*f1[ch] + w2*f2[ch] + w3*f3[ch] + w4*f4[ch]
							}
						}
					}
					k := py*ow + px
					for ch, v := range acc {
						dst[base+ch*chStride+k] = v / count
					}
				}
			}
		}
	})
}

func ceil32(v float32) float32 { return float32(math.Ceil(float64(v))) }

// toHWC transposes a [c, hw] map into [hw, c], in 32×32 blocks so both
// sides stay in cache.
func toHWC(dst, src []float32, c, hw int) {
	const blk = 32
	parallel((hw+blk-1)/blk, c*blk, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			p0, p1 := t*blk, min((t+1)*blk, hw)
			for c0 := 0; c0 < c; c0 += blk {
				c1 := min(c0+blk, c)
				for p := p0; p < p1; p++ {
					d := dst[p*c+c0 : p*c+c1]
					for j := range d {
						d[j] = src[(c0+j)*hw+p]
					}
				}
			}
		}
	})
}
