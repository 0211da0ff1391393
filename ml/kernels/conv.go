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
	// Winograd computes a 3×3, stride-1, padding-1, undilated, ungrouped
	// convolution as Winograd F(m×m, 3×3) with m = Winograd, 2 or 4 (2.25×
	// or 4× fewer multiplications; see conv_winograd.go); 0 (and other
	// geometries) keep im2col. The weights are transformed on every call,
	// so they may change between calls.
	Winograd int
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

// visDefaultColLimit bounds the im2col scratch (16 MiB, all workers
// together) unless Conv2D.ColLimit says otherwise: larger products are
// made in chunks of output columns, so a 7×7 stem on a 600×600 image does
// not need a 53 MB column matrix.
const visDefaultColLimit = 1 << 22

// ColSize is the scratch length Forward needs for an h×w input (0 when
// the convolution reads its input directly).
func (c *Conv2D) ColSize(h, w int) int { return c.ColSizeN(1, h, w) }

// ColSizeN is the scratch length ForwardCNHW needs for n h×w inputs: one
// column chunk per worker.
func (c *Conv2D) ColSizeN(n, h, w int) int {
	if m := c.wino(); m != 0 {
		return c.winoScratch(m, n, h, w)
	}
	if c.direct() {
		return 0
	}
	oh, ow := c.OutSize(h, w)
	kdim := c.InC / max(c.Groups, 1) * c.KH * c.KW
	nc, workers := c.chunkCols(kdim, n*oh*ow)
	return workers * kdim * nc
}

// chunkCols is how many GEMM columns (output pixels) one chunk holds and
// how many workers make chunks side by side (1: chunks one after the
// other, each product split over the workers). Side by side, each worker
// takes an equal share of the columns in as few chunks as the scratch
// cap allows: every chunk packs the whole weight matrix again, and
// measured on ResNet shapes one chunk per worker beats cache-sized ones.
func (c *Conv2D) chunkCols(kdim, cols int) (nc, workers int) {
	workers = Workers()
	outPer := c.OutC / max(c.Groups, 1)
	// small products: one chunk, the GEMM splits itself
	if workers < 2 || cols < 2*workers*16 || outPer*kdim*cols < 1<<22 {
		workers = 1
	}
	nc = (cols + workers - 1) / workers
	if !c.direct() {
		limit := c.ColLimit
		if limit <= 0 {
			limit = visDefaultColLimit
		}
		if per := max(limit/(workers*max(kdim, 1)), 1); per < nc {
			k := (nc + per - 1) / per // equal chunks under the cap
			nc = (nc + k - 1) / k
		}
	}
	return max(nc, 1), workers
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
// oh, ow]. GEMM columns are every output pixel of every image (p =
// (image·oh + oy)·ow + ox). Large products are cut into column chunks,
// each worker taking a contiguous run of them and making each one start
// to finish on its own core: im2col of the chunk, a single-threaded GEMM
// into the chunk's columns of dst, then bias and ReLU. Split by columns
// each worker packs only its own share of the im2col matrix (split by
// rows, both would pack all of it). Small products run chunk after chunk,
// each step split over the workers.
func (c *Conv2D) forward(dst, src []float32, n, h, w, oh, ow int, col []float32) {
	if m := c.wino(); m != 0 {
		c.forwardWinograd(m, dst, src, n, h, w, col)
		return
	}
	g := max(c.Groups, 1)
	inPer, outPer := c.InC/g, c.OutC/g
	kdim := inPer * c.KH * c.KW
	cols := n * oh * ow
	nc, workers := c.chunkCols(kdim, cols)
	chunks := (cols + nc - 1) / nc
	for gi := 0; gi < g; gi++ {
		in := src[gi*inPer*n*h*w : (gi+1)*inPer*n*h*w]
		wg := c.Weight[gi*outPer*kdim : (gi+1)*outPer*kdim]
		out := dst[gi*outPer*cols : (gi+1)*outPer*cols]
		if workers == 1 {
			for k := 0; k < chunks; k++ {
				p0, p1 := k*nc, min((k+1)*nc, cols)
				c.chunk(out, in, wg, col, gi, inPer, outPer, kdim, n, h, w, oh, ow, p0, p1, true)
			}
			continue
		}
		convDynamic(chunks, 1, MinParallelWork, func(wi, lo, hi int) {
			var b []float32
			if !c.direct() {
				b = col[wi*kdim*nc : (wi+1)*kdim*nc]
			}
			for k := lo; k < hi; k++ {
				p0, p1 := k*nc, min((k+1)*nc, cols)
				c.chunk(out, in, wg, b, gi, inPer, outPer, kdim, n, h, w, oh, ow, p0, p1, false)
			}
		})
	}
}

// chunk makes output columns p0…p1 of group gi: im2col (unless direct),
// GEMM, epilogue; split over the workers when par.
func (c *Conv2D) chunk(out, in, wg, col []float32, gi, inPer, outPer, kdim, n, h, w, oh, ow, p0, p1 int, par bool) {
	cols := n * oh * ow
	width := p1 - p0
	var beta float32
	if c.Accumulate {
		beta = 1
	}
	gemm := blas.SgemmSerial
	if par {
		gemm = blas.Sgemm
	}
	if c.direct() {
		gemm(false, false, outPer, width, kdim, 1, wg, kdim, in[p0:], cols, beta, out[p0:], cols)
	} else {
		b := col[:kdim*width]
		if par {
			convFor(kdim, width, func(lo, hi int) { c.im2col(b, in, inPer, n, h, w, oh, ow, p0, p1, lo, hi) })
		} else {
			c.im2col(b, in, inPer, n, h, w, oh, ow, p0, p1, 0, kdim)
		}
		gemm(false, false, outPer, width, kdim, 1, wg, kdim, b, width, beta, out[p0:], cols)
	}
	if c.Bias == nil && !c.ReLU {
		return
	}
	if par {
		convFor(outPer, width, func(lo, hi int) { c.epilogue(out, gi*outPer, lo, hi, cols, p0, p1) })
	} else {
		c.epilogue(out, gi*outPer, 0, outPer, cols, p0, p1)
	}
}

// im2col fills rows r0…r1 (r = (ci·KH + ky)·KW + kx) of the column chunk
// for output columns p0…p1: row r holds, for each of those output pixels,
// the input value under kernel tap (ky, kx) of channel ci (0 in the
// padding). in is channel-major [ch, n, h, w].
func (c *Conv2D) im2col(cols, in []float32, ch, n, h, w, oh, ow, p0, p1, r0, r1 int) {
	taps := c.KH * c.KW
	width := p1 - p0
	for r := r0; r < r1; r++ {
		ci, ky, kx := r/taps, r%taps/c.KW, r%c.KW
		row := cols[r*width : (r+1)*width]
		for p := p0; p < p1; {
			u, ox0 := p/ow, p%ow
			ox1 := min(ow, ox0+p1-p)
			b, oy := u/oh, u%oh
			c.im2colLine(row[p-p0:p-p0+ox1-ox0], in[(ci*n+b)*h*w:(ci*n+b+1)*h*w], ky, kx, oy, ox0, h, w)
			p += ox1 - ox0
		}
	}
}

// im2colLine fills output pixels ox0… (len(dstRow) of them) of output row
// oy for kernel tap (ky, kx) of one input plane src.
func (c *Conv2D) im2colLine(dstRow, src []float32, ky, kx, oy, ox0, h, w int) {
	dx := kx*c.DilW - c.PadW
	iy := oy*c.StrideH + ky*c.DilH - c.PadH
	if iy < 0 || iy >= h {
		clear(dstRow)
		return
	}
	srow := src[iy*w : (iy+1)*w]
	if c.StrideW == 1 {
		// contiguous run: zero the padded ends, copy the middle
		n := len(dstRow)
		lo := max(0, -dx-ox0)
		hi := min(n, w-dx-ox0)
		if hi <= lo {
			clear(dstRow)
			return
		}
		clear(dstRow[:lo])
		copy(dstRow[lo:hi], srow[lo+ox0+dx:hi+ox0+dx])
		clear(dstRow[hi:])
		return
	}
	for i := range dstRow {
		ix := (ox0+i)*c.StrideW + dx
		if ix < 0 || ix >= w {
			dstRow[i] = 0
		} else {
			dstRow[i] = srow[ix]
		}
	}
}

// BiasReLU adds bias[o] (nil: none) to the width values at x[o·ld:] of
// each row o < rows and, when relu, applies max(·, 0): a convolution's
// epilogue, for a linear map applied before a pooling that commutes with
// it (RoIAlign after a 1×1 convolution).
func BiasReLU(x, bias []float32, rows, ld, width int, relu bool) {
	if rows <= 0 || width <= 0 {
		return
	}
	if width > ld || len(x) < (rows-1)*ld+width || (bias != nil && len(bias) < rows) {
		panic(fmt.Sprintf("conv: BiasReLU: %d values or %d biases too short for %d rows of %d (ld %d)", len(x), len(bias), rows, width, ld))
	}
	convFor(rows, width, func(lo, hi int) {
		var b []float32
		if bias != nil {
			b = bias[lo:hi]
		}
		convEpilogueSerial(x[lo*ld:], b, hi-lo, ld, width, relu)
	})
}

// epilogue adds the bias and applies the ReLU in place to columns p0…p1
// of rows lo…hi of out (a group's [outPer, cols] block whose first
// channel is o0).
func (c *Conv2D) epilogue(out []float32, o0, lo, hi, cols, p0, p1 int) {
	var bias []float32
	if c.Bias != nil {
		bias = c.Bias[o0+lo : o0+hi]
	}
	convEpilogueSerial(out[lo*cols+p0:], bias, hi-lo, cols, p1-p0, c.ReLU)
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
