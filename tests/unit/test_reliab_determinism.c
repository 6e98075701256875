/* test_reliab_determinism.c - outputs that the formats promise to be exact are byte-identical across
 * repeated runs, thread counts 1/2/4 and the generic vs SIMD code paths (QLOW_CTX_ISA_MAX): serialized
 * quantized matrices, .qlow files, Hessian accumulators and the quantities derived from them. */
#include "qtest.h"

static const int thread_counts[] = {1, 2, 4};

typedef struct variant {
    int threads, isa; /* isa -1 = what the CPU supports */
} variant;

static qlow_ctx *make_ctx(variant v)
{
    qlow_ctx *ctx = NULL;
    if (qlow_ctx_create(NULL, &ctx) != QLOW_OK) return NULL;
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, v.threads);
    if (v.isa >= 0) qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, v.isa);
    return ctx;
}

/* The variants to compare: every thread count at the detected ISA, plus the generic path, plus the
 * AVX-VNNI kernel set when the CPU has it (and it is not the detected level already). */
static int variants(variant *out)
{
    int n = 0;
    for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) out[n++] = (variant){thread_counts[t], -1};
    out[n++] = (variant){1, QLOW_ISA_GENERIC};
    out[n++] = (variant){4, QLOW_ISA_GENERIC};
    if (qlow_has_feature(QLOW_FEATURE_AVX_VNNI)) out[n++] = (variant){2, QLOW_ISA_AVX2_VNNI};
    return n;
}

static unsigned char *quantize_image(variant v, const qlow_params *p, const qlow_view *W, size_t *n)
{
    qlow_ctx *ctx = make_ctx(v);
    qlow_qmatrix *qm = NULL;
    unsigned char *img = NULL;
    *n = 0;
    if (ctx && qlow_quantize(ctx, p, W, NULL, &qm) == QLOW_OK && qlow_qmatrix_serialized_size(qm, n) == QLOW_OK) {
        img = (unsigned char *)malloc(*n);
        if (img && qlow_qmatrix_serialize(qm, img, *n) != QLOW_OK) {
            free(img);
            img = NULL;
        }
    }
    qlow_qmatrix_destroy(qm);
    qlow_ctx_destroy(ctx);
    return img;
}

static void quantize_everywhere(void)
{
    enum { R = 67, C = 300 };
    static float w[R * C];
    for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal() * (i % 53 == 0 ? 6.0f : 1.0f);
    qlow_view W;
    QT_CHECK_OK(qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w));
    static const struct { const char *name; int scheme, bits, group, sym, pack; } cases[] = {
        {"q8 g32", QLOW_SCHEME_RTN, 8, 32, 0, 0},    {"q4 row", QLOW_SCHEME_RTN, 4, 0, 0, 0},
        {"q4 sym g64", QLOW_SCHEME_RTN, 4, 64, 1, 0}, {"q3 g32", QLOW_SCHEME_RTN, 3, 32, 0, 0},
        {"q2 row", QLOW_SCHEME_RTN, 2, 0, 0, 0},     {"binary", QLOW_SCHEME_BINARY, 0, 0, 0, 0},
        {"binary residual", QLOW_SCHEME_BINARY_RESIDUAL, 0, 0, 0, 0},
        {"ternary t158", QLOW_SCHEME_TERNARY, 0, 0, 0, QLOW_FORMAT_T158},
        {"ternary t2", QLOW_SCHEME_TERNARY, 0, 0, 0, QLOW_FORMAT_T2},
    };
    variant vs[8];
    int nv = variants(vs);
    int compared = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        qlow_params *p = NULL;
        QT_CHECK_OK(qlow_params_create(NULL, &p));
        qlow_params_set_int(p, QLOW_P_SCHEME, cases[c].scheme);
        if (cases[c].bits) qlow_params_set_int(p, QLOW_P_BITS, cases[c].bits);
        if (cases[c].group) qlow_params_set_int(p, QLOW_P_GROUP_COLS, cases[c].group);
        if (cases[c].sym) qlow_params_set_int(p, QLOW_P_SYMMETRIC, 1);
        if (cases[c].pack) qlow_params_set_int(p, QLOW_P_TERNARY_PACKING, cases[c].pack);
        size_t n0 = 0;
        unsigned char *ref = quantize_image(vs[0], p, &W, &n0);
        QT_CHECK(ref != NULL, "%s: quantize", cases[c].name);
        for (int k = 0; ref && k < nv; k++) {
            for (int rep = 0; rep < (k == 0 ? 2 : 1); rep++) {
                size_t n = 0;
                unsigned char *img = quantize_image(vs[k], p, &W, &n);
                QT_CHECK(img && n == n0 && memcmp(img, ref, n0) == 0, "%s: threads %d isa %d differs from threads 1",
                         cases[c].name, vs[k].threads, vs[k].isa);
                compared++;
                free(img);
            }
        }
        free(ref);
        qlow_params_destroy(p);
    }
    printf("INFO determinism: %d quantized images byte-identical across runs, threads 1/2/4, generic vs SIMD\n", compared);
}

static unsigned char qfile_buf[2][1 << 16];

static uint64_t qt_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    return z ^ (z >> 31);
}

static uint64_t write_file(unsigned char *buf, variant v)
{
    enum { R = 9, C = 70 };
    static float w[R * C];
    uint64_t state = 99;
    for (int i = 0; i < R * C; i++) w[i] = (float)((int64_t)(qt_next(&state) % 2001) - 1000) / 512.0f;
    qlow_view W;
    qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w);
    qlow_ctx *ctx = make_ctx(v);
    qlow_qmatrix *qm = NULL;
    qlow_qfile_writer *wr = NULL;
    uint64_t bytes = 0;
    size_t n = 0;
    if (!ctx || qlow_quantize(ctx, NULL, &W, NULL, &qm) != QLOW_OK || qlow_qmatrix_serialized_size(qm, &n) != QLOW_OK)
        goto done;
    unsigned char *img = (unsigned char *)malloc(n);
    int32_t fmt = 0;
    if (img && qlow_qmatrix_serialize(qm, img, n) == QLOW_OK && qlow_qmatrix_format(qm, &fmt) == QLOW_OK &&
        qlow_qfile_writer_open_buffer(buf, sizeof qfile_buf[0], NULL, NULL, &wr) == QLOW_OK) {
        int ok = qlow_qfile_writer_add_packed(wr, "blk.0.attn_q", fmt, 4, R, C, img, n) == QLOW_OK &&
                 qlow_qfile_writer_add_dense(wr, "blk.0.attn_norm", &W) == QLOW_OK &&
                 qlow_qfile_writer_set_string(wr, "general.name", "determinism") == QLOW_OK &&
                 qlow_qfile_writer_set_float(wr, "general.x", 0.1) == QLOW_OK && qlow_qfile_writer_finish(wr) == QLOW_OK;
        if (ok) qlow_qfile_writer_bytes(wr, &bytes);
    }
    free(img);
    qlow_qfile_writer_destroy(wr);
done:
    qlow_qmatrix_destroy(qm);
    qlow_ctx_destroy(ctx);
    return bytes;
}

static void qfiles_identical(void)
{
    variant vs[8];
    int nv = variants(vs);
    uint64_t n0 = write_file(qfile_buf[0], vs[0]);
    QT_CHECK(n0 > 0, ".qlow written");
    for (int k = 0; k < nv; k++) {
        memset(qfile_buf[1], 0xa5, sizeof qfile_buf[1]);
        uint64_t n = write_file(qfile_buf[1], vs[k]);
        QT_CHECK(n == n0 && memcmp(qfile_buf[0], qfile_buf[1], (size_t)n0) == 0,
                 ".qlow bytes differ (threads %d isa %d)", vs[k].threads, vs[k].isa);
    }
    printf("INFO determinism: .qlow files byte-identical across %d variants (%llu bytes)\n", nv, (unsigned long long)n0);
}

/* The Hessian documents bit-identical results for any thread count; across ISAs (FMA in the SIMD
 * accumulation) it promises no exactness, so there the results are only required to agree closely. */
typedef struct hess_result {
    unsigned char *saved;
    size_t saved_n;
    double err, eig;
} hess_result;

enum { HCOLS = 96, HTOK = 700 };
static double hess_factor[2][HCOLS * HCOLS];

static hess_result hessian_run(variant v, const qlow_view *xv, const qlow_view *wv, const qlow_view *wqv, double *factor)
{
    hess_result r = {NULL, 0, 0, 0};
    qlow_ctx *ctx = make_ctx(v);
    qlow_hessian *h = NULL;
    if (ctx && qlow_hessian_create(NULL, HCOLS, QLOW_HESSIAN_FULL, &h) == QLOW_OK) {
        QT_CHECK_OK(qlow_hessian_add(ctx, h, xv));
        QT_CHECK_OK(qlow_hessian_save_size(h, &r.saved_n));
        r.saved = (unsigned char *)malloc(r.saved_n);
        QT_CHECK_OK(qlow_hessian_save(h, r.saved, r.saved_n, NULL));
        QT_CHECK_OK(qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_HINV, 0.01, factor, HCOLS * HCOLS));
        QT_CHECK_OK(qlow_plan_layer_error(ctx, h, wv, wqv, NULL, 0, &r.err));
        QT_CHECK_OK(qlow_hessian_top_eigen(ctx, h, 1e-9, 100, NULL, 0, &r.eig, NULL));
    }
    qlow_hessian_destroy(h);
    qlow_ctx_destroy(ctx);
    return r;
}

static void hessian_everywhere(void)
{
    static float X[HTOK * HCOLS], W[8 * HCOLS], Wq[8 * HCOLS];
    for (int i = 0; i < HTOK * HCOLS; i++) X[i] = (float)qt_rand_normal();
    for (int i = 0; i < 8 * HCOLS; i++) W[i] = (float)qt_rand_normal(), Wq[i] = W[i] + 0.05f * (float)qt_rand_normal();
    qlow_view xv, wv, wqv;
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, HTOK, HCOLS, X);
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, 8, HCOLS, W);
    qlow_view_init_2d(&wqv, QLOW_DTYPE_F32, 8, HCOLS, Wq);
    static const int isas[2] = {-1, QLOW_ISA_GENERIC};
    hess_result ref[2];
    for (int i = 0; i < 2; i++) {
        ref[i] = hessian_run((variant){1, isas[i]}, &xv, &wv, &wqv, hess_factor[i]);
        static double f[HCOLS * HCOLS];
        for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
            variant v = {thread_counts[t], isas[i]};
            hess_result r = hessian_run(v, &xv, &wv, &wqv, f);
            QT_CHECK(r.saved && r.saved_n == ref[i].saved_n && memcmp(r.saved, ref[i].saved, r.saved_n) == 0,
                     "Hessian bytes differ (threads %d isa %d)", v.threads, v.isa);
            QT_CHECK(memcmp(f, hess_factor[i], sizeof f) == 0, "Cholesky factor differs (threads %d isa %d)", v.threads, v.isa);
            QT_CHECK(r.err == ref[i].err, "layer error differs (threads %d isa %d)", v.threads, v.isa);
            QT_CHECK(r.eig == ref[i].eig, "top eigenvalue differs (threads %d isa %d)", v.threads, v.isa);
            free(r.saved);
        }
    }
    double rel_err = fabs(ref[0].err - ref[1].err) / ref[1].err, rel_eig = fabs(ref[0].eig - ref[1].eig) / ref[1].eig;
    QT_CHECK(rel_err < 1e-6 && rel_eig < 1e-6, "generic vs SIMD Hessian disagree: %g %g", rel_err, rel_eig);
    printf("INFO determinism: Hessian, Cholesky factor, layer error, top eigenvalue bit-identical for threads 1/2/4 "
           "(per ISA); generic vs SIMD %s, relative difference %.2g\n",
           memcmp(ref[0].saved, ref[1].saved, ref[0].saved_n) == 0 ? "identical" : "not bit-identical (not promised)",
           rel_err);
    free(ref[0].saved);
    free(ref[1].saved);
}

/* GPTQ documents identical results for every thread count. */
static unsigned char *gptq_image(variant v, const qlow_view *W, const qlow_view *X, int act_order, size_t *n)
{
    qlow_ctx *ctx = make_ctx(v);
    qlow_hessian *h = NULL;
    qlow_params *p = NULL;
    qlow_qmatrix *qm = NULL;
    unsigned char *img = NULL;
    *n = 0;
    if (ctx && qlow_hessian_create(NULL, X->shape[1], QLOW_HESSIAN_FULL, &h) == QLOW_OK &&
        qlow_hessian_add(ctx, h, X) == QLOW_OK && qlow_params_create(NULL, &p) == QLOW_OK) {
        qlow_params_set_int(p, QLOW_P_BITS, 3);
        qlow_params_set_int(p, QLOW_P_GROUP_COLS, 32);
        qlow_params_set_int(p, QLOW_GPTQ_BLOCK, 32);
        qlow_params_set_int(p, QLOW_GPTQ_ACT_ORDER, act_order);
        if (qlow_gptq_quantize(ctx, p, W, h, &qm) == QLOW_OK && qlow_qmatrix_serialized_size(qm, n) == QLOW_OK) {
            img = (unsigned char *)malloc(*n);
            if (img) qlow_qmatrix_serialize(qm, img, *n);
        }
    }
    qlow_qmatrix_destroy(qm);
    qlow_params_destroy(p);
    qlow_hessian_destroy(h);
    qlow_ctx_destroy(ctx);
    return img;
}

static void gptq_everywhere(void)
{
    enum { R = 40, C = 160, TOK = 300 };
    static float w[R * C], x[TOK * C];
    for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
    for (int i = 0; i < TOK * C; i++) x[i] = (float)qt_rand_normal() * (1.0f + (float)(i % C) / 40.0f);
    qlow_view W, X;
    qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w);
    qlow_view_init_2d(&X, QLOW_DTYPE_F32, TOK, C, x);
    static const int isas[2] = {-1, QLOW_ISA_GENERIC};
    int same_across_isa = 1, compared = 0;
    for (int act = 0; act < 2; act++) {
        size_t n_ref[2] = {0, 0};
        unsigned char *ref[2] = {NULL, NULL};
        for (int i = 0; i < 2; i++) {
            ref[i] = gptq_image((variant){1, isas[i]}, &W, &X, act, &n_ref[i]);
            QT_CHECK(ref[i] != NULL, "GPTQ act_order %d isa %d", act, isas[i]);
            for (size_t t = 0; ref[i] && t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
                size_t n = 0;
                unsigned char *img = gptq_image((variant){thread_counts[t], isas[i]}, &W, &X, act, &n);
                QT_CHECK(img && n == n_ref[i] && memcmp(img, ref[i], n) == 0, "GPTQ act_order %d differs at threads %d isa %d",
                         act, thread_counts[t], isas[i]);
                compared++;
                free(img);
            }
        }
        if (!ref[0] || !ref[1] || n_ref[0] != n_ref[1] || memcmp(ref[0], ref[1], n_ref[0]) != 0) same_across_isa = 0;
        free(ref[0]);
        free(ref[1]);
    }
    printf("INFO determinism: %d GPTQ images bit-identical for threads 1/2/4 (per ISA); generic vs SIMD %s\n", compared,
           same_across_isa ? "identical" : "not bit-identical (follows the Hessian, not promised)");
}

/* Kernels: documented bit-identical on every ISA and for every thread count. */
static void kernels_everywhere(void)
{
    enum { R = 77, C = 200, B = 5 };
    static float w[R * C], X[B * C], Y[B * R], Yref[B * R];
    for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
    for (int i = 0; i < B * C; i++) X[i] = (float)qt_rand_normal() * (i % 17 == 0 ? 20.0f : 1.0f);
    qlow_view W;
    qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w);
    static const int schemes[] = {QLOW_SCHEME_RTN, QLOW_SCHEME_BINARY, QLOW_SCHEME_BINARY_RESIDUAL, QLOW_SCHEME_TERNARY};
    static const int bits[] = {8, 4, 3, 2};
    variant vs[8];
    int nv = variants(vs), compared = 0;
    qlow_ctx *qctx = make_ctx((variant){1, -1});
    for (size_t s = 0; s < 4 + 3; s++) {
        qlow_params *p = NULL;
        qlow_qmatrix *qm = NULL;
        qlow_params_create(NULL, &p);
        if (s < 4) {
            qlow_params_set_int(p, QLOW_P_BITS, bits[s]);
            qlow_params_set_int(p, QLOW_P_GROUP_COLS, 64);
        } else {
            qlow_params_set_int(p, QLOW_P_SCHEME, schemes[s - 3]);
        }
        QT_CHECK_OK(qlow_quantize(qctx, p, &W, NULL, &qm));
        qlow_params_destroy(p);
        if (!qm) continue;
        for (int mode = 0; mode < 3; mode++) { /* gemv, gemm, gemm_act8 */
            for (int k = 0; k < nv; k++) {
                qlow_ctx *ctx = make_ctx(vs[k]);
                float *dst = k == 0 ? Yref : Y;
                qlow_status st = mode == 0 ? qlow_gemv(ctx, qm, X, dst)
                                 : mode == 1 ? qlow_gemm(ctx, qm, X, B, dst) : qlow_gemm_act8(ctx, qm, X, B, dst);
                QT_CHECK_OK(st);
                size_t n = (mode == 0 ? 1 : B) * R * sizeof(float);
                if (k > 0) {
                    QT_CHECK(memcmp(Y, Yref, n) == 0, "kernel mode %d matrix %zu differs at threads %d isa %d", mode, s,
                             vs[k].threads, vs[k].isa);
                    compared++;
                }
                qlow_ctx_destroy(ctx);
            }
        }
        qlow_qmatrix_destroy(qm);
    }
    qlow_ctx_destroy(qctx);
    printf("INFO determinism: %d GEMV/GEMM/act8 results bit-identical to threads 1 on the best ISA "
           "(threads 1/2/4, generic path)\n", compared);
}

int main(void)
{
    quantize_everywhere();
    qfiles_identical();
    hessian_everywhere();
    gptq_everywhere();
    kernels_everywhere();
    return qt_finish();
}
