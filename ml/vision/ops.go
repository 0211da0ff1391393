package vision

import (
	"math"
	"sync"

	"mmc/ml/blas"
)

// Row-wise kernels for the ViT forward: LayerNorm, softmax and a
// parallel-for. They live here, not in ml/kernels, until the kernels
// layer's own LayerNorm/softmax land (those are being written in another
// branch); then these should be replaced by calls into it.

// parallelRows splits rows [0, n) across blas.Threads() goroutines when
// the work (n·cost) is worth it.
func parallelRows(n, cost int, fn func(lo, hi int)) {
	workers := min(blas.Threads(), n)
	if workers < 2 || n*cost < 1<<15 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// layerNorm writes LayerNorm(x)·gamma + beta of each of the rows of x
// [rows, d] into y (which may be x), with statistics in float64.
func layerNorm(y, x []float32, rows, d int, gamma, beta []float32, eps float64) {
	parallelRows(rows, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in := x[r*d : (r+1)*d]
			out := y[r*d : (r+1)*d]
			var s float64
			for _, v := range in {
				s += float64(v)
			}
			mean := s / float64(d)
			var ss float64
			for _, v := range in {
				dv := float64(v) - mean
				ss += dv * dv
			}
			inv := 1 / math.Sqrt(ss/float64(d)+eps)
			m, iv := float32(mean), float32(inv)
			for i, v := range in {
				out[i] = (v-m)*iv*gamma[i] + beta[i]
			}
		}
	})
}

// softmaxRowsGo is the pure-Go softmax of each row of x [rows, n], in
// place (softmaxRows uses a vectorised C version when cgo is on).
func softmaxRowsGo(x []float32, rows, n int) {
	for r := 0; r < rows; r++ {
		row := x[r*n : (r+1)*n]
		m := row[0]
		for _, v := range row[1:] {
			m = max(m, v)
		}
		var s float32
		for i, v := range row {
			e := expf(v - m)
			row[i] = e
			s += e
		}
		inv := 1 / s
		for i := range row {
			row[i] *= inv
		}
	}
}

// expf is e^x in float32 with Cephes' range reduction and polynomial
// (relative error about 2e-7), arguments clamped to the normal range.
func expf(x float32) float32 {
	x = min(max(x, -87), 88)
	n := float32(math.Floor(float64(x*1.44269504088896341 + 0.5)))
	r := x - n*0.693359375 + n*2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// linear computes y [rows, out] = x [rows, in] · wᵀ + b (PyTorch's Linear
// weight layout [out, in]).
func linear(y, x []float32, rows, in, out int, w, b []float32) {
	blas.Sgemm(false, true, rows, out, in, 1, x, in, w, in, 0, y, out)
	if b == nil {
		return
	}
	parallelRows(rows, out, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := y[r*out : (r+1)*out]
			for i := range row {
				row[i] += b[i]
			}
		}
	})
}
