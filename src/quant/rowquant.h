/* rowquant.h - per-row quantizers of one row w[n] with optional column importance imp[n] (NULL = ones):
 * binary, BiLLM order-2 residual binary and ternary. Results are fp16 bits and one code byte per weight
 * (same code conventions as qlow__qresult). `scratch` must hold 2*n floats. */
#ifndef QLOW_QUANT_ROWQUANT_H
#define QLOW_QUANT_ROWQUANT_H

#include "core/internal.h"

typedef struct qlow__kv {
    float key;
    float weight;
} qlow__kv;

/* In-place ascending sort by key (heap sort: no recursion, no allocation, deterministic). */
QLOW_HIDDEN void qlow__kv_sort(qlow__kv *a, int64_t n);

/* w ~ alpha*s + mu, s = +1 where w >= mu. optimal = 0: closed form mu = weighted mean, alpha = weighted
 * mean |w - mu| (BiLLM / the naive "sign" reference). optimal = 1: additionally the exact best split of
 * the sorted row (weighted 1-D two-means); the better of the two after fp16 rounding is kept, so it is
 * never worse than the closed form. Returns the weighted squared error. */
QLOW_HIDDEN double qlow__binary_row(const float *w, int64_t n, const float *imp, int32_t optimal, void *scratch,
                                    uint16_t *alpha_h, uint16_t *mu_h, uint8_t *codes);

/* Closed-form weighted (alpha, mu) as doubles; no rounding. */
QLOW_HIDDEN void qlow__binary_closed_form(const float *w, int64_t n, const float *imp, double *alpha,
                                          double *mu);

/* w ~ alpha*s1 + alpha2*s2 + mu (BiLLM residual order 2: binarize, then binarize the residual; mu folds
 * both means). Then weighted least-squares refits of (alpha, alpha2, mu) with codes reassigned to the
 * nearest of the four levels, kept only when they lower the error. Returns the weighted squared error. */
QLOW_HIDDEN double qlow__binary2_row(const float *w, int64_t n, const float *imp, uint16_t *alpha_h,
                                     uint16_t *alpha2_h, uint16_t *mu_h, uint8_t *codes);

/* w ~ alpha*t, t in {-1, 0, +1}: the support is the top-k of |w| with k chosen exactly (over all k) to
 * minimize the weighted error, alpha its weighted mean |w|; codes hold t + 1. Returns the error. */
QLOW_HIDDEN double qlow__ternary_row(const float *w, int64_t n, const float *imp, void *scratch,
                                     uint16_t *alpha_h, uint8_t *codes);

#endif
