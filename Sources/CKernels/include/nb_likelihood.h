// The negative-binomial (and zero-inflated NB) reconstruction of the VAE in vectorisable C,
// with its own Double exp, log, lgamma and digamma: the scalar libm calls (lgamma_r, and a
// digamma whose recurrence divides up to ten times) took most of an NB training step.
#ifndef LATENT_NB_LIKELIHOOD_H
#define LATENT_NB_LIKELIHOOD_H
#include <stddef.h>

/// e^x in Double (within 2 ulp; underflows to subnormals and 0, overflows to +inf like exp).
double lk_exp_f64(double x);
/// log x in Double (within 2 ulp for x > 0; 0 gives -inf, negative or NaN gives NaN).
double lk_log_f64(double x);
/// log Γ(x) for x > 0: absolute error at most 1e-14·max(1, |log Γ(x)|) (see NBKernelTests).
double lk_lgamma_f64(double x);
/// ψ(x) = d/dx log Γ(x) for x > 0: absolute error at most 1e-14·max(1, |ψ(x)|).
double lk_digamma_f64(double x);

/// Per-entry dispersion terms for n log-dispersions lt: theta = e^lt, lgt = log Γ(θ),
/// dgt = ψ(θ) (the parts of the NB terms that do not depend on the cell).
void lk_nb_dispersion_f32(const float *lt, size_t n, double *theta, double *lgt, double *dgt);

/// One cell's NB (pi == NULL) or ZINB loss over g genes, in Double, returned as −Σ log p.
/// y: decoder logits (ρ = softmax(y)), pi: dropout logits, x: counts, lt/theta/lgt/dgt: the
/// cell's row of dispersion terms (lk_nb_dispersion_f32), lib: the cell's total count.
/// With dy non-NULL (backward): dy = scale·dLoss/dy, dpi = scale·dLoss/dπ (ZINB), and
/// dlt[j] += scale·θ·dLoss/dθ. scratch holds 8·g doubles. Sums run over 8 fixed lanes, so
/// the result does not depend on the vector width the machine has.
double lk_nb_row_f32(const float *y, const float *pi, const float *x, size_t g,
                     const float *lt, const double *theta, const double *lgt, const double *dgt,
                     double lib, double scale, float *dy, float *dpi, double *dlt, double *scratch);
#endif
