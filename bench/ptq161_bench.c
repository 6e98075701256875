/* ptq161_bench.c - wall time of the full PTQ1.61 layer pipeline (statistics, mask, 4-bit + binary
 * quantization, closed-form sweeps, Adam on MSE + cosine, fp16 fold) on a synthetic 4096 x 4096 layer
 * with 2048 calibration tokens whose channels have outlier scales, at 2 threads. The output error is
 * measured on 256 fresh tokens from the same distribution.
 * Usage: ptq161_bench [rows cols tokens threads [all]]; `all` adds a run with equalization, the rank-8
 * restorative correction and GPTQ compensation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qlow.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}
static double normal(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2.0 * log(u > 1e-300 ? u : 1e-300)) * cos(6.283185307179586 * v);
}
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int64_t rows = argc > 1 ? atoll(argv[1]) : 4096, cols = argc > 2 ? atoll(argv[2]) : 4096;
    int64_t T = argc > 3 ? atoll(argv[3]) : 2048, threads = argc > 4 ? atoll(argv[4]) : 2;
    float *W = malloc((size_t)(rows * cols) * 4), *X = malloc((size_t)((T + 256) * cols) * 4);
    float *Wh = malloc((size_t)(rows * cols) * 4), *chan = malloc((size_t)cols * 4);
    if (!W || !X || !Wh || !chan) return 1;
    /* Weights with per-row and per-column magnitude structure (lognormal factors), as trained layers have. */
    for (int64_t j = 0; j < cols; j++) chan[j] = (float)exp(0.5 * normal());
    for (int64_t i = 0; i < rows; i++) {
        double row_scale = 0.02 * exp(0.5 * normal());
        for (int64_t j = 0; j < cols; j++) W[i * cols + j] = (float)(row_scale * chan[j] * normal());
    }
    for (int64_t j = 0; j < cols; j++) chan[j] = (float)exp(0.8 * normal());
    for (int64_t t = 0; t < T + 256; t++)
        for (int64_t j = 0; j < cols; j++) X[t * cols + j] = (float)(chan[j] * normal());
    const float *Xtest = X + T * cols;
    qlow_ctx *ctx;
    qlow_params *pr;
    if (qlow_ctx_create(NULL, &ctx) || qlow_params_create(NULL, &pr)) return 1;
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads);
    qlow_view wv, xv;
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, rows, cols, W);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, cols, X);
    const char *names[] = {"mask only (no optimization)", "full pipeline (defaults)", "+ equalize, rank 8, GPTQ"};
    const int runs = argc > 5 && strcmp(argv[5], "all") == 0 ? 3 : 2;
    float *fold = malloc((size_t)cols * 4);
    for (int run = 0; run < runs; run++) {
        qlow_params_reset(pr);
        if (run == 0) qlow_params_set_int(pr, QLOW_PTQ161_OPTIMIZE, 0);
        if (run == 2) {
            qlow_params_set_int(pr, QLOW_PTQ161_EQUALIZE, 1);
            qlow_params_set_int(pr, QLOW_PTQ161_LOWRANK, 8);
            qlow_params_set_int(pr, QLOW_PTQ161_GPTQ, 1);
        }
        double t0 = now();
        qlow_status st = qlow_ptq161_quantize_f32(ctx, pr, &wv, &xv, NULL, Wh, NULL, fold);
        double t1 = now();
        /* Relative output error on 256 held-out tokens (every 8th row). */
        double e2 = 0, y2 = 0;
        for (int64_t t = 0; t < 256; t++)
            for (int64_t i = 0; i < rows; i += 8) {
                double y = 0, z = 0;
                for (int64_t j = 0; j < cols; j++) {
                    y += (double)W[i * cols + j] * Xtest[t * cols + j];
                    z += (double)Wh[i * cols + j] * Xtest[t * cols + j] / fold[j];
                }
                e2 += (y - z) * (y - z);
                y2 += y * y;
            }
        printf("ptq161 %lldx%lld tokens=%lld threads=%lld %-28s: %s, %.2f s, rel output MSE %.4f\n", (long long)rows,
               (long long)cols, (long long)T, (long long)threads, names[run], qlow_status_string(st), t1 - t0, e2 / y2);
    }
    qlow_params_destroy(pr);
    qlow_ctx_destroy(ctx);
    free(W);
    free(X);
    free(Wh);
    free(chan);
    free(fold);
    return 0;
}
