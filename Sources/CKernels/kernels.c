#include "kernels.h"
#include <math.h>

// Below |x| = 1e-4 the three-term series is exact to double precision's needs for a float
// result, and avoids log(1 + x) losing the low bits of tiny x (1 + 1e-10 is not exact in double).
#define SMALL 1e-4f

// The kernels that dominate a VAE step outside the matrix products get an AVX-512 clone, chosen
// once at load time where the CPU has it (16 lanes: one register per row at K = 16 latents);
// every other machine runs the AVX2 build. Each lane computes the same operations in the same
// order in both, so the element-wise results agree to the bit; a loss total, summed across lanes,
// may differ in its last bits between the two (on one machine it is always the same clone).
#if defined(__x86_64__) && defined(__linux__)
#define LK_WIDE __attribute__((target_clones("avx512f", "default")))
#else
#define LK_WIDE
#endif

// e^x in float, inline so loops over it vectorise without libmvec: glibc's vector expf sends
// every lane outside its fast range (x < -87.3, common: far-apart densities, saturated logits)
// to the scalar expf one lane at a time. Cody–Waite reduction x = k·ln2 + r and Cephes' degree-6
// polynomial on |r| ≤ ln2/2 (within 2 ulp); results below 2^-126 flush to 0, above 88.72 are
// +inf, NaN stays NaN, as expf's.
static inline float lk_expf(float x) {
    float c = fminf(fmaxf(x, -87.33f), 88.72f);
    float k = rintf(c * 1.44269504088896341f);
    float r = fmaf(k, -0.693359375f, c);
    r = fmaf(k, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float y = fmaf(p, r * r, r) + 1.0f;
    // 2^k for k up to 128 (near 88.72): 2^127 times 2, as 2^128 is not a float.
    int ki = (int)k;
    y = ki > 127 ? y * 2.0f : y;
    ki = ki > 127 ? 127 : ki;
    union { int i; float f; } scale;
    scale.i = (ki + 127) << 23;
    float e = y * scale.f;
    e = x < -87.33f ? 0.0f : e;
    e = x > 88.72f ? INFINITY : e;
    return x != x ? x : e;
}

void lk_log1p_f32(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        double d = (double)v;
        double r = log(1.0 + d);
        double s = d * (1.0 - d * (0.5 - d * (1.0 / 3.0)));
        x[i] = (float)((v < SMALL && v > -SMALL) ? s : r);
    }
}

void lk_log2p1_f32(float *x, size_t n) {
    const double inv_ln2 = 1.4426950408889634;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        double d = (double)v;
        double r = log(1.0 + d) * inv_ln2;
        double s = d * (1.0 - d * (0.5 - d * (1.0 / 3.0))) * inv_ln2;
        x[i] = (float)((v < SMALL && v > -SMALL) ? s : r);
    }
}

void lk_expm1_f32(const float *x, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        double d = (double)v;
        double r = exp(d) - 1.0;
        double s = d * (1.0 + d * (0.5 + d * (1.0 / 6.0)));
        out[i] = (float)((v < SMALL && v > -SMALL) ? s : r);
    }
}

void lk_exp_f32(const float *x, float *out, size_t n) {
    // In place (the common call) gets its own loop: the two-pointer loop's overlap check sends
    // x == out to the scalar path.
    if (x == out) {
        for (size_t i = 0; i < n; i++) out[i] = lk_expf(out[i]);
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = lk_expf(x[i]);
}

void lk_sigmoid_f32(const float *x, float *out, size_t n) {
    if (x == out) {
        for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + lk_expf(-out[i]));
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + lk_expf(-x[i]));
}

// log(1 + e) for e in [0, 1] (the softplus tail e = exp(-|y|)), inline so the BCE loop vectorises
// without libmvec's logf and its call per 8 lanes: for 1 + e ≤ √2 it is log1p(e) with f = e, above
// it ln 2 + log1p((e − 1)/2). Cephes' degree-8 polynomial for log1p on [√½ − 1, √2 − 1]; within
// 2 ulp of log1p(e), and more accurate than logf(1.0f + e), which rounds 1 + e first.
static inline float lk_log1p_unit(float e) {
    int big = e > 0.41421356f;
    float f = big ? (e - 1.0f) * 0.5f : e;
    float z = f * f;
    float p = 7.0376836292e-2f;
    p = fmaf(p, f, -1.1514610310e-1f);
    p = fmaf(p, f, 1.1676998740e-1f);
    p = fmaf(p, f, -1.2420140846e-1f);
    p = fmaf(p, f, 1.4249322787e-1f);
    p = fmaf(p, f, -1.6668057665e-1f);
    p = fmaf(p, f, 2.0000714765e-1f);
    p = fmaf(p, f, -2.4999993993e-1f);
    p = fmaf(p, f, 3.3333331174e-1f);
    float y = fmaf(f * z, p, fmaf(-0.5f, z, f));
    return big ? y + 0.693147180559945f : y;
}

// The sums are reassociated so that the loops vectorise; the order is fixed at compile time, so
// results still repeat exactly.
// softplus(y) - t*y written as max(y, 0) - t*y + log1p(exp(-|y|)): no overflow for large |y|.
LK_WIDE
double lk_bce_logits_f32(const float *y, const float *t, float *grad, size_t n, float scale) {
#pragma clang fp reassociate(on)
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float v = y[i], a = fabsf(v);
        float e = lk_expf(-a);
        float sp = (v > 0 ? v : 0.0f) + lk_log1p_unit(e);
        total += (double)(sp - t[i] * v);
        float q = 1.0f / (1.0f + e);                       // one division for both signs
        float s = v >= 0 ? q : e * q;
        grad[i] = scale * (s - t[i]);
    }
    return total;
}

double lk_half_sq_f32(const float *y, const float *t, float *grad, size_t n, float scale) {
#pragma clang fp reassociate(on)
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float d = y[i] - t[i];
        total += 0.5 * (double)d * (double)d;
        grad[i] = scale * d;
    }
    return total;
}

// The gradient is set to 0 as it is read: its cache line is being loaded anyway, and the next
// step's weight-gradient products then accumulate into zeros (beta = 1), sparing OpenBLAS its own
// pass that clears C for beta = 0 (sgemm_beta, ~5 % of a VAE epoch) with identical results.
LK_WIDE
void lk_adam_f32(float *restrict w, float *restrict g, float *restrict m, float *restrict v, size_t n, float b1, float b2,
                 float step_size, float inv_sqrt_bc2, float eps, float grad_scale) {
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        g[i] = 0.0f;
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

LK_WIDE
void lk_tc_densities_f32(const float *restrict z, const float *restrict mu, const float *restrict iv,
                         const float *restrict hl, const float *restrict w, size_t m, size_t k,
                         float *restrict e, float *restrict max_k, float *restrict sum_k) {
    for (size_t c = 0; c < k; c++) { max_k[c] = -3.4e38f; sum_k[c] = 0.0f; }
    for (size_t j = 0; j < m; j++) {
        const float *mj = mu + j * k, *ij = iv + j * k, *hj = hl + j * k;
        float *ej = e + j * k;
        const float wj = w[j];
        for (size_t c = 0; c < k; c++) {
            float d = z[c] - mj[c];
            float v = hj[c] - 0.5f * d * d * ij[c] + wj;
            ej[c] = v;
            max_k[c] = v > max_k[c] ? v : max_k[c];
        }
    }
    for (size_t j = 0; j < m; j++) {
        float *ej = e + j * k;
        for (size_t c = 0; c < k; c++) {
            float x = lk_expf(ej[c] - max_k[c]);
            ej[c] = x;
            sum_k[c] += x;
        }
    }
}

LK_WIDE
void lk_tc_backward_f32(const float *restrict z, const float *restrict mu, const float *restrict iv,
                        const float *restrict qa, const float *restrict rk, const float *restrict e,
                        size_t m, size_t k, float *restrict grad, float *restrict dz) {
    for (size_t j = 0; j < m; j++) {
        const float *mj = mu + j * k, *ij = iv + j * k, *ej = e + j * k;
        float *dmu = grad + j * 2 * k, *dlv = dmu + k;
        const float q = qa[j];
        for (size_t c = 0; c < k; c++) {
            float coef = q + rk[c] * ej[c];
            float d = z[c] - mj[c];
            float u = d * ij[c];
            float cu = coef * u;
            dz[c] -= cu;
            dmu[c] += cu;
            dlv[c] += coef * (u * d - 1.0f) * 0.5f;
        }
    }
}

// Dense-layer epilogues. The activation codes follow Activation's cases that need no
// transcendental function (elu and softplus stay in Swift): 0 identity, 1 relu, 2 leaky relu
// with slope 0.2. Rows are the outer loop and units the inner, so every loop vectorises over
// units and each column sum adds the rows in order, as the plain loops do.

void lk_bias_act_f32(float *z, const float *b, size_t rows, size_t o, int act) {
    for (size_t r = 0; r < rows; r++) {
        float *zr = z + r * o;
        if (b) {
            if (act == 1) for (size_t j = 0; j < o; j++) { float v = zr[j] + b[j]; zr[j] = v > 0 ? v : 0.0f; }
            else if (act == 2) for (size_t j = 0; j < o; j++) { float v = zr[j] + b[j]; zr[j] = v > 0 ? v : 0.2f * v; }
            else for (size_t j = 0; j < o; j++) zr[j] += b[j];
        } else {
            if (act == 1) for (size_t j = 0; j < o; j++) zr[j] = zr[j] > 0 ? zr[j] : 0.0f;
            else if (act == 2) for (size_t j = 0; j < o; j++) zr[j] = zr[j] > 0 ? zr[j] : 0.2f * zr[j];
        }
    }
}

void lk_act_backward_f32(float *d, const float *y, const float *mask, size_t rows, size_t o, int act,
                         float *db, int accumulate) {
    if (db && !accumulate) for (size_t j = 0; j < o; j++) db[j] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        float *dr = d + r * o;
        const float *yr = y + r * o;
        if (mask) { const float *mr = mask + r * o; for (size_t j = 0; j < o; j++) dr[j] *= mr[j]; }
        if (act == 1) for (size_t j = 0; j < o; j++) dr[j] *= yr[j] > 0 ? 1.0f : 0.0f;
        else if (act == 2) for (size_t j = 0; j < o; j++) dr[j] *= yr[j] > 0 ? 1.0f : 0.2f;
        // The row is still in L1 here: its bias gradient costs no second pass over memory.
        if (db) for (size_t j = 0; j < o; j++) db[j] += dr[j];
    }
}

// One row of a block's Gram correction into 2⁻⁵⁰ fixed point, split in two Int64 parts per entry
// (q = h·2³² + l, 0 ≤ l < 2³², both exact): v_j = c_j + mi·s_j + si·m_j − nbmi·m_j evaluated
// left to right without contraction, exactly as PCAStatistics.add does it in Swift, so either
// path gives the same integers. Returns 0 when some |v| ≥ 2⁴⁰ or v is not finite: the caller
// then redoes the row on the Int128 path (the parts here would be meaningless). Below 2⁴⁰,
// |h| < 2⁵⁸, so up to 32 blocks may be added into the same parts before folding.
#if defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx512dq", "default")))
#endif
int lk_gram_fixed_row(const float *restrict c, const double *restrict s, const double *restrict m,
                      double mi, double si, double nbmi, int64_t *restrict hi, int64_t *restrict lo, size_t n) {
#pragma clang fp contract(off)
    int ok = 1;
    for (size_t j = 0; j < n; j++) {
        double v = (double)c[j] + mi * s[j];
        v = v + si * m[j];
        v = v - nbmi * m[j];
        ok &= fabs(v) < 0x1p40;
        double q = nearbyint(v * 0x1p50);
        double h = floor(q * 0x1p-32);
        double l = q - h * 0x1p32;
        // Out of range (caller discards the row), clamp so that the conversion is defined.
        h = fmin(fmax(h, -0x1p62), 0x1p62);
        hi[j] += (int64_t)h;
        lo[j] += (int64_t)(fmin(fmax(l, 0.0), 0x1p33));
    }
    return ok;
}

#include <immintrin.h>

void lk_unshuffle4(const unsigned char *src, size_t elems, size_t from, size_t to, unsigned char *out) {
    const unsigned char *p0 = src, *p1 = src + elems, *p2 = src + 2 * elems, *p3 = src + 3 * elems;
    size_t e = from;
#if defined(__AVX2__)
    // 32 elements at a time: interleave the four planes' bytes (8-bit, then 16-bit unpacks give
    // whole elements per 128-bit lane), then put the lanes back in element order.
    for (; e + 32 <= to; e += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(p0 + e)), b = _mm256_loadu_si256((const __m256i *)(p1 + e));
        __m256i c = _mm256_loadu_si256((const __m256i *)(p2 + e)), d = _mm256_loadu_si256((const __m256i *)(p3 + e));
        __m256i abl = _mm256_unpacklo_epi8(a, b), abh = _mm256_unpackhi_epi8(a, b);
        __m256i cdl = _mm256_unpacklo_epi8(c, d), cdh = _mm256_unpackhi_epi8(c, d);
        __m256i r0 = _mm256_unpacklo_epi16(abl, cdl);   /* elements 0-3 | 16-19 */
        __m256i r1 = _mm256_unpackhi_epi16(abl, cdl);   /* 4-7 | 20-23 */
        __m256i r2 = _mm256_unpacklo_epi16(abh, cdh);   /* 8-11 | 24-27 */
        __m256i r3 = _mm256_unpackhi_epi16(abh, cdh);   /* 12-15 | 28-31 */
        _mm256_storeu_si256((__m256i *)(out + 0), _mm256_permute2x128_si256(r0, r1, 0x20));
        _mm256_storeu_si256((__m256i *)(out + 32), _mm256_permute2x128_si256(r2, r3, 0x20));
        _mm256_storeu_si256((__m256i *)(out + 64), _mm256_permute2x128_si256(r0, r1, 0x31));
        _mm256_storeu_si256((__m256i *)(out + 96), _mm256_permute2x128_si256(r2, r3, 0x31));
        out += 128;
    }
#endif
    for (; e < to; e++) {
        out[0] = p0[e]; out[1] = p1[e]; out[2] = p2[e]; out[3] = p3[e];
        out += 4;
    }
}

// HDF5's shuffle filter stores byte b of every element in plane b (planes of `elems` bytes);
// this puts elements [from, to) back together: 4-byte elements (float32, int32: nearly every
// array) by lk_unshuffle4's vector code, other sizes (int64 indptr, float64) by a plain loop.
void lk_unshuffle(const uint8_t *restrict src, size_t elems, size_t from, size_t to, size_t size, uint8_t *restrict out) {
    if (size == 4) { lk_unshuffle4(src, elems, from, to, out); return; }
    for (size_t e = from; e < to; e++) {
        for (size_t b = 0; b < size; b++) out[size * (e - from) + b] = src[b * elems + e];
    }
}
