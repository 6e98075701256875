/* gptq.h - the GPTQ/OBQ column sweep as a reusable engine. The sweep owns the error compensation
 * (through the upper Cholesky factor U of H^-1, lazy block updates); a quantizer callback decides what
 * each column becomes. RTN groups (qlow_gptq_quantize) and the PTQ1.61 binarized / 4-bit parts plug in
 * the same way:
 *
 *     qlow__gptq_plan plan;                       // rows, cols, block, act_order, damp, retries
 *     qlow__gptq_workspace_bytes(&plan, &bytes);  // then carve `bytes` of 64-byte aligned memory
 *     qlow__gptq_state st; qlow__gptq_state_init(&st, &plan, ws, bytes);
 *     qlow__gptq_prepare(isa, threads, &st, H, ldh, scale);     // dead columns, order, damping, factor
 *     qlow__gptq_sweep(isa, threads, &st, W, ldw, &quantizer, out_dequantized, &loss);
 *
 * The quantizer sees original column indices and the current (error-updated) values of the column it
 * must quantize; for data-dependent grids it can read other not-yet-quantized columns through the
 * cursor (qlow__gptq_read_column). */
#ifndef QLOW_GPTQ_GPTQ_H
#define QLOW_GPTQ_GPTQ_H

#include "core/internal.h"

typedef struct qlow__gptq_cursor qlow__gptq_cursor;

typedef struct qlow__gptq_quantizer {
    void *user;
    /* Quantize original column `col`: w[rows] are its current values, q[rows] receives the dequantized
     * values. Nonzero status aborts the sweep. */
    qlow_status (*quantize_column)(void *user, int64_t col, const float *w, float *q, int64_t rows,
                                   const qlow__gptq_cursor *cursor);
} qlow__gptq_quantizer;

typedef struct qlow__gptq_plan {
    int64_t rows, cols;
    int64_t block;       /* lazy-update block width (GPTQ: 128) */
    int32_t act_order;   /* 1: sweep columns by descending diag(H) */
    int32_t retries;     /* extra damping attempts, each x10, when the factorization fails */
    double damp;         /* lambda = damp * mean(diag H) */
} qlow__gptq_plan;

/* Workspace of the sweep state, including a cols x cols double matrix for the factor. */
QLOW_HIDDEN qlow_status qlow__gptq_workspace_bytes(const qlow__gptq_plan *p, size_t *bytes);

typedef struct qlow__gptq_state {
    qlow__gptq_plan plan;
    int32_t *order;      /* sweep position -> original column */
    int32_t *pos;        /* original column -> sweep position */
    uint8_t *dead;       /* original column has a zero diagonal */
    float *hdiag;        /* original-order diagonal of H before damping (dead columns 0) */
    double *U;           /* cols x cols: damped permuted H, then the upper factor of its inverse */
    float *Urow;         /* block x cols: fp32 copy of the factor rows of the current block */
    float *Wwork;        /* rows x cols, sweep order */
    float *Wblock;       /* block x rows, column-major block of Wwork */
    float *Err;          /* rows x block */
    float *qcol;         /* rows */
    double *scratch;     /* factorization scratch */
    double damp_used;
} qlow__gptq_state;

/* Carve the state from ws (qlow__gptq_workspace_bytes bytes, 64-byte aligned). */
QLOW_HIDDEN qlow_status qlow__gptq_state_init(qlow__gptq_state *s, const qlow__gptq_plan *p, void *ws,
                                              size_t ws_bytes);

/* Dead columns, act-order permutation, damping and the factor U from a symmetric H given by its lower
 * triangle: element (a, b), a >= b, is scale * H[a * ldh + b] (so both the accumulator's lower-triangle
 * sums and a full dense matrix work; H is only read). QLOW_E_NUMERIC when the damped matrix is not
 * positive definite after the allowed attempts (damping x10 each). */
QLOW_HIDDEN qlow_status qlow__gptq_prepare(int isa, int threads, qlow__gptq_state *s, const double *H, int64_t ldh,
                                           double scale);

/* Sweep W (rows x cols fp32 row-major, original order, with leading dimension ldw; only read) through
 * the quantizer; out (rows x cols, original order) receives the dequantized weights, *loss (may be
 * NULL) GPTQ's sum (w - q)^2 / U_ii^2 / 2. Dead columns are zeroed before quantization. */
QLOW_HIDDEN qlow_status qlow__gptq_sweep(int isa, int threads, qlow__gptq_state *s, const float *W, int64_t ldw,
                                         const qlow__gptq_quantizer *q, float *out, double *loss);

/* Current value of original column `col` (rows floats) during the sweep: columns of the current block
 * and later ones give their error-compensated values so far (later blocks have every update of the
 * finished blocks); columns of finished blocks give their values at the start of their block. */
QLOW_HIDDEN void qlow__gptq_read_column(const qlow__gptq_cursor *c, int64_t col, float *out);

#endif
