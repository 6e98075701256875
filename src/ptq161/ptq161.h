/* ptq161.h - internal pieces of the one-call PTQ1.61 layer pipeline (src/ptq161). */
#ifndef QLOW_PTQ161_PTQ161_H
#define QLOW_PTQ161_PTQ161_H

#include "scale/scale.h"

/* Rank-r correction L minimizing |(E - L) X^T| (E [rows x cols], XT = X^T [cols x T]): L = Q Q^T E with Q the
 * top-r left singular vectors of E X^T, from seeded subspace iteration. L is written to out (may alias
 * nothing). Allocates through `alloc`. */
QLOW_HIDDEN qlow_status qlow__lowrank_correction(const qlow_ctx *ctx, const qlow_allocator *alloc, const float *E,
                                                 int64_t rows, int64_t cols, const float *XT, int64_t T,
                                                 int64_t rank, uint64_t seed, float *out);

/* Equalization scales s_j = a_j^beta normalized to geometric mean 1 (a = mean|x_j|, floored). */
QLOW_HIDDEN void qlow__equalize_scales(const float *absmean, int64_t cols, double beta, float *s);

/* GPTQ-style compensation with Hp = X^T X (any positive multiple) in permuted column order, dense
 * cols x cols: Wc [rows x cols] (permuted) receives the compensated, rounded weights (every entry one of
 * the values p can represent with its current scales). Allocates the sweep state (a cols^2 double). */
QLOW_HIDDEN qlow_status qlow__ptq161_gptq(const qlow_ctx *ctx, const qlow_allocator *alloc, qlow__p161 *p,
                                          const float *Wp, const double *Hp, double damp, float *Wc);

/* The whole layer pipeline up to the fp16 fold, on tokens X or on a Gram matrix H (one of them): *out receives the finalized layer (caller destroys with
 * qlow__p161_destroy); fold_scale as in qlow_ptq161_quantize_f32(). Validates every argument. */
QLOW_HIDDEN qlow_status qlow__ptq161_run(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                         const qlow_view *X, const qlow_view *H, const qlow_actstats *stats,
                                         float *fold_scale, qlow__p161 **out);
/* Pack a finalized layer into an M161 qmatrix. Allocates through `alloc`. */
QLOW_HIDDEN qlow_status qlow__p161_to_qmatrix(const qlow__p161 *p, const qlow_allocator *alloc, qlow_qmatrix **out);

#endif
