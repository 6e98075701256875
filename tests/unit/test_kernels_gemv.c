/* test_kernels_gemv.c - every format x awkward shapes x batch, both activation modes: against the
 * dequantized matrix in double precision, and every ISA path and thread count bit-identical to the
 * generic kernels. Matrices come from the test-side packer (tests/kernels_testpack.h). */
#include "qtest.h"
#include "kernels_testpack.h"
#include "qtest_isa.h"

typedef struct cfg {
    const char *name;
    int format, symmetric;
    int64_t group_cols, group_rows;
    int col_scale, store_perm;
    double salient_frac; /* M161 */
} cfg;

static const cfg CFGS[] = {
    {"Q8 asym g32", QLOW_FORMAT_Q8, 0, 32, 1, 0, 0, 0},
    {"Q8 sym g64 gr2", QLOW_FORMAT_Q8, 1, 64, 2, 0, 0, 0},
    {"Q4 asym g32", QLOW_FORMAT_Q4, 0, 32, 1, 0, 0, 0},
    {"Q4 sym g128", QLOW_FORMAT_Q4, 1, 128, 1, 0, 0, 0},
    {"Q4 asym row gr3", QLOW_FORMAT_Q4, 0, 0, 3, 0, 0, 0},
    {"Q3 asym g32", QLOW_FORMAT_Q3, 0, 32, 1, 0, 0, 0},
    {"Q3 sym g64", QLOW_FORMAT_Q3, 1, 64, 1, 0, 0, 0},
    {"Q3 asym g128", QLOW_FORMAT_Q3, 0, 128, 1, 0, 0, 0}, /* AVX2: g128 scales and zeros in one conversion */
    {"Q2 asym g32", QLOW_FORMAT_Q2, 0, 32, 1, 0, 0, 0},
    {"Q2 sym g96 gr2", QLOW_FORMAT_Q2, 1, 96, 2, 0, 0, 0},
    {"Q2 asym g256", QLOW_FORMAT_Q2, 0, 256, 1, 0, 0, 0}, /* the SIMD kernels' group-shift paths 3, 4 */
    {"Q4 asym g512", QLOW_FORMAT_Q4, 0, 512, 1, 0, 0, 0},
    {"B1", QLOW_FORMAT_B1, 0, 0, 0, 0, 0, 0},
    {"B1 r2", QLOW_FORMAT_B1, 0, 0, 0, 1, 0, 0},
    {"B2", QLOW_FORMAT_B2, 0, 0, 0, 0, 0, 0},
    {"T2", QLOW_FORMAT_T2, 0, 0, 0, 0, 0, 0},
    {"T158", QLOW_FORMAT_T158, 0, 0, 0, 0, 0, 0},
    {"M161 r2 perm", QLOW_FORMAT_M161, 0, 0, 0, 1, 1, 0.1},
    {"M161 mask-only", QLOW_FORMAT_M161, 0, 0, 0, 0, 0, 0.3},
    {"M161 all salient", QLOW_FORMAT_M161, 0, 0, 0, 1, 0, 1.0},
    {"M161 none salient", QLOW_FORMAT_M161, 0, 0, 0, 1, 1, 0.0},
};

static const int64_t SHAPES[][2] = {{1, 1}, {3, 31}, {5, 33}, {17, 100}, {7, 257}, {9, 640}, {4, 1100}, {3, 5000}, {2, 10300},
                                     {37, 9000}};

/* Activation block of part position j, as documented in include/qlow.h: 32 consecutive columns for
 * the Q kinds; for the binary and ternary kinds, chunks of 4096 (T158: 5120) columns split into 16
 * interleaved blocks. */
static int64_t act_block(int format, int part, int64_t j)
{
    int kind = format == QLOW_FORMAT_M161 ? (part == 0 ? QLOW_FORMAT_Q4 : QLOW_FORMAT_B1) : format;
    switch (kind) {
    case QLOW_FORMAT_B1:
    case QLOW_FORMAT_B2: return 16 * (j / 4096) + (j % 64) / 4;
    case QLOW_FORMAT_T2: return 16 * (j / 4096) + (((j % 256) / 32) * 8 + j % 8) / 4;
    case QLOW_FORMAT_T158: return 16 * (j / 5120) + ((j % 320) / 5) / 4;
    default: return j / 32;
    }
}

/* The activations the kernels use, rebuilt from the documented quantization: x_hat of part `part`
 * (in part order) and the per-element quantization step bound (scale / 2). */
static void quantize_part(const tp_matrix *m, const float *x, int part, int per_token, double *xhat, double *half_step)
{
    const int64_t C = m->qm.p.cols;
    int64_t n = 0;
    for (int64_t j = 0; j < C; j++) n += m->part[j] == part;
    float *v = (float *)calloc((size_t)n + 1, sizeof(float));
    float *amax = (float *)calloc((size_t)n + 1, sizeof(float));
    for (int64_t j = 0; j < C; j++)
        if (m->part[j] == part) v[m->pos[j]] = x[j] * (float)m->r2[j];
    float tok = 0.0f;
    for (int64_t k = 0; k < n; k++) {
        float a = fabsf(v[k]);
        int64_t b = act_block(m->qm.p.format, part, k);
        amax[b] = a > amax[b] ? a : amax[b];
        tok = a > tok ? a : tok;
    }
    for (int64_t k = 0; k < n; k++) {
        float am = per_token ? tok : amax[act_block(m->qm.p.format, part, k)];
        float xs = am > 0 ? am / 127.0f : 0.0f, inv = am > 0 ? 127.0f / am : 0.0f;
        float q = v[k] * inv;
        int r = (int)(q + (q < 0 ? -0.5f : 0.5f));
        r = r > 127 ? 127 : r < -127 ? -127 : r;
        xhat[k] = (double)xs * r;
        half_step[k] = (double)xs * 0.5;
    }
    free(v);
    free(amax);
}

static double max_ratio_seen;

/* Check y (batch x rows) against the double references for token data X. */
static void check_reference(const tp_matrix *m, const cfg *c, const float *X, int64_t batch, const float *Y,
                            int per_token)
{
    const int64_t R = m->qm.p.rows, C = m->qm.p.cols;
    double *xh[2], *hs[2];
    for (int k = 0; k < 2; k++) {
        xh[k] = (double *)calloc((size_t)C + 1, sizeof(double));
        hs[k] = (double *)calloc((size_t)C + 1, sizeof(double));
    }
    int bad = 0;
    for (int64_t t = 0; t < batch && !bad; t++) {
        const float *x = X + t * C;
        for (int k = 0; k < 2; k++) quantize_part(m, x, k, per_token, xh[k], hs[k]);
        for (int64_t r = 0; r < R && !bad; r++) {
            double yx = 0, yh = 0, bound = 0, mag = 0;
            for (int64_t j = 0; j < C; j++) {
                double w = m->W[r * C + j], wp = w / m->r2[j];
                double xhat = xh[m->part[j]][m->pos[j]];
                yx += w * (double)x[j];
                yh += wp * xhat;
                bound += fabs(wp) * hs[m->part[j]][m->pos[j]];
                mag += (fabs(wp) + 1.0) * fabs(xhat);
            }
            /* fp32 rounding: about cols/ablock/16 + 6 rounded operations per lane chain, each 2^-24
             * relative to at most `mag`; 1e-5 leaves a margin of more than 10x. */
            double tol_fp = 1e-5 * mag + 1e-30;
            double y = Y[t * R + r];
            double e_hat = fabs(y - yh), e_x = fabs(y - yx);
            if (!QT_CHECK(e_hat <= tol_fp, "%s R%lld C%lld t%lld r%lld: y %.9g vs W x_hat %.9g (tol %.3g)", c->name,
                          (long long)R, (long long)C, (long long)t, (long long)r, y, yh, tol_fp))
                bad = 1;
            /* Activation quantization moves each x_j by at most half a step, hence this bound. */
            if (!QT_CHECK(e_x <= 1.01 * bound + tol_fp, "%s R%lld C%lld: |y - W x| %.3g > bound %.3g", c->name,
                          (long long)R, (long long)C, e_x, bound))
                bad = 1;
            if (bound > 0 && e_x / bound > max_ratio_seen) max_ratio_seen = e_x / bound;
        }
    }
    for (int k = 0; k < 2; k++) {
        free(xh[k]);
        free(hs[k]);
    }
}

static qlow_status run(qlow_ctx *ctx, const tp_matrix *m, const float *X, int64_t batch, float *Y, int per_token)
{
    size_t bytes = 0;
    qlow_status s = qlow_gemm_workspace_size(&m->qm, batch, per_token ? QLOW_GEMM_ACT8 : 0, &bytes);
    if (s != QLOW_OK) return s;
    void *w = aligned_alloc(64, (bytes + 63) / 64 * 64);
    s = per_token ? qlow_gemm_act8_ws(ctx, &m->qm, X, batch, Y, w, bytes) : qlow_gemm_ws(ctx, &m->qm, X, batch, Y, w, bytes);
    free(w);
    return s;
}

int main(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
#ifdef QLOW_TEST_FORCE_NEON
    /* tests/checks/kernels_neon_shim.sh: NEON kernels built over a C shim on a non-ARM host. */
    ctx->isa_detected = ctx->isa_max = QLOW_ISA_NEON;
#endif
    int64_t detected = 0;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &detected));
    int simd_runs = 0, thread_runs = 0, ref_runs = 0;
    uint64_t seed = 77;
    for (size_t ci = 0; ci < sizeof(CFGS) / sizeof(CFGS[0]); ci++) {
        const cfg *c = &CFGS[ci];
        for (size_t si = 0; si < sizeof(SHAPES) / sizeof(SHAPES[0]); si++) {
            tp_opts o = {0};
            o.format = c->format;
            o.rows = SHAPES[si][0];
            o.cols = SHAPES[si][1];
            o.symmetric = c->symmetric;
            o.group_cols = c->group_cols;
            o.group_rows = c->group_rows;
            o.col_scale = c->col_scale;
            o.store_perm = c->store_perm;
            o.n_salient = (int64_t)(c->salient_frac * (double)o.cols + 0.5);
            o.seed = ++seed;
            if (c->format != QLOW_FORMAT_Q8 && c->format != QLOW_FORMAT_Q2 && c->format != QLOW_FORMAT_Q4 &&
                c->format != QLOW_FORMAT_Q3)
                o.group_cols = 0;
            tp_matrix m;
            tp_make(&m, &o);
            /* 37 x 9000 at batch 9: two 4-token tiles walk 18 chunks in column spans, over two row sets
             * (QLOW__KSPAN in kernels.h), which must not change a bit. */
            const int64_t batches[] = {1, 3, si == 5 ? 64 : si == 9 ? 9 : 2};
            for (int bi = 0; bi < 3; bi++) {
                int64_t batch = batches[bi];
                size_t nx = (size_t)(batch * o.cols), ny = (size_t)(batch * o.rows);
                float *X = (float *)malloc(nx * sizeof(float));
                float *Yg = (float *)malloc(ny * sizeof(float)), *Ys = (float *)malloc(ny * sizeof(float));
                uint64_t xs = seed * 31;
                for (size_t i = 0; i < nx; i++) {
                    double u = tp_unif(&xs) * 2 - 1;
                    X[i] = (float)(u * (i % 97 == 5 ? 20.0 : 1.0)); /* a few outliers */
                }
                for (int mode = 0; mode < 2; mode++) {
                    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 1));
                    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC));
                    QT_CHECK_OK(run(ctx, &m, X, batch, Yg, mode));
                    check_reference(&m, c, X, batch, Yg, mode);
                    ref_runs++;
                    for (int k = 0; k < QT_ISA_LEVELS; k++) {
                        if (!qt_isa_runs(qt_isa_levels[k], detected)) continue;
                        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, qt_isa_levels[k]));
                        memset(Ys, 0xcd, ny * sizeof(float));
                        QT_CHECK_OK(run(ctx, &m, X, batch, Ys, mode));
                        QT_CHECK(memcmp(Yg, Ys, ny * sizeof(float)) == 0, "%s R%lld C%lld b%lld mode %d: isa %d differs",
                                 c->name, (long long)o.rows, (long long)o.cols, (long long)batch, mode, qt_isa_levels[k]);
                        simd_runs++;
                    }
                    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, detected));
                    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 2));
                    memset(Ys, 0xcd, ny * sizeof(float));
                    QT_CHECK_OK(run(ctx, &m, X, batch, Ys, mode));
                    QT_CHECK(memcmp(Yg, Ys, ny * sizeof(float)) == 0, "%s: 2 threads differ", c->name);
                    thread_runs++;
                }
                free(X);
                free(Yg);
                free(Ys);
            }
            tp_free(&m);
        }
    }
    printf("INFO %d reference checks, %d SIMD-vs-generic comparisons (detected isa %lld), %d 2-thread runs\n",
           ref_runs, simd_runs, (long long)detected, thread_runs);
    printf("INFO largest |y - W x| / activation-quantization bound: %.3f\n", max_ratio_seen);
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
