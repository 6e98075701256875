/* sgemm.c - the dense fp32 product the scale optimizer lives on, C (+)= A B, delegated to the blocked
 * kernels of src/hessian/dense.c (which only subtract: C -= A B), so there is one GEMM in the library.
 * Results are independent of the thread count because those kernels are. */
#include "hessian/dense.h"
#include "scale/scale.h"

static void negate(float *C, int64_t M, int64_t N, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = -C[i * ldc + j];
}

void qlow__sgemm_nn(const qlow_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float *C, int64_t ldc, int accumulate)
{
    if (accumulate) {
        negate(C, M, N, ldc);
    } else {
        for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    }
    if (K > 0) {
        int threads = qlow__par_threads(ctx, (double)M * (double)N * (double)K / 16.0);
        qlow__sgemm_sub(qlow__ctx_isa(ctx), threads, M, N, K, A, lda, B, ldb, C, ldc);
    }
    negate(C, M, N, ldc);
}
