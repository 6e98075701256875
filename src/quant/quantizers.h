/* quantizers.h - matrix-level quantizers: read W (any 2-D f32/f16/bf16 view) row by row and fill a carved
 * qlow__qresult. Each row group is independent, so work is split over row groups (one thread computes
 * each output, in a fixed order: results do not depend on the thread count). */
#ifndef QLOW_QUANT_QUANTIZERS_H
#define QLOW_QUANT_QUANTIZERS_H

#include "quant/qresult.h"
#include "quant/rtn.h"

typedef struct qlow__qopts {
    int32_t kind;            /* QLOW__QK_RTN, _BINARY, _BINARY2, _TERNARY */
    int32_t bits;            /* RTN: 2..8 */
    int32_t symmetric;       /* RTN */
    int32_t range_search;    /* RTN: 1 = weighted clip-ratio search, 0 = min/max */
    qlow__range_opts range;
    int64_t group_cols;      /* RTN: 0 = whole rows, else a multiple of 32 */
    int64_t group_rows;      /* RTN: rows per row group (>= 1) */
    int64_t row_groups;      /* RTN: if > 0, overrides group_rows with ceil(rows / row_groups) */
    int32_t binary_optimal;  /* BINARY: exact two-means split on top of the closed form */
    int32_t ternary_format;  /* TERNARY: QLOW_FORMAT_T2 or QLOW_FORMAT_T158 */
} qlow__qopts;

/* Options from a parameter set (NULL = defaults). QLOW_E_PARAM on inconsistent values. */
QLOW_HIDDEN qlow_status qlow__qopts_from_params(const qlow_params *params, qlow__qopts *o);

/* Geometry of the result of quantizing a [rows x cols] matrix with `o`. */
QLOW_HIDDEN qlow_status qlow__qopts_geometry(const qlow__qopts *o, int64_t rows, int64_t cols, qlow__qresult *qr);

/* Scratch bytes for quantizing a result of geometry qr with `threads` threads. */
QLOW_HIDDEN qlow_status qlow__quantize_scratch_bytes(const qlow__qresult *qr, int32_t threads, size_t *bytes);

/* Checks the weights and importance of a quantization: finite, |w| <= QLOW__QUANT_MAX_ABS (else
 * QLOW_E_NUMERIC), importance finite and >= 0 (else QLOW_E_NONFINITE / QLOW_E_INVALID_ARG). */
QLOW_HIDDEN qlow_status qlow__quantize_check_inputs(const qlow_view *W, const float *importance);

/* Quantize validated W into qr (geometry from qlow__qopts_geometry, planes carved). scratch holds
 * qlow__quantize_scratch_bytes(qr, threads) bytes, 64-byte aligned. */
QLOW_HIDDEN void qlow__quantize_run(const qlow__qopts *o, const qlow_view *W, const float *importance,
                                    int32_t threads, qlow__qresult *qr, void *scratch);

/* M161 reference construction: salient columns (col_mask) get per-row 4-bit asymmetric RTN (weighted
 * range search when `range` is non-NULL, else min/max over the salient columns), the rest per-row
 * binary on w / r2 with weights imp * r2^2, r2 = fp16(col_scale) (col_scale NULL = no r2 plane).
 * qr must be an M161 result (qlow__qresult_create_m161). scratch: 4 * cols floats. */
QLOW_HIDDEN void qlow__quantize_m161(const qlow_view *W, const float *importance, const float *col_scale,
                                     const qlow__range_opts *range, int32_t binary_optimal, qlow__qresult *qr,
                                     void *scratch);

#endif
