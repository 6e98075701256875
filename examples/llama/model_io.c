/* model_io.c - engine models from libqlow's readers: llama2.c / safetensors checkpoints (qlow_model)
 * and .qlow containers (qlow_qfile, packed matrices wrapped in place), and writing .qlow files. */
#include "model_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_tensor[LLM_N_BLOCK_KINDS] = {
    "attention.wq", "attention.wk", "attention.wv", "attention.wo",
    "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};

static void err_status(char *err, size_t errn, const char *what, const char *path, qlow_status s)
{
    snprintf(err, errn, "%s '%s': %s", what, path, qlow_status_string(s));
}

/* Layout of the fp32 arena: embedding, norms, linears, classifier (when separate). */
static int64_t model_floats(const llm_config *c)
{
    int64_t D = c->dim, H = c->hidden_dim, kv = (int64_t)c->dim * c->n_kv_heads / c->n_heads;
    int64_t per = 2 * D + 2 * D * D + 2 * kv * D + 3 * H * D;
    return (int64_t)c->vocab_size * D * (c->shared_classifier ? 1 : 2) + c->n_layers * per + D;
}

static int config_ok(const llm_config *c)
{
    return c->dim > 0 && c->hidden_dim > 0 && c->n_layers > 0 && c->n_heads > 0 && c->n_kv_heads > 0 &&
           c->vocab_size > 0 && c->seq_len > 0 && c->dim <= 65536 && c->hidden_dim <= 262144 &&
           c->n_layers <= 1024 && c->vocab_size <= (1 << 22) && c->seq_len <= (1 << 20) &&
           c->dim % c->n_heads == 0 && c->n_heads % c->n_kv_heads == 0 && (c->dim / c->n_heads) % 2 == 0;
}

/* Assign shapes to every linear and, when `arena` is given, carve the fp32 pointers out of it. */
static void layout(llm_model *m, float *arena)
{
    const llm_config *c = &m->cfg;
    int64_t D = c->dim, H = c->hidden_dim, kv = D * c->n_kv_heads / c->n_heads;
    const int64_t rows[LLM_N_BLOCK_KINDS] = {D, kv, kv, D, H, D, H};
    const int64_t cols[LLM_N_BLOCK_KINDS] = {D, D, D, D, D, H, D};
    float *p = arena;
    if (p) {
        m->tok_embedding = p;
        p += (int64_t)c->vocab_size * D;
    }
    for (int l = 0; l < c->n_layers; l++) {
        llm_layer *L = &m->layers[l];
        if (p) {
            L->rms_att = p;
            L->rms_ffn = p + D;
            p += 2 * D;
        }
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
            L->lin[k].rows = rows[k];
            L->lin[k].cols = cols[k];
            if (p) {
                L->lin[k].w = p;
                p += rows[k] * cols[k];
            }
        }
    }
    m->cls.rows = c->vocab_size;
    m->cls.cols = D;
    if (p) {
        m->rms_final = p;
        p += D;
        m->cls.w = c->shared_classifier ? m->tok_embedding : p;
    }
}

static int read_config_model(const qlow_model *q, llm_config *c)
{
    int64_t v[8];
    const int32_t keys[8] = {QLOW_MODEL_DIM, QLOW_MODEL_HIDDEN_DIM, QLOW_MODEL_N_LAYERS, QLOW_MODEL_N_HEADS,
                             QLOW_MODEL_N_KV_HEADS, QLOW_MODEL_VOCAB_SIZE, QLOW_MODEL_SEQ_LEN,
                             QLOW_MODEL_SHARED_CLASSIFIER};
    for (int i = 0; i < 8; i++)
        if (qlow_model_get_int(q, keys[i], &v[i]) || v[i] < 0 || v[i] > (1 << 22)) return -1;
    c->dim = (int)v[0], c->hidden_dim = (int)v[1], c->n_layers = (int)v[2], c->n_heads = (int)v[3];
    c->n_kv_heads = (int)v[4], c->vocab_size = (int)v[5], c->seq_len = (int)v[6], c->shared_classifier = (int)v[7];
    int64_t hf = 0;
    if (qlow_model_get_int(q, QLOW_MODEL_QK_HF_ORDER, &hf) == QLOW_OK && hf) return -2;
    return config_ok(c) ? 0 : -1;
}

static int read_f32(const qlow_model *q, const char *name, float *dst, int64_t count)
{
    size_t idx;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    int32_t ndim;
    if (qlow_model_tensor_find(q, name, &idx) || qlow_model_tensor_info(q, idx, NULL, NULL, &ndim, shape)) return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (n != count) return -1;
    return qlow_model_tensor_read_f32(q, idx, dst, (size_t)count) ? -1 : 0;
}

int llm_model_load_checkpoint(const char *path, llm_model *out, char *err, size_t errn)
{
    qlow_model *q = NULL;
    qlow_status s = qlow_model_open(path, NULL, NULL, &q);
    if (s) {
        err_status(err, errn, "cannot open model", path, s);
        return -1;
    }
    llm_model m;
    memset(&m, 0, sizeof m);
    int cfg = read_config_model(q, &m.cfg);
    if (cfg) {
        qlow_model_close(q);
        snprintf(err, errn, cfg == -2 ? "'%s': rotate-half (Hugging Face) q/k order is not supported by this engine"
                                      : "'%s' is not a LLaMA model this engine can run", path);
        return -1;
    }
    int64_t nf = model_floats(&m.cfg);
    m.fp32_storage = malloc((size_t)nf * sizeof(float));
    m.layers = calloc((size_t)m.cfg.n_layers, sizeof *m.layers);
    if (!m.fp32_storage || !m.layers) {
        qlow_model_close(q);
        free(m.fp32_storage);
        free(m.layers);
        snprintf(err, errn, "out of memory loading '%s'", path);
        return -1;
    }
    layout(&m, m.fp32_storage);
    const int64_t D = m.cfg.dim, V = m.cfg.vocab_size;
    char name[96];
    int bad = read_f32(q, "tok_embeddings", (float *)(uintptr_t)m.tok_embedding, V * D) ||
              read_f32(q, "norm", (float *)(uintptr_t)m.rms_final, D);
    if (!m.cfg.shared_classifier) bad = bad || read_f32(q, "output", (float *)(uintptr_t)m.cls.w, V * D);
    for (int l = 0; l < m.cfg.n_layers && !bad; l++) {
        llm_layer *L = &m.layers[l];
        snprintf(name, sizeof name, "layers.%d.attention_norm", l);
        bad = read_f32(q, name, (float *)(uintptr_t)L->rms_att, D);
        snprintf(name, sizeof name, "layers.%d.ffn_norm", l);
        bad = bad || read_f32(q, name, (float *)(uintptr_t)L->rms_ffn, D);
        for (int k = 0; k < LLM_N_BLOCK_KINDS && !bad; k++) {
            snprintf(name, sizeof name, "layers.%d.%s", l, kind_tensor[k]);
            bad = read_f32(q, name, (float *)(uintptr_t)L->lin[k].w, L->lin[k].rows * L->lin[k].cols);
        }
    }
    for (int64_t i = 0; i < nf && !bad; i++)
        if (!isfinite(m.fp32_storage[i])) bad = 2;
    qlow_model_close(q);
    if (bad) {
        free(m.fp32_storage);
        free(m.layers);
        snprintf(err, errn, bad == 2 ? "'%s' holds NaN or infinite weights" : "'%s' lacks a tensor of the expected shape",
                 path);
        return -1;
    }
    *out = m;
    return 0;
}

/* Code bits recorded in the container directory for each packed format. */
static int32_t format_code_bits(int32_t f)
{
    switch (f) {
    case QLOW_FORMAT_Q8: return 8;
    case QLOW_FORMAT_Q4: return 4;
    case QLOW_FORMAT_Q3: return 3;
    case QLOW_FORMAT_Q2: case QLOW_FORMAT_T2: return 2;
    case QLOW_FORMAT_B1: case QLOW_FORMAT_B2: return 1;
    default: return 0;
    }
}

static qlow_status add_dense(qlow_qfile_writer *w, const char *name, const float *data, int64_t rows, int64_t cols)
{
    qlow_view v;
    qlow_status s = rows > 1 ? qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)data)
                             : qlow_view_init(&v, QLOW_DTYPE_F32, 1, &cols, (void *)(uintptr_t)data);
    return s ? s : qlow_qfile_writer_add_dense(w, name, &v);
}

static qlow_status add_linear(qlow_qfile_writer *w, const char *name, const llm_linear *l)
{
    if (!l->q) return add_dense(w, name, l->w, l->rows, l->cols);
    size_t n;
    int32_t f;
    qlow_status s = qlow_qmatrix_serialized_size(l->q, &n);
    if (s || (s = qlow_qmatrix_format(l->q, &f))) return s;
    void *buf = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!buf) return QLOW_E_NO_MEMORY;
    s = qlow_qmatrix_serialize(l->q, buf, n);
    if (!s) s = qlow_qfile_writer_add_packed(w, name, f, format_code_bits(f), l->rows, l->cols, buf, n);
    free(buf);
    return s;
}

int llm_model_save_qlow(const llm_model *m, const char *source_path, const llm_save_meta *meta, const char *path,
                        char *err, size_t errn)
{
    qlow_qfile_writer *w = NULL;
    qlow_model *src = NULL;
    qlow_status s = qlow_qfile_writer_open(path, NULL, NULL, &w);
    if (s) {
        err_status(err, errn, "cannot create", path, s);
        return -1;
    }
    const llm_config *c = &m->cfg;
    char name[96];
    if (source_path && !qlow_model_open(source_path, NULL, NULL, &src)) s = qlow_qfile_writer_set_model(w, src);
    qlow_model_close(src);
    if (!s && !source_path) {
        const char *keys[8] = {"model.dim", "model.hidden_dim", "model.n_layers", "model.n_heads",
                               "model.n_kv_heads", "model.vocab_size", "model.seq_len", "model.shared_classifier"};
        const int vals[8] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size,
                             c->seq_len, c->shared_classifier};
        for (int i = 0; i < 8 && !s; i++) s = qlow_qfile_writer_set_int(w, keys[i], vals[i]);
    }
    if (!s) s = qlow_qfile_writer_set_string(w, "qlow.method", meta->method);
    if (!s) s = qlow_qfile_writer_set_float(w, "qlow.target_bits", meta->target_bits);
    if (!s) s = qlow_qfile_writer_set_int(w, "qlow.act_bits", meta->act_bits);
    if (!s) s = qlow_qfile_writer_set_int(w, "qlow.embed_bits", meta->embed_bits);
    if (!s) s = qlow_qfile_writer_set_int(w, "qlow.group", meta->group);
    if (!s) {
        if (m->tok_embedding) s = add_dense(w, "tok_embeddings", m->tok_embedding, c->vocab_size, c->dim);
        else s = add_linear(w, "tok_embeddings", &m->cls); /* packed shared table */
    }
    for (int l = 0; l < c->n_layers && !s; l++) {
        const llm_layer *L = &m->layers[l];
        snprintf(name, sizeof name, "layers.%d.attention_norm", l);
        s = add_dense(w, name, L->rms_att, 1, c->dim);
        for (int k = 0; k < LLM_N_BLOCK_KINDS && !s; k++) {
            snprintf(name, sizeof name, "layers.%d.%s", l, kind_tensor[k]);
            s = add_linear(w, name, &L->lin[k]);
        }
        snprintf(name, sizeof name, "layers.%d.ffn_norm", l);
        if (!s) s = add_dense(w, name, L->rms_ffn, 1, c->dim);
    }
    if (!s) s = add_dense(w, "norm", m->rms_final, 1, c->dim);
    if (!s && !c->shared_classifier) s = add_linear(w, "output", &m->cls);
    if (!s) s = qlow_qfile_writer_finish(w);
    qlow_qfile_writer_destroy(w);
    if (s) {
        err_status(err, errn, "cannot write", path, s);
        return -1;
    }
    return 0;
}

typedef struct qfile_owner {
    qlow_qfile *file;
} qfile_owner;

static void close_qfile(void *user)
{
    qfile_owner *o = user;
    qlow_qfile_close(o->file);
    free(o);
}

/* A tensor as fp32 pointer (dense) or a wrapped packed matrix, with the expected shape. */
static int bind(const qlow_qfile *f, qlow_ctx *ctx, const char *name, int64_t rows, int64_t cols, const float **w,
                llm_linear *lin)
{
    size_t idx;
    int32_t kind, type, ndim;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    if (qlow_qfile_tensor_find(f, name, &idx) || qlow_qfile_tensor_info(f, idx, NULL, &kind, &type, NULL, &ndim, shape))
        return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (n != rows * cols || (ndim == 2 && (shape[0] != rows || shape[1] != cols))) return -1;
    if (kind == QLOW_QFILE_DENSE) {
        qlow_view v;
        if (type != QLOW_DTYPE_F32 || qlow_qfile_tensor_view(f, idx, &v)) return -1;
        if (w) *w = v.data;
        else lin->w = v.data;
        return 0;
    }
    if (!lin) return -1;
    const void *data;
    size_t size;
    qlow_qmatrix *q;
    if (qlow_qfile_tensor_data(f, idx, &data, &size) || qlow_qmatrix_wrap(ctx, data, size, &q)) return -1;
    int64_t r, c;
    if (qlow_qmatrix_shape(q, &r, &c) || r != rows || c != cols) {
        qlow_qmatrix_destroy(q);
        return -1;
    }
    lin->q = q;
    lin->owns_q = 1;
    return 0;
}

int llm_model_load_qlow(const char *path, llm_model *out, char *err, size_t errn)
{
    qlow_qfile *f = NULL;
    qlow_status s = qlow_qfile_open(path, NULL, NULL, &f);
    if (s) {
        err_status(err, errn, "cannot open", path, s);
        return -1;
    }
    llm_model m;
    memset(&m, 0, sizeof m);
    const char *keys[8] = {"model.dim", "model.hidden_dim", "model.n_layers", "model.n_heads",
                           "model.n_kv_heads", "model.vocab_size", "model.seq_len", "model.shared_classifier"};
    int64_t v[8];
    int bad = 0;
    for (int i = 0; i < 8 && !bad; i++) bad = qlow_qfile_meta_get_int(f, keys[i], &v[i]) || v[i] < 0 || v[i] > (1 << 22);
    int64_t act = 0;
    qlow_qfile_meta_get_int(f, "qlow.act_bits", &act);
    qlow_ctx *ctx = NULL;
    qfile_owner *owner = malloc(sizeof *owner);
    if (!bad) {
        m.cfg.dim = (int)v[0], m.cfg.hidden_dim = (int)v[1], m.cfg.n_layers = (int)v[2], m.cfg.n_heads = (int)v[3];
        m.cfg.n_kv_heads = (int)v[4], m.cfg.vocab_size = (int)v[5], m.cfg.seq_len = (int)v[6];
        m.cfg.shared_classifier = (int)v[7];
        bad = !config_ok(&m.cfg);
    }
    if (bad || !owner || qlow_ctx_create(NULL, &ctx) ||
        !(m.layers = calloc((size_t)m.cfg.n_layers, sizeof *m.layers))) {
        free(owner);
        qlow_ctx_destroy(ctx);
        qlow_qfile_close(f);
        snprintf(err, errn, bad ? "'%s' lacks a valid model configuration" : "out of memory", path);
        return -1;
    }
    layout(&m, NULL);
    const int64_t D = m.cfg.dim, V = m.cfg.vocab_size;
    char name[96];
    bad = bind(f, ctx, "norm", 1, D, &m.rms_final, NULL);
    if (!bad) bad = bind(f, ctx, "tok_embeddings", V, D, NULL, &m.cls);
    if (!bad) {
        if (m.cls.q) {
            if (!m.cfg.shared_classifier) bad = 1; /* a packed embedding needs the shared classifier */
        } else {
            m.tok_embedding = m.cls.w;
            if (!m.cfg.shared_classifier) {
                m.cls.w = NULL;
                bad = bind(f, ctx, "output", V, D, NULL, &m.cls);
            }
        }
    }
    for (int l = 0; l < m.cfg.n_layers && !bad; l++) {
        llm_layer *L = &m.layers[l];
        snprintf(name, sizeof name, "layers.%d.attention_norm", l);
        bad = bind(f, ctx, name, 1, D, &L->rms_att, NULL);
        snprintf(name, sizeof name, "layers.%d.ffn_norm", l);
        bad = bad || bind(f, ctx, name, 1, D, &L->rms_ffn, NULL);
        for (int k = 0; k < LLM_N_BLOCK_KINDS && !bad; k++) {
            snprintf(name, sizeof name, "layers.%d.%s", l, kind_tensor[k]);
            bad = bind(f, ctx, name, L->lin[k].rows, L->lin[k].cols, NULL, &L->lin[k]);
            if (!bad && L->lin[k].q) L->lin[k].act_bits = (int)act;
        }
    }
    if (!bad && m.cls.q) m.cls.act_bits = (int)act;
    qlow_ctx_destroy(ctx);
    owner->file = f;
    m.cleanup = close_qfile;
    m.cleanup_user = owner;
    if (bad) {
        llm_model_free(&m);
        snprintf(err, errn, "'%s' lacks a tensor of the expected shape or holds an invalid packed matrix", path);
        return -1;
    }
    *out = m;
    return 0;
}

int llm_model_load(const char *path, llm_model *out, char *err, size_t errn)
{
    unsigned char head[5] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errn, "cannot open '%s'", path);
        return -1;
    }
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    /* The .qlow preamble starts with 0x89 "QLOW" (docs/format.md). */
    if (got == sizeof head && !memcmp(head, "\x89QLOW", 5)) return llm_model_load_qlow(path, out, err, errn);
    return llm_model_load_checkpoint(path, out, err, errn);
}
