#include "nb_likelihood.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

// The NB loss of a VAE step evaluates, per cell and gene, an exp and a log, and for every nonzero
// count log Γ and ψ of x + θ: with glibc's scalar lgamma_r and a digamma that divides up to ten
// times, that was most of an NB epoch. Here every function is branch-free Double arithmetic
// (selects instead of branches, loops of fixed length) that clang vectorises 8 lanes wide (one
// AVX-512 register, two AVX2 ones). Each lane runs the same operations in the same order in both builds,
// and every sum goes through 8 lanes written out in the source, so a result is the same on any
// vector width and for any thread count (rows are independent).
#if defined(__x86_64__) && defined(__linux__)
#define NB_WIDE __attribute__((target_clones("avx512f", "default")))
#else
#define NB_WIDE
#endif
#define NB_INLINE static inline __attribute__((always_inline))

static const double LN2_HI = 6.93147180369123816490e-01;   // ln 2 with 32 trailing zero bits:
static const double LN2_LO = 1.90821492927058770002e-10;   // e·LN2_HI is exact for |e| < 2^20
static const double LN2_HI_EXP = 0x1.62e42fefa39efp-1;     // nearest double to ln 2
static const double LN2_LO_EXP = 2.319046813846299558e-17; // ln 2 − LN2_HI_EXP
static const double HALF_LOG_2PI = 0.91893853320467274178;

NB_INLINE uint64_t bits_of(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
NB_INLINE double from_bits(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

// 2^k for an integer-valued double k in [-1022, 1023], through the exponent field. The integer
// comes out of the double by adding 1.5·2^52 (its low bits are then k + 1023): AVX-512F has no
// double-to-int64 conversion, and this vectorises on both builds.
NB_INLINE double pow2_int(double k) {
    uint64_t u = bits_of(k + (0x1.8p52 + 1023.0));
    return from_bits(u << 52);
}

// e^x: x = k·ln 2 + r with |r| ≤ ln2/2 (ln 2 in two parts, so r is exact to ~1e-32·k), e^r by
// its Taylor series to r^13 (truncation below 1e-17 relative), and 2^k applied in two halves so
// that results down in the subnormals round once, as exp's do.
NB_INLINE double nb_exp(double x) {
    double c = fmin(fmax(x, -745.2), 709.8);
    double k = rint(c * 1.4426950408889634);
    double r = fma(k, -LN2_HI_EXP, c);
    r = fma(k, -LN2_LO_EXP, r);
    double p = 1.0 / 6227020800.0;
    p = fma(p, r, 1.0 / 479001600.0);
    p = fma(p, r, 1.0 / 39916800.0);
    p = fma(p, r, 1.0 / 3628800.0);
    p = fma(p, r, 1.0 / 362880.0);
    p = fma(p, r, 1.0 / 40320.0);
    p = fma(p, r, 1.0 / 5040.0);
    p = fma(p, r, 1.0 / 720.0);
    p = fma(p, r, 1.0 / 120.0);
    p = fma(p, r, 1.0 / 24.0);
    p = fma(p, r, 1.0 / 6.0);
    p = fma(p, r, 0.5);
    double y = 1.0 + fma(p, r * r, r);
    double k1 = floor(k * 0.5);
    y = y * pow2_int(k1) * pow2_int(k - k1);
    y = x > 709.8 ? INFINITY : y;
    y = x < -745.2 ? 0.0 : y;
    return x != x ? x : y;
}

// log x: x = 2^e·m with m in [√½, √2), f = m − 1, s = f/(2 + f); log m = 2·atanh(s) =
// f − s·(f − R) with R = 2(s²/3 + s⁴/5 + …) taken to s²² (|s| ≤ 0.1716: truncation ~1e-19).
// Subnormal x are scaled by 2^54 first; the exponent leaves the bits as a double directly.
NB_INLINE double nb_log(double x) {
    int sub = x < 0x1p-1022;
    double xs = sub ? x * 0x1p54 : x;
    uint64_t u = bits_of(xs);
    double m = from_bits((u & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    double e = from_bits(0x4330000000000000ull | (u >> 52)) - (0x1p52 + 1023.0);
    int big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = e + (big ? 1.0 : 0.0) - (sub ? 54.0 : 0.0);
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = 2.0 / 23.0;
    R = fma(R, z, 2.0 / 21.0);
    R = fma(R, z, 2.0 / 19.0);
    R = fma(R, z, 2.0 / 17.0);
    R = fma(R, z, 2.0 / 15.0);
    R = fma(R, z, 2.0 / 13.0);
    R = fma(R, z, 2.0 / 11.0);
    R = fma(R, z, 2.0 / 9.0);
    R = fma(R, z, 2.0 / 7.0);
    R = fma(R, z, 2.0 / 5.0);
    R = fma(R, z, 2.0 / 3.0);
    R = R * z;
    double logm = f - s * (f - R);
    double y = e * LN2_HI + (fma(e, LN2_LO, logm));
    y = x == 0.0 ? -INFINITY : y;
    y = x == INFINITY ? INFINITY : y;
    return (x < 0.0 || x != x) ? NAN : y;
}

// log(1 + e) for e in [0, 1] (softplus's tail): log of v = 1 + e, corrected for v's rounding.
NB_INLINE double nb_log1p_unit(double e) {
    double v = 1.0 + e;
    return nb_log(v) - ((v - 1.0) - e) / v;
}

// log Γ(x) and ψ(x) for x > 0 together. x is shifted up to y = x + n ≥ 10 (n ≤ 10, every lane
// running all ten masked steps) while p = x(x+1)…(x+n−1) and its derivative dp are built, so
// log Γ(x) = log Γ(y) − log p and ψ(x) = ψ(y) − dp/p. At y ≥ 10 Stirling's series for log Γ
// and the asymptotic series for ψ, both through the B₁₄ term, are below 1e-16 truncation.
NB_INLINE void nb_lgamma_digamma(double x, double *lg, double *dg) {
    double y = x, p = 1.0, dp = 0.0;
#pragma clang loop unroll(full)
    for (int i = 0; i < 10; i++) {
        int m = y < 10.0;
        dp = m ? fma(dp, y, p) : dp;
        p = m ? p * y : p;
        y = m ? y + 1.0 : y;
    }
    double w = 1.0 / y, w2 = w * w, L = nb_log(y);
    // Σ B₂ₖ / (2k(2k−1) y^(2k−1)), k = 1…7
    double S = 1.0 / 156.0;
    S = fma(S, w2, -691.0 / 360360.0);
    S = fma(S, w2, 1.0 / 1188.0);
    S = fma(S, w2, -1.0 / 1680.0);
    S = fma(S, w2, 1.0 / 1260.0);
    S = fma(S, w2, -1.0 / 360.0);
    S = fma(S, w2, 1.0 / 12.0);
    *lg = (fma(y - 0.5, L, -y) + HALF_LOG_2PI + S * w) - nb_log(p);
    // Σ B₂ₖ / (2k y^(2k)), k = 1…7
    double T = 1.0 / 12.0;
    T = fma(T, w2, -691.0 / 32760.0);
    T = fma(T, w2, 1.0 / 132.0);
    T = fma(T, w2, -1.0 / 240.0);
    T = fma(T, w2, 1.0 / 252.0);
    T = fma(T, w2, -1.0 / 120.0);
    T = fma(T, w2, 1.0 / 12.0);
    *dg = (L - 0.5 * w - T * w2) - dp / p;
}

NB_INLINE double nb_lgamma(double x) {
    double lg, dg;
    nb_lgamma_digamma(x, &lg, &dg);
    (void)dg;
    return lg;
}

double lk_exp_f64(double x) { return nb_exp(x); }
double lk_log_f64(double x) { return nb_log(x); }
double lk_lgamma_f64(double x) {
    double lg, dg;
    nb_lgamma_digamma(x, &lg, &dg);
    lg = x == 0.0 ? INFINITY : lg;
    return (x < 0.0 || x != x) ? NAN : lg;
}
double lk_digamma_f64(double x) {
    double lg, dg;
    nb_lgamma_digamma(x, &lg, &dg);
    dg = x == 0.0 ? -INFINITY : dg;
    return (x < 0.0 || x != x) ? NAN : dg;
}

NB_WIDE
void lk_nb_dispersion_f32(const float *restrict lt, size_t n, double *restrict theta, double *restrict lgt,
                          double *restrict dgt) {
    for (size_t j = 0; j < n; j++) {
        double t = nb_exp((double)lt[j]), lg, dg;
        nb_lgamma_digamma(t, &lg, &dg);
        theta[j] = t;
        lgt[j] = lg;
        dgt[j] = dg;
    }
}

// Σ v[0..<n] over 8 lanes (lane l takes v[8i + l]), then the lanes pairwise: the same order
// whatever the vector width.
NB_INLINE double sum8(const double *restrict v, size_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += v[j + l];
    for (int l = 0; j + l < n; l++) acc[l] += v[j + l];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// softplus(z) = log(1 + e^z) and σ(z) from e = e^{−|z|}, neither overflowing.
NB_INLINE double nb_softplus(double z, double e) { return fmax(z, 0.0) + nb_log1p_unit(e); }
NB_INLINE double nb_sigmoid(double z, double e) { return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e); }

// For an integer count x ≤ n: log Γ(x + θ) − log Γ(θ) = log Π_{i<x}(θ + i) and
// ψ(x + θ) − ψ(θ) = Σ_{i<x} 1/(θ + i) = P'/P, as one product, its derivative, one log and one
// division (n masked steps, n a constant). No cancellation between two large log Γ values either.
NB_INLINE void nb_rising(double th, double xv, const int n, double *lg, double *dg) {
    double p = 1.0, dp = 0.0;
#pragma clang loop unroll(full)
    for (int i = 0; i < n; i++) {
        int m = (double)i < xv;
        double t = th + (double)i;
        dp = m ? fma(dp, t, p) : dp;
        p = m ? p * t : p;
    }
    *lg = nb_log(p);
    *dg = dp / p;
}

// log x! for integer counts below NB_FACT (the loss's log Γ(x + 1)), from the kernel's own
// lgamma so that it is the same on every machine; filled once when the library loads.
#define NB_FACT 1024
static double nb_log_factorial[NB_FACT];
__attribute__((constructor)) static void nb_fill_log_factorial(void) {
    for (int k = 0; k < NB_FACT; k++) nb_log_factorial[k] = lk_lgamma_f64((double)k + 1.0);
}

// The row, specialised by the compiler for NB/ZINB and forward/backward (zi, bwd constant).
// Pass 1 (every gene, vectorised) computes everything but the log Γ/ψ terms, which only nonzero
// counts have (most entries of single-cell data are 0): their genes are listed by count class
// (pass 2), their log Γ(x + θ) − log Γ(θ) − log x! and ψ(x + θ) − ψ(θ) computed over each list
// through gathers (pass 3), and added in (pass 4), so no lane does work for a zero count and
// the small counts most entries have take a short product instead of two log Γ.
NB_INLINE double nb_row(const float *restrict y, const float *restrict pi, const float *restrict x, size_t g,
                        const float *restrict lt, const double *restrict theta, const double *restrict lgt,
                        const double *restrict dgt, double lib, double scale, float *restrict dy,
                        float *restrict dpi, double *restrict dlt, double *restrict scratch, const int zi, const int bwd) {
    double *restrict ex = scratch, *restrict ll = scratch + g, *restrict aa = scratch + 2 * g;
    double *restrict dth = scratch + 3 * g, *restrict gl = scratch + 4 * g, *restrict gd = scratch + 5 * g;
    int32_t *restrict idx = (int32_t *)(scratch + 6 * g);        // 3·g int32 in 1.5·g doubles
    int32_t *restrict cls = idx + 3 * g;                           // g int32 in 0.5·g doubles
    // log-softmax normaliser: the row maximum (exact, any order), then Σ e^{y − max} in 8 lanes.
    float mxf = -INFINITY;
    for (size_t j = 0; j < g; j++) mxf = fmaxf(mxf, y[j]);
    double mx = (double)mxf;
    #pragma clang loop vectorize(enable) vectorize_width(8)
    for (size_t j = 0; j < g; j++) ex[j] = nb_exp((double)y[j] - mx);
    double se = sum8(ex, g);
    double lse = mx + nb_log(se), invSe = 1.0 / se, logLib = nb_log(lib), libInvSe = lib * invSe;
    #pragma clang loop vectorize(enable) vectorize_width(8)
    for (size_t j = 0; j < g; j++) {
        // μ = ℓ·ρ from the normaliser's own exponentials (no second exp); log μ for x·log μ.
        double logMu = logLib + ((double)y[j] - lse), mu = libInvSe * ex[j];
        double th = theta[j], l = (double)lt[j], xv = (double)x[j];
        int pos = xv > 0.0;
        double tm = th + mu, inv = 1.0 / tm, L = nb_log(tm);
        double c = th * (l - L);                                   // θ·log(θ/(θ+μ))
        double rest = c + xv * (logMu - L);                        // NB log p but the log Γ terms
        // dLoss/dθ but the ψ terms, and dLoss/d log μ; for x > 0 the latter as
        // μ(x + θ)/(θ + μ) − x, which stays finite when μ underflows (μ·(… − x/μ) would be 0·∞).
        double dTheta = -((l - L) + (mu - xv) * inv);
        double a = mu * (xv + th) * inv - xv;
        double lv;
        if (zi) {
            double q = (double)pi[j];
            double eq = nb_exp(-fabs(q));
            double z = c - q, ez = nb_exp(-fabs(z));
            double lq = nb_log1p_unit(eq);                          // shared by softplus(±q)
            double spq = fmax(q, 0.0) + lq, spmq = fmax(-q, 0.0) + lq;
            double w = nb_sigmoid(z, ez), sq = nb_sigmoid(q, eq), smq = nb_sigmoid(-q, eq);
            lv = pos ? rest - spq : nb_softplus(z, ez) - spmq;
            if (bwd) {
                a = pos ? a : w * a;
                dTheta = pos ? dTheta : w * dTheta;
                double dP = pos ? sq : w - smq;
                dpi[j] = (float)(scale * dP);
            }
        } else {
            lv = pos ? rest : c;
        }
        ll[j] = lv;
        if (bwd) {
            aa[j] = a;
            dth[j] = dTheta;
        }
        // The count's class for pass 2: 0 zero, 1 an integer ≤ 4, 2 an integer ≤ 16 (both with
        // θ ≤ 1e15, so that their products stay finite), 3 any other.
        int direct = xv == floor(xv) && th <= 1e15;
        cls[j] = pos ? (direct && xv <= 4.0 ? 1 : direct && xv <= 16.0 ? 2 : 3) : 0;
    }
    // Pass 2: the nonzero counts in three lists by class, branch-free (every list gets j
    // written, the class decides which count moves). Small integer counts take the rising
    // factorial directly, the rest log Γ and ψ.
    size_t n0 = 0, n1 = 0, n2 = 0;
    int32_t *restrict idx1 = idx + g, *restrict idx2 = idx + 2 * g;
    for (size_t j = 0; j < g; j++) {
        int32_t c = cls[j];
        idx[n0] = (int32_t)j;
        n0 += c == 1;
        idx1[n1] = (int32_t)j;
        n1 += c == 2;
        idx2[n2] = (int32_t)j;
        n2 += c == 3;
    }
    // Pass 3: log Γ(x + θ) − log Γ(θ) − log x! and ψ(x + θ) − ψ(θ) over the lists.
    #pragma clang loop vectorize(enable) vectorize_width(8)
    for (size_t k = 0; k < n0; k++) {
        int32_t j = idx[k];
        double xv = (double)x[j], lg, dg;
        nb_rising(theta[j], xv, 4, &lg, &dg);
        gl[k] = lg - nb_log_factorial[(int32_t)x[j]];
        gd[k] = dg;
    }
    #pragma clang loop vectorize(enable) vectorize_width(8)
    for (size_t k = 0; k < n1; k++) {
        int32_t j = idx1[k];
        double xv = (double)x[j], lg, dg;
        nb_rising(theta[j], xv, 16, &lg, &dg);
        gl[n0 + k] = lg - nb_log_factorial[(int32_t)x[j]];
        gd[n0 + k] = dg;
    }
    #pragma clang loop vectorize(enable) vectorize_width(8)
    for (size_t k = 0; k < n2; k++) {
        int32_t j = idx2[k];
        double xv = (double)x[j], lg, dg;
        nb_lgamma_digamma(xv + theta[j], &lg, &dg);
        gl[n0 + n1 + k] = (lg - lgt[j]) - nb_lgamma(xv + 1.0);
        gd[n0 + n1 + k] = dg - dgt[j];
    }
    // Pass 4: added in.
    for (size_t k = 0; k < n0 + n1 + n2; k++) {
        int32_t j = k < n0 ? idx[k] : k < n0 + n1 ? idx1[k - n0] : idx2[k - n0 - n1];
        ll[j] = gl[k] + ll[j];
        if (bwd) dth[j] = dth[j] - gd[k];
    }
    double total = sum8(ll, g);
    if (bwd) {
        double sumA = sum8(aa, g);
        for (size_t j = 0; j < g; j++) {
            dy[j] = (float)(scale * (aa[j] - ex[j] * invSe * sumA));
            dlt[j] += scale * theta[j] * dth[j];
        }
    }
    return -total;
}

NB_WIDE
double lk_nb_row_f32(const float *y, const float *pi, const float *x, size_t g,
                     const float *lt, const double *theta, const double *lgt, const double *dgt,
                     double lib, double scale, float *dy, float *dpi, double *dlt, double *scratch) {
    if (pi) {
        if (dy) return nb_row(y, pi, x, g, lt, theta, lgt, dgt, lib, scale, dy, dpi, dlt, scratch, 1, 1);
        return nb_row(y, pi, x, g, lt, theta, lgt, dgt, lib, scale, dy, dpi, dlt, scratch, 1, 0);
    }
    if (dy) return nb_row(y, pi, x, g, lt, theta, lgt, dgt, lib, scale, dy, dpi, dlt, scratch, 0, 1);
    return nb_row(y, pi, x, g, lt, theta, lgt, dgt, lib, scale, dy, dpi, dlt, scratch, 0, 0);
}
