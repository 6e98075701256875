/* gguf_write.c - GGUF v3 export for llama.cpp's "llama" architecture: header, metadata key/values
 * (hyperparameters, tokenizer), tensor infos with llama.cpp names, aligned tensor data encoded by the
 * ggml block quantizers. Streams one tensor at a time. Specification notes: docs/export.md. */
#include <string.h>

#include "export/export_internal.h"
#include "export/ggml_blocks.h"

enum { GV_U32 = 4, GV_I32 = 5, GV_F32 = 6, GV_BOOL = 7, GV_STRING = 8, GV_ARRAY = 9 };

typedef struct gtensor {
    char name[48]; /* GGUF name */
    char src[48];  /* canonical source name */
    int kind;      /* 0 norm (F32), 1 weight matrix, 2 embedding / classifier */
    int heads;     /* > 0: undo the Hugging Face rotate-half row order with this many heads */
    int32_t type;
    int32_t ndim;
    int64_t rows, cols;
    uint64_t offset, bytes;
} gtensor;

/* Byte emitter: counts when s is NULL. */
typedef struct emit {
    qlow__xsink *s;
    uint64_t pos;
    uint64_t nkv;
    qlow_status st;
} emit;

static void put(emit *e, const void *p, size_t n)
{
    if (e->st) return;
    if (e->s) e->st = qlow__xsink_write(e->s, p, n);
    e->pos += n;
}
static void put_u32(emit *e, uint32_t v)
{
    unsigned char b[4];
    qlow__st32(b, v);
    put(e, b, 4);
}
static void put_u64(emit *e, uint64_t v)
{
    unsigned char b[8];
    qlow__st64(b, v);
    put(e, b, 8);
}
static void put_f32(emit *e, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(e, u);
}
static void put_str(emit *e, const char *s)
{
    size_t n = strlen(s);
    put_u64(e, n);
    put(e, s, n);
}
static void kv_head(emit *e, const char *key, uint32_t type)
{
    put_str(e, key);
    put_u32(e, type);
    e->nkv++;
}
static void kv_u32(emit *e, const char *key, uint32_t v) { kv_head(e, key, GV_U32), put_u32(e, v); }
static void kv_f32(emit *e, const char *key, float v) { kv_head(e, key, GV_F32), put_f32(e, v); }
static void kv_str(emit *e, const char *key, const char *v) { kv_head(e, key, GV_STRING), put_str(e, v); }
static void kv_bool(emit *e, const char *key, int v)
{
    unsigned char b = (unsigned char)(v != 0);
    kv_head(e, key, GV_BOOL);
    put(e, &b, 1);
}

/* llama2.c spells BOS/EOS "\n<s>\n" / "\n</s>\n" and spaces as ' '; SentencePiece vocabularies (what
 * llama.cpp's "llama" tokenizer expects) use "<s>", "</s>" and U+2581 for spaces. */
static const char *token_text(const qlow_tokenizer *tok, int32_t id, size_t *len)
{
    const char *b = NULL;
    if (id == QLOW_TOKEN_UNK) return *len = 5, "<unk>";
    if (id == QLOW_TOKEN_BOS) return *len = 3, "<s>";
    if (id == QLOW_TOKEN_EOS) return *len = 4, "</s>";
    /* ids come from 0 .. size - 1, so this cannot fail; if it ever did, write nothing rather than
     * read b and len unset (GCC sees that path when it inlines the tokenizer, as in dist/qlow.c) */
    if (qlow_tokenizer_token(tok, id, &b, len, NULL) != QLOW_OK || !b) return *len = 0, "";
    return b;
}

static int is_byte_token(const char *b, size_t n)
{
    if (n != 6 || memcmp(b, "<0x", 3) != 0 || b[5] != '>') return 0;
    for (int k = 3; k < 5; k++) {
        char c = b[k];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return 0;
    }
    return 1;
}

static void put_token(emit *e, const char *b, size_t n)
{
    static const char space[3] = {(char)0xE2, (char)0x96, (char)0x81};
    size_t spaces = 0;
    for (size_t k = 0; k < n; k++) spaces += b[k] == ' ';
    put_u64(e, n + 2 * spaces);
    for (size_t k = 0; k < n; k++)
        if (b[k] == ' ')
            put(e, space, 3);
        else
            put(e, b + k, 1);
}

static void emit_tokenizer(emit *e, const qlow_tokenizer *tok)
{
    int32_t nv = qlow_tokenizer_vocab_size(tok);
    kv_str(e, "tokenizer.ggml.model", "llama");
    kv_head(e, "tokenizer.ggml.tokens", GV_ARRAY);
    put_u32(e, GV_STRING), put_u64(e, (uint64_t)nv);
    for (int32_t i = 0; i < nv; i++) {
        size_t n;
        const char *b = token_text(tok, i, &n);
        put_token(e, b, n);
    }
    kv_head(e, "tokenizer.ggml.scores", GV_ARRAY);
    put_u32(e, GV_F32), put_u64(e, (uint64_t)nv);
    for (int32_t i = 0; i < nv; i++) {
        float score = 0.0f;
        qlow_tokenizer_token(tok, i, NULL, NULL, &score);
        put_f32(e, score);
    }
    kv_head(e, "tokenizer.ggml.token_type", GV_ARRAY);
    put_u32(e, GV_I32), put_u64(e, (uint64_t)nv);
    for (int32_t i = 0; i < nv; i++) {
        size_t n;
        const char *b = token_text(tok, i, &n);
        int32_t type = i == QLOW_TOKEN_UNK ? 2 : (i == QLOW_TOKEN_BOS || i == QLOW_TOKEN_EOS) ? 3
                       : is_byte_token(b, n) ? 6 : 1;
        put_u32(e, (uint32_t)type);
    }
    kv_u32(e, "tokenizer.ggml.bos_token_id", QLOW_TOKEN_BOS);
    kv_u32(e, "tokenizer.ggml.eos_token_id", QLOW_TOKEN_EOS);
    kv_u32(e, "tokenizer.ggml.unknown_token_id", QLOW_TOKEN_UNK);
    kv_bool(e, "tokenizer.ggml.add_bos_token", 1);
    kv_bool(e, "tokenizer.ggml.add_eos_token", 0);
}

/* llama.cpp's llama_ftype for a file whose weight matrices are mostly `type`. */
static uint32_t file_type(int32_t type)
{
    switch (type) {
    case QLOW_GGML_F32: return 0;
    case QLOW_GGML_F16: return 1;
    case QLOW_GGML_Q4_0: return 2;
    case QLOW_GGML_Q4_1: return 3;
    case QLOW_GGML_Q8_0: return 7;
    case QLOW_GGML_Q5_0: return 8;
    case QLOW_GGML_Q5_1: return 9;
    case QLOW_GGML_Q2_K: return 10;
    case QLOW_GGML_Q3_K: return 11; /* the "_S" ftypes: every matrix one type */
    case QLOW_GGML_Q4_K: return 14;
    case QLOW_GGML_Q5_K: return 16;
    case QLOW_GGML_Q6_K: return 18;
    case QLOW_GGML_IQ4_NL: return 25;
    case QLOW_GGML_TQ1_0: return 36;
    default: return 37; /* TQ2_0 */
    }
}

typedef struct gconfig {
    int64_t dim, hidden, layers, heads, kv_heads, vocab, seq_len, hf_order;
    double eps, theta;
} gconfig;

static qlow_status read_config(const qlow__xsrc *src, gconfig *c)
{
    qlow_status st = QLOW_OK;
    int64_t *iv[] = {&c->dim, &c->hidden, &c->layers, &c->heads, &c->kv_heads, &c->vocab, &c->seq_len};
    int32_t ik[] = {QLOW_MODEL_DIM,      QLOW_MODEL_HIDDEN_DIM, QLOW_MODEL_N_LAYERS, QLOW_MODEL_N_HEADS,
                    QLOW_MODEL_N_KV_HEADS, QLOW_MODEL_VOCAB_SIZE, QLOW_MODEL_SEQ_LEN};
    for (int k = 0; k < 7 && !st; k++) st = qlow__xsrc_int(src, ik[k], iv[k]);
    if (!st) st = qlow__xsrc_float(src, QLOW_MODEL_NORM_EPS, &c->eps);
    if (!st) st = qlow__xsrc_float(src, QLOW_MODEL_ROPE_THETA, &c->theta);
    if (st) return st == QLOW_E_PARAM ? QLOW_E_NOT_FOUND : st;
    if (qlow__xsrc_int(src, QLOW_MODEL_QK_HF_ORDER, &c->hf_order)) c->hf_order = 0;
    if (c->dim < 1 || c->layers < 1 || c->heads < 1 || c->kv_heads < 1 || c->dim % c->heads || c->vocab < 1 ||
        c->layers > 100000 || c->seq_len < 1 || c->seq_len > UINT32_MAX || c->hidden < 1 || c->hidden > UINT32_MAX ||
        c->dim > UINT32_MAX)
        return QLOW_E_SHAPE;
    return QLOW_OK;
}

static void set_name(char *dst, const char *a, int64_t layer, const char *b)
{
    char num[24];
    size_t n = 0, p = 0;
    uint64_t v = (uint64_t)(layer < 0 ? 0 : layer);
    do num[n++] = (char)('0' + v % 10), v /= 10; while (v);
    size_t la = strlen(a), lb = strlen(b);
    memcpy(dst, a, la), p = la;
    if (layer >= 0) while (n) dst[p++] = num[--n];
    memcpy(dst + p, b, lb + 1);
}

static const struct {
    const char *src, *dst;
    int kind, heads; /* heads: 1 = n_heads, 2 = n_kv_heads */
} layer_map[] = {{"attention_norm", ".attn_norm.weight", 0, 0}, {"attention.wq", ".attn_q.weight", 1, 1},
                 {"attention.wk", ".attn_k.weight", 1, 2},       {"attention.wv", ".attn_v.weight", 1, 0},
                 {"attention.wo", ".attn_output.weight", 1, 0},  {"ffn_norm", ".ffn_norm.weight", 0, 0},
                 {"feed_forward.w1", ".ffn_gate.weight", 1, 0},  {"feed_forward.w2", ".ffn_down.weight", 1, 0},
                 {"feed_forward.w3", ".ffn_up.weight", 1, 0}};

/* Fill the tensor table, types, sizes and offsets. */
static qlow_status plan_tensors(const qlow__xsrc *src, const gconfig *c, int32_t type, int32_t embed_type,
                                uint64_t align, gtensor *t, size_t *count)
{
    size_t n = 0;
    qlow__xtensor info;
    qlow_status st;
    set_name(t[n].name, "token_embd.weight", -1, ""), strcpy(t[n].src, "tok_embeddings"), t[n++].kind = 2;
    for (int64_t l = 0; l < c->layers; l++)
        for (size_t k = 0; k < sizeof layer_map / sizeof layer_map[0]; k++) {
            set_name(t[n].name, "blk.", l, layer_map[k].dst);
            set_name(t[n].src, "layers.", l, ".");
            strcat(t[n].src, layer_map[k].src);
            t[n].kind = layer_map[k].kind;
            t[n++].heads = !c->hf_order ? 0 : layer_map[k].heads == 1 ? (int)c->heads
                                            : layer_map[k].heads == 2 ? (int)c->kv_heads : 0;
        }
    set_name(t[n].name, "output_norm.weight", -1, ""), strcpy(t[n].src, "norm"), t[n++].kind = 0;
    if ((st = qlow__xsrc_info(src, "output", &info))) return st;
    if (info.present) set_name(t[n].name, "output.weight", -1, ""), strcpy(t[n].src, "output"), t[n++].kind = 2;
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if ((st = qlow__xsrc_info(src, t[i].src, &info))) return st;
        if (!info.present) return QLOW_E_NOT_FOUND;
        if (t[i].kind == 0) {
            if (info.count != (size_t)c->dim) return QLOW_E_SHAPE;
            t[i].ndim = 1, t[i].rows = 1, t[i].cols = c->dim, t[i].type = QLOW_GGML_F32;
        } else {
            if (info.ndim != 2) return QLOW_E_SHAPE;
            t[i].ndim = 2, t[i].rows = info.shape[0], t[i].cols = info.shape[1];
            if ((st = qlow_ggml_fallback_type(t[i].kind == 1 ? type : embed_type, t[i].cols, &t[i].type))) return st;
            if (t[i].heads && (t[i].rows % (2 * t[i].heads))) return QLOW_E_SHAPE;
        }
        const qlow__ggml_traits *tr = qlow__ggml_traits_find(t[i].type);
        size_t row = qlow__ggml_row_bytes(tr, t[i].cols), bytes;
        if ((st = qlow__mul_size(row, (size_t)t[i].rows, &bytes))) return st;
        off = (off + align - 1) / align * align;
        t[i].offset = off;
        t[i].bytes = bytes;
        if (off > UINT64_MAX / 2 || bytes > UINT64_MAX / 4) return QLOW_E_OVERFLOW;
        off += bytes;
    }
    *count = n;
    return QLOW_OK;
}

static void emit_metadata(emit *e, const gconfig *c, int32_t type, uint64_t align, const qlow_tokenizer *tok)
{
    kv_str(e, "general.architecture", "llama");
    kv_str(e, "general.name", "libqlow export");
    kv_u32(e, "general.alignment", (uint32_t)align);
    kv_u32(e, "general.file_type", file_type(type));
    kv_u32(e, "general.quantization_version", 2);
    kv_u32(e, "llama.context_length", (uint32_t)c->seq_len);
    kv_u32(e, "llama.embedding_length", (uint32_t)c->dim);
    kv_u32(e, "llama.block_count", (uint32_t)c->layers);
    kv_u32(e, "llama.feed_forward_length", (uint32_t)c->hidden);
    kv_u32(e, "llama.attention.head_count", (uint32_t)c->heads);
    kv_u32(e, "llama.attention.head_count_kv", (uint32_t)c->kv_heads);
    kv_f32(e, "llama.attention.layer_norm_rms_epsilon", (float)c->eps);
    kv_u32(e, "llama.rope.dimension_count", (uint32_t)(c->dim / c->heads));
    kv_f32(e, "llama.rope.freq_base", (float)c->theta);
    kv_u32(e, "llama.vocab_size", (uint32_t)c->vocab);
    if (tok) emit_tokenizer(e, tok);
}

static void emit_infos(emit *e, const gtensor *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        put_str(e, t[i].name);
        put_u32(e, (uint32_t)t[i].ndim);
        put_u64(e, (uint64_t)t[i].cols);
        if (t[i].ndim == 2) put_u64(e, (uint64_t)t[i].rows);
        put_u32(e, (uint32_t)t[i].type);
        put_u64(e, t[i].offset);
    }
}

/* Hugging Face rotate-half rows back to interleaved pairs: row (h, 2i + p) comes from (h, p*hd/2 + i). */
static void unpermute(const float *in, float *out, int64_t rows, int64_t cols, int heads)
{
    int64_t hd = rows / heads, half = hd / 2;
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < half; i++)
            for (int p = 0; p < 2; p++)
                memcpy(out + (h * hd + 2 * i + p) * cols, in + (h * hd + p * half + i) * cols,
                       (size_t)cols * sizeof(float));
}

typedef struct gjob {
    qlow_ctx *ctx;
    const qlow__xsrc *src;
    int32_t search, steps;
    qlow_export_importance_fn importance;
    void *importance_user;
} gjob;

static qlow_status write_tensor(const gjob *j, emit *e, const gtensor *t)
{
    const qlow_allocator *a = qlow__ctx_allocator(j->ctx);
    const qlow__ggml_traits *tr = qlow__ggml_traits_find(t->type);
    size_t count = (size_t)t->rows * (size_t)t->cols, row_bytes = qlow__ggml_row_bytes(tr, t->cols);
    size_t fbytes, extra = t->heads ? count : 0;
    qlow_status st = qlow__mul_size(count + extra + (size_t)t->cols, sizeof(float), &fbytes);
    if (st) return st;
    float *w = (float *)qlow__alloc(a, fbytes, 64);
    uint8_t *out = (uint8_t *)qlow__alloc(a, (size_t)t->bytes, 64);
    if (!w || !out) {
        st = QLOW_E_NO_MEMORY;
        goto done;
    }
    float *imp = w + count + extra;
    const float *rows = w;
    const float *impv = NULL;
    if ((st = qlow__xsrc_read(j->src, t->src, w, count))) goto done;
    if (t->heads) {
        unpermute(w, w + count, t->rows, t->cols, t->heads);
        rows = w + count;
    }
    if (t->kind == 1 && j->importance) {
        int r = j->importance(j->importance_user, t->src, t->cols, imp);
        if (r < 0) {
            st = QLOW_E_CALLBACK;
            goto done;
        }
        if (r > 0) impv = imp;
    }
    for (int64_t r = 0; r < t->rows && !st; r++) /* the importance is checked with the first row */
        st = qlow__ggml_check_row(tr, rows + r * t->cols, t->cols, r == 0 ? impv : NULL);
    if (st) goto done;
    int64_t nrows = t->rows;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(qlow__ctx_threads(j->ctx))
#endif
    for (int64_t r = 0; r < nrows; r++)
        qlow__ggml_encode_row(tr, rows + r * t->cols, t->cols, impv, j->search, j->steps, out + (size_t)r * row_bytes,
                              NULL, NULL);
    put(e, out, (size_t)t->bytes);
    st = e->st;
done:
    if (w) qlow__free(a, w);
    if (out) qlow__free(a, out);
    return st;
}

static qlow_status export_gguf(qlow_ctx *ctx, const qlow_params *params, const qlow_model *model,
                               const qlow_qfile *qfile, const qlow_tokenizer *tok, int32_t type,
                               qlow_export_importance_fn importance, void *importance_user, qlow__xsink *sink)
{
    qlow__xsrc src = {model, qfile, ctx};
    gconfig c;
    qlow_status st = read_config(&src, &c);
    if (st) return st;
    if (tok && qlow_tokenizer_vocab_size(tok) != c.vocab) return QLOW_E_SHAPE;
    uint64_t align = (uint64_t)qlow__param_int(params, QLOW_PARAM_EXPORT_GGUF_ALIGNMENT);
    int32_t embed_type = (int32_t)qlow__param_int(params, QLOW_PARAM_EXPORT_GGUF_EMBED_TYPE);
    if (align & (align - 1) || !qlow__ggml_traits_find(embed_type)) return QLOW_E_PARAM;
    gjob job = {ctx, &src, (int32_t)qlow__param_int(params, QLOW_PARAM_EXPORT_GGUF_SEARCH),
                (int32_t)qlow__param_int(params, QLOW_PARAM_EXPORT_GGUF_STEPS), importance, importance_user};
    size_t cap = (size_t)c.layers * 9 + 3, n = 0, tbytes;
    if ((st = qlow__mul_size(cap, sizeof(gtensor), &tbytes))) return st;
    const qlow_allocator *a = qlow__ctx_allocator(ctx);
    gtensor *t = (gtensor *)qlow__calloc(a, tbytes, 8);
    if (!t) return QLOW_E_NO_MEMORY;
    st = plan_tensors(&src, &c, type, embed_type, align, t, &n);
    if (!st) {
        emit count = {NULL, 0, 0, QLOW_OK};
        emit_metadata(&count, &c, type, align, tok);
        emit e = {sink, 0, 0, QLOW_OK};
        put(&e, "GGUF", 4);
        put_u32(&e, 3);
        put_u64(&e, (uint64_t)n);
        put_u64(&e, count.nkv);
        emit_metadata(&e, &c, type, align, tok);
        emit_infos(&e, t, n);
        uint64_t base = (e.pos + align - 1) / align * align;
        for (size_t i = 0; i < n && !e.st; i++) {
            uint64_t start = base + t[i].offset;
            e.st = qlow__xsink_zeros(sink, (size_t)(start - e.pos));
            e.pos = start;
            if (!e.st) e.st = write_tensor(&job, &e, &t[i]);
        }
        if (!e.st) e.st = qlow__xsink_zeros(sink, (size_t)((e.pos + align - 1) / align * align - e.pos));
        st = e.st;
    }
    qlow__free(a, t);
    return st;
}

static qlow_status check_args(qlow_ctx *ctx, const qlow_model *model, const qlow_qfile *qfile, int32_t type)
{
    if (!ctx || (!model && !qfile)) return QLOW_E_NULL_POINTER;
    if (model && qfile) return QLOW_E_INVALID_ARG;
    if (!qlow__ggml_traits_find(type)) return QLOW_E_UNSUPPORTED;
    if (!qlow__host_le()) return QLOW_E_UNSUPPORTED;
    return qlow__ctx_check(ctx);
}

qlow_status qlow_export_gguf(qlow_ctx *ctx, const qlow_params *params, const qlow_model *model,
                             const qlow_qfile *qfile, const qlow_tokenizer *tok, int32_t type,
                             qlow_export_importance_fn importance, void *importance_user, const char *path)
{
    if (!path) return QLOW_E_NULL_POINTER;
    qlow_status st = check_args(ctx, model, qfile, type);
    if (st) return st;
    qlow__xsink sink;
    if ((st = qlow__xsink_open_path(&sink, path, qlow__ctx_allocator(ctx)))) return st;
    st = export_gguf(ctx, params, model, qfile, tok, type, importance, importance_user, &sink);
    return qlow__xsink_finish(&sink, st);
}

qlow_status qlow_export_gguf_callback(qlow_ctx *ctx, const qlow_params *params, const qlow_model *model,
                                      const qlow_qfile *qfile, const qlow_tokenizer *tok, int32_t type,
                                      qlow_export_importance_fn importance, void *importance_user,
                                      qlow_write_fn write, void *user)
{
    if (!write) return QLOW_E_NULL_POINTER;
    qlow_status st = check_args(ctx, model, qfile, type);
    if (st) return st;
    qlow__xsink sink;
    qlow__xsink_open_callback(&sink, write, user);
    return export_gguf(ctx, params, model, qfile, tok, type, importance, importance_user, &sink);
}
