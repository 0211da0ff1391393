package kernels_test

import (
	"testing"

	"mmc/ml/kernels"
)

func TestInterpolateMatchesTorch(t *testing.T) {
	x := visFixture(t, "interp.x")
	planes, ih, iw := x.Shape[0], x.Shape[1], x.Shape[2]
	for _, tc := range []struct {
		key string
		o   kernels.Interp
	}{
		{"interp.bilinear.up", kernels.Interp{Mode: kernels.Bilinear}},
		{"interp.bilinear.down", kernels.Interp{Mode: kernels.Bilinear}},
		{"interp.bilinear.corners", kernels.Interp{Mode: kernels.Bilinear, AlignCorners: true}},
		{"interp.bicubic.up", kernels.Interp{Mode: kernels.Bicubic}},
		{"interp.bicubic.down", kernels.Interp{Mode: kernels.Bicubic}},
		{"interp.bicubic.scale", kernels.Interp{Mode: kernels.Bicubic, ScaleH: (5 + 0.1) / 7, ScaleW: (6 + 0.1) / 9}},
		{"interp.bilinear.aa.down", kernels.Interp{Mode: kernels.Bilinear, Antialias: true}},
		{"interp.bicubic.aa.down", kernels.Interp{Mode: kernels.Bicubic, Antialias: true}},
		{"interp.bicubic.aa.up", kernels.Interp{Mode: kernels.Bicubic, Antialias: true}},
	} {
		want := visFixture(t, tc.key)
		oh, ow := want.Shape[1], want.Shape[2]
		got := make([]float32, planes*oh*ow)
		kernels.Interpolate(got, x.Data, planes, ih, iw, oh, ow, tc.o)
		visClose(t, tc.key, got, want.Data, 1e-5)
	}
}

func TestInterpolateIdentity(t *testing.T) {
	x := visRand(3 * 5 * 4)
	for _, o := range []kernels.Interp{{Mode: kernels.Bilinear}, {Mode: kernels.Bicubic}, {Mode: kernels.Bicubic, Antialias: true}} {
		got := make([]float32, len(x))
		kernels.Interpolate(got, x, 3, 5, 4, 5, 4, o)
		visClose(t, "identity", got, x, 1e-6)
	}
}

func BenchmarkInterpolateBilinear(b *testing.B) {
	// DINOv2 patch grid 37×37×1024 → 6×6 regions
	x := visRand(1024 * 37 * 37)
	y := make([]float32, 1024*36)
	for b.Loop() {
		kernels.Interpolate(y, x, 1024, 37, 37, 6, 6, kernels.Interp{Mode: kernels.Bilinear})
	}
}
