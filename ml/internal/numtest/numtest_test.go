package numtest

import (
	"math"
	"testing"
)

func TestCloseTo(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		got, want  []float32
		rtol, atol float64
		ok         bool
	}{
		{[]float32{1, 2}, []float32{1, 2}, 0, 0, true},
		{[]float32{1.001}, []float32{1}, 1e-2, 0, true},
		{[]float32{1.1}, []float32{1}, 1e-2, 1e-2, false},
		{[]float32{0.005}, []float32{0}, 0, 1e-2, true},
		{[]float32{nan}, []float32{nan}, 1, 1, false},
		{[]float32{1}, []float32{1, 2}, 1, 1, false},
	} {
		if err := CloseTo(c.got, c.want, c.rtol, c.atol); (err == nil) != c.ok {
			t.Errorf("CloseTo(%v, %v, %g, %g) = %v, want ok=%v", c.got, c.want, c.rtol, c.atol, err, c.ok)
		}
	}
}
