/* test_export_dequant.c - fake-quant export of a .qlow built from stories260K (every matrix Q4 symmetric
 * G=32): the llama2.c output loads back through the fp32 path with exactly the dequantized weights and
 * every other byte of the source; safetensors F32/F16 outputs (deterministic, self-describing) and a
 * safetensors source; the GGUF export of the same .qlow transcodes libqlow's grid into Q4_0 exactly;
 * failure statuses, no partial files, allocation failures. */
#include <unistd.h>

#include "export_testutil.h"

static qlow_model *model;
static qlow_ctx *ctx;
static unsigned char *qbuf;
static qlow_qfile *qfile;

/* Every matrix of `src` as packed Q4 symmetric G=32, the rest dense, into an in-memory .qlow. */
static qlow_qfile *build_qfile(const qlow_model *src, unsigned char **buf_out)
{
    size_t cap = 4u << 20, n;
    unsigned char *buf = (unsigned char *)aligned_alloc(64, cap);
    qlow_qfile_writer *w = NULL;
    qlow_params *p;
    qlow_params_create(NULL, &p);
    qlow_params_set_int(p, QLOW_P_BITS, 4);
    qlow_params_set_int(p, QLOW_P_GROUP_COLS, 32);
    qlow_params_set_int(p, QLOW_P_SYMMETRIC, 1);
    QT_CHECK_OK(qlow_qfile_writer_open_buffer(buf, cap, NULL, NULL, &w));
    QT_CHECK_OK(qlow_qfile_writer_set_model(w, src));
    qlow_model_tensor_count(src, &n);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        qlow_view v;
        qlow_model_tensor_info(src, i, &name, NULL, NULL, NULL);
        QT_CHECK_OK(qlow_model_tensor_view(src, i, &v));
        if (!tu_is_matrix(name)) {
            QT_CHECK_OK(qlow_qfile_writer_add_dense(w, name, &v));
            continue;
        }
        qlow_qmatrix *qm = NULL;
        QT_CHECK_OK(qlow_quantize(ctx, p, &v, NULL, &qm));
        size_t sz = 0;
        int32_t fmt = 0;
        qlow_qmatrix_serialized_size(qm, &sz);
        qlow_qmatrix_format(qm, &fmt);
        void *s = malloc(sz);
        qlow_qmatrix_serialize(qm, s, sz);
        QT_CHECK_OK(qlow_qfile_writer_add_packed(w, name, fmt, 4, v.shape[0], v.shape[1], s, sz));
        free(s);
        qlow_qmatrix_destroy(qm);
    }
    QT_CHECK_OK(qlow_qfile_writer_finish(w));
    uint64_t bytes = 0;
    qlow_qfile_writer_bytes(w, &bytes);
    qlow_qfile_writer_destroy(w);
    qlow_params_destroy(p);
    qlow_qfile *f = NULL;
    QT_CHECK_OK(qlow_qfile_open_buffer(buf, (size_t)bytes, NULL, NULL, &f));
    *buf_out = buf;
    return f;
}

/* The dequantized rows of packed tensor `name`. */
static float *dequantized(const char *name, size_t *count)
{
    size_t idx, size;
    const void *data;
    qlow_qmatrix *qm = NULL;
    int64_t r, c;
    if (qlow_qfile_tensor_find(qfile, name, &idx) || qlow_qfile_tensor_data(qfile, idx, &data, &size) ||
        qlow_qmatrix_wrap(ctx, data, size, &qm))
        return NULL;
    qlow_qmatrix_shape(qm, &r, &c);
    float *y = (float *)malloc((size_t)(r * c) * 4);
    qlow_qmatrix_dequantize(qm, 0, r, y, (size_t)(r * c));
    qlow_qmatrix_destroy(qm);
    *count = (size_t)(r * c);
    return y;
}

static qlow_status export_mem(const qlow_model *src, int32_t format, membuf *m)
{
    qlow_params *p;
    qlow_params_create(NULL, &p);
    qlow_params_set_int(p, QLOW_PARAM_EXPORT_FORMAT, format);
    memset(m, 0, sizeof *m);
    qlow_status st = qlow_export_dequant_callback(ctx, p, qfile, src, membuf_write, m);
    qlow_params_destroy(p);
    return st;
}

/* out must hold every tensor of src: packed ones as `conv`(dequantized), others as the source's values. */
static void compare_model(const qlow_model *out, const qlow_model *src, int f16, const char *what)
{
    size_t n, n2;
    qlow_model_tensor_count(src, &n);
    qlow_model_tensor_count(out, &n2);
    QT_CHECK(n == n2, "%s: %zu tensors", what, n);
    long bad = 0, packed = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name;
        size_t j, count = 0;
        int64_t shape[4], shape2[4];
        int32_t ndim, ndim2;
        qlow_model_tensor_info(src, i, &name, NULL, &ndim, shape);
        if (qlow_model_tensor_find(out, name, &j) || qlow_model_tensor_info(out, j, NULL, NULL, &ndim2, shape2) ||
            ndim != ndim2 || memcmp(shape, shape2, sizeof shape)) {
            bad++;
            continue;
        }
        for (int d = 0; d < 4; d++) count = d ? count * (size_t)shape[d] : (size_t)shape[0];
        float *a = (float *)malloc(count * 4), *b = (float *)malloc(count * 4);
        qlow_model_tensor_read_f32(out, j, a, count);
        size_t dc;
        float *dq = tu_is_matrix(name) ? dequantized(name, &dc) : NULL;
        if (dq) {
            packed++;
            memcpy(b, dq, count * 4);
            free(dq);
        } else {
            qlow_model_tensor_read_f32(src, i, b, count);
        }
        if (f16)
            for (size_t k = 0; k < count; k++) b[k] = qlow_fp16_to_fp32(qlow_fp32_to_fp16(b[k]));
        bad += memcmp(a, b, count * 4) != 0;
        free(a), free(b);
    }
    QT_CHECK(bad == 0 && packed == 35, "%s: 35 dequantized matrices and every other tensor exact (%ld bad)", what, bad);
}

static void check_llama2c(const unsigned char *src_bytes, size_t src_size)
{
    membuf m;
    QT_CHECK_OK(export_mem(model, QLOW_EXPORT_FORMAT_SOURCE, &m));
    QT_CHECK(m.n == src_size && !memcmp(m.p, src_bytes, 28), "llama2.c: same size (%zu) and header", m.n);
    qlow_model *out = NULL;
    QT_CHECK_OK(qlow_model_open_buffer(m.p, m.n, NULL, NULL, &out));
    if (out) {
        compare_model(out, model, 0, "llama2.c");
        /* bytes outside the 35 matrices are the source's, byte for byte */
        size_t n, diff = 0, covered = 0;
        qlow_model_tensor_count(model, &n);
        unsigned char *mask = (unsigned char *)calloc(src_size, 1);
        for (size_t i = 0; i < n; i++) {
            const char *name;
            qlow_view v;
            qlow_model_tensor_info(model, i, &name, NULL, NULL, NULL);
            qlow_model_tensor_view(model, i, &v);
            if (tu_is_matrix(name)) {
                size_t off = (size_t)((const unsigned char *)v.data - src_bytes), len = (size_t)(v.shape[0] * v.shape[1] * 4);
                memset(mask + off, 1, len);
                covered += len;
            }
        }
        for (size_t k = 0; k < src_size; k++) diff += !mask[k] && m.p[k] != src_bytes[k];
        QT_CHECK(diff == 0 && covered == 4 * 171520 + 4 * 55040, "llama2.c: %zu unquantized bytes identical", src_size - covered);
        printf("INFO fake-quant llama2.c export: %zu bytes (source %zu), 35 matrices dequantized, %zu bytes copied\n", m.n,
               src_size, src_size - covered);
        free(mask);
        qlow_model_close(out);
    }
    free(m.p);
}

static void check_safetensors(void)
{
    membuf a, b, h;
    QT_CHECK_OK(export_mem(model, QLOW_EXPORT_FORMAT_SAFETENSORS_F32, &a));
    QT_CHECK_OK(export_mem(model, QLOW_EXPORT_FORMAT_SAFETENSORS_F32, &b));
    QT_CHECK(a.n == b.n && !memcmp(a.p, b.p, a.n), "safetensors output is deterministic");
    uint64_t hl = gg_le(a.p, 8);
    QT_CHECK(hl % 8 == 0 && a.p[8] == '{' && (8 + hl) % 8 == 0, "header length %llu, data 8-aligned", (unsigned long long)hl);
    qlow_model *out = NULL;
    QT_CHECK_OK(qlow_model_open_buffer(a.p, a.n, NULL, NULL, &out));
    if (out) {
        int64_t v[4] = {0};
        double eps = 0, theta = 0;
        qlow_model_get_int(out, QLOW_MODEL_N_HEADS, &v[0]);
        qlow_model_get_int(out, QLOW_MODEL_N_KV_HEADS, &v[1]);
        qlow_model_get_int(out, QLOW_MODEL_SEQ_LEN, &v[2]);
        qlow_model_get_int(out, QLOW_MODEL_QK_HF_ORDER, &v[3]);
        qlow_model_get_float(out, QLOW_MODEL_NORM_EPS, &eps);
        qlow_model_get_float(out, QLOW_MODEL_ROPE_THETA, &theta);
        QT_CHECK(v[0] == 8 && v[1] == 4 && v[2] == 512 && v[3] == 0 && eps == 1e-5 && theta == 10000.0,
                 "safetensors metadata gives back the configuration and interleaved q/k order");
        compare_model(out, model, 0, "safetensors F32");
        qlow_model_close(out);
    }
    QT_CHECK_OK(export_mem(model, QLOW_EXPORT_FORMAT_SAFETENSORS_F16, &h));
    QT_CHECK_OK(qlow_model_open_buffer(h.p, h.n, NULL, NULL, &out));
    if (out) {
        compare_model(out, model, 1, "safetensors F16");
        /* the F16 file as the source: format SOURCE keeps F16, unquantized tensors byte for byte */
        membuf s;
        QT_CHECK_OK(export_mem(out, QLOW_EXPORT_FORMAT_SOURCE, &s));
        QT_CHECK(s.n == h.n && !memcmp(s.p, h.p, h.n), "F16 source re-exported in its own dtypes is identical");
        free(s.p);
        QT_CHECK_STATUS(export_mem(out, QLOW_EXPORT_FORMAT_LLAMA2C, &s), QLOW_E_UNSUPPORTED);
        free(s.p);
        qlow_model_close(out);
    }
    printf("INFO fake-quant safetensors: F32 %zu bytes, F16 %zu bytes\n", a.n, h.n);
    free(a.p), free(b.p), free(h.p);
}

/* GGUF Q4_0 from the .qlow: libqlow's Q4 symmetric G=32 values are stored exactly. */
static void check_gguf_from_qlow(void)
{
    membuf m;
    memset(&m, 0, sizeof m);
    QT_CHECK_OK(qlow_export_gguf_callback(ctx, NULL, NULL, qfile, NULL, QLOW_GGML_Q4_0, NULL, NULL, membuf_write, &m));
    gg_file f;
    int ok = gg_parse(&f, m.p, m.n);
    QT_CHECK(ok, "GGUF from .qlow validates (%s)", f.err ? f.err : "");
    long diff = 0, checked = 0;
    for (int l = 0; ok && l < 5; l++) {
        static const char *g[6] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"};
        static const char *c[6] = {"attention.wq", "attention.wk", "attention.wv", "attention.wo",
                                   "feed_forward.w1", "feed_forward.w3"};
        for (int k = 0; k < 6; k++) {
            char gn[64], cn[64];
            snprintf(gn, sizeof gn, "blk.%d.%s.weight", l, g[k]);
            snprintf(cn, sizeof cn, "layers.%d.%s", l, c[k]);
            const gg_tensor *t = gg_find_tensor(&f, gn);
            size_t count;
            float *dq = dequantized(cn, &count), y[32];
            if (!t || t->type != 2 || !dq) {
                diff++;
                free(dq);
                continue;
            }
            for (size_t b = 0; b < count / 32; b++) {
                tu_decode_block(2, m.p + f.data + t->off + b * 18, y);
                for (int j = 0; j < 32; j++) diff += y[j] != dq[b * 32 + j];
            }
            checked += (long)count;
            free(dq);
        }
    }
    QT_CHECK(diff == 0 && checked == 5 * (64 * 64 * 2 + 32 * 64 * 2 + 172 * 64 * 2),
             "GGUF Q4_0 holds libqlow's Q4 values exactly (%ld of %ld differ)", diff, checked);
    free(m.p);
}

static void check_failures(void)
{
    membuf m;
    memset(&m, 0, sizeof m);
    QT_CHECK_STATUS(qlow_export_dequant_callback(ctx, NULL, NULL, model, membuf_write, &m), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_export_dequant_callback(ctx, NULL, qfile, NULL, membuf_write, &m), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_export_dequant(ctx, NULL, qfile, model, NULL), QLOW_E_NULL_POINTER);
    m.fail_after = 3;
    QT_CHECK_STATUS(qlow_export_dequant_callback(ctx, NULL, qfile, model, membuf_write, &m), QLOW_E_CALLBACK);
    free(m.p);
    const char *path = "/tmp/qlow_test_fakequant.bin";
    remove(path);
    QT_CHECK_OK(qlow_export_dequant(ctx, NULL, qfile, model, path));
    QT_CHECK(access(path, F_OK) == 0 && access("/tmp/qlow_test_fakequant.bin.tmp", F_OK) != 0, "renamed into place");
    qlow_model *back = NULL;
    QT_CHECK_OK(qlow_model_open(path, NULL, NULL, &back));
    if (back) compare_model(back, model, 0, "llama2.c file");
    qlow_model_close(back);
    remove(path);
    QT_CHECK_STATUS(qlow_export_dequant(ctx, NULL, qfile, model, "/nonexistent-dir/out.bin"), QLOW_E_IO);

    /* a packed tensor whose shape differs from the source's, and one the source lacks */
    static const struct { const char *name; qlow_status want; } bad[] = {
        {"layers.0.attention.wq", QLOW_E_SHAPE}, {"layers.7.attention.wk", QLOW_E_NOT_FOUND}};
    for (size_t k = 0; k < 2; k++) {
        size_t cap = 1 << 16, idx, size;
        unsigned char *buf = (unsigned char *)aligned_alloc(64, cap);
        const void *data;
        qlow_qfile_writer *w = NULL;
        qlow_qfile_tensor_find(qfile, "layers.0.attention.wk", &idx);
        qlow_qfile_tensor_data(qfile, idx, &data, &size);
        qlow_qfile_writer_open_buffer(buf, cap, NULL, NULL, &w);
        qlow_qfile_writer_add_packed(w, bad[k].name, QLOW_FORMAT_Q4, 4, 32, 64, data, size);
        qlow_qfile_writer_finish(w);
        uint64_t bytes;
        qlow_qfile_writer_bytes(w, &bytes);
        qlow_qfile_writer_destroy(w);
        qlow_qfile *f = NULL;
        QT_CHECK_OK(qlow_qfile_open_buffer(buf, (size_t)bytes, NULL, NULL, &f));
        memset(&m, 0, sizeof m);
        QT_CHECK_STATUS(qlow_export_dequant_callback(ctx, NULL, f, model, membuf_write, &m), bad[k].want);
        QT_CHECK_STATUS(qlow_export_dequant(ctx, NULL, f, model, path), bad[k].want);
        QT_CHECK(access(path, F_OK) != 0 && access("/tmp/qlow_test_fakequant.bin.tmp", F_OK) != 0,
                 "failed export leaves no file");
        free(m.p);
        qlow_qfile_close(f);
        free(buf);
    }

    /* allocation failures: clean NO_MEMORY, nothing leaked */
    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points, {
        qlow_ctx *c2 = NULL;
        membuf mm;
        memset(&mm, 0, sizeof mm);
        st = qlow_ctx_create(&qa, &c2);
        if (!st) st = qlow_export_dequant_callback(c2, NULL, qfile, model, membuf_write, &mm);
        if (!st) {
            qlow_params *p = NULL;
            free(mm.p);
            memset(&mm, 0, sizeof mm);
            st = qlow_params_create(&qa, &p);
            if (!st) st = qlow_params_set_int(p, QLOW_PARAM_EXPORT_FORMAT, QLOW_EXPORT_FORMAT_SAFETENSORS_F16);
            if (!st) st = qlow_export_dequant_callback(c2, p, qfile, model, membuf_write, &mm);
            qlow_params_destroy(p);
        }
        if (!st) {
            free(mm.p);
            memset(&mm, 0, sizeof mm);
            st = qlow_export_gguf_callback(c2, NULL, NULL, qfile, NULL, QLOW_GGML_Q4_1, NULL, NULL, membuf_write, &mm);
        }
        free(mm.p);
        qlow_ctx_destroy(c2);
    }, (void)0);
    QT_CHECK(points > 5, "allocation failure points exercised: %ld", points);
}

int main(void)
{
    char path[512];
    qt_path("data/stories260K.bin", path, sizeof path);
    FILE *fp = fopen(path, "rb");
    static unsigned char src[1056540];
    size_t src_size = fp ? fread(src, 1, sizeof src, fp) : 0;
    if (fp) fclose(fp);
    QT_CHECK(src_size == sizeof src, "source read");
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    QT_CHECK_OK(qlow_model_open_buffer(src, src_size, NULL, NULL, &model));
    if (!model || !ctx) return qt_finish();
    qfile = build_qfile(model, &qbuf);
    if (!qfile) return qt_finish();
    check_llama2c(src, src_size);
    check_safetensors();
    check_gguf_from_qlow();
    check_failures();
    qlow_qfile_close(qfile);
    free(qbuf);
    qlow_model_close(model);
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
