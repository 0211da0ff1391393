package vilbert

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := -87.0; x <= 88.0; x += 0.0137 {
		xf := float32(x)
		want := math.Exp(float64(xf))
		got := float64(expf(xf))
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 3e-7 {
		t.Errorf("expf relative error %.3g", worst)
	}
	if expf(-100) != 0 || !math.IsInf(float64(expf(100)), 1) {
		t.Error("expf limits")
	}
}

func BenchmarkGELUForward(b *testing.B) {
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%2000)/200 - 5
	}
	var g gelu
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		g.Forward(x)
	}
}
