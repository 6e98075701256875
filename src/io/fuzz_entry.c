/* fuzz_entry.c - see io_fuzz.h. */
#include "io/io_fuzz.h"
#include "io/qfile_format.h"

static int loader_status_ok(qlow_status st)
{
    return st == QLOW_E_TRUNCATED || st == QLOW_E_FORMAT || st == QLOW_E_OVERFLOW || st == QLOW_E_DTYPE ||
           st == QLOW_E_UNSUPPORTED || st == QLOW_E_VERSION_MISMATCH || st == QLOW_E_CHECKSUM ||
           st == QLOW_E_NO_MEMORY;
}

static int fuzz_model_with(const uint8_t *data, size_t size, int64_t format)
{
    qlow_params *p = NULL;
    if (qlow_params_create(NULL, &p) != QLOW_OK) return 0;
    qlow_params_set_int(p, QLOW_PARAM_IO_MODEL_FORMAT, format);
    qlow_model *m = NULL;
    qlow_status st = qlow_model_open_buffer(data, size, p, NULL, &m);
    qlow_params_destroy(p);
    if (st != QLOW_OK) return !loader_status_ok(st) || m != NULL;
    int bad = 0;
    size_t n = 0, nm = 0;
    bad |= qlow_model_tensor_count(m, &n) != QLOW_OK;
    const qlow_allocator *a = qlow__default_allocator();
    for (size_t i = 0; i < n; i++) {
        const char *name;
        int32_t dtype, ndim;
        int64_t shape[QLOW_VIEW_MAX_DIMS];
        size_t found, count = 1;
        bad |= qlow_model_tensor_info(m, i, &name, &dtype, &ndim, shape) != QLOW_OK;
        bad |= qlow_model_tensor_find(m, name, &found) != QLOW_OK || found != i;
        qlow_view v;
        qlow_status vs = qlow_model_tensor_view(m, i, &v);
        bad |= vs != QLOW_OK && vs != QLOW_E_ALIGNMENT && vs != QLOW_E_UNSUPPORTED;
        for (int d = 0; d < ndim; d++) count *= (size_t)shape[d];
        if (dtype != QLOW_DTYPE_F32 && dtype != QLOW_DTYPE_F16 && dtype != QLOW_DTYPE_BF16) continue;
        float *buf = (float *)qlow__alloc(a, count * sizeof(float), 64);
        if (!buf) continue;
        bad |= qlow_model_tensor_read_f32(m, i, buf, count) != QLOW_OK;
        qlow__free(a, buf);
    }
    bad |= qlow_model_meta_count(m, &nm) != QLOW_OK;
    for (size_t i = 0; i < nm; i++) {
        const char *k, *val;
        bad |= qlow_model_meta_get(m, i, &k, &val) != QLOW_OK || !k || !val;
    }
    for (int32_t key = 1; key <= QLOW_MODEL_QK_HF_ORDER; key++) {
        int64_t iv;
        double fv;
        qlow_model_get_int(m, key, &iv);
        qlow_model_get_float(m, key, &fv);
    }
    uint8_t digest[32];
    bad |= qlow_model_sha256(m, digest) != QLOW_OK;
    qlow_model_close(m);
    return bad;
}

int qlow__fuzz_model(const uint8_t *data, size_t size) { return fuzz_model_with(data, size, 0); }
int qlow__fuzz_llama2c(const uint8_t *data, size_t size) { return fuzz_model_with(data, size, QLOW_MODEL_SOURCE_LLAMA2C); }
int qlow__fuzz_safetensors(const uint8_t *data, size_t size)
{
    return fuzz_model_with(data, size, QLOW_MODEL_SOURCE_SAFETENSORS);
}

static int roundtrip(const qlow_tokenizer *t, const char *text, size_t len)
{
    const qlow_allocator *a = qlow__default_allocator();
    size_t cap = len + 3, n = 0, back_len = 0;
    int32_t *tok = (int32_t *)qlow__alloc(a, cap * sizeof(int32_t), 64);
    char *back = (char *)qlow__alloc(a, 4 * len + 64, 64);
    int bad = 0;
    if (tok && back) {
        bad |= qlow_tokenizer_encode(t, text, len, 1, 0, tok, cap, &n) != QLOW_OK;
        /* Decoding reproduces the text unless the vocabulary spells byte-token-like pieces oddly,
         * which only a corrupted file does; check only that it succeeds or reports a small buffer. */
        qlow_status st = qlow_tokenizer_decode(t, tok, n, back, 4 * len + 64, &back_len);
        bad |= st != QLOW_OK && st != QLOW_E_BUFFER_TOO_SMALL;
    }
    if (tok) qlow__free(a, tok);
    if (back) qlow__free(a, back);
    return bad;
}

int qlow__fuzz_tokenizer(const uint8_t *data, size_t size)
{
    qlow_tokenizer *t = NULL;
    qlow_status st = qlow_tokenizer_open_buffer(data, size, 0, NULL, &t);
    if (st != QLOW_OK) return !loader_status_ok(st) || t != NULL;
    int bad = 0;
    static const char sample[] = "Once upon a time, there was a little girl named Lily.\n\xe2\x80\x9cHi!\xe2\x80\x9d";
    bad |= roundtrip(t, sample, sizeof sample - 1);
    bad |= roundtrip(t, (const char *)data, size < 4096 ? size : 4096);
    int32_t n = qlow_tokenizer_vocab_size(t);
    for (int32_t i = 0; i < n; i++) {
        const char *s, *piece;
        size_t len, plen;
        int32_t id;
        bad |= qlow_tokenizer_token(t, i, &s, &len, NULL) != QLOW_OK;
        bad |= qlow_tokenizer_lookup(t, s, len, &id) != QLOW_OK || id > i;
        bad |= qlow_tokenizer_decode_piece(t, QLOW_TOKEN_BOS, i, &piece, &plen) != QLOW_OK;
    }
    qlow_tokenizer_close(t);
    return bad;
}

int qlow__fuzz_qfile(const uint8_t *data, size_t size)
{
    qlow_qfile *f = NULL;
    qlow_status st = qlow_qfile_open_buffer(data, size, NULL, NULL, &f);
    if (st != QLOW_OK) return !loader_status_ok(st) || f != NULL;
    int bad = 0;
    size_t n = 0, nm = 0;
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    bad |= qlow_qfile_tensor_count(f, &n) != QLOW_OK;
    for (size_t i = 0; i < n; i++) {
        const char *name;
        int32_t kind, type, bits, ndim;
        int64_t shape[QLOW_VIEW_MAX_DIMS];
        size_t found, bytes;
        const void *p;
        bad |= qlow_qfile_tensor_info(f, i, &name, &kind, &type, &bits, &ndim, shape) != QLOW_OK;
        bad |= qlow_qfile_tensor_find(f, name, &found) != QLOW_OK || found != i;
        bad |= qlow_qfile_tensor_data(f, i, &p, &bytes) != QLOW_OK;
        bad |= qlow_qfile_tensor_verify(f, i) != QLOW_OK;
        qlow_view v;
        st = qlow_qfile_tensor_view(f, i, &v);
        bad |= kind == QLOW_QFILE_DENSE ? (st != QLOW_OK && st != QLOW_E_ALIGNMENT) : st != QLOW_E_DTYPE;
        if (kind != QLOW_QFILE_PACKED || !ctx) continue;
        qlow_qmatrix *qm = NULL;
        st = qlow_qfile_tensor_qmatrix(f, i, ctx, &qm);
        if (st != QLOW_OK) {
            /* Open validated aligned images already, so only misalignment or memory may fail here. */
            bad |= (st != QLOW_E_ALIGNMENT && st != QLOW_E_NO_MEMORY) || qm != NULL;
            continue;
        }
        float *row = (float *)qlow__alloc(qlow__default_allocator(), (size_t)shape[1] * sizeof(float), 64);
        if (row) {
            bad |= qlow_qmatrix_dequantize(qm, shape[0] - 1, 1, row, (size_t)shape[1]) != QLOW_OK;
            qlow__free(qlow__default_allocator(), row);
        }
        qlow_qmatrix_destroy(qm);
    }
    bad |= qlow_qfile_meta_count(f, &nm) != QLOW_OK;
    for (size_t i = 0; i < nm; i++) {
        const char *key;
        int32_t type;
        const void *val;
        size_t vs, found;
        bad |= qlow_qfile_meta_info(f, i, &key, &type, &val, &vs) != QLOW_OK;
        bad |= qlow_qfile_meta_find(f, key, &found) != QLOW_OK || found != i;
        const char *s;
        int64_t iv;
        double fv;
        bad |= (qlow_qfile_meta_get_string(f, key, &s) == QLOW_OK) != (type == QLOW_META_STRING);
        bad |= (qlow_qfile_meta_get_int(f, key, &iv) == QLOW_OK) != (type == QLOW_META_INT);
        bad |= (qlow_qfile_meta_get_float(f, key, &fv) == QLOW_OK) != (type == QLOW_META_FLOAT);
    }
    qlow_ctx_destroy(ctx);
    qlow_qfile_close(f);
    return bad;
}

/* Recompute every header checksum of a copy so that mutations reach the structural checks behind
 * them (a plain fuzzer almost never gets past a CRC). */
int qlow__fuzz_qfile_resealed(const uint8_t *data, size_t size)
{
    const qlow_allocator *a = qlow__default_allocator();
    if (size < QF_PREAMBLE_BYTES + QF_FOOTER_BYTES) return qlow__fuzz_qfile(data, size);
    unsigned char *m = (unsigned char *)qlow__alloc(a, size, 64);
    if (!m) return 0;
    memcpy(m, data, size);
    unsigned char *ft = m + size - QF_FOOTER_BYTES;
    uint64_t off = qlow__ld64(ft + QF_F_DIROFF), len = qlow__ld64(ft + QF_F_DIRBYTES);
    if (off <= size - QF_FOOTER_BYTES && len <= size - QF_FOOTER_BYTES - off)
        qlow__st32(ft + QF_F_DIRCRC, qlow__crc32c_update(0, m + off, (size_t)len));
    qlow__st32(ft + QF_F_CRC, qlow__crc32c_update(0, ft, QF_F_CRC));
    qlow__st32(m + QF_P_CRC, qlow__crc32c_update(0, m, QF_P_CRC));
    int bad = qlow__fuzz_qfile(m, size);
    qlow_params *p = NULL;
    if (qlow_params_create(NULL, &p) == QLOW_OK) {
        qlow_qfile *f = NULL;
        qlow_params_set_int(p, QLOW_PARAM_IO_VERIFY, 0);
        qlow_status st = qlow_qfile_open_buffer(m, size, p, NULL, &f);
        bad |= st != QLOW_OK && (!loader_status_ok(st) || f != NULL);
        qlow_qfile_close(f);
        qlow_params_destroy(p);
    }
    qlow__free(a, m);
    return bad;
}
