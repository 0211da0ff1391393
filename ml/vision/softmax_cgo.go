//go:build cgo && !noblas

package vision

/*
#cgo CFLAGS: -O3
#include <stdint.h>
#include <string.h>

// Vectorised row softmax for the ViT attention (the n×n score matrix of
// every head is the largest elementwise pass of a ViT-L forward). GCC
// builds an x86-64-v3 (AVX2/FMA) clone and a baseline one and picks at
// load time, as ml/tensor's GELU kernels do.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#define VIS_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VIS_CLONES
#endif

// Cephes expf: range reduction by ln 2 and a degree-6 polynomial
// (relative error about 2e-7); arguments clamped to the normal range.
static inline float vis_exp(float x) {
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

VIS_CLONES
static void vis_softmax_rows(float *x, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		float *row = x + r * n;
		float m = row[0];
		for (long i = 1; i < n; i++) m = row[i] > m ? row[i] : m;
		float s = 0.0f;
		for (long i = 0; i < n; i++) {
			float e = vis_exp(row[i] - m);
			row[i] = e;
			s += e;
		}
		float inv = 1.0f / s;
		for (long i = 0; i < n; i++) row[i] *= inv;
	}
}
*/
import "C"

import "unsafe"

// softmaxRows applies a softmax to each of the rows of x [rows, n] in place.
func softmaxRows(x []float32, rows, n int) {
	if rows == 0 || n == 0 {
		return
	}
	_ = x[rows*n-1]
	C.vis_softmax_rows((*C.float)(unsafe.Pointer(&x[0])), C.long(rows), C.long(n))
}
