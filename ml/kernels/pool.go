package kernels

import "fmt"

// MaxPool2D describes nn.MaxPool2d over NCHW data: kernel K, stride S,
// padding P (padding never wins the max), and CeilMode for the output
// size as PyTorch computes it (a window may not start in the right or
// bottom padding).
type MaxPool2D struct {
	K, S, P  int
	CeilMode bool
}

// OutSize is the output side for an input side n.
func (p MaxPool2D) OutSize(n int) int {
	span := n + 2*p.P - p.K
	o := span/p.S + 1
	if p.CeilMode {
		o = (span+p.S-1)/p.S + 1
		if (o-1)*p.S >= n+p.P {
			o--
		}
	}
	return o
}

// Forward pools src [planes, h, w] (planes = batch × channels) into dst
// [planes, oh, ow].
func (p MaxPool2D) Forward(dst, src []float32, planes, h, w int) {
	oh, ow := p.OutSize(h), p.OutSize(w)
	if len(src) < planes*h*w || len(dst) < planes*oh*ow {
		panic(fmt.Sprintf("maxpool: src %d or dst %d values too short for %d×%d×%d → %d×%d", len(src), len(dst), planes, h, w, oh, ow))
	}
	ParallelFor(planes, oh*ow*p.K*2, func(lo, hi int) { p.planes(dst, src, lo, hi, h, w, oh, ow) })
}

// planes pools planes lo…hi in two passes, the max over each row's
// windows into rows (h × ow), then the elementwise max of the rows of
// each window: 2K comparisons per output instead of K², along contiguous
// rows. The maximum is exact and Go's max returns NaN when either
// argument is NaN, so a NaN anywhere in a window is its result, as in
// torch.
func (p MaxPool2D) planes(dst, src []float32, lo, hi, h, w, oh, ow int) {
	rows := make([]float32, h*ow)
	for c := lo; c < hi; c++ {
		in := src[c*h*w : (c+1)*h*w]
		out := dst[c*oh*ow : (c+1)*oh*ow]
		for y := 0; y < h; y++ {
			x, r := in[y*w:(y+1)*w], rows[y*ow:(y+1)*ow]
			for o := range r {
				i0 := o*p.S - p.P
				i1 := min(i0+p.K, w)
				i0 = max(i0, 0)
				m := x[i0]
				for _, v := range x[i0+1 : i1] {
					m = max(m, v)
				}
				r[o] = m
			}
		}
		for oy := 0; oy < oh; oy++ {
			y0 := oy*p.S - p.P
			y1 := min(y0+p.K, h)
			y0 = max(y0, 0)
			o := out[oy*ow : (oy+1)*ow]
			copy(o, rows[y0*ow:(y0+1)*ow])
			for y := y0 + 1; y < y1; y++ {
				for i, v := range rows[y*ow : (y+1)*ow] {
					o[i] = max(o[i], v)
				}
			}
		}
	}
}

// AdaptiveAvgPool2D averages src [planes, h, w] into dst [planes, oh, ow]
// with nn.AdaptiveAvgPool2d's windows: output cell i covers input rows
// floor(i·h/oh) to ceil((i+1)·h/oh), so windows may overlap.
func AdaptiveAvgPool2D(dst, src []float32, planes, h, w, oh, ow int) {
	if len(src) < planes*h*w || len(dst) < planes*oh*ow {
		panic(fmt.Sprintf("adaptive avg pool: src %d or dst %d values too short for %d×%d×%d → %d×%d", len(src), len(dst), planes, h, w, oh, ow))
	}
	ParallelFor(planes, h*w, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			in := src[c*h*w : (c+1)*h*w]
			out := dst[c*oh*ow : (c+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				y0, y1 := oy*h/oh, ((oy+1)*h+oh-1)/oh
				for ox := 0; ox < ow; ox++ {
					x0, x1 := ox*w/ow, ((ox+1)*w+ow-1)/ow
					var s float32
					for y := y0; y < y1; y++ {
						for _, v := range in[y*w+x0 : y*w+x1] {
							s += v
						}
					}
					out[oy*ow+ox] = s / float32((y1-y0)*(x1-x0))
				}
			}
		}
	})
}
