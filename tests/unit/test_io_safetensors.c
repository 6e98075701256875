/* test_io_safetensors.c - safetensors written by a small writer in this test, read back through the
 * library: F32/F16/BF16 values, the Hugging Face and Meta naming maps, config from shapes and metadata,
 * and hostile headers (bad JSON, deep nesting, duplicate keys, overflowing and overlapping offsets,
 * every truncation, random byte flips) that must give a clean status. */
#include "qtest.h"

/* ---- a minimal safetensors writer ---- */
typedef struct st_tensor {
    const char *name;
    const char *dtype; /* "F32", "F16", "BF16" */
    int ndim;
    long long shape[4];
    size_t count;
    const float *values; /* stored converted to dtype */
} st_tensor;

static size_t esize(const char *dt) { return strcmp(dt, "F32") == 0 ? 4 : 2; }

/* Returns a malloc'ed file; `meta` is raw JSON for __metadata__ (or NULL). */
static unsigned char *st_build(const st_tensor *t, int n, const char *meta, size_t *size)
{
    char *json = (char *)malloc(1 << 16);
    size_t off = 0, jl = 0;
    jl += (size_t)sprintf(json + jl, "{");
    if (meta) jl += (size_t)sprintf(json + jl, "\"__metadata__\":%s,", meta);
    for (int i = 0; i < n; i++) {
        size_t bytes = t[i].count * esize(t[i].dtype);
        jl += (size_t)sprintf(json + jl, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++) jl += (size_t)sprintf(json + jl, "%s%lld", d ? "," : "", t[i].shape[d]);
        jl += (size_t)sprintf(json + jl, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        off += bytes;
    }
    jl += (size_t)sprintf(json + jl, "}");
    while (jl % 8) json[jl++] = ' ';
    *size = 8 + jl + off;
    unsigned char *f = (unsigned char *)malloc(*size);
    for (int b = 0; b < 8; b++) f[b] = (unsigned char)((uint64_t)jl >> (8 * b));
    memcpy(f + 8, json, jl);
    unsigned char *p = f + 8 + jl;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < t[i].count; k++) {
            if (esize(t[i].dtype) == 4) {
                memcpy(p, &t[i].values[k], 4);
                p += 4;
            } else {
                uint16_t h = strcmp(t[i].dtype, "F16") == 0 ? qlow_fp32_to_fp16(t[i].values[k])
                                                             : qlow_fp32_to_bf16(t[i].values[k]);
                p[0] = (unsigned char)h;
                p[1] = (unsigned char)(h >> 8);
                p += 2;
            }
        }
    free(json);
    return f;
}

/* With a raw header (for hostile cases): 8-byte length, header, then `data_bytes` zero bytes. */
static unsigned char *st_raw(const char *header, size_t data_bytes, size_t *size)
{
    size_t hl = strlen(header);
    *size = 8 + hl + data_bytes;
    unsigned char *f = (unsigned char *)calloc(1, *size);
    for (int b = 0; b < 8; b++) f[b] = (unsigned char)((uint64_t)hl >> (8 * b));
    memcpy(f + 8, header, hl);
    return f;
}

#define DIM 8
#define HID 12
#define VOCAB 16
#define LAYERS 2

static float vals[32][VOCAB * HID];

static int build_model(st_tensor *t, int hf, const char *dt_emb, const char *dt_w, int with_head)
{
    static char names[32][64];
    int n = 0;
    static const char *hf_parts[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                     "mlp.gate_proj",    "mlp.down_proj",    "mlp.up_proj",      "input_layernorm",
                                     "post_attention_layernorm"};
    static const char *meta_parts[] = {"attention.wq",    "attention.wk",    "attention.wv",   "attention.wo",
                                       "feed_forward.w1", "feed_forward.w2", "feed_forward.w3", "attention_norm",
                                       "ffn_norm"};
    const long long rows[] = {DIM, DIM / 2, DIM / 2, DIM, HID, DIM, HID, DIM, DIM};
    const long long cols[] = {DIM, DIM, DIM, DIM, DIM, HID, DIM, 0, 0};
    for (int k = 0; k < 32; k++)
        for (int i = 0; i < VOCAB * HID; i++) vals[k][i] = (float)qt_rand_normal();
    t[n] = (st_tensor){hf ? "model.embed_tokens.weight" : "tok_embeddings.weight", dt_emb, 2, {VOCAB, DIM}, VOCAB * DIM, vals[n]};
    n++;
    for (int l = 0; l < LAYERS; l++)
        for (int p = 0; p < 9; p++) {
            if (hf)
                snprintf(names[n], 64, "model.layers.%d.%s.weight", l, hf_parts[p]);
            else
                snprintf(names[n], 64, "layers.%d.%s.weight", l, meta_parts[p]);
            t[n] = (st_tensor){names[n], p >= 7 ? "F32" : dt_w, cols[p] ? 2 : 1, {rows[p], cols[p]},
                               (size_t)(rows[p] * (cols[p] ? cols[p] : 1)), vals[n]};
            n++;
        }
    t[n] = (st_tensor){hf ? "model.norm.weight" : "norm.weight", "F32", 1, {DIM}, DIM, vals[n]};
    n++;
    if (with_head) {
        t[n] = (st_tensor){hf ? "lm_head.weight" : "output.weight", dt_emb, 2, {VOCAB, DIM}, VOCAB * DIM, vals[n]};
        n++;
    }
    return n;
}

static float convert(const char *dt, float v)
{
    if (strcmp(dt, "F16") == 0) return qlow_fp16_to_fp32(qlow_fp32_to_fp16(v));
    if (strcmp(dt, "BF16") == 0) return qlow_bf16_to_fp32(qlow_fp32_to_bf16(v));
    return v;
}

static void test_roundtrip(int hf, const char *dt_emb, const char *dt_w, int with_head)
{
    st_tensor t[32];
    int n = build_model(t, hf, dt_emb, dt_w, with_head);
    size_t size;
    const char *meta = hf ? "{\"num_attention_heads\":\"2\",\"rms_norm_eps\":\"1e-06\",\"rope_theta\":\"500000.0\","
                            "\"max_position_embeddings\":\"64\",\"note\":\"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00\","
                            "\"nested\":{\"a\":[1,2,{\"b\":null}]},\"count\":42}"
                          : "{\"n_heads\":\"2\",\"n_kv_heads\":\"1\"}";
    unsigned char *file = st_build(t, n, meta, &size);
    qlow_model *m = NULL;
    QT_CHECK_OK(qlow_model_open_buffer(file, size, NULL, NULL, &m));
    if (!m) {
        free(file);
        return;
    }
    static const char *canon[] = {"attention.wq",    "attention.wk",    "attention.wv",    "attention.wo",
                                  "feed_forward.w1", "feed_forward.w2", "feed_forward.w3", "attention_norm",
                                  "ffn_norm"};
    float *buf = (float *)malloc(sizeof(float) * VOCAB * HID);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        char want[64];
        if (i == 0) snprintf(want, 64, "tok_embeddings");
        else if (i <= LAYERS * 9) snprintf(want, 64, "layers.%d.%s", (i - 1) / 9, canon[(i - 1) % 9]);
        else if (i == LAYERS * 9 + 1) snprintf(want, 64, "norm");
        else snprintf(want, 64, "output");
        size_t idx;
        qlow_status st = qlow_model_tensor_find(m, want, &idx);
        QT_CHECK(st == QLOW_OK && idx == (size_t)i, "%s -> index %zu", want, idx);
        if (st != QLOW_OK) continue;
        int32_t dtype, ndim;
        int64_t shape[4];
        QT_CHECK_OK(qlow_model_tensor_info(m, idx, NULL, &dtype, &ndim, shape));
        int want_dt = strcmp(t[i].dtype, "F32") == 0 ? QLOW_DTYPE_F32 : strcmp(t[i].dtype, "F16") == 0 ? QLOW_DTYPE_F16 : QLOW_DTYPE_BF16;
        ok &= dtype == want_dt && ndim == t[i].ndim && shape[0] == t[i].shape[0];
        QT_CHECK_OK(qlow_model_tensor_read_f32(m, idx, buf, t[i].count));
        for (size_t k = 0; k < t[i].count; k++) ok &= buf[k] == convert(t[i].dtype, t[i].values[k]);
    }
    QT_CHECK(ok, "tensor dtypes, shapes and values (%s/%s, %s names)", dt_emb, dt_w, hf ? "HF" : "Meta");
    free(buf);
    int64_t v;
    const struct {
        int32_t key;
        int64_t want;
    } cfg[] = {{QLOW_MODEL_DIM, DIM},      {QLOW_MODEL_HIDDEN_DIM, HID}, {QLOW_MODEL_N_LAYERS, LAYERS},
               {QLOW_MODEL_VOCAB_SIZE, VOCAB}, {QLOW_MODEL_N_HEADS, 2},  {QLOW_MODEL_N_KV_HEADS, 1},
               {QLOW_MODEL_SHARED_CLASSIFIER, !with_head}, {QLOW_MODEL_QK_HF_ORDER, hf},
               {QLOW_MODEL_SOURCE, QLOW_MODEL_SOURCE_SAFETENSORS}, {QLOW_MODEL_HEAD_DIM, DIM / 2}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        v = -1;
        QT_CHECK_OK(qlow_model_get_int(m, cfg[c].key, &v));
        QT_CHECK(v == cfg[c].want, "config key %d = %lld want %lld", (int)cfg[c].key, (long long)v, (long long)cfg[c].want);
    }
    double eps = 0, theta = 0;
    if (hf) {
        QT_CHECK_OK(qlow_model_get_float(m, QLOW_MODEL_NORM_EPS, &eps));
        QT_CHECK_OK(qlow_model_get_float(m, QLOW_MODEL_ROPE_THETA, &theta));
        QT_CHECK(fabs(eps - 1e-6) < 1e-18 && theta == 500000.0, "eps %g theta %g", eps, theta);
        QT_CHECK_OK(qlow_model_get_int(m, QLOW_MODEL_SEQ_LEN, &v));
        QT_CHECK(v == 64, "seq_len %lld", (long long)v);
        size_t nm = 0;
        const char *key, *val;
        QT_CHECK_OK(qlow_model_meta_count(m, &nm));
        QT_CHECK(nm == 6, "meta entries %zu (nested object skipped)", nm);
        QT_CHECK_OK(qlow_model_meta_get(m, 4, &key, &val));
        QT_CHECK(strcmp(key, "note") == 0 && strcmp(val, "caf\xc3\xa9 \"q\" \xf0\x9f\x98\x80") == 0, "escapes: %s", val);
        QT_CHECK_OK(qlow_model_meta_get(m, 5, &key, &val));
        QT_CHECK(strcmp(key, "count") == 0 && strcmp(val, "42") == 0, "number metadata");
    } else {
        QT_CHECK_STATUS(qlow_model_get_float(m, QLOW_MODEL_NORM_EPS, &eps), QLOW_E_NOT_FOUND);
        QT_CHECK_STATUS(qlow_model_get_int(m, QLOW_MODEL_SEQ_LEN, &v), QLOW_E_NOT_FOUND);
        QT_CHECK_OK(qlow_model_set_int(m, QLOW_MODEL_SEQ_LEN, 128));
        QT_CHECK_OK(qlow_model_get_int(m, QLOW_MODEL_SEQ_LEN, &v));
        QT_CHECK(v == 128, "set seq_len");
        QT_CHECK_STATUS(qlow_model_set_int(m, QLOW_MODEL_SOURCE, 1), QLOW_E_PARAM);
        QT_CHECK_STATUS(qlow_model_set_int(m, QLOW_MODEL_N_HEADS, 3), QLOW_E_PARAM);
        QT_CHECK_STATUS(qlow_model_set_float(m, QLOW_MODEL_NORM_EPS, -1.0), QLOW_E_PARAM);
    }
    qlow_model_close(m);

    /* The same bytes from a file: mapped and read paths. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/qlow_test_st_%d.safetensors", (int)(qt_rand_u64() % 100000));
    FILE *out = fopen(path, "wb");
    QT_CHECK(out && fwrite(file, 1, size, out) == size, "write temp file");
    if (out) fclose(out);
    for (int mm = 0; mm < 2; mm++) {
        qlow_params *pp = NULL;
        qlow_params_create(NULL, &pp);
        qlow_params_set_int(pp, QLOW_PARAM_IO_USE_MMAP, mm);
        m = NULL;
        QT_CHECK_OK(qlow_model_open(path, pp, NULL, &m));
        size_t idx;
        float first = 0;
        float *tmp = (float *)malloc(sizeof(float) * VOCAB * DIM);
        QT_CHECK_OK(qlow_model_tensor_find(m, "tok_embeddings", &idx));
        QT_CHECK_OK(qlow_model_tensor_read_f32(m, idx, tmp, VOCAB * DIM));
        first = tmp[0];
        free(tmp);
        QT_CHECK(first == convert(t[0].dtype, t[0].values[0]), "file path (mmap %d) values", mm);
        qlow_model_close(m);
        qlow_params_destroy(pp);
    }
    remove(path);

    /* Every truncation length: a clean QLOW_E_TRUNCATED when the format is known. */
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PARAM_IO_MODEL_FORMAT, QLOW_MODEL_SOURCE_SAFETENSORS));
    long bad = 0;
    for (size_t k = 0; k < size; k++) {
        qlow_model *x = NULL;
        qlow_status st = qlow_model_open_buffer(file, k, p, NULL, &x);
        bad += st != QLOW_E_TRUNCATED || x != NULL;
        st = qlow_model_open_buffer(file, k, NULL, NULL, &x); /* detection off the cut bytes */
        bad += st == QLOW_OK || x != NULL;
    }
    QT_CHECK(bad == 0, "%ld truncations misreported", bad);
    qlow_params_destroy(p);

    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points, { st = qlow_model_open_buffer(file, size, NULL, &qa, &m); }, { qlow_model_close(m); });
    QT_CHECK(points == 2, "allocation points %ld", points);
    free(file);
}

static void test_hostile(void)
{
    static const struct {
        const char *header;
        size_t data;
        qlow_status want;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_OK},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, QLOW_E_TRUNCATED},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8, QLOW_E_FORMAT},
        {"{\"a:{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, QLOW_E_FORMAT},
        {"{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", 8, QLOW_E_TRUNCATED},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551616]}}", 8, QLOW_E_OVERFLOW},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, QLOW_E_OVERFLOW},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", 16, QLOW_E_UNSUPPORTED},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, QLOW_E_UNSUPPORTED},
        {"{\"a\":{\"dtype\":\"C64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_E_DTYPE},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\\q\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\\ud800\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\\udc00\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\\u12\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"a\tb\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, QLOW_E_FORMAT},
        {"{\"__metadata__\":{\"x\":\"1\"},\"__metadata__\":{}}", 0, QLOW_E_FORMAT},
        {"{\"__metadata__\":{\"x\":tru}}", 0, QLOW_E_FORMAT},
        {"{\"__metadata__\":{\"x\":\"unterminated}}", 0, QLOW_E_TRUNCATED},
        {"{,}", 0, QLOW_E_FORMAT},
        {"{}", 0, QLOW_OK},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, QLOW_OK},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, QLOW_OK},
    };
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PARAM_IO_MODEL_FORMAT, QLOW_MODEL_SOURCE_SAFETENSORS));
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t size;
        unsigned char *f = st_raw(cases[c].header, cases[c].data, &size);
        qlow_model *m = NULL;
        qlow_status st = qlow_model_open_buffer(f, size, p, NULL, &m);
        QT_CHECK(st == cases[c].want, "case %zu: %s -> %d want %d", c, cases[c].header, (int)st, (int)cases[c].want);
        QT_CHECK((st == QLOW_OK) == (m != NULL), "case %zu out pointer", c);
        qlow_model_close(m);
        free(f);
    }
    /* Deep nesting in metadata: 60 levels parse, 200 are refused, neither overflows the stack. */
    for (int depth = 60; depth <= 200; depth += 140) {
        char *h = (char *)malloc(1000);
        size_t k = (size_t)sprintf(h, "{\"__metadata__\":{\"x\":");
        for (int d = 0; d < depth; d++) h[k++] = '[';
        for (int d = 0; d < depth; d++) h[k++] = ']';
        k += (size_t)sprintf(h + k, "}}");
        h[k] = 0;
        size_t size;
        unsigned char *f = st_raw(h, 0, &size);
        qlow_model *m = NULL;
        QT_CHECK_STATUS(qlow_model_open_buffer(f, size, p, NULL, &m), depth == 60 ? QLOW_OK : QLOW_E_FORMAT);
        qlow_model_close(m);
        free(f);
        free(h);
    }
    /* A header length beyond the file or beyond the format's 100 MB limit. */
    unsigned char tiny[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
    qlow_model *m = NULL;
    QT_CHECK_STATUS(qlow_model_open_buffer(tiny, sizeof tiny, p, NULL, &m), QLOW_E_TRUNCATED);
    QT_CHECK_STATUS(qlow_model_open_buffer(NULL, 0, p, NULL, &m), QLOW_E_TRUNCATED);
    qlow_params_destroy(p);

    /* Misaligned F32 data: the view refuses, the conversion still works. */
    size_t size;
    unsigned char *f = st_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}  ", 9, &size);
    float two[2] = {1.5f, -2.25f};
    memcpy(f + size - 8, two, 8);
    unsigned char *shifted = (unsigned char *)malloc(size + 8);
    memcpy(shifted + 8, f, size);
    QT_CHECK_OK(qlow_model_open_buffer(shifted + 8, size, NULL, NULL, &m));
    if (m) {
        qlow_view v;
        float got[2];
        qlow_status st = qlow_model_tensor_view(m, 0, &v);
        QT_CHECK(st == QLOW_E_ALIGNMENT || st == QLOW_OK, "view of misaligned data -> %d", (int)st);
        QT_CHECK_OK(qlow_model_tensor_read_f32(m, 0, got, 2));
        QT_CHECK(got[0] == 1.5f && got[1] == -2.25f, "misaligned read");
        qlow_model_close(m);
    }
    free(shifted);
    free(f);
}

static void test_flips(void)
{
    st_tensor t[32];
    int n = build_model(t, 1, "BF16", "F16", 1);
    size_t size;
    unsigned char *file = st_build(t, n, "{\"num_attention_heads\":\"2\"}", &size);
    unsigned char *copy = (unsigned char *)malloc(size);
    float *buf = (float *)malloc(sizeof(float) * VOCAB * HID * 4);
    uint64_t seed = 1234;
    long opened = 0;
    for (int r = 0; r < 2000; r++) {
        memcpy(copy, file, size);
        uint64_t x = (seed += 0x9e3779b97f4a7c15ull);
        x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
        /* Mostly inside the header, where the parser lives. */
        size_t hdr = 8 + (size_t)(file[0] | file[1] << 8);
        for (int k = 0; k < 1 + (int)(x % 3); k++) {
            x = (x ^ (x >> 29)) * 0x94d049bb133111ebull;
            size_t at = (x >> 16) % (r % 4 ? hdr : size);
            copy[at] = (unsigned char)(r % 2 ? copy[at] ^ (1u << (x % 8)) : (x >> 40));
        }
        qlow_model *m = NULL;
        if (qlow_model_open_buffer(copy, size, NULL, NULL, &m) == QLOW_OK) {
            size_t cnt = 0;
            opened++;
            qlow_model_tensor_count(m, &cnt);
            for (size_t i = 0; i < cnt; i++) {
                int64_t shape[4];
                int32_t nd;
                qlow_model_tensor_info(m, i, NULL, NULL, &nd, shape);
                if (shape[0] * shape[1] * shape[2] * shape[3] <= VOCAB * HID * 4) qlow_model_tensor_read_f32(m, i, buf, VOCAB * HID * 4);
            }
            qlow_model_close(m);
        }
    }
    QT_CHECK(opened > 0 && opened < 2000, "byte flips: %ld of 2000 opened", opened);
    printf("INFO safetensors byte flips: %ld of 2000 corrupted files still opened (no crash)\n", opened);
    free(buf);
    free(copy);
    free(file);
}

int main(void)
{
    test_roundtrip(1, "F32", "F32", 1);
    test_roundtrip(1, "BF16", "F16", 0);
    test_roundtrip(0, "F16", "BF16", 1);
    test_roundtrip(0, "F32", "BF16", 0);
    test_hostile();
    test_flips();
    return qt_finish();
}
