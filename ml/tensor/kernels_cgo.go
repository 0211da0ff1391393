//go:build cgo && !noblas

package tensor

/*
#cgo CFLAGS: -O3
#include <stdint.h>
#include <string.h>

// Vectorised float32 kernels for the activations; GCC builds an x86-64-v3
// (AVX2/FMA) clone and a baseline one and picks at load time, so the binary
// still runs on any x86-64. no-trapping-math (cgo refuses it as a flag)
// lets the clamps and selects become vector blends.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#define MMC_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MMC_CLONES
#endif

// exp with Cephes' expf reduction and polynomial (relative error ~2e-7);
// arguments are clamped to the normal float range.
static inline float mmc_exp(float x) {
	x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
	float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - n * 0.693359375f + n * 2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	int32_t bits = ((int32_t)n + 127) << 23;
	float s;
	memcpy(&s, &bits, sizeof s);
	return p * s;
}

// Φ(x) through erfc of Numerical Recipes (erfcc, relative error < 1.2e-7).
static inline float mmc_cdf(float x) {
	float z = (x < 0 ? -x : x) * 0.70710678118654752f;
	float t = 2.0f / (2.0f + z);
	float poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
		t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
		t * (-0.82215223f + t * 0.17087277f))))))));
	float half = 0.5f * t * mmc_exp(poly - z * z);
	return x < 0 ? half : 1.0f - half;
}

MMC_CLONES
static void mmc_gelu(float *y, const float *x, long n) {
	for (long i = 0; i < n; i++) y[i] = x[i] * mmc_cdf(x[i]);
}

MMC_CLONES
static void mmc_gelu_grad(float *dx, const float *dy, const float *x, long n) {
	for (long i = 0; i < n; i++) {
		float v = x[i];
		dx[i] = dy[i] * (mmc_cdf(v) + v * mmc_exp(-0.5f * v * v) * 0.39894228040143268f);
	}
}
*/
import "C"

import "unsafe"

// GELUInto writes the exact GELU x·Φ(x) of x into y (float32 accuracy;
// vectorised C with cgo, Go otherwise). y and x have the same length.
func GELUInto(y, x []float32) {
	if len(x) == 0 {
		return
	}
	C.mmc_gelu((*C.float)(unsafe.Pointer(&y[0])), (*C.float)(unsafe.Pointer(&x[0])), C.long(len(x)))
}

// GELUGradInto writes dy·GELU'(x) into dx.
func GELUGradInto(dx, dy, x []float32) {
	if len(x) == 0 {
		return
	}
	C.mmc_gelu_grad((*C.float)(unsafe.Pointer(&dx[0])), (*C.float)(unsafe.Pointer(&dy[0])),
		(*C.float)(unsafe.Pointer(&x[0])), C.long(len(x)))
}
