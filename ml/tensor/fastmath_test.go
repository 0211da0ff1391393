package tensor

import (
	"math"
	"testing"
)

func TestFastMathAccuracy(t *testing.T) {
	// worst checks |got−want| ≤ tol·max(|want|, floor) over [lo, hi].
	worst := func(name string, lo, hi float64, got, want func(float64) float64, tol float64, floor float64) {
		maxRel := 0.0
		for i := 0; i <= 200000; i++ {
			x := lo + (hi-lo)*float64(i)/200000
			w := want(x)
			if w == 0 && floor == 0 {
				continue
			}
			maxRel = math.Max(maxRel, math.Abs(got(x)-w)/math.Max(math.Abs(w), floor))
		}
		if maxRel > tol {
			t.Errorf("%s: max relative error %.3g > %.3g", name, maxRel, tol)
		}
	}
	worst("exp", -87, 88, expApprox, math.Exp, 2e-8, 0)
	worst("erfc", 0, 9, erfcPos, math.Erfc, 1.3e-7, 0)
	worst("gelu", -9, 9, func(x float64) float64 { return float64(gelu(float32(x))) },
		func(x float64) float64 { return float64(float32(x)) * 0.5 * math.Erfc(-float64(float32(x))/math.Sqrt2) }, 4e-7, 0)
	worst("gelu'", -9, 9, func(x float64) float64 { return float64(geluGrad(float32(x))) },
		func(x float64) float64 {
			x = float64(float32(x))
			return 0.5*math.Erfc(-x/math.Sqrt2) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
		}, 4e-7, 1) // absolute near its root at x ≈ −0.75
	if expApprox(-200) != 0 || !math.IsInf(expApprox(100), 1) {
		t.Error("exp range limits")
	}
}

var sink float32

func BenchmarkGELU(b *testing.B) {
	x := Zeros(1 << 16)
	rng := NewRNG(1)
	for i := range x.Data {
		x.Data[i] = 3 * rng.NormFloat32()
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			for _, v := range x.Data {
				sink += geluGrad(v) + gelu(v)
			}
		}
	})
	b.Run("math", func(b *testing.B) {
		for b.Loop() {
			for _, v := range x.Data {
				f := float64(v)
				cdf := 0.5 * (1 + math.Erf(f/math.Sqrt2))
				sink += float32(f*cdf) + float32(cdf+f*math.Exp(-0.5*f*f)/math.Sqrt(2*math.Pi))
			}
		}
	})
}

// TestGELUKernels checks the build's GELU kernels (vectorised C with cgo,
// Go otherwise) against float64 math over the whole useful range.
func TestGELUKernels(t *testing.T) {
	n := 100001
	x, dy := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(-12 + 24*float64(i)/float64(n-1))
		dy[i] = 1
	}
	y, g := make([]float32, n), make([]float32, n)
	GELUInto(y, x)
	GELUGradInto(g, dy, x)
	for i, v := range x {
		f := float64(v)
		cdf := 0.5 * math.Erfc(-f/math.Sqrt2)
		wantY := f * cdf
		wantG := cdf + f*math.Exp(-f*f/2)/math.Sqrt(2*math.Pi)
		if math.Abs(float64(y[i])-wantY) > 3e-6*math.Max(math.Abs(wantY), 1e-3) {
			t.Fatalf("gelu(%v) = %v, want %v", v, y[i], wantY)
		}
		if math.Abs(float64(g[i])-wantG) > 3e-6*math.Max(math.Abs(wantG), 1) {
			t.Fatalf("gelu'(%v) = %v, want %v", v, g[i], wantG)
		}
	}
}

func BenchmarkGELUKernel(b *testing.B) {
	x := make([]float32, 1<<16)
	rng := NewRNG(1)
	for i := range x {
		x[i] = 3 * rng.NormFloat32()
	}
	y, g := make([]float32, len(x)), make([]float32, len(x))
	for b.Loop() {
		GELUInto(y, x)
		GELUGradInto(g, x, x)
	}
}
