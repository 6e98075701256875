/* test_io_llama2c.c - the llama2.c checkpoint reader on the bundled stories260K model: header values
 * from data/README.md, the exact size, tensor contents read straight from the file bytes, the shared
 * classifier, SHA-256 of the file, every truncation length and allocation failure. */
#include "qtest.h"
#include "io_testutil.h"

static float file_float(const unsigned char *bytes, size_t float_index)
{
    float v;
    memcpy(&v, bytes + 28 + 4 * float_index, 4);
    return v;
}

static void check_config(const qlow_model *m)
{
    static const struct {
        int32_t key;
        int64_t want;
    } want[] = {{QLOW_MODEL_DIM, 64},       {QLOW_MODEL_HIDDEN_DIM, 172}, {QLOW_MODEL_N_LAYERS, 5},
                {QLOW_MODEL_N_HEADS, 8},    {QLOW_MODEL_N_KV_HEADS, 4},   {QLOW_MODEL_VOCAB_SIZE, 512},
                {QLOW_MODEL_SEQ_LEN, 512},  {QLOW_MODEL_SHARED_CLASSIFIER, 1}, {QLOW_MODEL_HEAD_DIM, 8},
                {QLOW_MODEL_SOURCE, QLOW_MODEL_SOURCE_LLAMA2C}, {QLOW_MODEL_QK_HF_ORDER, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t v = -1;
        QT_CHECK_OK(qlow_model_get_int(m, want[i].key, &v));
        QT_CHECK(v == want[i].want, "key %d = %lld, want %lld", (int)want[i].key, (long long)v,
                 (long long)want[i].want);
    }
    double eps = 0, theta = 0;
    QT_CHECK_OK(qlow_model_get_float(m, QLOW_MODEL_NORM_EPS, &eps));
    QT_CHECK_OK(qlow_model_get_float(m, QLOW_MODEL_ROPE_THETA, &theta));
    QT_CHECK(eps == 1e-5 && theta == 10000.0, "eps %g theta %g", eps, theta);
    int64_t v;
    QT_CHECK_STATUS(qlow_model_get_int(m, QLOW_MODEL_NORM_EPS, &v), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_model_get_int(m, 999, &v), QLOW_E_PARAM);
}

/* Where each canonical tensor starts in the file, computed independently from the README layout. */
static void check_tensors(const qlow_model *m, const unsigned char *bytes)
{
    size_t count = 0;
    QT_CHECK_OK(qlow_model_tensor_count(m, &count));
    QT_CHECK(count == 1 + 9 * 5 + 1 + 2, "tensor count %zu", count);
    const size_t dim = 64, hid = 172, L = 5, kv = 32, vocab = 512;
    size_t off_att = vocab * dim, off_wq = off_att + L * dim, off_wk = off_wq + L * dim * dim;
    size_t off_wv = off_wk + L * kv * dim, off_wo = off_wv + L * kv * dim, off_ffn = off_wo + L * dim * dim;
    size_t off_w1 = off_ffn + L * dim, off_w2 = off_w1 + L * hid * dim, off_w3 = off_w2 + L * dim * hid;
    size_t off_norm = off_w3 + L * hid * dim, off_fr = off_norm + dim;
    struct {
        const char *name;
        size_t first, rows, cols;
    } cases[] = {{"tok_embeddings", 0, vocab, dim},
                 {"layers.0.attention_norm", off_att, dim, 0},
                 {"layers.3.attention.wq", off_wq + 3 * dim * dim, dim, dim},
                 {"layers.4.attention.wk", off_wk + 4 * kv * dim, kv, dim},
                 {"layers.1.attention.wv", off_wv + 1 * kv * dim, kv, dim},
                 {"layers.2.attention.wo", off_wo + 2 * dim * dim, dim, dim},
                 {"layers.4.ffn_norm", off_ffn + 4 * dim, dim, 0},
                 {"layers.0.feed_forward.w1", off_w1, hid, dim},
                 {"layers.2.feed_forward.w2", off_w2 + 2 * dim * hid, dim, hid},
                 {"layers.4.feed_forward.w3", off_w3 + 4 * hid * dim, hid, dim},
                 {"norm", off_norm, dim, 0},
                 {"freq_cis_real", off_fr, 512, 4},
                 {"freq_cis_imag", off_fr + 512 * 4, 512, 4}};
    float *buf = (float *)malloc(vocab * dim * sizeof(float));
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t idx;
        QT_CHECK_OK(qlow_model_tensor_find(m, cases[c].name, &idx));
        const char *name;
        int32_t dtype, ndim;
        int64_t shape[4];
        QT_CHECK_OK(qlow_model_tensor_info(m, idx, &name, &dtype, &ndim, shape));
        QT_CHECK(strcmp(name, cases[c].name) == 0 && dtype == QLOW_DTYPE_F32, "%s info", cases[c].name);
        QT_CHECK(ndim == (cases[c].cols ? 2 : 1) && shape[0] == (int64_t)cases[c].rows &&
                     (!cases[c].cols || shape[1] == (int64_t)cases[c].cols),
                 "%s shape %lld x %lld", cases[c].name, (long long)shape[0], (long long)shape[1]);
        size_t n = cases[c].rows * (cases[c].cols ? cases[c].cols : 1);
        QT_CHECK_OK(qlow_model_tensor_read_f32(m, idx, buf, n));
        int same = 1;
        for (size_t i = 0; i < n; i++) same &= memcmp(&buf[i], bytes + 28 + 4 * (cases[c].first + i), 4) == 0;
        QT_CHECK(same, "%s contents", cases[c].name);
        qlow_view v;
        QT_CHECK_OK(qlow_model_tensor_view(m, idx, &v));
        QT_CHECK(v.dtype == QLOW_DTYPE_F32 && ((const float *)v.data)[n - 1] == file_float(bytes, cases[c].first + n - 1),
                 "%s view", cases[c].name);
        QT_CHECK_STATUS(qlow_model_tensor_read_f32(m, idx, buf, n - 1), QLOW_E_BUFFER_TOO_SMALL);
        /* Released pages come back from the file unchanged. */
        QT_CHECK_OK(qlow_model_tensor_release(m, idx));
        QT_CHECK_OK(qlow_model_tensor_read_f32(m, idx, buf, n));
        QT_CHECK(memcmp(buf, bytes + 28 + 4 * cases[c].first, 4 * n) == 0, "%s after release", cases[c].name);
    }
    free(buf);
    size_t idx;
    QT_CHECK_STATUS(qlow_model_tensor_find(m, "output", &idx), QLOW_E_NOT_FOUND);
    QT_CHECK_STATUS(qlow_model_tensor_find(m, "layers.5.attention.wq", &idx), QLOW_E_NOT_FOUND);
    QT_CHECK_STATUS(qlow_model_tensor_info(m, count, NULL, NULL, NULL, NULL), QLOW_E_INVALID_ARG);
    /* A real weight has a plausible spread: the embedding is not all zeros or garbage. */
    float e0 = file_float(bytes, 0);
    QT_CHECK(e0 == e0 && fabsf(e0) < 10.0f, "embedding[0] = %g", e0);
}

static void test_open_paths(void)
{
    char path[512];
    size_t size = 0;
    unsigned char *bytes = io_read_data("data/stories260K.bin", &size);
    QT_CHECK(bytes && size == 1056540, "stories260K.bin size %zu", size);
    if (!bytes) return;
    qlow_model *m = NULL;
    QT_CHECK_OK(qlow_model_open(qt_path("data/stories260K.bin", path, sizeof path), NULL, NULL, &m));
    if (m) {
        check_config(m);
        check_tensors(m, bytes);
        uint8_t d[32];
        char hex[65];
        QT_CHECK_OK(qlow_model_sha256(m, d));
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
        QT_CHECK(strcmp(hex, "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696") == 0,
                 "sha256 %s", hex);
        qlow_model_close(m);
    }
    /* The read path (no mmap) and the caller-buffer path give the same model. */
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PARAM_IO_USE_MMAP, 0));
    m = NULL;
    QT_CHECK_OK(qlow_model_open(path, p, NULL, &m));
    if (m) {
        check_tensors(m, bytes);
        qlow_model_close(m);
    }
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PARAM_IO_MODEL_FORMAT, QLOW_MODEL_SOURCE_SAFETENSORS));
    QT_CHECK_STATUS(qlow_model_open_buffer(bytes, size, p, NULL, &m), QLOW_E_TRUNCATED);
    qlow_params_destroy(p);
    m = NULL;
    QT_CHECK_OK(qlow_model_open_buffer(bytes, size, NULL, NULL, &m));
    if (m) {
        check_config(m);
        qlow_model_close(m);
    }
    QT_CHECK_STATUS(qlow_model_open("/nonexistent/x.bin", NULL, NULL, &m), QLOW_E_IO);
    QT_CHECK_STATUS(qlow_model_open(NULL, NULL, NULL, &m), QLOW_E_NULL_POINTER);

    /* Unshared classifier: a negative vocab size adds "output" after the RoPE tables. */
    size_t extra = 512 * 64 * 4;
    unsigned char *big = (unsigned char *)malloc(size + extra);
    memcpy(big, bytes, size);
    for (size_t i = 0; i < extra; i++) big[size + i] = (unsigned char)(i * 7);
    int32_t neg = -512;
    memcpy(big + 20, &neg, 4);
    QT_CHECK_OK(qlow_model_open_buffer(big, size + extra, NULL, NULL, &m));
    if (m) {
        int64_t shared = -1;
        size_t idx;
        QT_CHECK_OK(qlow_model_get_int(m, QLOW_MODEL_SHARED_CLASSIFIER, &shared));
        QT_CHECK(shared == 0, "shared %lld", (long long)shared);
        QT_CHECK_OK(qlow_model_tensor_find(m, "output", &idx));
        const void *unused;
        (void)unused;
        float last;
        float *out = (float *)malloc(extra);
        QT_CHECK_OK(qlow_model_tensor_read_f32(m, idx, out, extra / 4));
        memcpy(&last, big + size + extra - 4, 4);
        QT_CHECK(memcmp(&out[extra / 4 - 1], &last, 4) == 0, "output tail");
        free(out);
        qlow_model_close(m);
    }
    /* ... and the same file with the positive vocab is one classifier too long. */
    memcpy(big + 20, bytes + 20, 4);
    QT_CHECK_STATUS(qlow_model_open_buffer(big, size + extra, NULL, NULL, &m), QLOW_E_FORMAT);
    free(big);

    /* Every truncation length is rejected cleanly (a stride keeps it fast; the header is exhaustive). */
    long bad = 0;
    for (size_t n = 0; n < size; n += (n < 64 ? 1 : 4093)) {
        qlow_model *t = NULL;
        qlow_status st = qlow_model_open_buffer(bytes, n, NULL, NULL, &t);
        bad += st != QLOW_E_TRUNCATED || t != NULL;
    }
    QT_CHECK(bad == 0, "%ld truncations not reported as QLOW_E_TRUNCATED", bad);

    /* Hostile headers: zero, negative, inconsistent and overflowing sizes. */
    static const int32_t hostile[][7] = {{0, 172, 5, 8, 4, 512, 512},       {64, 172, 5, 7, 4, 512, 512},
                                         {64, 172, 5, 8, 3, 512, 512},      {64, 172, 5, 8, 16, 512, 512},
                                         {64, -1, 5, 8, 4, 512, 512},       {64, 172, 5, 8, 4, 512, 0},
                                         {2147483640, 2147483640, 2147483647, 8, 4, 2147483647, 2147483647},
                                         {24, 172, 5, 8, 4, 512, 512},      {64, 172, 5, 8, 4, INT32_MIN, 512}};
    for (size_t h = 0; h < sizeof hostile / sizeof hostile[0]; h++) {
        unsigned char hb[4096];
        memset(hb, 0, sizeof hb);
        memcpy(hb, hostile[h], 28);
        qlow_model *t = NULL;
        qlow_status st = qlow_model_open_buffer(hb, sizeof hb, NULL, NULL, &t);
        QT_CHECK(st == QLOW_E_FORMAT || st == QLOW_E_OVERFLOW || st == QLOW_E_TRUNCATED,
                 "hostile header %zu -> %d", h, (int)st);
        QT_CHECK(t == NULL, "no model on failure");
    }

    /* Allocation failure at every point, on open and close. */
    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points, { st = qlow_model_open(path, NULL, &qa, &m); }, { qlow_model_close(m); });
    p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PARAM_IO_USE_MMAP, 0));
    QT_ALLOC_FAIL_LOOP(&points, { st = qlow_model_open(path, p, &qa, &m); }, { qlow_model_close(m); });
    qlow_params_destroy(p);
    printf("INFO llama2c reader: %ld allocation-failure points\n", points);
    free(bytes);
}

/* A tiny checkpoint built here (dim 4, hidden 6, 2 layers, 2 heads / 1 KV head, vocab 5, seq 3,
 * unshared classifier): every truncation length and every header bit flip. */
static void test_tiny(void)
{
    const int32_t hdr[7] = {4, 6, 2, 2, 1, -5, 3};
    const size_t floats = 5 * 4 + 2 * (4 + 16 + 8 + 8 + 16 + 4 + 24 + 24 + 24) + 4 + 2 * 3 * 1 + 5 * 4;
    size_t size = 28 + 4 * floats;
    unsigned char *f = (unsigned char *)malloc(size);
    memcpy(f, hdr, 28);
    for (size_t i = 0; i < floats; i++) {
        float v = (float)i * 0.25f;
        memcpy(f + 28 + 4 * i, &v, 4);
    }
    qlow_model *m = NULL;
    QT_CHECK_OK(qlow_model_open_buffer(f, size, NULL, NULL, &m));
    if (m) {
        size_t idx, count = 0;
        float out[20];
        qlow_model_tensor_count(m, &count);
        QT_CHECK(count == 1 + 2 * 9 + 1 + 2 + 1, "tiny tensor count %zu", count);
        QT_CHECK_OK(qlow_model_tensor_find(m, "output", &idx));
        QT_CHECK_OK(qlow_model_tensor_read_f32(m, idx, out, 20));
        QT_CHECK(out[0] == (float)(floats - 20) * 0.25f && out[19] == (float)(floats - 1) * 0.25f, "classifier last");
        QT_CHECK_OK(qlow_model_tensor_find(m, "layers.1.attention.wk", &idx));
        QT_CHECK_OK(qlow_model_tensor_read_f32(m, idx, out, 8));
        QT_CHECK(out[0] == (float)(20 + 8 + 32 + 8) * 0.25f, "layer 1 wk first value %g", out[0]);
        qlow_model_close(m);
    }
    long bad = 0;
    for (size_t n = 0; n < size; n++) {
        qlow_model *t = NULL;
        qlow_status st = qlow_model_open_buffer(f, n, NULL, NULL, &t);
        bad += st != QLOW_E_TRUNCATED || t != NULL;
    }
    QT_CHECK(bad == 0, "tiny: %ld of %zu truncations misreported", bad, size);
    long opened = 0;
    unsigned char *c = (unsigned char *)malloc(size);
    for (size_t bit = 0; bit < 28 * 8; bit++) {
        memcpy(c, f, size);
        c[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        qlow_model *t = NULL;
        qlow_status st = qlow_model_open_buffer(c, size, NULL, NULL, &t);
        QT_CHECK(st == QLOW_OK || st == QLOW_E_FORMAT || st == QLOW_E_TRUNCATED || st == QLOW_E_OVERFLOW,
                 "header bit %zu -> %d", bit, (int)st);
        opened += st == QLOW_OK;
        qlow_model_close(t);
    }
    /* Every header field enters the implied file size, so no single flip can leave a valid file. */
    QT_CHECK(opened == 0, "%ld header bit flips opened", opened);
    free(c);
    free(f);
}

int main(void)
{
    test_tiny();
    test_open_paths();
    return qt_finish();
}
