package kernels

import "fmt"

// Dropout masks: value i is kept when the top 24 bits of the generator's
// i-th draw are at least p·2²⁴, one bit per value in 64-bit words. This is
// the one mask scheme of ml/; the mask depends only on the generator's
// state and n, not on the number of workers.

// MaskWords is the number of uint64 words a mask of n values takes.
func MaskWords(n int) int { return (n + 63) / 64 }

// DropoutMask fills keep[:MaskWords(n)] with the keep bits of n values
// drawn from rng at drop probability p, and advances rng by n draws.
func DropoutMask(keep []uint64, n int, p float32, rng *RNG) {
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("kernels.DropoutMask: probability %v outside [0, 1)", p))
	}
	words := MaskWords(n)
	checkLen("DropoutMask", len(keep), words)
	threshold := uint64(float64(p) * (1 << 24))
	s0 := rng.state
	ParallelFor(words, 64*4, func(lo, hi int) { dropoutMaskWords(keep, lo, hi, n, s0, threshold) })
	rng.Skip(n)
}

// DropoutApply writes src[i]/(1−p) into dst[i] where bit i of keep is set
// and 0 elsewhere (dst may be src). The same call with the same mask is
// the backward pass.
func DropoutApply(dst, src []float32, keep []uint64, p float32) {
	checkLen("DropoutApply", len(dst), len(src))
	checkLen("DropoutApply mask", len(keep), MaskWords(len(src)))
	ParallelFor(len(src), 2, func(lo, hi int) { maskAt(dst[lo:hi], src[lo:hi], keep, lo, p) })
}

// DropoutAdd writes dropout(src) + add into dst: src[i]/(1−p) + add[i]
// where bit i of keep is set, add[i] elsewhere, or src[i] + add[i] with
// keep nil (no dropout). It is DropoutApply followed by a residual sum in
// one pass, the same values (the product is rounded before the sum); dst
// may be src or add.
func DropoutAdd(dst, src, add []float32, keep []uint64, p float32) {
	checkLen("DropoutAdd", len(dst), len(src))
	checkLen("DropoutAdd", len(add), len(src))
	if keep != nil {
		checkLen("DropoutAdd mask", len(keep), MaskWords(len(src)))
	}
	ParallelFor(len(src), 2, func(lo, hi int) {
		dropoutAddSerial(dst[lo:hi], src[lo:hi], add[lo:hi], keep, lo, p)
	})
}
