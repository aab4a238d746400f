#include "qc_sweep.h"
#include <math.h>

// Every sum must be the bits of the Swift loops it replaces (statistics files, sharded runs and
// in-memory runs agree to the byte): no contraction into fused multiply-adds.
#pragma clang fp contract(off)

static inline __attribute__((always_inline))
lk_qc_row_t qc_row(const float *restrict val, const int32_t *restrict ind, size_t n, const bool *restrict is_mito,
                   double *restrict gs, int32_t *restrict gn, double *restrict gq, int32_t *restrict hist,
                   float *restrict scratch, const bool genes, const bool squares, const bool counted) {
    double t = 0, m = 0;
    int64_t c = 0, nbig = 0;
    int32_t non_integer = 0, negative = 0, huge = 0;
    for (size_t p = 0; p < n; p++) {
        const float v = val[p];
        const int32_t j = ind[p];
        const double d = (double)v;
        t += d;
        const int32_t nz = v != 0;
        c += nz;
        if (genes) { gs[j] += d; gn[j] += nz; }
        if (is_mito[j]) m += d;
        if (squares) gq[j] += (double)(v * v);
        if (truncf(v) == v) {
            if (v >= 0 && v < 256.0f) {
                if (counted) hist[(int32_t)v] += 1;
            } else {
                negative |= v < 0;
                if (fabsf(v) <= 16777216.0f) scratch[nbig++] = v; else huge = 1;
            }
        } else {
            non_integer = 1;
        }
    }
    lk_qc_row_t r = { t, m, c, nbig, non_integer, negative, huge };
    return r;
}

lk_qc_row_t lk_qc_row(const float *val, const int32_t *ind, size_t n, const bool *is_mito,
                      double *gs, int32_t *gn, double *gq, int32_t *hist, float *scratch) {
    const bool g = gs != NULL, q = gq != NULL, h = hist != NULL;
    if (g && q && h) return qc_row(val, ind, n, is_mito, gs, gn, gq, hist, scratch, true, true, true);
    if (g && !q && h) return qc_row(val, ind, n, is_mito, gs, gn, gq, hist, scratch, true, false, true);
    if (g && !q && !h) return qc_row(val, ind, n, is_mito, gs, gn, gq, hist, scratch, true, false, false);
    if (!g && h) return qc_row(val, ind, n, is_mito, gs, gn, gq, hist, scratch, false, false, true);
    if (!g && !h) return qc_row(val, ind, n, is_mito, gs, gn, gq, hist, scratch, false, false, false);
    return qc_row(val, ind, n, is_mito, gs, gn, gq, hist, scratch, true, true, false);
}

void lk_scaled_row(const float *restrict val, const int32_t *restrict ind, size_t n, double r,
                   double *restrict us, double *restrict uq) {
    for (size_t p = 0; p < n; p++) {
        const double d = (double)val[p] * r;
        const int32_t j = ind[p];
        us[j] += d;
        uq[j] += d * d;
    }
}
