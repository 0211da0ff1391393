package tensor

import "math"

// The activations below need float32 accuracy only, but run millions of
// times per layer; math.Erf and math.Exp give float64 accuracy at several
// times the cost. These keep a relative error near 1e-7 (checked against
// math in fastmath_test.go).

const (
	log2e = 1.4426950408889634
	ln2   = 0.6931471805599453
)

// expApprox is e^a with relative error below 1e-8 for results in float32
// range: 2^n by exponent bits times a degree-7 Taylor polynomial on the
// reduced argument |r| ≤ ln2/2. Results below float32's smallest
// subnormal are 0; above float32's largest finite value, +Inf.
func expApprox(a float64) float64 {
	if a < -104 {
		return 0
	}
	if a > 88.8 {
		return math.Inf(1)
	}
	// Adding and removing 1.5·2^52 rounds to the nearest integer without
	// math.Floor's call (not inlined for GOAMD64=v1).
	n := (a*log2e + 0x1.8p52) - 0x1.8p52
	r := a - n*ln2
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// erfcPos is erfc(z) for z ≥ 0 with relative error below 1.2e-7, by the
// Chebyshev-fitted formula of Numerical Recipes (erfcc).
func erfcPos(z float64) float64 {
	t := 2 / (2 + z)
	return t * expApprox(-z*z-1.26551223+t*(1.00002368+t*(0.37409196+t*(0.09678418+
		t*(-0.18628806+t*(0.27886807+t*(-1.13520398+t*(1.48851587+t*(-0.82215223+t*0.17087277)))))))))
}

// normCDF is Φ(x), the standard normal distribution function.
func normCDF(x float64) float64 {
	z := x / math.Sqrt2
	if z >= 0 {
		return 1 - 0.5*erfcPos(z)
	}
	return 0.5 * erfcPos(-z)
}

// gelu is the exact GELU x·Φ(x).
func gelu(v float32) float32 {
	x := float64(v)
	return float32(x * normCDF(x))
}

// geluGrad is Φ(x) + x·φ(x).
func geluGrad(v float32) float32 {
	x := float64(v)
	return float32(normCDF(x) + x*expApprox(-0.5*x*x)*(1/math.Sqrt(2*math.Pi)))
}

// expf is e^x for float32 softmax.
func expf(x float32) float32 { return float32(expApprox(float64(x))) }
