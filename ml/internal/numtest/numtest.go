// Package numtest holds the comparison helpers the numeric packages'
// tests share.
package numtest

import (
	"fmt"
	"math"
)

// CloseTo reports the first index where got and want differ by more
// than atol + rtol·|want| (a NaN never matches), or a length mismatch.
func CloseTo(got, want []float32, rtol, atol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.Abs(g-w) > atol+rtol*math.Abs(w) {
			return fmt.Errorf("index %d: got %.8g, want %.8g (diff %.3g)", i, g, w, math.Abs(g-w))
		}
	}
	return nil
}
