/* test_export_kquant.c - the 256-blocks: Q2_K..Q6_K, TQ1_0, TQ2_0. Rows of real stories260K weights
 * (four 64-column rows side by side) and Gaussian rows decode with the plain layout decoders to exactly the
 * values libqlow chose; the search is never worse than the rule on any block; and a synthetic model with
 * 256-multiple dimensions exports to a valid GGUF whose every matrix is the requested 256-block type. */
#include "export/ggml_blocks.h"
#include "export_testutil.h"

static const int32_t ktypes[] = {QLOW_GGML_Q6_K, QLOW_GGML_Q5_K, QLOW_GGML_Q4_K, QLOW_GGML_Q3_K,
                                 QLOW_GGML_Q2_K, QLOW_GGML_TQ2_0, QLOW_GGML_TQ1_0};

static void check_rows(const float *x, int64_t nrows, const char *what)
{
    printf("INFO %s: %lld rows of 256\n", what, (long long)nrows);
    for (size_t t = 0; t < sizeof ktypes / sizeof ktypes[0]; t++) {
        const qlow__ggml_traits *tr = qlow__ggml_traits_find(ktypes[t]);
        unsigned char blk[256], rule[256];
        float deq[256], y[256], yr[256];
        double eq = 0, er = 0, ss = 0;
        long mism = 0, worse = 0;
        for (int64_t r = 0; r < nrows; r++) {
            const float *xr = x + r * 256;
            qlow__ggml_encode_row(tr, xr, 256, NULL, 1, 64, blk, deq, NULL);
            QT_CHECK_OK(qlow_ggml_quantize_row(ktypes[t], xr, 256, NULL, 0, 0, rule, sizeof rule));
            tu_decode_block((uint32_t)ktypes[t], blk, y);
            tu_decode_block((uint32_t)ktypes[t], rule, yr);
            mism += memcmp(y, deq, sizeof y) != 0;
            double a = 0, b = 0;
            for (int j = 0; j < 256; j++)
                a += (xr[j] - y[j]) * (xr[j] - y[j]), b += (xr[j] - yr[j]) * (xr[j] - yr[j]), ss += xr[j] * xr[j];
            worse += a > b;
            eq += a, er += b;
        }
        QT_CHECK(mism == 0, "%s %s: plain decoder = libqlow's values (%ld rows differ)", what, tr->name, mism);
        QT_CHECK(worse == 0, "%s %s: search never worse than the rule (%ld blocks worse)", what, tr->name, worse);
        QT_CHECK(eq / ss < (tr->block == 256 && tr->type >= QLOW_GGML_TQ1_0 ? 0.5 : 0.2), "%s %s: rel. MSE %.4g plausible",
                 what, tr->name, eq / ss);
        printf("INFO   %-6s %7.4f bpw  rel. MSE search %.4e  rule %.4e\n", tr->name, 8.0 * tr->bytes / 256.0, eq / ss,
               er / ss);
    }
}

/* A llama2.c checkpoint in memory: dim 256, hidden 256, 1 layer, 4 heads, vocab 32, seq 16. */
static unsigned char *synthetic_model(size_t *size)
{
    const int dim = 256, hid = 256, L = 1, vocab = 32, seq = 16, hd = 64;
    size_t n = (size_t)vocab * dim + L * dim + 4 * (size_t)L * dim * dim + L * dim + 3 * (size_t)L * dim * hid + dim +
               (size_t)seq * hd;
    unsigned char *p = (unsigned char *)malloc(28 + 4 * n);
    int32_t hdr[7] = {dim, hid, L, 4, 4, vocab, seq};
    memcpy(p, hdr, 28);
    float *w = (float *)(p + 28);
    for (size_t i = 0; i < n; i++) w[i] = (float)(0.05 * qt_rand_normal());
    *size = 28 + 4 * n;
    return p;
}

static void check_gguf(void)
{
    size_t size;
    unsigned char *bytes = synthetic_model(&size);
    qlow_model *m = NULL;
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    QT_CHECK_OK(qlow_model_open_buffer(bytes, size, NULL, NULL, &m));
    for (size_t t = 0; m && t < sizeof ktypes / sizeof ktypes[0]; t++) {
        membuf mb;
        memset(&mb, 0, sizeof mb);
        QT_CHECK_OK(qlow_export_gguf_callback(ctx, NULL, m, NULL, NULL, ktypes[t], NULL, NULL, membuf_write, &mb));
        gg_file f;
        int ok = gg_parse(&f, mb.p, mb.n);
        QT_CHECK(ok, "%s: synthetic GGUF validates (%s)", qlow_ggml_type_name(ktypes[t]), f.err ? f.err : "");
        long wrong = 0, diff = 0;
        static const char *g[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"};
        static const char *c[7] = {"attention.wq", "attention.wk", "attention.wv", "attention.wo",
                                   "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};
        for (int k = 0; ok && k < 7; k++) {
            char gn[64], cn[64];
            snprintf(gn, sizeof gn, "blk.0.%s.weight", g[k]);
            snprintf(cn, sizeof cn, "layers.0.%s", c[k]);
            const gg_tensor *te = gg_find_tensor(&f, gn);
            size_t idx;
            int64_t shape[4];
            qlow_model_tensor_find(m, cn, &idx);
            qlow_model_tensor_info(m, idx, NULL, NULL, NULL, shape);
            if (!te || te->type != (uint32_t)ktypes[t]) {
                wrong++;
                continue;
            }
            float *x = (float *)malloc((size_t)(shape[0] * shape[1]) * 4), y[256], deq[256];
            unsigned char tmp[256];
            qlow_model_tensor_read_f32(m, idx, x, (size_t)(shape[0] * shape[1]));
            const qlow__ggml_traits *tr = qlow__ggml_traits_find(ktypes[t]);
            for (int64_t b = 0; b < shape[0] * shape[1] / 256; b++) {
                const unsigned char *blk = mb.p + f.data + te->off + (size_t)b * (size_t)tr->bytes;
                tu_decode_block(te->type, blk, y);
                qlow_ggml_dequantize_row(ktypes[t], blk, (size_t)tr->bytes, 256, deq);
                diff += memcmp(y, deq, sizeof y) != 0;
                if (b < 8) { /* and these are the bytes the row quantizer gives for that row segment */
                    qlow__ggml_encode_row(tr, x + b * 256, 256, NULL, 1, 64, tmp, deq, NULL);
                    diff += memcmp(tmp, blk, (size_t)tr->bytes) != 0 || memcmp(y, deq, sizeof y) != 0;
                }
            }
            free(x);
        }
        QT_CHECK(wrong == 0 && diff == 0, "%s: every matrix stored as that type, decoding to libqlow's values (%ld, %ld)",
                 qlow_ggml_type_name(ktypes[t]), wrong, diff);
        free(mb.p);
    }
    qlow_model_close(m);
    qlow_ctx_destroy(ctx);
    free(bytes);
}

int main(void)
{
    char path[512];
    qlow_model *m = NULL;
    QT_CHECK_OK(qlow_model_open(qt_path("data/stories260K.bin", path, sizeof path), NULL, NULL, &m));
    if (!m) return qt_finish();
    /* real weights: layer 0..4 wq rows, four 64-column rows per 256-row */
    float *x = (float *)malloc(5 * 64 * 64 * 4);
    for (int l = 0; l < 5; l++) {
        char name[64];
        size_t idx;
        snprintf(name, sizeof name, "layers.%d.attention.wq", l);
        qlow_model_tensor_find(m, name, &idx);
        qlow_model_tensor_read_f32(m, idx, x + l * 4096, 4096);
    }
    check_rows(x, 5 * 4096 / 256, "stories260K wq");
    free(x);
    float *g = (float *)malloc(64 * 256 * 4);
    for (int i = 0; i < 64 * 256; i++) g[i] = (float)qt_rand_normal();
    check_rows(g, 64, "N(0,1)");
    free(g);
    check_gguf();
    qlow_model_close(m);
    return qt_finish();
}
