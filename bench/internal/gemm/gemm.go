// Package gemm lists the matrix products of a training step, counts their
// floating-point operations and measures the rate SGEMM reaches on this
// machine at exactly those shapes, so a benchmark can print how close the
// whole step comes to its products' own speed.
package gemm

import (
	"sync"
	"time"

	"mmc/ml/blas"
	"mmc/ml/kernels"
)

// Op is Count products C[M×N] = op(A)·op(B) with inner size K.
type Op struct {
	TA, TB  bool
	M, N, K int
	Count   int
	// Heads marks attention's per-head products: Count independent small
	// products spread over the workers, each single-threaded, as
	// kernels.Attention runs them. Otherwise each product is one
	// blas.Sgemm call, split over the workers.
	Heads bool
}

// List is the products of one step.
type List []Op

// Linear adds a Linear layer over rows of in → out, n times: the forward
// product and, with train, the weight gradient and (with dx) the input
// gradient.
func (l *List) Linear(rows, in, out, n int, train, dx bool) {
	*l = append(*l, Op{false, true, rows, out, in, n, false})
	if train {
		*l = append(*l, Op{true, false, out, in, rows, n, false})
		if dx {
			*l = append(*l, Op{false, false, rows, in, out, n, false})
		}
	}
}

// Attention adds n multi-head attentions of lq queries over lk keys for a
// batch of b: scores and context forward; with train the four backward
// products, and the context computed again for the output projection
// unless keepCtx (nn.Attention.KeepContext).
func (l *List) Attention(b, heads, lq, lk, hd, n int, train, keepCtx bool) {
	p := b * heads * n
	*l = append(*l, Op{false, true, lq, lk, hd, p, true}, Op{false, false, lq, hd, lk, p, true})
	if train {
		*l = append(*l, Op{false, true, lq, lk, hd, p, true}, Op{true, false, lk, hd, lq, p, true},
			Op{false, false, lq, hd, lk, p, true}, Op{true, false, lk, hd, lq, p, true})
		if !keepCtx {
			*l = append(*l, Op{false, false, lq, hd, lk, p, true})
		}
	}
}

// FLOPs is 2·M·N·K summed over every product.
func (l List) FLOPs() float64 {
	var f float64
	for _, o := range l {
		f += 2 * float64(o.M) * float64(o.N) * float64(o.K) * float64(o.Count)
	}
	return f
}

// Rate measures each distinct shape and returns the list's FLOPs divided
// by the time its products alone take, in GFLOP/s. A shape's time is the
// faster of two ways to keep every worker busy: one product split over
// the workers (blas.Sgemm, as the forward pass runs), or independent
// products side by side, one per worker (as attention heads and the
// backward pass's pairs run). The faster way is the stricter ceiling: on
// some machines the split loses 10 % to packing an operand twice, and a
// step that pairs its products could otherwise beat its own ceiling.
func (l List) Rate() float64 {
	type key struct {
		ta, tb  bool
		m, n, k int
		heads   bool
	}
	perOp := map[key]float64{} // seconds per product
	var total float64
	for _, o := range l {
		k := key{o.TA, o.TB, o.M, o.N, o.K, o.Heads}
		s, ok := perOp[k]
		if !ok {
			s = measure(o, true)
			if !o.Heads {
				s = min(s, measure(o, false))
			}
			perOp[k] = s
		}
		total += s * float64(o.Count)
	}
	return l.FLOPs() / total / 1e9
}

// measure returns the seconds one product of o's shape takes, the best of
// three timings of about 20 ms each: perWorker runs one product on each
// worker at once (time divided by the workers), otherwise one product is
// split over all of them.
func measure(o Op, perWorker bool) float64 {
	ar, ac := o.M, o.K
	if o.TA {
		ar, ac = o.K, o.M
	}
	br, bc := o.K, o.N
	if o.TB {
		br, bc = o.N, o.K
	}
	a, b := fill(ar*ac), fill(br*bc)
	flops := 2 * float64(o.M) * float64(o.N) * float64(o.K)
	reps := max(1, int(4e9/flops)) // about 20 ms per timing at 200 GFLOP/s
	workers := kernels.Workers()
	var c [][]float32
	for range workers {
		c = append(c, make([]float32, o.M*o.N))
	}
	run := func() {
		if !perWorker {
			for range reps {
				blas.Sgemm(o.TA, o.TB, o.M, o.N, o.K, 1, a, ac, b, bc, 0, c[0], o.N)
			}
			return
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range reps {
					blas.SgemmSerial(o.TA, o.TB, o.M, o.N, o.K, 1, a, ac, b, bc, 0, c[w], o.N)
				}
			}()
		}
		wg.Wait()
	}
	run() // warm-up
	best := time.Duration(1 << 62)
	for range 3 {
		t0 := time.Now()
		run()
		best = min(best, time.Since(t0))
	}
	per := best.Seconds() / float64(reps)
	if perWorker {
		per /= float64(workers)
	}
	return per
}

func fill(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i%17)/17 - 0.5
	}
	return s
}
