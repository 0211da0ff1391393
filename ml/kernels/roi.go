package kernels

import (
	"fmt"
	"math"
)

// RoI pooling over one feature map [c, h, w]; boxes are (x1, y1, x2, y2)
// in input-image coordinates and SpatialScale maps them onto the map
// (1/16 for a stride-16 ResNet base). Both ops follow torchvision.ops
// (roi_pool, roi_align) arithmetic, in float32 as its CPU kernels do.

// RoIPool max-pools each box into an oh×ow grid of bins:
// dst [len(boxes)/4, c, oh, ow]. Box corners are rounded (half away
// from zero) onto the map, a bin is [floor(i·bin), ceil((i+1)·bin)), and
// an empty bin is 0.
func RoIPool(dst, feat []float32, c, h, w int, boxes []float32, oh, ow int, spatialScale float32) {
	n := len(boxes) / 4
	visCheckRoI("roi_pool", dst, feat, c, h, w, n, oh, ow)
	for r := 0; r < n; r++ {
		b := boxes[4*r : 4*r+4]
		x1 := int(visRoundHalfAway(b[0] * spatialScale))
		y1 := int(visRoundHalfAway(b[1] * spatialScale))
		x2 := int(visRoundHalfAway(b[2] * spatialScale))
		y2 := int(visRoundHalfAway(b[3] * spatialScale))
		rw := max(x2-x1+1, 1)
		rh := max(y2-y1+1, 1)
		binH := float32(rh) / float32(oh)
		binW := float32(rw) / float32(ow)
		out := dst[r*c*oh*ow : (r+1)*c*oh*ow]
		for py := 0; py < oh; py++ {
			hs := visClamp(int(visFloor32(float32(py)*binH))+y1, 0, h)
			he := visClamp(int(visCeil32(float32(py+1)*binH))+y1, 0, h)
			for px := 0; px < ow; px++ {
				ws := visClamp(int(visFloor32(float32(px)*binW))+x1, 0, w)
				we := visClamp(int(visCeil32(float32(px+1)*binW))+x1, 0, w)
				empty := he <= hs || we <= ws
				for ch := 0; ch < c; ch++ {
					m := float32(0)
					if !empty {
						m = float32(math.Inf(-1))
						plane := feat[ch*h*w : (ch+1)*h*w]
						for y := hs; y < he; y++ {
							for _, v := range plane[y*w+ws : y*w+we] {
								if v > m {
									m = v
								}
							}
						}
					}
					out[(ch*oh+py)*ow+px] = m
				}
			}
		}
	}
}

// RoIAlign averages bilinear samples of the map in each of oh×ow bins:
// dst [len(boxes)/4, c, oh, ow]. samplingRatio > 0 takes that many
// samples per bin side, 0 takes ceil(box side / bins) as torchvision
// does; aligned shifts boxes by half a pixel (Detectron2's convention),
// and without it boxes are at least one map pixel wide.
func RoIAlign(dst, feat []float32, c, h, w int, boxes []float32, oh, ow int, spatialScale float32, samplingRatio int, aligned bool) {
	n := len(boxes) / 4
	visCheckRoI("roi_align", dst, feat, c, h, w, n, oh, ow)
	roiAlign(dst, feat, c, h, w, boxes, oh, ow, 1, spatialScale, samplingRatio, aligned, false)
}

// RoIAlignCNHW is RoIAlign with a channel-major output, dst [c,
// len(boxes)/4, ⌈oh/step⌉, ⌈ow/step⌉], holding only every step-th bin of
// the oh×ow grid in each direction (bins 0, step, 2·step …; step 1: all
// of them). Channel-major is the layout a batch of boxes runs through a
// ResNet head in, and a stride-2 1×1 convolution after RoIAlign (the
// head's projection shortcut) reads exactly the bins of step 2.
func RoIAlignCNHW(dst, feat []float32, c, h, w int, boxes []float32, oh, ow, step int, spatialScale float32, samplingRatio int, aligned bool) {
	n := len(boxes) / 4
	if step < 1 {
		panic(fmt.Sprintf("roi_align: bin step %d < 1", step))
	}
	visCheckRoI("roi_align", dst, feat, c, h, w, n, (oh+step-1)/step, (ow+step-1)/step)
	roiAlign(dst, feat, c, h, w, boxes, oh, ow, step, spatialScale, samplingRatio, aligned, true)
}

// roiAlign lays the bilinear taps of every box first, then pools
// channel by channel over all boxes in one parallel region: a channel's
// plane (a 38×38 base is 6 KiB) stays in L1 for every box, and the taps
// (the same for all channels) stream through in order.
func roiAlign(dst, feat []float32, c, h, w int, boxes []float32, oh, ow, step int, spatialScale float32, samplingRatio int, aligned, cnhw bool) {
	n := len(boxes) / 4
	if n == 0 {
		return
	}
	ohs, ows := (oh+step-1)/step, (ow+step-1)/step
	bins := ohs * ows
	var taps []tap
	// taps of output bin k of box r: taps[first[r*bins+k]:first[r*bins+k+1]]
	first := make([]int32, n*bins+1)
	counts := make([]float32, n)
	for r := 0; r < n; r++ {
		g := newRoIGrid(boxes[4*r:4*r+4], spatialScale, aligned, oh, ow, samplingRatio)
		counts[r] = g.count
		for py := 0; py < oh; py += step {
			for px := 0; px < ow; px += step {
				first[r*bins+py/step*ows+px/step] = int32(len(taps))
				taps = g.appendTaps(taps, py, px, h, w)
			}
		}
	}
	first[n*bins] = int32(len(taps))
	convDynamic(c, 8, len(taps)*4+n*bins, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			plane := feat[ch*h*w : (ch+1)*h*w]
			for r := 0; r < n; r++ {
				at := (r*c + ch) * bins
				if cnhw {
					at = (ch*n + r) * bins
				}
				o := dst[at : at+bins]
				f := first[r*bins : (r+1)*bins+1]
				for k := range o {
					var s float32
					for _, t := range taps[f[k]:f[k+1]] {
						s += t.w1*plane[t.i1] + t.w2*plane[t.i2] + t.w3*plane[t.i3] + t.w4*plane[t.i4]
					}
					o[k] = s / counts[r]
				}
			}
		}
	})
}

func visCheckRoI(op string, dst, feat []float32, c, h, w, n, oh, ow int) {
	if len(feat) < c*h*w || len(dst) < n*c*oh*ow {
		panic(fmt.Sprintf("%s: feature map %d or output %d values too short for %d×%d×%d and %d boxes of %d×%d", op, len(feat), len(dst), c, h, w, n, oh, ow))
	}
}

func visRoundHalfAway(v float32) float32 { return float32(math.Round(float64(v))) }
func visFloor32(v float32) float32       { return float32(math.Floor(float64(v))) }
func visCeil32(v float32) float32        { return float32(math.Ceil(float64(v))) }

func visClamp(v, lo, hi int) int { return min(max(v, lo), hi) }

// tap is one bilinear sample of a map: four pixel indices (y·w + x) and
// their weights. 32-bit indices halve it: RoIAlign reads the taps of all
// boxes once per channel, and so they stay in cache.
type tap struct {
	i1, i2, i3, i4 int32
	w1, w2, w3, w4 float32
}

// axisTap is one coordinate of a bilinear sample along an axis of n
// pixels: the two neighbours lo, hi and their weights h (of lo) and l (of
// hi).
type axisTap struct {
	lo, hi int
	l, h   float32
}

// newAxisTap is torchvision's bilinear_interpolate along one axis, as
// RoIAlign uses it: false for a sample more than one pixel outside the
// axis; a sample past the last pixel is clamped onto it.
func newAxisTap(v float32, n int) (axisTap, bool) {
	if v < -1 || v > float32(n) {
		return axisTap{}, false
	}
	v = max(v, 0)
	lo := int(v)
	var hi int
	if lo >= n-1 {
		lo, hi, v = n-1, n-1, float32(n-1)
	} else {
		hi = lo + 1
	}
	l := v - float32(lo)
	return axisTap{lo: lo, hi: hi, l: l, h: 1 - l}, true
}

// bilinearTap is torchvision's bilinear_interpolate for the sample (y, x)
// of an h×w map: false for a sample more than one pixel outside the map,
// otherwise the four neighbours and weights (the product of the two
// axes' taps).
func bilinearTap(y, x float32, h, w int) (tap, bool) {
	ty, oky := newAxisTap(y, h)
	tx, okx := newAxisTap(x, w)
	if !oky || !okx {
		return tap{}, false
	}
	return tap{int32(ty.lo*w + tx.lo), int32(ty.lo*w + tx.hi), int32(ty.hi*w + tx.lo), int32(ty.hi*w + tx.hi),
		ty.h * tx.h, ty.h * tx.l, ty.l * tx.h, ty.l * tx.l}, true
}

// roiGrid is the sampling grid RoIAlign puts on one box (torchvision's
// roi_align): the box in map pixels, oh×ow bins, gh×gw samples per bin
// (samplingRatio, or ⌈bin side⌉ for 0), and the divisor of a bin's sum.
type roiGrid struct {
	sx, sy, binW, binH float32
	gh, gw             int
	count              float32
}

// newRoIGrid lays the grid on box b (x1, y1, x2, y2 in image pixels);
// aligned shifts the box by half a pixel, and without it the box is at
// least one map pixel wide.
func newRoIGrid(b []float32, spatialScale float32, aligned bool, oh, ow, samplingRatio int) roiGrid {
	var offset float32
	if aligned {
		offset = 0.5
	}
	sx := b[0]*spatialScale - offset
	sy := b[1]*spatialScale - offset
	rw := b[2]*spatialScale - offset - sx
	rh := b[3]*spatialScale - offset - sy
	if !aligned {
		rw, rh = max(rw, 1), max(rh, 1)
	}
	g := roiGrid{sx: sx, sy: sy, binW: rw / float32(ow), binH: rh / float32(oh), gh: samplingRatio, gw: samplingRatio}
	if samplingRatio <= 0 {
		g.gh = int(visCeil32(rh / float32(oh)))
		g.gw = int(visCeil32(rw / float32(ow)))
	}
	g.count = float32(max(g.gh*g.gw, 1))
	return g
}

// appendTaps appends the bilinear taps of bin (py, px) on an h×w map,
// sample row by sample row, leaving out samples off the map.
func (g roiGrid) appendTaps(taps []tap, py, px, h, w int) []tap {
	for iy := 0; iy < g.gh; iy++ {
		y := g.y(py, iy)
		for ix := 0; ix < g.gw; ix++ {
			if t, ok := bilinearTap(y, g.x(px, ix), h, w); ok {
				taps = append(taps, t)
			}
		}
	}
	return taps
}

// y is the row of sample iy of bin row py; x the column of sample ix of
// bin column px.
func (g roiGrid) y(py, iy int) float32 {
	return g.sy + float32(py)*g.binH + (float32(iy)+0.5)*g.binH/float32(g.gh)
}

func (g roiGrid) x(px, ix int) float32 {
	return g.sx + float32(px)*g.binW + (float32(ix)+0.5)*g.binW/float32(g.gw)
}
