package tensor

import (
	"fmt"
	"slices"

	"mmc/ml/blas"
	"mmc/ml/kernels"
)

// MatMul multiplies the last two axes of a and b, optionally transposed:
// op(a) is [..., m, k], op(b) is [..., k, n], the result [..., m, n]. The
// leading (batch) axes of a and b must match, or b may be a plain matrix
// shared by every batch entry.
func MatMul(a, b *Tensor, transA, transB bool) *Tensor {
	return matMul(a, b, transA, transB, 1)
}

// scaledMatMulT is alpha·a·bᵀ, the attention score product.
func scaledMatMulT(a, b *Tensor, alpha float32) *Tensor {
	return matMul(a, b, false, true, alpha)
}

// matMul is alpha·op(a)·op(b); see MatMul.
func matMul(a, b *Tensor, transA, transB bool, alpha float32) *Tensor {
	if a.Dim() < 2 || b.Dim() < 2 {
		panic(fmt.Sprintf("tensor.MatMul: need at least 2 axes, got %v and %v", a.Shape, b.Shape))
	}
	ar, ac := a.Shape[a.Dim()-2], a.Shape[a.Dim()-1]
	br, bc := b.Shape[b.Dim()-2], b.Shape[b.Dim()-1]
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	if k != kb {
		panic(fmt.Sprintf("tensor.MatMul: inner sizes differ: %v (trans %v) × %v (trans %v)", a.Shape, transA, b.Shape, transB))
	}
	batch := NumElements(a.Shape[:a.Dim()-2])
	shared := b.Dim() == 2
	if !shared && !slices.Equal(a.Shape[:a.Dim()-2], b.Shape[:b.Dim()-2]) {
		panic(fmt.Sprintf("tensor.MatMul: batch axes differ: %v and %v", a.Shape, b.Shape))
	}
	outShape := append(append([]int(nil), a.Shape[:a.Dim()-2]...), m, n)
	out := Zeros(outShape...)
	lda, ldb := ac, bc
	sa, sb, sc := m*k, k*n, m*n
	if shared {
		sb = 0
	}
	if shared && !transA {
		// One product over all batch rows: [batch*m, k] × op(b).
		blas.Sgemm(false, transB, batch*m, n, k, alpha, a.Data, lda, b.Data, ldb, 0, out.Data, n)
	} else {
		blas.SgemmStridedBatched(transA, transB, m, n, k, alpha, a.Data, lda, sa, b.Data, ldb, sb, 0, out.Data, n, sc, batch)
	}
	return out.record(func() {
		dc := out.Grad
		if a.requiresGrad {
			da := make([]float32, len(a.Data))
			if !transA {
				// dA = dC · op(B)ᵀ
				blas.SgemmStridedBatched(false, !transB, m, k, n, alpha, dc, n, sc, b.Data, ldb, sb, 0, da, lda, sa, batch)
			} else {
				// A is stored k×m: dA = op(B) · dCᵀ
				blas.SgemmStridedBatched(transB, true, k, m, n, alpha, b.Data, ldb, sb, dc, n, sc, 0, da, lda, sa, batch)
			}
			a.accumulate(da)
		}
		if b.requiresGrad {
			db := make([]float32, len(b.Data))
			if shared && !transA && !transB {
				blas.Sgemm(true, false, k, n, batch*m, alpha, a.Data, lda, dc, n, 0, db, ldb)
			} else if shared && !transA && transB {
				blas.Sgemm(true, false, n, k, batch*m, alpha, dc, n, a.Data, lda, 0, db, ldb)
			} else if !shared {
				if !transB {
					// B is k×n: dB = op(A)ᵀ · dC
					blas.SgemmStridedBatched(!transA, false, k, n, m, alpha, a.Data, lda, sa, dc, n, sc, 0, db, ldb, sb, batch)
				} else {
					// B is n×k: dB = dCᵀ · op(A)
					blas.SgemmStridedBatched(true, transA, n, k, m, alpha, dc, n, sc, a.Data, lda, sa, 0, db, ldb, sb, batch)
				}
			} else {
				// A shared B sums the products of every batch entry.
				beta := float32(0)
				for i := 0; i < batch; i++ {
					if !transB {
						// B is k×n: dB = op(A)ᵀ · dC
						blas.Sgemm(!transA, false, k, n, m, alpha, a.Data[i*sa:], lda, dc[i*sc:], n, beta, db[i*sb:], ldb)
					} else {
						// B is n×k: dB = dCᵀ · op(A)
						blas.Sgemm(true, transA, n, k, m, alpha, dc[i*sc:], n, a.Data[i*sa:], lda, beta, db[i*sb:], ldb)
					}
					beta = 1
				}
			}
			b.accumulate(db)
		}
	}, a, b)
}

// Linear computes x·Wᵀ + b over the last axis of x, with W in PyTorch's
// [out, in] layout and b of shape [out] or nil. x is [..., in]; the result
// is [..., out].
func Linear(x, w, b *Tensor) *Tensor {
	return linear("Linear", x, w, b)
}

func linear(op string, x, w, b *Tensor) *Tensor {
	out, rows := linearForward(op, x, w, b)
	inF, outF := w.Shape[1], w.Shape[0]
	return out.record(func() { linearBackward(x, w, b, out.Grad, rows, inF, outF) }, x, w, b)
}

// linearForward computes x·Wᵀ + b without recording history.
func linearForward(op string, x, w, b *Tensor) (out *Tensor, rows int) {
	mustDim(op+" weight", w, 2)
	outF, inF := w.Shape[0], w.Shape[1]
	if x.Dim() == 0 || x.Shape[x.Dim()-1] != inF {
		panic(fmt.Sprintf("tensor.%s: input %v does not end in %d features of weight %v", op, x.Shape, inF, w.Shape))
	}
	if b != nil && (b.Dim() != 1 || b.Shape[0] != outF) {
		panic(fmt.Sprintf("tensor.%s: bias %v does not match weight %v", op, b.Shape, w.Shape))
	}
	rows = NumElements(x.Shape[:x.Dim()-1])
	outShape := append(append([]int(nil), x.Shape[:x.Dim()-1]...), outF)
	out = &Tensor{Shape: outShape, Data: make([]float32, rows*outF)}
	kernels.Linear(out.Data, x.Data, w.Data, data(b), rows, inF, outF)
	return out, rows
}

// linearBackward accumulates the gradients of y = x·Wᵀ + b given dy.
func linearBackward(x, w, b *Tensor, dy []float32, rows, inF, outF int) {
	var dx, dw, db []float32
	if x.requiresGrad {
		dx = make([]float32, len(x.Data))
	}
	if w.requiresGrad {
		dw = w.grad()
	}
	if b != nil && b.requiresGrad {
		db = b.grad()
	}
	kernels.LinearBackward(dx, dw, db, dy, x.Data, w.Data, rows, inF, outF, false)
	if dx != nil {
		x.accumulate(dx)
	}
}

// LinearGELU is GELU(Linear(x, w, b)) with the bias and the activation
// applied in one pass after the product, as BERT's intermediate layer
// uses it. Only the pre-activation is kept for the backward pass.
func LinearGELU(x, w, b *Tensor) *Tensor {
	h, rows := linearForward("LinearGELU", x, w, nil)
	inF, outF := w.Shape[1], w.Shape[0]
	out := &Tensor{Shape: h.Shape, Data: make([]float32, len(h.Data))}
	if b != nil {
		if b.Dim() != 1 || b.Shape[0] != outF {
			panic(fmt.Sprintf("tensor.LinearGELU: bias %v does not match weight %v", b.Shape, w.Shape))
		}
		kernels.BiasGELU(out.Data, h.Data, b.Data, rows, outF)
	} else {
		kernels.GELU(out.Data, h.Data)
	}
	return out.record(func() {
		dh := make([]float32, len(h.Data))
		kernels.GELUBackward(dh, out.Grad, h.Data)
		linearBackward(x, w, b, dh, rows, inF, outF)
	}, x, w, b)
}
