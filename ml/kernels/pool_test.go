package kernels_test

import (
	"math"
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

// The two-pass max pool is the K×K one over every window, NaN included
// (a NaN anywhere in a window is the window's maximum, as in torch).
func TestMaxPoolMatchesDirect(t *testing.T) {
	direct := func(p kernels.MaxPool2D, x []float32, h, w int) []float32 {
		oh, ow := p.OutSize(h), p.OutSize(w)
		y := make([]float32, oh*ow)
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				m := float32(math.Inf(-1))
				for i := max(oy*p.S-p.P, 0); i < min(oy*p.S-p.P+p.K, h); i++ {
					for j := max(ox*p.S-p.P, 0); j < min(ox*p.S-p.P+p.K, w); j++ {
						if v := x[i*w+j]; v > m || v != v {
							m = v
						}
					}
				}
				y[oy*ow+ox] = m
			}
		}
		return y
	}
	for _, p := range []kernels.MaxPool2D{{K: 3, S: 2, P: 1}, {K: 3, S: 2, CeilMode: true}, {K: 2, S: 2}, {K: 3, S: 1, P: 1}, {K: 5, S: 3, P: 2, CeilMode: true}} {
		for _, hw := range [][2]int{{9, 7}, {8, 8}, {5, 12}} {
			h, w := hw[0], hw[1]
			x := visRand(h * w)
			x[w+2] = float32(math.NaN())
			want := direct(p, x, h, w)
			got := make([]float32, len(want))
			p.Forward(got, x, 1, h, w)
			for i := range want {
				if got[i] != want[i] && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%+v on %d×%d: output %d = %g, direct %g", p, h, w, i, got[i], want[i])
				}
			}
		}
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
