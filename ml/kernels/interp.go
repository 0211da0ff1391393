package kernels

import (
	"fmt"
	"math"
)

// InterpMode selects the resampling kernel of Interpolate.
type InterpMode int

const (
	// Bilinear is F.interpolate(mode="bilinear").
	Bilinear InterpMode = iota
	// Bicubic is F.interpolate(mode="bicubic"): Keys' cubic with A = −0.75,
	// or −0.5 when antialiased (PyTorch follows PIL there).
	Bicubic
)

// Interp are the options of F.interpolate that change the arithmetic.
type Interp struct {
	Mode         InterpMode
	AlignCorners bool
	// Antialias widens the kernel by the downscaling factor (PIL-style
	// area-aware filtering); it changes nothing when upsampling except
	// the edge handling PyTorch's antialiased path uses.
	Antialias bool
	// ScaleH and ScaleW are the scale_factor values passed to
	// F.interpolate (output/input); when set, PyTorch maps coordinates with
	// 1/scale rather than in/out, which is why DINOv2 adds its 0.1 offset.
	// Zero means in/out.
	ScaleH, ScaleW float64
}

// Interpolate resamples src [planes, ih, iw] into dst [planes, oh, ow] with
// torch.nn.functional.interpolate's arithmetic (separable, rows then
// columns).
func Interpolate(dst, src []float32, planes, ih, iw, oh, ow int, o Interp) {
	if len(src) < planes*ih*iw || len(dst) < planes*oh*ow {
		panic(fmt.Sprintf("interpolate: src %d or dst %d values too short for %d×%d×%d → %d×%d", len(src), len(dst), planes, ih, iw, oh, ow))
	}
	wx := visInterpWeights(iw, ow, o.ScaleW, o)
	wy := visInterpWeights(ih, oh, o.ScaleH, o)
	tmp := make([]float32, ih*ow)
	for p := 0; p < planes; p++ {
		in := src[p*ih*iw : (p+1)*ih*iw]
		out := dst[p*oh*ow : (p+1)*oh*ow]
		// along x: tmp [ih, ow]
		for y := 0; y < ih; y++ {
			row := in[y*iw : (y+1)*iw]
			for x := 0; x < ow; x++ {
				t := wx[x]
				var s float32
				for j, wt := range t.w {
					s += wt * row[t.idx[j]]
				}
				tmp[y*ow+x] = s
			}
		}
		// along y
		for y := 0; y < oh; y++ {
			t := wy[y]
			orow := out[y*ow : (y+1)*ow]
			clear(orow)
			for j, wt := range t.w {
				trow := tmp[t.idx[j]*ow : (t.idx[j]+1)*ow]
				for x := range orow {
					orow[x] += wt * trow[x]
				}
			}
		}
	}
}

// visTaps are the input indices and weights that make one output sample.
type visTaps struct {
	idx []int
	w   []float32
}

// visInterpWeights returns, for each of the out samples along one axis, the
// input taps and weights F.interpolate would use.
func visInterpWeights(in, out int, scaleFactor float64, o Interp) []visTaps {
	// area_pixel_compute_scale
	var scale float64
	switch {
	case o.AlignCorners:
		if out > 1 {
			scale = float64(in-1) / float64(out-1)
		}
	case scaleFactor > 0:
		scale = 1 / scaleFactor
	default:
		scale = float64(in) / float64(out)
	}
	res := make([]visTaps, out)
	if o.Antialias && !o.AlignCorners {
		return visAAWeights(res, in, scale, o.Mode)
	}
	// PyTorch computes the non-antialiased source index in the op's
	// float type (opmath float32 on CPU for float inputs).
	s32 := float32(scale)
	for i := range res {
		var src float32
		if o.AlignCorners {
			src = s32 * float32(i)
		} else {
			src = s32*(float32(i)+0.5) - 0.5
		}
		switch o.Mode {
		case Bilinear:
			if !o.AlignCorners && src < 0 {
				src = 0
			}
			i0 := int(src)
			i1 := i0
			if i0 < in-1 {
				i1 = i0 + 1
			}
			l1 := src - float32(i0)
			res[i] = visTaps{idx: []int{i0, i1}, w: []float32{1 - l1, l1}}
		case Bicubic:
			f := visFloor32(src)
			t := src - f
			i0 := int(f)
			const a = -0.75
			w := []float32{
				visCubic2(t+1, a), visCubic1(t, a), visCubic1(1-t, a), visCubic2(2-t, a),
			}
			idx := make([]int, 4)
			for k := range idx {
				idx[k] = visClamp(i0-1+k, 0, in-1)
			}
			res[i] = visTaps{idx: idx, w: w}
		}
	}
	return res
}

// visCubic1 and visCubic2 are Keys' convolution kernel on |x| ≤ 1 and 1 < |x| < 2
// (PyTorch's cubic_convolution1/2).
func visCubic1(x, a float32) float32 { return ((a+2)*x-(a+3))*x*x + 1 }
func visCubic2(x, a float32) float32 { return ((a*x-5*a)*x+8*a)*x - 4*a }

// visAAWeights are the antialiased taps of PyTorch's _upsample_*_aa (the
// same filter construction as PIL's resample): a triangle (bilinear) or
// a = −0.5 cubic widened by the scale when downsampling, normalised to
// sum to one, in double precision.
func visAAWeights(res []visTaps, in int, scale float64, mode InterpMode) []visTaps {
	support := 1.0
	filter := func(x float64) float64 {
		x = math.Abs(x)
		if x < 1 {
			return 1 - x
		}
		return 0
	}
	if mode == Bicubic {
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
	invscale := 1.0
	if scale >= 1 {
		support *= scale
		invscale = 1 / scale
	}
	for i := range res {
		center := scale * (float64(i) + 0.5)
		xmin := max(int(center-support+0.5), 0)
		xsize := min(int(center+support+0.5), in) - xmin
		ws := make([]float64, max(xsize, 0))
		var total float64
		for j := range ws {
			ws[j] = filter((float64(j+xmin) - center + 0.5) * invscale)
			total += ws[j]
		}
		t := visTaps{idx: make([]int, len(ws)), w: make([]float32, len(ws))}
		for j, v := range ws {
			if total != 0 {
				v /= total
			}
			t.idx[j] = xmin + j
			t.w[j] = float32(v)
		}
		res[i] = t
	}
	return res
}
