package kernels_test

import (
	"math/rand/v2"
	"testing"

	"mmc/ml/kernels"
)

// Chunked im2col (a scratch cap smaller than the column matrix) gives the
// same result as one chunk, for single images and channel-major batches,
// with and without accumulation.
func TestConv2DChunkedIm2col(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	n, c, h, w := 3, 4, 13, 11
	conv := &kernels.Conv2D{InC: c, OutC: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1, DilH: 1, DilW: 1, Groups: 2,
		Weight: rnd(6 * 2 * 9), Bias: rnd(6), ReLU: true, Accumulate: true}
	x := rnd(n * c * h * w)
	oh, ow := conv.OutSize(h, w)
	base := rnd(n * 6 * oh * ow)
	run := func(limit int) []float32 {
		conv.ColLimit = limit
		y := append([]float32(nil), base...)
		conv.ForwardCNHW(y, x, n, h, w, make([]float32, conv.ColSizeN(n, h, w)))
		return y
	}
	whole := run(0)
	for _, limit := range []int{1, 2 * 18 * ow, 5 * 18 * ow} {
		got := run(limit)
		for i := range got {
			if d := got[i] - whole[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("scratch cap %d: value %d = %g, unchunked %g", limit, i, got[i], whole[i])
			}
		}
	}
}
