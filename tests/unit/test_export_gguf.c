/* test_export_gguf.c - GGUF export of stories260K for every 32-block type and the ternary types:
 * the file validates against the specification (independent reader), every tensor decodes with a plain
 * decoder to exactly the values libqlow chose, norms round-trip bit-exactly, libqlow's weighted error is
 * never above ggml's RTN rule (per block), exact transcoding of libqlow's own grids, the tokenizer
 * metadata, and the failure paths. Prints the per-type table (INFO lines). */
#include <unistd.h>

#include "export/ggml_blocks.h"
#include "export_testutil.h"

static const char *kinds[7] = {"attention.wq", "attention.wk", "attention.wv", "attention.wo",
                               "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};
static const char *gguf_kinds[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"};

static qlow_model *model;
static qlow_tokenizer *tok;
static qlow_ctx *ctx;

static float *read_tensor(const char *name, int64_t *rows, int64_t *cols)
{
    size_t idx;
    int64_t shape[4];
    int32_t ndim;
    if (qlow_model_tensor_find(model, name, &idx) || qlow_model_tensor_info(model, idx, NULL, NULL, &ndim, shape))
        return NULL;
    *rows = shape[0], *cols = ndim == 2 ? shape[1] : 1;
    float *w = (float *)malloc((size_t)(*rows * *cols) * 4);
    qlow_model_tensor_read_f32(model, idx, w, (size_t)(*rows * *cols));
    return w;
}

/* Matrix kind k of layer l: its GGUF tensor in f (name into gname) and the source weights. */
static float *matrix_pair(const gg_file *f, int l, int k, char *gname, const gg_tensor **t, int64_t *rows,
                          int64_t *cols)
{
    char cname[64];
    snprintf(gname, 64, "blk.%d.%s.weight", l, gguf_kinds[k]);
    snprintf(cname, sizeof cname, "layers.%d.%s", l, kinds[k]);
    *t = gg_find_tensor(f, gname);
    return read_tensor(cname, rows, cols);
}

/* Deterministic importance: a smooth positive profile over the columns (checks the weighted search). */
static int importance_cb(void *user, const char *name, int64_t cols, float *out)
{
    (void)name;
    int *calls = (int *)user;
    (*calls)++;
    for (int64_t j = 0; j < cols; j++) out[j] = 0.25f + (float)((j * 7) % 11) / 4.0f;
    return 1;
}

static int export_mem(int32_t type, int search, membuf *m, qlow_export_importance_fn imp, void *user)
{
    qlow_params *p = NULL;
    qlow_params_create(NULL, &p);
    qlow_params_set_int(p, QLOW_PARAM_EXPORT_GGUF_SEARCH, search);
    memset(m, 0, sizeof *m);
    qlow_status st = qlow_export_gguf_callback(ctx, p, model, NULL, tok, type, imp, user, membuf_write, m);
    qlow_params_destroy(p);
    return st;
}

/* Decode tensor t of f into y (rows*cols floats). */
static void decode_tensor(const gg_file *f, const gg_tensor *t, float *y)
{
    int block = 1, bytes = 0;
    gg_type_block(t->type, &block, &bytes);
    uint64_t rows = t->ndim == 2 ? t->ne[1] : 1, nb = t->ne[0] / (uint64_t)block;
    const unsigned char *base = f->p + f->data + t->off;
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t b = 0; b < nb; b++)
            tu_decode_block(t->type, base + (r * nb + b) * (uint64_t)bytes, y + r * t->ne[0] + b * (uint64_t)block);
}

typedef struct type_report {
    double err_q, err_rtn, err_q_w, err_rtn_w, sumsq;
    uint64_t bytes7, weights7;
    size_t file;
} type_report;

/* Export with `type`, validate everything, and measure errors. */
static void check_type(int32_t type, type_report *rep)
{
    membuf m;
    int calls = 0;
    memset(rep, 0, sizeof *rep);
    QT_CHECK_OK(export_mem(type, 1, &m, NULL, NULL));
    gg_file f;
    int ok = gg_parse(&f, m.p, m.n);
    QT_CHECK(ok, "%s: GGUF validates (%s)", qlow_ggml_type_name(type), f.err ? f.err : "");
    if (!ok) return free(m.p);
    rep->file = m.n;
    QT_CHECK(f.data % f.align == 0 && f.align == 32 && f.nt == 47, "%s: data start aligned, 47 tensors",
             qlow_ggml_type_name(type));
    /* norms: bit-exact F32 */
    for (int l = 0; l <= 5; l++) {
        char gname[64], cname[64];
        for (int which = 0; which < 2 && (l < 5 || which == 0); which++) {
            if (l == 5) strcpy(gname, "output_norm.weight"), strcpy(cname, "norm");
            else
                snprintf(gname, sizeof gname, "blk.%d.%s.weight", l, which ? "ffn_norm" : "attn_norm"),
                    snprintf(cname, sizeof cname, "layers.%d.%s", l, which ? "ffn_norm" : "attention_norm");
            const gg_tensor *t = gg_find_tensor(&f, gname);
            int64_t r, c;
            float *w = read_tensor(cname, &r, &c);
            QT_CHECK(t && w && t->type == 0 && t->ndim == 1 && t->ne[0] == 64 &&
                         memcmp(f.p + f.data + t->off, w, 64 * 4) == 0,
                     "%s: %s is the source's bytes", qlow_ggml_type_name(type), gname);
            free(w);
        }
    }
    /* the embedding stays F32 by default and is the source's bytes */
    const gg_tensor *te = gg_find_tensor(&f, "token_embd.weight");
    int64_t er, ec;
    float *emb = read_tensor("tok_embeddings", &er, &ec);
    QT_CHECK(te && te->type == 0 && te->ne[0] == 64 && te->ne[1] == 512 &&
                 memcmp(f.p + f.data + te->off, emb, 512 * 64 * 4) == 0 && !gg_find_tensor(&f, "output.weight"),
             "%s: token_embd F32 exact, classifier shared", qlow_ggml_type_name(type));
    free(emb);
    long worse_blocks = 0, mismatch = 0;
    for (int l = 0; l < 5; l++)
        for (int k = 0; k < 7; k++) {
            char gname[64];
            const gg_tensor *t;
            int64_t rows, cols;
            float *w = matrix_pair(&f, l, k, gname, &t, &rows, &cols);
            int32_t want;
            qlow_ggml_fallback_type(type, cols, &want);
            if (!QT_CHECK(t && t->ndim == 2 && (int64_t)t->ne[0] == cols && (int64_t)t->ne[1] == rows &&
                              t->type == (uint32_t)want,
                          "%s: %s shape and type (want %s)", qlow_ggml_type_name(type), gname,
                          qlow_ggml_type_name(want))) {
                free(w);
                continue;
            }
            float *y = (float *)malloc((size_t)(rows * cols) * 4), *intended = (float *)malloc((size_t)cols * 4);
            float *rtn = (float *)malloc((size_t)cols * 4);
            unsigned char *again = (unsigned char *)malloc((size_t)cols * 4);
            decode_tensor(&f, t, y);
            const qlow__ggml_traits *tr = qlow__ggml_traits_find(want);
            size_t rb = qlow__ggml_row_bytes(tr, cols);
            for (int64_t r = 0; r < rows; r++) {
                const float *x = w + r * cols;
                /* the values libqlow intended, and the same bytes from the public row API */
                qlow__ggml_encode_row(tr, x, cols, NULL, 1, 64, again, intended, NULL);
                if (memcmp(y + r * cols, intended, (size_t)cols * 4)) mismatch++;
                if (l == 0) { /* the public row API gives the same bytes */
                    qlow_ggml_quantize_row(want, x, cols, NULL, 1, 0, again, rb);
                    if (memcmp(again, f.p + f.data + t->off + (uint64_t)r * rb, rb)) mismatch++;
                }
                int blk = tr->block;
                for (int64_t b = 0; b < cols / blk; b++) {
                    tu_rtn_block((uint32_t)want, x + b * blk, blk, rtn + b * blk);
                    double eq = 0, er2 = 0;
                    for (int j = 0; j < blk; j++) {
                        double dq = x[b * blk + j] - y[r * cols + b * blk + j], dr = x[b * blk + j] - rtn[b * blk + j];
                        eq += dq * dq, er2 += dr * dr;
                        rep->sumsq += (double)x[b * blk + j] * x[b * blk + j];
                    }
                    if (eq > er2) worse_blocks++;
                    rep->err_q += eq, rep->err_rtn += er2;
                }
            }
            rep->bytes7 += gg_tensor_bytes(t);
            rep->weights7 += (uint64_t)(rows * cols);
            free(w), free(y), free(intended), free(rtn), free(again);
        }
    QT_CHECK(mismatch == 0, "%s: every row decodes to the values libqlow chose and re-encodes to the same bytes "
             "(%ld mismatches)", qlow_ggml_type_name(type), mismatch);
    QT_CHECK(worse_blocks == 0, "%s: libqlow's block error never above ggml's RTN (%ld worse blocks)",
             qlow_ggml_type_name(type), worse_blocks);
    QT_CHECK(rep->err_q <= rep->err_rtn, "%s: total error %.6g <= RTN %.6g", qlow_ggml_type_name(type), rep->err_q,
             rep->err_rtn);
    free(m.p);

    /* with an importance vector: weighted error per block never above the RTN rule's */
    QT_CHECK_OK(export_mem(type, 1, &m, importance_cb, &calls));
    QT_CHECK(calls == 35 && gg_parse(&f, m.p, m.n), "%s: importance asked for the 35 matrices", qlow_ggml_type_name(type));
    worse_blocks = 0;
    float impv[172];
    importance_cb(&calls, "", 172, impv);
    for (int l = 0; l < 5; l++)
        for (int k = 0; k < 7; k++) {
            char gname[64];
            const gg_tensor *t;
            int64_t rows, cols;
            float *w = matrix_pair(&f, l, k, gname, &t, &rows, &cols);
            float *y = (float *)malloc((size_t)(rows * cols) * 4), rtn[256];
            decode_tensor(&f, t, y);
            int block = 1, bytes = 0;
            gg_type_block(t->type, &block, &bytes);
            for (int64_t r = 0; r < rows; r++)
                for (int64_t b = 0; b < cols / block; b++) {
                    const float *x = w + r * cols + b * block;
                    tu_rtn_block(t->type, x, block, rtn);
                    double eq = 0, er2 = 0;
                    for (int j = 0; j < block; j++) {
                        double iw = impv[b * block + j], dq = x[j] - y[r * cols + b * block + j], dr = x[j] - rtn[j];
                        eq += iw * dq * dq, er2 += iw * dr * dr;
                    }
                    worse_blocks += eq > er2;
                    rep->err_q_w += eq, rep->err_rtn_w += er2;
                }
            free(w), free(y);
        }
    QT_CHECK(worse_blocks == 0, "%s: weighted block error never above ggml's RTN (%ld worse)", qlow_ggml_type_name(type),
             worse_blocks);
    free(m.p);
}

/* TQ1_0 / TQ2_0 need rows of 256: on stories260K every matrix falls back (Q4_0, w2 F16), so the tensor
 * data equals the Q4_0 export's and only general.file_type differs. */
static void check_ternary_fallback(void)
{
    membuf a, b;
    QT_CHECK_OK(export_mem(QLOW_GGML_Q4_0, 1, &a, NULL, NULL));
    for (int32_t type = QLOW_GGML_TQ1_0; type <= QLOW_GGML_TQ2_0; type++) {
        QT_CHECK_OK(export_mem(type, 1, &b, NULL, NULL));
        gg_file fa, fb;
        int ok = gg_parse(&fa, a.p, a.n) && gg_parse(&fb, b.p, b.n);
        QT_CHECK(ok && a.n == b.n && fa.data == fb.data && !memcmp(a.p + fa.data, b.p + fb.data, a.n - fa.data),
                 "%s falls back to the Q4_0 / F16 tensors on stories260K", qlow_ggml_type_name(type));
        long diff = 0;
        for (size_t k = 0; ok && k < fa.data; k++) diff += a.p[k] != b.p[k];
        const gg_kv *ft = ok ? gg_find_kv(&fb, "general.file_type") : NULL;
        QT_CHECK(ft && diff == 1 && gg_le(b.p + ft->vpos, 4) == (type == QLOW_GGML_TQ1_0 ? 36u : 37u),
                 "%s: only general.file_type differs", qlow_ggml_type_name(type));
        printf("INFO %-7s %6.3f  (rows of 64 / 172 fit no 256-block: same tensors as q4_0, %zu bytes)\n",
               qlow_ggml_type_name(type), type == QLOW_GGML_TQ1_0 ? 1.6875 : 2.0625, b.n);
        free(b.p);
    }
    free(a.p);
}

static void check_metadata(void)
{
    membuf m, m2;
    QT_CHECK_OK(export_mem(QLOW_GGML_Q4_0, 1, &m, NULL, NULL));
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 2); /* rows are encoded in parallel: same bytes */
    QT_CHECK_OK(export_mem(QLOW_GGML_Q4_0, 1, &m2, NULL, NULL));
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 1);
    QT_CHECK(m.n == m2.n && !memcmp(m.p, m2.p, m.n), "2 threads give the same file");
    free(m2.p);
    gg_file f;
    QT_CHECK(gg_parse(&f, m.p, m.n), "parse");
    static const struct { const char *key; uint32_t type; uint64_t v; } want[] = {
        {"llama.context_length", 4, 512}, {"llama.embedding_length", 4, 64}, {"llama.block_count", 4, 5},
        {"llama.feed_forward_length", 4, 172}, {"llama.attention.head_count", 4, 8},
        {"llama.attention.head_count_kv", 4, 4}, {"llama.rope.dimension_count", 4, 8},
        {"general.alignment", 4, 32}, {"general.file_type", 4, 2}, {"tokenizer.ggml.bos_token_id", 4, 1},
        {"tokenizer.ggml.eos_token_id", 4, 2}, {"tokenizer.ggml.unknown_token_id", 4, 0}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const gg_kv *kv = gg_find_kv(&f, want[k].key);
        QT_CHECK(kv && kv->type == want[k].type && gg_le(m.p + kv->vpos, 4) == want[k].v, "%s = %llu", want[k].key,
                 (unsigned long long)want[k].v);
    }
    const gg_kv *kv = gg_find_kv(&f, "general.architecture");
    QT_CHECK(kv && kv->type == 8 && gg_le(m.p + kv->vpos, 8) == 5 && !memcmp(m.p + kv->vpos + 8, "llama", 5),
             "general.architecture = llama");
    kv = gg_find_kv(&f, "tokenizer.ggml.model");
    QT_CHECK(kv && kv->type == 8 && !memcmp(m.p + kv->vpos + 8, "llama", 5), "tokenizer.ggml.model = llama");
    kv = gg_find_kv(&f, "llama.attention.layer_norm_rms_epsilon");
    float eps = 0, theta = 0;
    if (kv) memcpy(&eps, m.p + kv->vpos, 4);
    QT_CHECK(kv && kv->type == 6 && eps == 1e-5f, "rms epsilon 1e-5 as float32");
    kv = gg_find_kv(&f, "llama.rope.freq_base");
    if (kv) memcpy(&theta, m.p + kv->vpos, 4);
    QT_CHECK(kv && kv->type == 6 && theta == 10000.0f, "rope freq_base 10000");
    /* token arrays: 512 each; types: UNKNOWN, CONTROL x2, 256 BYTE, NORMAL; spaces as U+2581 */
    const gg_kv *kt = gg_find_kv(&f, "tokenizer.ggml.tokens"), *ks = gg_find_kv(&f, "tokenizer.ggml.scores"),
                *ky = gg_find_kv(&f, "tokenizer.ggml.token_type");
    QT_CHECK(kt && ks && ky && kt->atype == 8 && ks->atype == 6 && ky->atype == 5 && kt->alen == 512 &&
                 ks->alen == 512 && ky->alen == 512, "token arrays typed and sized");
    if (kt && ks && ky) {
        int types_ok = 1, scores_ok = 1, text_ok = 1, spaces = 0;
        size_t pos = kt->vpos;
        for (int32_t i = 0; i < 512; i++) {
            uint64_t len = gg_le(m.p + pos, 8);
            const char *s = (const char *)m.p + pos + 8;
            pos += 8 + len;
            int32_t ty = (int32_t)gg_le(m.p + ky->vpos + 4 * (size_t)i, 4);
            int want_t = i == 0 ? 2 : i <= 2 ? 3 : i <= 258 ? 6 : 1;
            types_ok &= ty == want_t;
            float sc, ref;
            memcpy(&sc, m.p + ks->vpos + 4 * (size_t)i, 4);
            qlow_tokenizer_token(tok, i, NULL, NULL, &ref);
            scores_ok &= sc == ref;
            const char *b;
            size_t n;
            qlow_tokenizer_token(tok, i, &b, &n, NULL);
            if (i >= 3) { /* text = source bytes with ' ' -> E2 96 81 */
                size_t o = 0;
                for (size_t k = 0; k < n; k++) {
                    if (b[k] == ' ') {
                        text_ok &= o + 3 <= len && !memcmp(s + o, "\xE2\x96\x81", 3);
                        o += 3, spaces++;
                    } else {
                        text_ok &= o < len && s[o] == b[k];
                        o++;
                    }
                }
                text_ok &= o == len;
            } else {
                static const char *special[3] = {"<unk>", "<s>", "</s>"};
                text_ok &= len == strlen(special[i]) && !memcmp(s, special[i], len);
            }
        }
        QT_CHECK(types_ok, "token types UNKNOWN / CONTROL / BYTE / NORMAL");
        QT_CHECK(scores_ok, "scores are the tokenizer's");
        QT_CHECK(text_ok && spaces > 50, "token texts with U+2581 for spaces (%d spaces)", spaces);
    }
    free(m.p);
}

/* libqlow's own grids transcode exactly: Q4 symmetric G=32 -> Q4_0, Q8 symmetric G=32 -> Q8_0, ternary
 * rows of 256 -> TQ1_0 / TQ2_0, all with zero error. */
static void check_exact_transcode(void)
{
    int64_t rows, cols;
    float *w = read_tensor("layers.0.feed_forward.w1", &rows, &cols);
    static const struct { int bits; int32_t type; } cases[] = {{4, QLOW_GGML_Q4_0}, {8, QLOW_GGML_Q8_0}};
    for (size_t c = 0; c < 2; c++) {
        qlow_params *p;
        qlow_params_create(NULL, &p);
        qlow_params_set_int(p, QLOW_P_BITS, cases[c].bits);
        qlow_params_set_int(p, QLOW_P_GROUP_COLS, 32);
        qlow_params_set_int(p, QLOW_P_SYMMETRIC, 1);
        qlow_view v;
        qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, w);
        qlow_qmatrix *qm = NULL;
        QT_CHECK_OK(qlow_quantize(ctx, p, &v, NULL, &qm));
        float *dq = (float *)malloc((size_t)(rows * cols) * 4), *y = (float *)malloc((size_t)(rows * cols) * 4);
        qlow_qmatrix_dequantize(qm, 0, rows, dq, (size_t)(rows * cols));
        size_t rb = (size_t)cols / 32 * (cases[c].type == QLOW_GGML_Q4_0 ? 18 : 34);
        unsigned char *buf = (unsigned char *)malloc(rb);
        long diff = 0;
        for (int64_t r = 0; r < rows; r++) {
            QT_CHECK_OK(qlow_ggml_quantize_row(cases[c].type, dq + r * cols, cols, NULL, 1, 0, buf, rb));
            for (int64_t b = 0; b < cols / 32; b++) tu_decode_block((uint32_t)cases[c].type, buf + b * (rb / (size_t)(cols / 32)), y + r * cols + b * 32);
        }
        for (int64_t i = 0; i < rows * cols; i++) diff += dq[i] != y[i];
        QT_CHECK(diff == 0, "libqlow Q%d sym G=32 -> %s is exact (%ld values differ)", cases[c].bits,
                 qlow_ggml_type_name(cases[c].type), diff);
        free(dq), free(y), free(buf);
        qlow_qmatrix_destroy(qm);
        qlow_params_destroy(p);
    }
    free(w);
    /* ternary: rows a * t and a random row; the search beats absmax RTN, exact on ternary input */
    float x[512], y[512], rtn[256];
    unsigned char buf[2 * 66];
    for (int j = 0; j < 512; j++) x[j] = 0.0625f * (float)((int)(qt_rand_u64() % 3) - 1);
    for (int type = 34; type <= 35; type++) {
        size_t bb = type == 34 ? 54 : 66;
        QT_CHECK_OK(qlow_ggml_quantize_row(type, x, 512, NULL, 1, 0, buf, sizeof buf));
        tu_decode_block((uint32_t)type, buf, y), tu_decode_block((uint32_t)type, buf + bb, y + 256);
        QT_CHECK(!memcmp(x, y, sizeof x), "%s: ternary rows are exact", qlow_ggml_type_name(type));
        float g[256];
        for (int j = 0; j < 256; j++) g[j] = (float)qt_rand_normal();
        QT_CHECK_OK(qlow_ggml_quantize_row(type, g, 256, NULL, 1, 0, buf, sizeof buf));
        tu_decode_block((uint32_t)type, buf, y);
        tu_rtn_block((uint32_t)type, g, 256, rtn);
        double eq = 0, er = 0, ss = 0;
        for (int j = 0; j < 256; j++) eq += (g[j] - y[j]) * (g[j] - y[j]), er += (g[j] - rtn[j]) * (g[j] - rtn[j]), ss += g[j] * g[j];
        QT_CHECK(eq < 0.5 * er, "%s: Gaussian rel. error %.4f vs absmax RTN %.4f", qlow_ggml_type_name(type), eq / ss, er / ss);
        printf("INFO %s on N(0,1) x 256: rel. weight MSE libqlow %.4f, ggml RTN %.4f\n", qlow_ggml_type_name(type), eq / ss,
               er / ss);
    }
}

static void check_failures(void)
{
    membuf m;
    memset(&m, 0, sizeof m);
    QT_CHECK_STATUS(qlow_export_gguf_callback(NULL, NULL, model, NULL, tok, 2, NULL, NULL, membuf_write, &m),
                    QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_export_gguf_callback(ctx, NULL, NULL, NULL, tok, 2, NULL, NULL, membuf_write, &m),
                    QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_export_gguf_callback(ctx, NULL, model, NULL, tok, 9 /* Q8_1 */, NULL, NULL, membuf_write, &m),
                    QLOW_E_UNSUPPORTED);
    /* Q4_K on 64 / 172 columns: Q5_0 and F16, as llama.cpp's chain */
    QT_CHECK_OK(qlow_export_gguf_callback(ctx, NULL, model, NULL, tok, QLOW_GGML_Q4_K, NULL, NULL, membuf_write, &m));
    gg_file f;
    const gg_tensor *tq = gg_parse(&f, m.p, m.n) ? gg_find_tensor(&f, "blk.0.attn_q.weight") : NULL;
    const gg_tensor *td = tq ? gg_find_tensor(&f, "blk.0.ffn_down.weight") : NULL;
    QT_CHECK(tq && td && tq->type == QLOW_GGML_Q5_0 && td->type == QLOW_GGML_F16, "Q4_K falls back to Q5_0 / F16");
    free(m.p);
    memset(&m, 0, sizeof m);
    QT_CHECK_STATUS(qlow_export_gguf_callback(ctx, NULL, model, NULL, tok, 99, NULL, NULL, membuf_write, &m),
                    QLOW_E_UNSUPPORTED);
    m.fail_after = 40;
    QT_CHECK_STATUS(qlow_export_gguf_callback(ctx, NULL, model, NULL, tok, 2, NULL, NULL, membuf_write, &m),
                    QLOW_E_CALLBACK);
    free(m.p);
    /* path writer: complete file or nothing */
    const char *path = "/tmp/qlow_test_export.gguf";
    remove(path);
    QT_CHECK_OK(qlow_export_gguf(ctx, NULL, model, NULL, tok, QLOW_GGML_Q8_0, NULL, NULL, path));
    QT_CHECK(access(path, F_OK) == 0 && access("/tmp/qlow_test_export.gguf.tmp", F_OK) != 0,
             "file renamed into place, no temporary left");
    remove(path);
    QT_CHECK_STATUS(qlow_export_gguf(ctx, NULL, model, NULL, tok, QLOW_GGML_Q8_0, NULL, NULL,
                                     "/nonexistent-dir/x.gguf"), QLOW_E_IO);
    QT_CHECK(qlow_export_gguf(ctx, NULL, model, NULL, tok, 2, NULL, NULL, path) == QLOW_OK, "again");
    remove(path);
    /* row API statuses */
    float x[32] = {0}, bad[32] = {0};
    unsigned char buf[34];
    bad[3] = NAN;
    QT_CHECK_STATUS(qlow_ggml_quantize_row(2, x, 31, NULL, 1, 0, buf, sizeof buf), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_ggml_quantize_row(2, bad, 32, NULL, 1, 0, buf, sizeof buf), QLOW_E_NONFINITE);
    QT_CHECK_STATUS(qlow_ggml_quantize_row(8, x, 32, NULL, 1, 0, buf, 33), QLOW_E_BUFFER_TOO_SMALL);
    x[0] = 1e6f;
    QT_CHECK_STATUS(qlow_ggml_quantize_row(8, x, 32, NULL, 1, 0, buf, sizeof buf), QLOW_E_NUMERIC);
    int32_t t;
    QT_CHECK(qlow_ggml_fallback_type(QLOW_GGML_TQ2_0, 64, &t) == QLOW_OK && t == QLOW_GGML_Q4_0, "TQ2_0 -> Q4_0 on 64");
    QT_CHECK(qlow_ggml_fallback_type(QLOW_GGML_TQ1_0, 172, &t) == QLOW_OK && t == QLOW_GGML_F16, "TQ1_0 -> F16 on 172");
    QT_CHECK(qlow_ggml_fallback_type(QLOW_GGML_Q8_0, 512, &t) == QLOW_OK && t == QLOW_GGML_Q8_0, "Q8_0 fits 512");
    QT_CHECK(qlow_ggml_type_from_name("IQ4_NL", &t) == QLOW_OK && t == 20, "name lookup");
}

static int fail_importance(void *user, const char *name, int64_t cols, float *out)
{
    (void)user, (void)name, (void)cols, (void)out;
    return -1;
}

int main(void)
{
    char path[512];
    QT_CHECK_OK(qlow_model_open(qt_path("data/stories260K.bin", path, sizeof path), NULL, NULL, &model));
    QT_CHECK_OK(qlow_tokenizer_open(qt_path("data/tok512.bin", path, sizeof path), 0, NULL, &tok));
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    if (!model || !tok || !ctx) return qt_finish();

    static const int32_t types[] = {QLOW_GGML_Q8_0, QLOW_GGML_Q5_1, QLOW_GGML_Q5_0,
                                    QLOW_GGML_Q4_1, QLOW_GGML_Q4_0, QLOW_GGML_IQ4_NL};
    printf("INFO GGUF export of stories260K (35 matrices; w2 has 172 columns -> F16 fallback)\n");
    printf("INFO %-7s %6s %9s %12s %12s %8s %12s %12s %8s %9s\n", "type", "bpw(T)", "bpw(7)", "relMSE lib",
           "relMSE rtn", "gain", "wMSE lib", "wMSE rtn", "gain", "bytes");
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        type_report r;
        check_type(types[k], &r);
        int64_t blk;
        size_t bb;
        qlow_ggml_type_block(types[k], &blk, &bb);
        printf("INFO %-7s %6.3f %9.4f %12.4e %12.4e %7.1f%% %12.4e %12.4e %7.1f%% %9zu\n", qlow_ggml_type_name(types[k]),
               8.0 * (double)bb / (double)blk, r.weights7 ? 8.0 * (double)r.bytes7 / (double)r.weights7 : 0.0,
               r.err_q / r.sumsq, r.err_rtn / r.sumsq, r.err_rtn > 0 ? 100.0 * (1.0 - r.err_q / r.err_rtn) : 0.0,
               r.err_q_w / r.sumsq, r.err_rtn_w / r.sumsq,
               r.err_rtn_w > 0 ? 100.0 * (1.0 - r.err_q_w / r.err_rtn_w) : 0.0, r.file);
    }
    check_ternary_fallback();
    check_metadata();
    check_exact_transcode();
    check_failures();
    const char *p2 = "/tmp/qlow_test_export_fail.gguf";
    QT_CHECK_STATUS(qlow_export_gguf(ctx, NULL, model, NULL, tok, 2, fail_importance, NULL, p2), QLOW_E_CALLBACK);
    QT_CHECK(access(p2, F_OK) != 0 && access("/tmp/qlow_test_export_fail.gguf.tmp", F_OK) != 0,
             "failed export leaves no file");
    qlow_ctx_destroy(ctx);
    qlow_tokenizer_close(tok);
    qlow_model_close(model);
    return qt_finish();
}
