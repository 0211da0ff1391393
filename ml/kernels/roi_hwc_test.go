package kernels_test

import (
	"slices"
	"testing"

	"mmc/ml/kernels"
)

// RoIAlignHWC on the channels-last map gives exactly what RoIAlign
// (checked against torchvision) gives on the channel-major one, in both
// output layouts and with batch positions out of order.
func TestRoIAlignHWCMatchesRoIAlign(t *testing.T) {
	feat, c, h, w, boxes := roiFixture(t)
	boxes = append(slices.Clone(boxes), -3, -2, 8, 9, 5, 5, 5.2, 5.1)
	n := len(boxes) / 4
	idx := make([]int, n)
	for i := range idx {
		idx[i] = n - 1 - i
	}
	hwc := make([]float32, c*h*w)
	kernels.ToHWC(hwc, feat.Data, c, h*w)
	const oh, ow = 5, 7
	for _, sampling := range []int{0, 2} {
		want := make([]float32, n*c*oh*ow)
		kernels.RoIAlign(want, feat.Data, c, h, w, boxes, oh, ow, 0.25, sampling, false)
		got := make([]float32, len(want))
		kernels.RoIAlignHWC(got, hwc, c, h, w, boxes, idx, oh, ow, 0.25, sampling, 0)
		cnhw := make([]float32, len(want))
		kernels.RoIAlignHWC(cnhw, hwc, c, h, w, boxes, idx, oh, ow, 0.25, sampling, n)
		for r := 0; r < n; r++ {
			j := idx[r]
			for ch := 0; ch < c; ch++ {
				for k := 0; k < oh*ow; k++ {
					v := want[(r*c+ch)*oh*ow+k]
					if g := got[(j*c+ch)*oh*ow+k]; g != v {
						t.Fatalf("sampling %d: box %d channel %d bin %d = %g, RoIAlign %g", sampling, r, ch, k, g, v)
					}
					if g := cnhw[(ch*n+j)*oh*ow+k]; g != v {
						t.Fatalf("sampling %d, channel-major: box %d channel %d bin %d = %g, RoIAlign %g", sampling, r, ch, k, g, v)
					}
				}
			}
		}
	}
}

func TestToHWC(t *testing.T) {
	// [2 channels, 3 pixels] → [3 pixels, 2 channels]
	got := make([]float32, 6)
	kernels.ToHWC(got, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if want := []float32{1, 4, 2, 5, 3, 6}; !slices.Equal(got, want) {
		t.Fatalf("ToHWC = %v, want %v", got, want)
	}
	// blocks of 32 with ragged edges both ways
	const c, hw = 70, 45
	src := visRand(c * hw)
	dst := make([]float32, c*hw)
	kernels.ToHWC(dst, src, c, hw)
	for ch := 0; ch < c; ch++ {
		for p := 0; p < hw; p++ {
			if dst[p*c+ch] != src[ch*hw+p] {
				t.Fatalf("ToHWC: channel %d pixel %d moved wrongly", ch, p)
			}
		}
	}
}

func TestMeanPlanesCNHW(t *testing.T) {
	// 2 channels × 2 boxes × planes of 3: box-major means
	src := []float32{1, 2, 3, 4, 5, 6, 10, 20, 30, 0, 0, 3}
	got := make([]float32, 4)
	kernels.MeanPlanesCNHW(got, src, 2, 2, 3)
	if want := []float32{2, 20, 5, 1}; !slices.Equal(got, want) {
		t.Fatalf("MeanPlanesCNHW = %v, want %v", got, want)
	}
	// the same values as AdaptiveAvgPool2D to 1×1 of each plane
	const c, n, plane = 9, 5, 49
	x := visRand(c * n * plane)
	pooled := make([]float32, c*n)
	kernels.AdaptiveAvgPool2D(pooled, x, c*n, 7, 7, 1, 1)
	mean := make([]float32, n*c)
	kernels.MeanPlanesCNHW(mean, x, c, n, plane)
	for ch := 0; ch < c; ch++ {
		for b := 0; b < n; b++ {
			if mean[b*c+ch] != pooled[ch*n+b] {
				t.Fatalf("channel %d box %d: %g, AdaptiveAvgPool2D %g", ch, b, mean[b*c+ch], pooled[ch*n+b])
			}
		}
	}
}

func BenchmarkRoIAlignHWC(b *testing.B) {
	// a Faster R-CNN C4 head's pooling: 300 proposals, 14×14 bins, 1024
	// channels of a 50×38 base
	const c, h, w, n = 1024, 38, 50, 300
	feat := visRand(h * w * c)
	boxes := make([]float32, 0, 4*n)
	for i := 0; i < n; i++ {
		x0, y0 := float32(i%40)*15, float32(i%25)*20
		boxes = append(boxes, x0, y0, x0+120, y0+90)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	dst := make([]float32, n*c*14*14)
	b.SetBytes(int64(len(dst) * 4))
	for b.Loop() {
		kernels.RoIAlignHWC(dst, feat, c, h, w, boxes, idx, 14, 14, 1.0/16, 0, n)
	}
}

func BenchmarkToHWC(b *testing.B) {
	const c, hw = 1024, 38 * 50
	src, dst := visRand(c*hw), make([]float32, c*hw)
	b.SetBytes(int64(len(src) * 4))
	for b.Loop() {
		kernels.ToHWC(dst, src, c, hw)
	}
}

func BenchmarkMeanPlanesCNHW(b *testing.B) {
	const c, n, plane = 2048, 36, 49
	src, dst := visRand(c*n*plane), make([]float32, n*c)
	b.SetBytes(int64(len(src) * 4))
	for b.Loop() {
		kernels.MeanPlanesCNHW(dst, src, c, n, plane)
	}
}
