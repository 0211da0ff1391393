package kernels_test

import (
	"math/rand/v2"
	"testing"

	"mmc/ml/kernels"
)

// Winograd F(2×2, 3×3) matches the im2col convolution (itself checked
// against torch) on odd and even sizes, batches, bias, accumulation and
// ReLU, to float32 rounding.
func TestConv2DWinogradMatchesIm2col(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	for _, tc := range []struct{ n, inC, outC, h, w int }{
		{1, 3, 4, 5, 5}, {2, 8, 6, 7, 9}, {3, 16, 12, 4, 6}, {1, 5, 7, 1, 1}, {1, 2, 3, 2, 3}, {36, 32, 32, 7, 7},
	} {
		for _, acc := range []bool{false, true} {
			conv := &kernels.Conv2D{InC: tc.inC, OutC: tc.outC, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1,
				Weight: rnd(tc.outC * tc.inC * 9), Bias: rnd(tc.outC), ReLU: acc, Accumulate: acc}
			x := rnd(tc.inC * tc.n * tc.h * tc.w)
			base := rnd(tc.outC * tc.n * tc.h * tc.w)
			want := append([]float32(nil), base...)
			conv.ForwardCNHW(want, x, tc.n, tc.h, tc.w, make([]float32, conv.ColSizeN(tc.n, tc.h, tc.w)))
			conv.Winograd = true
			got := append([]float32(nil), base...)
			conv.ForwardCNHW(got, x, tc.n, tc.h, tc.w, make([]float32, conv.ColSizeN(tc.n, tc.h, tc.w)))
			visClose(t, "winograd", got, want, 1e-5)
		}
	}
}

// A Winograd convolution over more tiles than one pass transforms (the
// chunked path) gives the im2col result.
func TestConv2DWinogradChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	n, c, h, w := 2, 6, 41, 39 // 2·21·20 = 840 tiles
	conv := kernels.NewConv2D(c, 5, 3, 1, 1, rnd(5*c*9), rnd(5))
	x := rnd(c * n * h * w)
	want := make([]float32, 5*n*h*w)
	conv.ForwardCNHW(want, x, n, h, w, make([]float32, conv.ColSizeN(n, h, w)))
	conv.Winograd = true
	got := make([]float32, len(want))
	conv.ForwardCNHW(got, x, n, h, w, make([]float32, conv.ColSizeN(n, h, w)))
	visClose(t, "winograd chunked", got, want, 1e-5)
}

// WinogradWeights of a filter is G g Gᵀ: the identity-like filter with a
// single 1 at the centre gives G's middle column outer product.
func TestWinogradWeightsKnownValues(t *testing.T) {
	g := []float32{0, 0, 0, 0, 1, 0, 0, 0, 0}
	u := make([]float32, 16)
	kernels.WinogradWeights(u, g, 1, 1, 0, 1)
	col := []float32{0, 0.5, -0.5, 0} // G·e₁
	for r := 0; r < 4; r++ {
		for q := 0; q < 4; q++ {
			if want := col[r] * col[q]; u[4*r+q] != want {
				t.Fatalf("u[%d,%d] = %g, want %g", r, q, u[4*r+q], want)
			}
		}
	}
}

// BenchmarkConv2DWinograd compares im2col and Winograd on the stride-1
// 3×3 convolutions of a ResNet at 600×600: layer1 (64 channels, 150×150),
// layer3 (256, 38×38) and the layer4 RoI head (512, 36 boxes of 7×7).
func BenchmarkConv2DWinograd(b *testing.B) {
	for _, tc := range []struct {
		name     string
		n, c, hw int
		wino     bool
	}{
		{"im2col/256x38", 1, 256, 38, false}, {"winograd/256x38", 1, 256, 38, true},
		{"im2col/512x7x36", 36, 512, 7, false}, {"winograd/512x7x36", 36, 512, 7, true},
		{"im2col/64x150", 1, 64, 150, false}, {"winograd/64x150", 1, 64, 150, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			conv := kernels.NewConv2D(tc.c, tc.c, 3, 1, 1, visRand(tc.c*tc.c*9), visRand(tc.c))
			conv.ReLU, conv.Winograd = true, tc.wino
			x := visRand(tc.n * tc.c * tc.hw * tc.hw)
			y := make([]float32, len(x))
			col := make([]float32, conv.ColSizeN(tc.n, tc.hw, tc.hw))
			b.SetBytes(int64(2 * 9 * tc.c * len(x))) // FLOPs, reported as MB/s
			for b.Loop() {
				conv.ForwardCNHW(y, x, tc.n, tc.hw, tc.hw, col)
			}
		})
	}
}
