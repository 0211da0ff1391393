//go:build !cgo || noblas

package tensor

// geluInto writes GELU(x) into y.
func geluInto(y, x []float32) {
	for i, v := range x {
		y[i] = gelu(v)
	}
}

// geluGradInto writes dy·GELU'(x) into dx.
func geluGradInto(dx, dy, x []float32) {
	for i, v := range x {
		dx[i] = dy[i] * geluGrad(v)
	}
}
