package kernels

import (
	"math"
	"testing"
)

func randSlice(n int, seed uint64, scale float32) []float32 {
	r := NewRNG(seed)
	s := make([]float32, n)
	for i := range s {
		s[i] = scale * r.NormFloat32()
	}
	return s
}

func near(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// numGrad is the central difference of f's scalar output at x[i].
func numGrad(x []float32, i int, f func() float64) float64 {
	const h = 1e-2
	old := x[i]
	x[i] = old + h
	up := f()
	x[i] = old - h
	down := f()
	x[i] = old
	return (up - down) / (2 * h)
}

// dot64 is Σ a·b in float64 (the scalar a finite-difference check probes).
func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func checkGrad(t *testing.T, name string, x, analytic []float32, f func() float64, tol float64) {
	t.Helper()
	for i := range x {
		want := numGrad(x, i, f)
		if d := math.Abs(float64(analytic[i]) - want); d > tol*math.Max(1, math.Abs(want)) {
			t.Fatalf("%s: gradient[%d] = %v, finite difference %v", name, i, analytic[i], want)
		}
	}
}

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := -87.0; x <= 88.0; x += 0.0137 {
		xf := float32(x)
		want := math.Exp(float64(xf))
		worst = max(worst, math.Abs(float64(Expf(xf))-want)/want)
	}
	if worst > 3e-7 {
		t.Errorf("Expf relative error %.3g", worst)
	}
	if Expf(-100) != 0 || !math.IsInf(float64(Expf(100)), 1) || Expf(0) != 1 {
		t.Error("Expf limits")
	}
}

func TestGELU(t *testing.T) {
	n := 20001
	x := make([]float32, n)
	for i := range x {
		x[i] = -9 + 18*float32(i)/float32(n-1)
	}
	y, g := make([]float32, n), make([]float32, n)
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	GELU(y, x)
	GELUBackward(g, ones, x)
	for i, v := range x {
		f := float64(v)
		want := f * 0.5 * math.Erfc(-f/math.Sqrt2)
		if d := math.Abs(float64(y[i]) - want); d > 3e-6*math.Max(math.Abs(want), 1e-3) {
			t.Fatalf("GELU(%v) = %v, want %v", v, y[i], want)
		}
		wg := 0.5*math.Erfc(-f/math.Sqrt2) + f*math.Exp(-f*f/2)/math.Sqrt(2*math.Pi)
		if d := math.Abs(float64(g[i]) - wg); d > 1e-6*math.Max(math.Abs(wg), 1) {
			t.Fatalf("GELU'(%v) = %v, want %v", v, g[i], wg)
		}
	}
	// Known values: GELU(1) = Φ(1) = 0.8413447, GELU(−1) = −0.1586553.
	near(t, "GELU known", func() []float32 { o := make([]float32, 2); GELU(o, []float32{1, -1}); return o }(),
		[]float32{0.8413447, -0.1586553}, 1e-6)
}

// TestGELUWithGrad checks the one-pass activation and derivative against
// GELU and GELUBackward (the same formulas, so within one rounding), and
// Mul against a loop, with d written over x.
func TestGELUWithGrad(t *testing.T) {
	n := 70001 // not a multiple of any vector width, and split over workers
	x := randSlice(n, 7, 4)
	y, g, ones := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	GELU(y, x)
	GELUBackward(g, ones, x)
	y2, d := make([]float32, n), append([]float32(nil), x...)
	GELUWithGrad(y2, d, d)
	for i := range x {
		if math.Abs(float64(y2[i]-y[i])) > 1e-7*math.Max(math.Abs(float64(y[i])), 1) {
			t.Fatalf("GELUWithGrad y(%v) = %v, GELU %v", x[i], y2[i], y[i])
		}
		if math.Abs(float64(d[i]-g[i])) > 1e-7*math.Max(math.Abs(float64(g[i])), 1) {
			t.Fatalf("GELUWithGrad d(%v) = %v, GELUBackward %v", x[i], d[i], g[i])
		}
	}
	a, b := randSlice(n, 8, 1), randSlice(n, 9, 1)
	p := make([]float32, n)
	Mul(p, a, b)
	for i := range p {
		if p[i] != a[i]*b[i] {
			t.Fatalf("Mul[%d] = %v, want %v", i, p[i], a[i]*b[i])
		}
	}
	s := append([]float32(nil), a...)
	Add(s, s, b) // in place, as a gradient accumulates
	for i := range s {
		if s[i] != a[i]+b[i] {
			t.Fatalf("Add[%d] = %v, want %v", i, s[i], a[i]+b[i])
		}
	}
}

func TestBiasGELU(t *testing.T) {
	rows, n := 3, 5
	h := randSlice(rows*n, 1, 2)
	b := randSlice(n, 2, 1)
	want := make([]float32, rows*n)
	for r := 0; r < rows; r++ {
		for j := 0; j < n; j++ {
			want[r*n+j] = h[r*n+j] + b[j]
		}
	}
	wy := make([]float32, rows*n)
	GELU(wy, want)
	y := make([]float32, rows*n)
	BiasGELU(y, h, b, rows, n)
	near(t, "pre-activation", h, want, 0)
	near(t, "BiasGELU", y, wy, 0)
}

func TestSoftmax(t *testing.T) {
	x := []float32{1, 2, 3, 1, 2, 3, 5, 5, 5}
	mask := []float32{0, 0, -10000}
	y := make([]float32, 9)
	Softmax(y, x, nil, 3, 3, 1)
	near(t, "softmax", y[:3], []float32{0.09003057, 0.24472847, 0.66524096}, 1e-6)
	near(t, "uniform", y[6:], []float32{1.0 / 3, 1.0 / 3, 1.0 / 3}, 1e-6)
	Softmax(y, x, mask, 3, 3, 3)
	near(t, "masked", y[:3], []float32{0.26894142, 0.73105858, 0}, 1e-6)
	inf := float32(math.Inf(-1))
	Softmax(y[:3], []float32{inf, inf, inf}, nil, 1, 3, 1)
	near(t, "all masked", y[:3], []float32{1.0 / 3, 1.0 / 3, 1.0 / 3}, 1e-6)

	// Mask blocks that do not align with the workers' chunks.
	rows, n, per := 301, 70, 7
	big := randSlice(rows*n, 3, 3)
	m := randSlice(rows/per*n, 4, 3)
	got := make([]float32, rows*n)
	Softmax(got, big, m, rows, n, per)
	want := make([]float32, rows*n)
	for r := 0; r < rows; r++ {
		softmaxSerial(want[r*n:(r+1)*n], big[r*n:(r+1)*n], m[(r/per)*n:(r/per+1)*n], 1, n, 1)
	}
	near(t, "blocked mask", got, want, 0)
}

func TestSoftmaxBackward(t *testing.T) {
	rows, n := 3, 6
	x := randSlice(rows*n, 5, 2)
	w := randSlice(rows*n, 6, 1)
	y := make([]float32, rows*n)
	f := func() float64 { Softmax(y, x, nil, rows, n, 1); return dot64(y, w) }
	f()
	dx := make([]float32, rows*n)
	SoftmaxBackward(dx, y, w, rows, n)
	checkGrad(t, "softmax", x, dx, f, 2e-3)
}

func TestLayerNorm(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	y, mean, rstd := make([]float32, 4), make([]float32, 1), make([]float32, 1)
	LayerNorm(y, mean, rstd, x, []float32{1, 1, 2, 1}, []float32{0, 0, 0, 1}, 1, 4, 0)
	near(t, "layernorm", y, []float32{-1.3416408, -0.4472136, 0.8944272, 2.3416408}, 1e-6)
	near(t, "stats", []float32{mean[0], rstd[0]}, []float32{2.5, 0.8944272}, 1e-6)

	rows, d := 5, 8
	x = randSlice(rows*d, 7, 2)
	g := randSlice(d, 8, 1)
	b := randSlice(d, 9, 1)
	w := randSlice(rows*d, 10, 1)
	y, mean, rstd = make([]float32, rows*d), make([]float32, rows), make([]float32, rows)
	f := func() float64 { LayerNorm(y, mean, rstd, x, g, b, rows, d, 1e-5); return dot64(y, w) }
	f()
	dx, dg, db := make([]float32, rows*d), make([]float32, d), make([]float32, d)
	LayerNormBackward(dx, dg, db, w, x, mean, rstd, g, rows, d)
	checkGrad(t, "layernorm x", x, dx, f, 5e-3)
	checkGrad(t, "layernorm gamma", g, dg, f, 5e-3)
	checkGrad(t, "layernorm beta", b, db, f, 5e-3)
}

func TestLinear(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}    // [2, 3]
	w := []float32{1, 0, -1, 0.5, 1, 2} // [2, 3]
	b := []float32{10, 20}
	y := make([]float32, 4)
	Linear(y, x, w, b, 2, 3, 2)
	near(t, "linear", y, []float32{8, 28.5, 8, 39}, 1e-6)

	rows, in, out := 4, 5, 3
	x = randSlice(rows*in, 11, 1)
	w = randSlice(out*in, 12, 1)
	b = randSlice(out, 13, 1)
	dy := randSlice(rows*out, 14, 1)
	y = make([]float32, rows*out)
	f := func() float64 { Linear(y, x, w, b, rows, in, out); return dot64(y, dy) }
	dx, dw, db := make([]float32, rows*in), make([]float32, out*in), make([]float32, out)
	LinearBackward(dx, dw, db, dy, x, w, rows, in, out, false)
	checkGrad(t, "linear x", x, dx, f, 2e-3)
	checkGrad(t, "linear w", w, dw, f, 2e-3)
	checkGrad(t, "linear b", b, db, f, 2e-3)
	// addDx accumulates.
	LinearBackward(dx, nil, nil, dy, x, w, rows, in, out, true)
	for i := range dx {
		dx[i] /= 2
	}
	checkGrad(t, "linear x accumulated", x, dx, f, 2e-3)
}

func TestBiasGrad(t *testing.T) {
	db := []float32{1, 1}
	BiasGrad(db, []float32{1, 2, 3, 4, 5, 6}, 3, 2)
	near(t, "bias grad", db, []float32{10, 13}, 0)
}

func TestDropoutMask(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 100000} {
		keep := make([]uint64, MaskWords(n))
		r := NewRNG(42)
		DropoutMask(keep, n, 0.3, r)
		serial := NewRNG(42)
		kept := 0
		for i := 0; i < n; i++ {
			want := uint32(serial.Uint64()>>40) >= uint32(float64(float32(0.3))*(1<<24))
			if got := keep[i>>6]&(1<<(i&63)) != 0; got != want {
				t.Fatalf("n %d: bit %d is %v, the serial draw says %v", n, i, got, want)
			}
			if want {
				kept++
			}
		}
		if r.State() != serial.State() {
			t.Fatalf("n %d: generator advanced to %x, serial to %x", n, r.State(), serial.State())
		}
		if n == 100000 && math.Abs(float64(kept)/float64(n)-0.7) > 0.01 {
			t.Fatalf("kept %d of %d", kept, n)
		}
	}
	keep := []uint64{0b101}
	dst := make([]float32, 3)
	DropoutApply(dst, []float32{1, 2, 3}, keep, 0.5)
	near(t, "apply", dst, []float32{2, 0, 6}, 0)
}

// TestDropoutApplyWords checks the mask kernel against the bit-by-bit
// definition over lengths and offsets that take its whole-word (vector)
// path, its unaligned head and its tail.
func TestDropoutApplyWords(t *testing.T) {
	const total = 1000
	keep := make([]uint64, MaskWords(total))
	DropoutMask(keep, total, 0.4, NewRNG(9))
	src := randSlice(total, 10, 1)
	for _, c := range []struct{ off, n int }{{0, total}, {0, 64}, {5, 600}, {64, 128}, {70, 930}, {127, 1}, {1, 63}} {
		dst := make([]float32, c.n)
		maskAt(dst, src[c.off:c.off+c.n], keep, c.off, 0.4)
		for i, got := range dst {
			j := c.off + i
			want := float32(0)
			if keep[j>>6]>>(j&63)&1 != 0 {
				want = src[j] * (1 / (1 - float32(0.4)))
			}
			if got != want {
				t.Fatalf("off %d n %d: value %d is %v, want %v", c.off, c.n, i, got, want)
			}
		}
	}
}

// TestDropoutAdd checks the fused dropout and residual sum against
// DropoutApply then an addition, with and without a mask.
func TestDropoutAdd(t *testing.T) {
	const n = 70001 // parallel, with a tail word
	keep := make([]uint64, MaskWords(n))
	DropoutMask(keep, n, 0.1, NewRNG(4))
	src, add := randSlice(n, 5, 1), randSlice(n, 6, 1)
	for _, k := range [][]uint64{keep, nil} {
		want := make([]float32, n)
		if k != nil {
			DropoutApply(want, src, k, 0.1)
		} else {
			copy(want, src)
		}
		for i := range want {
			want[i] += add[i]
		}
		got := make([]float32, n)
		DropoutAdd(got, src, add, k, 0.1)
		near(t, "dropout add", got, want, 0)
	}
	near(t, "small", func() []float32 {
		d := make([]float32, 3)
		DropoutAdd(d, []float32{1, 2, 3}, []float32{10, 20, 30}, []uint64{0b101}, 0.5)
		return d
	}(), []float32{12, 20, 36}, 0)
}

func TestCrossEntropy(t *testing.T) {
	d := make([]float32, 6)
	loss, n, err := CrossEntropy(d, []float32{0, 0, 0, 1, 2, 3}, []int{0, IgnoreIndex}, 3, 0)
	if err != nil || n != 1 || math.Abs(loss-math.Log(3)) > 1e-12 {
		t.Fatalf("loss %v count %d err %v", loss, n, err)
	}
	near(t, "grad", d, []float32{-2.0 / 3, 1.0 / 3, 1.0 / 3, 0, 0, 0}, 1e-7)
	z := randSlice(8, 15, 2)
	labels := []int{1, 3}
	f := func() float64 { l, _, _ := CrossEntropy(nil, z, labels, 4, 0.1); return l }
	g := make([]float32, 8)
	CrossEntropy(g, z, labels, 4, 0.1)
	checkGrad(t, "cross-entropy", z, g, f, 1e-4)
	if _, _, err := CrossEntropy(nil, z, []int{4, 0}, 4, 0); err == nil {
		t.Fatal("label outside the classes accepted")
	}
}

// naiveAttention is the float64 reference over [B, L, H·hd] operands.
func naiveAttention(q, k, v, mask []float32, b, h, hd, lq, lk int) []float32 {
	d := h * hd
	ctx := make([]float32, b*lq*d)
	for bi := 0; bi < b; bi++ {
		for hh := 0; hh < h; hh++ {
			for i := 0; i < lq; i++ {
				s := make([]float64, lk)
				mx := math.Inf(-1)
				for j := 0; j < lk; j++ {
					for c := 0; c < hd; c++ {
						s[j] += float64(q[(bi*lq+i)*d+hh*hd+c]) * float64(k[(bi*lk+j)*d+hh*hd+c])
					}
					s[j] = s[j]/math.Sqrt(float64(hd)) + float64(mask[bi*lk+j])
					mx = math.Max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for c := 0; c < hd; c++ {
					var o float64
					for j := 0; j < lk; j++ {
						o += s[j] / sum * float64(v[(bi*lk+j)*d+hh*hd+c])
					}
					ctx[(bi*lq+i)*d+hh*hd+c] = float32(o)
				}
			}
		}
	}
	return ctx
}

func TestAttention(t *testing.T) {
	b, h, hd, lq, lk := 2, 3, 4, 5, 6
	d := h * hd
	q, k, v := randSlice(b*lq*d, 16, 1), randSlice(b*lk*d, 17, 1), randSlice(b*lk*d, 18, 1)
	mask := make([]float32, b*lk)
	mask[lk-1], mask[2*lk-2] = -10000, -10000
	a := Attention{Batch: b, Heads: h, HeadDim: hd, Lq: lq, Lk: lk,
		Q: Merged(lq, h, hd), K: Merged(lk, h, hd), V: Merged(lk, h, hd), Ctx: Merged(lq, h, hd)}
	probs, work := make([]float32, a.ProbsLen()), make([]float32, a.WorkLen())
	ctx := make([]float32, b*lq*d)
	a.Forward(ctx, probs, nil, q, k, v, mask, nil, work)
	near(t, "context", ctx, naiveAttention(q, k, v, mask, b, h, hd, lq, lk), 1e-5)
	again := make([]float32, len(ctx))
	a.Context(again, probs, nil, v, work)
	near(t, "recomputed context", again, ctx, 0)

	// Backward against finite differences, with dropout (fixed mask).
	a.Dropout = 0.25
	keep := make([]uint64, MaskWords(a.ProbsLen()))
	DropoutMask(keep, a.ProbsLen(), a.Dropout, NewRNG(3))
	w := randSlice(len(ctx), 19, 1)
	f := func() float64 {
		probs := make([]float32, a.ProbsLen())
		a.Forward(ctx, probs, nil, q, k, v, mask, nil, work) // no dropout here…
		pd := make([]float32, len(probs))
		DropoutApply(pd, probs, keep, a.Dropout) // …applied by hand with the fixed mask
		out := make([]float32, len(ctx))
		for bi := 0; bi < b; bi++ {
			for hh := 0; hh < h; hh++ {
				for i := 0; i < lq; i++ {
					for c := 0; c < hd; c++ {
						var s float32
						for j := 0; j < lk; j++ {
							s += pd[((bi*h+hh)*lq+i)*lk+j] * v[(bi*lk+j)*d+hh*hd+c]
						}
						out[(bi*lq+i)*d+hh*hd+c] = s
					}
				}
			}
		}
		return dot64(out, w)
	}
	f()
	a.Forward(ctx, probs, nil, q, k, v, mask, nil, work) // probs before dropout
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	a.Backward(dq, dk, dv, w, probs, keep, q, k, v, work)
	checkGrad(t, "attention q", q, dq, f, 3e-3)
	checkGrad(t, "attention k", k, dk, f, 3e-3)
	checkGrad(t, "attention v", v, dv, f, 3e-3)

	// The split layout [B, H, L, hd] gives the same context.
	split := func(x []float32, l int) []float32 {
		o := make([]float32, len(x))
		for bi := 0; bi < b; bi++ {
			for i := 0; i < l; i++ {
				for hh := 0; hh < h; hh++ {
					copy(o[((bi*h+hh)*l+i)*hd:], x[(bi*l+i)*d+hh*hd:(bi*l+i)*d+hh*hd+hd])
				}
			}
		}
		return o
	}
	a.Dropout = 0
	s := Attention{Batch: b, Heads: h, HeadDim: hd, Lq: lq, Lk: lk,
		Q: Split(lq, h, hd), K: Split(lk, h, hd), V: Split(lk, h, hd), Ctx: Split(lq, h, hd)}
	a.Forward(ctx, probs, nil, q, k, v, mask, nil, work)
	sctx := make([]float32, len(ctx))
	s.Forward(sctx, probs, nil, split(q, lq), split(k, lk), split(v, lk), mask, nil, work)
	near(t, "split layout", sctx, split(ctx, lq), 0)
}

func TestAdamW(t *testing.T) {
	n := 100003
	p, g := randSlice(n, 20, 1), randSlice(n, 21, 1)
	m, v := randSlice(n, 22, 0.1), randSlice(n, 23, 0.1)
	for i := range v {
		v[i] *= v[i]
	}
	wp, wm, wv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
	keep, b1, c1, b2, c2, ss, bc, eps := float32(0.9999), float32(0.9), float32(0.1), float32(0.999), float32(0.001), float32(1e-3), float32(0.03), float32(1e-8)
	for i := range wp { // the scalar reference
		wp[i] *= keep
		wm[i] = wm[i]*b1 + c1*g[i]
		wv[i] = wv[i]*b2 + c2*g[i]*g[i]
		denom := float32(math.Sqrt(float64(wv[i])))/bc + eps
		wp[i] -= ss * wm[i] / denom
	}
	AdamW(p, g, m, v, keep, b1, c1, b2, c2, ss, bc, eps)
	near(t, "p", p, wp, 0)
	near(t, "m", m, wm, 0)
	near(t, "v", v, wv, 0)
	// Known value: the first step from zero moments moves p by lr·sign(g)
	// (lr 0.1: stepSize = lr/(1−β₁) = 1).
	q := []float32{1}
	AdamW(q, []float32{0.5}, []float32{0}, []float32{0}, 1, 0.9, 0.1, 0.999, 0.001, 1, float32(math.Sqrt(0.001)), 1e-8)
	near(t, "first step", q, []float32{0.9}, 1e-6)
}

func TestAllFinite(t *testing.T) {
	s := randSlice(70001, 24, 1)
	if !AllFinite(s) || !AllFinite(nil) {
		t.Fatal("finite values reported non-finite")
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		s[69999] = bad
		if AllFinite(s) {
			t.Fatalf("%v not found", bad)
		}
	}
}

func BenchmarkAdamW(b *testing.B) {
	n := 1 << 22
	p, g, m, v := randSlice(n, 1, 1), randSlice(n, 2, 1), make([]float32, n), make([]float32, n)
	b.SetBytes(int64(28 * n))
	for b.Loop() {
		AdamW(p, g, m, v, 0.9999, 0.9, 0.1, 0.999, 0.001, 1e-5, 0.03, 1e-8)
	}
}

func BenchmarkAllFinite(b *testing.B) {
	s := randSlice(1<<22, 1, 1)
	b.SetBytes(int64(4 * len(s)))
	for b.Loop() {
		AllFinite(s)
	}
}

func TestMaskAtOffsets(t *testing.T) {
	n := 300
	keep := make([]uint64, MaskWords(n))
	DropoutMask(keep, n, 0.4, NewRNG(2))
	src := randSlice(n, 3, 1)
	for _, off := range []int{0, 1, 63, 64, 100} {
		got := make([]float32, n-off)
		maskAt(got, src[off:], keep, off, 0.4)
		for i, v := range got {
			want := float32(0)
			if keep[(off+i)>>6]&(1<<((off+i)&63)) != 0 {
				want = src[off+i] * (1 / (1 - float32(0.4)))
			}
			if v != want {
				t.Fatalf("offset %d value %d: %v, want %v", off, i, v, want)
			}
		}
	}
}

func TestBiasGradStrided(t *testing.T) {
	db := []float32{0, 0}
	BiasGradStrided(db, []float32{1, 2, 9, 3, 4, 9, 5, 6}, 3, 2, 3)
	near(t, "strided bias grad", db, []float32{9, 12}, 0)
}

func TestLayerNormApplyIdentical(t *testing.T) {
	rows, d := 37, 70
	x, g, b := randSlice(rows*d, 30, 3), randSlice(d, 31, 1), randSlice(d, 32, 1)
	y, mean, rstd := make([]float32, rows*d), make([]float32, rows), make([]float32, rows)
	LayerNorm(y, mean, rstd, x, g, b, rows, d, 1e-12)
	again := make([]float32, rows*d)
	LayerNormApply(again, x, mean, rstd, g, b, rows, d)
	near(t, "apply", again, y, 0)
}
