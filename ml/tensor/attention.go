package tensor

import (
	"fmt"
	"math"
	"slices"
)

// Attention is scaled dot-product attention with an additive key mask:
// softmax(q·kᵀ/√hd + mask)·v, with dropout on the attention weights when
// train is true. q is [B, nh, Tq, hd], k and v are [B, nh, Tk, hd], mask
// holds B×Tk values (see MaskedSoftmax) or is nil. It returns the context
// [B, nh, Tq, hd] and the attention weights (after dropout; callers that
// only need the context may ignore them).
//
// The scale is folded into the score product and the softmax is fused with
// the mask, so no scaled or masked copy of the scores is kept.
func Attention(q, k, v, mask *Tensor, dropout float32, rng *RNG, train bool) (ctx, probs *Tensor) {
	mustDim("Attention q", q, 4)
	mustDim("Attention k", k, 4)
	mustDim("Attention v", v, 4)
	if !slices.Equal(k.Shape, v.Shape) || q.Shape[0] != k.Shape[0] || q.Shape[1] != k.Shape[1] || q.Shape[3] != k.Shape[3] {
		panic(fmt.Sprintf("tensor.Attention: q %v, k %v, v %v do not agree", q.Shape, k.Shape, v.Shape))
	}
	hd := q.Shape[3]
	scores := scaledMatMulT(q, k, float32(1/math.Sqrt(float64(hd))))
	probs = Dropout(MaskedSoftmax(scores, mask), dropout, rng, train)
	return MatMul(probs, v, false, false), probs
}
