/* qresult.h - the unpacked result of every quantizer: one code per weight plus the (already fp16-rounded)
 * scales, zeros, alphas and mus. Packing (src/formats) turns it into a qlow_qmatrix; dequantizing it here
 * gives exactly what the packed matrix dequantizes to.
 *
 * Kinds and the meaning of `codes` (rows x code_cols bytes, row-major, one byte per weight):
 *   RTN      code q in 0..2^bits-1. Asymmetric: w = scale*q + zero. Symmetric: w = scale*(q - 2^(bits-1)),
 *            q in 1..2^bits-1. scale/zero are [n_row_groups x n_col_groups]; a group is group_rows
 *            consecutive rows x group_cols consecutive columns (the last ones may be shorter).
 *   BINARY   1 = +1, 0 = -1: w = (alpha_i*s + mu_i) * col_scale_j (col_scale NULL means 1).
 *   BINARY2  bit 0 = s1, bit 1 = s2 (set = +1): w = alpha_i*s1 + alpha2_i*s2 + mu_i.
 *   TERNARY  t + 1 in {0, 1, 2}: w = alpha_i * t.
 *   M161     PTQ1.61 mixed. col_mask[cols] (1 = salient). Salient columns, in increasing order, have
 *            4-bit codes sal_codes[rows x n_salient] with w = sal_scale_i*q + sal_zero_i. The other
 *            cols - n_salient columns, in increasing order, are a BINARY part: codes[rows x code_cols],
 *            alpha, mu, and col_scale[code_cols] when has_col_scale.
 *
 * Building an M161 result by hand (what the PTQ1.61 pipeline does):
 *     qlow__qresult *qr;
 *     QLOW_TRY(qlow__qresult_create_m161(alloc, rows, cols, mask, has_r2, &qr));
 *     ... fill qr->sal_codes / sal_scale / sal_zero (fp16 bits), qr->codes (0/1), qr->alpha, qr->mu
 *         (fp16 bits, r1 folded in) and qr->col_scale (fp16 r2 of the non-salient columns) ...
 *     status = qlow__qmatrix_from_qresult(alloc, qr, &qm);
 *     qlow__qresult_destroy(qr);
 * or start from qlow__quantize_m161() (RTN salient part + closed-form binary rest) and refine the
 * fp16 alpha/mu/col_scale values in place. */
#ifndef QLOW_QUANT_QRESULT_H
#define QLOW_QUANT_QRESULT_H

#include "core/internal.h"

enum {
    QLOW__QK_RTN = 1,
    QLOW__QK_BINARY = 2,
    QLOW__QK_BINARY2 = 3,
    QLOW__QK_TERNARY = 4,
    QLOW__QK_M161 = 5
};

/* Weights whose magnitude exceeds this cannot be quantized: every fp16 scale/alpha/mu derived from them
 * must stay finite. */
#define QLOW__QUANT_MAX_ABS 16384.0f

typedef struct qlow__qresult {
    int32_t kind;
    int32_t bits;          /* RTN code bits (2..8); M161 salient bits (4); else 1 or 2 */
    int32_t symmetric;     /* RTN only */
    int32_t has_col_scale; /* BINARY / M161 */
    int32_t ternary_format;/* TERNARY: the qlow_format to pack into (T2 or T158) */
    int32_t reserved0;
    int64_t rows, cols;
    int64_t group_cols;    /* RTN: multiple of 32, or round_up(cols, 32) for whole rows */
    int64_t group_rows;    /* RTN: >= 1 */
    int64_t n_row_groups, n_col_groups;
    int64_t n_salient;     /* M161 */
    int64_t code_cols;     /* columns in `codes`: cols, or cols - n_salient for M161 */

    uint8_t *codes;
    uint16_t *scale, *zero;      /* RTN, fp16 bits; zero NULL when symmetric */
    uint16_t *alpha, *alpha2, *mu;/* per row, fp16 bits */
    uint16_t *col_scale;         /* code_cols entries, fp16 bits, or NULL */
    uint8_t *col_mask;           /* M161: cols bytes, 0/1 */
    uint8_t *sal_codes;          /* M161: rows x n_salient */
    uint16_t *sal_scale, *sal_zero;

    qlow_allocator alloc;        /* set when created by qlow__qresult_create*; else unused */
    int32_t owned;
} qlow__qresult;

/* Fill the geometry of an RTN result (group_cols 0 or >= cols means whole rows). QLOW_E_SHAPE for
 * non-positive shapes, QLOW_E_PARAM for a group_cols that is not a multiple of 32 or bits out of 2..8. */
QLOW_HIDDEN qlow_status qlow__qresult_init_rtn(qlow__qresult *qr, int64_t rows, int64_t cols, int32_t bits,
                                               int32_t symmetric, int64_t group_cols, int64_t group_rows);
/* Geometry of the per-row kinds (BINARY, BINARY2, TERNARY). */
QLOW_HIDDEN qlow_status qlow__qresult_init_rows(qlow__qresult *qr, int32_t kind, int64_t rows, int64_t cols);
/* Geometry of an M161 result from a 0/1 column mask (cols bytes). */
QLOW_HIDDEN qlow_status qlow__qresult_init_m161(qlow__qresult *qr, int64_t rows, int64_t cols,
                                                const uint8_t *col_mask, int32_t has_col_scale);

/* Point the planes of an initialised result into `w` (dry run when w->base is NULL: only counts). The
 * M161 column mask is copied from `col_mask` when non-NULL and carving succeeded. */
QLOW_HIDDEN void qlow__qresult_carve(qlow__qresult *qr, qlow__wksp *w, const uint8_t *col_mask);
/* Bytes qlow__qresult_carve needs. */
QLOW_HIDDEN qlow_status qlow__qresult_bytes(const qlow__qresult *qr, size_t *bytes);

/* Allocate one block holding the struct and every plane (zeroed). */
QLOW_HIDDEN qlow_status qlow__qresult_create(const qlow_allocator *alloc, const qlow__qresult *geometry,
                                             qlow__qresult **out);
QLOW_HIDDEN qlow_status qlow__qresult_create_m161(const qlow_allocator *alloc, int64_t rows, int64_t cols,
                                                  const uint8_t *col_mask, int32_t has_col_scale,
                                                  qlow__qresult **out);
QLOW_HIDDEN void qlow__qresult_destroy(qlow__qresult *qr);

/* Dequantize row `row` into out[cols]. */
QLOW_HIDDEN void qlow__qresult_dequantize_row(const qlow__qresult *qr, int64_t row, float *out);

/* The qlow_format this result packs into (0 if none: RTN with 5..7 bits). Bits per weight come from the
 * format traits (src/formats/traits.h), the one place where bits are counted. */
QLOW_HIDDEN int32_t qlow__qresult_format(const qlow__qresult *qr);

#endif
