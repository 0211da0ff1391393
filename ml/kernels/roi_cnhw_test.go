package kernels_test

import (
	"testing"

	"mmc/ml/kernels"
)

// RoIAlignCNHW is RoIAlign (checked against torchvision) with the
// channel-major layout and every step-th bin.
func TestRoIAlignCNHWMatchesRoIAlign(t *testing.T) {
	feat, c, h, w, boxes := roiFixture(t)
	n := len(boxes) / 4
	oh, ow := 5, 7
	for _, aligned := range []bool{false, true} {
		full := make([]float32, n*c*oh*ow)
		kernels.RoIAlign(full, feat.Data, c, h, w, boxes, oh, ow, 0.25, 0, aligned)
		for _, step := range []int{1, 2, 3} {
			ohs, ows := (oh+step-1)/step, (ow+step-1)/step
			got := make([]float32, c*n*ohs*ows)
			kernels.RoIAlignCNHW(got, feat.Data, c, h, w, boxes, oh, ow, step, 0.25, 0, aligned)
			for r := 0; r < n; r++ {
				for ch := 0; ch < c; ch++ {
					for y := 0; y < ohs; y++ {
						for x := 0; x < ows; x++ {
							g := got[((ch*n+r)*ohs+y)*ows+x]
							want := full[((r*c+ch)*oh+y*step)*ow+x*step]
							if g != want {
								t.Fatalf("aligned %v step %d: box %d channel %d bin (%d, %d) = %g, RoIAlign %g", aligned, step, r, ch, y, x, g, want)
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkRoIAlignCNHW14(b *testing.B) {
	// the RoI head's two poolings: 512 projected channels at all 14×14
	// bins, 1024 base channels at the 7×7 bins of step 2
	h, w := 38, 38
	feat := visRand(1024 * h * w)
	boxes := make([]float32, 0, 36*4)
	for i := range 36 {
		s := float32(i%6) * 90
		boxes = append(boxes, s, s/2, s+150, s/2+300)
	}
	p1 := make([]float32, 512*36*14*14)
	p0 := make([]float32, 1024*36*7*7)
	for b.Loop() {
		kernels.RoIAlignCNHW(p1, feat, 512, h, w, boxes, 14, 14, 1, 1.0/16, 0, true)
		kernels.RoIAlignCNHW(p0, feat, 1024, h, w, boxes, 14, 14, 2, 1.0/16, 0, true)
	}
}
