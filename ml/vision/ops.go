package vision

import "mmc/ml/kernels"

// linear computes y [rows, out] = x [rows, in] · wᵀ + b (PyTorch's Linear
// weight layout [out, in]) through the shared kernel.
func linear(y, x []float32, rows, in, out int, w, b []float32) {
	kernels.Linear(y, x, w, b, rows, in, out)
}

// layerNorm writes LayerNorm(x)·gamma + beta of each of the rows of x
// [rows, d] into y (which may be x).
func layerNorm(y, x []float32, rows, d int, gamma, beta []float32, eps float32) {
	kernels.LayerNorm(y, nil, nil, x, gamma, beta, rows, d, eps)
}
