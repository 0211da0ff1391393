package kernels_test

import (
	"testing"

	"mmc/ml/kernels"
)

func TestResizePILMatchesPillow(t *testing.T) {
	src := visFixture(t, "pil.src")
	ih, iw := src.Shape[0], src.Shape[1]
	in := make([]uint8, len(src.Data))
	for i, v := range src.Data {
		in[i] = uint8(v)
	}
	for _, tc := range []struct {
		key string
		f   kernels.PILFilter
	}{
		{"pil.bilinear.down", kernels.PILBilinear},
		{"pil.bicubic.down", kernels.PILBicubic},
		{"pil.bilinear.up", kernels.PILBilinear},
		{"pil.bicubic.up", kernels.PILBicubic},
		{"pil.bicubic.wide", kernels.PILBicubic},
	} {
		want := visFixture(t, tc.key)
		oh, ow := want.Shape[0], want.Shape[1]
		got := make([]uint8, oh*ow*3)
		kernels.ResizePIL(got, in, 3, iw, ih, ow, oh, tc.f)
		for i := range got {
			if float32(got[i]) != want.Data[i] {
				t.Errorf("%s: byte %d (pixel %d,%d) = %d, Pillow %g", tc.key, i, (i/3)%ow, i/3/ow, got[i], want.Data[i])
				break
			}
		}
	}
}

func TestNormalizeRGB8(t *testing.T) {
	src := []uint8{0, 128, 255, 99, 10, 20, 30, 99}
	dst := make([]float32, 6)
	kernels.NormalizeRGB8(dst, src, 4, 2, 1, [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.25, 0.5})
	want := []float32{-1, (10.0/255 - 0.5) / 0.5, (128.0/255 - 0.5) / 0.25, (20.0/255 - 0.5) / 0.25, 1, (30.0/255 - 0.5) / 0.5}
	visClose(t, "normalize", dst, want, 1e-6)
}

func BenchmarkResizePILBicubic(b *testing.B) {
	src := make([]uint8, 800*600*4)
	for i := range src {
		src[i] = uint8(i * 7)
	}
	dst := make([]uint8, 518*518*4)
	for b.Loop() {
		kernels.ResizePIL(dst, src, 4, 800, 600, 518, 518, kernels.PILBicubic)
	}
}

func BenchmarkNormalizeRGB8(b *testing.B) {
	src := make([]uint8, 518*518*4)
	dst := make([]float32, 3*518*518)
	for b.Loop() {
		kernels.NormalizeRGB8(dst, src, 4, 518, 518, [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225})
	}
}
