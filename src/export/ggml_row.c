/* ggml_row.c - public row entry points over the block quantizers and decoders. */
#include <math.h>
#include <string.h>

#include "export/ggml_blocks.h"

/* Largest |x| a block type with fp16 scales can hold without its scale overflowing. */
#define FP16_MAX 65504.0f

qlow_status qlow__ggml_check_row(const qlow__ggml_traits *t, const float *x, int64_t n, const float *importance)
{
    for (int64_t j = 0; j < n; j++) {
        if (!qlow__is_finite_f32(x[j])) return QLOW_E_NONFINITE;
        if (t->type != QLOW_GGML_F32 && fabsf(x[j]) > FP16_MAX) return QLOW_E_NUMERIC;
    }
    if (importance)
        for (int64_t j = 0; j < n; j++) {
            if (!qlow__is_finite_f32(importance[j])) return QLOW_E_NONFINITE;
            if (importance[j] < 0.0f) return QLOW_E_INVALID_ARG;
        }
    return QLOW_OK;
}

void qlow__ggml_encode_row(const qlow__ggml_traits *t, const float *x, int64_t n, const float *importance,
                           int32_t search, int32_t steps, uint8_t *dst, float *deq, double *err)
{
    double e = 0.0;
    if (t->type == QLOW_GGML_F32) {
        memcpy(dst, x, (size_t)n * 4); /* little-endian hosts only; the writers check */
        if (deq) memcpy(deq, x, (size_t)n * 4);
    } else if (t->type == QLOW_GGML_F16) {
        for (int64_t j = 0; j < n; j++) {
            uint16_t h = qlow_fp32_to_fp16(x[j]);
            dst[2 * j] = (uint8_t)(h & 0xff);
            dst[2 * j + 1] = (uint8_t)(h >> 8);
            float v = qlow_fp16_to_fp32(h);
            double diff = (double)x[j] - v;
            e += (importance ? (double)importance[j] : 1.0) * diff * diff;
            if (deq) deq[j] = v;
        }
    } else {
        for (int64_t b = 0; b < n / t->block; b++)
            e += qlow__ggml_quantize_block(t, x + b * t->block, importance ? importance + b * t->block : NULL,
                                           search, steps, dst + b * t->bytes, deq ? deq + b * t->block : NULL);
    }
    if (err) *err = e;
}

qlow_status qlow_ggml_quantize_row(int32_t type, const float *x, int64_t n, const float *importance,
                                   int32_t search, int32_t steps, void *dst, size_t dst_bytes)
{
    if (!x || !dst) return QLOW_E_NULL_POINTER;
    const qlow__ggml_traits *t = qlow__ggml_traits_find(type);
    if (!t) return QLOW_E_UNSUPPORTED;
    if (n < 1 || n % t->block != 0) return QLOW_E_SHAPE;
    if ((search != 0 && search != 1) || steps < 0 || (steps != 0 && (steps < 4 || steps > 1000)))
        return QLOW_E_INVALID_ARG;
    if (n > (int64_t)(SIZE_MAX / 4)) return QLOW_E_OVERFLOW;
    if (dst_bytes < qlow__ggml_row_bytes(t, n)) return QLOW_E_BUFFER_TOO_SMALL;
    if (t->type == QLOW_GGML_F32 && !qlow__host_le()) return QLOW_E_UNSUPPORTED;
    qlow_status s = qlow__ggml_check_row(t, x, n, importance);
    if (s) return s;
    qlow__ggml_encode_row(t, x, n, importance, search, steps ? steps : 64, (uint8_t *)dst, NULL, NULL);
    return QLOW_OK;
}

qlow_status qlow_ggml_dequantize_row(int32_t type, const void *src, size_t src_bytes, int64_t n, float *out)
{
    if (!src || !out) return QLOW_E_NULL_POINTER;
    const qlow__ggml_traits *t = qlow__ggml_traits_find(type);
    if (!t) return QLOW_E_UNSUPPORTED;
    if (n < 1 || n % t->block != 0) return QLOW_E_SHAPE;
    if (n > (int64_t)(SIZE_MAX / 4)) return QLOW_E_OVERFLOW;
    if (src_bytes < qlow__ggml_row_bytes(t, n)) return QLOW_E_TRUNCATED;
    const uint8_t *p = (const uint8_t *)src;
    if (t->type == QLOW_GGML_F32) {
        for (int64_t j = 0; j < n; j++) {
            uint32_t u = (uint32_t)p[4 * j] | (uint32_t)p[4 * j + 1] << 8 | (uint32_t)p[4 * j + 2] << 16 |
                         (uint32_t)p[4 * j + 3] << 24;
            memcpy(&out[j], &u, 4);
        }
    } else if (t->type == QLOW_GGML_F16) {
        for (int64_t j = 0; j < n; j++) out[j] = qlow_fp16_to_fp32((uint16_t)(p[2 * j] | (unsigned)p[2 * j + 1] << 8));
    } else {
        for (int64_t b = 0; b < n / t->block; b++) qlow__ggml_decode_block(t, p + b * t->bytes, out + b * t->block);
    }
    return QLOW_OK;
}
