/* test_kernels_prep.c - the per-matrix kernel tables a handle builds once (plan, Q group maps, fp32
 * column scales, M161 permutation): every way of getting a handle (built by a quantizer, wrapped, wrapped
 * in caller memory, loaded from a .qlow image, or a plain copy of the handle struct, which has to
 * recompute everything per call in the workspace) gives bit-identical products for every format, batch,
 * mode, ISA and thread count; and the workspace and handle size contracts hold exactly. */
#include "qtest.h"
#include "qtest_isa.h"

#include "formats/layout.h"

enum { RMAX = 601, CMAX = 512, T = 64 };

/* Row-kernel regimes: narrow parts (one 16-block chunk; a partial last group of 16 rows), 512 columns
 * that also split over two threads, a single short row, and a part of several chunks. */
static const int64_t SHAPES[][2] = {{77, 200}, {601, 512}, {5, 31}, {33, 64}, {20, 1100}};
static int64_t R, C;

typedef struct fcase {
    const char *name;
    int32_t scheme, bits, group_cols, group_rows, symmetric, packing; /* scheme 0: PTQ1.61 (M161) */
} fcase;

static const fcase cases[] = {
    {"Q8", QLOW_SCHEME_RTN, 8, 32, 1, 0, 0},
    {"Q4/g64", QLOW_SCHEME_RTN, 4, 64, 1, 0, 0},
    {"Q4/rows", QLOW_SCHEME_RTN, 4, 0, 1, 1, 0},
    {"Q3/g96", QLOW_SCHEME_RTN, 3, 96, 1, 0, 0},
    {"Q2/g32x4", QLOW_SCHEME_RTN, 2, 32, 4, 0, 0},
    {"B1", QLOW_SCHEME_BINARY, 0, 0, 0, 0, 0},
    {"B2", QLOW_SCHEME_BINARY_RESIDUAL, 0, 0, 0, 0, 0},
    {"T158", QLOW_SCHEME_TERNARY, 0, 0, 0, 0, QLOW_FORMAT_T158},
    {"T2", QLOW_SCHEME_TERNARY, 0, 0, 0, 0, QLOW_FORMAT_T2},
    {"M161", 0, 0, 0, 0, 0, 0},
};

static float W[RMAX * 1100], Xc[T * 1100], X[3 * 1100];

static qlow_qmatrix *build(qlow_ctx *ctx, const fcase *c)
{
    qlow_view v;
    qlow_qmatrix *qm = NULL;
    QT_CHECK_OK(qlow_view_init_2d(&v, QLOW_DTYPE_F32, R, C, W));
    if (c->scheme == 0) {
        qlow_view xv;
        float fold[1100];
        QT_CHECK_OK(qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, C, Xc));
        QT_CHECK_OK(qlow_ptq161_quantize(ctx, NULL, &v, &xv, NULL, &qm, fold));
        return qm;
    }
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_SCHEME, c->scheme));
    if (c->scheme == QLOW_SCHEME_RTN) {
        QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_BITS, c->bits));
        QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_GROUP_COLS, c->group_cols));
        QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_GROUP_ROWS, c->group_rows));
        QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_SYMMETRIC, c->symmetric));
    }
    if (c->packing) QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_TERNARY_PACKING, c->packing));
    QT_CHECK_OK(qlow_quantize(ctx, p, &v, NULL, &qm));
    qlow_params_destroy(p);
    return qm;
}

/* Y of one configuration, through a fresh exactly-sized workspace; also checks that one byte less is
 * refused. Returns the workspace size. */
static size_t run(qlow_ctx *ctx, const qlow_qmatrix *qm, int64_t batch, int act8, float *Y)
{
    size_t need = 0;
    QT_CHECK_OK(qlow_gemm_workspace_size(qm, batch, act8 ? QLOW_GEMM_ACT8 : 0, &need));
    void *ws = aligned_alloc(64, (need + 63) / 64 * 64);
    QT_CHECK_STATUS(act8 ? qlow_gemm_act8_ws(ctx, qm, X, batch, Y, ws, need - 1)
                         : qlow_gemm_ws(ctx, qm, X, batch, Y, ws, need - 1),
                    QLOW_E_WORKSPACE_TOO_SMALL);
    memset(ws, 0xa5, need); /* contents on entry must not matter */
    QT_CHECK_OK(act8 ? qlow_gemm_act8_ws(ctx, qm, X, batch, Y, ws, need) : qlow_gemm_ws(ctx, qm, X, batch, Y, ws, need));
    free(ws);
    return need;
}

/* A .qlow image in memory holding the matrix, reopened. */
static qlow_qmatrix *through_qfile(qlow_ctx *ctx, const qlow_qmatrix *qm, void **buf, qlow_qfile **file)
{
    const size_t cap = 1u << 20;
    *buf = aligned_alloc(64, cap);
    qlow_qfile_writer *w = NULL;
    QT_CHECK_OK(qlow_qfile_writer_open_buffer(*buf, cap, NULL, NULL, &w));
    QT_CHECK_OK(qlow_qfile_writer_add_qmatrix(w, "m", qm));
    QT_CHECK_OK(qlow_qfile_writer_finish(w));
    uint64_t bytes = 0;
    QT_CHECK_OK(qlow_qfile_writer_bytes(w, &bytes));
    qlow_qfile_writer_destroy(w);
    QT_CHECK_OK(qlow_qfile_open_buffer(*buf, (size_t)bytes, NULL, NULL, file));
    qlow_qmatrix *out = NULL;
    QT_CHECK_OK(qlow_qfile_tensor_qmatrix(*file, 0, ctx, &out));
    return out;
}

int main(void)
{
    for (size_t i = 0; i < sizeof(W) / sizeof(W[0]); i++) W[i] = (float)qt_rand_normal();
    for (size_t i = 0; i < sizeof(Xc) / sizeof(Xc[0]); i++) Xc[i] = (float)qt_rand_normal();
    for (size_t i = 0; i < sizeof(X) / sizeof(X[0]); i++) X[i] = (float)qt_rand_normal() * (i % 17 == 3 ? 9.0f : 1.0f);
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    int64_t det = 0;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &det));

    for (size_t si = 0; si < sizeof(SHAPES) / sizeof(SHAPES[0]); si++)
    for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
        const fcase *c = &cases[ci];
        R = SHAPES[si][0];
        C = SHAPES[si][1];
        if (c->group_cols > 32 && C < c->group_cols) continue;
        if (c->scheme == 0 && R * C > 100000) continue; /* PTQ1.61's quantizer is slow; 77x200 covers M161 */
        qlow_qmatrix *built = build(ctx, c);
        if (!QT_CHECK(built != NULL, "%s: no matrix", c->name)) continue;
        QT_CHECK(built->prep != NULL, "%s: built handle without kernel tables", c->name);

        size_t n = 0, hb = 0;
        QT_CHECK_OK(qlow_qmatrix_serialized_size(built, &n));
        void *img = aligned_alloc(64, (n + 63) / 64 * 64);
        QT_CHECK_OK(qlow_qmatrix_serialize(built, img, n));
        qlow_qmatrix *wrapped = NULL, *stat = NULL;
        QT_CHECK_OK(qlow_qmatrix_wrap(ctx, img, n, &wrapped));
        QT_CHECK_OK(qlow_qmatrix_wrap_size(img, n, &hb));
        void *mem = aligned_alloc(64, (hb + 63) / 64 * 64);
        QT_CHECK_STATUS(qlow_qmatrix_wrap_static(mem, hb - 1, img, n, &stat), QLOW_E_WORKSPACE_TOO_SMALL);
        QT_CHECK_OK(qlow_qmatrix_wrap_static(mem, hb, img, n, &stat));
        QT_CHECK(hb >= sizeof(qlow_qmatrix) && stat && stat->prep != NULL &&
                     (const unsigned char *)stat->prep >= (const unsigned char *)mem &&
                     (const unsigned char *)stat->prep < (const unsigned char *)mem + hb,
                 "%s: static handle's tables outside its memory", c->name);
        void *fbuf = NULL;
        qlow_qfile *file = NULL;
        qlow_qmatrix *loaded = through_qfile(ctx, built, &fbuf, &file);
        /* A struct copy does not own the tables of the original: it recomputes them per call. */
        qlow_qmatrix copy = *built;

        const qlow_qmatrix *handles[5] = {built, wrapped, stat, loaded, &copy};
        static float Y[5][3 * RMAX], Yg[2][2][3 * RMAX];
        /* generic, the AVX-VNNI set (AVX2's kernels, which the other tests compare, in another build) and
         * the detected level (its batch-1 kernels read the tables) */
        const int levels[3] = {QLOW_ISA_GENERIC, QLOW_ISA_AVX2_VNNI, (int)det};
        for (int isa = 0; isa < 3; isa++) {
            if (isa == 1 && (det == QLOW_ISA_AVX2_VNNI || !qt_isa_runs(QLOW_ISA_AVX2_VNNI, det))) continue;
            QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, levels[isa]));
            for (int threads = 1; threads <= 2; threads++) {
                QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads));
                for (int act8 = 0; act8 < 2; act8++)
                    for (int64_t batch = 1; batch <= 3; batch += 2) {
                        size_t need[5];
                        for (int h = 0; h < 5; h++) {
                            if (!handles[h]) continue;
                            for (int64_t i = 0; i < 3 * R; i++) Y[h][i] = -7.0f;
                            need[h] = run(ctx, handles[h], batch, act8, Y[h]);
                        }
                        for (int h = 1; h < 5; h++) {
                            if (!handles[h]) continue;
                            QT_CHECK(memcmp(Y[0], Y[h], sizeof(float) * (size_t)(batch * R)) == 0,
                                     "%s %lldx%lld: handle %d differs (isa %d, threads %d, act8 %d, batch %d)",
                                     c->name, (long long)R, (long long)C, h, levels[isa], threads, act8, (int)batch);
                            if (h < 4)
                                QT_CHECK(need[h] == need[0], "%s: workspace %zu vs %zu", c->name, need[h], need[0]);
                        }
                        QT_CHECK(need[4] >= need[0], "%s: the copy needs less workspace than the handle",
                                 c->name);
                        /* every ISA (and its batch-1 kernels) against the generic kernels */
                        float *g = Yg[act8][batch > 1];
                        if (isa == 0 && threads == 1) memcpy(g, Y[0], sizeof(float) * (size_t)(batch * R));
                        else
                            QT_CHECK(memcmp(g, Y[0], sizeof(float) * (size_t)(batch * R)) == 0,
                                     "%s %lldx%lld: isa %d threads %d act8 %d batch %d differs from generic",
                                     c->name, (long long)R, (long long)C, levels[isa], threads, act8, (int)batch);
                    }
            }
        }
        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 1));
        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, det));

        /* non-finite activations are refused by every path, Y untouched */
        for (int bad = 0; bad < 2; bad++) {
            const int64_t j = C - 1 - (C > 3 ? 2 : 0);
            const float keep = X[j];
            X[j] = bad ? INFINITY : NAN;
            for (int act8 = 0; act8 < 2; act8++) {
                size_t nb = 0;
                QT_CHECK_OK(qlow_gemm_workspace_size(built, 1, 0, &nb));
                void *wb = aligned_alloc(64, (nb + 63) / 64 * 64);
                for (int64_t i = 0; i < R; i++) Y[1][i] = -7.0f;
                QT_CHECK_STATUS(act8 ? qlow_gemm_act8_ws(ctx, built, X, 1, Y[1], wb, nb)
                                     : qlow_gemm_ws(ctx, built, X, 1, Y[1], wb, nb),
                                QLOW_E_NONFINITE);
                int untouched = 1;
                for (int64_t i = 0; i < R; i++) untouched &= Y[1][i] == -7.0f;
                QT_CHECK(untouched, "%s: Y written on non-finite input", c->name);
                free(wb);
            }
            X[j] = keep;
        }

        /* The tables are used only while the handle still matches what they were built from. */
        size_t need = 0;
        QT_CHECK_OK(qlow_gemm_workspace_size(wrapped, 1, 0, &need));
        void *ws = aligned_alloc(64, (need + 63) / 64 * 64 + 4096);
        const int32_t format = wrapped->p.format;
        wrapped->p.format = 77;
        QT_CHECK_STATUS(qlow_gemm_ws(ctx, wrapped, X, 1, Y[1], ws, need + 4096), QLOW_E_FORMAT);
        wrapped->p.format = format;
        QT_CHECK_OK(qlow_gemm_ws(ctx, wrapped, X, 1, Y[1], ws, need));
        copy.p.rows = 0;
        QT_CHECK_STATUS(qlow_gemm_workspace_size(&copy, 1, 0, &need), QLOW_E_SHAPE);
        free(ws);

        qlow_qmatrix_destroy(loaded);
        qlow_qfile_close(file);
        free(fbuf);
        qlow_qmatrix_destroy(stat);
        free(mem);
        qlow_qmatrix_destroy(wrapped);
        free(img);
        qlow_qmatrix_destroy(built);
    }
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
