package kernels

import "testing"

// Benchmarks at ViLBERT's text-stream shapes (batch 8 × 128 tokens,
// hidden 768, 12 heads, intermediate 3072).
const bRows, bHidden, bInter, bHeads = 8 * 128, 768, 3072, 12

func BenchmarkLinear(b *testing.B) {
	x, w, bias := randSlice(bRows*bHidden, 1, 1), randSlice(bInter*bHidden, 2, 0.02), randSlice(bInter, 3, 1)
	y := make([]float32, bRows*bInter)
	b.SetBytes(int64(2 * bRows * bHidden * bInter)) // FLOPs, reported as MB/s = MFLOP/s
	for b.Loop() {
		Linear(y, x, w, bias, bRows, bHidden, bInter)
	}
}

func BenchmarkLinearBackward(b *testing.B) {
	x, w := randSlice(bRows*bHidden, 1, 1), randSlice(bInter*bHidden, 2, 0.02)
	dy := randSlice(bRows*bInter, 3, 1)
	dx, dw, db := make([]float32, len(x)), make([]float32, len(w)), make([]float32, bInter)
	b.SetBytes(int64(4 * bRows * bHidden * bInter))
	for b.Loop() {
		LinearBackward(dx, dw, db, dy, x, w, bRows, bHidden, bInter, false)
	}
}

func BenchmarkBiasGrad(b *testing.B) {
	dy := randSlice(bRows*bInter, 3, 1)
	db := make([]float32, bInter)
	b.SetBytes(int64(4 * len(dy)))
	for b.Loop() {
		BiasGrad(db, dy, bRows, bInter)
	}
}

func BenchmarkGELU(b *testing.B) {
	x := randSlice(bRows*bInter, 4, 3)
	y := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		GELU(y, x)
	}
}

func BenchmarkGELUBackward(b *testing.B) {
	x, dy := randSlice(bRows*bInter, 4, 3), randSlice(bRows*bInter, 5, 1)
	dx := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		GELUBackward(dx, dy, x)
	}
}

// BenchmarkGELUWithGrad is the recompute-and-derivative pass of an FFN's
// backward; with Mul it replaces GELU then GELUBackward.
func BenchmarkGELUWithGrad(b *testing.B) {
	x := randSlice(bRows*bInter, 4, 3)
	y, d := make([]float32, len(x)), make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		GELUWithGrad(y, d, x)
	}
}

func BenchmarkMul(b *testing.B) {
	x, y := randSlice(bRows*bInter, 4, 3), randSlice(bRows*bInter, 5, 1)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		Mul(x, x, y)
	}
}

func BenchmarkAdd(b *testing.B) {
	x, y := randSlice(bRows*bInter, 4, 3), randSlice(bRows*bInter, 5, 1)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		Add(x, x, y)
	}
}

func BenchmarkBiasGELU(b *testing.B) {
	h, bias := randSlice(bRows*bInter, 4, 3), randSlice(bInter, 5, 1)
	y := make([]float32, len(h))
	b.SetBytes(int64(4 * len(h)))
	for b.Loop() {
		BiasGELU(y, h, bias, bRows, bInter)
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	x, g, be := randSlice(bRows*bHidden, 6, 1), randSlice(bHidden, 7, 1), randSlice(bHidden, 8, 1)
	y, mean, rstd := make([]float32, len(x)), make([]float32, bRows), make([]float32, bRows)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		LayerNorm(y, mean, rstd, x, g, be, bRows, bHidden, 1e-12)
	}
}

func BenchmarkLayerNormBackward(b *testing.B) {
	x, g, dy := randSlice(bRows*bHidden, 6, 1), randSlice(bHidden, 7, 1), randSlice(bRows*bHidden, 8, 1)
	y, mean, rstd := make([]float32, len(x)), make([]float32, bRows), make([]float32, bRows)
	LayerNorm(y, mean, rstd, x, g, nil, bRows, bHidden, 1e-12)
	dx, dg, db := make([]float32, len(x)), make([]float32, bHidden), make([]float32, bHidden)
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		LayerNormBackward(dx, dg, db, dy, x, mean, rstd, g, bRows, bHidden)
	}
}

func BenchmarkSoftmax(b *testing.B) {
	rows, n := 8*bHeads*128, 128
	x, mask := randSlice(rows*n, 9, 3), make([]float32, 8*n)
	y := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		Softmax(y, x, mask, rows, n, bHeads*128)
	}
}

func BenchmarkSoftmaxBackward(b *testing.B) {
	rows, n := 8*bHeads*128, 128
	y, dy := randSlice(rows*n, 9, 1), randSlice(rows*n, 10, 1)
	dx := make([]float32, len(y))
	b.SetBytes(int64(4 * len(y)))
	for b.Loop() {
		SoftmaxBackward(dx, y, dy, rows, n)
	}
}

func BenchmarkDropoutMask(b *testing.B) {
	n := 8 * bHeads * 128 * 128
	keep := make([]uint64, MaskWords(n))
	rng := NewRNG(1)
	b.SetBytes(int64(n))
	for b.Loop() {
		DropoutMask(keep, n, 0.1, rng)
	}
}

func BenchmarkCrossEntropy(b *testing.B) {
	z := randSlice(64*2, 11, 1)
	labels := make([]int, 64)
	d := make([]float32, len(z))
	for b.Loop() {
		CrossEntropy(d, z, labels, 2, 0)
	}
}

func attentionBench(b *testing.B, backward bool) {
	bb, l, hd := 8, 128, 64
	d := bHeads * hd
	q, k, v := randSlice(bb*l*d, 12, 1), randSlice(bb*l*d, 13, 1), randSlice(bb*l*d, 14, 1)
	a := Attention{Batch: bb, Heads: bHeads, HeadDim: hd, Lq: l, Lk: l, Dropout: 0.1,
		Q: Merged(l, bHeads, hd), K: Merged(l, bHeads, hd), V: Merged(l, bHeads, hd), Ctx: Merged(l, bHeads, hd)}
	probs, work := make([]float32, a.ProbsLen()), make([]float32, a.WorkLen())
	keep := make([]uint64, MaskWords(a.ProbsLen()))
	ctx, mask := make([]float32, len(q)), make([]float32, bb*l)
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(q)), make([]float32, len(q))
	rng := NewRNG(1)
	b.SetBytes(int64(4 * bb * bHeads * l * l * hd)) // FLOPs of the two forward products
	for b.Loop() {
		a.Forward(ctx, probs, keep, q, k, v, mask, rng, work)
		if backward {
			a.Backward(dq, dk, dv, ctx, probs, keep, q, k, v, work)
		}
	}
}

func BenchmarkAttention(b *testing.B)         { attentionBench(b, false) }
func BenchmarkAttentionBackward(b *testing.B) { attentionBench(b, true) }
