/* scale.h - internal interface of the PTQ1.61 parameterization and its optimizers (src/scale), shared
 * with src/ptq161 (the layer pipeline) and src/mask. Everything works in permuted column order: the
 * n_sal salient columns first, then the nu = cols - n_sal binarized ones (perm from the mask). */
#ifndef QLOW_SCALE_SCALE_H
#define QLOW_SCALE_SCALE_H

#include "core/internal.h"

/* Threads for a loop of about `work` element operations: small loops stay serial, because a parallel
 * region costs more than it saves there (and much more on a loaded machine). */
static inline int qlow__par_threads(const qlow_ctx *ctx, double work)
{
    return work < 262144.0 ? 1 : qlow__ctx_threads(ctx);
}

/* C (+)= A B; A [M x K] (lda), B [K x N] (ldb), C [M x N] (ldc), all row-major fp32. */
QLOW_HIDDEN void qlow__sgemm_nn(const qlow_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A,
                                int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                                int accumulate);

/* Adam hyper-parameters (QLOW_SCALE_* keys). */
typedef struct qlow__adam_hp {
    double lr_alpha, lr_r, beta1, beta2, eps, weight_decay;
} qlow__adam_hp;
QLOW_HIDDEN void qlow__adam_hp_from_params(const qlow_params *params, qlow__adam_hp *hp);

/* One PTQ1.61 layer. Salient part: w = sal_scale_i * q + sal_min_i, q in 0..15. Binary part:
 * w_iu = r1_i * r2_u * (alpha_i * sign_iu + mu_i), sign = +-1, mu frozen. */
typedef struct qlow__p161 {
    qlow_allocator alloc;
    int64_t rows, cols, ns, nu;
    int32_t *perm;          /* cols: permuted position -> original column */
    uint8_t *mask;          /* QLOW_MASK_BYTES(cols) */
    uint8_t *sal_q;         /* rows x ns */
    float *sal_scale, *sal_min; /* rows */
    int8_t *sign;           /* rows x nu */
    float *mu, *alpha, *r1; /* rows */
    float *r2;              /* nu */
    float *g_alpha, *g_r1, *g_r2;            /* accumulated gradients */
    float *m_alpha, *v_alpha, *m_r1, *v_r1, *m_r2, *v_r2; /* Adam moments */
    int64_t steps;
} qlow__p161;

QLOW_HIDDEN qlow_status qlow__p161_create(const qlow_allocator *alloc, int64_t rows, int64_t cols,
                                          const uint8_t *mask, qlow__p161 **out);
QLOW_HIDDEN void qlow__p161_destroy(qlow__p161 *p);
/* Quantize the salient columns, freeze signs and mu, init alpha, r1 = r2 = 1, clear Adam state.
 * Wp: rows x cols in permuted order. full_row_range: 4-bit range over the whole row (authors' code).
 * alpha_mean_abs: alpha = mean|w| (authors' code) instead of mean|w - mu|. */
QLOW_HIDDEN void qlow__p161_init(const qlow_ctx *ctx, qlow__p161 *p, const float *Wp, int full_row_range,
                                 int alpha_mean_abs);
/* Re-derive signs from Wp against the current mu (used after GPTQ compensation changes Wp). */
QLOW_HIDDEN void qlow__p161_resign(const qlow_ctx *ctx, qlow__p161 *p, const float *Wp);
/* W^ into out [rows x cols]; permuted != 0 gives permuted column order, else the original order. */
QLOW_HIDDEN void qlow__p161_materialize(const qlow_ctx *ctx, const qlow__p161 *p, float *out, int permuted);
/* g_* += gradients of alpha, r1, r2 for dL/dW^ = G [rows x cols] (ldg), permuted or original order. */
QLOW_HIDDEN void qlow__p161_accumulate_grad(const qlow_ctx *ctx, qlow__p161 *p, const float *G, int64_t ldg,
                                            int permuted);
/* Adam/AdamW step on the accumulated gradients, which are then cleared. */
QLOW_HIDDEN void qlow__p161_adam_step(qlow__p161 *p, const qlow__adam_hp *hp);
/* Fold r1 into alpha and mu and round every stored scale to fp16 (r1 = 1 afterwards), so that
 * materialize() gives exactly what the packed M161 format holds. */
QLOW_HIDDEN void qlow__p161_finalize(qlow__p161 *p);
/* 1 if every scale of p is finite (after finalize: fits fp16). */
QLOW_HIDDEN int qlow__p161_check_finite(const qlow__p161 *p);
/* Copy the trainable state (alpha, r1, r2) to / from a 2*rows + nu float buffer. */
QLOW_HIDDEN void qlow__p161_save(const qlow__p161 *p, float *buf);
QLOW_HIDDEN void qlow__p161_load(qlow__p161 *p, const float *buf);

/* Layer loss on outputs laid out [rows x T] (token t is column t, leading dimension ld):
 * MSE(Y, Yh) (mean over rows*T) + lambda * -log|mean_t cos(y_t, yh_t)|. dYh (may be NULL) receives
 * dL/dYh. *mse and *cosm (may be NULL) receive the two parts. Deterministic for any thread count. */
QLOW_HIDDEN double qlow__loss_mse_nlc(const qlow_ctx *ctx, const float *Y, const float *Yh, int64_t rows,
                                      int64_t T, int64_t ld, double lambda, float *dYh, double *mse,
                                      double *cosm);

/* Sums over T tokens behind the loss: squared error and per-token cosine; they add up over chunks. */
QLOW_HIDDEN void qlow__loss_sums(const qlow_ctx *ctx, const float *Y, const float *Yh, int64_t rows, int64_t T,
                                 int64_t ld, double *sq, double *csum);
/* The loss of sums over T tokens (as qlow__loss_mse_nlc()). */
QLOW_HIDDEN double qlow__loss_from_sums(double sq, double csum, int64_t rows, int64_t T, double lambda, double *mse,
                                        double *cosm);

/* The caller's tokens, read in place chunk by chunk: token t of the optimizer is row t of X [T x cols]
 * (original column order) with column j at permuted position perm^-1(j), divided by fold[j] when fold
 * is given (equalized coordinates). */
typedef struct qlow__stream {
    const qlow_view *X;
    const int32_t *perm;  /* cols: permuted position -> original column */
    const float *fold;    /* cols, may be NULL */
    int64_t eval_tokens;  /* the final loss reads every token (0) or this many, evenly spread */
} qlow__stream;
/* Rows t0 .. t0 + n - 1 of the stream into Xb [n x cols] and XbT [cols x n] (permuted, folded);
 * row [cols] is scratch. */
QLOW_HIDDEN void qlow__stream_read(const qlow__stream *s, int64_t cols, const int64_t *idx, int64_t n, float *row,
                                   float *Xb, float *XbT);

/* Calibration data in permuted column order: X [T x cols] and its transpose XT [cols x T]. With
 * `stream` set, X holds MSE-exact pseudo-tokens (sum_t x_t x_t^T = the Gram matrix of every streamed
 * token), which the closed-form sweeps use, while the Adam minibatches and the final loss read the real
 * tokens from the stream; otherwise everything runs on X. */
typedef struct qlow__calib {
    const float *X;
    const float *XT;
    int64_t T;
    const qlow__stream *stream;
} qlow__calib;

typedef struct qlow__layer_opt {
    qlow__adam_hp hp;
    double lambda_cos;
    int als_iters, cg_iters;
    int64_t adam_steps, batch_tokens;
    uint64_t seed;
} qlow__layer_opt;
QLOW_HIDDEN void qlow__layer_opt_from_params(const qlow_ctx *ctx, const qlow_params *params,
                                             qlow__layer_opt *o);

/* Optimize alpha, r1, r2 of p for the layer Wp (permuted) on calibration data c: closed-form
 * alternating sweeps on the output MSE, then minibatch Adam on MSE + lambda * NLC; the final state is
 * the better of the two on the full data. *loss_out (may be NULL) gets the final full-data loss.
 * Allocates through `alloc`. */
QLOW_HIDDEN qlow_status qlow__layer_optimize(const qlow_ctx *ctx, const qlow_allocator *alloc, qlow__p161 *p,
                                             const float *Wp, const qlow__calib *c, const qlow__layer_opt *o,
                                             double *loss_out);
/* Full-data loss of the current p (MSE + lambda * NLC) and optionally its parts. Allocates. */
QLOW_HIDDEN qlow_status qlow__layer_loss(const qlow_ctx *ctx, const qlow_allocator *alloc, const qlow__p161 *p,
                                         const float *Wp, const qlow__calib *c, double lambda, double *loss,
                                         double *mse, double *cosm);

#endif
