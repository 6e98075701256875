/* test_hessian_hvp.c - caller HVP path with analytic Hessians: quadratics with a known spectrum (power
 * iteration, Lanczos, Hutchinson with its standard error) and logistic regression through the
 * finite-difference HVP, against H = X^T D X computed here in double. */
#include "qtest.h"
#include "hessian_ref.h"

typedef struct quad {
    int n;
    double *A; /* symmetric n x n */
    int calls, fail_after;
} quad;

static int quad_hvp(void *user, const float *v, float *out, int64_t n)
{
    quad *q = (quad *)user;
    if (q->fail_after >= 0 && q->calls >= q->fail_after) return 7;
    q->calls++;
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) s += q->A[i * n + j] * v[j];
        out[i] = (float)s;
    }
    return 0;
}

/* A = Q diag(lam) Q^T with Q a product of random Householder reflections. */
static void make_quadratic(quad *q, int n, const double *lam)
{
    q->n = n;
    q->A = calloc((size_t)n * n, sizeof(double));
    q->calls = 0;
    q->fail_after = -1;
    for (int i = 0; i < n; i++) q->A[i * n + i] = lam[i];
    double *u = malloc(sizeof(double) * n), *tmp = malloc(sizeof(double) * n);
    for (int r = 0; r < 3; r++) {
        double nn = 0.0;
        for (int i = 0; i < n; i++) {
            u[i] = ref_gauss();
            nn += u[i] * u[i];
        }
        for (int i = 0; i < n; i++) u[i] /= sqrt(nn);
        /* A <- P A P with P = I - 2 u u^T */
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < n; i++) {
                double s = 0.0;
                for (int k = 0; k < n; k++) s += (pass == 0 ? q->A[i * n + k] : q->A[k * n + i]) * u[k];
                tmp[i] = s;
                if (i == n - 1)
                    for (int a = 0; a < n; a++)
                        for (int b = 0; b < n; b++) {
                            if (pass == 0) q->A[a * n + b] -= 2.0 * tmp[a] * u[b];
                            else q->A[a * n + b] -= 2.0 * u[a] * tmp[b];
                        }
            }
    }
    free(u), free(tmp);
}

static void test_quadratic_spectrum(void)
{
    enum { N = 60 };
    double lam[N];
    for (int i = 0; i < N; i++) lam[i] = 1.0 + 0.1 * i;
    lam[N - 1] = 20.0, lam[N - 2] = 15.0, lam[N - 3] = 12.0;
    quad q;
    make_quadratic(&q, N, lam);
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    double top = 0.0, eig[4];
    int32_t iters = 0;
    QT_CHECK_OK(qlow_hvp_top_eigen(ctx, quad_hvp, &q, N, 1e-6, 500, NULL, 0, &top, &iters));
    QT_CHECK(fabs(top - 20.0) < 1e-3, "power top %.8g (%d iters)", top, iters);
    QT_CHECK(iters > 2 && iters < 500, "converged in %d", iters);
    QT_CHECK_OK(qlow_hvp_lanczos(ctx, quad_hvp, &q, N, 40, 3, NULL, 0, eig));
    QT_CHECK(fabs(eig[0] - 20) < 1e-4 && fabs(eig[1] - 15) < 1e-4 && fabs(eig[2] - 12) < 1e-4,
             "lanczos %.8g %.8g %.8g", eig[0], eig[1], eig[2]);
    /* Hutchinson: unbiased with the reported standard error; its variance is 2 sum_{i!=j} A_ij^2 / m. */
    double tr_exact = 0.0, off2 = 0.0;
    for (int i = 0; i < N; i++) tr_exact += lam[i];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j) off2 += q.A[i * N + j] * q.A[i * N + j];
    double tr = 0.0, se = 0.0;
    int32_t used = 0;
    QT_CHECK_OK(qlow_hvp_trace(ctx, quad_hvp, &q, N, 400, 0.0, NULL, 0, &tr, &se, &used));
    double se_theory = sqrt(2.0 * off2 / 400.0);
    QT_CHECK(used == 400, "all probes used");
    QT_CHECK(fabs(tr - tr_exact) < 4.0 * se_theory, "hutchinson %.6g vs %.6g (se %.3g)", tr, tr_exact, se);
    QT_CHECK(se > 0.7 * se_theory && se < 1.3 * se_theory, "stderr %.4g vs theory %.4g", se, se_theory);
    printf("INFO hutchinson n=60 probes=400: trace %.4f exact %.4f stderr %.4f (theory %.4f)\n", tr, tr_exact, se,
           se_theory);
    /* Early stop by relative standard error. */
    QT_CHECK_OK(qlow_hvp_trace(ctx, quad_hvp, &q, N, 100000, 0.01, NULL, 0, &tr, &se, &used));
    QT_CHECK(used < 100000 && se <= 0.01 * fabs(tr), "early stop after %d probes, se %.3g", used, se);
    /* Same seed, same answer; different seed, different probes. */
    double tr2 = 0.0;
    QT_CHECK_OK(qlow_hvp_trace(ctx, quad_hvp, &q, N, 50, 0.0, NULL, 0, &tr, NULL, NULL));
    QT_CHECK_OK(qlow_hvp_trace(ctx, quad_hvp, &q, N, 50, 0.0, NULL, 0, &tr2, NULL, NULL));
    QT_CHECK(tr == tr2, "deterministic");
    qlow_ctx_set_int(ctx, QLOW_CTX_SEED, 99);
    QT_CHECK_OK(qlow_hvp_trace(ctx, quad_hvp, &q, N, 50, 0.0, NULL, 0, &tr2, NULL, NULL));
    QT_CHECK(tr != tr2, "seed changes probes");
    /* Caller workspace and its size. */
    size_t wsb = 0;
    QT_CHECK_OK(qlow_spectral_workspace_size(N, 40, &wsb));
    void *ws = malloc(wsb);
    QT_CHECK_OK(qlow_hvp_lanczos(ctx, quad_hvp, &q, N, 40, 2, ws, wsb, eig));
    QT_CHECK_STATUS(qlow_hvp_lanczos(ctx, quad_hvp, &q, N, 40, 2, ws, wsb / 2, eig), QLOW_E_WORKSPACE_TOO_SMALL);
    free(ws);
    /* Callback failure. */
    q.calls = 0;
    q.fail_after = 3;
    top = -1;
    QT_CHECK_STATUS(qlow_hvp_top_eigen(ctx, quad_hvp, &q, N, 1e-9, 100, NULL, 0, &top, NULL), QLOW_E_CALLBACK);
    QT_CHECK(top == -1, "lambda untouched on failure");
    QT_CHECK_STATUS(qlow_hvp_trace(ctx, quad_hvp, &q, N, 10, 0.0, NULL, 0, &tr, NULL, NULL), QLOW_E_CALLBACK);
    qlow_ctx_destroy(ctx);
    free(q.A);
}

static void test_negative_dominant(void)
{
    enum { N = 30 };
    double lam[N];
    for (int i = 0; i < N; i++) lam[i] = 0.5 + 0.05 * i;
    lam[0] = -6.0; /* a saddle: the largest-magnitude eigenvalue is negative */
    quad q;
    make_quadratic(&q, N, lam);
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    double top = 0.0;
    QT_CHECK_OK(qlow_hvp_top_eigen(ctx, quad_hvp, &q, N, 1e-7, 1000, NULL, 0, &top, NULL));
    QT_CHECK(fabs(top + 6.0) < 1e-3, "negative top %.6g", top);
    qlow_ctx_destroy(ctx);
    free(q.A);
}

/* Logistic regression: L(theta) = 1/m sum log(1 + exp(-y_i x_i^T theta)) + 0.5 * mu |theta|^2. */
typedef struct logreg {
    int m, n;
    double *X, *y, mu;
} logreg;

static int logreg_grad(void *user, const float *theta, float *g, int64_t n)
{
    logreg *L = (logreg *)user;
    double *acc = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < L->m; i++) {
        double z = 0.0;
        for (int j = 0; j < n; j++) z += L->X[i * n + j] * theta[j];
        double s = -L->y[i] / (1.0 + exp(L->y[i] * z));
        for (int j = 0; j < n; j++) acc[j] += s * L->X[i * n + j];
    }
    for (int j = 0; j < n; j++) g[j] = (float)(acc[j] / L->m + L->mu * theta[j]);
    free(acc);
    return 0;
}

static void test_logistic_regression(void)
{
    enum { M = 400, NP = 12 };
    logreg L = {M, NP, malloc(sizeof(double) * M * NP), malloc(sizeof(double) * M), 0.01};
    float theta[NP];
    for (int j = 0; j < NP; j++) theta[j] = (float)(0.3 * ref_gauss());
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < NP; j++) L.X[i * NP + j] = ref_gauss() * (j == 0 ? 3.0 : 1.0);
        L.y[i] = ref_uniform() < 0.5 ? -1.0 : 1.0;
    }
    /* H = 1/m X^T D X + mu I, D = sigma(z)(1 - sigma(z)). */
    double H[NP * NP];
    memset(H, 0, sizeof(H));
    for (int i = 0; i < M; i++) {
        double z = 0.0;
        for (int j = 0; j < NP; j++) z += L.X[i * NP + j] * theta[j];
        double s = 1.0 / (1.0 + exp(-z)), d = s * (1.0 - s);
        for (int a = 0; a < NP; a++)
            for (int b = 0; b < NP; b++) H[a * NP + b] += d * L.X[i * NP + a] * L.X[i * NP + b] / M;
    }
    for (int a = 0; a < NP; a++) H[a * NP + a] += L.mu;
    qlow_fd_hvp *fd = NULL;
    QT_CHECK_STATUS(qlow_fd_hvp_create(NULL, logreg_grad, &L, theta, NP, -1.0, &fd), QLOW_E_INVALID_ARG);
    QT_CHECK_OK(qlow_fd_hvp_create(NULL, logreg_grad, &L, theta, NP, 0.0, &fd));
    float v[NP], hv[NP];
    double worst = 0.0, hnorm = 0.0;
    for (int j = 0; j < NP; j++) v[j] = (float)ref_gauss();
    QT_CHECK(qlow_fd_hvp_apply(fd, v, hv, NP) == 0, "apply");
    for (int a = 0; a < NP; a++) {
        double s = 0.0;
        for (int b = 0; b < NP; b++) s += H[a * NP + b] * v[b];
        worst = fmax(worst, fabs(s - hv[a]));
        hnorm = fmax(hnorm, fabs(s));
    }
    QT_CHECK(worst < 2e-3 * hnorm, "fd hvp error %.3g (|Hv| %.3g)", worst, hnorm);
    QT_CHECK(qlow_fd_hvp_apply(fd, v, hv, NP + 1) != 0, "size mismatch rejected");
    double Hc[NP * NP], eig[NP];
    memcpy(Hc, H, sizeof(H));
    ref_jacobi_eigs(Hc, NP, eig);
    double tr_exact = 0.0;
    for (int a = 0; a < NP; a++) tr_exact += H[a * NP + a];
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    double top = 0.0, tr = 0.0, se = 0.0, lz[2];
    QT_CHECK_OK(qlow_hvp_top_eigen(ctx, qlow_fd_hvp_apply, fd, NP, 1e-6, 300, NULL, 0, &top, NULL));
    QT_CHECK(fabs(top - eig[0]) < 2e-3 * eig[0], "fd power %.6g vs %.6g", top, eig[0]);
    QT_CHECK_OK(qlow_hvp_lanczos(ctx, qlow_fd_hvp_apply, fd, NP, NP, 2, NULL, 0, lz));
    QT_CHECK(fabs(lz[0] - eig[0]) < 2e-3 * eig[0] && fabs(lz[1] - eig[1]) < 2e-3 * eig[0], "fd lanczos %.6g %.6g vs %.6g %.6g",
             lz[0], lz[1], eig[0], eig[1]);
    QT_CHECK_OK(qlow_hvp_trace(ctx, qlow_fd_hvp_apply, fd, NP, 300, 0.0, NULL, 0, &tr, &se, NULL));
    QT_CHECK(fabs(tr - tr_exact) < 4.0 * se + 1e-3 * tr_exact, "fd hutchinson %.6g vs %.6g (se %.3g)", tr, tr_exact, se);
    printf("INFO logistic regression n=12: top eig %.6f (exact %.6f), trace %.5f +- %.5f (exact %.5f)\n", top, eig[0],
           tr, se, tr_exact);
    qlow_fd_hvp_destroy(fd);
    qlow_ctx_destroy(ctx);
    free(L.X), free(L.y);
}

int main(void)
{
    test_quadratic_spectrum();
    test_negative_dominant();
    test_logistic_regression();
    return qt_finish();
}
