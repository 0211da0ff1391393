//go:build !cgo || noblas

package vision

// softmaxRows applies a softmax to each of the rows of x [rows, n] in place.
func softmaxRows(x []float32, rows, n int) { softmaxRowsGo(x, rows, n) }
