/* qfile_write.c - the streaming .qlow writer. Tensor bytes go to the sink as they are added; the
 * directory (fixed-size entries plus a string table) grows in allocator memory and is written, with the
 * footer, by finish. Sink failures are sticky so a half-written file can never be finished. */
#include "io/qfile_internal.h"

#define WRITER_MAGIC 0x71777274u /* "qwrt" */

typedef struct growbuf {
    unsigned char *p;
    size_t n, cap;
} growbuf;

struct qlow_qfile_writer {
    uint32_t magic;
    qlow_allocator alloc;
    int sink;                 /* 1 = file, 2 = callback, 3 = buffer */
    qlow__out_file *file;
    qlow_write_fn fn;
    void *user;
    unsigned char *buf;
    size_t buf_cap;
    uint64_t pos;
    uint32_t align;
    int finished;
    qlow_status failed;       /* sticky sink error */
    growbuf tensors, meta, strings;
    size_t n_tensors, n_meta;
};

static qlow_status grow(const qlow_allocator *a, growbuf *g, size_t extra)
{
    size_t need;
    QLOW_TRY(qlow__add_size(g->n, extra, &need));
    if (need <= g->cap) return QLOW_OK;
    size_t cap = g->cap ? g->cap : 1024;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return QLOW_E_OVERFLOW;
        cap *= 2;
    }
    unsigned char *p = (unsigned char *)qlow__alloc(a, cap, 16);
    if (!p) return QLOW_E_NO_MEMORY;
    if (g->n) memcpy(p, g->p, g->n);
    if (g->p) qlow__free(a, g->p);
    g->p = p;
    g->cap = cap;
    return QLOW_OK;
}

static qlow_status sink_write(qlow_qfile_writer *w, const void *data, size_t size)
{
    if (w->failed) return QLOW_E_STATE;
    qlow_status st = QLOW_OK;
    if (w->sink == 1) {
        st = qlow__out_file_write(w->file, data, size);
    } else if (w->sink == 2) {
        if (size && w->fn(w->user, data, size) != 0) st = QLOW_E_CALLBACK;
    } else {
        if (w->pos > w->buf_cap || size > w->buf_cap - w->pos)
            st = QLOW_E_BUFFER_TOO_SMALL;
        else if (size)
            memcpy(w->buf + w->pos, data, size);
    }
    if (st != QLOW_OK) {
        w->failed = st;
        return st;
    }
    w->pos += size;
    return QLOW_OK;
}

static qlow_status sink_pad(qlow_qfile_writer *w, uint64_t to_multiple)
{
    static const unsigned char zeros[256];
    while (w->pos % to_multiple) {
        uint64_t gap = to_multiple - w->pos % to_multiple;
        QLOW_TRY(sink_write(w, zeros, gap < sizeof zeros ? (size_t)gap : sizeof zeros));
    }
    return QLOW_OK;
}

static qlow_status writer_start(qlow_qfile_writer *w)
{
    unsigned char pre[QF_PREAMBLE_BYTES];
    memset(pre, 0, sizeof pre);
    memcpy(pre, qf_magic_head, 8);
    pre[QF_P_MAJOR] = QF_VERSION_MAJOR;
    pre[QF_P_MINOR] = QF_VERSION_MINOR;
    qlow__st32(pre + QF_P_ALIGN, w->align);
    qlow__st32(pre + QF_P_CRC, qlow__crc32c_update(0, pre, QF_P_CRC));
    QLOW_TRY(sink_write(w, pre, sizeof pre));
    return sink_pad(w, w->align);
}

static qlow_status writer_new(const qlow_params *params, const qlow_allocator *alloc, qlow_qfile_writer **out)
{
    int64_t align = qlow__param_int(params, QLOW_PARAM_IO_ALIGNMENT);
    if (align & (align - 1)) return QLOW_E_PARAM;
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow_qfile_writer *w = (qlow_qfile_writer *)qlow__calloc(&a, sizeof *w, 8);
    if (!w) return QLOW_E_NO_MEMORY;
    w->magic = WRITER_MAGIC;
    w->alloc = a;
    w->align = (uint32_t)align;
    *out = w;
    return QLOW_OK;
}

static void writer_free(qlow_qfile_writer *w)
{
    qlow_allocator a = w->alloc;
    if (w->tensors.p) qlow__free(&a, w->tensors.p);
    if (w->meta.p) qlow__free(&a, w->meta.p);
    if (w->strings.p) qlow__free(&a, w->strings.p);
    if (w->file) qlow__out_file_close(w->file, !w->finished);
    w->magic = 0;
    qlow__free(&a, w);
}

static qlow_status writer_opened(qlow_qfile_writer *w, qlow_qfile_writer **out)
{
    qlow_status st = writer_start(w);
    if (st != QLOW_OK) {
        writer_free(w);
        return st;
    }
    *out = w;
    return QLOW_OK;
}

qlow_status qlow_qfile_writer_open(const char *path, const qlow_params *params, const qlow_allocator *alloc,
                                   qlow_qfile_writer **out)
{
    if (!path || !out) return QLOW_E_NULL_POINTER;
    qlow_qfile_writer *w;
    QLOW_TRY(writer_new(params, alloc, &w));
    qlow_status st = qlow__out_file_open(path, &w->alloc, &w->file);
    if (st != QLOW_OK) {
        writer_free(w);
        return st;
    }
    w->sink = 1;
    return writer_opened(w, out);
}

qlow_status qlow_qfile_writer_open_callback(qlow_write_fn write, void *user, const qlow_params *params,
                                            const qlow_allocator *alloc, qlow_qfile_writer **out)
{
    if (!write || !out) return QLOW_E_NULL_POINTER;
    qlow_qfile_writer *w;
    QLOW_TRY(writer_new(params, alloc, &w));
    w->sink = 2;
    w->fn = write;
    w->user = user;
    return writer_opened(w, out);
}

qlow_status qlow_qfile_writer_open_buffer(void *buffer, size_t capacity, const qlow_params *params,
                                          const qlow_allocator *alloc, qlow_qfile_writer **out)
{
    if ((!buffer && capacity) || !out) return QLOW_E_NULL_POINTER;
    qlow_qfile_writer *w;
    QLOW_TRY(writer_new(params, alloc, &w));
    w->sink = 3;
    w->buf = (unsigned char *)buffer;
    w->buf_cap = capacity;
    return writer_opened(w, out);
}

static qlow_status check_usable(const qlow_qfile_writer *w)
{
    if (!w || w->magic != WRITER_MAGIC) return QLOW_E_NULL_POINTER;
    if (w->finished || w->failed) return QLOW_E_STATE;
    return QLOW_OK;
}

static int valid_name(const char *s, size_t n) { return n >= 1 && n <= 65535 && memchr(s, 0, n) == NULL; }

/* 1 if `name` is already used by an entry of the table (entries of `esize` bytes, name at offset 0/8). */
static int name_taken(const qlow_qfile_writer *w, const growbuf *table, size_t count, size_t esize,
                      const char *name, size_t len)
{
    for (size_t i = 0; i < count; i++) {
        const unsigned char *e = table->p + i * esize;
        uint64_t off = qlow__ld64(e);
        uint32_t l = qlow__ld32(e + 8);
        if (l == len && memcmp(w->strings.p + off, name, len) == 0) return 1;
    }
    return 0;
}

/* Reserve a directory entry and the string bytes for `name` (and `extra` value bytes), so that nothing
 * can fail for lack of memory once tensor data has gone out. */
static qlow_status reserve(qlow_qfile_writer *w, growbuf *table, size_t esize, size_t name_len, size_t extra)
{
    size_t s;
    QLOW_TRY(qlow__add_size(name_len, extra, &s));
    QLOW_TRY(qlow__add_size(s, 2 + 8, &s));
    QLOW_TRY(grow(&w->alloc, table, esize));
    return grow(&w->alloc, &w->strings, s);
}

/* Append bytes plus a NUL to the string table (space reserved); returns their offset. */
static uint64_t put_string(qlow_qfile_writer *w, const void *s, size_t n)
{
    uint64_t off = w->strings.n;
    if (n) memcpy(w->strings.p + w->strings.n, s, n);
    w->strings.p[w->strings.n + n] = 0;
    w->strings.n += n + 1;
    return off;
}

static qlow_status add_entry(qlow_qfile_writer *w, const char *name, size_t name_len, uint32_t kind, int32_t type,
                             int32_t bits, int32_t ndim, const int64_t *shape, uint64_t off, uint64_t bytes,
                             uint32_t crc)
{
    unsigned char *e = w->tensors.p + w->tensors.n;
    memset(e, 0, QF_TENSOR_ENTRY);
    qlow__st64(e + QF_T_NAMEOFF, put_string(w, name, name_len));
    qlow__st32(e + QF_T_NAMELEN, (uint32_t)name_len);
    qlow__st32(e + QF_T_KIND, kind);
    qlow__st32(e + QF_T_TYPE, (uint32_t)type);
    qlow__st32(e + QF_T_BITS, (uint32_t)bits);
    qlow__st32(e + QF_T_NDIM, (uint32_t)ndim);
    for (int d = 0; d < QLOW_VIEW_MAX_DIMS; d++) qlow__st64(e + QF_T_SHAPE + 8 * d, (uint64_t)shape[d]);
    qlow__st64(e + QF_T_DATAOFF, off);
    qlow__st64(e + QF_T_DATABYTES, bytes);
    qlow__st32(e + QF_T_CRC, crc);
    w->tensors.n += QF_TENSOR_ENTRY;
    w->n_tensors++;
    return QLOW_OK;
}

static qlow_status begin_tensor(qlow_qfile_writer *w, const char *name, size_t *name_len)
{
    QLOW_TRY(check_usable(w));
    if (!name) return QLOW_E_NULL_POINTER;
    size_t n = strlen(name);
    if (!valid_name(name, n) || name_taken(w, &w->tensors, w->n_tensors, QF_TENSOR_ENTRY, name, n))
        return QLOW_E_INVALID_ARG;
    if (w->n_tensors >= UINT32_MAX) return QLOW_E_OVERFLOW;
    QLOW_TRY(reserve(w, &w->tensors, QF_TENSOR_ENTRY, n, 0));
    *name_len = n;
    return sink_pad(w, w->align);
}

qlow_status qlow_qfile_writer_add_packed(qlow_qfile_writer *w, const char *name, int32_t format, int32_t bits,
                                         int64_t rows, int64_t cols, const void *data, size_t size)
{
    QLOW_TRY(check_usable(w));
    if (!data && size) return QLOW_E_NULL_POINTER;
    if (rows < 1 || cols < 1) return QLOW_E_SHAPE;
    if (format < 1 || bits < 0 || bits > 32) return QLOW_E_INVALID_ARG;
    /* The image must be a valid qlow_qmatrix of this format and shape: readers rely on it. */
    if ((uintptr_t)data % 8) return QLOW_E_ALIGNMENT;
    QLOW_TRY(qlow__qfile_check_image(&w->alloc, data, size, format, rows, cols));
    size_t nl;
    QLOW_TRY(begin_tensor(w, name, &nl));
    uint64_t off = w->pos;
    QLOW_TRY(sink_write(w, data, size));
    int64_t shape[QLOW_VIEW_MAX_DIMS] = {rows, cols, 1, 1};
    return add_entry(w, name, nl, QLOW_QFILE_PACKED, format, bits, 2, shape, off, size,
                     qlow__crc32c_update(0, data, size));
}

/* Stream a view's elements in row-major order through a bounce buffer, little-endian. */
static qlow_status write_view(qlow_qfile_writer *w, const qlow_view *v, uint32_t *crc)
{
    unsigned char chunk[4096];
    size_t es = qlow__dtype_size(v->dtype), fill = 0;
    int64_t idx[QLOW_VIEW_MAX_DIMS] = {0, 0, 0, 0};
    size_t total = 1;
    for (int d = 0; d < v->ndim; d++) total *= (size_t)v->shape[d];
    int le = qlow__host_is_le();
    *crc = 0;
    for (size_t k = 0; k < total; k++) {
        const unsigned char *src = (const unsigned char *)v->data;
        for (int d = 0; d < v->ndim; d++) src += idx[d] * v->stride_bytes[d];
        for (size_t b = 0; b < es; b++) chunk[fill + b] = src[le ? b : es - 1 - b];
        fill += es;
        if (fill + es > sizeof chunk || k + 1 == total) {
            *crc = qlow__crc32c_update(*crc, chunk, fill);
            QLOW_TRY(sink_write(w, chunk, fill));
            fill = 0;
        }
        for (int d = v->ndim - 1; d >= 0; d--) {
            if (++idx[d] < v->shape[d]) break;
            idx[d] = 0;
        }
    }
    return QLOW_OK;
}

qlow_status qlow_qfile_writer_add_dense(qlow_qfile_writer *w, const char *name, const qlow_view *view)
{
    QLOW_TRY(check_usable(w));
    if (!view) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__view_check(view, 0x7Fu, 0));
    size_t bytes = qlow__dtype_size(view->dtype);
    for (int d = 0; d < view->ndim; d++) QLOW_TRY(qlow__mul_size(bytes, (size_t)view->shape[d], &bytes));
    size_t nl;
    QLOW_TRY(begin_tensor(w, name, &nl));
    uint64_t off = w->pos;
    uint32_t crc;
    QLOW_TRY(write_view(w, view, &crc));
    int64_t shape[QLOW_VIEW_MAX_DIMS] = {1, 1, 1, 1};
    for (int d = 0; d < view->ndim; d++) shape[d] = view->shape[d];
    return add_entry(w, name, nl, QLOW_QFILE_DENSE, view->dtype, (int32_t)(8 * qlow__dtype_size(view->dtype)),
                     view->ndim, shape, off, bytes, crc);
}

static qlow_status set_meta(qlow_qfile_writer *w, const char *key, uint32_t type, const void *value, size_t size)
{
    QLOW_TRY(check_usable(w));
    if (!key || (!value && size)) return QLOW_E_NULL_POINTER;
    size_t n = strlen(key);
    if (!valid_name(key, n) || name_taken(w, &w->meta, w->n_meta, QF_META_ENTRY, key, n))
        return QLOW_E_INVALID_ARG;
    if (w->n_meta >= UINT32_MAX) return QLOW_E_OVERFLOW;
    QLOW_TRY(reserve(w, &w->meta, QF_META_ENTRY, n, size));
    unsigned char *e = w->meta.p + w->meta.n;
    memset(e, 0, QF_META_ENTRY);
    qlow__st64(e + QF_M_KEYOFF, put_string(w, key, n));
    qlow__st32(e + QF_M_KEYLEN, (uint32_t)n);
    qlow__st32(e + QF_M_TYPE, type);
    qlow__st64(e + QF_M_VALOFF, put_string(w, value, size));
    qlow__st64(e + QF_M_VALLEN, size);
    w->meta.n += QF_META_ENTRY;
    w->n_meta++;
    return QLOW_OK;
}

qlow_status qlow_qfile_writer_set_string(qlow_qfile_writer *w, const char *key, const char *value)
{
    if (!value) return QLOW_E_NULL_POINTER;
    return set_meta(w, key, QLOW_META_STRING, value, strlen(value));
}

qlow_status qlow_qfile_writer_set_int(qlow_qfile_writer *w, const char *key, int64_t value)
{
    unsigned char b[8];
    qlow__st64(b, (uint64_t)value);
    return set_meta(w, key, QLOW_META_INT, b, 8);
}

qlow_status qlow_qfile_writer_set_float(qlow_qfile_writer *w, const char *key, double value)
{
    unsigned char b[8];
    uint64_t u;
    memcpy(&u, &value, 8);
    qlow__st64(b, u);
    return set_meta(w, key, QLOW_META_FLOAT, b, 8);
}

qlow_status qlow_qfile_writer_set_bytes(qlow_qfile_writer *w, const char *key, const void *value, size_t size)
{
    return set_meta(w, key, QLOW_META_BYTES, value, size);
}

qlow_status qlow_qfile_writer_set_model(qlow_qfile_writer *w, const qlow_model *model)
{
    static const struct {
        int32_t key;
        const char *name;
    } keys[] = {{QLOW_MODEL_DIM, "model.dim"},
                {QLOW_MODEL_HIDDEN_DIM, "model.hidden_dim"},
                {QLOW_MODEL_N_LAYERS, "model.n_layers"},
                {QLOW_MODEL_N_HEADS, "model.n_heads"},
                {QLOW_MODEL_N_KV_HEADS, "model.n_kv_heads"},
                {QLOW_MODEL_VOCAB_SIZE, "model.vocab_size"},
                {QLOW_MODEL_SEQ_LEN, "model.seq_len"},
                {QLOW_MODEL_SHARED_CLASSIFIER, "model.shared_classifier"},
                {QLOW_MODEL_QK_HF_ORDER, "model.qk_hf_order"},
                {QLOW_MODEL_NORM_EPS, "model.norm_eps"},
                {QLOW_MODEL_ROPE_THETA, "model.rope_theta"}};
    QLOW_TRY(check_usable(w));
    if (!model) return QLOW_E_NULL_POINTER;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int64_t iv;
        double fv;
        if (qlow_model_get_int(model, keys[i].key, &iv) == QLOW_OK)
            QLOW_TRY(qlow_qfile_writer_set_int(w, keys[i].name, iv));
        else if (qlow_model_get_float(model, keys[i].key, &fv) == QLOW_OK)
            QLOW_TRY(qlow_qfile_writer_set_float(w, keys[i].name, fv));
    }
    uint8_t digest[32];
    QLOW_TRY(qlow_model_sha256(model, digest));
    return qlow_qfile_writer_set_bytes(w, "source.sha256", digest, sizeof digest);
}

qlow_status qlow_qfile_writer_finish(qlow_qfile_writer *w)
{
    QLOW_TRY(check_usable(w));
    QLOW_TRY(sink_pad(w, 8));
    static const unsigned char zeros[8];
    size_t pad = (8 - (w->strings.n % 8)) % 8; /* keeps the footer, and so the file size, 8-aligned */
    uint64_t dir_off = w->pos, dir_bytes = (uint64_t)w->tensors.n + w->meta.n + w->strings.n + pad;
    uint32_t crc = qlow__crc32c_update(0, w->tensors.p, w->tensors.n);
    crc = qlow__crc32c_update(crc, w->meta.p, w->meta.n);
    crc = qlow__crc32c_update(crc, w->strings.p, w->strings.n);
    crc = qlow__crc32c_update(crc, zeros, pad);
    QLOW_TRY(sink_write(w, w->tensors.p, w->tensors.n));
    QLOW_TRY(sink_write(w, w->meta.p, w->meta.n));
    QLOW_TRY(sink_write(w, w->strings.p, w->strings.n));
    QLOW_TRY(sink_write(w, zeros, pad));
    unsigned char f[QF_FOOTER_BYTES];
    memset(f, 0, sizeof f);
    memcpy(f, qf_magic_foot, 8);
    f[QF_F_MAJOR] = QF_VERSION_MAJOR;
    f[QF_F_MINOR] = QF_VERSION_MINOR;
    qlow__st32(f + QF_F_NTENSORS, (uint32_t)w->n_tensors);
    qlow__st32(f + QF_F_NMETA, (uint32_t)w->n_meta);
    qlow__st32(f + QF_F_DIRCRC, crc);
    qlow__st64(f + QF_F_DIROFF, dir_off);
    qlow__st64(f + QF_F_DIRBYTES, dir_bytes);
    qlow__st64(f + QF_F_FILEBYTES, dir_off + dir_bytes + QF_FOOTER_BYTES);
    qlow__st32(f + QF_F_CRC, qlow__crc32c_update(0, f, QF_F_CRC));
    QLOW_TRY(sink_write(w, f, sizeof f));
    if (w->sink == 1) {
        qlow_status st = qlow__out_file_close(w->file, 0);
        w->file = NULL;
        if (st != QLOW_OK) {
            w->failed = st;
            return st;
        }
    }
    w->finished = 1;
    return QLOW_OK;
}

const qlow_allocator *qlow__qfile_writer_allocator(const qlow_qfile_writer *w) { return &w->alloc; }

qlow_status qlow_qfile_writer_bytes(const qlow_qfile_writer *w, uint64_t *bytes)
{
    if (!w || !bytes) return QLOW_E_NULL_POINTER;
    *bytes = w->pos;
    return QLOW_OK;
}

void qlow_qfile_writer_destroy(qlow_qfile_writer *w)
{
    if (w && w->magic == WRITER_MAGIC) writer_free(w);
}
