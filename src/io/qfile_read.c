/* qfile_read.c - the .qlow reader. open() validates the whole structure once (the file is then
 * immutable and shareable); lookups afterwards are plain index arithmetic on the mapped bytes. */
#include "io/qfile_internal.h"

#define QFILE_MAGIC 0x71666c65u /* "qfle" */

typedef struct qf_tensor {
    const char *name;
    size_t name_len;
    int32_t kind, type, bits, ndim;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    size_t offset, bytes;
    uint32_t crc;
} qf_tensor;

typedef struct qf_meta {
    const char *key;
    size_t key_len;
    int32_t type;
    const unsigned char *value;
    size_t size;
} qf_meta;

struct qlow_qfile {
    uint32_t magic;
    qlow_allocator alloc;
    qlow__file_map map;
    uint32_t align;
    size_t n_tensors, n_meta;
    qf_tensor *tensors;
    qf_meta *meta;
    uint32_t *tensor_order; /* by name */
    uint32_t *meta_order;   /* by key */
    void *block;
};

/* A NUL-terminated string of len bytes at off inside the table, without inner NULs. */
static qlow_status table_string(const unsigned char *tab, size_t tab_len, uint64_t off, uint64_t len, int text,
                                const unsigned char **out)
{
    if (off >= tab_len || len >= tab_len - off) return QLOW_E_FORMAT;
    const unsigned char *s = tab + off;
    if (s[len] != 0) return QLOW_E_FORMAT;
    if (text && memchr(s, 0, (size_t)len)) return QLOW_E_FORMAT;
    *out = s;
    return QLOW_OK;
}

static int cmp_names(const void *ctx, uint32_t a, uint32_t b)
{
    const qf_tensor *t = (const qf_tensor *)ctx;
    int c = qlow__bytes_cmp(t[a].name, t[a].name_len, t[b].name, t[b].name_len);
    return c ? c : (a < b ? -1 : a > b);
}

static int cmp_keys(const void *ctx, uint32_t a, uint32_t b)
{
    const qf_meta *m = (const qf_meta *)ctx;
    int c = qlow__bytes_cmp(m[a].key, m[a].key_len, m[b].key, m[b].key_len);
    return c ? c : (a < b ? -1 : a > b);
}

static int cmp_offsets(const void *ctx, uint32_t a, uint32_t b)
{
    const qf_tensor *t = (const qf_tensor *)ctx;
    if (t[a].offset != t[b].offset) return t[a].offset < t[b].offset ? -1 : 1;
    if (t[a].bytes != t[b].bytes) return t[a].bytes < t[b].bytes ? -1 : 1;
    return a < b ? -1 : a > b;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static qlow_status parse_tensor(const unsigned char *e, const unsigned char *tab, size_t tab_len, size_t data_lo,
                                size_t data_hi, uint32_t align, qf_tensor *t)
{
    const unsigned char *name;
    uint64_t name_off = qlow__ld64(e + QF_T_NAMEOFF);
    uint32_t name_len = qlow__ld32(e + QF_T_NAMELEN);
    if (name_len == 0 || name_len > 65535) return QLOW_E_FORMAT;
    QLOW_TRY(table_string(tab, tab_len, name_off, name_len, 1, &name));
    t->name = (const char *)name;
    t->name_len = name_len;
    t->kind = (int32_t)qlow__ld32(e + QF_T_KIND);
    t->type = (int32_t)qlow__ld32(e + QF_T_TYPE);
    t->bits = (int32_t)qlow__ld32(e + QF_T_BITS);
    t->ndim = (int32_t)qlow__ld32(e + QF_T_NDIM);
    if (qlow__ld32(e + QF_T_FLAGS) != 0 || !all_zero(e + QF_T_RESERVED, QF_TENSOR_ENTRY - QF_T_RESERVED))
        return QLOW_E_FORMAT;
    if (t->ndim < 1 || t->ndim > QLOW_VIEW_MAX_DIMS) return QLOW_E_FORMAT;
    size_t count = 1;
    for (int d = 0; d < QLOW_VIEW_MAX_DIMS; d++) {
        uint64_t s = qlow__ld64(e + QF_T_SHAPE + 8 * d);
        if (s > (uint64_t)INT64_MAX || (d >= t->ndim && s != 1)) return QLOW_E_FORMAT;
        if (s > SIZE_MAX) return QLOW_E_OVERFLOW;
        t->shape[d] = (int64_t)s;
        QLOW_TRY(qlow__mul_size(count, (size_t)s, &count));
    }
    uint64_t off = qlow__ld64(e + QF_T_DATAOFF), bytes = qlow__ld64(e + QF_T_DATABYTES);
    if (off % align || off < data_lo || off > data_hi || bytes > data_hi - off) return QLOW_E_FORMAT;
    t->offset = (size_t)off;
    t->bytes = (size_t)bytes;
    t->crc = qlow__ld32(e + QF_T_CRC);
    if (t->kind == QLOW_QFILE_DENSE) {
        if (t->type < QLOW_DTYPE_F32 || t->type > QLOW_DTYPE_F64) return QLOW_E_FORMAT;
        size_t want;
        QLOW_TRY(qlow__mul_size(count, qlow__dtype_size(t->type), &want));
        if (want != t->bytes || t->bits != (int32_t)(8 * qlow__dtype_size(t->type))) return QLOW_E_FORMAT;
    } else if (t->kind == QLOW_QFILE_PACKED) {
        if (t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1 || t->type < 1 || t->bits < 0 || t->bits > 32)
            return QLOW_E_FORMAT;
    } else if (t->kind < 1) {
        return QLOW_E_FORMAT;
    }
    return QLOW_OK;
}

static qlow_status parse_meta(const unsigned char *e, const unsigned char *tab, size_t tab_len, int minor,
                              qf_meta *m)
{
    const unsigned char *key, *val;
    uint64_t key_off = qlow__ld64(e + QF_M_KEYOFF), val_off = qlow__ld64(e + QF_M_VALOFF);
    uint64_t val_len = qlow__ld64(e + QF_M_VALLEN);
    uint32_t key_len = qlow__ld32(e + QF_M_KEYLEN);
    if (key_len == 0 || key_len > 65535) return QLOW_E_FORMAT;
    QLOW_TRY(table_string(tab, tab_len, key_off, key_len, 1, &key));
    m->type = (int32_t)qlow__ld32(e + QF_M_TYPE);
    /* Later minor versions may add types, which this reader lists as opaque bytes. */
    if (m->type < QLOW_META_STRING || (m->type > QLOW_META_BYTES && minor <= QF_VERSION_MINOR)) return QLOW_E_FORMAT;
    QLOW_TRY(table_string(tab, tab_len, val_off, val_len, m->type == QLOW_META_STRING, &val));
    if ((m->type == QLOW_META_INT || m->type == QLOW_META_FLOAT) && val_len != 8) return QLOW_E_FORMAT;
    m->key = (const char *)key;
    m->key_len = key_len;
    m->value = val;
    m->size = (size_t)val_len;
    return QLOW_OK;
}

static qlow_status parse_file(qlow_qfile *f, int verify)
{
    const unsigned char *d = f->map.data;
    size_t size = f->map.size;
    if (size < QF_PREAMBLE_BYTES) return QLOW_E_TRUNCATED;
    if (memcmp(d, qf_magic_head, 8) != 0) return QLOW_E_FORMAT;
    if (qlow__ld32(d + QF_P_CRC) != qlow__crc32c_update(0, d, QF_P_CRC)) return QLOW_E_CHECKSUM;
    if (qlow__ld16(d + QF_P_MAJOR) != QF_VERSION_MAJOR) return QLOW_E_VERSION_MISMATCH;
    uint32_t align = qlow__ld32(d + QF_P_ALIGN);
    if (align < QF_MIN_ALIGN || align > QF_MAX_ALIGN || (align & (align - 1)) || qlow__ld32(d + QF_P_FLAGS) ||
        !all_zero(d + 20, QF_P_CRC - 20))
        return QLOW_E_FORMAT;
    f->align = align;
    if (size < (size_t)align + QF_FOOTER_BYTES) return QLOW_E_TRUNCATED;
    const unsigned char *ft = d + size - QF_FOOTER_BYTES;
    if (memcmp(ft, qf_magic_foot, 8) != 0) return QLOW_E_TRUNCATED;
    if (qlow__ld32(ft + QF_F_CRC) != qlow__crc32c_update(0, ft, QF_F_CRC)) return QLOW_E_CHECKSUM;
    if (qlow__ld16(ft + QF_F_MAJOR) != QF_VERSION_MAJOR) return QLOW_E_VERSION_MISMATCH;
    if (qlow__ld16(ft + QF_F_MINOR) != qlow__ld16(d + QF_P_MINOR) || !all_zero(ft + 48, QF_F_CRC - 48))
        return QLOW_E_FORMAT;
    uint64_t file_bytes = qlow__ld64(ft + QF_F_FILEBYTES);
    if (file_bytes != size) return file_bytes > size ? QLOW_E_TRUNCATED : QLOW_E_FORMAT;
    uint64_t dir_off = qlow__ld64(ft + QF_F_DIROFF), dir_bytes = qlow__ld64(ft + QF_F_DIRBYTES);
    size_t dir_end = size - QF_FOOTER_BYTES;
    if (dir_off % 8 || dir_off < align || dir_off > dir_end || dir_bytes != dir_end - dir_off) return QLOW_E_FORMAT;
    const unsigned char *dir = d + dir_off;
    if (qlow__ld32(ft + QF_F_DIRCRC) != qlow__crc32c_update(0, dir, (size_t)dir_bytes)) return QLOW_E_CHECKSUM;
    uint32_t nt = qlow__ld32(ft + QF_F_NTENSORS), nm = qlow__ld32(ft + QF_F_NMETA);
    uint64_t fixed = (uint64_t)nt * QF_TENSOR_ENTRY + (uint64_t)nm * QF_META_ENTRY;
    if (fixed > dir_bytes) return QLOW_E_FORMAT;
    const unsigned char *tab = dir + fixed;
    size_t tab_len = (size_t)(dir_bytes - fixed);

    size_t sizes[4] = {(size_t)nt * sizeof(qf_tensor), (size_t)nm * sizeof(qf_meta), (size_t)nt * 4, (size_t)nm * 4};
    size_t total = 0, at[4];
    for (int i = 0; i < 4; i++) {
        at[i] = total;
        QLOW_TRY(qlow__add_size(total, qlow__align_up(sizes[i], 16), &total));
    }
    unsigned char *b = (unsigned char *)qlow__alloc(&f->alloc, total, 16);
    if (!b) return QLOW_E_NO_MEMORY;
    f->block = b;
    f->tensors = (qf_tensor *)(void *)(b + at[0]);
    f->meta = (qf_meta *)(void *)(b + at[1]);
    f->tensor_order = (uint32_t *)(void *)(b + at[2]);
    f->meta_order = (uint32_t *)(void *)(b + at[3]);

    for (uint32_t i = 0; i < nt; i++) {
        QLOW_TRY(parse_tensor(dir + (size_t)i * QF_TENSOR_ENTRY, tab, tab_len, align, (size_t)dir_off, align,
                              &f->tensors[i]));
        f->tensor_order[i] = i;
        f->n_tensors = i + 1;
    }
    for (uint32_t i = 0; i < nm; i++) {
        QLOW_TRY(parse_meta(dir + (size_t)nt * QF_TENSOR_ENTRY + (size_t)i * QF_META_ENTRY, tab, tab_len,
                            qlow__ld16(d + QF_P_MINOR), &f->meta[i]));
        f->meta_order[i] = i;
        f->n_meta = i + 1;
    }
    /* Tensor data may not overlap. With verification on, the bytes no tensor covers (padding) must be
     * zero, so that every byte of a verified file is checked by something. */
    qlow__sort_indices(f->tensor_order, nt, cmp_offsets, f->tensors);
    size_t end = QF_PREAMBLE_BYTES;
    for (uint32_t i = 0; i < nt; i++) {
        const qf_tensor *t = &f->tensors[f->tensor_order[i]];
        if (!t->bytes) continue;
        if (t->offset < end) return QLOW_E_FORMAT;
        if (verify && !all_zero(d + end, t->offset - end)) return QLOW_E_CHECKSUM;
        end = t->offset + t->bytes;
    }
    if (verify && !all_zero(d + end, (size_t)dir_off - end)) return QLOW_E_CHECKSUM;
    qlow__sort_indices(f->tensor_order, nt, cmp_names, f->tensors);
    for (uint32_t i = 1; i < nt; i++)
        if (qlow__bytes_cmp(f->tensors[f->tensor_order[i - 1]].name, f->tensors[f->tensor_order[i - 1]].name_len,
                            f->tensors[f->tensor_order[i]].name, f->tensors[f->tensor_order[i]].name_len) == 0)
            return QLOW_E_FORMAT;
    qlow__sort_indices(f->meta_order, nm, cmp_keys, f->meta);
    for (uint32_t i = 1; i < nm; i++)
        if (qlow__bytes_cmp(f->meta[f->meta_order[i - 1]].key, f->meta[f->meta_order[i - 1]].key_len,
                            f->meta[f->meta_order[i]].key, f->meta[f->meta_order[i]].key_len) == 0)
            return QLOW_E_FORMAT;
    if (verify)
        for (size_t i = 0; i < f->n_tensors; i++) {
            const qf_tensor *t = &f->tensors[i];
            QLOW_TRY(qlow_qfile_tensor_verify(f, i));
            /* Images in misaligned caller buffers are checked when wrapped (QLOW_E_ALIGNMENT then). */
            if (t->kind == QLOW_QFILE_PACKED && (uintptr_t)(d + t->offset) % 8 == 0)
                QLOW_TRY(qlow__qfile_check_image(&f->alloc, d + t->offset, t->bytes, t->type, t->shape[0],
                                                 t->shape[1]));
        }
    return QLOW_OK;
}

static void qfile_free(qlow_qfile *f)
{
    qlow_allocator a = f->alloc;
    qlow__file_map_close(&f->map, &a);
    if (f->block) qlow__free(&a, f->block);
    f->magic = 0;
    qlow__free(&a, f);
}

static qlow_status qfile_open_map(qlow__file_map *map, const qlow_params *params, const qlow_allocator *a,
                                  qlow_qfile **out)
{
    qlow_qfile *f = (qlow_qfile *)qlow__calloc(a, sizeof *f, 8);
    if (!f) {
        qlow__file_map_close(map, a);
        return QLOW_E_NO_MEMORY;
    }
    f->magic = QFILE_MAGIC;
    f->alloc = *a;
    f->map = *map;
    qlow_status st = parse_file(f, (int)qlow__param_int(params, QLOW_PARAM_IO_VERIFY));
    if (st != QLOW_OK) {
        qfile_free(f);
        return st;
    }
    *out = f;
    return QLOW_OK;
}

qlow_status qlow_qfile_open(const char *path, const qlow_params *params, const qlow_allocator *alloc,
                            qlow_qfile **out)
{
    if (!path || !out) return QLOW_E_NULL_POINTER;
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow__file_map map;
    QLOW_TRY(qlow__file_map_open(path, (int)qlow__param_int(params, QLOW_PARAM_IO_USE_MMAP), &a, &map));
    return qfile_open_map(&map, params, &a, out);
}

qlow_status qlow_qfile_open_buffer(const void *data, size_t size, const qlow_params *params,
                                   const qlow_allocator *alloc, qlow_qfile **out)
{
    if (!out || (!data && size)) return QLOW_E_NULL_POINTER;
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow__file_map map = {data ? (const unsigned char *)data : (const unsigned char *)"", size, 0, NULL, 0};
    return qfile_open_map(&map, params, &a, out);
}

void qlow_qfile_close(qlow_qfile *file)
{
    if (file && file->magic == QFILE_MAGIC) qfile_free(file);
}

qlow_status qlow_qfile_tensor_count(const qlow_qfile *file, size_t *count)
{
    if (!file || !count) return QLOW_E_NULL_POINTER;
    *count = file->n_tensors;
    return QLOW_OK;
}

static const char *qfile_tensor_name(const void *ctx, uint32_t i, size_t *len)
{
    const qf_tensor *t = &((const qlow_qfile *)ctx)->tensors[i];
    *len = t->name_len;
    return t->name;
}

qlow_status qlow_qfile_tensor_find(const qlow_qfile *file, const char *name, size_t *index)
{
    if (!file || !name || !index) return QLOW_E_NULL_POINTER;
    return qlow__find_by_name(file->tensor_order, file->n_tensors, qfile_tensor_name, file, name, index);
}

qlow_status qlow_qfile_tensor_info(const qlow_qfile *file, size_t index, const char **name, int32_t *kind,
                                   int32_t *type, int32_t *bits, int32_t *ndim, int64_t *shape)
{
    if (!file) return QLOW_E_NULL_POINTER;
    if (index >= file->n_tensors) return QLOW_E_INVALID_ARG;
    const qf_tensor *t = &file->tensors[index];
    if (name) *name = t->name;
    if (kind) *kind = t->kind;
    if (type) *type = t->type;
    if (bits) *bits = t->bits;
    if (ndim) *ndim = t->ndim;
    if (shape)
        for (int d = 0; d < QLOW_VIEW_MAX_DIMS; d++) shape[d] = t->shape[d];
    return QLOW_OK;
}

qlow_status qlow_qfile_tensor_data(const qlow_qfile *file, size_t index, const void **data, size_t *size)
{
    if (!file || !data || !size) return QLOW_E_NULL_POINTER;
    if (index >= file->n_tensors) return QLOW_E_INVALID_ARG;
    *data = file->map.data + file->tensors[index].offset;
    *size = file->tensors[index].bytes;
    return QLOW_OK;
}

qlow_status qlow_qfile_tensor_view(const qlow_qfile *file, size_t index, qlow_view *view)
{
    if (!file || !view) return QLOW_E_NULL_POINTER;
    if (index >= file->n_tensors) return QLOW_E_INVALID_ARG;
    const qf_tensor *t = &file->tensors[index];
    if (t->kind != QLOW_QFILE_DENSE) return QLOW_E_DTYPE;
    if (!qlow__host_is_le()) return QLOW_E_UNSUPPORTED;
    const unsigned char *p = file->map.data + t->offset;
    if ((uintptr_t)p % qlow__dtype_size(t->type)) return QLOW_E_ALIGNMENT;
    qlow_view v;
    QLOW_TRY(qlow_view_init(&v, (qlow_dtype)t->type, t->ndim, t->shape, (void *)(uintptr_t)p));
    *view = v;
    return QLOW_OK;
}

qlow_status qlow_qfile_tensor_verify(const qlow_qfile *file, size_t index)
{
    if (!file) return QLOW_E_NULL_POINTER;
    if (index >= file->n_tensors) return QLOW_E_INVALID_ARG;
    const qf_tensor *t = &file->tensors[index];
    return qlow__crc32c_update(0, file->map.data + t->offset, t->bytes) == t->crc ? QLOW_OK : QLOW_E_CHECKSUM;
}

qlow_status qlow_qfile_meta_count(const qlow_qfile *file, size_t *count)
{
    if (!file || !count) return QLOW_E_NULL_POINTER;
    *count = file->n_meta;
    return QLOW_OK;
}

qlow_status qlow_qfile_meta_info(const qlow_qfile *file, size_t index, const char **key, int32_t *type,
                                 const void **value, size_t *size)
{
    if (!file) return QLOW_E_NULL_POINTER;
    if (index >= file->n_meta) return QLOW_E_INVALID_ARG;
    const qf_meta *m = &file->meta[index];
    if (key) *key = m->key;
    if (type) *type = m->type;
    if (value) *value = m->value;
    if (size) *size = m->size;
    return QLOW_OK;
}

static const char *qfile_meta_key(const void *ctx, uint32_t i, size_t *len)
{
    const qf_meta *m = &((const qlow_qfile *)ctx)->meta[i];
    *len = m->key_len;
    return m->key;
}

qlow_status qlow_qfile_meta_find(const qlow_qfile *file, const char *key, size_t *index)
{
    if (!file || !key || !index) return QLOW_E_NULL_POINTER;
    return qlow__find_by_name(file->meta_order, file->n_meta, qfile_meta_key, file, key, index);
}

static qlow_status meta_typed(const qlow_qfile *file, const char *key, int32_t type, const qf_meta **out)
{
    size_t i;
    QLOW_TRY(qlow_qfile_meta_find(file, key, &i));
    if (file->meta[i].type != type) return QLOW_E_DTYPE;
    *out = &file->meta[i];
    return QLOW_OK;
}

qlow_status qlow_qfile_meta_get_string(const qlow_qfile *file, const char *key, const char **value)
{
    const qf_meta *m;
    if (!value) return QLOW_E_NULL_POINTER;
    QLOW_TRY(meta_typed(file, key, QLOW_META_STRING, &m));
    *value = (const char *)m->value;
    return QLOW_OK;
}

qlow_status qlow_qfile_meta_get_int(const qlow_qfile *file, const char *key, int64_t *value)
{
    const qf_meta *m;
    if (!value) return QLOW_E_NULL_POINTER;
    QLOW_TRY(meta_typed(file, key, QLOW_META_INT, &m));
    *value = (int64_t)qlow__ld64(m->value);
    return QLOW_OK;
}

qlow_status qlow_qfile_meta_get_float(const qlow_qfile *file, const char *key, double *value)
{
    const qf_meta *m;
    if (!value) return QLOW_E_NULL_POINTER;
    QLOW_TRY(meta_typed(file, key, QLOW_META_FLOAT, &m));
    uint64_t u = qlow__ld64(m->value);
    memcpy(value, &u, 8);
    return QLOW_OK;
}
