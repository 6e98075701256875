/* hessian_bench.c - speed of the Hessian accumulation (X^T X, 4096 columns x 2048 tokens) and of a
 * 4096 x 4096 GPTQ pass, against the machine's fp32 peak measured in the same run (an FMA-throughput
 * loop and the library's blocked fp32 GEMM update). Usage: hessian_bench [threads] (default 2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "qlow.h"
#include "hessian/dense.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1p-53 * 2.0 - 1.0);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* 12 independent FMA chains per thread: enough to cover FMA latency on two pipes. */
__attribute__((target("avx512f"))) static float fma_loop512(long iters)
{
    __m512 a[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    float lanes[16];
    _mm512_storeu_ps(lanes, s);
    float r = 0.0f;
    for (int i = 0; i < 16; i++) r += lanes[i];
    return r;
}
#endif

/* Peak fp32 FLOP/s of `threads` threads running FMA chains (AVX-512 when the ctx ISA allows). */
static double fma_peak(int threads, int isa)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa == QLOW_ISA_AVX512 || isa == QLOW_ISA_AVX512_VNNI) {
        const long iters = 20000000;
        double best = 0.0;
        for (int rep = 0; rep < 3; rep++) {
            volatile float sink = 0.0f;
            double t0 = now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
            {
                float r = fma_loop512(iters);
#ifdef _OPENMP
#pragma omp atomic
#endif
                sink += r;
            }
            double t = now() - t0;
            double f = 2.0 * 16 * 12 * (double)iters * threads / t;
            if (f > best) best = f;
        }
        return best;
    }
#endif
    (void)threads;
    (void)isa;
    return 0.0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    qlow_ctx *ctx = NULL;
    if (qlow_ctx_create(NULL, &ctx) != QLOW_OK) return 1;
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads);
    int64_t isa = 0;
    qlow_ctx_get_int(ctx, QLOW_CTX_ISA_MAX, &isa);
    printf("hessian bench: %d threads, ISA %lld, OpenMP %d\n", threads, (long long)isa, qlow_has_feature(QLOW_FEATURE_OPENMP));

    double peak = fma_peak(threads, (int)isa);
    /* Blocked fp32 GEMM update of the library: C[2048 x 2048] -= A[2048 x 256] B[256 x 2048]. */
    const int64_t gm = 2048, gn = 2048, gk = 256;
    float *A = malloc(sizeof(float) * gm * gk), *B = malloc(sizeof(float) * gk * gn), *C = calloc((size_t)gm * gn, sizeof(float));
    for (int64_t i = 0; i < gm * gk; i++) A[i] = frand();
    for (int64_t i = 0; i < gk * gn; i++) B[i] = frand();
    double gbest = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        qlow__sgemm_sub((int)isa, threads, gm, gn, gk, A, gk, B, gn, C, gn);
        double f = 2.0 * gm * gn * gk / (now() - t0);
        if (f > gbest) gbest = f;
    }
    free(A), free(B), free(C);
    printf("fp32 peak (FMA throughput loop): %.1f GFLOP/s\n", peak * 1e-9);
    printf("fp32 GEMM (library blocked sgemm, 2048x2048x256): %.1f GFLOP/s\n", gbest * 1e-9);
    double ref = peak > 0.0 ? peak : gbest;

    /* X^T X: 4096 columns x 2048 tokens. */
    const int64_t d = 4096, N = 2048;
    float *X = malloc(sizeof(float) * N * d);
    for (int64_t i = 0; i < N * d; i++) X[i] = frand();
    qlow_hessian *h = NULL;
    if (qlow_hessian_create(NULL, d, QLOW_HESSIAN_FULL, &h) != QLOW_OK) return 1;
    qlow_view vx;
    qlow_view_init_2d(&vx, QLOW_DTYPE_F32, N, d, X);
    double t0 = now();
    qlow_status st = qlow_hessian_add(ctx, h, &vx);
    double tx = now() - t0;
    double useful = (double)N * d * (d + 1); /* the symmetric product: d(d+1)/2 sums of N products */
    printf("X^T X accumulate %lld cols x %lld tokens: %.3f s, %.1f GFLOP/s (symmetric work N*d*(d+1)), "
           "%.1f%% of FMA peak, %.1f%% of GEMM; %.1f GFLOP/s GEMM-equivalent (2*N*d^2)  [target >= 50%% of peak] %s\n",
           (long long)d, (long long)N, tx, useful / tx * 1e-9, 100.0 * useful / tx / ref, 100.0 * useful / tx / gbest,
           2.0 * N * d * d / tx * 1e-9, st == QLOW_OK ? "" : qlow_status_string(st));

    /* GPTQ 4096 x 4096, 4-bit, groups of 128, min/max grids (the reference GPTQ quantizer). */
    float *W = malloc(sizeof(float) * d * d);
    for (int64_t i = 0; i < d * d; i++) W[i] = frand() * 0.05f;
    qlow_view vw;
    qlow_view_init_2d(&vw, QLOW_DTYPE_F32, d, d, W);
    qlow_params *p = NULL;
    qlow_params_create(NULL, &p);
    qlow_params_set_int(p, QLOW_P_BITS, 4);
    qlow_params_set_int(p, QLOW_P_GROUP_COLS, 128);
    qlow_params_set_int(p, QLOW_P_RANGE_SEARCH, 0);
    double *U = malloc(sizeof(double) * d * d);
    t0 = now();
    st = qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_HINV, 0.01, U, d * d);
    double tf = now() - t0;
    printf("factor of H^-1 (4096): %.3f s (%s)\n", tf, qlow_status_string(st));
    free(U);
    qlow_qmatrix *qm = NULL;
    t0 = now();
    st = qlow_gptq_quantize(ctx, p, &vw, h, &qm);
    double tg = now() - t0;
    printf("GPTQ 4096x4096 4-bit g128: %.3f s (%s), sweep ~%.1f GFLOP/s (2*rows*cols^2 / total time)  [target < 10 s]\n",
           tg, qlow_status_string(st), 2.0 * d * d * d / tg * 1e-9);
    qlow_qmatrix_destroy(qm);
    qlow_params_destroy(p);
    qlow_hessian_destroy(h);
    qlow_ctx_destroy(ctx);
    free(X), free(W);
    return 0;
}
