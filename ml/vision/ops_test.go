package vision

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSoftmaxRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows, n := 5, 37
	x := make([]float32, rows*n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 8)
	}
	x[n+3] = 200 // a large logit must not overflow
	want := make([]float32, len(x))
	for r := 0; r < rows; r++ {
		row := x[r*n : (r+1)*n]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		for i, v := range row {
			want[r*n+i] = float32(math.Exp(float64(v)-m) / s)
		}
	}
	for name, f := range map[string]func([]float32, int, int){"softmaxRows": softmaxRows, "softmaxRowsGo": softmaxRowsGo} {
		got := append([]float32(nil), x...)
		f(got, rows, n)
		for i := range got {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*max(1, float64(want[i])) {
				t.Fatalf("%s: value %d = %g, want %g", name, i, got[i], want[i])
			}
		}
	}
}

func TestLayerNormRows(t *testing.T) {
	x := []float32{1, 2, 3, 4, -1, -1, -1, 5}
	g := []float32{1, 2, 1, 0.5}
	b := []float32{0, 0, 1, 0}
	y := make([]float32, len(x))
	layerNorm(y, x, 2, 4, g, b, 1e-6)
	// row 0: mean 2.5, var 1.25
	inv := 1 / math.Sqrt(1.25+1e-6)
	want0 := []float64{-1.5 * inv, -0.5 * inv * 2, 0.5*inv + 1, 1.5 * inv * 0.5}
	for i, w := range want0 {
		if math.Abs(float64(y[i])-w) > 1e-5 {
			t.Errorf("y[%d] = %g, want %g", i, y[i], w)
		}
	}
}
