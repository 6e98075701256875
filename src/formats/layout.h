/* layout.h - the in-memory description of a packed matrix: the contract between quantizers (which fill
 * it through src/formats/pack), kernels (which only read it) and io (which maps it from a file).
 * Byte layouts are specified in docs/formats.md; keep the two in step. */
#ifndef QLOW_FORMATS_LAYOUT_H
#define QLOW_FORMATS_LAYOUT_H

#include "core/internal.h"

/* Every code plane is organized in blocks of 32 consecutive input columns; rows are padded with zero
 * codes up to cols_pad = round_up(cols, 32). Kernels must never read x beyond cols. */
#define QLOW__BLOCK 32

typedef struct qlow__gemm_prep qlow__gemm_prep;

typedef struct qlow__packed {
    int32_t format;     /* qlow_format */
    int32_t bits;       /* code bits: 8/4/3/2 for Q formats, 1 for B1/B2, 2 for T2, 0 otherwise */
    int32_t symmetric;  /* Q formats: 1 = no stored min, w = scale * (q - 2^(bits-1)), q in 1..2^bits-1 */
    int32_t reserved0;
    int64_t rows, cols; /* logical shape: y[rows] = W[rows x cols] x[cols] */
    int64_t cols_pad;   /* round_up(cols, 32); for M161 round_up(cols - n_salient, 32), the binary part */
    int64_t group_cols; /* Q formats: columns per group, a multiple of 32, or cols_pad for whole rows; 0 else */
    int64_t group_rows; /* Q formats: consecutive rows sharing one group (Q-BERT row groups), >= 1; 0 else */
    size_t row_bytes;   /* bytes per row in `codes` */

    /* Q formats ----------------------------------------------------------------------------------
     * codes: rows x row_bytes. Q8: 1 byte per weight (unsigned code). Q4: per 32-block 16 bytes, byte j
     * holds column j (low nibble) and column j+16 (high nibble). Q2 and the low plane of Q3: per 32-block
     * 8 bytes, byte j holds columns j, j+8, j+16, j+24 at bit offsets 0, 2, 4, 6. Q3 high plane
     * (codes_hi, rows x cols_pad/8 bytes): per 32-block one little-endian uint32, bit j = bit 2 of
     * column j's code.
     * scale/zero: fp16, [ceil(rows/group_rows) x ceil(cols_pad/group_cols)] row-major.
     * w = scale * q + zero (asymmetric), or scale * (q - 2^(bits-1)) (symmetric; zero is NULL). */
    const uint8_t *codes;
    const uint8_t *codes_hi;
    const uint16_t *scale;
    const uint16_t *zero;

    /* B1 / B2 / T158 / T2 -------------------------------------------------------------------------
     * B1: codes = sign plane, per 32-block one little-endian uint32, bit j = 1 means s = +1.
     *     w_ij = (alpha_i * s_ij + mu_i) * r2_j   (r2 = col_scale, NULL means all ones).
     * B2: codes = first sign plane (alpha), codes2 = second sign plane (alpha2):
     *     w_ij = alpha_i * s1_ij + alpha2_i * s2_ij + mu_i.
     * T2: codes as Q2 layout with code 0 = -1, 1 = 0, 2 = +1 (3 invalid); w = alpha_i * t_ij. Padding
 *     columns of T2/T158 hold t = 0.
     * T158: per row, groups of 5 columns in one byte b = sum_k (t_k + 1) * 3^k, k = 0..4; row_bytes =
     *     ceil(cols_pad / 5); w = alpha_i * t_ij.
     * alpha, alpha2, mu: fp16 per row; col_scale: fp16 per column (cols entries). */
    const uint8_t *codes2;
    const uint16_t *alpha;
    const uint16_t *alpha2;
    const uint16_t *mu;
    const uint16_t *col_scale;

    /* M161 ------------------------------------------------------------------------------------------
     * col_mask: ceil(cols/8) bytes, bit (j & 7) of byte j/8 set = column j is salient.
     * The salient part is a dense 4-bit asymmetric matrix over the n_salient salient columns in
     * increasing column order (Q4 layout, rows x sal_row_bytes, one fp16 scale + min per row:
     * sal_scale / sal_zero). The rest is a B1 matrix over the cols - n_salient other columns in
     * increasing order (codes, alpha, mu, col_scale with cols - n_salient entries, row_bytes).
     * y = W_S x_S + W_U x_U: kernels gather x into the two parts once per call. */
    const uint8_t *col_mask;
    int64_t n_salient;
    const uint8_t *sal_codes;
    size_t sal_row_bytes;
    const uint16_t *sal_scale;
    const uint16_t *sal_zero;
} qlow__packed;

/* The qmatrix object: a packed description plus the memory it owns. Every plane lives inside one
 * serialized image (`blob`, blob_bytes long: a 128-byte header then the planes, docs/formats.md), which is
 * either owned (`buffer` == blob, allocated through `alloc`) or caller memory (buffer NULL: wrapped
 * mmap'ed file, flash, workspace). The handle itself comes from `alloc`, or from caller memory when
 * static_handle is set (qlow_qmatrix_wrap_static). Immutable after construction. */
struct qlow_qmatrix {
    uint32_t magic;
    int32_t owns_buffer;
    qlow_allocator alloc;
    void *buffer;          /* the single block holding every plane when owned, else NULL */
    size_t buffer_bytes;
    qlow__packed p;
    int32_t *perm;         /* M161: salient columns first, then the others (cols entries); it sits in
                            * the handle's own allocation right after the struct. NULL otherwise. */
    const uint8_t *blob;   /* the serialized image the planes of p point into */
    size_t blob_bytes;
    size_t payload_bytes;  /* bytes of all planes (what bits per weight counts) */
    int32_t static_handle; /* 1: the handle lives in caller memory; destroy only releases the buffer */
    int32_t reserved0;
    /* Kernel tables computed once at construction (kernels.h), in the handle's own memory after perm;
     * NULL when the kernels cannot run the matrix. */
    const qlow__gemm_prep *prep;
};
#define QLOW__QMATRIX_MAGIC 0x716d6174u /* "qmat" */

#endif
