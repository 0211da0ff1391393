//go:build cgo && !noblas

package kernels

/*
#cgo CFLAGS: -O3
#include <stddef.h>

// The data movement around a convolution's GEMM: Winograd F(2×2, 3×3)
// transforms (conv_winograd.go says what they compute; conv_nocgo.go is
// the same in Go) and the bias + ReLU epilogue of a column block.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#define MMC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MMC_CLONES
#endif

MMC_CLONES
static void mmc_wino_weights(float *u, const float *weight, long outC, long inC, long lo, long hi, long plane) {
	for (long o = lo; o < hi; o++) {
		for (long i = 0; i < inC; i++) {
			const float *g = weight + (o * inC + i) * 9;
			float a[12];
			for (int c = 0; c < 3; c++) {
				float g0 = g[c], g1 = g[3 + c], g2 = g[6 + c];
				a[c] = g0;
				a[3 + c] = 0.5f * (g0 + g1 + g2);
				a[6 + c] = 0.5f * (g0 - g1 + g2);
				a[9 + c] = g2;
			}
			long at = o * inC + i;
			for (int r = 0; r < 4; r++) {
				float x0 = a[3 * r], x1 = a[3 * r + 1], x2 = a[3 * r + 2];
				u[(4 * r + 0) * plane + at] = x0;
				u[(4 * r + 1) * plane + at] = 0.5f * (x0 + x1 + x2);
				u[(4 * r + 2) * plane + at] = 0.5f * (x0 - x1 + x2);
				u[(4 * r + 3) * plane + at] = x2;
			}
		}
	}
}

MMC_CLONES
static void mmc_wino_input(float *v, const float *plane, long ci, long stride, long nt, long t0, long h, long w, long th, long tw) {
	float *out = v + ci * nt;
	for (long k = 0; k < nt; k++) {
		long t = t0 + k;
		long tx = t % tw, ty = t / tw % th, img = t / (tw * th);
		long y0 = 2 * ty - 1, x0 = 2 * tx - 1;
		const float *src = plane + img * h * w;
		float d[16];
		if (y0 >= 0 && x0 >= 0 && y0 + 4 <= h && x0 + 4 <= w) {
			for (int r = 0; r < 4; r++)
				for (int q = 0; q < 4; q++) d[4 * r + q] = src[(y0 + r) * w + x0 + q];
		} else {
			for (int r = 0; r < 4; r++) {
				long y = y0 + r;
				for (int q = 0; q < 4; q++) {
					long x = x0 + q;
					d[4 * r + q] = (y >= 0 && y < h && x >= 0 && x < w) ? src[y * w + x] : 0.0f;
				}
			}
		}
		float e[16];
		for (int q = 0; q < 4; q++) {
			float d0 = d[q], d1 = d[4 + q], d2 = d[8 + q], d3 = d[12 + q];
			e[q] = d0 - d2;
			e[4 + q] = d1 + d2;
			e[8 + q] = d2 - d1;
			e[12 + q] = d1 - d3;
		}
		for (int r = 0; r < 4; r++) {
			float x0 = e[4 * r], x1 = e[4 * r + 1], x2 = e[4 * r + 2], x3 = e[4 * r + 3];
			out[(4 * r + 0) * stride + k] = x0 - x2;
			out[(4 * r + 1) * stride + k] = x1 + x2;
			out[(4 * r + 2) * stride + k] = x2 - x1;
			out[(4 * r + 3) * stride + k] = x1 - x3;
		}
	}
}

MMC_CLONES
static void mmc_wino_output(float *plane, const float *m, long o, long stride, long nt, long t0, long h, long w, long th, long tw,
		float bias, int acc, int relu) {
	const float *in = m + o * nt;
	for (long k = 0; k < nt; k++) {
		long t = t0 + k;
		long tx = t % tw, ty = t / tw % th, img = t / (tw * th);
		float s[8];
		for (int q = 0; q < 4; q++) {
			float m0 = in[q * stride + k], m1 = in[(4 + q) * stride + k], m2 = in[(8 + q) * stride + k], m3 = in[(12 + q) * stride + k];
			s[q] = m0 + m1 + m2;
			s[4 + q] = m1 - m2 - m3;
		}
		long y0 = 2 * ty, x0 = 2 * tx;
		float *dst = plane + img * h * w;
		for (int r = 0; r < 2; r++) {
			long y = y0 + r;
			if (y >= h) break;
			float a0 = s[4 * r], a1 = s[4 * r + 1], a2 = s[4 * r + 2], a3 = s[4 * r + 3];
			float out[2] = {a0 + a1 + a2, a1 - a2 - a3};
			for (int q = 0; q < 2; q++) {
				long x = x0 + q;
				if (x >= w) break;
				float val = acc ? dst[y * w + x] + out[q] + bias : out[q] + bias;
				if (relu && val < 0) val = 0;
				dst[y * w + x] = val;
			}
		}
	}
}

MMC_CLONES
static void mmc_conv_epilogue(float *out, const float *bias, long rows, long ld, long width, int relu) {
	for (long o = 0; o < rows; o++) {
		float b = bias ? bias[o] : 0.0f;
		float *row = out + o * ld;
		if (relu) {
			for (long i = 0; i < width; i++) {
				float v = row[i] + b;
				row[i] = v < 0 ? 0.0f : v; // NaN stays NaN, as max(v, 0) in Go
			}
		} else {
			for (long i = 0; i < width; i++) row[i] += b;
		}
	}
}
*/
import "C"

import "unsafe"

func cfp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }

func winoWeightsSerial(u, weight []float32, outC, inC, lo, hi, plane int) {
	if hi > lo && inC > 0 {
		C.mmc_wino_weights(cfp(u), cfp(weight), C.long(outC), C.long(inC), C.long(lo), C.long(hi), C.long(plane))
	}
}

func winoInputSerial(v, plane []float32, ci, stride, nt, t0, h, w, th, tw int) {
	if nt > 0 {
		C.mmc_wino_input(cfp(v), cfp(plane), C.long(ci), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw))
	}
}

func winoOutputSerial(plane, m []float32, o, stride, nt, t0, h, w, th, tw int, bias float32, acc, relu bool) {
	if nt > 0 {
		C.mmc_wino_output(cfp(plane), cfp(m), C.long(o), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw),
			C.float(bias), cbool(acc), cbool(relu))
	}
}

// convEpilogueSerial adds bias[o] (nil: none) to the width values at
// out[o·ld:] of rows o < rows and applies the ReLU when relu.
func convEpilogueSerial(out, bias []float32, rows, ld, width int, relu bool) {
	if rows == 0 || width == 0 {
		return
	}
	var b *C.float
	if bias != nil {
		b = cfp(bias)
	}
	C.mmc_conv_epilogue(cfp(out), b, C.long(rows), C.long(ld), C.long(width), cbool(relu))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
