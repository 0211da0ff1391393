package kernels

import "testing"

// Tests and benchmarks for the kernels the other files exercise only
// through their callers: the split-product entry points, the strided
// bias gradient, LayerNorm with given statistics, the serial softmax, the
// Winograd filter transform and BatchNorm folding.

func TestLinearDxAndWeightGradParts(t *testing.T) {
	// x [2, 3], w [2 out, 3 in], dy [2, 2]
	x := []float32{1, 2, 3, 4, 5, 6}
	w := []float32{1, 0, -1, 2, 1, 0}
	dy := []float32{1, 2, 3, 4}
	for _, parts := range []int{1, 2, 3} {
		dx := []float32{1, 1, 1, 1, 1, 1}
		// dx = dy·w (+ dx with beta 1): row 0 = 1·[1 0 −1] + 2·[2 1 0]
		LinearDxParts(parts, dx, dy, w, 2, 3, 2, 1)
		near(t, "dx", dx, []float32{6, 3, 0, 12, 5, -2}, 0)
		// dw += dyᵀ·x: dw[o, i] = Σ_r dy[r, o]·x[r, i]
		dw := []float32{0, 0, 0, 1, 1, 1}
		WeightGradParts(parts, dw, dy, 2, x, 2, 3, 2, true)
		near(t, "dw", dw, []float32{13, 17, 21, 19, 25, 31}, 0)
		// add false overwrites whatever dw held (a fresh, unzeroed buffer)
		dw = []float32{7, 7, 7, 7, 7, 7}
		WeightGradParts(parts, dw, dy, 2, x, 2, 3, 2, false)
		near(t, "dw overwritten", dw, []float32{13, 17, 21, 18, 24, 30}, 0)
	}
}

func TestLayerNormApplyKnownValues(t *testing.T) {
	// rows [1 2 3] and [2 2 2] with their own statistics given
	y := make([]float32, 6)
	LayerNormApply(y, []float32{1, 2, 3, 2, 2, 2}, []float32{2, 1}, []float32{1, 0.5}, []float32{1, 2, 3}, []float32{0, 1, 0}, 2, 3)
	near(t, "apply", y, []float32{-1, 1, 3, 0.5, 2, 1.5}, 1e-6)
}

func BenchmarkLinearDxParts(b *testing.B) {
	dy, w := randSlice(bRows*bInter, 3, 1), randSlice(bInter*bHidden, 2, 0.02)
	dx := make([]float32, bRows*bHidden)
	b.SetBytes(int64(2 * bRows * bHidden * bInter))
	for b.Loop() {
		LinearDxParts(Workers(), dx, dy, w, bRows, bHidden, bInter, 0)
	}
}

func BenchmarkWeightGrad(b *testing.B) {
	dy, x := randSlice(bRows*bInter, 3, 1), randSlice(bRows*bHidden, 1, 1)
	dw := make([]float32, bInter*bHidden)
	b.SetBytes(int64(2 * bRows * bHidden * bInter))
	for b.Loop() {
		WeightGrad(dw, dy, bInter, x, bRows, bHidden, bInter)
	}
}

func BenchmarkBiasGradStrided(b *testing.B) {
	// the query block of a fused [rows, 3·hidden] QKV gradient
	dy := randSlice(bRows*3*bHidden, 3, 1)
	db := make([]float32, bHidden)
	b.SetBytes(int64(4 * bRows * bHidden))
	for b.Loop() {
		BiasGradStrided(db, dy, bRows, bHidden, 3*bHidden)
	}
}

func BenchmarkLayerNormApply(b *testing.B) {
	x, g, be := randSlice(bRows*bHidden, 1, 1), randSlice(bHidden, 2, 1), randSlice(bHidden, 3, 1)
	mean, rstd := randSlice(bRows, 4, 1), randSlice(bRows, 5, 1)
	y := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		LayerNormApply(y, x, mean, rstd, g, be, bRows, bHidden)
	}
}

func BenchmarkSoftmaxSerial(b *testing.B) {
	// one head's scores: 128 queries × 128 keys, one mask row
	x, mask := randSlice(128*128, 1, 3), make([]float32, 128)
	y := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		SoftmaxSerial(y, x, mask, 128, 128)
	}
}

func BenchmarkWinogradWeights(b *testing.B) {
	// ResNet layer3's 3×3 filters, 256 → 256, for F(2×2) and F(4×4)
	const c = 256
	w := randSlice(c*c*9, 1, 0.1)
	for _, m := range []int{2, 4} {
		u := make([]float32, (m+2)*(m+2)*c*c)
		b.Run(map[int]string{2: "F2x2", 4: "F4x4"}[m], func(b *testing.B) {
			b.SetBytes(int64(4 * len(w)))
			for b.Loop() {
				WinogradWeights(m, u, w, c, c, 0, c)
			}
		})
	}
}

func BenchmarkFoldBatchNorm(b *testing.B) {
	// a 1×1 conv 1024 → 256 and its BatchNorm
	const out, in = 256, 1024
	w, g, be := randSlice(out*in, 1, 0.1), randSlice(out, 2, 1), randSlice(out, 3, 1)
	mean, v := randSlice(out, 4, 1), randSlice(out, 5, 1)
	for i := range v {
		v[i] = v[i]*v[i] + 0.5
	}
	scaled := make([]float32, len(w))
	b.SetBytes(int64(4 * len(w)))
	for b.Loop() {
		copy(scaled, w) // the weight is scaled in place
		if _, err := FoldBatchNorm(scaled, nil, g, be, mean, v, 1e-5); err != nil {
			b.Fatal(err)
		}
	}
}
