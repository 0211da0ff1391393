// Package blas is the seam between the tensor kernels and a matrix-product
// library. The default backend calls OpenBLAS's cblas_sgemm through cgo;
// building with the tag noblas or with CGO_ENABLED=0 selects a pure-Go
// backend on gonum. Another backend (for example cuBLAS) plugs in through
// Backend and Use without touching model code.
package blas

import "fmt"

// Backend computes single-precision matrix products on row-major data.
type Backend interface {
	// Name identifies the backend in logs and benchmarks.
	Name() string
	// Sgemm computes C = alpha*op(A)*op(B) + beta*C where op(A) is m×k and
	// op(B) is k×n, all row-major with leading dimensions lda, ldb, ldc.
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// SetThreads bounds the threads the backend may use; n < 1 means one.
	SetThreads(n int)
}

var current Backend = defaultBackend()

// Use replaces the backend used by Sgemm and returns the previous one.
// Call it at start-up, before kernels run.
func Use(b Backend) Backend {
	prev := current
	current = b
	return prev
}

// Current returns the backend in use.
func Current() Backend { return current }

// Name is the name of the backend in use.
func Name() string { return current.Name() }

// SetThreads bounds the backend's own threads.
func SetThreads(n int) { current.SetThreads(n) }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on the current backend
// after checking that every slice is long enough for its dimensions, so a
// wrong shape is a panic naming the operand instead of memory corruption
// inside the C library.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkOperand("A", a, ar, ac, lda)
	checkOperand("B", b, br, bc, ldb)
	checkOperand("C", c, m, n, ldc)
	if k == 0 {
		scale(c, m, n, ldc, beta)
		return
	}
	current.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func checkOperand(name string, s []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("blas: sgemm %s: leading dimension %d < %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("blas: sgemm %s: %d values, need %d for %d×%d with ld %d", name, len(s), (rows-1)*ld+cols, rows, cols, ld))
	}
}

func scale(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if beta == 0 {
				row[j] = 0
			} else {
				row[j] *= beta
			}
		}
	}
}
