package tensor

import (
	"runtime"
	"sync"
)

// minWork is the number of scalar operations below which a kernel stays on
// one goroutine: splitting costs a few microseconds.
const minWork = 1 << 15

// parallelFor splits [0,n) into contiguous chunks, one per available
// processor, and runs fn on each. cost is the rough work per item, used to
// stay serial for small inputs. Kernels never run concurrently with a BLAS
// call, so the goroutines do not fight OpenBLAS's threads.
func parallelFor(n, cost int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*max(cost, 1) < minWork {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}

// parallelChunks is parallelFor that also passes the chunk index, so
// reductions can keep one partial buffer per chunk; it returns the number
// of chunks used.
func parallelChunks(n, cost int, fn func(chunk, lo, hi int)) int {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*max(cost, 1) < minWork {
		if n > 0 {
			fn(0, 0, n)
		}
		return 1
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	count := 0
	for lo := 0; lo < n; lo += chunk {
		count++
	}
	for c := 1; c < count; c++ {
		lo, hi := c*chunk, min((c+1)*chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(c, lo, hi)
		}()
	}
	fn(0, 0, min(chunk, n))
	wg.Wait()
	return count
}

func addTo(dst, src []float32) {
	parallelFor(len(dst), 1, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}

func maxWorkers() int { return max(runtime.GOMAXPROCS(0), 1) }
