/* model.c - the qlow_model handle: open/close, configuration by key, tensor lookup and access. */
#include "io/model_internal.h"

static int key_is_float(int32_t key) { return key == QLOW_MODEL_NORM_EPS || key == QLOW_MODEL_ROPE_THETA; }
static int key_valid(int32_t key) { return key >= 1 && key <= QLOW_MODEL_QK_HF_ORDER; }

void qlow__model_set(qlow_model *m, int32_t key, int64_t iv, double fv)
{
    m->ival[key] = iv;
    m->fval[key] = fv;
    m->known |= 1u << key;
}

qlow_status qlow__model_reserve(qlow_model *m, size_t n_tensors, size_t n_meta, size_t arena_bytes)
{
    size_t t_bytes, i_bytes, m_bytes, total;
    QLOW_TRY(qlow__mul_size(n_tensors, sizeof(qlow__mtensor), &t_bytes));
    QLOW_TRY(qlow__mul_size(n_tensors, sizeof(uint32_t), &i_bytes));
    QLOW_TRY(qlow__mul_size(n_meta, sizeof(qlow__mmeta), &m_bytes));
    if (n_tensors > UINT32_MAX) return QLOW_E_OVERFLOW;
    i_bytes = qlow__align_up(i_bytes, 8);
    QLOW_TRY(qlow__add_size(t_bytes, i_bytes, &total));
    QLOW_TRY(qlow__add_size(total, m_bytes, &total));
    QLOW_TRY(qlow__add_size(total, arena_bytes, &total));
    unsigned char *b = (unsigned char *)qlow__alloc(&m->alloc, total, 8);
    if (!b) return QLOW_E_NO_MEMORY;
    m->block = b;
    m->tensors = (qlow__mtensor *)(void *)b;
    m->by_name = (uint32_t *)(void *)(b + t_bytes);
    m->meta = (qlow__mmeta *)(void *)(b + t_bytes + i_bytes);
    m->arena = (char *)(b + t_bytes + i_bytes + m_bytes);
    m->cap_tensors = n_tensors;
    m->cap_meta = n_meta;
    m->arena_cap = arena_bytes;
    m->arena_used = 0;
    return QLOW_OK;
}

char *qlow__model_str(qlow_model *m, const char *s, size_t n)
{
    if (n >= m->arena_cap - m->arena_used || m->arena_used >= m->arena_cap) return NULL;
    char *d = m->arena + m->arena_used;
    memcpy(d, s, n);
    d[n] = '\0';
    m->arena_used += n + 1;
    return d;
}

qlow_status qlow__model_add_tensor(qlow_model *m, const char *name, size_t name_len, int32_t dtype,
                                   int32_t ndim, const int64_t *shape, size_t offset, size_t bytes)
{
    if (m->n_tensors >= m->cap_tensors) return QLOW_E_INTERNAL;
    if (ndim < 1 || ndim > QLOW_VIEW_MAX_DIMS) return QLOW_E_UNSUPPORTED;
    size_t count = 1;
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] < 0) return QLOW_E_FORMAT;
        if ((uint64_t)shape[d] > SIZE_MAX) return QLOW_E_OVERFLOW;
        QLOW_TRY(qlow__mul_size(count, (size_t)shape[d], &count));
    }
    size_t want;
    QLOW_TRY(qlow__mul_size(count, qlow__dtype_size(dtype), &want));
    if (want != bytes) return QLOW_E_FORMAT;
    if (offset > m->map.size || bytes > m->map.size - offset) return QLOW_E_TRUNCATED;
    qlow__mtensor *t = &m->tensors[m->n_tensors];
    t->name = qlow__model_str(m, name, name_len);
    if (!t->name) return QLOW_E_INTERNAL;
    t->name_len = name_len;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int32_t d = 0; d < QLOW_VIEW_MAX_DIMS; d++) t->shape[d] = d < ndim ? shape[d] : 1;
    t->offset = offset;
    t->bytes = bytes;
    m->by_name[m->n_tensors] = (uint32_t)m->n_tensors;
    m->n_tensors++;
    return QLOW_OK;
}

static int cmp_tensor_name(const void *ctx, uint32_t a, uint32_t b)
{
    const qlow__mtensor *t = (const qlow__mtensor *)ctx;
    int c = qlow__bytes_cmp(t[a].name, t[a].name_len, t[b].name, t[b].name_len);
    return c ? c : (a < b ? -1 : a > b);
}

/* Sort the name index and reject duplicate canonical names. */
qlow_status qlow__model_index_names(qlow_model *m)
{
    qlow__sort_indices(m->by_name, m->n_tensors, cmp_tensor_name, m->tensors);
    for (size_t i = 1; i < m->n_tensors; i++) {
        const qlow__mtensor *a = &m->tensors[m->by_name[i - 1]], *b = &m->tensors[m->by_name[i]];
        if (qlow__bytes_cmp(a->name, a->name_len, b->name, b->name_len) == 0) return QLOW_E_FORMAT;
    }
    return QLOW_OK;
}

static void model_free(qlow_model *m)
{
    qlow_allocator a = m->alloc;
    qlow__file_map_close(&m->map, &a);
    if (m->block) qlow__free(&a, m->block);
    m->magic = 0;
    qlow__free(&a, m);
}

static qlow_status model_open_map(qlow__file_map *map, const qlow_params *params, const qlow_allocator *alloc,
                                  qlow_model **out)
{
    int64_t fmt = qlow__param_int(params, QLOW_PARAM_IO_MODEL_FORMAT);
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow_model *m = (qlow_model *)qlow__calloc(&a, sizeof *m, 8);
    if (!m) {
        qlow__file_map_close(map, &a);
        return QLOW_E_NO_MEMORY;
    }
    m->magic = QLOW__MODEL_MAGIC;
    m->alloc = a;
    m->map = *map;
    if (fmt == 0)
        fmt = qlow__model_is_safetensors(m->map.data, m->map.size) ? QLOW_MODEL_SOURCE_SAFETENSORS
                                                                    : QLOW_MODEL_SOURCE_LLAMA2C;
    qlow_status st = fmt == QLOW_MODEL_SOURCE_SAFETENSORS ? qlow__model_parse_safetensors(m)
                                                           : qlow__model_parse_llama2c(m);
    if (st == QLOW_OK) st = qlow__model_index_names(m);
    if (st != QLOW_OK) {
        model_free(m);
        return st;
    }
    qlow__model_set(m, QLOW_MODEL_SOURCE, fmt, 0.0);
    *out = m;
    return QLOW_OK;
}

qlow_status qlow_model_open(const char *path, const qlow_params *params, const qlow_allocator *alloc,
                            qlow_model **out)
{
    if (!path || !out) return QLOW_E_NULL_POINTER;
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow__file_map map;
    QLOW_TRY(qlow__file_map_open(path, (int)qlow__param_int(params, QLOW_PARAM_IO_USE_MMAP), &a, &map));
    return model_open_map(&map, params, &a, out);
}

qlow_status qlow_model_open_buffer(const void *data, size_t size, const qlow_params *params,
                                   const qlow_allocator *alloc, qlow_model **out)
{
    if (!out || (!data && size)) return QLOW_E_NULL_POINTER;
    qlow__file_map map;
    map.data = data ? (const unsigned char *)data : (const unsigned char *)"";
    map.size = size;
    map.kind = 0;
    map.base = NULL;
    map.base_size = 0;
    return model_open_map(&map, params, alloc, out);
}

void qlow_model_close(qlow_model *model)
{
    if (model && model->magic == QLOW__MODEL_MAGIC) model_free(model);
}

qlow_status qlow_model_get_int(const qlow_model *model, int32_t key, int64_t *value)
{
    if (!model || !value) return QLOW_E_NULL_POINTER;
    if (!key_valid(key) || key_is_float(key)) return QLOW_E_PARAM;
    if (key == QLOW_MODEL_HEAD_DIM) {
        if (!(model->known & (1u << QLOW_MODEL_N_HEADS)) || !(model->known & (1u << QLOW_MODEL_DIM)))
            return QLOW_E_NOT_FOUND;
        *value = model->ival[QLOW_MODEL_DIM] / model->ival[QLOW_MODEL_N_HEADS];
        return QLOW_OK;
    }
    if (!(model->known & (1u << key))) return QLOW_E_NOT_FOUND;
    *value = model->ival[key];
    return QLOW_OK;
}

qlow_status qlow_model_get_float(const qlow_model *model, int32_t key, double *value)
{
    if (!model || !value) return QLOW_E_NULL_POINTER;
    if (!key_valid(key) || !key_is_float(key)) return QLOW_E_PARAM;
    if (!(model->known & (1u << key))) return QLOW_E_NOT_FOUND;
    *value = model->fval[key];
    return QLOW_OK;
}

qlow_status qlow_model_set_int(qlow_model *model, int32_t key, int64_t value)
{
    if (!model) return QLOW_E_NULL_POINTER;
    if (!key_valid(key) || key_is_float(key) || key == QLOW_MODEL_SOURCE || key == QLOW_MODEL_HEAD_DIM)
        return QLOW_E_PARAM;
    int flag = key == QLOW_MODEL_SHARED_CLASSIFIER || key == QLOW_MODEL_QK_HF_ORDER;
    if (flag ? (value != 0 && value != 1) : (value <= 0 || value > INT32_MAX)) return QLOW_E_PARAM;
    if (key == QLOW_MODEL_N_HEADS) {
        int64_t dim = (model->known & (1u << QLOW_MODEL_DIM)) ? model->ival[QLOW_MODEL_DIM] : 0;
        if (dim && dim % value) return QLOW_E_PARAM;
        qlow__model_set(model, key, value, 0.0);
        size_t wk;
        if (dim && !(model->known & (1u << QLOW_MODEL_N_KV_HEADS)) &&
            qlow_model_tensor_find(model, "layers.0.attention.wk", &wk) == QLOW_OK) {
            int64_t head_dim = dim / value, rows = model->tensors[wk].shape[0];
            if (rows % head_dim == 0) qlow__model_set(model, QLOW_MODEL_N_KV_HEADS, rows / head_dim, 0.0);
        }
        return QLOW_OK;
    }
    qlow__model_set(model, key, value, 0.0);
    return QLOW_OK;
}

qlow_status qlow_model_set_float(qlow_model *model, int32_t key, double value)
{
    if (!model) return QLOW_E_NULL_POINTER;
    if (!key_valid(key) || !key_is_float(key)) return QLOW_E_PARAM;
    if (!(value > 0.0) || value > 1e300) return QLOW_E_PARAM;
    qlow__model_set(model, key, 0, value);
    return QLOW_OK;
}

qlow_status qlow_model_tensor_count(const qlow_model *model, size_t *count)
{
    if (!model || !count) return QLOW_E_NULL_POINTER;
    *count = model->n_tensors;
    return QLOW_OK;
}

static const char *model_tensor_name(const void *ctx, uint32_t i, size_t *len)
{
    const qlow__mtensor *t = &((const qlow_model *)ctx)->tensors[i];
    *len = t->name_len;
    return t->name;
}

qlow_status qlow_model_tensor_find(const qlow_model *model, const char *name, size_t *index)
{
    if (!model || !name || !index) return QLOW_E_NULL_POINTER;
    return qlow__find_by_name(model->by_name, model->n_tensors, model_tensor_name, model, name, index);
}

qlow_status qlow_model_tensor_info(const qlow_model *model, size_t index, const char **name, int32_t *dtype,
                                   int32_t *ndim, int64_t *shape)
{
    if (!model) return QLOW_E_NULL_POINTER;
    if (index >= model->n_tensors) return QLOW_E_INVALID_ARG;
    const qlow__mtensor *t = &model->tensors[index];
    if (name) *name = t->name;
    if (dtype) *dtype = t->dtype;
    if (ndim) *ndim = t->ndim;
    if (shape)
        for (int d = 0; d < QLOW_VIEW_MAX_DIMS; d++) shape[d] = t->shape[d];
    return QLOW_OK;
}

qlow_status qlow_model_tensor_view(const qlow_model *model, size_t index, qlow_view *view)
{
    if (!model || !view) return QLOW_E_NULL_POINTER;
    if (index >= model->n_tensors) return QLOW_E_INVALID_ARG;
    if (!qlow__host_is_le()) return QLOW_E_UNSUPPORTED;
    const qlow__mtensor *t = &model->tensors[index];
    const unsigned char *p = model->map.data + t->offset;
    if ((uintptr_t)p % qlow__dtype_size(t->dtype)) return QLOW_E_ALIGNMENT;
    qlow_view v;
    QLOW_TRY(qlow_view_init(&v, (qlow_dtype)t->dtype, t->ndim, t->shape, (void *)(uintptr_t)p));
    *view = v;
    return QLOW_OK;
}

qlow_status qlow_model_tensor_read_f32(const qlow_model *model, size_t index, float *dst, size_t count)
{
    if (!model || !dst) return QLOW_E_NULL_POINTER;
    if (index >= model->n_tensors) return QLOW_E_INVALID_ARG;
    const qlow__mtensor *t = &model->tensors[index];
    size_t es = qlow__dtype_size(t->dtype), n = t->bytes / (es ? es : 1);
    if (t->dtype != QLOW_DTYPE_F32 && t->dtype != QLOW_DTYPE_F16 && t->dtype != QLOW_DTYPE_BF16)
        return QLOW_E_DTYPE;
    if (count < n) return QLOW_E_BUFFER_TOO_SMALL;
    const unsigned char *p = model->map.data + t->offset;
    if (t->dtype == QLOW_DTYPE_F32) {
        if (qlow__host_is_le()) {
            if (n) memcpy(dst, p, n * 4);
        } else {
            for (size_t i = 0; i < n; i++) {
                uint32_t u = qlow__ld32(p + 4 * i);
                memcpy(&dst[i], &u, 4);
            }
        }
    } else if (t->dtype == QLOW_DTYPE_F16) {
        for (size_t i = 0; i < n; i++) dst[i] = qlow_fp16_to_fp32(qlow__ld16(p + 2 * i));
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = qlow_bf16_to_fp32(qlow__ld16(p + 2 * i));
    }
    return QLOW_OK;
}

qlow_status qlow_model_tensor_release(const qlow_model *model, size_t index)
{
    if (!model) return QLOW_E_NULL_POINTER;
    if (index >= model->n_tensors) return QLOW_E_INVALID_ARG;
    qlow__file_map_release(&model->map, model->tensors[index].offset, model->tensors[index].bytes);
    return QLOW_OK;
}

qlow_status qlow_model_sha256(const qlow_model *model, uint8_t digest[32])
{
    if (!model || !digest) return QLOW_E_NULL_POINTER;
    qlow__sha256 s;
    qlow__sha256_init(&s);
    qlow__sha256_update(&s, model->map.data, model->map.size);
    qlow__sha256_final(&s, digest);
    return QLOW_OK;
}

qlow_status qlow_model_meta_count(const qlow_model *model, size_t *count)
{
    if (!model || !count) return QLOW_E_NULL_POINTER;
    *count = model->n_meta;
    return QLOW_OK;
}

qlow_status qlow_model_meta_get(const qlow_model *model, size_t index, const char **key, const char **value)
{
    if (!model) return QLOW_E_NULL_POINTER;
    if (index >= model->n_meta) return QLOW_E_INVALID_ARG;
    if (key) *key = model->meta[index].key;
    if (value) *value = model->meta[index].value;
    return QLOW_OK;
}
