/* test_ptq161_scale.c - the PTQ1.61 parameterization and optimizers: gradients against finite differences,
 * engine-driven Adam stepping (loss decreases, deterministic), the one-call pipeline (mask-only reference,
 * thread-count invariance, M161 qmatrix equality, errors, allocation failures), the low-rank correction. */
#include "qtest.h"

#include "ptq161/ptq161.h"

static qlow_ctx *make_ctx(int threads)
{
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads);
    return ctx;
}

/* Layer data with a few outlier channels, as real activations have. */
static void make_layer(int rows, int cols, int T, float *W, float *X)
{
    for (int k = 0; k < rows * cols; k++) W[k] = (float)(0.05 * qt_rand_normal() + 0.01);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < cols; j++) X[t * cols + j] = (float)(qt_rand_normal() * (j % 7 == 0 ? 6.0 : 1.0));
}

/* Loss of the current parameters, in the permuted frame of p. */
static double loss_of(const qlow_ctx *ctx, const qlow__p161 *p, const float *Y, const float *XpT, int T, float *Wh,
                      float *Yh, float *dY, double lambda)
{
    qlow__p161_materialize(ctx, p, Wh, 1);
    qlow__sgemm_nn(ctx, p->rows, T, p->cols, Wh, p->cols, XpT, T, Yh, T, 0);
    return qlow__loss_mse_nlc(ctx, Y, Yh, p->rows, T, T, lambda, dY, NULL, NULL);
}

static void test_gradients(void)
{
    enum { R = 12, C = 20, T = 40 };
    float W[R * C], X[T * C], Xp[T * C], XpT[C * T], Wp[R * C], Y[R * T], Yh[R * T], dY[R * T], Wh[R * C], G[R * C];
    make_layer(R, C, T, W, X);
    uint8_t mask[QLOW_MASK_BYTES(C)] = {0x11, 0x02, 0x08};
    qlow_ctx *ctx = make_ctx(1);
    qlow__p161 *p = NULL;
    const qlow_allocator *a = qlow__default_allocator();
    QT_CHECK_OK(qlow__p161_create(a, R, C, mask, &p));
    QT_CHECK(p->ns == 4 && p->nu == 16, "salient count");
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) Wp[i * C + j] = W[i * C + p->perm[j]];
    for (int t = 0; t < T; t++)
        for (int j = 0; j < C; j++) Xp[t * C + j] = XpT[j * T + t] = X[t * C + p->perm[j]];
    qlow__p161_init(ctx, p, Wp, 0, 0);
    /* Move off the init so every gradient is non-trivial. */
    for (int i = 0; i < R; i++) { p->alpha[i] *= (float)(0.8 + 0.03 * i); p->r1[i] = (float)(1.1 - 0.02 * i); }
    for (int u = 0; u < p->nu; u++) p->r2[u] = (float)(0.9 + 0.015 * u);
    qlow__sgemm_nn(ctx, R, T, C, Wp, C, XpT, T, Y, T, 0);
    for (double lambda = 0.0; lambda <= 1.0; lambda += 1.0) {
        loss_of(ctx, p, Y, XpT, T, Wh, Yh, dY, lambda);
        qlow__sgemm_nn(ctx, R, C, T, dY, T, Xp, C, G, C, 0);
        memset(p->g_alpha, 0, (size_t)(2 * R + p->nu) * sizeof(float));
        qlow__p161_accumulate_grad(ctx, p, G, C, 1);
        float *params[3] = {p->alpha, p->r1, p->r2};
        const float *grads[3] = {p->g_alpha, p->g_r1, p->g_r2};
        const int counts[3] = {R, R, (int)p->nu};
        double worst = 0;
        for (int g = 0; g < 3; g++)
            for (int k = 0; k < counts[g]; k += 3) {
                float keep = params[g][k];
                double h = 1e-3 * (fabs(keep) + 1e-2);
                params[g][k] = (float)(keep + h);
                double lp = loss_of(ctx, p, Y, XpT, T, Wh, Yh, NULL, lambda);
                params[g][k] = (float)(keep - h);
                double lm = loss_of(ctx, p, Y, XpT, T, Wh, Yh, NULL, lambda);
                params[g][k] = keep;
                double fd = (lp - lm) / (2 * h), an = grads[g][k];
                double err = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-6);
                if (err > worst) worst = err;
                QT_CHECK(err < 0.02, "lambda %.0f param %d[%d]: analytic %.6g vs finite difference %.6g", lambda, g, k,
                         an, fd);
            }
        printf("INFO gradient check (lambda %.0f): worst relative error %.2e\n", lambda, worst);
    }
    qlow__p161_destroy(p);
    qlow_ctx_destroy(ctx);
}

/* Engine-style loop: two linears, the test computes dL/dW^ of the output MSE and hands it in. */
static double engine_run(int threads, float *final_scales, double *first, double *last)
{
    enum { R = 24, C = 40, T = 64, STEPS = 60 };
    static float W[2][R * C], X[T * C], Wh[R * C], dW[R * C];
    qt_rng_state_ = 42;
    make_layer(R, C, T, W[0], X);
    make_layer(R, C, T, W[1], X);
    qlow_ctx *ctx = make_ctx(threads);
    qlow_params *pr = NULL;
    qlow_params_create(NULL, &pr);
    qlow_params_set_float(pr, QLOW_SCALE_LR_ALPHA, 2e-3);
    qlow_params_set_float(pr, QLOW_SCALE_LR_R, 4e-3);
    qlow_scaleopt *opt = NULL;
    QT_CHECK_OK(qlow_scaleopt_create(ctx, pr, &opt));
    uint8_t mask[QLOW_MASK_BYTES(C)] = {0x81, 0x00, 0x10, 0x00, 0x01};
    int32_t id[2];
    for (int l = 0; l < 2; l++) {
        qlow_view wv;
        qlow_view_init_2d(&wv, QLOW_DTYPE_F32, R, C, W[l]);
        QT_CHECK_OK(qlow_scaleopt_add_linear(opt, &wv, mask, &id[l]));
        QT_CHECK(id[l] == l, "ids in order");
    }
    double loss = 0;
    for (int s = 0; s < STEPS; s++) {
        loss = 0;
        for (int l = 0; l < 2; l++) {
            QT_CHECK_OK(qlow_scaleopt_weight(opt, id[l], Wh));
            memset(dW, 0, sizeof dW);
            for (int t = 0; t < T; t++)
                for (int i = 0; i < R; i++) {
                    double e = 0;
                    for (int j = 0; j < C; j++) e += ((double)Wh[i * C + j] - W[l][i * C + j]) * X[t * C + j];
                    loss += e * e / (R * T);
                    for (int j = 0; j < C; j++) dW[i * C + j] += (float)(2 * e * X[t * C + j] / (R * T));
                }
            qlow_view gv;
            qlow_view_init_2d(&gv, QLOW_DTYPE_F32, R, C, dW);
            QT_CHECK_OK(qlow_scaleopt_grad(opt, id[l], &gv));
        }
        QT_CHECK_OK(qlow_scaleopt_step(opt));
        if (s == 0) *first = loss;
    }
    *last = loss;
    QT_CHECK_OK(qlow_scaleopt_scales(opt, 1, final_scales, final_scales + R, final_scales + 2 * R, final_scales + 3 * R));
    /* Its packed form dequantizes to the current W^ up to the fp16 rounding of the scales. */
    qlow_qmatrix *qm = NULL;
    QT_CHECK_OK(qlow_scaleopt_quantize(opt, 1, &qm));
    static float deq[R * C];
    QT_CHECK_OK(qlow_qmatrix_dequantize(qm, 0, R, deq, (size_t)R * C));
    QT_CHECK_OK(qlow_scaleopt_weight(opt, 1, Wh));
    double md = 0;
    for (int k = 0; k < R * C; k++) md = fmax(md, fabs(deq[k] - Wh[k]) / (fabs(Wh[k]) + 1e-3));
    QT_CHECK(md < 2e-3, "scaleopt qmatrix matches W^ within fp16 (%.2e)", md);
    qlow_qmatrix_destroy(qm);
    QT_CHECK_STATUS(qlow_scaleopt_weight(opt, 5, Wh), QLOW_E_INVALID_ARG);
    qlow_scaleopt_destroy(opt);
    qlow_params_destroy(pr);
    qlow_ctx_destroy(ctx);
    return loss;
}

static void test_engine_stepping(void)
{
    float s1[200] = {0}, s2[200] = {0};
    double f1, l1, f2, l2;
    engine_run(1, s1, &f1, &l1);
    engine_run(2, s2, &f2, &l2);
    printf("INFO engine-driven Adam: output MSE %.6g -> %.6g after 60 steps\n", f1, l1);
    QT_CHECK(l1 < 0.9 * f1, "loss decreases: %g -> %g", f1, l1);
    QT_CHECK(memcmp(s1, s2, sizeof s1) == 0 && l1 == l2, "deterministic and thread-count invariant");
}

static void reference_mask_only(const float *W, int R, int C, const uint8_t *mask, float *out)
{
    for (int i = 0; i < R; i++) {
        const float *w = W + i * C;
        float lo = 0, hi = 0;
        double mu = 0, a = 0;
        int nu = 0;
        for (int j = 0; j < C; j++) {
            if ((mask[j >> 3] >> (j & 7)) & 1) {
                lo = fminf(lo, w[j]);
                hi = fmaxf(hi, w[j]);
            } else {
                mu += w[j];
                nu++;
            }
        }
        mu /= nu;
        for (int j = 0; j < C; j++)
            if (!((mask[j >> 3] >> (j & 7)) & 1)) a += fabs(w[j] - (float)mu);
        a /= nu;
        float d = qlow_fp16_to_fp32(qlow_fp32_to_fp16((hi - lo) / 15.0f));
        float z = nearbyintf(-lo / d), mn = qlow_fp16_to_fp32(qlow_fp32_to_fp16(-z * d));
        float af = qlow_fp16_to_fp32(qlow_fp32_to_fp16((float)a)), mf = qlow_fp16_to_fp32(qlow_fp32_to_fp16((float)mu));
        for (int j = 0; j < C; j++) {
            if ((mask[j >> 3] >> (j & 7)) & 1) {
                float q = fminf(15.0f, fmaxf(0.0f, nearbyintf((w[j] - mn) / d)));
                out[i * C + j] = d * q + mn;
            } else {
                out[i * C + j] = (w[j] - (float)mu >= 0 ? af : -af) + mf;
            }
        }
    }
}

static void test_pipeline(void)
{
    enum { R = 512, C = 512, T = 256 };
    float *W = malloc(sizeof(float) * R * C), *X = malloc(sizeof(float) * T * C);
    float *A = malloc(sizeof(float) * R * C), *B = malloc(sizeof(float) * R * C), *ref = malloc(sizeof(float) * R * C);
    make_layer(R, C, T, W, X);
    qlow_view wv, xv;
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, R, C, W);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, C, X);
    qlow_ctx *c1 = make_ctx(1), *c2 = make_ctx(2);
    qlow_params *pr = NULL;
    qlow_params_create(NULL, &pr);
    uint8_t mask[QLOW_MASK_BYTES(C)];
    /* Mask only == the reference formulas (salient-only 4-bit range, mu, alpha = mean|w - mu|). */
    qlow_params_set_int(pr, QLOW_PTQ161_OPTIMIZE, 0);
    QT_CHECK_OK(qlow_ptq161_quantize_f32(c1, pr, &wv, &xv, NULL, A, mask, NULL));
    int64_t ns = 0;
    for (int j = 0; j < C; j++) ns += (mask[j >> 3] >> (j & 7)) & 1;
    QT_CHECK(ns == C / 5 + 1, "20%% mask: %lld", (long long)ns);
    int outliers_in = 1;
    for (int j = 0; j < C; j += 7) outliers_in &= (mask[j >> 3] >> (j & 7)) & 1;
    QT_CHECK(outliers_in, "outlier channels are salient");
    reference_mask_only(W, R, C, mask, ref);
    double md = 0;
    for (int k = 0; k < R * C; k++) md = fmax(md, fabs(A[k] - ref[k]));
    QT_CHECK(md < 1e-6, "mask only matches the reference formulas (max diff %g)", md);
    /* Full default pipeline: thread-count invariant, M161 qmatrix dequantizes to the same values. */
    qlow_params_reset(pr);
    QT_CHECK_OK(qlow_ptq161_quantize_f32(c1, pr, &wv, &xv, NULL, A, NULL, NULL));
    QT_CHECK_OK(qlow_ptq161_quantize_f32(c2, pr, &wv, &xv, NULL, B, NULL, NULL));
    QT_CHECK(memcmp(A, B, sizeof(float) * R * C) == 0, "1 and 2 threads bit-identical");
    qlow_qmatrix *qm = NULL;
    QT_CHECK_OK(qlow_ptq161_quantize(c2, pr, &wv, &xv, NULL, &qm, NULL));
    int32_t fmt = 0;
    qlow_qmatrix_format(qm, &fmt);
    QT_CHECK(fmt == QLOW_FORMAT_M161, "M161 format");
    QT_CHECK_OK(qlow_qmatrix_dequantize(qm, 0, R, B, (size_t)R * C));
    QT_CHECK(memcmp(A, B, sizeof(float) * R * C) == 0, "qmatrix dequantizes to the f32 result exactly");
    double bits = 0, acc[QLOW_BITS_COUNT];
    qlow_qmatrix_bits_per_weight(qm, &bits);
    qlow_ptq161_bits(R, C, ns, acc);
    QT_CHECK(bits == acc[QLOW_BITS_STORED_TOTAL], "bit accounting = stored qmatrix (%.4f vs %.4f)", bits,
             acc[QLOW_BITS_STORED_TOTAL]);
    qlow_qmatrix_destroy(qm);
    /* Equalization returns the fold vector; ones without it. */
    float *fold = malloc(sizeof(float) * C);
    QT_CHECK_OK(qlow_ptq161_quantize_f32(c1, pr, &wv, &xv, NULL, A, NULL, fold));
    int ones = 1;
    for (int j = 0; j < C; j++) ones &= fold[j] == 1.0f;
    QT_CHECK(ones, "fold is all ones without equalization");
    qlow_params_set_int(pr, QLOW_PTQ161_EQUALIZE, 1);
    QT_CHECK_STATUS(qlow_ptq161_quantize_f32(c1, pr, &wv, &xv, NULL, A, NULL, NULL), QLOW_E_NULL_POINTER);
    QT_CHECK_OK(qlow_ptq161_quantize_f32(c1, pr, &wv, &xv, NULL, A, NULL, fold));
    int positive = 1;
    for (int j = 0; j < C; j++) positive &= fold[j] > 0 && isfinite(fold[j]);
    QT_CHECK(positive, "fold scales positive and finite");
    /* Errors leave the output untouched. */
    qlow_params_reset(pr);
    memset(B, 0x7f, sizeof(float) * R * C);
    memcpy(A, B, sizeof(float) * R * C);
    qlow_view xbad;
    qlow_view_init_2d(&xbad, QLOW_DTYPE_F32, T, C - 1, X);
    QT_CHECK_STATUS(qlow_ptq161_quantize_f32(c1, pr, &wv, &xbad, NULL, A, NULL, NULL), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_ptq161_quantize_f32(c1, pr, &wv, NULL, NULL, A, NULL, NULL), QLOW_E_NULL_POINTER);
    W[77] = NAN;
    QT_CHECK_STATUS(qlow_ptq161_quantize_f32(c1, pr, &wv, &xv, NULL, A, NULL, NULL), QLOW_E_NONFINITE);
    QT_CHECK(memcmp(A, B, sizeof(float) * R * C) == 0, "output untouched on failure");
    qlow_params_destroy(pr);
    qlow_ctx_destroy(c1);
    qlow_ctx_destroy(c2);
    free(W); free(X); free(A); free(B); free(ref); free(fold);
}

static void test_alloc_failures(void)
{
    enum { R = 16, C = 24, T = 40 };
    float W[R * C], X[T * C], out[R * C];
    make_layer(R, C, T, W, X);
    qlow_view wv, xv;
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, R, C, W);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, C, X);
    int points = 0;
    QT_ALLOC_FAIL_LOOP(&points,
                       {
                           qlow_ctx *ctx = NULL;
                           qlow_params *pr = NULL;
                           st = qlow_ctx_create(&qa, &ctx);
                           if (st == QLOW_OK) st = qlow_params_create(&qa, &pr);
                           if (st == QLOW_OK) st = qlow_params_set_int(pr, QLOW_PTQ161_LOWRANK, 2);
                           if (st == QLOW_OK) st = qlow_params_set_int(pr, QLOW_PTQ161_GPTQ, 1);
                           qlow_qmatrix *qm = NULL;
                           if (st == QLOW_OK) st = qlow_ptq161_quantize(ctx, pr, &wv, &xv, NULL, &qm, NULL);
                           if (st == QLOW_OK) st = qlow_ptq161_quantize_f32(ctx, pr, &wv, &xv, NULL, out, NULL, NULL);
                           qlow_qmatrix_destroy(qm);
                           qlow_params_destroy(pr);
                           qlow_ctx_destroy(ctx);
                       },
                       {});
    QT_CHECK(points > 8, "allocation failure points exercised: %d", points);
    /* Edge ratios: every column 4-bit, or every column binary, through optimization and packing. */
    qlow_ctx *ctx = make_ctx(1);
    qlow_params *pr = NULL;
    qlow_params_create(NULL, &pr);
    for (int k = 0; k < 2; k++) {
        qlow_params_set_float(pr, QLOW_MASK_RATIO, k ? 1.0 : 0.0);
        qlow_qmatrix *qm = NULL;
        float deq[R * C];
        uint8_t mk[QLOW_MASK_BYTES(C)];
        QT_CHECK_OK(qlow_ptq161_quantize_f32(ctx, pr, &wv, &xv, NULL, out, mk, NULL));
        QT_CHECK_OK(qlow_ptq161_quantize(ctx, pr, &wv, &xv, NULL, &qm, NULL));
        QT_CHECK(qm && qlow_qmatrix_dequantize(qm, 0, R, deq, (size_t)R * C) == QLOW_OK &&
                     memcmp(deq, out, sizeof deq) == 0,
                 "ratio %d: packed equals f32 result", k);
        QT_CHECK(mk[0] == (k ? 0xff : 0x00), "ratio %d mask", k);
        qlow_qmatrix_destroy(qm);
    }
    qlow_params_destroy(pr);
    qlow_ctx_destroy(ctx);
}

static double rel_output_error(const float *W, const float *Wh, int R, int C, const float *X, int T)
{
    double e = 0, y = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < R; i++) {
            double a = 0, b = 0;
            for (int j = 0; j < C; j++) {
                a += (double)W[i * C + j] * X[t * C + j];
                b += (double)Wh[i * C + j] * X[t * C + j];
            }
            e += (a - b) * (a - b);
            y += a * a;
        }
    return e / y;
}

/* The Gram-matrix path reaches the same output MSE as the token path (MSE objective only). */
static void test_gram(void)
{
    enum { R = 48, C = 64, T = 300 };
    float *W = malloc(sizeof(float) * R * C), *X = malloc(sizeof(float) * T * C), *H = malloc(sizeof(float) * C * C);
    float *A = malloc(sizeof(float) * R * C), *B = malloc(sizeof(float) * R * C);
    make_layer(R, C, T, W, X);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) W[i * C + j] *= (float)(1 + (i % 5) * 0.3) * (float)(1 + (j % 3) * 0.5);
    for (int a = 0; a < C; a++)
        for (int b = 0; b < C; b++) {
            double s = 0;
            for (int t = 0; t < T; t++) s += (double)X[t * C + a] * X[t * C + b];
            H[a * C + b] = (float)(2.0 * s / T);
        }
    qlow_view wv, xv, hv;
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, R, C, W);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, C, X);
    qlow_view_init_2d(&hv, QLOW_DTYPE_F32, C, C, H);
    qlow_ctx *ctx = make_ctx(2);
    qlow_params *pr = NULL;
    qlow_params_create(NULL, &pr);
    qlow_params_set_float(pr, QLOW_SCALE_LAMBDA_COS, 0.0);
    qlow_params_set_int(pr, QLOW_SCALE_ADAM_STEPS, 0);
    qlow_params_set_int(pr, QLOW_SCALE_ALS_ITERS, 4);
    qlow_actstats *st = NULL;
    qlow_actstats_create(NULL, C, &st);
    qlow_actstats_update(st, &xv);
    QT_CHECK_OK(qlow_ptq161_quantize_f32(ctx, pr, &wv, &xv, NULL, A, NULL, NULL));
    QT_CHECK_OK(qlow_ptq161_quantize_gram_f32(ctx, pr, &wv, &hv, st, B, NULL, NULL));
    double ex = rel_output_error(W, A, R, C, X, T), eh = rel_output_error(W, B, R, C, X, T);
    qlow_params_set_int(pr, QLOW_PTQ161_OPTIMIZE, 0);
    QT_CHECK_OK(qlow_ptq161_quantize_f32(ctx, pr, &wv, &xv, NULL, A, NULL, NULL));
    double e0 = rel_output_error(W, A, R, C, X, T);
    printf("INFO gram path: rel output MSE mask only %.5f, from tokens %.5f, from H %.5f\n", e0, ex, eh);
    QT_CHECK(fabs(eh - ex) < 0.01 * ex && ex < e0, "same optimum from H as from X");
    QT_CHECK_STATUS(qlow_ptq161_quantize_gram_f32(ctx, pr, &wv, &hv, NULL, B, NULL, NULL), QLOW_E_NULL_POINTER);
    qlow_actstats_destroy(st);
    qlow_params_destroy(pr);
    qlow_ctx_destroy(ctx);
    free(W); free(X); free(H); free(A); free(B);
}

static void test_lowrank(void)
{
    /* Full rank (rank = rows) reproduces E X^T exactly: the correction removes the whole output error. */
    enum { R = 6, C = 10, T = 30 };
    float E[R * C], X[T * C], XT[C * T], L[R * C];
    make_layer(R, C, T, E, X);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < C; j++) XT[j * T + t] = X[t * C + j];
    qlow_ctx *ctx = make_ctx(1);
    QT_CHECK_OK(qlow__lowrank_correction(ctx, qlow__default_allocator(), E, R, C, XT, T, R, 1, L));
    double full = rel_output_error(E, L, R, C, X, T);
    QT_CHECK(full < 1e-8, "full-rank correction is exact (%g)", full);
    /* Rank 1 removes at least the share of the largest singular value of E X^T. */
    QT_CHECK_OK(qlow__lowrank_correction(ctx, qlow__default_allocator(), E, R, C, XT, T, 1, 1, L));
    double r1 = rel_output_error(E, L, R, C, X, T);
    QT_CHECK(r1 < 1.0 - 1.0 / R, "rank-1 correction removes at least 1/rank of the error (%g left)", r1);
    qlow_ctx_destroy(ctx);
}

int main(void)
{
    test_gradients();
    test_engine_stepping();
    test_pipeline();
    test_alloc_failures();
    test_lowrank();
    test_gram();
    return qt_finish();
}
