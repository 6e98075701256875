/* test_hessian_accum.c - the qlow_hessian accumulator against a double reference: full and diagonal
 * modes, f32/f16 strided views, thread and ISA independence, merge, save/load, damping, dead columns,
 * Cholesky factors, power iteration and Lanczos. */
#include "qtest.h"
#include "qtest_isa.h"
#include "hessian_ref.h"

/* isa_level 0: best available, 1: AVX2 at most, 2: portable C. */
static qlow_ctx *ctx_with(int threads, int isa_level)
{
    qlow_ctx *c = NULL;
    qlow_ctx_create(NULL, &c);
    qlow_ctx_set_int(c, QLOW_CTX_NUM_THREADS, threads);
    int64_t det = 0;
    qlow_ctx_get_int(c, QLOW_CTX_ISA_DETECTED, &det);
    if (isa_level == 1 && qt_isa_runs(QLOW_ISA_AVX2, det)) qlow_ctx_set_int(c, QLOW_CTX_ISA_MAX, QLOW_ISA_AVX2);
    if (isa_level == 2) qlow_ctx_set_int(c, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC);
    return c;
}

static double max_rel_diff(const double *a, const double *b, int64_t n, double scale)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / scale;
        if (d > m) m = d;
    }
    return m;
}

static void fill_x(float *X, int64_t n) { for (int64_t i = 0; i < n; i++) X[i] = (float)(ref_gauss() * (1.0 + (i % 7) * 0.3)); }

static void test_full_matches_reference(void)
{
    const int64_t N = 600, d = 77; /* not multiples of the 12 x 32 tile or the 256-token chunk */
    float *X = malloc(sizeof(float) * N * d);
    fill_x(X, N * d);
    double *ref = malloc(sizeof(double) * d * d), *got = malloc(sizeof(double) * d * d);
    ref_hessian(X, N, d, ref);
    double scale = 0.0;
    for (int64_t i = 0; i < d; i++) scale = fmax(scale, ref[i * d + i]);
    unsigned char *saved[6] = {0};
    size_t saved_n[6] = {0};
    for (int variant = 0; variant < 6; variant++) {
        qlow_ctx *ctx = ctx_with(1 + (variant & 1), variant >> 1);
        qlow_hessian *h = NULL;
        QT_CHECK_OK(qlow_hessian_create(NULL, d, QLOW_HESSIAN_FULL, &h));
        /* Two batches of different sizes. */
        qlow_view v1, v2;
        qlow_view_init_2d(&v1, QLOW_DTYPE_F32, 333, d, X);
        qlow_view_init_2d(&v2, QLOW_DTYPE_F32, N - 333, d, X + 333 * d);
        QT_CHECK_OK(qlow_hessian_add(ctx, h, &v1));
        QT_CHECK_OK(qlow_hessian_add(ctx, h, &v2));
        QT_CHECK_OK(qlow_hessian_matrix(h, 0.0, got, d * d));
        double err = max_rel_diff(ref, got, d * d, scale);
        QT_CHECK(err < 2e-6, "variant %d: max rel diff %.3g", variant, err);
        qlow_hessian_save_size(h, &saved_n[variant]);
        saved[variant] = malloc(saved_n[variant]);
        QT_CHECK_OK(qlow_hessian_save(h, saved[variant], saved_n[variant], NULL));
        qlow_hessian_destroy(h);
        qlow_ctx_destroy(ctx);
    }
    QT_CHECK(memcmp(saved[0], saved[1], saved_n[0]) == 0, "1 and 2 threads bit-identical (SIMD)");
    QT_CHECK(memcmp(saved[2], saved[3], saved_n[2]) == 0, "1 and 2 threads bit-identical (AVX2)");
    QT_CHECK(memcmp(saved[4], saved[5], saved_n[4]) == 0, "1 and 2 threads bit-identical (generic)");
    for (int i = 0; i < 6; i++) free(saved[i]);
    free(X), free(ref), free(got);
}

static void test_f16_strided_and_diag_mode(void)
{
    const int64_t N = 300, d = 40;
    /* f16 data with a column stride of 2 elements (every other half used). */
    uint16_t *Xh = malloc(sizeof(uint16_t) * N * d * 2);
    float *Xf = malloc(sizeof(float) * N * d);
    for (int64_t t = 0; t < N; t++)
        for (int64_t j = 0; j < d; j++) {
            uint16_t hbits = qlow_fp32_to_fp16((float)ref_gauss());
            Xh[(t * d + j) * 2] = hbits;
            Xh[(t * d + j) * 2 + 1] = 0x7e00; /* NaN in the unused slots: must never be read */
            Xf[t * d + j] = qlow_fp16_to_fp32(hbits);
        }
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F16, N, d, Xh);
    v.stride_bytes[1] = 4;
    v.stride_bytes[0] = 4 * d;
    qlow_ctx *ctx = ctx_with(2, 0);
    qlow_hessian *full = NULL, *diag = NULL;
    QT_CHECK_OK(qlow_hessian_create(NULL, d, QLOW_HESSIAN_FULL, &full));
    QT_CHECK_OK(qlow_hessian_create(NULL, d, QLOW_HESSIAN_DIAG, &diag));
    QT_CHECK_OK(qlow_hessian_add(ctx, full, &v));
    QT_CHECK_OK(qlow_hessian_add(ctx, diag, &v));
    double *ref = malloc(sizeof(double) * d * d);
    ref_hessian(Xf, N, d, ref);
    float df[64], dd[64], mean[64];
    QT_CHECK_OK(qlow_hessian_diag(full, df, d));
    QT_CHECK_OK(qlow_hessian_diag(diag, dd, d));
    QT_CHECK_OK(qlow_hessian_col_mean(diag, mean, d));
    double tr_ref = 0.0, worst = 0.0, worst_mean = 0.0;
    for (int64_t j = 0; j < d; j++) {
        tr_ref += ref[j * d + j];
        worst = fmax(worst, fabs(df[j] - ref[j * d + j]) / ref[j * d + j]);
        worst = fmax(worst, fabs(dd[j] - ref[j * d + j]) / ref[j * d + j]);
        double m = 0.0;
        for (int64_t t = 0; t < N; t++) m += Xf[t * d + j];
        worst_mean = fmax(worst_mean, fabs(mean[j] - m / N));
    }
    QT_CHECK(worst < 1e-5, "diag (full and diag modes) vs reference: %.3g", worst);
    QT_CHECK(worst_mean < 1e-6, "column means: %.3g", worst_mean);
    double tr1, tr2;
    QT_CHECK_OK(qlow_hessian_trace(full, &tr1));
    QT_CHECK_OK(qlow_hessian_trace(diag, &tr2));
    QT_CHECK(fabs(tr1 - tr_ref) < 1e-6 * tr_ref && fabs(tr2 - tr_ref) < 1e-9 * tr_ref, "trace %.9g %.9g vs %.9g",
             tr1, tr2, tr_ref);
    /* Diagonal mode has no matrix. */
    double tmp[4];
    QT_CHECK_STATUS(qlow_hessian_matrix(diag, 0.0, tmp, 4), QLOW_E_STATE);
    QT_CHECK_STATUS(qlow_hessian_merge(full, diag), QLOW_E_STATE);
    /* Merging a full accumulator into a diagonal one doubles it. */
    QT_CHECK_OK(qlow_hessian_merge(diag, full));
    int64_t tok = 0;
    qlow_hessian_info(diag, NULL, NULL, &tok);
    QT_CHECK(tok == 2 * N, "merged tokens %lld", (long long)tok);
    float dm[64];
    qlow_hessian_diag(diag, dm, d);
    QT_CHECK(fabs(dm[3] - dd[3]) < 1e-5 * dd[3], "merge of equal halves keeps normalized diag");
    /* NaN in the data: rejected and the accumulator unchanged. */
    Xh[(5 * d + 3) * 2] = 0x7e00;
    QT_CHECK_STATUS(qlow_hessian_add(ctx, full, &v), QLOW_E_NONFINITE);
    qlow_hessian_info(full, NULL, NULL, &tok);
    QT_CHECK(tok == N, "unchanged after NaN");
    qlow_hessian_destroy(full);
    qlow_hessian_destroy(diag);
    qlow_ctx_destroy(ctx);
    free(Xh), free(Xf), free(ref);
}

static void test_merge_and_save_load(void)
{
    const int64_t N = 200, d = 33;
    float *X = malloc(sizeof(float) * N * d);
    fill_x(X, N * d);
    qlow_ctx *ctx = ctx_with(1, 0);
    qlow_hessian *a = NULL, *b = NULL, *all = NULL;
    qlow_hessian_create(NULL, d, QLOW_HESSIAN_FULL, &a);
    qlow_hessian_create(NULL, d, QLOW_HESSIAN_FULL, &b);
    qlow_hessian_create(NULL, d, QLOW_HESSIAN_FULL, &all);
    qlow_view va, vb, vall;
    qlow_view_init_2d(&va, QLOW_DTYPE_F32, 120, d, X);
    qlow_view_init_2d(&vb, QLOW_DTYPE_F32, N - 120, d, X + 120 * d);
    qlow_view_init_2d(&vall, QLOW_DTYPE_F32, N, d, X);
    qlow_hessian_add(ctx, a, &va);
    qlow_hessian_add(ctx, b, &vb);
    qlow_hessian_add(ctx, all, &vall);
    QT_CHECK_OK(qlow_hessian_merge(a, b));
    double *ha = malloc(sizeof(double) * d * d), *hall = malloc(sizeof(double) * d * d);
    qlow_hessian_matrix(a, 0.0, ha, d * d);
    qlow_hessian_matrix(all, 0.0, hall, d * d);
    QT_CHECK(max_rel_diff(ha, hall, d * d, hall[0]) < 1e-6, "merge equals one pass");
    size_t n = 0, w = 0;
    QT_CHECK_OK(qlow_hessian_save_size(a, &n));
    unsigned char *buf = malloc(n);
    QT_CHECK_STATUS(qlow_hessian_save(a, buf, n - 1, &w), QLOW_E_BUFFER_TOO_SMALL);
    QT_CHECK_OK(qlow_hessian_save(a, buf, n, &w));
    QT_CHECK(w == n, "written");
    qlow_hessian *r = NULL;
    QT_CHECK_OK(qlow_hessian_load(NULL, buf, n, &r));
    double *hr = malloc(sizeof(double) * d * d);
    qlow_hessian_matrix(r, 0.0, hr, d * d);
    QT_CHECK(memcmp(hr, ha, sizeof(double) * d * d) == 0, "restore is exact");
    qlow_hessian_destroy(r);
    r = NULL;
    QT_CHECK_STATUS(qlow_hessian_load(NULL, buf, n - 1, &r), QLOW_E_TRUNCATED);
    QT_CHECK_STATUS(qlow_hessian_load(NULL, buf, 20, &r), QLOW_E_TRUNCATED);
    buf[100] ^= 1;
    QT_CHECK_STATUS(qlow_hessian_load(NULL, buf, n, &r), QLOW_E_CHECKSUM);
    buf[100] ^= 1;
    buf[4] = 9;
    QT_CHECK_STATUS(qlow_hessian_load(NULL, buf, n, &r), QLOW_E_VERSION_MISMATCH);
    buf[4] = 1;
    buf[0] = 'X';
    QT_CHECK_STATUS(qlow_hessian_load(NULL, buf, n, &r), QLOW_E_FORMAT);
    buf[0] = 'Q';
    int64_t huge = (int64_t)1 << 40;
    memcpy(buf + 16, &huge, 8);
    QT_CHECK_STATUS(qlow_hessian_load(NULL, buf, n, &r), QLOW_E_FORMAT);
    QT_CHECK(r == NULL, "no object on failure");
    /* Allocation failures while loading leak nothing. */
    memcpy(buf + 16, &d, 8);
    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points, { st = qlow_hessian_load(&qa, buf, n, &r); }, { qlow_hessian_destroy(r); });
    QT_CHECK(points >= 1, "allocation failure points %ld", points);
    /* Static placement. */
    size_t need = 0;
    QT_CHECK_OK(qlow_hessian_estimate_size(d, QLOW_HESSIAN_FULL, &need));
    unsigned char *raw = malloc(need + 64);
    void *mem = raw + (64 - ((uintptr_t)raw & 63u));
    qlow_hessian *s = NULL;
    QT_CHECK_STATUS(qlow_hessian_init_static(mem, need - 1, d, QLOW_HESSIAN_FULL, &s), QLOW_E_WORKSPACE_TOO_SMALL);
    QT_CHECK_OK(qlow_hessian_init_static(mem, need, d, QLOW_HESSIAN_FULL, &s));
    QT_CHECK_OK(qlow_hessian_add(ctx, s, &vall));
    qlow_hessian_matrix(s, 0.0, hr, d * d);
    QT_CHECK(memcmp(hr, hall, sizeof(double) * d * d) == 0, "static accumulator equals allocated one");
    qlow_hessian_destroy(s);
    free(raw);
    qlow_hessian_destroy(a), qlow_hessian_destroy(b), qlow_hessian_destroy(all);
    qlow_ctx_destroy(ctx);
    free(X), free(ha), free(hall), free(hr), free(buf);
}

static void test_factors_and_damping(void)
{
    const int64_t N = 150, d = 150; /* d > 64 so the blocked paths run */
    float *X = malloc(sizeof(float) * N * d);
    fill_x(X, N * d);
    for (int64_t t = 0; t < N; t++) X[t * d + 7] = 0.0f; /* a dead column */
    qlow_ctx *ctx = ctx_with(2, 0);
    qlow_hessian *h = NULL;
    qlow_hessian_create(NULL, d, QLOW_HESSIAN_FULL, &h);
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, N, d, X);
    qlow_hessian_add(ctx, h, &v);
    double *H = malloc(sizeof(double) * d * d), *R = malloc(sizeof(double) * d * d), *U = malloc(sizeof(double) * d * d);
    const double damp = 0.01;
    QT_CHECK_OK(qlow_hessian_matrix(h, damp, H, d * d));
    /* The reference damped matrix. */
    double *ref = malloc(sizeof(double) * d * d);
    ref_hessian(X, N, d, ref);
    ref[7 * d + 7] = 1.0;
    double mean = 0.0;
    for (int64_t j = 0; j < d; j++) mean += ref[j * d + j];
    mean /= d;
    for (int64_t j = 0; j < d; j++) ref[j * d + j] += damp * mean;
    QT_CHECK(max_rel_diff(H, ref, d * d, mean) < 2e-6, "damped matrix with dead column");
    QT_CHECK(fabs(H[7 * d + 7] - (1.0 + damp * mean)) < 1e-6, "dead column diagonal = 1 + lambda");
    QT_CHECK_OK(qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_H, damp, R, d * d));
    QT_CHECK_OK(qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_HINV, damp, U, d * d));
    double e1 = 0.0, e2 = 0.0, low = 0.0;
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < d; j++) {
            double rtr = 0.0, uh = 0.0;
            for (int64_t k = 0; k < d; k++) rtr += R[k * d + i] * R[k * d + j];
            e1 = fmax(e1, fabs(rtr - H[i * d + j]) / mean);
            if (j < i) low = fmax(low, fabs(R[i * d + j]) + fabs(U[i * d + j]));
            /* (U^T U H)_ij = delta_ij */
            double s = 0.0;
            for (int64_t k = 0; k < d; k++) {
                double utu = 0.0;
                for (int64_t p = 0; p <= (k < i ? k : i); p++) utu += U[p * d + i] * U[p * d + k];
                s += utu * H[k * d + j];
            }
            uh = s;
            e2 = fmax(e2, fabs(uh - (i == j ? 1.0 : 0.0)));
        }
    QT_CHECK(e1 < 1e-12, "R^T R = H: %.3g", e1);
    QT_CHECK(e2 < 1e-8, "U^T U H = I: %.3g", e2);
    QT_CHECK(low == 0.0, "factors are upper triangular");
    /* AVX2 and portable paths give the same factor to rounding. */
    double *U2 = malloc(sizeof(double) * d * d);
    for (int lvl = 1; lvl <= 2; lvl++) {
        qlow_ctx *g = ctx_with(2, lvl);
        QT_CHECK_OK(qlow_hessian_cholesky(g, h, QLOW_HESSIAN_FACTOR_HINV, damp, U2, d * d));
        QT_CHECK(max_rel_diff(U, U2, d * d, fabs(U[0]) + 1e-300) < 1e-9, "isa level %d vs best factor", lvl);
        qlow_ctx_destroy(g);
    }
    free(U2);
    /* Exactly singular and undamped: QLOW_E_NUMERIC, output untouched. */
    qlow_hessian *s = NULL;
    qlow_hessian_create(NULL, 2, QLOW_HESSIAN_FULL, &s);
    float xs[4] = {4, 4, 0, 0};
    qlow_view vs;
    qlow_view_init_2d(&vs, QLOW_DTYPE_F32, 2, 2, xs);
    qlow_hessian_add(ctx, s, &vs);
    double out4[4] = {-7, -7, -7, -7};
    QT_CHECK_STATUS(qlow_hessian_cholesky(ctx, s, QLOW_HESSIAN_FACTOR_HINV, 0.0, out4, 4), QLOW_E_NUMERIC);
    QT_CHECK(out4[0] == -7 && out4[3] == -7, "untouched on failure");
    QT_CHECK_OK(qlow_hessian_cholesky(ctx, s, QLOW_HESSIAN_FACTOR_HINV, 0.01, out4, 4));
    QT_CHECK_STATUS(qlow_hessian_cholesky(ctx, s, QLOW_HESSIAN_FACTOR_H, 0.0, out4, 3), QLOW_E_BUFFER_TOO_SMALL);
    size_t wsn = 0;
    qlow_hessian_cholesky_workspace_size(2, &wsn);
    double *ws = malloc(wsn);
    QT_CHECK_STATUS(qlow_hessian_cholesky_ws(ctx, s, QLOW_HESSIAN_FACTOR_H, 0.1, out4, 4, ws, wsn - 1),
                    QLOW_E_WORKSPACE_TOO_SMALL);
    QT_CHECK_OK(qlow_hessian_cholesky_ws(ctx, s, QLOW_HESSIAN_FACTOR_H, 0.1, out4, 4, ws, wsn));
    free(ws);
    qlow_hessian_destroy(s);
    /* Spectrum: power iteration and Lanczos against Jacobi. */
    double *eig = malloc(sizeof(double) * d);
    qlow_hessian_matrix(h, 0.0, H, d * d);
    ref_jacobi_eigs(H, (int)d, eig);
    double lam = 0.0, lz[3];
    int32_t iters = 0;
    QT_CHECK_OK(qlow_hessian_top_eigen(ctx, h, 1e-10, 2000, NULL, 0, &lam, &iters));
    QT_CHECK(fabs(lam - eig[0]) < 1e-6 * eig[0], "power %.10g vs %.10g (%d iters)", lam, eig[0], iters);
    QT_CHECK_OK(qlow_hessian_lanczos(ctx, h, 60, 3, NULL, 0, lz));
    for (int i = 0; i < 3; i++)
        QT_CHECK(fabs(lz[i] - eig[i]) < 1e-8 * eig[0], "lanczos %d: %.10g vs %.10g", i, lz[i], eig[i]);
    QT_CHECK_STATUS(qlow_hessian_lanczos(ctx, h, 2, 3, NULL, 0, lz), QLOW_E_INVALID_ARG);
    size_t sws = 0;
    QT_CHECK_OK(qlow_spectral_workspace_size(d, 60, &sws));
    double *sw = malloc(sws), lz2[3];
    QT_CHECK_STATUS(qlow_hessian_lanczos(ctx, h, 60, 3, sw, sws / 2, lz2), QLOW_E_WORKSPACE_TOO_SMALL);
    QT_CHECK_OK(qlow_hessian_lanczos(ctx, h, 60, 3, sw, sws, lz2));
    QT_CHECK(lz2[0] == lz[0] && lz2[2] == lz[2], "caller workspace gives the same eigenvalues");
    free(sw);
    QT_CHECK_STATUS(qlow_hessian_top_eigen(ctx, h, -1.0, 10, NULL, 0, &lam, NULL), QLOW_E_INVALID_ARG);
    free(eig);
    qlow_hessian_destroy(h);
    qlow_ctx_destroy(ctx);
    free(X), free(H), free(R), free(U), free(ref);
}

static void test_argument_errors(void)
{
    qlow_hessian *h = NULL;
    QT_CHECK_STATUS(qlow_hessian_create(NULL, 0, QLOW_HESSIAN_FULL, &h), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_hessian_create(NULL, 4, 7, &h), QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_hessian_create(NULL, (int64_t)1 << 62, QLOW_HESSIAN_FULL, &h), QLOW_E_OVERFLOW);
    QT_CHECK(h == NULL, "out untouched");
    QT_CHECK_OK(qlow_hessian_create(NULL, 4, QLOW_HESSIAN_FULL, &h));
    float d4[4];
    double tr;
    QT_CHECK_STATUS(qlow_hessian_diag(h, d4, 4), QLOW_E_STATE);
    QT_CHECK_STATUS(qlow_hessian_trace(h, &tr), QLOW_E_STATE);
    qlow_ctx *ctx = ctx_with(1, 0);
    float x[15] = {0};
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, 3, 5, x);
    QT_CHECK_STATUS(qlow_hessian_add(ctx, h, &v), QLOW_E_SHAPE);
    qlow_view_init_2d(&v, QLOW_DTYPE_I8, 3, 4, x);
    QT_CHECK_STATUS(qlow_hessian_add(ctx, h, &v), QLOW_E_DTYPE);
    QT_CHECK_STATUS(qlow_hessian_add(NULL, h, &v), QLOW_E_NULL_POINTER);
    long points = 0;
    qlow_hessian *p = NULL;
    QT_ALLOC_FAIL_LOOP(&points, { st = qlow_hessian_create(&qa, 50, QLOW_HESSIAN_FULL, &p); },
                       { qlow_hessian_destroy(p); });
    qlow_hessian_destroy(h);
    qlow_hessian_destroy(NULL);
    qlow_ctx_destroy(ctx);
}

int main(void)
{
    test_full_matches_reference();
    test_f16_strided_and_diag_mode();
    test_merge_and_save_load();
    test_factors_and_damping();
    test_argument_errors();
    return qt_finish();
}
