package kernels_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"mmc/ml/kernels"
)

func winoRand(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// Winograd F(2×2, 3×3) and F(4×4, 3×3) match the im2col convolution
// (itself checked against torch) on sizes that are and are not multiples
// of the tile, batches, bias, accumulation and ReLU, to float32 rounding.
func TestConv2DWinogradMatchesIm2col(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, m := range []int{2, 4} {
		for _, tc := range []struct{ n, inC, outC, h, w int }{
			{1, 3, 4, 5, 5}, {2, 8, 6, 7, 9}, {3, 16, 12, 4, 6}, {1, 5, 7, 1, 1}, {1, 2, 3, 2, 3}, {36, 32, 32, 7, 7}, {1, 64, 48, 38, 38},
		} {
			for _, acc := range []bool{false, true} {
				conv := &kernels.Conv2D{InC: tc.inC, OutC: tc.outC, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 1,
					Weight: winoRand(r, tc.outC*tc.inC*9), Bias: winoRand(r, tc.outC), ReLU: acc, Accumulate: acc}
				x := winoRand(r, tc.inC*tc.n*tc.h*tc.w)
				base := winoRand(r, tc.outC*tc.n*tc.h*tc.w)
				want := append([]float32(nil), base...)
				conv.ForwardCNHW(want, x, tc.n, tc.h, tc.w, make([]float32, conv.ColSizeN(tc.n, tc.h, tc.w)))
				conv.Winograd = m
				got := append([]float32(nil), base...)
				conv.ForwardCNHW(got, x, tc.n, tc.h, tc.w, make([]float32, conv.ColSizeN(tc.n, tc.h, tc.w)))
				// F(2×2) stays within a few roundings; F(4×4)'s larger
				// coefficients cost about 5× more
				tol := map[int]float64{2: 1e-6, 4: 1e-5}[m]
				visClose(t, "winograd", got, want, tol)
			}
		}
	}
}

// Over more tiles than one pass transforms (the chunked path) Winograd
// gives the im2col result; other geometries ignore the setting.
func TestConv2DWinogradChunksAndGeometry(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	n, c, h, w := 2, 6, 41, 83 // 2·21·42 tiles of 2, 2·11·21 of 4
	conv := kernels.NewConv2D(c, 5, 3, 1, 1, winoRand(r, 5*c*9), winoRand(r, 5))
	x := winoRand(r, c*n*h*w)
	want := make([]float32, 5*n*h*w)
	conv.ForwardCNHW(want, x, n, h, w, make([]float32, conv.ColSizeN(n, h, w)))
	for _, m := range []int{2, 4} {
		conv.Winograd = m
		got := make([]float32, len(want))
		conv.ForwardCNHW(got, x, n, h, w, make([]float32, conv.ColSizeN(n, h, w)))
		visClose(t, "winograd chunked", got, want, 1e-5)
	}
	// stride 2: im2col whatever Winograd says
	s2 := kernels.NewConv2D(c, 5, 3, 2, 1, conv.Weight, conv.Bias)
	oh, ow := s2.OutSize(h, w)
	want = make([]float32, 5*n*oh*ow)
	s2.ForwardCNHW(want, x, n, h, w, make([]float32, s2.ColSizeN(n, h, w)))
	s2.Winograd = 4
	got := make([]float32, len(want))
	s2.ForwardCNHW(got, x, n, h, w, make([]float32, s2.ColSizeN(n, h, w)))
	visClose(t, "stride 2", got, want, 0)
}

// WinogradWeights of a filter is G g Gᵀ: for the filter with a single 1
// at the centre that is the outer product of G's middle column.
func TestWinogradWeightsKnownValues(t *testing.T) {
	g := []float32{0, 0, 0, 0, 1, 0, 0, 0, 0}
	for m, col := range map[int][]float64{
		2: {0, 0.5, -0.5, 0},
		4: {0, -1.0 / 6, 1.0 / 6, 1.0 / 12, -1.0 / 12, 0},
	} {
		a := m + 2
		u := make([]float32, a*a)
		kernels.WinogradWeights(m, u, g, 1, 1, 0, 1)
		for r := 0; r < a; r++ {
			for q := 0; q < a; q++ {
				if want := float32(col[r] * col[q]); math.Abs(float64(u[a*r+q]-want)) > 1e-7 {
					t.Fatalf("F(%d): u[%d,%d] = %g, want %g", m, r, q, u[a*r+q], want)
				}
			}
		}
	}
}

// BenchmarkConv2DWinograd compares im2col and Winograd F(2×2) and
// F(4×4) on the stride-1 3×3 convolutions of a ResNet at 600×600: layer1
// (64 channels, 150×150), layer3 (256, 38×38) and the layer4 RoI head
// (512, 36 boxes of 7×7).
func BenchmarkConv2DWinograd(b *testing.B) {
	for _, sh := range []struct {
		name     string
		n, c, hw int
	}{{"64x150", 1, 64, 150}, {"256x38", 1, 256, 38}, {"512x7x36", 36, 512, 7}} {
		for _, m := range []int{0, 2, 4} {
			name := map[int]string{0: "im2col", 2: "F2", 4: "F4"}[m] + "/" + sh.name
			b.Run(name, func(b *testing.B) {
				conv := kernels.NewConv2D(sh.c, sh.c, 3, 1, 1, visRand(sh.c*sh.c*9), visRand(sh.c))
				conv.ReLU, conv.Winograd = true, m
				x := visRand(sh.n * sh.c * sh.hw * sh.hw)
				y := make([]float32, len(x))
				col := make([]float32, conv.ColSizeN(sh.n, sh.hw, sh.hw))
				b.SetBytes(int64(2 * 9 * sh.c * len(x))) // direct-convolution FLOPs, reported as MB/s
				for b.Loop() {
					conv.ForwardCNHW(y, x, sh.n, sh.hw, sh.hw, col)
				}
			})
		}
	}
}

func TestBiasReLUKnownValues(t *testing.T) {
	x := []float32{-1, 2, 9, -3, 0.5, 9}
	kernels.BiasReLU(x, []float32{0.5, -1}, 2, 3, 2, true)
	want := []float32{0, 2.5, 9, 0, 0, 9} // third column outside width
	for i := range x {
		if x[i] != want[i] {
			t.Fatalf("x = %v, want %v", x, want)
		}
	}
	kernels.BiasReLU(x, []float32{1, 2}, 2, 3, 3, false)
	want = []float32{1, 3.5, 10, 2, 2, 11}
	for i := range x {
		if x[i] != want[i] {
			t.Fatalf("no ReLU: x = %v, want %v", x, want)
		}
	}
}

func BenchmarkBiasReLU(b *testing.B) {
	x := visRand(512 * 36 * 196)
	bias := visRand(512)
	for b.Loop() {
		kernels.BiasReLU(x, bias, 512, 36*196, 36*196, true)
	}
}
