package kernels

import "math"

// RNG is a small deterministic random generator (SplitMix64) for dropout
// masks and initialisation, so runs with the same seed are reproducible.
// SplitMix64 is counter-based: draw i after state s is mix(s + (i+1)·γ),
// so a long mask can be filled in parallel and still equal the serial
// sequence. It is not safe for concurrent use; give each goroutine its
// own.
type RNG struct{ state uint64 }

const golden = 0x9e3779b97f4a7c15

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG { return &RNG{state: seed} }

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.state += golden
	return mix(r.state)
}

// Skip advances the generator by n draws, as n calls of Uint64 would.
func (r *RNG) Skip(n int) { r.state += uint64(n) * golden }

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
