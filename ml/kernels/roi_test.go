package kernels_test

import (
	"fmt"
	"testing"

	"mmc/ml/checkpoint"
	"mmc/ml/kernels"
)

// roiFixture is the RoI ops' torchvision fixture: a feature map [c, h, w]
// and boxes in image pixels.
func roiFixture(t *testing.T) (feat *checkpoint.Array, c, h, w int, boxes []float32) {
	feat = visFixture(t, "roi.feat")
	return feat, feat.Shape[0], feat.Shape[1], feat.Shape[2], visFixture(t, "roi.boxes").Data
}

func TestRoIOpsMatchTorchvision(t *testing.T) {
	feat, c, h, w, boxes := roiFixture(t)
	n := len(boxes) / 4
	got := make([]float32, n*c*3*4)
	kernels.RoIPool(got, feat.Data, c, h, w, boxes, 3, 4, 0.25)
	visClose(t, "roi_pool", got, visFixture(t, "roi.pool").Data, 0)
	for _, sr := range []int{0, 2} {
		for _, aligned := range []bool{false, true} {
			key := fmt.Sprintf("roi.align.s%d.a%d", sr, map[bool]int{false: 0, true: 1}[aligned])
			clear(got)
			kernels.RoIAlign(got, feat.Data, c, h, w, boxes, 3, 4, 0.25, sr, aligned)
			visClose(t, key, got, visFixture(t, key).Data, 1e-5)
		}
	}
}

func TestRoIAlignConstantMap(t *testing.T) {
	// any box inside a constant map averages to the constant
	feat := make([]float32, 2*8*8)
	for i := range feat {
		feat[i] = 3
	}
	out := make([]float32, 2*2*2)
	kernels.RoIAlign(out, feat, 2, 8, 8, []float32{1, 2, 6.5, 7}, 2, 2, 1, 0, true)
	for i, v := range out {
		if v != 3 {
			t.Fatalf("bin %d = %g, want 3", i, v)
		}
	}
}

func BenchmarkRoIAlign14(b *testing.B) {
	// 36 boxes, 14×14 bins, on a ResNet base of a 600×600 image
	c, h, w := 1024, 38, 38
	feat := visRand(c * h * w)
	boxes := make([]float32, 0, 36*4)
	for i := range 36 {
		s := float32(i%6) * 90
		boxes = append(boxes, s, s/2, s+150, s/2+300)
	}
	out := make([]float32, 36*c*14*14)
	for b.Loop() {
		kernels.RoIAlign(out, feat, c, h, w, boxes, 14, 14, 1.0/16, 2, false)
	}
}

func BenchmarkRoIPool14(b *testing.B) {
	c, h, w := 1024, 38, 38
	feat := visRand(c * h * w)
	boxes := []float32{0, 0, 599, 599, 100, 100, 400, 300}
	out := make([]float32, 2*c*14*14)
	for b.Loop() {
		kernels.RoIPool(out, feat, c, h, w, boxes, 14, 14, 1.0/16)
	}
}
