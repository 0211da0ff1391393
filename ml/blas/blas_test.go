package blas

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// naive is the reference row-major product.
func naive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] = alpha*float32(s) + beta*c[i*ldc+j]
		}
	}
}

func TestSgemmMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	backends := []Backend{Current(), Gonum{}}
	for _, be := range backends {
		for _, tc := range []struct {
			ta, tb  bool
			m, n, k int
		}{{false, false, 7, 5, 3}, {true, false, 4, 9, 6}, {false, true, 8, 3, 5}, {true, true, 5, 6, 7}, {false, false, 33, 65, 129}, {true, false, 130, 70, 40}, {false, true, 9, 300, 120}, {true, true, 100, 20, 200},
			// wide enough to split by columns (splitSgemm)
			{false, true, 260, 600, 8}, {true, false, 256, 530, 5}} {
			lda, ldb := tc.k, tc.n
			if tc.ta {
				lda = tc.m
			}
			if tc.tb {
				ldb = tc.k
			}
			a, b := fill(tc.m*tc.k), fill(tc.k*tc.n)
			c := fill(tc.m * tc.n)
			want := append([]float32(nil), c...)
			naive(tc.ta, tc.tb, tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 2, want, tc.n)
			prev := Configure(Options{Backend: be})
			Sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 2, c, tc.n)
			Configure(prev)
			for i := range c {
				if math.Abs(float64(c[i]-want[i])) > 1e-4*math.Max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("%s %+v: index %d got %v want %v", be.Name(), tc, i, c[i], want[i])
				}
			}
		}
	}
}

func TestSgemmChecksLengths(t *testing.T) {
	defer func() {
		if r, _ := recover().(string); !strings.Contains(r, "sgemm B") {
			t.Fatalf("panic %q, want one naming operand B", r)
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 3), 2, 0, make([]float32, 4), 2)
}

func TestSgemmZeroInnerScalesC(t *testing.T) {
	c := []float32{1, 2}
	Sgemm(false, false, 1, 2, 0, 1, nil, 1, nil, 2, 3, c, 2)
	if c[0] != 3 || c[1] != 6 {
		t.Fatalf("k=0 gave %v, want beta·C", c)
	}
}

func BenchmarkSgemm512(b *testing.B) {
	n := 512
	a, bb, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], bb[i] = 1, 1
	}
	b.SetBytes(int64(2 * n * n * n)) // reported MB/s reads as MFLOP/s
	for b.Loop() {
		Sgemm(false, false, n, n, n, 1, a, n, bb, n, 0, c, n)
	}
}

func TestSgemmStridedBatched(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	for _, tc := range []struct {
		ta, tb         bool
		m, n, k, batch int
		shareB         bool
	}{{false, true, 64, 64, 32, 24, false}, {true, false, 16, 40, 64, 30, false}, {false, false, 50, 30, 20, 10, true}, {true, true, 3, 4, 5, 2, false}} {
		lda, ldb := tc.k, tc.n
		if tc.ta {
			lda = tc.m
		}
		if tc.tb {
			ldb = tc.k
		}
		sa, sb, sc := tc.m*tc.k, tc.k*tc.n, tc.m*tc.n
		if tc.shareB {
			sb = 0
		}
		a, b := fill(sa*tc.batch), fill(max(sb, tc.k*tc.n)*tc.batch)
		c := fill(sc * tc.batch)
		want := append([]float32(nil), c...)
		for i := 0; i < tc.batch; i++ {
			naive(tc.ta, tc.tb, tc.m, tc.n, tc.k, 1.5, a[i*sa:], lda, b[i*sb:], ldb, 0.5, want[i*sc:], tc.n)
		}
		SgemmStridedBatched(tc.ta, tc.tb, tc.m, tc.n, tc.k, 1.5, a, lda, sa, b, ldb, sb, 0.5, c, tc.n, sc, tc.batch)
		for i := range c {
			if math.Abs(float64(c[i]-want[i])) > 1e-4*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("%+v: index %d got %v want %v", tc, i, c[i], want[i])
			}
		}
	}
}

// TestSgemmBetaZeroIgnoresC: with beta 0 the old contents of C are not
// read (a NaN left in a reused gradient buffer must not survive), on the
// default backend, on gonum, and split over workers.
func TestSgemmBetaZeroIgnoresC(t *testing.T) {
	const m, n, k = 64, 300, 16
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = 1
	}
	for i := range b {
		b[i] = 0.5
	}
	for _, be := range []Backend{Current(), Gonum{}} {
		for _, parts := range []int{1, 2} {
			c := make([]float32, m*n)
			for i := range c {
				c[i] = float32(math.NaN())
			}
			prev := Configure(Options{Backend: be})
			SgemmParts(parts, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			Configure(prev)
			for i, v := range c {
				if v != k*0.5 {
					t.Fatalf("%s, %d parts: c[%d] = %v, want %v", be.Name(), parts, i, v, k*0.5)
				}
			}
		}
	}
}
