package kernels

import (
	"sync/atomic"
	"testing"

	"mmc/ml/blas"
)

func TestParallelChunks(t *testing.T) {
	prev := blas.Configure(blas.Options{Threads: 3})
	defer blas.Configure(prev)
	for _, tc := range []struct{ n, cost, chunks int }{
		{0, 1, 0}, {1, 1 << 20, 1}, {10, 1, 1}, // small work stays on the caller
		{1 << 16, 1, 3}, {2, 1 << 20, 2}, {7, 1 << 20, 3},
	} {
		var covered atomic.Int64
		seen := make([]atomic.Int32, tc.n)
		got := ParallelChunks(tc.n, tc.cost, func(c, lo, hi int) {
			if c < 0 || c >= max(tc.chunks, 1) {
				t.Errorf("n %d: chunk index %d", tc.n, c)
			}
			for i := lo; i < hi; i++ {
				seen[i].Add(1)
			}
			covered.Add(int64(hi - lo))
		})
		if got != tc.chunks || covered.Load() != int64(tc.n) {
			t.Errorf("n %d cost %d: %d chunks covering %d, want %d covering %d", tc.n, tc.cost, got, covered.Load(), tc.chunks, tc.n)
		}
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("n %d: item %d run %d times", tc.n, i, seen[i].Load())
			}
		}
	}
}

func BenchmarkParallelFor(b *testing.B) {
	x := make([]float32, 1<<16)
	for b.Loop() {
		ParallelFor(len(x), 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x[i]++
			}
		})
	}
}

func BenchmarkExpf(b *testing.B) {
	var s float32
	for b.Loop() {
		for i := range 1024 {
			s += Expf(float32(i)/-64 + 1)
		}
	}
	sinkF = s
}

var sinkF float32

func BenchmarkDropoutAdd(b *testing.B) {
	n := 1 << 20
	x, r, y := randSlice(n, 1, 1), randSlice(n, 2, 1), make([]float32, n)
	keep := make([]uint64, MaskWords(n))
	DropoutMask(keep, n, 0.1, NewRNG(1))
	b.SetBytes(int64(4 * n))
	for b.Loop() {
		DropoutAdd(y, x, r, keep, 0.1)
	}
}

func BenchmarkDropoutApply(b *testing.B) {
	n := 1 << 20
	x := randSlice(n, 1, 1)
	keep := make([]uint64, MaskWords(n))
	DropoutMask(keep, n, 0.1, NewRNG(1))
	b.SetBytes(int64(4 * n))
	for b.Loop() {
		DropoutApply(x, x, keep, 0.1)
	}
}

func TestWeightGradStrided(t *testing.T) {
	// dy [2, 2] as the first two columns of a [2, 3] buffer; x [2, 1].
	dw := []float32{1, 1}
	WeightGrad(dw, []float32{1, 2, 9, 3, 4, 9}, 3, []float32{10, 100}, 2, 1, 2)
	near(t, "weight grad", dw, []float32{1 + 10 + 300, 1 + 20 + 400}, 0)
}

func TestSoftmaxSerial(t *testing.T) {
	y := make([]float32, 6)
	SoftmaxSerial(y, []float32{1, 2, 3, 3, 2, 1}, []float32{0, 0, -10000}, 2, 3)
	near(t, "serial", y, []float32{0.26894142, 0.73105858, 0, 0.73105858, 0.26894142, 0}, 1e-6)
}
