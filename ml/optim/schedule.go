package optim

import "math"

// Schedule maps the number of optimizer steps already taken to a factor on
// the base learning rate, as the lambdas of Hugging Face transformers'
// schedule helpers.
type Schedule func(step int) float64

// Constant keeps the base rate (get_constant_schedule).
func Constant() Schedule { return func(int) float64 { return 1 } }

// ConstantWarmup ramps linearly from 0 to 1 over warmup steps, then stays
// at 1 (get_constant_schedule_with_warmup).
func ConstantWarmup(warmup int) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return float64(step) / float64(max(1, warmup))
		}
		return 1
	}
}

// LinearWarmupDecay ramps from 0 to 1 over warmup steps, then decays
// linearly to 0 at total (get_linear_schedule_with_warmup).
func LinearWarmupDecay(warmup, total int) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return float64(step) / float64(max(1, warmup))
		}
		return math.Max(0, float64(total-step)/float64(max(1, total-warmup)))
	}
}

// WarmupCosine ramps from 0 to 1 over warmup steps, then follows a cosine
// from 1 to 0 at total over cycles periods (0.5 is a single half-cosine;
// get_cosine_schedule_with_warmup).
func WarmupCosine(warmup, total int, cycles float64) Schedule {
	return func(step int) float64 {
		if step < warmup {
			return float64(step) / float64(max(1, warmup))
		}
		progress := float64(step-warmup) / float64(max(1, total-warmup))
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*cycles*2*progress)))
	}
}
