/* view.c - tensor view init and validation. */
#include "internal.h"

size_t qlow_sizeof_view(void) { return sizeof(qlow_view); }

size_t qlow__dtype_size(int32_t dtype)
{
    switch (dtype) {
    case QLOW_DTYPE_F32: return 4;
    case QLOW_DTYPE_F16: return 2;
    case QLOW_DTYPE_BF16: return 2;
    case QLOW_DTYPE_I8: return 1;
    case QLOW_DTYPE_U8: return 1;
    case QLOW_DTYPE_I32: return 4;
    case QLOW_DTYPE_F64: return 8;
    default: return 0;
    }
}

qlow_status qlow__matrix_count(int64_t rows, int64_t cols, size_t *count)
{
    if (rows < 0 || cols < 0) return QLOW_E_SHAPE;
    if ((uint64_t)rows > SIZE_MAX || (uint64_t)cols > SIZE_MAX) return QLOW_E_OVERFLOW;
    return qlow__mul_size((size_t)rows, (size_t)cols, count);
}

qlow_status qlow_view_init(qlow_view *view, qlow_dtype dtype, int32_t ndim, const int64_t *shape, void *data)
{
    if (!view || !shape) return QLOW_E_NULL_POINTER;
    size_t es = qlow__dtype_size(dtype);
    if (es == 0) return QLOW_E_DTYPE;
    if (ndim < 1 || ndim > QLOW_VIEW_MAX_DIMS) return QLOW_E_SHAPE;
    for (int32_t d = 0; d < ndim; d++)
        if (shape[d] < 0) return QLOW_E_SHAPE;
    qlow_view v;
    memset(&v, 0, sizeof(v));
    v.struct_size = (uint32_t)sizeof(qlow_view);
    v.dtype = dtype;
    v.ndim = ndim;
    v.data = data;
    size_t stride = es;
    for (int32_t d = QLOW_VIEW_MAX_DIMS - 1; d >= 0; d--) {
        if (d >= ndim) {
            v.shape[d] = 1;
            v.stride_bytes[d] = 0;
            continue;
        }
        v.shape[d] = shape[d];
        if (stride > (size_t)INT64_MAX) return QLOW_E_OVERFLOW;
        v.stride_bytes[d] = (int64_t)stride;
        QLOW_TRY(qlow__mul_size(stride, (size_t)shape[d], &stride));
    }
    *view = v;
    return QLOW_OK;
}

qlow_status qlow_view_init_2d(qlow_view *view, qlow_dtype dtype, int64_t rows, int64_t cols, void *data)
{
    int64_t shape[2] = {rows, cols};
    return qlow_view_init(view, dtype, 2, shape, data);
}

qlow_status qlow__view_check(const qlow_view *v, unsigned dtype_mask, int32_t want_ndim)
{
    if (!v) return QLOW_E_NULL_POINTER;
    if (v->struct_size != sizeof(qlow_view)) return QLOW_E_STRUCT_SIZE;
    if (v->flags != 0 || v->reserved[0] != 0 || v->reserved[1] != 0) return QLOW_E_INVALID_ARG;
    size_t es = qlow__dtype_size(v->dtype);
    if (es == 0 || v->dtype < 0 || v->dtype > 31 || !(dtype_mask & QLOW__DT(v->dtype))) return QLOW_E_DTYPE;
    if (v->ndim < 1 || v->ndim > QLOW_VIEW_MAX_DIMS) return QLOW_E_SHAPE;
    if (want_ndim && v->ndim != want_ndim) return QLOW_E_SHAPE;
    size_t count = 1;
    int empty = 0;
    for (int32_t d = 0; d < v->ndim; d++) {
        if (v->shape[d] < 0) return QLOW_E_SHAPE;
        if (v->shape[d] == 0) empty = 1;
        if ((uint64_t)v->shape[d] > SIZE_MAX) return QLOW_E_OVERFLOW;
        QLOW_TRY(qlow__mul_size(count, (size_t)v->shape[d], &count));
        int64_t s = v->stride_bytes[d];
        if (s % (int64_t)es != 0) return QLOW_E_ALIGNMENT;
    }
    QLOW_TRY(qlow__mul_size(count, es, &count));
    if (empty) return QLOW_OK;
    if (!v->data) return QLOW_E_NULL_POINTER;
    if (((uintptr_t)v->data % es) != 0) return QLOW_E_ALIGNMENT;
    /* The addressed span must be representable: sum of (extent-1)*|stride| without overflow. */
    uint64_t span = 0;
    for (int32_t d = 0; d < v->ndim; d++) {
        uint64_t s = (uint64_t)(v->stride_bytes[d] < 0 ? -v->stride_bytes[d] : v->stride_bytes[d]);
        uint64_t e = (uint64_t)(v->shape[d] - 1);
        if (s != 0 && e > (UINT64_MAX / 2) / s) return QLOW_E_OVERFLOW;
        span += e * s;
        if (span > (uint64_t)INT64_MAX) return QLOW_E_OVERFLOW;
    }
    return QLOW_OK;
}

int qlow__view_is_contiguous(const qlow_view *v)
{
    size_t es = qlow__dtype_size(v->dtype);
    int64_t expect = (int64_t)es;
    for (int32_t d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->stride_bytes[d] != expect) return 0;
        expect *= v->shape[d];
    }
    return 1;
}

void qlow__view_read_row_f32(const qlow_view *v, int64_t r, float *dst)
{
    const unsigned char *row = (const unsigned char *)v->data + r * v->stride_bytes[0];
    int64_t cols = v->ndim >= 2 ? v->shape[1] : v->shape[0];
    int64_t cs = v->ndim >= 2 ? v->stride_bytes[1] : v->stride_bytes[0];
    if (v->ndim == 1) row = (const unsigned char *)v->data;
    switch (v->dtype) {
    case QLOW_DTYPE_F32:
        if (cs == 4) {
            memcpy(dst, row, (size_t)cols * 4);
        } else {
            for (int64_t j = 0; j < cols; j++) memcpy(&dst[j], row + j * cs, 4);
        }
        break;
    case QLOW_DTYPE_F16:
        for (int64_t j = 0; j < cols; j++) {
            uint16_t h;
            memcpy(&h, row + j * cs, 2);
            dst[j] = qlow_fp16_to_fp32(h);
        }
        break;
    case QLOW_DTYPE_BF16:
        for (int64_t j = 0; j < cols; j++) {
            uint16_t h;
            memcpy(&h, row + j * cs, 2);
            dst[j] = qlow_bf16_to_fp32(h);
        }
        break;
    default:
        for (int64_t j = 0; j < cols; j++) dst[j] = 0.0f;
        break;
    }
}

int qlow__is_finite_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return (u & 0x7f800000u) != 0x7f800000u;
}

qlow_status qlow__view_check_finite(const qlow_view *v)
{
    int64_t rows = v->ndim >= 2 ? v->shape[0] : 1;
    int64_t cols = v->ndim >= 2 ? v->shape[1] : v->shape[0];
    int64_t cs = v->ndim >= 2 ? v->stride_bytes[1] : v->stride_bytes[0];
    for (int64_t i = 0; i < rows; i++) {
        const unsigned char *row = (const unsigned char *)v->data + (v->ndim >= 2 ? i * v->stride_bytes[0] : 0);
        for (int64_t j = 0; j < cols; j++) {
            const unsigned char *p = row + j * cs;
            int finite;
            if (v->dtype == QLOW_DTYPE_F32) {
                float f;
                memcpy(&f, p, 4);
                finite = qlow__is_finite_f32(f);
            } else if (v->dtype == QLOW_DTYPE_F16) {
                uint16_t h;
                memcpy(&h, p, 2);
                finite = (h & 0x7c00u) != 0x7c00u;
            } else if (v->dtype == QLOW_DTYPE_BF16) {
                uint16_t h;
                memcpy(&h, p, 2);
                finite = (h & 0x7f80u) != 0x7f80u;
            } else {
                finite = 1;
            }
            if (!finite) return QLOW_E_NONFINITE;
        }
    }
    return QLOW_OK;
}
