package kernels

import (
	"fmt"
	"math"
)

// PILFilter names a resampling filter of PIL's Image.resize, which
// torchvision's Resize uses on PIL images.
type PILFilter int

const (
	// PILBilinear is Image.BILINEAR (a triangle of support 1).
	PILBilinear PILFilter = iota
	// PILBicubic is Image.BICUBIC (Keys' cubic, a = −0.5, support 2).
	PILBicubic
)

// visPILPrecision is PIL's PRECISION_BITS for 8-bit resampling: weights are
// fixed point with 22 fractional bits.
const visPILPrecision = 32 - 8 - 2

// ResizePIL resizes an interleaved 8-bit image src (ih rows of iw pixels,
// ch bytes each, rows packed) to dst (oh × ow × ch) exactly as Pillow's
// ImagingResample does: area-aware filter weights in double precision,
// rounded to 22-bit fixed point, a horizontal pass into an 8-bit
// intermediate image, then a vertical pass, each rounding and clipping to
// 0–255. A pass whose size does not change is skipped, as in Pillow.
func ResizePIL(dst, src []uint8, ch, iw, ih, ow, oh int, f PILFilter) {
	if len(src) < iw*ih*ch || len(dst) < ow*oh*ch {
		panic(fmt.Sprintf("resize: src %d or dst %d bytes too short for %d×%d → %d×%d × %d channels", len(src), len(dst), iw, ih, ow, oh, ch))
	}
	tmp := src[:iw*ih*ch]
	// both passes split their rows over the workers (integer arithmetic:
	// the split cannot change a pixel)
	if ow != iw {
		tmp = make([]uint8, ow*ih*ch)
		xb, xk, ksize := visPILCoeffs(iw, ow, f)
		ParallelFor(ih, ow*ch*ksize, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				in := src[y*iw*ch:]
				out := tmp[y*ow*ch:]
				for x := 0; x < ow; x++ {
					lo, n := xb[2*x], xb[2*x+1]
					k := xk[x*ksize : x*ksize+n]
					for c := 0; c < ch; c++ {
						ss := int32(1) << (visPILPrecision - 1)
						for j, kv := range k {
							ss += int32(in[(lo+j)*ch+c]) * kv
						}
						out[x*ch+c] = visClip8(ss)
					}
				}
			}
		})
	}
	if oh == ih {
		copy(dst, tmp[:ow*oh*ch])
		return
	}
	yb, yk, ksize := visPILCoeffs(ih, oh, f)
	rowLen := ow * ch
	ParallelFor(oh, rowLen*ksize, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			lo, n := yb[2*y], yb[2*y+1]
			k := yk[y*ksize : y*ksize+n]
			out := dst[y*rowLen : (y+1)*rowLen]
			for i := range out {
				ss := int32(1) << (visPILPrecision - 1)
				for j, kv := range k {
					ss += int32(tmp[(lo+j)*rowLen+i]) * kv
				}
				out[i] = visClip8(ss)
			}
		}
	})
}

func visClip8(v int32) uint8 {
	if v >= 1<<visPILPrecision<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> visPILPrecision)
}

// visPILCoeffs is Pillow's precompute_coeffs + normalize_coeffs_8bpc: for
// each output sample, the first input index and tap count (bounds) and
// ksize fixed-point weights.
func visPILCoeffs(in, out int, f PILFilter) (bounds []int, kk []int32, ksize int) {
	support, filter := 1.0, func(x float64) float64 {
		x = math.Abs(x)
		if x < 1 {
			return 1 - x
		}
		return 0
	}
	if f == PILBicubic {
		support = 2
		filter = func(x float64) float64 {
			const a = -0.5
			x = math.Abs(x)
			if x < 1 {
				return ((a+2)*x-(a+3))*x*x + 1
			}
			if x < 2 {
				return (((x-5)*x+8)*x - 4) * a
			}
			return 0
		}
	}
	scale := float64(in) / float64(out)
	filterscale := max(scale, 1)
	support *= filterscale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, 2*out)
	kk = make([]int32, out*ksize)
	pre := make([]float64, ksize)
	for xx := 0; xx < out; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), in) - xmin
		var ww float64
		for x := 0; x < xmax; x++ {
			w := filter((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			ww += w
		}
		for x := 0; x < xmax; x++ {
			w := pre[x]
			if ww != 0 {
				w /= ww
			}
			if w < 0 {
				kk[xx*ksize+x] = int32(-0.5 + w*(1<<visPILPrecision))
			} else {
				kk[xx*ksize+x] = int32(0.5 + w*(1<<visPILPrecision))
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return bounds, kk, ksize
}

// NormalizeRGB8 converts an interleaved 8-bit RGB(A) image (w×h, ch
// bytes per pixel, the first three being R, G, B) into a normalised
// float32 CHW tensor dst [3, h, w]: (v/255 − mean[c]) / std[c], the
// arithmetic of torchvision's ToTensor followed by Normalize.
func NormalizeRGB8(dst []float32, src []uint8, ch, w, h int, mean, std [3]float32) {
	if ch < 3 || len(src) < w*h*ch || len(dst) < 3*w*h {
		panic(fmt.Sprintf("normalize: %d bytes (%d channels) or %d floats too short for %d×%d", len(src), ch, len(dst), w, h))
	}
	plane := w * h
	ParallelFor(plane, 6, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := src[i*ch:]
			for c := 0; c < 3; c++ {
				dst[c*plane+i] = (float32(p[c])/255 - mean[c]) / std[c]
			}
		}
	})
}
