// Package blas is the seam between the kernels and a matrix-product
// library. The default backend calls OpenBLAS's cblas_sgemm through cgo;
// building with the tag noblas or with CGO_ENABLED=0 selects a pure-Go
// backend on gonum. Another backend (for example cuBLAS) plugs in through
// Configure without touching model code.
package blas

import (
	"fmt"
	"sync"
)

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

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on the current backend
// after checking that every slice is long enough for its dimensions, so a
// wrong shape is a panic naming the operand instead of memory corruption
// inside the C library.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if k == 0 {
		scale(c, m, n, ldc, beta)
		return
	}
	parallelSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine only: for callers that
// already spread independent products over the workers (attention heads).
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if k == 0 {
		scale(c, m, n, ldc, beta)
		return
	}
	load().backend.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkGemm checks the three operands of one product C = op(A)*op(B)
// against their dimensions (see checkOperand).
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
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
}

// minSplitFlops is the product size (m·n·k) below which splitting costs
// more than it gains.
const minSplitFlops = 1 << 18

// parallelSgemm cuts C into horizontal (or, for short C, vertical) strips,
// one per worker, and runs the backend on each strip concurrently.
func parallelSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	cf := load()
	splitSgemm(cf.backend, cf.threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmParts is Sgemm split over at most parts goroutines instead of the
// configured thread count: for callers running independent products side
// by side (a weight gradient beside an input gradient), each on its share
// of the threads. Whole products on one core each waste less than one
// product split in two (no packed panel is packed twice).
func SgemmParts(parts int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if k == 0 {
		scale(c, m, n, ldc, beta)
		return
	}
	splitSgemm(load().backend, max(parts, 1), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func splitSgemm(current Backend, parts int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if parts < 2 || m*n*k < minSplitFlops {
		current.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Each row strip packs all of B (k×n), each column strip all of A
	// (m×k). Rows, unless C is much wider than tall: then row strips pack
	// the larger operand twice (1024×3072×768: 303 GFLOP/s by rows, 338–
	// 349 by columns). Short products (one meme: 101 or 128 rows) are cut
	// by columns: packing all of a 1024×1024 B for 50 rows of C cost the
	// row split 15–30 % (101×1024×1024: 80–99 GFLOP/s by rows, 110–117
	// by columns on a slower machine; 200×1024×768 had measured 274 by
	// rows and 261 by columns on a faster one).
	byRows := m >= n || m >= 256 && n < 2*m
	size := n
	if byRows {
		size = m
	}
	parts = min(parts, max(size/8, 1))
	if parts < 2 {
		current.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	chunk := (size + parts - 1) / parts
	var wg sync.WaitGroup
	for lo := 0; lo < size; lo += chunk {
		hi := min(lo+chunk, size)
		run := func() {
			if byRows {
				aOff := lo * lda
				if transA {
					aOff = lo
				}
				current.Sgemm(transA, transB, hi-lo, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
				return
			}
			bOff := lo
			if transB {
				bOff = lo * ldb
			}
			current.Sgemm(transA, transB, m, hi-lo, k, alpha, a, lda, b[bOff:], ldb, beta, c[lo:], ldc)
		}
		if hi == size {
			run()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
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

// SgemmStridedBatched computes batch independent products
// C_i = alpha*op(A_i)*op(B_i) + beta*C_i where A_i starts at a[i*strideA]
// (likewise B_i, C_i), as cuBLAS's sgemmStridedBatched. A stride of 0
// shares one matrix across the batch; strideC must not be 0 when batch > 1.
// Whole products are spread over the workers, which suits many small
// matrices (attention heads) better than splitting each one.
func SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC, batch int) {
	if batch <= 0 || m == 0 || n == 0 {
		return
	}
	if batch > 1 && strideC == 0 {
		panic("blas: SgemmStridedBatched with strideC 0 would race on C")
	}
	one := func(i int) {
		Sgemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
	}
	cf := load()
	current := cf.backend
	parts := min(cf.threads, batch)
	if parts < 2 || batch*m*n*max(k, 1) < minSplitFlops {
		for i := 0; i < batch; i++ {
			one(i)
		}
		return
	}
	// Each worker calls the backend directly: Sgemm would split again.
	run := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ai, bi, ci := a[i*strideA:], b[i*strideB:], c[i*strideC:]
			checkGemm(transA, transB, m, n, k, ai, lda, bi, ldb, ci, ldc)
			if k == 0 {
				scale(ci, m, n, ldc, beta)
				continue
			}
			current.Sgemm(transA, transB, m, n, k, alpha, ai, lda, bi, ldb, beta, ci, ldc)
		}
	}
	chunk := (batch + parts - 1) / parts
	var wg sync.WaitGroup
	for lo := chunk; lo < batch; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			run(lo, hi)
		}(lo, min(lo+chunk, batch))
	}
	run(0, min(chunk, batch))
	wg.Wait()
}
