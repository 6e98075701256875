/* test_kernels_codebytes.c - the SIMD kernels decode every possible code byte as the generic kernel
 * does, including the bytes no packer writes (T158 bytes 243..255, T2 code 3): kernels.h defines the
 * digits of all 256 values, and the AVX2 T158 decoder takes a shortcut for the top range. Each ISA's
 * output must equal the generic output byte for byte. Rows of several lengths put the bytes at every
 * position of a step, including the partial last step. */
#include "qtest.h"
#include "kernels_testpack.h"

static qlow_status run(qlow_ctx *ctx, const tp_matrix *m, const float *X, int64_t batch, float *Y)
{
    size_t bytes = 0;
    qlow_status s = qlow_gemm_workspace_size(&m->qm, batch, 0, &bytes);
    if (s != QLOW_OK) return s;
    void *w = aligned_alloc(64, (bytes + 63) / 64 * 64);
    s = qlow_gemm_ws(ctx, &m->qm, X, batch, Y, w, bytes);
    free(w);
    return s;
}

int main(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    int64_t detected = 0;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &detected));
    const int formats[] = {QLOW_FORMAT_T158, QLOW_FORMAT_T2};
    const int64_t shapes[][2] = {{5, 1300}, {3, 4096}, {2, 330}};
    const int isas[] = {QLOW_ISA_AVX2, QLOW_ISA_AVX512, QLOW_ISA_AVX512_VNNI, QLOW_ISA_NEON};
    int compared = 0, high_bytes = 0;
    for (size_t fi = 0; fi < sizeof(formats) / sizeof(formats[0]); fi++)
        for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
            tp_opts o;
            memset(&o, 0, sizeof(o));
            o.format = formats[fi];
            o.rows = shapes[si][0];
            o.cols = shapes[si][1];
            o.no_dequant = 1;
            o.seed = 900 + fi * 10 + si;
            tp_matrix m;
            tp_make(&m, &o);
            /* every byte value, shifted per row so each lands at every offset of a step */
            uint8_t *codes = (uint8_t *)(uintptr_t)m.qm.p.codes;
            const size_t rb = m.qm.p.row_bytes;
            for (int64_t r = 0; r < o.rows; r++)
                for (size_t i = 0; i < rb; i++) {
                    uint8_t b = (uint8_t)(i * 7 + (size_t)r * 13);
                    codes[(size_t)r * rb + i] = b;
                    high_bytes += formats[fi] == QLOW_FORMAT_T158 && b >= 243;
                }
            const int64_t batch = 3;
            size_t nx = (size_t)(batch * o.cols), ny = (size_t)(batch * o.rows);
            float *X = (float *)malloc(nx * sizeof(float));
            float *Yg = (float *)malloc(ny * sizeof(float)), *Ys = (float *)malloc(ny * sizeof(float));
            for (size_t i = 0; i < nx; i++) X[i] = (float)sin(0.61 * (double)i) * (i % 53 == 7 ? 30.0f : 1.0f);
            QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC));
            QT_CHECK_OK(run(ctx, &m, X, batch, Yg));
            for (int k = 0; k < 4; k++) {
                if (isas[k] > detected || (isas[k] == QLOW_ISA_NEON) != (detected == QLOW_ISA_NEON)) continue;
                QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, isas[k]));
                for (int64_t b1 = 1; b1 <= batch; b1 += batch - 1) { /* one token, and a tile of three */
                    memset(Ys, 0xcd, ny * sizeof(float));
                    QT_CHECK_OK(run(ctx, &m, X, b1, Ys));
                    QT_CHECK(memcmp(Yg, Ys, (size_t)(b1 * o.rows) * sizeof(float)) == 0,
                             "format %d R%lld C%lld batch %lld: isa %d differs from generic", formats[fi],
                             (long long)o.rows, (long long)o.cols, (long long)b1, isas[k]);
                    compared++;
                }
            }
            free(X);
            free(Yg);
            free(Ys);
            tp_free(&m);
        }
    printf("INFO %d SIMD-vs-generic comparisons over all code bytes (%d T158 bytes >= 243), detected isa %lld\n",
           compared, high_bytes, (long long)detected);
    QT_CHECK(high_bytes > 0, "the T158 rows hold bytes 243..255");
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
