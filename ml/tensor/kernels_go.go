//go:build !cgo || noblas

package tensor

// GELUInto writes the exact GELU x·Φ(x) of x into y (float32 accuracy;
// vectorised C with cgo, Go otherwise). y and x have the same length.
func GELUInto(y, x []float32) {
	for i, v := range x {
		y[i] = gelu(v)
	}
}

// GELUGradInto writes dy·GELU'(x) into dx.
func GELUGradInto(dx, dy, x []float32) {
	for i, v := range x {
		dx[i] = dy[i] * geluGrad(v)
	}
}
