package kernels_test

import (
	"testing"

	"mmc/ml/kernels"
)

func TestPoolsMatchTorch(t *testing.T) {
	x := visFixture(t, "conv.x")
	planes, h, w := x.Shape[0]*x.Shape[1], x.Shape[2], x.Shape[3]
	for _, tc := range []struct {
		key  string
		pool kernels.MaxPool2D
	}{
		{"maxpool.k3s2p1", kernels.MaxPool2D{K: 3, S: 2, P: 1}},
		{"maxpool.k3s2ceil", kernels.MaxPool2D{K: 3, S: 2, CeilMode: true}},
	} {
		want := visFixture(t, tc.key)
		oh, ow := tc.pool.OutSize(h), tc.pool.OutSize(w)
		if oh != want.Shape[2] || ow != want.Shape[3] {
			t.Fatalf("%s: output %d×%d, torch %v", tc.key, oh, ow, want.Shape)
		}
		got := make([]float32, planes*oh*ow)
		tc.pool.Forward(got, x.Data, planes, h, w)
		visClose(t, tc.key, got, want.Data, 0)
	}
	for _, tc := range []struct {
		key    string
		oh, ow int
	}{{"adaptive.6x6", 6, 6}, {"adaptive.5x3", 5, 3}, {"adaptive.1x1", 1, 1}} {
		got := make([]float32, planes*tc.oh*tc.ow)
		kernels.AdaptiveAvgPool2D(got, x.Data, planes, h, w, tc.oh, tc.ow)
		visClose(t, tc.key, got, visFixture(t, tc.key).Data, 1e-6)
	}
}

func TestMaxPoolCeilSizes(t *testing.T) {
	// the caffe-style ResNet stem: 3×3 stride 2, no padding, ceil mode
	p := kernels.MaxPool2D{K: 3, S: 2, CeilMode: true}
	for _, tc := range []struct{ in, out int }{{112, 56}, {300, 150}, {7, 3}, {8, 4}, {3, 1}} {
		if got := p.OutSize(tc.in); got != tc.out {
			t.Errorf("OutSize(%d) = %d, want %d", tc.in, got, tc.out)
		}
	}
}

func BenchmarkMaxPool(b *testing.B) {
	p := kernels.MaxPool2D{K: 3, S: 2, P: 1}
	x := visRand(64 * 300 * 300)
	y := make([]float32, 64*150*150)
	for b.Loop() {
		p.Forward(y, x, 64, 300, 300)
	}
}

func BenchmarkAdaptiveAvgPool(b *testing.B) {
	x := visRand(2048 * 7 * 7)
	y := make([]float32, 2048*36)
	for b.Loop() {
		kernels.AdaptiveAvgPool2D(y, x, 2048, 7, 7, 6, 6)
	}
}
