package kernels_test

import (
	"math/rand/v2"
	"testing"

	"mmc/ml/kernels"
)

func TestConv2DMatchesTorch(t *testing.T) {
	x := visFixture(t, "conv.x")
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	for _, tc := range []struct {
		name                   string
		outC, kh, kw           int
		sh, sw, ph, pw, dil, g int
		bias                   bool
	}{
		{"k3s1p1", 6, 3, 3, 1, 1, 1, 1, 1, 1, true},
		{"k3s2p1d2", 5, 3, 3, 2, 2, 1, 1, 2, 1, false},
		{"k1s2", 8, 1, 1, 2, 2, 0, 0, 1, 1, true},
		{"k1s1", 8, 1, 1, 1, 1, 0, 0, 1, 1, false},
		{"k3g2", 6, 3, 3, 1, 1, 1, 1, 1, 2, true},
		{"k7s2p3", 3, 7, 7, 2, 2, 3, 3, 1, 1, false},
		{"k2x3s1", 3, 2, 3, 1, 2, 0, 1, 1, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conv := &kernels.Conv2D{InC: c, OutC: tc.outC, KH: tc.kh, KW: tc.kw, StrideH: tc.sh, StrideW: tc.sw,
				PadH: tc.ph, PadW: tc.pw, DilH: tc.dil, DilW: tc.dil, Groups: tc.g,
				Weight: visFixture(t, "conv."+tc.name+".weight").Data}
			if tc.bias {
				conv.Bias = visFixture(t, "conv."+tc.name+".bias").Data
			}
			if err := conv.Check(); err != nil {
				t.Fatal(err)
			}
			want := visFixture(t, "conv."+tc.name+".y")
			oh, ow := conv.OutSize(h, w)
			if oh != want.Shape[2] || ow != want.Shape[3] {
				t.Fatalf("output %d×%d, torch %v", oh, ow, want.Shape)
			}
			got := make([]float32, n*tc.outC*oh*ow)
			conv.Forward(got, x.Data, n, h, w, make([]float32, conv.ColSize(h, w)))
			visClose(t, tc.name, got, want.Data, 1e-5)

			// the same batch channel-major, one GEMM for both images
			cnhw := make([]float32, len(got))
			conv.ForwardCNHW(cnhw, visSwapNC(x.Data, n, c, h*w), n, h, w, make([]float32, conv.ColSizeN(n, h, w)))
			visClose(t, tc.name+" CNHW", visSwapNC(cnhw, tc.outC, n, oh*ow), want.Data, 1e-5)
		})
	}
}

func TestFoldBatchNormMatchesTorch(t *testing.T) {
	x := visFixture(t, "conv.x")
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	wt := append([]float32(nil), visFixture(t, "bn.conv.weight").Data...)
	b, err := kernels.FoldBatchNorm(wt, nil,
		visFixture(t, "bn.weight").Data, visFixture(t, "bn.bias").Data,
		visFixture(t, "bn.running_mean").Data, visFixture(t, "bn.running_var").Data, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	conv := kernels.NewConv2D(c, 6, 3, 1, 1, wt, b)
	conv.ReLU = true
	got := make([]float32, n*6*h*w)
	conv.Forward(got, x.Data, n, h, w, make([]float32, conv.ColSize(h, w)))
	visClose(t, "conv+bn+relu", got, visFixture(t, "bn.y").Data, 1e-5)

	if _, err := kernels.FoldBatchNorm(wt, nil, []float32{1}, []float32{1, 2}, nil, nil, 1e-5); err == nil {
		t.Error("mismatched BatchNorm lengths accepted")
	}
}

func TestConv2DAccumulate(t *testing.T) {
	// Accumulate + ReLU gives relu(shortcut + conv + bias), the residual join
	x := visFixture(t, "conv.x")
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	conv := kernels.NewConv2D(c, 6, 3, 1, 1, visFixture(t, "conv.k3s1p1.weight").Data, visFixture(t, "conv.k3s1p1.bias").Data)
	y := visFixture(t, "conv.k3s1p1.y").Data
	short := visRand(len(y))
	got := append([]float32(nil), short...)
	conv.Accumulate, conv.ReLU = true, true
	conv.Forward(got, x.Data, n, h, w, make([]float32, conv.ColSize(h, w)))
	want := make([]float32, len(y))
	for i := range want {
		want[i] = max(short[i]+y[i], 0)
	}
	visClose(t, "accumulate", got, want, 1e-5)
}

func TestConv2DCheck(t *testing.T) {
	bad := []*kernels.Conv2D{
		kernels.NewConv2D(3, 4, 3, 1, 1, make([]float32, 10), nil),
		kernels.NewConv2D(3, 4, 3, 1, 1, make([]float32, 4*3*9), make([]float32, 3)),
		{InC: 3, OutC: 4, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Groups: 2, Weight: make([]float32, 6)},
		{InC: 3, OutC: 3, KH: 1, KW: 1, StrideH: 0, StrideW: 1, DilH: 1, DilW: 1, Groups: 1, Weight: make([]float32, 9)},
	}
	for i, c := range bad {
		if c.Check() == nil {
			t.Errorf("case %d: bad convolution accepted", i)
		}
	}
}

func BenchmarkConv2D3x3(b *testing.B) {
	// a ResNet layer3 3×3 conv at 600×600 input: 256 → 256 at 38×38
	c, h, w := 256, 38, 38
	conv := kernels.NewConv2D(c, c, 3, 1, 1, visRand(c*c*9), visRand(c))
	x := visRand(c * h * w)
	y := make([]float32, c*h*w)
	col := make([]float32, conv.ColSize(h, w))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		conv.Forward(y, x, 1, h, w, col)
	}
}

// visSwapNC turns [a, b, plane] into [b, a, plane].
func visSwapNC(x []float32, a, b, plane int) []float32 {
	y := make([]float32, len(x))
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(y[(j*a+i)*plane:(j*a+i+1)*plane], x[(i*b+j)*plane:(i*b+j+1)*plane])
		}
	}
	return y
}

func visRand(n int) []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// The layer4 3×3 stride-2 conv of a ResNet-152 RoI head over 36 boxes of
// 14×14: per image (NCHW) against one GEMM for the batch (CNHW).
func visBenchHeadConv(b *testing.B, batched bool) {
	n, c, h := 36, 512, 14
	conv := kernels.NewConv2D(c, c, 3, 2, 1, visRand(c*c*9), visRand(c))
	x := visRand(n * c * h * h)
	y := make([]float32, n*c*7*7)
	col := make([]float32, conv.ColSizeN(n, h, h))
	for b.Loop() {
		if batched {
			conv.ForwardCNHW(y, x, n, h, h, col)
		} else {
			conv.Forward(y, x, n, h, h, col)
		}
	}
}

func BenchmarkConv2DHeadPerImage(b *testing.B) { visBenchHeadConv(b, false) }
func BenchmarkConv2DHeadBatched(b *testing.B)  { visBenchHeadConv(b, true) }
