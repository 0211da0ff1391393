//go:build cgo && !noblas

package kernels

/*
#cgo CFLAGS: -O3 -Wno-psabi
#cgo LDFLAGS: -lm
#include <stdint.h>
#include <string.h>
#include <math.h>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define MMC_AVX512_MASK 1
#endif

// Vectorised float32 kernels for the activations and the softmax. GCC
// builds an x86-64-v3 (AVX2/FMA) clone and a baseline one and picks at load
// time, so the binary still runs on any x86-64. no-trapping-math (cgo
// refuses it as a flag) lets the clamps and selects become vector blends.
// The GELU kernels also get an x86-64-v4
// (AVX-512) clone: 1.4–1.9× faster there (BenchmarkGELU*, the same
// arithmetic per element); the others measured no faster or slower with
// it.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#define MMC_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#define MMC_CLONES_V4 __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MMC_CLONES
#define MMC_CLONES_V4
#endif

// Expf's polynomial (expf.go): Cephes' reduction, 0 below -87.3.
static inline float mmc_exp(float x) {
	float c = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
	float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = c - n * 0.693359375f + n * 2.12194440e-4f;
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
	return x < -87.3f ? 0.0f : p * s;
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

// GELU'(v) = Φ(v) + v·φ(v), given c = Φ(v).
static inline float mmc_gelu_d(float v, float c) {
	return c + v * mmc_exp(-0.5f * v * v) * 0.39894228040143268f;
}

MMC_CLONES_V4
static void mmc_gelu(float *y, const float *x, long n) {
	for (long i = 0; i < n; i++) y[i] = x[i] * mmc_cdf(x[i]);
}

MMC_CLONES_V4
static void mmc_gelu_grad(float *dx, const float *dy, const float *x, long n) {
	for (long i = 0; i < n; i++) {
		float v = x[i];
		dx[i] = dy[i] * mmc_gelu_d(v, mmc_cdf(v));
	}
}

// y = GELU(x) and d = GELU'(x) in one pass (d may be x), sharing Φ(x):
// a backward pass that needs both pays for one Φ instead of two.
MMC_CLONES_V4
static void mmc_gelu_with_grad(float *y, float *d, const float *x, long n) {
	for (long i = 0; i < n; i++) {
		float v = x[i], c = mmc_cdf(v);
		y[i] = v * c;
		d[i] = mmc_gelu_d(v, c);
	}
}

MMC_CLONES_V4
static void mmc_mul(float *dst, const float *a, const float *b, long n) {
	for (long i = 0; i < n; i++) dst[i] = a[i] * b[i];
}

// bias + GELU over rows: h = x + b is kept (the backward pass reads it),
// y = GELU(h).
MMC_CLONES_V4
static void mmc_bias_gelu(float *y, float *h, const float *b, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		float *yr = y + r * n, *hr = h + r * n;
		for (long i = 0; i < n; i++) {
			float v = hr[i] + b[i];
			hr[i] = v;
			yr[i] = v * mmc_cdf(v);
		}
	}
}

// Vector types for reductions in explicit lanes: GCC does not reorder a
// single running float sum, so such loops stayed scalar. They pass
// between static inline helpers only (hence -Wno-psabi).
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf4 __attribute__((vector_size(16)));
typedef double vd4 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));
static inline vf4 vf4_load(const float *p) { vf4 v; memcpy(&v, p, sizeof v); return v; }
static inline vf8 vf8_load(const float *p) { vf8 v; memcpy(&v, p, sizeof v); return v; }
static inline void vf8_store(float *p, vf8 v) { memcpy(p, &v, sizeof v); }
// b where b > a, else a (a NaN in b is skipped, as by b > a ? b : a).
static inline vf8 vf8_max(vf8 a, vf8 b) {
	vi8 gt = b > a;
	return (vf8)(((vi8)b & gt) | ((vi8)a & ~gt));
}

// lanes16_sum folds 16 partial sums pairwise: 8+8, 4+4, 2+2, 1+1.
static inline float lanes16_sum(vf8 a0, vf8 a1) {
	float l[16];
	vf8_store(l, a0);
	vf8_store(l + 8, a1);
	for (int w = 8; w > 0; w /= 2)
		for (int i = 0; i < w; i++) l[i] += l[i + w];
	return l[0];
}

// softmax(src + mask) of each row into dst (dst may be src); the mask row
// of row r is mask + (r/per)*n, or none when mask is NULL. A row whose
// values are all -inf becomes uniform. The row max and sums run in 16
// lanes (two vectors of eight), folded pairwise at the end; softmaxSerial
// in activations_go.go keeps the same order. With one running sum the
// exponentials were scalar: 1.8 of BenchmarkAttention's 4.6 ms.
MMC_CLONES
static void mmc_softmax(float *dst, const float *src, long rows, long n, const float *mask, long per) {
	const vf8 ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
	for (long r = 0; r < rows; r++) {
		const float *in = src + r * n;
		float *o = dst + r * n;
		const float *m = mask ? mask + (r / per) * n : 0;
		vf8 mx0 = ninf, mx1 = ninf;
		long j = 0;
		for (; j + 16 <= n; j += 16) {
			vf8 v0 = vf8_load(in + j), v1 = vf8_load(in + j + 8);
			if (m) {
				v0 += vf8_load(m + j);
				v1 += vf8_load(m + j + 8);
			}
			vf8_store(o + j, v0);
			vf8_store(o + j + 8, v1);
			mx0 = vf8_max(mx0, v0);
			mx1 = vf8_max(mx1, v1);
		}
		float l[16];
		vf8_store(l, mx0);
		vf8_store(l + 8, mx1);
		for (int i = 0; j < n; j++, i++) {
			float v = m ? in[j] + m[j] : in[j];
			o[j] = v;
			l[i] = v > l[i] ? v : l[i];
		}
		float mx = -INFINITY;
		for (int i = 0; i < 16; i++) mx = l[i] > mx ? l[i] : mx;
		if (mx == -INFINITY) {
			for (j = 0; j < n; j++) o[j] = 1.0f / (float)n;
			continue;
		}
		for (j = 0; j < n; j++) o[j] = mmc_exp(o[j] - mx);
		vf8 a0 = {0}, a1 = {0};
		for (j = 0; j + 16 <= n; j += 16) {
			a0 += vf8_load(o + j);
			a1 += vf8_load(o + j + 8);
		}
		float t[16] = {0};
		for (int i = 0; j < n; j++, i++) t[i] = o[j];
		a0 += vf8_load(t);
		a1 += vf8_load(t + 8);
		float inv = 1.0f / lanes16_sum(a0, a1);
		for (j = 0; j < n; j++) o[j] *= inv;
	}
}

// dx = y ⊙ (dy − Σ y⊙dy) per row (dx may be dy), the sum in lanes as in
// mmc_softmax.
MMC_CLONES
static void mmc_softmax_backward(float *dx, const float *y, const float *dy, long rows, long n) {
	for (long r = 0; r < rows; r++) {
		const float *yr = y + r * n, *gr = dy + r * n;
		float *o = dx + r * n;
		vf8 a0 = {0}, a1 = {0};
		long j = 0;
		for (; j + 16 <= n; j += 16) {
			a0 += vf8_load(yr + j) * vf8_load(gr + j);
			a1 += vf8_load(yr + j + 8) * vf8_load(gr + j + 8);
		}
		float t[16] = {0};
		for (int i = 0; j < n; j++, i++) t[i] = yr[j] * gr[j];
		a0 += vf8_load(t);
		a1 += vf8_load(t + 8);
		float dot = lanes16_sum(a0, a1);
		for (j = 0; j < n; j++) o[j] = yr[j] * (gr[j] - dot);
	}
}

// LayerNorm rows: statistics in double with four partial sums (so the
// loop vectorises), then y = (x - mean)·rstd·gamma + beta through one
// inline helper, which LayerNormApply shares, so a recomputed output is
// bit-identical to the first.
static inline void ln_apply_row(float *o, const float *in, float m, float r, const float *g, const float *b, long d) {
	if (g && b) {
		for (long j = 0; j < d; j++) o[j] = (in[j] - m) * r * g[j] + b[j];
	} else {
		for (long j = 0; j < d; j++) {
			float h = (in[j] - m) * r;
			if (g) h *= g[j];
			if (b) h += b[j];
			o[j] = h;
		}
	}
}

MMC_CLONES
static void mmc_layernorm(float *y, float *mean, float *rstd, const float *x, const float *g, const float *b, long rows, long d, float eps) {
	for (long r = 0; r < rows; r++) {
		const float *in = x + r * d;
		double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
		long j = 0;
		for (; j + 4 <= d; j += 4) {
			s0 += in[j]; s1 += in[j + 1]; s2 += in[j + 2]; s3 += in[j + 3];
		}
		for (; j < d; j++) s0 += in[j];
		double mu = ((s0 + s1) + (s2 + s3)) / (double)d;
		double v0 = 0, v1 = 0, v2 = 0, v3 = 0;
		for (j = 0; j + 4 <= d; j += 4) {
			double t0 = in[j] - mu, t1 = in[j + 1] - mu, t2 = in[j + 2] - mu, t3 = in[j + 3] - mu;
			v0 += t0 * t0; v1 += t1 * t1; v2 += t2 * t2; v3 += t3 * t3;
		}
		for (; j < d; j++) {
			double t = in[j] - mu;
			v0 += t * t;
		}
		float m32 = (float)mu;
		float r32 = (float)(1.0 / sqrt(((v0 + v1) + (v2 + v3)) / (double)d + (double)eps));
		if (mean) mean[r] = m32;
		if (rstd) rstd[r] = r32;
		ln_apply_row(y + r * d, in, m32, r32, g, b, d);
	}
}

MMC_CLONES
static void mmc_layernorm_apply(float *y, const float *x, const float *mean, const float *rstd, const float *g, const float *b, long rows, long d) {
	for (long r = 0; r < rows; r++) ln_apply_row(y + r * d, x + r * d, mean[r], rstd[r], g, b, d);
}

// The backward pass of rows: dg, db (partial sums, may be NULL) and dx
// (may be NULL, may alias dy).
MMC_CLONES
static void mmc_layernorm_backward(float *dx, float *dg, float *db, const float *dy, const float *x, const float *mean,
	const float *rstd, const float *g, long rows, long d) {
	for (long r = 0; r < rows; r++) {
		const float *in = x + r * d, *gr = dy + r * d;
		float m = mean[r], rs = rstd[r];
		if (dg) {
			for (long j = 0; j < d; j++) {
				dg[j] += gr[j] * ((in[j] - m) * rs);
				db[j] += gr[j];
			}
		}
		if (!dx) continue;
		// Σh and Σh·x̂ in eight double lanes (two vectors of four): with
		// scalar partial sums GCC left this loop scalar.
		vd4 sa0 = {0}, sa1 = {0}, sb0 = {0}, sb1 = {0};
		const vf4 vm = {m, m, m, m}, vr = {rs, rs, rs, rs};
		long j = 0;
		for (; j + 8 <= d; j += 8) {
			vf4 h0 = vf4_load(gr + j), h1 = vf4_load(gr + j + 4);
			if (g) {
				h0 *= vf4_load(g + j);
				h1 *= vf4_load(g + j + 4);
			}
			vf4 t0 = h0 * ((vf4_load(in + j) - vm) * vr), t1 = h1 * ((vf4_load(in + j + 4) - vm) * vr);
			sa0 += __builtin_convertvector(h0, vd4);
			sa1 += __builtin_convertvector(h1, vd4);
			sb0 += __builtin_convertvector(t0, vd4);
			sb1 += __builtin_convertvector(t1, vd4);
		}
		double la[8], lb[8];
		memcpy(la, &sa0, 32);
		memcpy(la + 4, &sa1, 32);
		memcpy(lb, &sb0, 32);
		memcpy(lb + 4, &sb1, 32);
		for (int l = 0; j < d; j++, l++) {
			float h = g ? gr[j] * g[j] : gr[j];
			la[l] += h;
			lb[l] += h * ((in[j] - m) * rs);
		}
		for (int w = 4; w > 0; w /= 2)
			for (int l = 0; l < w; l++) {
				la[l] += la[l + w];
				lb[l] += lb[l + w];
			}
		float a = (float)(la[0] / (double)d), bb = (float)(lb[0] / (double)d);
		float *o = dx + r * d;
		for (j = 0; j < d; j++) {
			float h = g ? gr[j] * g[j] : gr[j];
			o[j] = rs * (h - a - (in[j] - m) * rs * bb);
		}
	}
}

#ifdef MMC_AVX512_MASK
// cpu_avx512 reports (found once) whether the CPU has AVX-512F and, with
// dq, AVX-512DQ as well.
static int cpu_avx512(int dq) {
	static int f = -1, fdq = -1;
	if (f < 0) {
		__builtin_cpu_init();
		fdq = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
		f = __builtin_cpu_supports("avx512f") ? 1 : 0;
	}
	return dq ? fdq : f;
}
#endif

// dst[i] = src[i]·scale where bit off+i of keep is set, 0 elsewhere, plus
// add[i] when add is not NULL (dropout and a residual sum in one pass).
// Contraction off: the product is rounded before the sum, as a dropout
// then a separate sum would round it. Whole 64-bit words of the mask go
// through mask_words: with AVX-512 one masked multiply per 16 values (the
// mask bits are the lane mask), else a loop GCC vectorises with blends.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
static inline float mask_one(const float *src, const float *add, const uint64_t *keep, long j, long i, float scale) {
	float h = ((keep[j >> 6] >> (j & 63)) & 1) ? src[i] * scale : 0.0f;
	return add ? h + add[i] : h;
}

MMC_CLONES
static void mask_words_generic(float *dst, const float *src, const float *add, const uint64_t *keep, long n, float scale) {
	for (long i = 0; i + 64 <= n; i += 64) {
		uint64_t k = keep[i >> 6];
		const float *s = src + i;
		float *o = dst + i;
		if (add) {
			const float *a = add + i;
			for (int j = 0; j < 64; j++) o[j] = (((k >> j) & 1) ? s[j] * scale : 0.0f) + a[j];
		} else {
			for (int j = 0; j < 64; j++) o[j] = ((k >> j) & 1) ? s[j] * scale : 0.0f;
		}
	}
}

#ifdef MMC_AVX512_MASK
__attribute__((target("avx512f")))
static void mask_words_avx512(float *dst, const float *src, const float *add, const uint64_t *keep, long n, float scale) {
	__m512 sc = _mm512_set1_ps(scale);
	for (long i = 0; i + 64 <= n; i += 64) {
		uint64_t k = keep[i >> 6];
		for (int q = 0; q < 4; q++) {
			__m512 h = _mm512_maskz_mul_ps((__mmask16)(k >> (16 * q)), _mm512_loadu_ps(src + i + 16 * q), sc);
			if (add) h = _mm512_add_ps(h, _mm512_loadu_ps(add + i + 16 * q));
			_mm512_storeu_ps(dst + i + 16 * q, h);
		}
	}
}
#endif

static void mmc_mask_apply(float *dst, const float *src, const float *add, const uint64_t *keep, long off, long n, float scale) {
	long i = 0;
	while (i < n && ((off + i) & 63) != 0) {
		dst[i] = mask_one(src, add, keep, off + i, i, scale);
		i++;
	}
	long whole = (n - i) & ~63L;
	if (whole > 0) {
		const float *a = add ? add + i : NULL;
#ifdef MMC_AVX512_MASK
		if (cpu_avx512(0))
			mask_words_avx512(dst + i, src + i, a, keep + ((off + i) >> 6), whole, scale);
		else
#endif
			mask_words_generic(dst + i, src + i, a, keep + ((off + i) >> 6), whole, scale);
		i += whole;
	}
	for (; i < n; i++) dst[i] = mask_one(src, add, keep, off + i, i, scale);
}

MMC_CLONES_V4
static void add_plain(float *dst, const float *src, const float *add, long n) {
	for (long i = 0; i < n; i++) dst[i] = src[i] + add[i];
}
#pragma GCC pop_options

// Dropout mask words [w0, w1) of a mask of n values: bit j of word w is
// set when the top 24 bits of SplitMix64's draw s0 + (64w + j + 1)·γ are
// at least threshold (the Go code's mix, lane by lane). GCC does not
// vectorise the bit packing, so full words take an AVX-512 path where
// available: eight draws per vector, the comparison's lane mask is the
// byte of bits.
static inline uint64_t mmc_mix(uint64_t z) {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t mask_word_scalar(uint64_t base, long end, uint64_t threshold) {
	const uint64_t g = 0x9e3779b97f4a7c15ULL;
	uint64_t bits = 0;
	for (long j = 0; j < end; j++) {
		bits |= (uint64_t)((mmc_mix(base + (uint64_t)(j + 1) * g) >> 40) >= threshold) << j;
	}
	return bits;
}

#ifdef MMC_AVX512_MASK
__attribute__((target("avx512f,avx512dq")))
static void dropout_words_avx512(uint64_t *keep, long w0, long w1, uint64_t s0, uint64_t threshold) {
	const uint64_t g = 0x9e3779b97f4a7c15ULL;
	const __m512i m1 = _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ULL);
	const __m512i m2 = _mm512_set1_epi64((long long)0x94d049bb133111ebULL);
	const __m512i thr = _mm512_set1_epi64((long long)threshold);
	// step8 = 8γ; lane l of the first vector of a word is (l + 1)·γ.
	const __m512i step8 = _mm512_set1_epi64((long long)(8 * g));
	const __m512i lanes = _mm512_set_epi64((long long)(8 * g), (long long)(7 * g), (long long)(6 * g), (long long)(5 * g),
		(long long)(4 * g), (long long)(3 * g), (long long)(2 * g), (long long)g);
	for (long w = w0; w < w1; w++) {
		__m512i z0 = _mm512_add_epi64(_mm512_set1_epi64((long long)(s0 + (uint64_t)(w * 64) * g)), lanes);
		uint64_t bits = 0;
		for (int q = 0; q < 8; q++) {
			__m512i z = z0;
			z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), m1);
			z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), m2);
			z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
			__mmask8 k = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(z, 40), thr);
			bits |= (uint64_t)k << (8 * q);
			z0 = _mm512_add_epi64(z0, step8);
		}
		keep[w] = bits;
	}
}
#endif

static void mmc_dropout_mask(uint64_t *keep, long w0, long w1, long n, uint64_t s0, uint64_t threshold) {
	const uint64_t g = 0x9e3779b97f4a7c15ULL;
	long full = n / 64; // words with 64 values
	long hi = w1 < full ? w1 : full;
	long w = w0;
#ifdef MMC_AVX512_MASK
	if (cpu_avx512(1) && hi > w) {
		dropout_words_avx512(keep, w, hi, s0, threshold);
		w = hi;
	}
#endif
	for (; w < w1; w++) {
		long end = n - w * 64;
		if (end > 64) end = 64;
		keep[w] = mask_word_scalar(s0 + (uint64_t)(w * 64) * g, end, threshold);
	}
}

// acc[j] += dy[r*ld + j] over rows, in double (the order of the Go loop).
MMC_CLONES
static void mmc_colsum(double *acc, const float *dy, long rows, long cols, long ld) {
	for (long r = 0; r < rows; r++) {
		const float *row = dy + r * ld;
		for (long j = 0; j < cols; j++) acc[j] += (double)row[j];
	}
}

// One AdamW update per element, in the order PyTorch's single-tensor
// implementation performs it; fp-contract off keeps every product and sum
// rounded as the Go reference rounds it (no fused multiply-adds). GCC
// keeps this loop scalar (sqrtf may set errno), ten cycles an element,
// slower than its memory traffic; with AVX-512 the same operations run
// sixteen lanes at a time (the vector square root and division are
// correctly rounded, as the scalar ones: the same bits).
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
static inline void adamw_one(float *p, const float *g, float *m, float *v, long i, float keep, float b1, float c1,
	float b2, float c2, float stepSize, float bc2sqrt, float eps) {
	float pi = p[i] * keep;
	float mi = m[i] * b1 + c1 * g[i];
	float vi = v[i] * b2 + c2 * g[i] * g[i];
	m[i] = mi;
	v[i] = vi;
	float denom = sqrtf(vi) / bc2sqrt + eps;
	p[i] = pi - stepSize * mi / denom;
}

#ifdef MMC_AVX512_MASK
__attribute__((target("avx512f")))
static long adamw_avx512(float *p, const float *g, float *m, float *v, long n, float keep, float b1, float c1,
	float b2, float c2, float stepSize, float bc2sqrt, float eps) {
	const __m512 vkeep = _mm512_set1_ps(keep), vb1 = _mm512_set1_ps(b1), vc1 = _mm512_set1_ps(c1),
		vb2 = _mm512_set1_ps(b2), vc2 = _mm512_set1_ps(c2), vstep = _mm512_set1_ps(stepSize),
		vbc = _mm512_set1_ps(bc2sqrt), veps = _mm512_set1_ps(eps);
	long i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 gi = _mm512_loadu_ps(g + i);
		__m512 pi = _mm512_mul_ps(_mm512_loadu_ps(p + i), vkeep);
		__m512 mi = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(m + i), vb1), _mm512_mul_ps(vc1, gi));
		__m512 vi = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(v + i), vb2), _mm512_mul_ps(_mm512_mul_ps(vc2, gi), gi));
		_mm512_storeu_ps(m + i, mi);
		_mm512_storeu_ps(v + i, vi);
		__m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), vbc), veps);
		_mm512_storeu_ps(p + i, _mm512_sub_ps(pi, _mm512_div_ps(_mm512_mul_ps(vstep, mi), denom)));
	}
	return i;
}
#endif

static void mmc_adamw(float *p, const float *g, float *m, float *v, long n, float keep, float b1, float c1,
	float b2, float c2, float stepSize, float bc2sqrt, float eps) {
	long i = 0;
#ifdef MMC_AVX512_MASK
	if (cpu_avx512(0)) i = adamw_avx512(p, g, m, v, n, keep, b1, c1, b2, c2, stepSize, bc2sqrt, eps);
#endif
	for (; i < n; i++) adamw_one(p, g, m, v, i, keep, b1, c1, b2, c2, stepSize, bc2sqrt, eps);
}
#pragma GCC pop_options

// 1 when every value is finite (exponent bits not all set).
MMC_CLONES
static int mmc_all_finite(const uint32_t *s, long n) {
	uint32_t bad = 0;
	for (long i = 0; i < n; i++) bad |= ((s[i] & 0x7f800000u) == 0x7f800000u);
	return bad == 0;
}
*/
import "C"

import "unsafe"

func fp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }

func geluSerial(y, x []float32) {
	if len(x) > 0 {
		C.mmc_gelu(fp(y), fp(x), C.long(len(x)))
	}
}

func geluGradSerial(dx, dy, x []float32) {
	if len(x) > 0 {
		C.mmc_gelu_grad(fp(dx), fp(dy), fp(x), C.long(len(x)))
	}
}

func geluWithGradSerial(y, d, x []float32) {
	if len(x) > 0 {
		C.mmc_gelu_with_grad(fp(y), fp(d), fp(x), C.long(len(x)))
	}
}

func mulSerial(dst, a, b []float32) {
	if len(a) > 0 {
		C.mmc_mul(fp(dst), fp(a), fp(b), C.long(len(a)))
	}
}

func biasGELUSerial(y, h, b []float32, rows, n int) {
	if rows > 0 && n > 0 {
		C.mmc_bias_gelu(fp(y), fp(h), fp(b), C.long(rows), C.long(n))
	}
}

func softmaxSerial(dst, src, mask []float32, rows, n, per int) {
	if rows == 0 || n == 0 {
		return
	}
	var m *C.float
	if mask != nil {
		m = fp(mask)
	}
	C.mmc_softmax(fp(dst), fp(src), C.long(rows), C.long(n), m, C.long(max(per, 1)))
}

func softmaxBackwardSerial(dx, y, dy []float32, rows, n int) {
	if rows > 0 && n > 0 {
		C.mmc_softmax_backward(fp(dx), fp(y), fp(dy), C.long(rows), C.long(n))
	}
}

func adamwSerial(p, g, m, v []float32, keep, b1, c1, b2, c2, stepSize, bc2sqrt, eps float32) {
	if len(p) > 0 {
		C.mmc_adamw(fp(p), fp(g), fp(m), fp(v), C.long(len(p)), C.float(keep), C.float(b1), C.float(c1),
			C.float(b2), C.float(c2), C.float(stepSize), C.float(bc2sqrt), C.float(eps))
	}
}

func allFiniteSerial(s []float32) bool {
	if len(s) == 0 {
		return true
	}
	return C.mmc_all_finite((*C.uint32_t)(unsafe.Pointer(&s[0])), C.long(len(s))) != 0
}

func opt(s []float32) *C.float {
	if s == nil {
		return nil
	}
	return fp(s)
}

func layerNormSerial(y, mean, rstd, x, g, b []float32, rows, d int, eps float32) {
	if rows > 0 && d > 0 {
		var m, r *C.float
		if mean != nil {
			m = fp(mean[:rows])
		}
		if rstd != nil {
			r = fp(rstd[:rows])
		}
		C.mmc_layernorm(fp(y), m, r, fp(x), opt(g), opt(b), C.long(rows), C.long(d), C.float(eps))
	}
}

func layerNormApplySerial(y, x, mean, rstd, g, b []float32, rows, d int) {
	if rows > 0 && d > 0 {
		C.mmc_layernorm_apply(fp(y), fp(x), fp(mean), fp(rstd), opt(g), opt(b), C.long(rows), C.long(d))
	}
}

func layerNormBackwardSerial(dx, dg, db, dy, x, mean, rstd, g []float32, rows, d int) {
	if rows > 0 && d > 0 {
		C.mmc_layernorm_backward(opt(dx), opt(dg), opt(db), fp(dy), fp(x), fp(mean), fp(rstd), opt(g), C.long(rows), C.long(d))
	}
}

func maskAt(dst, src []float32, keep []uint64, off int, p float32) {
	if len(src) == 0 {
		return
	}
	_ = keep[(off+len(src)-1)>>6]
	C.mmc_mask_apply(fp(dst), fp(src), nil, (*C.uint64_t)(unsafe.Pointer(&keep[0])), C.long(off), C.long(len(src)), C.float(1/(1-p)))
}

func dropoutAddSerial(dst, src, add []float32, keep []uint64, off int, p float32) {
	if len(src) == 0 {
		return
	}
	if keep == nil {
		C.add_plain(fp(dst), fp(src), fp(add), C.long(len(src)))
		return
	}
	_ = keep[(off+len(src)-1)>>6]
	C.mmc_mask_apply(fp(dst), fp(src), fp(add), (*C.uint64_t)(unsafe.Pointer(&keep[0])), C.long(off), C.long(len(src)), C.float(1/(1-p)))
}

func dropoutMaskWords(keep []uint64, w0, w1, n int, s0, threshold uint64) {
	if w1 > w0 {
		_ = keep[w1-1]
		C.mmc_dropout_mask((*C.uint64_t)(unsafe.Pointer(&keep[0])), C.long(w0), C.long(w1), C.long(n), C.uint64_t(s0), C.uint64_t(threshold))
	}
}

func colSumSerial(acc []float64, dy []float32, rows, cols, ld int) {
	if rows > 0 && cols > 0 {
		C.mmc_colsum((*C.double)(unsafe.Pointer(&acc[0])), fp(dy), C.long(rows), C.long(cols), C.long(ld))
	}
}
