#include "kernels.h"
#include <math.h>

// Below |x| = 1e-4 the three-term series is exact to double precision's needs for a float
// result, and avoids log(1 + x) losing the low bits of tiny x (1 + 1e-10 is not exact in double).
#define SMALL 1e-4f

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
    for (size_t i = 0; i < n; i++) out[i] = expf(x[i]);
}

void lk_sigmoid_f32(const float *x, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-x[i]));
}

// The sums are reassociated so that the loops vectorise; the order is fixed at compile time, so
// results still repeat exactly.
// softplus(y) - t*y written as max(y, 0) - t*y + log1p(exp(-|y|)): no overflow for large |y|.
double lk_bce_logits_f32(const float *y, const float *t, float *grad, size_t n, float scale) {
#pragma clang fp reassociate(on)
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float v = y[i], a = fabsf(v);
        float e = expf(-a);
        float sp = (v > 0 ? v : 0.0f) + logf(1.0f + e);   // log1pf has no vector version; e ≤ 1, so 1 + e loses < 1e-7 absolute
        total += (double)(sp - t[i] * v);
        float s = v >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
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

void lk_adam_f32(float *w, const float *g, float *m, float *v, size_t n, float b1, float b2,
                 float step_size, float inv_sqrt_bc2, float eps, float grad_scale) {
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}
