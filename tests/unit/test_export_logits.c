/* test_export_logits.c - the fake-quant checkpoint is a faithful stand-in for the packed .qlow model:
 * (a) per matrix, libqlow's kernel output Y equals W_exported x_hat to fp32 rounding, where x_hat is the
 *     kernels' documented int8 activation quantization (32-column blocks, absmax / 127) - i.e. the kernels
 *     compute exactly with the exported weights;
 * (b) end to end on real text, the engine's fp32 path on the exported .bin and the packed model through
 *     the kernels give logits that differ only by that activation quantization (same top-1). */
#include "export_testutil.h"

#include <unistd.h>

#include "../../examples/llama/llama.c"
#include "../../examples/llama/model_io.c"
#include "../../examples/llama/qlinear.c"

/* (a): every packed matrix of `qf` against the same-named fp32 tensor of `exported`. */
static void check_kernels(qlow_ctx *ctx, const qlow_qfile *qf, const qlow_model *exported, int bits)
{
    size_t n;
    long bad = 0, mats = 0;
    double worst = 0;
    qlow_qfile_tensor_count(qf, &n);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        int32_t kind;
        const void *data;
        size_t size, j;
        qlow_qfile_tensor_info(qf, i, &name, &kind, NULL, NULL, NULL, NULL);
        if (kind != QLOW_QFILE_PACKED) continue;
        qlow_qmatrix *qm = NULL;
        qlow_qfile_tensor_data(qf, i, &data, &size);
        if (qlow_qmatrix_wrap(ctx, data, size, &qm) || qlow_model_tensor_find(exported, name, &j)) {
            bad++;
            continue;
        }
        int64_t rows, cols;
        qlow_qmatrix_shape(qm, &rows, &cols);
        float *w = (float *)malloc((size_t)(rows * cols) * 4), *x = (float *)malloc((size_t)cols * 4);
        float *xh = (float *)malloc((size_t)cols * 4), *y = (float *)malloc((size_t)rows * 4);
        qlow_model_tensor_read_f32(exported, j, w, (size_t)(rows * cols));
        for (int64_t c = 0; c < cols; c++) x[c] = (float)qt_rand_normal();
        for (int64_t b0 = 0; b0 < cols; b0 += 32) { /* the kernels' activation blocks */
            int64_t b1 = b0 + 32 < cols ? b0 + 32 : cols;
            float amax = 0;
            for (int64_t c = b0; c < b1; c++) amax = fabsf(x[c]) > amax ? fabsf(x[c]) : amax;
            float sc = amax / 127.0f;
            for (int64_t c = b0; c < b1; c++) xh[c] = amax > 0 ? (float)lrintf(x[c] * 127.0f / amax) * sc : 0.0f;
        }
        QT_CHECK_OK(qlow_gemv(ctx, qm, x, y));
        for (int64_t r = 0; r < rows; r++) {
            double ref = 0, mag = 0;
            for (int64_t c = 0; c < cols; c++) ref += (double)w[r * cols + c] * xh[c], mag += fabs((double)w[r * cols + c] * xh[c]);
            double e = fabs(y[r] - ref) / (mag + 1e-30);
            worst = e > worst ? e : worst;
            bad += e > 1e-5;
        }
        mats++;
        free(w), free(x), free(xh), free(y);
        qlow_qmatrix_destroy(qm);
    }
    QT_CHECK(bad == 0 && mats == 35, "Q%d: kernel output = exported W x_hat for all %ld matrices (worst rel. %.2g)", bits,
             mats, worst);
}

/* stories260K with every block matrix packed at `bits` (asymmetric, G=32, range search) into `path`. */
static int write_qlow(qlow_ctx *ctx, const qlow_model *src, int bits, const char *path)
{
    qlow_qfile_writer *w = NULL;
    qlow_params *p = NULL;
    size_t n;
    qlow_status st = qlow_params_create(NULL, &p);
    if (!st) st = qlow_params_set_int(p, QLOW_P_BITS, bits);
    if (!st) st = qlow_params_set_int(p, QLOW_P_GROUP_COLS, 32);
    if (!st) st = qlow_qfile_writer_open(path, NULL, NULL, &w);
    if (!st) st = qlow_qfile_writer_set_model(w, src);
    if (!st) st = qlow_model_tensor_count(src, &n);
    for (size_t i = 0; !st && i < n; i++) {
        const char *name;
        qlow_view v;
        qlow_model_tensor_info(src, i, &name, NULL, NULL, NULL);
        st = qlow_model_tensor_view(src, i, &v);
        if (st) break;
        if (!tu_is_matrix(name)) {
            st = qlow_qfile_writer_add_dense(w, name, &v);
            continue;
        }
        qlow_qmatrix *qm = NULL;
        size_t sz = 0;
        int32_t fmt = 0;
        st = qlow_quantize(ctx, p, &v, NULL, &qm);
        if (!st) st = qlow_qmatrix_serialized_size(qm, &sz);
        if (!st) st = qlow_qmatrix_format(qm, &fmt);
        void *s = st ? NULL : malloc(sz);
        if (s && !qlow_qmatrix_serialize(qm, s, sz))
            st = qlow_qfile_writer_add_packed(w, name, fmt, bits, v.shape[0], v.shape[1], s, sz);
        free(s);
        qlow_qmatrix_destroy(qm);
    }
    if (!st) st = qlow_qfile_writer_finish(w);
    qlow_qfile_writer_destroy(w);
    qlow_params_destroy(p);
    return st;
}

int main(void)
{
    char mpath[512], tpath[512], err[256];
    const char *qpath = "/tmp/qlow_test_export_logits.qlow", *bpath = "/tmp/qlow_test_export_logits.bin";
    qt_path("data/stories260K.bin", mpath, sizeof mpath);
    qt_path("data/tok512.bin", tpath, sizeof tpath);
    qlow_ctx *ctx = NULL;
    qlow_model *src = NULL;
    qlow_tokenizer *tok = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    QT_CHECK_OK(qlow_model_open(mpath, NULL, NULL, &src));
    QT_CHECK_OK(qlow_tokenizer_open(tpath, 0, NULL, &tok));
    if (!ctx || !src || !tok) return qt_finish();
    const char *text = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                       "One day, she saw a big, red ball.";
    int32_t toks[256];
    size_t nt = 0;
    QT_CHECK_OK(qlow_tokenizer_encode(tok, text, strlen(text), 1, 0, toks, 256, &nt));
    int ti[256];
    for (size_t i = 0; i < nt; i++) ti[i] = toks[i];

    static const int bits[2] = {4, 2};
    for (int b = 0; b < 2; b++) {
        QT_CHECK_OK(write_qlow(ctx, src, bits[b], qpath));
        qlow_qfile *qf = NULL;
        QT_CHECK_OK(qlow_qfile_open(qpath, NULL, NULL, &qf));
        QT_CHECK_OK(qlow_export_dequant(ctx, NULL, qf, src, bpath));
        qlow_model *exported = NULL;
        QT_CHECK_OK(qlow_model_open(bpath, NULL, NULL, &exported));
        if (qf && exported) check_kernels(ctx, qf, exported, bits[b]);
        qlow_model_close(exported);
        qlow_qfile_close(qf);
        llm_model packed, fake;
        memset(&packed, 0, sizeof packed), memset(&fake, 0, sizeof fake);
        int lp = llm_model_load_qlow(qpath, &packed, err, sizeof err);
        QT_CHECK(lp == 0, "engine loads the .qlow: %s", lp ? err : "");
        int lf = llm_model_load_checkpoint(bpath, &fake, err, sizeof err);
        QT_CHECK(lf == 0, "engine loads the fake-quant .bin: %s", lf ? err : "");
        if (lp == 0 && lf == 0) {
            llm_state sp, sf;
            int vocab = packed.cfg.vocab_size;
            float *a = (float *)malloc(sizeof(float) * nt * (size_t)vocab), *c = (float *)malloc(sizeof(float) * nt * (size_t)vocab);
            QT_CHECK(llm_state_init(&sp, &packed, ctx, (int)nt) == 0 && llm_state_init(&sf, &fake, ctx, (int)nt) == 0, "states");
            QT_CHECK_OK(llm_forward(&sp, ti, (int)nt, 0, a, 1));
            QT_CHECK_OK(llm_forward(&sf, ti, (int)nt, 0, c, 1));
            double maxd = 0, maxl = 0;
            int agree = 0;
            for (size_t t = 0; t < nt; t++) {
                int ia = 0, ic = 0;
                for (int v = 0; v < vocab; v++) {
                    double d = fabs((double)a[t * vocab + v] - c[t * vocab + v]);
                    maxd = d > maxd ? d : maxd;
                    maxl = fabs(a[t * vocab + v]) > maxl ? fabs(a[t * vocab + v]) : maxl;
                    if (a[t * vocab + v] > a[t * vocab + ia]) ia = v;
                    if (c[t * vocab + v] > c[t * vocab + ic]) ic = v;
                }
                agree += ia == ic;
            }
            QT_CHECK(maxd <= 0.05 * maxl && agree >= (int)nt - 2,
                     "Q%d: fake-quant fp32 logits vs packed int8-activation kernels (max |diff| %.3g, max |logit| %.3g, top-1 %d/%zu)",
                     bits[b], maxd, maxl, agree, nt);
            printf("INFO Q%d G=32: %zu positions, max |logit diff| fake-quant fp32 vs packed kernels %.3g (max |logit| %.3g), top-1 %d/%zu\n",
                   bits[b], nt, maxd, maxl, agree, nt);
            llm_state_free(&sp), llm_state_free(&sf);
            free(a), free(c);
        }
        llm_model_free(&packed), llm_model_free(&fake);
    }
    remove(qpath), remove(bpath);
    qlow_tokenizer_close(tok);
    qlow_model_close(src);
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
