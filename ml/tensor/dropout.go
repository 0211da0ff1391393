package tensor

import (
	"fmt"
	"math"
)

// RNG is a small deterministic random generator (SplitMix64) for dropout
// masks and initialisation, so runs with the same seed are reproducible.
// It is not safe for concurrent use; give each goroutine its own.
type RNG struct{ state uint64 }

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG { return &RNG{state: seed} }

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float32 returns a uniform value in [0, 1).
func (r *RNG) Float32() float32 { return float32(r.Uint64()>>40) / (1 << 24) }

// NormFloat32 returns a standard normal value (Marsaglia's polar method).
func (r *RNG) NormFloat32() float32 {
	for {
		u := 2*float64(r.Uint64()>>11)/(1<<53) - 1
		v := 2*float64(r.Uint64()>>11)/(1<<53) - 1
		s := u*u + v*v
		if s > 0 && s < 1 {
			return float32(u * math.Sqrt(-2*math.Log(s)/s))
		}
	}
}

// State returns the generator state, for checkpointing a training run.
func (r *RNG) State() uint64 { return r.state }

// SetState restores a state returned by State.
func (r *RNG) SetState(s uint64) { r.state = s }

// Dropout zeroes each value with probability p and scales the rest by
// 1/(1−p) when train is true; otherwise (or when p is 0) it returns x
// unchanged. The mask comes from rng, so a seeded run is reproducible.
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
	keep := dropoutMask(len(x.Data), p, rng)
	scale := 1 / (1 - p)
	out := &Tensor{Shape: append([]int(nil), x.Shape...), Data: make([]float32, len(x.Data))}
	applyMask(out.Data, x.Data, keep, scale)
	return out.record(func() {
		g := make([]float32, len(x.Data))
		applyMask(g, out.Grad, keep, scale)
		x.accumulate(g)
	}, x)
}

// maskBlock is the number of values whose keep bits come from one
// sub-generator; a multiple of 64 so blocks never share a mask word.
const maskBlock = 1 << 14

// dropoutMask draws one keep bit per value, 64 values per word. Each block
// of maskBlock values has its own generator seeded from rng in order, so
// blocks fill in parallel and the mask depends only on rng's state, not on
// the number of processors.
func dropoutMask(n int, p float32, rng *RNG) []uint64 {
	words := make([]uint64, (n+63)/64)
	threshold := uint32(float64(p) * (1 << 24))
	blocks := (n + maskBlock - 1) / maskBlock
	seeds := make([]uint64, blocks)
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	parallelFor(blocks, maskBlock, func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			r := RNG{state: seeds[blk]}
			for i := blk * maskBlock; i < min((blk+1)*maskBlock, n); i++ {
				if uint32(r.Uint64()>>40) >= threshold {
					words[i>>6] |= 1 << (i & 63)
				}
			}
		}
	})
	return words
}

func applyMask(dst, src []float32, keep []uint64, scale float32) {
	parallelFor(len(dst), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if keep[i>>6]&(1<<(i&63)) != 0 {
				dst[i] = src[i] * scale
			} else {
				dst[i] = 0
			}
		}
	})
}
