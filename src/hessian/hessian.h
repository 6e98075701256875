/* hessian.h - the qlow_hessian accumulator object and the internal entry points GPTQ, the planner and
 * the spectral routines share. */
#ifndef QLOW_HESSIAN_HESSIAN_H
#define QLOW_HESSIAN_HESSIAN_H

#include "core/internal.h"

/* Tokens packed per SYRK pass; the fp32 partial sums of one pass are flushed into double. */
#define QLOW__SYRK_CHUNK 256
/* Tile of the SYRK kernel: 12 broadcast rows x 32 vector columns. */
#define QLOW__SYRK_MR 12
#define QLOW__SYRK_NR 32

struct qlow_hessian {
    uint32_t magic;
    int32_t mode;          /* qlow_hessian_mode */
    int32_t owns_memory;   /* 1 when created by qlow_hessian_create / load */
    int32_t reserved;
    qlow_allocator alloc;
    int64_t cols;
    int64_t tokens;        /* rows added so far */
    double *S;             /* FULL: cols x cols, sum x x^T in the lower triangle (row j, col i <= j) */
    double *sumsq;         /* DIAG: sum x_j^2 */
    double *colsum;        /* sum x_j (both modes) */
    float *pack_a;         /* FULL: chunk packed in MR-wide row tiles */
    float *pack_b;         /* FULL: chunk packed in NR-wide column strips */
};
#define QLOW__HESSIAN_MAGIC 0x716c6873u /* "qlhs" */

QLOW_HIDDEN qlow_status qlow__hessian_check(const qlow_hessian *h);

/* Sum of x_j^2 over all tokens (diagonal of sum x x^T). */
QLOW_HIDDEN double qlow__hessian_sumsq(const qlow_hessian *h, int64_t j);

/* Dense normalized H = 2/N sum x x^T (symmetric, full storage) into out[cols*cols]; zero matrix when no
 * token was added. FULL mode only. */
QLOW_HIDDEN void qlow__hessian_dense(const qlow_hessian *h, double *out);

/* Prepare H for GPTQ-style factorization in place on a dense symmetric matrix: columns with a zero
 * diagonal get H_jj = 1 and are flagged in dead[j] (may be NULL); then lambda = damp * mean(diag) is
 * added to the diagonal. QLOW_E_NONFINITE if the matrix has NaN/Inf. */
QLOW_HIDDEN qlow_status qlow__hessian_condition(double *H, int64_t n, double damp, uint8_t *dead);

/* The SYRK update S += X^T X for one packed chunk of `t` tokens. */
QLOW_HIDDEN void qlow__syrk_chunk(int isa, int threads, qlow_hessian *h, int64_t t);
/* Pack tokens [t0, t0+t) of X (validated 2-D float view) into h->pack_a / pack_b and add column sums. */
QLOW_HIDDEN void qlow__syrk_pack(int threads, qlow_hessian *h, const qlow_view *X, int64_t t0, int64_t t);

static inline float qlow__view_elem_f32(const qlow_view *v, int64_t r, int64_t c)
{
    const unsigned char *p = (const unsigned char *)v->data + r * v->stride_bytes[0] + c * v->stride_bytes[1];
    if (v->dtype == QLOW_DTYPE_F32) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    uint16_t u;
    memcpy(&u, p, 2);
    return v->dtype == QLOW_DTYPE_F16 ? qlow_fp16_to_fp32(u) : qlow_bf16_to_fp32(u);
}

#endif
