// One row of normalize's QC sweep (QCPass.swift): the row's totals, its gene partials and the
// integer histogram behind the top-N shares, in one tight loop. Swift's version spent a third
// of its time on overflow checks and flag tests per value.
#ifndef LATENT_QC_SWEEP_H
#define LATENT_QC_SWEEP_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct {
    double total;       // sum of the values in stored order
    double mito;        // sum over mitochondrial genes, in stored order
    int64_t nonzero;    // values != 0
    int64_t nbig;       // integers outside 0..<256 (with |v| <= 2^24) copied to scratch
    int32_t non_integer, negative, huge;
} lk_qc_row_t;

/// The row's n values (val) at columns ind: gs[j] += v and gn[j] += (v != 0) when gs is not
/// NULL; gq[j] += (double)(v*v) (the Float32 square) when gq is not NULL; integers in 0..<256
/// counted in hist when hist is not NULL, other integers with |v| <= 2^24 copied to scratch.
lk_qc_row_t lk_qc_row(const float *val, const int32_t *ind, size_t n, const bool *is_mito,
                      double *gs, int32_t *gn, double *gq, int32_t *hist, float *scratch);

/// us[j] += v * r and uq[j] += (v * r)^2 in double, no fused multiply-add (the bits of
/// BlockStats.columnSums' scaled mode).
void lk_scaled_row(const float *val, const int32_t *ind, size_t n, double r, double *us, double *uq);
#endif
