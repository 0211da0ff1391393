package kernels

import "fmt"

// GELU writes the exact GELU x·Φ(x) = x/2·(1 + erf(x/√2)) of x into y
// (float32 accuracy; vectorised C with cgo, Go otherwise). y may be x.
func GELU(y, x []float32) {
	checkLen("GELU", len(y), len(x))
	ParallelFor(len(x), 20, func(lo, hi int) { geluSerial(y[lo:hi], x[lo:hi]) })
}

// GELUBackward writes dy·GELU'(x) into dx (dx may be dy).
func GELUBackward(dx, dy, x []float32) {
	checkLen("GELUBackward", len(dx), len(x))
	checkLen("GELUBackward", len(dy), len(x))
	ParallelFor(len(x), 20, func(lo, hi int) { geluGradSerial(dx[lo:hi], dy[lo:hi], x[lo:hi]) })
}

// GELUWithGrad writes GELU(x) into y and GELU'(x) into d (d may be x) in
// one pass: a backward pass that recomputes the activation and then needs
// its derivative evaluates Φ(x) once instead of twice (GELU, then
// GELUBackward). Mul(dx, dy, d) then gives GELUBackward's dx.
func GELUWithGrad(y, d, x []float32) {
	checkLen("GELUWithGrad", len(y), len(x))
	checkLen("GELUWithGrad", len(d), len(x))
	ParallelFor(len(x), 30, func(lo, hi int) { geluWithGradSerial(y[lo:hi], d[lo:hi], x[lo:hi]) })
}

// Mul writes a⊙b into dst (dst may be a or b).
func Mul(dst, a, b []float32) { binary("Mul", dst, a, b, mulSerial) }

// Add writes a+b into dst (dst may be a or b): a gradient's sum, through
// DropoutAdd's path without a mask.
func Add(dst, a, b []float32) {
	binary("Add", dst, a, b, func(d, x, y []float32) { dropoutAddSerial(d, x, y, nil, 0, 0) })
}

// binary runs the one-pass elementwise fn over matching chunks of dst, a
// and b (each at least len(dst) long) on the workers.
func binary(op string, dst, a, b []float32, fn func(dst, a, b []float32)) {
	checkLen(op, len(a), len(dst))
	checkLen(op, len(b), len(dst))
	ParallelFor(len(dst), 1, func(lo, hi int) { fn(dst[lo:hi], a[lo:hi], b[lo:hi]) })
}

// BiasGELU adds the bias b [n] to each row of h [rows, n] in place (the
// pre-activation, kept for GELUBackward) and writes GELU of it into y, in
// one pass over the data.
func BiasGELU(y, h, b []float32, rows, n int) {
	checkLen("BiasGELU", len(h), rows*n)
	checkLen("BiasGELU", len(y), rows*n)
	checkLen("BiasGELU bias", len(b), n)
	ParallelFor(rows, 20*n, func(lo, hi int) { biasGELUSerial(y[lo*n:hi*n], h[lo*n:hi*n], b, hi-lo, n) })
}

// Softmax writes softmax(src + mask) of each of the rows [rows, n] of src
// into dst (dst may be src), with float32 sums. mask is additive (0 keeps
// a key, a large negative value drops it) and may be nil; row r reads mask
// row r/rowsPerMask ([rows/rowsPerMask, n]), so one mask row serves every
// head and query of a batch item. A row masked entirely with −Inf becomes
// uniform (PyTorch gives NaN; a finite large mask gives the same).
func Softmax(dst, src, mask []float32, rows, n, rowsPerMask int) {
	checkLen("Softmax", len(src), rows*n)
	checkLen("Softmax", len(dst), rows*n)
	if mask != nil {
		if rowsPerMask < 1 || rows%rowsPerMask != 0 {
			panic(fmt.Sprintf("kernels.Softmax: %d rows do not split into blocks of %d per mask row", rows, rowsPerMask))
		}
		checkLen("Softmax mask", len(mask), rows/rowsPerMask*n)
	}
	ParallelFor(rows, 8*n, func(lo, hi int) {
		if mask != nil {
			softmaxMasked(dst, src, mask, lo, hi, n, rowsPerMask)
			return
		}
		softmaxSerial(dst[lo*n:hi*n], src[lo*n:hi*n], nil, hi-lo, n, 1)
	})
}

// softmaxMasked runs rows [lo, hi) one mask block at a time.
func softmaxMasked(dst, src, mask []float32, lo, hi, n, per int) {
	for r := lo; r < hi; {
		end := min((r/per+1)*per, hi)
		b := r / per
		softmaxSerial(dst[r*n:end*n], src[r*n:end*n], mask[b*n:(b+1)*n], end-r, n, end-r)
		r = end
	}
}

// SoftmaxBackward writes dx = y ⊙ (dy − Σ_j y·dy) row by row, the
// gradient through y = softmax(x); dx may be dy.
func SoftmaxBackward(dx, y, dy []float32, rows, n int) {
	checkLen("SoftmaxBackward", len(y), rows*n)
	checkLen("SoftmaxBackward", len(dy), rows*n)
	checkLen("SoftmaxBackward", len(dx), rows*n)
	ParallelFor(rows, 4*n, func(lo, hi int) {
		softmaxBackwardSerial(dx[lo*n:hi*n], y[lo*n:hi*n], dy[lo*n:hi*n], hi-lo, n)
	})
}

func checkLen(op string, got, want int) {
	if got < want {
		panic(fmt.Sprintf("kernels.%s: %d values, need %d", op, got, want))
	}
}

// SoftmaxSerial is Softmax on the calling goroutine, with one mask row
// (or none) for every row: for callers that already spread independent
// blocks (attention heads) over the workers.
func SoftmaxSerial(dst, src, mask []float32, rows, n int) {
	checkLen("SoftmaxSerial", len(src), rows*n)
	checkLen("SoftmaxSerial", len(dst), rows*n)
	if mask != nil {
		checkLen("SoftmaxSerial mask", len(mask), n)
	}
	softmaxSerial(dst, src, mask, rows, n, max(rows, 1))
}
