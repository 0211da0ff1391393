package tensor

import (
	"fmt"

	"mmc/ml/kernels"
)

// RNG is the deterministic generator of ml/kernels (SplitMix64) used for
// dropout masks and initialisation, so runs with the same seed are
// reproducible. It is not safe for concurrent use.
type RNG = kernels.RNG

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG { return kernels.NewRNG(seed) }

// Dropout zeroes each value with probability p and scales the rest by
// 1/(1−p) when train is true; otherwise (or when p is 0) it returns x
// unchanged. The mask comes from rng (kernels.DropoutMask), so a seeded
// run is reproducible.
func Dropout(x *Tensor, p float32, rng *RNG, train bool) *Tensor {
	if !train || p == 0 {
		return x
	}
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("tensor.Dropout: probability %v outside [0, 1)", p))
	}
	if rng == nil {
		panic("tensor.Dropout: training-mode dropout needs an RNG")
	}
	keep := make([]uint64, kernels.MaskWords(len(x.Data)))
	kernels.DropoutMask(keep, len(x.Data), p, rng)
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	kernels.DropoutApply(out.Data, x.Data, keep, p)
	return out.record(func() {
		g := make([]float32, len(x.Data))
		kernels.DropoutApply(g, out.Grad, keep, p)
		x.accumulate(g)
	}, x)
}
