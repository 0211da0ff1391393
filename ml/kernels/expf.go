package kernels

import "math"

// Expf is e^x in float32 precision: Cephes' expf (range reduction by ln 2
// and a degree-7 polynomial, relative error about 2e-7). It is the one
// exponential of ml/: softmax, GELU and the losses use it, and the
// vectorised C kernels (activations_cgo.go) evaluate the same polynomial.
// It underflows to 0 below −87.3 and overflows to +Inf above 88.7.
func Expf(x float32) float32 {
	switch {
	case x < -87.3:
		return 0
	case x > 88.7:
		return float32(math.Inf(1))
	}
	// k = round(x·log₂e) without math.Floor, which is a call here.
	t := x*1.44269504 + 0.5
	ki := int32(t) // truncates toward zero
	if float32(ki) > t {
		ki--
	}
	k := float32(ki)
	r := x - k*0.693359375 + k*2.12194440e-4
	q := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	y := q*r*r + r + 1
	return y * math.Float32frombits(uint32(ki+127)<<23)
}

// normCDF is Φ(x) in float32 through erfc of Numerical Recipes (erfcc,
// relative error below 1.2e-7), as the C kernels compute it.
func normCDF(x float32) float32 {
	z := x * 0.70710678118654752
	if z < 0 {
		z = -z
	}
	t := 2 / (2 + z)
	poly := -1.26551223 + t*(1.00002368+t*(0.37409196+t*(0.09678418+
		t*(-0.18628806+t*(0.27886807+t*(-1.13520398+t*(1.48851587+
			t*(-0.82215223+t*0.17087277))))))))
	half := 0.5 * t * Expf(poly-z*z)
	if x < 0 {
		return half
	}
	return 1 - half
}

// geluScalar is the exact GELU x·Φ(x).
func geluScalar(x float32) float32 { return x * normCDF(x) }

// geluGradScalar is GELU'(x) = Φ(x) + x·φ(x).
func geluGradScalar(x float32) float32 { return geluGradFrom(x, normCDF(x)) }

// geluGradFrom is GELU'(x) given c = Φ(x).
func geluGradFrom(x, c float32) float32 { return c + x*Expf(-0.5*x*x)*0.39894228040143268 }
