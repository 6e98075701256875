/* export_source.c - tensors and configuration for the exports, from a qlow_model or a .qlow file. */
#include <string.h>

#include "export/export_internal.h"

static const char *const model_meta_keys[] = {
    NULL,           "model.dim",        "model.hidden_dim", "model.n_layers",
    "model.n_heads", "model.n_kv_heads", "model.vocab_size", "model.seq_len",
    "model.shared_classifier", "model.norm_eps", "model.rope_theta", NULL,
    NULL,           "model.qk_hf_order"};

qlow_status qlow__xsrc_info(const qlow__xsrc *src, const char *name, qlow__xtensor *t)
{
    memset(t, 0, sizeof *t);
    size_t idx;
    qlow_status st;
    int32_t kind = QLOW_QFILE_DENSE;
    if (src->model) {
        if (qlow_model_tensor_find(src->model, name, &idx) != QLOW_OK) return QLOW_OK;
        st = qlow_model_tensor_info(src->model, idx, NULL, NULL, &t->ndim, t->shape);
    } else {
        if (qlow_qfile_tensor_find(src->qfile, name, &idx) != QLOW_OK) return QLOW_OK;
        st = qlow_qfile_tensor_info(src->qfile, idx, NULL, &kind, NULL, NULL, &t->ndim, t->shape);
    }
    if (st) return st;
    t->present = 1;
    t->packed = kind == QLOW_QFILE_PACKED;
    size_t count = 1;
    for (int d = 0; d < t->ndim; d++)
        if ((st = qlow__mul_size(count, (size_t)t->shape[d], &count))) return st;
    t->count = count;
    return QLOW_OK;
}

qlow_status qlow__qfile_dequantize(qlow_ctx *ctx, const qlow_qfile *f, size_t index, float *dst, size_t count)
{
    const void *data;
    size_t size;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    qlow_status st = qlow_qfile_tensor_data(f, index, &data, &size);
    if (!st) st = qlow_qfile_tensor_info(f, index, NULL, NULL, NULL, NULL, NULL, shape);
    if (st) return st;
    qlow_qmatrix *qm = NULL;
    st = qlow_qmatrix_wrap(ctx, data, size, &qm);
    if (st == QLOW_E_TRUNCATED || st == QLOW_E_CHECKSUM || st == QLOW_E_VERSION_MISMATCH) st = QLOW_E_FORMAT;
    if (st) return st;
    int64_t rows, cols;
    st = qlow_qmatrix_shape(qm, &rows, &cols);
    if (!st && (rows != shape[0] || cols != shape[1])) st = QLOW_E_FORMAT;
    if (!st) st = qlow_qmatrix_dequantize(qm, 0, rows, dst, count);
    qlow_qmatrix_destroy(qm);
    return st;
}

static float le_f32(const unsigned char *p)
{
    uint32_t u = qlow__ld32(p);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

qlow_status qlow__xsrc_read(const qlow__xsrc *src, const char *name, float *dst, size_t count)
{
    size_t idx;
    if (src->model) {
        qlow_status st = qlow_model_tensor_find(src->model, name, &idx);
        return st ? st : qlow_model_tensor_read_f32(src->model, idx, dst, count);
    }
    qlow_status st = qlow_qfile_tensor_find(src->qfile, name, &idx);
    int32_t kind, type;
    if (!st) st = qlow_qfile_tensor_info(src->qfile, idx, NULL, &kind, &type, NULL, NULL, NULL);
    if (st) return st;
    if (kind == QLOW_QFILE_PACKED) return qlow__qfile_dequantize(src->ctx, src->qfile, idx, dst, count);
    const void *data;
    size_t size;
    if ((st = qlow_qfile_tensor_data(src->qfile, idx, &data, &size))) return st;
    const unsigned char *p = (const unsigned char *)data;
    size_t es = type == QLOW_DTYPE_F32 ? 4 : (type == QLOW_DTYPE_F16 || type == QLOW_DTYPE_BF16) ? 2 : 0;
    if (!es) return QLOW_E_DTYPE;
    if (size / es < count) return QLOW_E_FORMAT;
    for (size_t i = 0; i < count; i++) {
        if (type == QLOW_DTYPE_F32)
            dst[i] = le_f32(p + 4 * i);
        else if (type == QLOW_DTYPE_F16)
            dst[i] = qlow_fp16_to_fp32(qlow__ld16(p + 2 * i));
        else
            dst[i] = qlow_bf16_to_fp32(qlow__ld16(p + 2 * i));
    }
    return QLOW_OK;
}

qlow_status qlow__xsrc_int(const qlow__xsrc *src, int32_t key, int64_t *v)
{
    if (src->model) return qlow_model_get_int(src->model, key, v);
    if (key < 0 || key >= (int32_t)(sizeof model_meta_keys / sizeof model_meta_keys[0]) || !model_meta_keys[key])
        return QLOW_E_NOT_FOUND;
    return qlow_qfile_meta_get_int(src->qfile, model_meta_keys[key], v) ? QLOW_E_NOT_FOUND : QLOW_OK;
}

qlow_status qlow__xsrc_float(const qlow__xsrc *src, int32_t key, double *v)
{
    if (src->model) return qlow_model_get_float(src->model, key, v);
    if (key < 0 || key >= (int32_t)(sizeof model_meta_keys / sizeof model_meta_keys[0]) || !model_meta_keys[key])
        return QLOW_E_NOT_FOUND;
    return qlow_qfile_meta_get_float(src->qfile, model_meta_keys[key], v) ? QLOW_E_NOT_FOUND : QLOW_OK;
}
