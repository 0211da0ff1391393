package kernels

import (
	"fmt"
	"math"

	"mmc/ml/blas"
)

// Conv2D describes one 2-D convolution over NCHW float32 data, with
// PyTorch's nn.Conv2d semantics (zero padding, floor of the output size).
// Weight is [OutC, InC/Groups, KH, KW] row-major; Bias is [OutC] or nil.
// ReLU applies max(0, ·) after the bias, so a conv–BN–ReLU triple costs
// one pass once the BatchNorm is folded in (FoldBatchNorm).
type Conv2D struct {
	InC, OutC        int
	KH, KW           int
	StrideH, StrideW int
	PadH, PadW       int
	DilH, DilW       int
	Groups           int
	ReLU             bool
	// Accumulate adds the convolution to what dst already holds (beta = 1
	// in the GEMM) before the bias and ReLU: a residual block's shortcut
	// written into dst first costs no extra pass.
	Accumulate bool
	// ColLimit caps the im2col scratch in values (0: 4 Mi); the product is
	// then made in chunks of output rows.
	ColLimit int
	Weight   []float32
	Bias     []float32
}

// NewConv2D returns a square-kernel convolution with equal stride, padding
// and dilation in both directions and one group.
func NewConv2D(inC, outC, k, stride, pad int, weight, bias []float32) *Conv2D {
	return &Conv2D{InC: inC, OutC: outC, KH: k, KW: k, StrideH: stride, StrideW: stride,
		PadH: pad, PadW: pad, DilH: 1, DilW: 1, Groups: 1, Weight: weight, Bias: bias}
}

// Check reports a convolution whose weights do not match its dimensions.
func (c *Conv2D) Check() error {
	g := max(c.Groups, 1)
	if c.InC%g != 0 || c.OutC%g != 0 {
		return fmt.Errorf("conv2d: %d→%d channels not divisible by %d groups", c.InC, c.OutC, g)
	}
	if c.KH < 1 || c.KW < 1 || c.StrideH < 1 || c.StrideW < 1 || c.DilH < 1 || c.DilW < 1 || c.PadH < 0 || c.PadW < 0 {
		return fmt.Errorf("conv2d: bad geometry kernel %d×%d stride %d×%d pad %d×%d dilation %d×%d",
			c.KH, c.KW, c.StrideH, c.StrideW, c.PadH, c.PadW, c.DilH, c.DilW)
	}
	if want := c.OutC * c.InC / g * c.KH * c.KW; len(c.Weight) != want {
		return fmt.Errorf("conv2d: weight has %d values, want %d×%d×%d×%d = %d", len(c.Weight), c.OutC, c.InC/g, c.KH, c.KW, want)
	}
	if c.Bias != nil && len(c.Bias) != c.OutC {
		return fmt.Errorf("conv2d: bias has %d values, want %d", len(c.Bias), c.OutC)
	}
	return nil
}

// OutSize is the spatial size of the output for an h×w input.
func (c *Conv2D) OutSize(h, w int) (oh, ow int) {
	oh = (h+2*c.PadH-c.DilH*(c.KH-1)-1)/c.StrideH + 1
	ow = (w+2*c.PadW-c.DilW*(c.KW-1)-1)/c.StrideW + 1
	return oh, ow
}

// direct reports whether the input can feed the GEMM as is (a 1×1,
// stride-1, unpadded convolution), with no im2col copy.
func (c *Conv2D) direct() bool {
	return c.KH == 1 && c.KW == 1 && c.StrideH == 1 && c.StrideW == 1 && c.PadH == 0 && c.PadW == 0
}

// visDefaultColLimit bounds the im2col scratch (16 MiB) unless
// Conv2D.ColLimit says otherwise: larger products are made in chunks of
// whole output rows, each still thousands of GEMM columns wide, so a 7×7
// stem on a 600×600 image does not need a 53 MB column matrix.
const visDefaultColLimit = 1 << 22

// ColSize is the scratch length Forward needs for an h×w input (0 when
// the convolution reads its input directly).
func (c *Conv2D) ColSize(h, w int) int { return c.ColSizeN(1, h, w) }

// ColSizeN is the scratch length ForwardCNHW needs for n h×w inputs.
func (c *Conv2D) ColSizeN(n, h, w int) int {
	if c.direct() {
		return 0
	}
	oh, ow := c.OutSize(h, w)
	kdim := c.InC / max(c.Groups, 1) * c.KH * c.KW
	return kdim * ow * c.chunkRows(kdim, n*oh, ow)
}

// chunkRows is how many output rows (of all images, n·oh in total) one
// im2col chunk holds.
func (c *Conv2D) chunkRows(kdim, rows, ow int) int {
	limit := c.ColLimit
	if limit <= 0 {
		limit = visDefaultColLimit
	}
	return max(1, min(rows, limit/max(kdim*ow, 1)))
}

// Forward convolves n images src [n, InC, h, w] into dst [n, OutC, oh, ow]
// through im2col and one GEMM per image and group; col is scratch of at
// least ColSize(h, w) values, reused across calls.
func (c *Conv2D) Forward(dst, src []float32, n, h, w int, col []float32) {
	oh, ow := c.OutSize(h, w)
	c.check(dst, src, 1, h, w, oh, ow, col)
	if len(src) < n*c.InC*h*w || len(dst) < n*c.OutC*oh*ow {
		panic(fmt.Sprintf("conv2d: src %d or dst %d values too short for %d×%d×%d×%d → %d×%d×%d", len(src), len(dst), n, c.InC, h, w, c.OutC, oh, ow))
	}
	for b := 0; b < n; b++ {
		c.forward(dst[b*c.OutC*oh*ow:], src[b*c.InC*h*w:], 1, h, w, oh, ow, col)
	}
}

// ForwardCNHW convolves n images stored channel-major, src [InC, n, h, w],
// into dst [OutC, n, oh, ow] with one GEMM per group for the whole batch:
// a batch of small maps (RoIs through a ResNet head) makes one large,
// efficient product instead of n thin ones. For n = 1 it is Forward. col
// needs ColSizeN(n, h, w) values.
func (c *Conv2D) ForwardCNHW(dst, src []float32, n, h, w int, col []float32) {
	oh, ow := c.OutSize(h, w)
	c.check(dst, src, n, h, w, oh, ow, col)
	c.forward(dst, src, n, h, w, oh, ow, col)
}

func (c *Conv2D) check(dst, src []float32, n, h, w, oh, ow int, col []float32) {
	if oh <= 0 || ow <= 0 {
		panic(fmt.Sprintf("conv2d: input %d×%d too small for kernel %d×%d", h, w, c.KH, c.KW))
	}
	if len(src) < n*c.InC*h*w || len(dst) < n*c.OutC*oh*ow {
		panic(fmt.Sprintf("conv2d: src %d or dst %d values too short for %d×%d×%d×%d → %d×%d×%d", len(src), len(dst), n, c.InC, h, w, c.OutC, oh, ow))
	}
	if len(col) < c.ColSizeN(n, h, w) {
		panic(fmt.Sprintf("conv2d: scratch has %d values, need %d", len(col), c.ColSizeN(n, h, w)))
	}
}

// forward is the channel-major core: src [InC, n, h, w] → dst [OutC, n,
// oh, ow]. GEMM columns are every output pixel of every image; with
// im2col they are made in chunks of whole output rows (u = image·oh + oy),
// each chunk's product written into its column range of dst.
func (c *Conv2D) forward(dst, src []float32, n, h, w, oh, ow int, col []float32) {
	g := max(c.Groups, 1)
	inPer, outPer := c.InC/g, c.OutC/g
	kdim := inPer * c.KH * c.KW
	cols := n * oh * ow
	var beta float32
	if c.Accumulate {
		beta = 1
	}
	for gi := 0; gi < g; gi++ {
		in := src[gi*inPer*n*h*w : (gi+1)*inPer*n*h*w]
		wg := c.Weight[gi*outPer*kdim : (gi+1)*outPer*kdim]
		out := dst[gi*outPer*cols:]
		if c.direct() {
			blas.Sgemm(false, false, outPer, cols, kdim, 1, wg, kdim, in, cols, beta, out, cols)
			continue
		}
		step := c.chunkRows(kdim, n*oh, ow)
		for u0 := 0; u0 < n*oh; u0 += step {
			u1 := min(u0+step, n*oh)
			width := (u1 - u0) * ow
			b := col[:kdim*width]
			c.im2col(b, in, inPer, n, h, w, oh, ow, u0, u1)
			blas.Sgemm(false, false, outPer, width, kdim, 1, wg, kdim, b, width, beta, out[u0*ow:], cols)
		}
	}
	c.epilogue(dst, cols)
}

// im2col lays out the receptive fields of output rows u0…u1 (u = image·oh
// + oy) as columns: row (ci, ky, kx) of cols holds, for each of those
// output pixels, the input value under that kernel tap (0 in the
// padding). in is channel-major [ch, n, h, w].
func (c *Conv2D) im2col(cols, in []float32, ch, n, h, w, oh, ow, u0, u1 int) {
	taps := c.KH * c.KW
	width := (u1 - u0) * ow
	ParallelFor(ch*taps, width, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ci, ky, kx := r/taps, r%taps/c.KW, r%c.KW
			row := cols[r*width : (r+1)*width]
			for u := u0; u < u1; u++ {
				b, oy := u/oh, u%oh
				c.im2colLine(row[(u-u0)*ow:(u-u0+1)*ow], in[(ci*n+b)*h*w:(ci*n+b+1)*h*w], ky, kx, oy, h, w)
			}
		}
	})
}

// im2colLine fills the ow values of output row oy for kernel tap (ky, kx)
// of one input plane src.
func (c *Conv2D) im2colLine(dstRow, src []float32, ky, kx, oy, h, w int) {
	dx := kx*c.DilW - c.PadW
	ow := len(dstRow)
	iy := oy*c.StrideH + ky*c.DilH - c.PadH
	if iy < 0 || iy >= h {
		clear(dstRow)
		return
	}
	srow := src[iy*w : (iy+1)*w]
	if c.StrideW == 1 {
		// contiguous run: zero the padded ends, copy the middle
		lo := max(0, -dx)
		hi := min(ow, w-dx)
		if hi <= lo {
			clear(dstRow)
			return
		}
		clear(dstRow[:lo])
		copy(dstRow[lo:hi], srow[lo+dx:hi+dx])
		clear(dstRow[hi:])
		return
	}
	for ox := range dstRow {
		ix := ox*c.StrideW + dx
		if ix < 0 || ix >= w {
			dstRow[ox] = 0
		} else {
			dstRow[ox] = srow[ix]
		}
	}
}

// epilogue adds the bias and applies the ReLU in place.
func (c *Conv2D) epilogue(out []float32, plane int) {
	if c.Bias == nil && !c.ReLU {
		return
	}
	ParallelFor(c.OutC, plane, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			var bv float32
			if c.Bias != nil {
				bv = c.Bias[o]
			}
			row := out[o*plane : (o+1)*plane]
			if c.ReLU {
				for i, v := range row {
					row[i] = max(v+bv, 0)
				}
			} else if bv != 0 {
				for i := range row {
					row[i] += bv
				}
			}
		}
	})
}

// FoldBatchNorm folds an inference-mode BatchNorm (gamma, beta, running
// mean and variance, eps) that follows a convolution into the
// convolution: w' = w·γ/√(σ²+ε), b' = (b−μ)·γ/√(σ²+ε) + β. The weight
// [outC, …] is scaled in place (a loaded checkpoint's tensor is not
// copied, so a frozen backbone holds its weights once); the new bias is
// returned (bias nil means zero). Frozen backbones then run one GEMM per
// conv–BN pair.
func FoldBatchNorm(weight, bias, gamma, beta, mean, variance []float32, eps float64) (folded []float32, err error) {
	outC := len(gamma)
	if outC == 0 || len(beta) != outC || len(mean) != outC || len(variance) != outC {
		return nil, fmt.Errorf("batchnorm: gamma %d, beta %d, mean %d, var %d values disagree", len(gamma), len(beta), len(mean), len(variance))
	}
	if len(weight)%outC != 0 {
		return nil, fmt.Errorf("batchnorm: %d weight values are not %d channels", len(weight), outC)
	}
	if bias != nil && len(bias) != outC {
		return nil, fmt.Errorf("batchnorm: conv bias has %d values, want %d", len(bias), outC)
	}
	per := len(weight) / outC
	b2 := make([]float32, outC)
	for o := 0; o < outC; o++ {
		if variance[o] < 0 {
			return nil, fmt.Errorf("batchnorm: channel %d has negative running variance %g", o, variance[o])
		}
		s := float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
		for i := o * per; i < (o+1)*per; i++ {
			weight[i] = float32(float64(weight[i]) * s)
		}
		var b float64
		if bias != nil {
			b = float64(bias[o])
		}
		b2[o] = float32((b-float64(mean[o]))*s + float64(beta[o]))
	}
	return b2, nil
}
