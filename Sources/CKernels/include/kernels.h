// Element-wise math over Float32 arrays, compiled so that clang vectorises the libm calls
// (libmvec): 0.3–0.8 ns per element instead of ~18 ns for scalar log1pf. Each function works
// in double internally, where 1 + x is exact for float x, so no accuracy is traded for speed.
#ifndef LATENT_KERNELS_H
#define LATENT_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "nb_likelihood.h"

/// x[i] = log(1 + x[i]).
void lk_log1p_f32(float *x, size_t n);
/// x[i] = log2(1 + x[i]).
void lk_log2p1_f32(float *x, size_t n);
/// out[i] = exp(x[i]) - 1.
void lk_expm1_f32(const float *x, float *out, size_t n);

// Neural-network element-wise kernels (Float32). e^x is the kernels' own vectorised polynomial
// (within 2 ulp; libmvec's expf turns scalar for every underflowing lane); logf goes through
// libmvec. Losses are summed in double; gradients are written already multiplied by `scale`
// (1/batch size).

/// out[i] = exp(x[i]).
void lk_exp_f32(const float *x, float *out, size_t n);
/// out[i] = 1 / (1 + exp(-x[i])).
void lk_sigmoid_f32(const float *x, float *out, size_t n);
/// Bernoulli with logits y against targets t in [0, 1]: returns sum of softplus(y) - t*y
/// (binary cross-entropy), grad[i] = scale * (sigmoid(y) - t).
double lk_bce_logits_f32(const float *y, const float *t, float *grad, size_t n, float scale);
/// Unit-variance Gaussian: returns sum of (y - t)^2 / 2, grad[i] = scale * (y - t).
double lk_half_sq_f32(const float *y, const float *t, float *grad, size_t n, float scale);
/// One Adam step over n parameters (torch.optim.Adam's update, bias corrections folded into
/// step_size = lr/(1 − β₁ᵗ) and inv_sqrt_bc2 = 1/√(1 − β₂ᵗ)); g is multiplied by grad_scale first,
/// and left zeroed (consumed) for the next step's accumulation.
void lk_adam_f32(float *w, float *g, float *m, float *v, size_t n, float b1, float b2,
                 float step_size, float inv_sqrt_bc2, float eps, float grad_scale);

// β-TCVAE's per-latent densities for one sample z (k latents) against a batch of m posteriors
// (row-major m × k: mu, iv = e^{-log σ²}, hl = -½(log 2π + log σ²)), with log weights w (m).
// e[j,c] = exp(L[j,c] + w[j] - max_k[c]) for L[j,c] = hl - ½(z[c] - mu)²·iv; max_k[c] = the
// maximum over j of L + w; sum_k[c] = Σ_j e[j,c].
void lk_tc_densities_f32(const float *z, const float *mu, const float *iv, const float *hl,
                         const float *w, size_t m, size_t k, float *e, float *max_k, float *sum_k);
// Their backward pass: with coef = qa[j] + rk[c]·e[j,c] and u = (z[c] - mu)·iv,
// dz[c] -= Σ_j coef·u; dmu[j,c] += coef·u; dlv[j,c] += coef·(u·(z[c] - mu) - 1)/2, where dmu
// and dlv are rows of stride 2k (dlv = dmu + k).
void lk_tc_backward_f32(const float *z, const float *mu, const float *iv, const float *qa,
                        const float *rk, const float *e, size_t m, size_t k, float *grad, float *dz);
// Dense-layer epilogues over rows × o row-major buffers; act: 0 identity, 1 relu, 2 leaky relu
// (slope 0.2). Forward: z = act(z + b) per row, in place (b NULL: z = act(z)). Backward: d *= mask (when given),
// d *= act'(y) from the layer's output y, then db[j] += Σ_rows d (set instead with accumulate 0;
// skipped when db is NULL), the rows added in order.
void lk_bias_act_f32(float *z, const float *b, size_t rows, size_t o, int act);
void lk_act_backward_f32(float *d, const float *y, const float *mask, size_t rows, size_t o, int act,
                         float *db, int accumulate);
// One row of a PCA block's Gram correction added into 2⁻⁵⁰ fixed point as two Int64 parts per
// entry (value = hi·2³² + lo); 0 when an entry is too large or not finite (see kernels.c).
int lk_gram_fixed_row(const float *c, const double *s, const double *m, double mi, double si, double nbmi,
                      int64_t *hi, int64_t *lo, size_t n);
// Elements [from, to) of a shuffle-filtered chunk of `elems` elements of `size` bytes, unshuffled into out.
void lk_unshuffle(const uint8_t *src, size_t elems, size_t from, size_t to, size_t size, uint8_t *out);
/// HDF5's shuffle filter undone for 4-byte elements: the chunk holds `elems` elements as four
/// byte planes (byte b of element e at src[b*elems + e]); elements [from, to) are written to
/// `out` contiguously. The byte-by-byte loop cost streamed reads more than the inflate did.
void lk_unshuffle4(const unsigned char *src, size_t elems, size_t from, size_t to, unsigned char *out);

#include "qc_sweep.h"

#endif
