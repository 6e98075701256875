/* sgemm.c - the dense fp32 product the scale optimizer lives on: C (+)= A B^T with A [M x K], B [N x K]
 * row-major (dot products along K). Rows of C are split between threads in fixed 64-row tasks and every
 * element is summed in the same order by whichever thread owns it, so results do not depend on the
 * thread count. An AVX2+FMA path is chosen at run time from the ctx ISA level. */
#include "scale/scale.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(QLOW_FORCE_GENERIC)
#define QLOW_SGEMM_AVX2 1
#include <immintrin.h>
#endif

enum { MB = 64, NB = 64, KC = 512 };

typedef struct gemm_args {
    int64_t M, N, K;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
} gemm_args;

static void tile_generic(const gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t k0,
                         int64_t k1)
{
    for (int64_t i = i0; i < i1; i++) {
        const float *a = g->A + i * g->lda;
        for (int64_t j = j0; j < j1; j++) {
            const float *b = g->B + j * g->ldb;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int64_t k = k0;
            for (; k + 4 <= k1; k += 4) {
                s0 += a[k] * b[k];
                s1 += a[k + 1] * b[k + 1];
                s2 += a[k + 2] * b[k + 2];
                s3 += a[k + 3] * b[k + 3];
            }
            for (; k < k1; k++) s0 += a[k] * b[k];
            g->C[i * g->ldc + j] += (s0 + s1) + (s2 + s3);
        }
    }
}

#ifdef QLOW_SGEMM_AVX2
__attribute__((target("avx2,fma"))) static float hsum8(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) static void tile_avx2(const gemm_args *g, int64_t i0, int64_t i1,
                                                          int64_t j0, int64_t j1, int64_t k0, int64_t k1)
{
    const int64_t kv = k0 + ((k1 - k0) & ~(int64_t)7);
    int64_t i = i0;
    for (; i + 4 <= i1; i += 4) {
        const float *a0 = g->A + i * g->lda, *a1 = a0 + g->lda, *a2 = a1 + g->lda, *a3 = a2 + g->lda;
        int64_t j = j0;
        for (; j + 4 <= j1; j += 4) {
            const float *b0 = g->B + j * g->ldb, *b1 = b0 + g->ldb, *b2 = b1 + g->ldb, *b3 = b2 + g->ldb;
            __m256 c[4][4];
            for (int r = 0; r < 4; r++)
                for (int q = 0; q < 4; q++) c[r][q] = _mm256_setzero_ps();
            for (int64_t k = k0; k < kv; k += 8) {
                __m256 va[4] = {_mm256_loadu_ps(a0 + k), _mm256_loadu_ps(a1 + k), _mm256_loadu_ps(a2 + k),
                                _mm256_loadu_ps(a3 + k)};
                __m256 vb[4] = {_mm256_loadu_ps(b0 + k), _mm256_loadu_ps(b1 + k), _mm256_loadu_ps(b2 + k),
                                _mm256_loadu_ps(b3 + k)};
                for (int r = 0; r < 4; r++)
                    for (int q = 0; q < 4; q++) c[r][q] = _mm256_fmadd_ps(va[r], vb[q], c[r][q]);
            }
            const float *ar[4] = {a0, a1, a2, a3}, *bq[4] = {b0, b1, b2, b3};
            for (int r = 0; r < 4; r++) {
                for (int q = 0; q < 4; q++) {
                    float s = hsum8(c[r][q]);
                    for (int64_t k = kv; k < k1; k++) s += ar[r][k] * bq[q][k];
                    g->C[(i + r) * g->ldc + j + q] += s;
                }
            }
        }
        for (; j < j1; j++) {
            const float *b = g->B + j * g->ldb;
            const float *ar[4] = {a0, a1, a2, a3};
            for (int r = 0; r < 4; r++) {
                __m256 acc = _mm256_setzero_ps();
                for (int64_t k = k0; k < kv; k += 8)
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(ar[r] + k), _mm256_loadu_ps(b + k), acc);
                float s = hsum8(acc);
                for (int64_t k = kv; k < k1; k++) s += ar[r][k] * b[k];
                g->C[(i + r) * g->ldc + j] += s;
            }
        }
    }
    for (; i < i1; i++) {
        const float *a = g->A + i * g->lda;
        for (int64_t j = j0; j < j1; j++) {
            const float *b = g->B + j * g->ldb;
            __m256 acc = _mm256_setzero_ps();
            for (int64_t k = k0; k < kv; k += 8)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc);
            float s = hsum8(acc);
            for (int64_t k = kv; k < k1; k++) s += a[k] * b[k];
            g->C[i * g->ldc + j] += s;
        }
    }
}
#endif

void qlow__sgemm_nt(const qlow_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float *C, int64_t ldc, int accumulate)
{
    gemm_args g = {M, N, K, A, lda, B, ldb, C, ldc};
    int use_avx2 = 0;
    (void)use_avx2;
#ifdef QLOW_SGEMM_AVX2
    use_avx2 = qlow__ctx_isa(ctx) >= QLOW_ISA_AVX2 && qlow__ctx_isa(ctx) < QLOW_ISA_NEON;
#endif
    const int64_t tasks = (M + MB - 1) / MB;
    int nth = qlow__par_threads(ctx, (double)M * (double)N * (double)K / 16.0);
    (void)nth;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1 && tasks > 1)
#endif
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t i0 = t * MB, i1 = i0 + MB < M ? i0 + MB : M;
        if (!accumulate)
            for (int64_t i = i0; i < i1; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
        for (int64_t j0 = 0; j0 < N; j0 += NB) {
            const int64_t j1 = j0 + NB < N ? j0 + NB : N;
            for (int64_t k0 = 0; k0 < K; k0 += KC) {
                const int64_t k1 = k0 + KC < K ? k0 + KC : K;
#ifdef QLOW_SGEMM_AVX2
                if (use_avx2) {
                    tile_avx2(&g, i0, i1, j0, j1, k0, k1);
                    continue;
                }
#endif
                tile_generic(&g, i0, i1, j0, j1, k0, k1);
            }
        }
    }
}
