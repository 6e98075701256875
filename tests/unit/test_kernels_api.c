/* test_kernels_api.c - the GEMV/GEMM entry points' contracts: statuses for bad arguments, workspace
 * size and alignment, non-finite input, untouched outputs on failure, allocation failure, and that
 * a batched call equals the per-token calls byte for byte. */
#include "qtest.h"
#include "kernels_testpack.h"
#include "qtest_isa.h"

static void make(tp_matrix *m, int format, int64_t rows, int64_t cols)
{
    tp_opts o;
    memset(&o, 0, sizeof(o));
    o.format = format;
    o.rows = rows;
    o.cols = cols;
    o.group_cols = 32;
    o.group_rows = 1;
    o.n_salient = cols / 4;
    o.col_scale = 1;
    o.seed = 11;
    tp_make(m, &o);
}

static int all_equal(const float *y, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&y[i], &v, sizeof(float)) != 0) return 0;
    return 1;
}

int main(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    tp_matrix m;
    make(&m, QLOW_FORMAT_Q4, 7, 100);
    const int64_t R = 7, C = 100;
    float x[3 * 100], y[3 * 7], y1[7];
    for (int i = 0; i < 3 * 100; i++) x[i] = (float)sin(0.37 * i);
    const float sentinel = -12345.0f;

    /* workspace size queries */
    size_t need = 0, need3 = 0;
    QT_CHECK_OK(qlow_gemm_workspace_size(&m.qm, 1, 0, &need));
    QT_CHECK_OK(qlow_gemm_workspace_size(&m.qm, 3, QLOW_GEMM_ACT8, &need3));
    QT_CHECK(need > 0 && need3 > need, "workspace grows with batch: %zu %zu", need, need3);
    QT_CHECK_STATUS(qlow_gemm_workspace_size(NULL, 1, 0, &need), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_gemm_workspace_size(&m.qm, 1, 0, NULL), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_gemm_workspace_size(&m.qm, 0, 0, &need), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_gemm_workspace_size(&m.qm, -5, 0, &need), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_gemm_workspace_size(&m.qm, 1, 4, &need), QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_gemm_workspace_size(&m.qm, (int64_t)1 << 62, 0, &need), QLOW_E_OVERFLOW);

    unsigned char *raw = (unsigned char *)aligned_alloc(64, need3 + 128);
    void *ws = raw;

    /* bad arguments leave y untouched */
    for (int i = 0; i < 21; i++) y[i] = sentinel;
    QT_CHECK_STATUS(qlow_gemm_ws(NULL, &m.qm, x, 1, y, ws, need), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, NULL, x, 1, y, ws, need), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, NULL, 1, y, ws, need), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, x, 1, NULL, ws, need), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, x, 1, y, NULL, need), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, x, 0, y, ws, need), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, x, 1, y, ws, need - 1), QLOW_E_WORKSPACE_TOO_SMALL);
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, x, 3, y, ws, need), QLOW_E_WORKSPACE_TOO_SMALL);
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, x, 1, y, raw + 8, need), QLOW_E_ALIGNMENT);
    QT_CHECK_STATUS(qlow_gemv_ws(ctx, &m.qm, x, y, raw + 32, need), QLOW_E_ALIGNMENT);
    QT_CHECK(all_equal(y, 21, sentinel), "y written by a failing call");

    /* a corrupted or foreign matrix */
    qlow_qmatrix bad = m.qm;
    bad.magic = 0;
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &bad, x, 1, y, ws, need), QLOW_E_INVALID_ARG);
    bad = m.qm;
    bad.p.format = 77;
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &bad, x, 1, y, ws, need), QLOW_E_FORMAT);
    bad = m.qm;
    bad.p.row_bytes = 8;
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &bad, x, 1, y, ws, need), QLOW_E_FORMAT);
    bad = m.qm;
    bad.p.scale = NULL;
    QT_CHECK_STATUS(qlow_gemm_workspace_size(&bad, 1, 0, &need), QLOW_E_FORMAT);
    bad = m.qm;
    bad.p.group_cols = 48;
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &bad, x, 1, y, ws, need), QLOW_E_FORMAT);
    bad = m.qm;
    bad.p.cols = 0;
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &bad, x, 1, y, ws, need), QLOW_E_SHAPE);
    qlow_ctx fake = *ctx;
    fake.magic = 1;
    QT_CHECK_STATUS(qlow_gemm_ws(&fake, &m.qm, x, 1, y, ws, need), QLOW_E_INVALID_ARG);
    QT_CHECK(all_equal(y, 21, sentinel), "y written by a failing call");

    /* non-finite activations: status, y untouched; in every ISA and mode */
    float xn[3 * 100];
    memcpy(xn, x, sizeof(x));
    xn[100 + 57] = NAN;
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, xn, 3, y, ws, need3), QLOW_E_NONFINITE);
    xn[100 + 57] = INFINITY;
    QT_CHECK_STATUS(qlow_gemm_act8_ws(ctx, &m.qm, xn, 3, y, ws, need3), QLOW_E_NONFINITE);
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC));
    QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, xn, 3, y, ws, need3), QLOW_E_NONFINITE);
    QT_CHECK(all_equal(y, 21, sentinel), "y written on non-finite input");
    int64_t det = 0;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &det));
#if defined(QLOW__HAVE_X86_KERNELS)
    /* each x86 level runs its own set: AVX512 without VNNI/VBMI the AVX2 one */
    QT_CHECK(qlow__kernels_for_isa(QLOW_ISA_AVX2) == &qlow__kernels_avx2 &&
                 qlow__kernels_for_isa(QLOW_ISA_AVX512) == &qlow__kernels_avx2 &&
                 qlow__kernels_for_isa(QLOW_ISA_AVX512_VNNI) == &qlow__kernels_avx512,
             "x86 kernel sets by level");
#if defined(QLOW__HAVE_AVX_VNNI_KERNELS)
    QT_CHECK(qlow__kernels_for_isa(QLOW_ISA_AVX2_VNNI) == &qlow__kernels_avx2_vnni &&
                 strcmp(qlow__kernels_avx2_vnni.name, "avx2-vnni") == 0,
             "AVX2_VNNI runs the AVX-VNNI set");
#endif
#endif
    for (int k = 0; k < QT_ISA_LEVELS; k++) {
        if (!qt_isa_runs(qt_isa_levels[k], det)) continue;
        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, qt_isa_levels[k]));
        QT_CHECK_STATUS(qlow_gemm_ws(ctx, &m.qm, xn, 3, y, ws, need3), QLOW_E_NONFINITE);
        QT_CHECK_STATUS(qlow_gemm_act8_ws(ctx, &m.qm, xn, 3, y, ws, need3), QLOW_E_NONFINITE);
        QT_CHECK(all_equal(y, 21, sentinel), "y written on non-finite input at isa %d", qt_isa_levels[k]);
    }
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, det));

    /* a huge value that overflows after the column scale of a B1 r2 matrix */
    tp_matrix mb;
    make(&mb, QLOW_FORMAT_B1, 3, 40);
    float xb[40] = {0};
    int big = -1;
    for (int j = 0; j < 40 && big < 0; j++)
        if (mb.r2[j] > 1.01) big = j;
    QT_CHECK(big >= 0, "a column scale above 1 exists");
    xb[big] = 3.4e38f;
    size_t nb = 0;
    QT_CHECK_OK(qlow_gemm_workspace_size(&mb.qm, 1, 0, &nb));
    void *wb = aligned_alloc(64, (nb + 63) / 64 * 64);
    QT_CHECK_STATUS(qlow_gemv_ws(ctx, &mb.qm, xb, y, wb, nb), QLOW_E_NONFINITE);
    QT_CHECK(all_equal(y, 3, sentinel), "y written on overflow");
    free(wb);
    tp_free(&mb);

    /* batched equals per-token, gemv equals gemm batch 1, allocating equals workspace variants */
    QT_CHECK_OK(qlow_gemm_ws(ctx, &m.qm, x, 3, y, ws, need3));
    for (int t = 0; t < 3; t++) {
        QT_CHECK_OK(qlow_gemv_ws(ctx, &m.qm, x + t * C, y1, ws, need));
        QT_CHECK(memcmp(y1, y + t * R, sizeof(y1)) == 0, "token %d of the batch differs from its gemv", t);
        float y2[7];
        QT_CHECK_OK(qlow_gemv(ctx, &m.qm, x + t * C, y2));
        QT_CHECK(memcmp(y1, y2, sizeof(y1)) == 0, "qlow_gemv differs from qlow_gemv_ws");
    }
    float ya[3 * 7], yb[3 * 7];
    QT_CHECK_OK(qlow_gemm_act8(ctx, &m.qm, x, 3, ya));
    QT_CHECK_OK(qlow_gemm_act8_ws(ctx, &m.qm, x, 3, yb, ws, need3));
    QT_CHECK(memcmp(ya, yb, sizeof(ya)) == 0, "act8 allocating and workspace variants differ");
    QT_CHECK_OK(qlow_gemm(ctx, &m.qm, x, 3, yb));
    QT_CHECK(memcmp(y, yb, sizeof(ya)) == 0, "qlow_gemm differs from qlow_gemm_ws");

    /* a workspace larger than needed and reused with garbage in it gives the same bytes */
    memset(raw, 0xa5, need3 + 128);
    QT_CHECK_OK(qlow_gemm_ws(ctx, &m.qm, x, 3, yb, ws, need3 + 128));
    QT_CHECK(memcmp(y, yb, sizeof(ya)) == 0, "result depends on workspace contents");

    /* allocation failure of the convenience call: QLOW_E_NO_MEMORY, nothing leaked, y untouched */
    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points, {
        qlow_ctx *c2 = NULL;
        st = qlow_ctx_create(&qa, &c2);
        if (st == QLOW_OK) {
            float yy[7];
            for (int i = 0; i < 7; i++) yy[i] = sentinel;
            st = qlow_gemv(c2, &m.qm, x, yy);
            if (st != QLOW_OK) QT_CHECK(all_equal(yy, 7, sentinel), "y written on allocation failure");
            qlow_ctx_destroy(c2);
        }
    }, (void)0);
    QT_CHECK(points == 2, "allocation failure points: %ld", points);

    /* a static context cannot allocate: the convenience call fails cleanly */
    unsigned char cmem[512] __attribute__((aligned(64)));
    qlow_ctx *sctx = NULL;
    QT_CHECK_OK(qlow_ctx_init_static(cmem, sizeof(cmem), &sctx));
    QT_CHECK_STATUS(qlow_gemv(sctx, &m.qm, x, y1), QLOW_E_NO_MEMORY);
    QT_CHECK_OK(qlow_gemv_ws(sctx, &m.qm, x, y1, ws, need));
    QT_CHECK(memcmp(y1, y, sizeof(y1)) == 0, "static context result differs");

    /* M161 with and without a stored permutation agree */
    tp_matrix mm;
    make(&mm, QLOW_FORMAT_M161, 5, 77);
    float ym[5], ym2[5];
    QT_CHECK_OK(qlow_gemv(ctx, &mm.qm, x, ym));
    {
        tp_opts o;
        memset(&o, 0, sizeof(o));
        o.format = QLOW_FORMAT_M161;
        o.rows = 5;
        o.cols = 77;
        o.n_salient = 77 / 4;
        o.col_scale = 1;
        o.store_perm = 1;
        o.seed = 11;
        tp_matrix mp;
        tp_make(&mp, &o);
        QT_CHECK(mp.qm.perm != NULL, "perm stored");
        QT_CHECK_OK(qlow_gemv(ctx, &mp.qm, x, ym2));
        QT_CHECK(memcmp(ym, ym2, sizeof(ym)) == 0, "M161 stored vs derived permutation differ");
        tp_free(&mp);
    }
    bad = mm.qm;
    bad.p.n_salient = 78;
    QT_CHECK_STATUS(qlow_gemv(ctx, &bad, x, ym), QLOW_E_FORMAT);
    tp_free(&mm);

    free(raw);
    tp_free(&m);
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
