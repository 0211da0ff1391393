package kernels

import "fmt"

// RoIAlignHWC is RoIAlign (aligned = false) over a channels-last map feat
// [h·w, c], for detectors that pool many boxes from a wide map: each
// bilinear tap then reads c contiguous values instead of one value in
// each of c planes. Box j's [c, oh, ow] result goes to
// dst[idx[j]·c·oh·ow:]; with batch > 0 the output is channel-major
// instead, [c, batch, oh, ow] with box j at position idx[j] of the batch
// (the layout a ResNet head takes). Tap weights, the order of the sums and
// the division by the sample count are RoIAlign's, so the values are
// identical. Boxes are spread over the workers.
func RoIAlignHWC(dst, feat []float32, c, h, w int, boxes []float32, idx []int, oh, ow int, spatialScale float32, samplingRatio, batch int) {
	n := len(boxes) / 4
	if len(idx) < n {
		panic(fmt.Sprintf("roi_align_hwc: %d batch positions for %d boxes", len(idx), n))
	}
	if len(feat) < h*w*c {
		panic(fmt.Sprintf("roi_align_hwc: map has %d values, need %d×%d×%d", len(feat), h, w, c))
	}
	per := c * oh * ow
	slots := 0
	for _, i := range idx[:n] {
		slots = max(slots, i+1)
	}
	if batch > 0 {
		slots = max(slots, batch)
	}
	if len(dst) < slots*per {
		panic(fmt.Sprintf("roi_align_hwc: output has %d values, need %d", len(dst), slots*per))
	}
	ParallelFor(n, per*4*max(samplingRatio*samplingRatio, 4), func(lo, hi int) {
		acc := make([]float32, c)
		var taps []tap
		for r := lo; r < hi; r++ {
			g := newRoIGrid(boxes[4*r:4*r+4], spatialScale, false, oh, ow, samplingRatio)
			base, chStride := idx[r]*per, oh*ow
			if batch > 0 {
				base, chStride = idx[r]*oh*ow, batch*oh*ow
			}
			for py := 0; py < oh; py++ {
				for px := 0; px < ow; px++ {
					clear(acc)
					taps = g.appendTaps(taps[:0], py, px, h, w)
					for _, t := range taps {
						i1, i2, i3, i4 := int(t.i1)*c, int(t.i2)*c, int(t.i3)*c, int(t.i4)*c
						f1, f2, f3, f4 := feat[i1:i1+c], feat[i2:i2+c], feat[i3:i3+c], feat[i4:i4+c]
						for ch := range acc {
							acc[ch] += t.w1*f1[ch] + t.w2*f2[ch] + t.w3*f3[ch] + t.w4*f4[ch]
						}
					}
					k := py*ow + px
					for ch, v := range acc {
						dst[base+ch*chStride+k] = v / g.count
					}
				}
			}
		}
	})
}

// ToHWC transposes a channel-major map src [c, hw] into channels-last dst
// [hw, c], in 32×32 blocks so both sides stay in cache.
func ToHWC(dst, src []float32, c, hw int) {
	checkLen("ToHWC", len(src), c*hw)
	checkLen("ToHWC", len(dst), c*hw)
	const blk = 32
	ParallelFor((hw+blk-1)/blk, c*blk, func(lo, hi int) {
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

// MeanPlanesCNHW averages each plane of a channel-major batch src [c, n,
// plane] into dst [n, c] (box-major features from a ResNet head's output),
// summing in order and dividing by plane as AdaptiveAvgPool2D to 1×1
// does.
func MeanPlanesCNHW(dst, src []float32, c, n, plane int) {
	checkLen("MeanPlanesCNHW", len(src), c*n*plane)
	checkLen("MeanPlanesCNHW", len(dst), n*c)
	ParallelFor(c, n*plane, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			for b := 0; b < n; b++ {
				var s float32
				for _, v := range src[(ch*n+b)*plane : (ch*n+b+1)*plane] {
					s += v
				}
				dst[b*c+ch] = s / float32(plane)
			}
		}
	})
}
