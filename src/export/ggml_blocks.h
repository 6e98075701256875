/* ggml_blocks.h - ggml block types: traits, the per-block quantizers (libqlow's weighted search and
 * ggml's published rule), byte packing and decoding. Layouts: docs/export.md. */
#ifndef QLOW_EXPORT_GGML_BLOCKS_H
#define QLOW_EXPORT_GGML_BLOCKS_H

#include "core/internal.h"

#define QLOW__GGML_MAX_BLOCK 256

typedef struct qlow__ggml_traits {
    int32_t type;
    const char *name;
    int32_t block; /* elements per block */
    int32_t bytes; /* bytes per block */
} qlow__ggml_traits;

/* NULL for types this library cannot write. */
QLOW_HIDDEN const qlow__ggml_traits *qlow__ggml_traits_find(int32_t type);

/* Row bytes of n elements (n a multiple of the block). */
QLOW_HIDDEN size_t qlow__ggml_row_bytes(const qlow__ggml_traits *t, int64_t n);

/* Quantize one block x[block] with importance imp (NULL = ones) into dst[bytes]; deq (may be NULL)
 * receives exactly the values ggml's decoder reproduces from dst. search 0 = ggml's rule. Inputs are
 * validated by the caller (finite, |x| <= 65504, imp >= 0). Returns the weighted squared error. */
QLOW_HIDDEN double qlow__ggml_quantize_block(const qlow__ggml_traits *t, const float *x, const float *imp,
                                             int32_t search, int32_t steps, uint8_t *dst, float *deq);

/* Decode one block. */
QLOW_HIDDEN void qlow__ggml_decode_block(const qlow__ggml_traits *t, const uint8_t *src, float *out);

/* Validate a row for encoding: finite values (|x| <= 65504 unless F32), importance finite and >= 0. */
QLOW_HIDDEN qlow_status qlow__ggml_check_row(const qlow__ggml_traits *t, const float *x, int64_t n,
                                             const float *importance);

/* Encode a validated row (n a multiple of the block); deq (may be NULL) gets the decoded values and err
 * (may be NULL) the weighted squared error. */
QLOW_HIDDEN void qlow__ggml_encode_row(const qlow__ggml_traits *t, const float *x, int64_t n,
                                       const float *importance, int32_t search, int32_t steps, uint8_t *dst,
                                       float *deq, double *err);

static inline int qlow__host_le(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* k-quants (block 256): same contracts as qlow__ggml_quantize_block / qlow__ggml_decode_block. */
QLOW_HIDDEN double qlow__ggml_kquant_block(int32_t type, const float *x, const float *imp, int32_t search,
                                           int32_t steps, uint8_t *dst, float *deq);
QLOW_HIDDEN void qlow__ggml_kquant_decode(int32_t type, const uint8_t *src, float *out);

/* The 16 IQ4_NL levels (ggml's kvalues table). */
QLOW_HIDDEN extern const int8_t qlow__iq4nl_levels[16];

#endif
