package kernels

import (
	"sync"

	"mmc/ml/blas"
)

// MinParallelWork is the number of scalar operations below which a kernel
// stays on the calling goroutine: starting goroutines costs a few
// microseconds. It is the one threshold every kernel of ml/ uses.
const MinParallelWork = 1 << 15

// Workers is how many goroutines a kernel splits its work over: the
// thread count configured in ml/blas (GOMAXPROCS unless configured), so
// GEMMs and elementwise kernels share one threading model.
func Workers() int { return max(blas.Threads(), 1) }

// ParallelFor splits [0, n) into one contiguous chunk per worker and runs
// fn on each, the first on the calling goroutine. cost is the rough work
// per item; below MinParallelWork in total fn runs once on [0, n).
// Kernels never run concurrently with a BLAS call of their own, so the
// goroutines do not fight the GEMM's.
func ParallelFor(n, cost int, fn func(lo, hi int)) {
	ParallelChunks(n, cost, func(_, lo, hi int) { fn(lo, hi) })
}

// ParallelChunks is ParallelFor that also passes the chunk index, so
// reductions can keep one partial result per chunk. It returns the number
// of chunks used (at most Workers()).
func ParallelChunks(n, cost int, fn func(chunk, lo, hi int)) int {
	if n <= 0 {
		return 0
	}
	workers := min(Workers(), n)
	if workers <= 1 || n*max(cost, 1) < MinParallelWork {
		fn(0, 0, n)
		return 1
	}
	chunk := (n + workers - 1) / workers
	count := (n + chunk - 1) / chunk
	var wg sync.WaitGroup
	for c := 1; c < count; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			fn(c, c*chunk, min((c+1)*chunk, n))
		}(c)
	}
	fn(0, 0, min(chunk, n))
	wg.Wait()
	return count
}

// Pair runs a and b side by side, a on the calling goroutine, each with
// its share of the workers (passed as parts: ⌈w/2⌉ and ⌊w/2⌋), or one
// after the other with all of them when work (the scalar operations of
// both) is small or there is one worker. For two independent products
// (a weight gradient and an input gradient) whole products on their own
// cores beat each product split over both.
func Pair(work int, a, b func(parts int)) {
	w := Workers()
	if w < 2 || work < 1<<22 {
		a(w)
		b(w)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b(w / 2)
	}()
	a(w - w/2)
	<-done
}
