//go:build cgo && !noblas

package kernels

/*
#cgo CFLAGS: -O3
#include <stddef.h>

// The data movement around a convolution's GEMM: Winograd F(2×2, 3×3) and
// F(4×4, 3×3) transforms (conv_winograd.go says what they compute;
// conv_nocgo.go is the same in Go) and the bias + ReLU epilogue of a
// block of columns.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#define MMC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MMC_CLONES
#endif

// One-dimensional transforms, x and y spaced by sx and sy.
// F(2, 3): Bᵀ (4×4), Aᵀ (2×4); its G (4×3) is gf2 below.
static inline void bt2(float *y, long sy, const float *x, long sx) {
	float d0 = x[0], d1 = x[sx], d2 = x[2 * sx], d3 = x[3 * sx];
	y[0] = d0 - d2;
	y[sy] = d1 + d2;
	y[2 * sy] = d2 - d1;
	y[3 * sy] = d1 - d3;
}
static inline void at2(float *y, long sy, const float *x, long sx) {
	float m0 = x[0], m1 = x[sx], m2 = x[2 * sx], m3 = x[3 * sx];
	y[0] = m0 + m1 + m2;
	y[sy] = m1 - m2 - m3;
}
// F(4, 3), interpolation points 0, ±1, ±2 and ∞: Bᵀ (6×6), Aᵀ (4×6); G (6×3) is gf4.
static inline void bt4(float *y, long sy, const float *x, long sx) {
	float d0 = x[0], d1 = x[sx], d2 = x[2 * sx], d3 = x[3 * sx], d4 = x[4 * sx], d5 = x[5 * sx];
	y[0] = 4 * d0 - 5 * d2 + d4;
	y[sy] = d3 + d4 - 4 * (d1 + d2);
	y[2 * sy] = d4 - d3 + 4 * (d1 - d2);
	y[3 * sy] = d4 - d2 + 2 * (d3 - d1);
	y[4 * sy] = d4 - d2 - 2 * (d3 - d1);
	y[5 * sy] = 4 * d1 - 5 * d3 + d5;
}
static inline void at4(float *y, long sy, const float *x, long sx) {
	float m0 = x[0], m1 = x[sx], m2 = x[2 * sx], m3 = x[3 * sx], m4 = x[4 * sx], m5 = x[5 * sx];
	float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
	y[0] = m0 + s12 + s34;
	y[sy] = d12 + 2 * d34;
	y[2 * sy] = s12 + 4 * s34;
	y[3 * sy] = d12 + 8 * d34 + m5;
}

// WINO defines the input and output transforms for output tiles of side
// M (input tiles of side A = M + 2) with the one-dimensional BT and AT,
// a tile at a time (the row-at-a-time forms below serve most shapes).
#define WINO(M, A, BT, AT)                                                                          \
MMC_CLONES                                                                                             \
static void mmc_wino##M##_input(float *v, const float *plane, long ci, long stride, long nt, long t0, long h, long w, long th, long tw) { \
	float *out = v + ci * nt;                                                                          \
	for (long k = 0; k < nt; k++) {                                                                    \
		long t = t0 + k;                                                                               \
		long tx = t % tw, ty = t / tw % th, img = t / (tw * th);                                       \
		long y0 = M * ty - 1, x0 = M * tx - 1;                                                         \
		const float *src = plane + img * h * w;                                                        \
		float d[A * A], e[A * A];                                                                      \
		if (y0 >= 0 && x0 >= 0 && y0 + A <= h && x0 + A <= w) {                                        \
			for (int r = 0; r < A; r++)                                                                \
				for (int q = 0; q < A; q++) d[A * r + q] = src[(y0 + r) * w + x0 + q];                 \
		} else {                                                                                       \
			for (int r = 0; r < A; r++) {                                                              \
				long y = y0 + r;                                                                       \
				for (int q = 0; q < A; q++) {                                                          \
					long x = x0 + q;                                                                   \
					d[A * r + q] = (y >= 0 && y < h && x >= 0 && x < w) ? src[y * w + x] : 0.0f;       \
				}                                                                                      \
			}                                                                                          \
		}                                                                                              \
		for (int q = 0; q < A; q++) BT(e + q, A, d + q, A);                                            \
		for (int r = 0; r < A; r++) BT(d + A * r, 1, e + A * r, 1);                                    \
		for (int p = 0; p < A * A; p++) out[p * stride + k] = d[p];                                    \
	}                                                                                                  \
}                                                                                                      \
MMC_CLONES                                                                                             \
static void mmc_wino##M##_output(float *plane, const float *m, long o, long stride, long nt, long t0, long h, long w, long th, long tw, \
		float bias, int acc, int relu) {                                                               \
	const float *in = m + o * nt;                                                                      \
	for (long k = 0; k < nt; k++) {                                                                    \
		long t = t0 + k;                                                                               \
		long tx = t % tw, ty = t / tw % th, img = t / (tw * th);                                       \
		float x[A * A], s[M * A], y[M * M];                                                            \
		for (int p = 0; p < A * A; p++) x[p] = in[p * stride + k];                                     \
		for (int q = 0; q < A; q++) AT(s + q, A, x + q, A);                                            \
		for (int r = 0; r < M; r++) AT(y + M * r, 1, s + A * r, 1);                                    \
		long y0 = M * ty, x0 = M * tx;                                                                 \
		float *dst = plane + img * h * w;                                                              \
		for (int r = 0; r < M && y0 + r < h; r++) {                                                    \
			float *row = dst + (y0 + r) * w;                                                           \
			for (int q = 0; q < M && x0 + q < w; q++) {                                                \
				float val = acc ? row[x0 + q] + y[M * r + q] + bias : y[M * r + q] + bias;             \
				if (relu && val < 0) val = 0;                                                          \
				row[x0 + q] = val;                                                                     \
			}                                                                                          \
		}                                                                                              \
	}                                                                                                  \
}

WINO(2, 4, bt2, at2)
WINO(4, 6, bt4, at4)

// F(2×2) transforms a tile row at a time, in loops the compiler
// vectorises: the input's column sums Bᵀ d are made once for the whole
// row of 4 input rows, the tiles then read them at stride 2; the output's
// 2×2 tiles go into two output rows first and the epilogue runs on them.
// Rows wider than WINO2_ROW fall back to the per-tile code above.
#define WINO2_ROW 4096

// tile_run finds tile t (tiles numbered row by row, image by image) at
// column tx0 of tile row ty of image img, and returns how many tiles of
// that row, at most left, follow from it: the tiles a row pass handles.
static inline long tile_run(long t, long left, long tw, long th, long *tx0, long *ty, long *img) {
	long row = t / tw;
	*tx0 = t % tw;
	*ty = row % th;
	*img = row / th;
	return tw - *tx0 < left ? tw - *tx0 : left;
}

// wino_store_rows writes the m output rows of tile row ty, tiles tx0 …
// tx0+cnt−1 (rows[r] holds row r of those tiles side by side), into the
// h×w plane dst with the epilogue: + what dst holds when acc, + bias,
// then the ReLU when relu; columns and rows past the plane are dropped.
static inline void wino_store_rows(float *dst, const float *const *rows, int m, long ty, long tx0, long cnt, long h, long w,
		float bias, int acc, int relu) {
	long xa = m * tx0, xb = m * (tx0 + cnt) < w ? m * (tx0 + cnt) : w;
	for (int r = 0; r < m; r++) {
		long y = m * ty + r;
		if (y >= h) break;
		float *drow = dst + y * w + xa;
		const float *src = rows[r];
		long n = xb - xa;
		if (acc) {
			for (long x = 0; x < n; x++) {
				float val = drow[x] + src[x] + bias;
				drow[x] = relu && val < 0 ? 0.0f : val;
			}
		} else {
			for (long x = 0; x < n; x++) {
				float val = src[x] + bias;
				drow[x] = relu && val < 0 ? 0.0f : val;
			}
		}
	}
}

MMC_CLONES
static void mmc_wino2_input_rows(float *v, const float *plane, long ci, long stride, long nt, long t0, long h, long w, long th, long tw) {
	float *out = v + ci * nt;
	long pw = 2 * tw + 2; // padded row: index px is column px − 1
	float e0[pw], e1[pw], e2[pw], e3[pw], zero[w];
	for (long x = 0; x < w; x++) zero[x] = 0;
	for (long k = 0; k < nt;) {
		long tx0, ty, img, cnt = tile_run(t0 + k, nt - k, tw, th, &tx0, &ty, &img);
		const float *src = plane + img * h * w;
		long y0 = 2 * ty - 1;
		const float *r0 = y0 >= 0 && y0 < h ? src + y0 * w : zero;
		const float *r1 = y0 + 1 < h ? src + (y0 + 1) * w : zero;
		const float *r2 = y0 + 2 < h ? src + (y0 + 2) * w : zero;
		const float *r3 = y0 + 3 < h ? src + (y0 + 3) * w : zero;
		e0[0] = e1[0] = e2[0] = e3[0] = 0;
		for (long x = 0; x < w; x++) {
			float d0 = r0[x], d1 = r1[x], d2 = r2[x], d3 = r3[x];
			e0[x + 1] = d0 - d2;
			e1[x + 1] = d1 + d2;
			e2[x + 1] = d2 - d1;
			e3[x + 1] = d1 - d3;
		}
		for (long px = w + 1; px < pw; px++) e0[px] = e1[px] = e2[px] = e3[px] = 0;
		float *o = out + k;
		const float *es[4] = {e0, e1, e2, e3};
		for (int i = 0; i < 4; i++) {
			const float *e = es[i] + 2 * tx0;
			float *q0 = o + (4 * i) * stride, *q1 = o + (4 * i + 1) * stride, *q2 = o + (4 * i + 2) * stride, *q3 = o + (4 * i + 3) * stride;
			for (long j = 0; j < cnt; j++) {
				float a = e[2 * j], b = e[2 * j + 1], c = e[2 * j + 2], d = e[2 * j + 3];
				q0[j] = a - c;
				q1[j] = b + c;
				q2[j] = c - b;
				q3[j] = b - d;
			}
		}
		k += cnt;
	}
}

MMC_CLONES
static void mmc_wino2_output_rows(float *plane, const float *m, long o, long stride, long nt, long t0, long h, long w, long th, long tw,
		float bias, int acc, int relu) {
	const float *in = m + o * nt;
	float y0r[2 * tw], y1r[2 * tw];
	for (long k = 0; k < nt;) {
		long tx0, ty, img, cnt = tile_run(t0 + k, nt - k, tw, th, &tx0, &ty, &img);
		const float *p[16];
		for (int i = 0; i < 16; i++) p[i] = in + i * stride + k;
		for (long j = 0; j < cnt; j++) {
			float s00 = p[0][j] + p[4][j] + p[8][j], s01 = p[1][j] + p[5][j] + p[9][j];
			float s02 = p[2][j] + p[6][j] + p[10][j], s03 = p[3][j] + p[7][j] + p[11][j];
			float s10 = p[4][j] - p[8][j] - p[12][j], s11 = p[5][j] - p[9][j] - p[13][j];
			float s12 = p[6][j] - p[10][j] - p[14][j], s13 = p[7][j] - p[11][j] - p[15][j];
			y0r[2 * j] = s00 + s01 + s02;
			y0r[2 * j + 1] = s01 - s02 - s03;
			y1r[2 * j] = s10 + s11 + s12;
			y1r[2 * j + 1] = s11 - s12 - s13;
		}
		const float *rows[2] = {y0r, y1r};
		wino_store_rows(plane + img * h * w, rows, 2, ty, tx0, cnt, h, w, bias, acc, relu);
		k += cnt;
	}
}

// F(4×4) in the same row-at-a-time form: the input's column transforms
// Bᵀ d over the 6 input rows of a tile row are made once per row (tiles
// overlap by 2 columns), the tiles then read them at stride 4; the output
// makes the 4 rows of a tile row, then runs the epilogue on them.
#define WINO4_ROW 2048

MMC_CLONES
static void mmc_wino4_input_rows(float *v, const float *plane, long ci, long stride, long nt, long t0, long h, long w, long th, long tw) {
	float *out = v + ci * nt;
	long pw = 4 * tw + 2; // padded row: index px is column px − 1
	float e[6][pw], zero[w];
	for (long x = 0; x < w; x++) zero[x] = 0;
	for (long k = 0; k < nt;) {
		long tx0, ty, img, cnt = tile_run(t0 + k, nt - k, tw, th, &tx0, &ty, &img);
		const float *src = plane + img * h * w;
		long y0 = 4 * ty - 1;
		const float *r[6];
		for (int i = 0; i < 6; i++) r[i] = y0 + i >= 0 && y0 + i < h ? src + (y0 + i) * w : zero;
		for (int i = 0; i < 6; i++) e[i][0] = 0;
		for (long x = 0; x < w; x++) {
			float d0 = r[0][x], d1 = r[1][x], d2 = r[2][x], d3 = r[3][x], d4 = r[4][x], d5 = r[5][x];
			e[0][x + 1] = 4 * d0 - 5 * d2 + d4;
			e[1][x + 1] = d3 + d4 - 4 * (d1 + d2);
			e[2][x + 1] = d4 - d3 + 4 * (d1 - d2);
			e[3][x + 1] = d4 - d2 + 2 * (d3 - d1);
			e[4][x + 1] = d4 - d2 - 2 * (d3 - d1);
			e[5][x + 1] = 4 * d1 - 5 * d3 + d5;
		}
		for (long px = w + 1; px < pw; px++)
			for (int i = 0; i < 6; i++) e[i][px] = 0;
		float *o = out + k;
		for (int i = 0; i < 6; i++) {
			const float *ei = e[i] + 4 * tx0;
			float *q[6];
			for (int j = 0; j < 6; j++) q[j] = o + (6 * i + j) * stride;
			for (long j = 0; j < cnt; j++) {
				const float *d = ei + 4 * j;
				float d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4], d5 = d[5];
				q[0][j] = 4 * d0 - 5 * d2 + d4;
				q[1][j] = d3 + d4 - 4 * (d1 + d2);
				q[2][j] = d4 - d3 + 4 * (d1 - d2);
				q[3][j] = d4 - d2 + 2 * (d3 - d1);
				q[4][j] = d4 - d2 - 2 * (d3 - d1);
				q[5][j] = 4 * d1 - 5 * d3 + d5;
			}
		}
		k += cnt;
	}
}

MMC_CLONES
static void mmc_wino4_output_rows(float *plane, const float *m, long o, long stride, long nt, long t0, long h, long w, long th, long tw,
		float bias, int acc, int relu) {
	const float *in = m + o * nt;
	float yr[4][4 * tw];
	for (long k = 0; k < nt;) {
		long tx0, ty, img, cnt = tile_run(t0 + k, nt - k, tw, th, &tx0, &ty, &img);
		const float *p = in + k;
		for (long j = 0; j < cnt; j++) {
			// Aᵀ over the 6 rows of each of the 6 columns, then over the columns
			float s[4][6];
			for (int c = 0; c < 6; c++) {
				float m0 = p[c * stride + j], m1 = p[(6 + c) * stride + j], m2 = p[(12 + c) * stride + j];
				float m3 = p[(18 + c) * stride + j], m4 = p[(24 + c) * stride + j], m5 = p[(30 + c) * stride + j];
				float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
				s[0][c] = m0 + s12 + s34;
				s[1][c] = d12 + 2 * d34;
				s[2][c] = s12 + 4 * s34;
				s[3][c] = d12 + 8 * d34 + m5;
			}
			for (int r = 0; r < 4; r++) {
				float m0 = s[r][0], m1 = s[r][1], m2 = s[r][2], m3 = s[r][3], m4 = s[r][4], m5 = s[r][5];
				float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
				float *y = yr[r] + 4 * j;
				y[0] = m0 + s12 + s34;
				y[1] = d12 + 2 * d34;
				y[2] = s12 + 4 * s34;
				y[3] = d12 + 8 * d34 + m5;
			}
		}
		const float *rows[4] = {yr[0], yr[1], yr[2], yr[3]};
		wino_store_rows(plane + img * h * w, rows, 4, ty, tx0, cnt, h, w, bias, acc, relu);
		k += cnt;
	}
}

// Weights, G g Gᵀ with the one-dimensional G (gf2, gf4) in float32, in
// a loop over input channels the compiler vectorises.
static inline void gf2(float *y, long sy, const float *x, long sx) {
	float g0 = x[0], g1 = x[sx], g2 = x[2 * sx];
	y[0] = g0;
	y[sy] = 0.5f * (g0 + g1 + g2);
	y[2 * sy] = 0.5f * (g0 - g1 + g2);
	y[3 * sy] = g2;
}
static inline void gf4(float *y, long sy, const float *x, long sx) {
	float g0 = x[0], g1 = x[sx], g2 = x[2 * sx];
	y[0] = 0.25f * g0;
	y[sy] = -(g0 + g1 + g2) * (1.0f / 6);
	y[2 * sy] = -(g0 - g1 + g2) * (1.0f / 6);
	y[3 * sy] = g0 * (1.0f / 24) + g1 * (1.0f / 12) + g2 * (1.0f / 6);
	y[4 * sy] = g0 * (1.0f / 24) - g1 * (1.0f / 12) + g2 * (1.0f / 6);
	y[5 * sy] = g2;
}
#define WINO_WEIGHTS_F(M, A, GF)                                                                       \
MMC_CLONES                                                                                             \
static void mmc_wino##M##_weights_f(float *u, const float *weight, long outC, long inC, long lo, long hi, long plane) { \
	for (long o = lo; o < hi; o++) {                                                                   \
		const float *wo = weight + o * inC * 9;                                                        \
		float *uo = u + o * inC;                                                                       \
		for (long i = 0; i < inC; i++) {                                                               \
			const float *g = wo + i * 9;                                                               \
			float a[A * 3], t[A * A];                                                                  \
			for (int c = 0; c < 3; c++) GF(a + c, 3, g + c, 3);                                        \
			for (int r = 0; r < A; r++) GF(t + r * A, 1, a + r * 3, 1);                                \
			for (int p = 0; p < A * A; p++) uo[p * plane + i] = t[p];                                  \
		}                                                                                              \
	}                                                                                                  \
}
WINO_WEIGHTS_F(2, 4, gf2)
WINO_WEIGHTS_F(4, 6, gf4)

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

func winoWeightsSerial(m int, u, weight []float32, outC, inC, lo, hi, plane int) {
	if hi <= lo || inC == 0 {
		return
	}
	if m == 4 {
		C.mmc_wino4_weights_f(cfp(u), cfp(weight), C.long(outC), C.long(inC), C.long(lo), C.long(hi), C.long(plane))
	} else {
		C.mmc_wino2_weights_f(cfp(u), cfp(weight), C.long(outC), C.long(inC), C.long(lo), C.long(hi), C.long(plane))
	}
}

func winoInputSerial(m int, v, plane []float32, ci, stride, nt, t0, h, w, th, tw int) {
	if nt <= 0 {
		return
	}
	if m == 4 && tw <= C.WINO4_ROW/4 && w <= C.WINO4_ROW {
		C.mmc_wino4_input_rows(cfp(v), cfp(plane), C.long(ci), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw))
	} else if m == 4 {
		C.mmc_wino4_input(cfp(v), cfp(plane), C.long(ci), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw))
	} else if tw <= C.WINO2_ROW/2 && w <= C.WINO2_ROW {
		C.mmc_wino2_input_rows(cfp(v), cfp(plane), C.long(ci), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw))
	} else {
		C.mmc_wino2_input(cfp(v), cfp(plane), C.long(ci), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw))
	}
}

func winoOutputSerial(m int, plane, prod []float32, o, stride, nt, t0, h, w, th, tw int, bias float32, acc, relu bool) {
	if nt <= 0 {
		return
	}
	if m == 4 && tw <= C.WINO4_ROW/4 {
		C.mmc_wino4_output_rows(cfp(plane), cfp(prod), C.long(o), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw),
			C.float(bias), cbool(acc), cbool(relu))
	} else if m == 4 {
		C.mmc_wino4_output(cfp(plane), cfp(prod), C.long(o), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw),
			C.float(bias), cbool(acc), cbool(relu))
	} else if tw <= C.WINO2_ROW/2 {
		C.mmc_wino2_output_rows(cfp(plane), cfp(prod), C.long(o), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw),
			C.float(bias), cbool(acc), cbool(relu))
	} else {
		C.mmc_wino2_output(cfp(plane), cfp(prod), C.long(o), C.long(stride), C.long(nt), C.long(t0), C.long(h), C.long(w), C.long(th), C.long(tw),
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
