package blas

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Gonum is the pure-Go backend (gonum's native BLAS). It is the default
// without cgo and serves as a reference in tests of the cgo backend.
type Gonum struct{}

// Name reports "gonum".
func (Gonum) Name() string { return "gonum" }

// SetThreads is a no-op: gonum sizes its own goroutines.
func (Gonum) SetThreads(int) {}

// Sgemm runs gonum's Sgemm.
func (Gonum) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := gblas.NoTrans, gblas.NoTrans
	if transA {
		ta = gblas.Trans
	}
	if transB {
		tb = gblas.Trans
	}
	gonum.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
