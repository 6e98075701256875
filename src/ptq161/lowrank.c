/* lowrank.c - closed-form low-rank restorative correction: the rank-r L that best explains the output
 * error E X^T of a quantized layer. It replaces the paper's LoRA fine-tune (ptq161.md §2.8) by the exact
 * layer-local optimum, found by subspace iteration on B = E X^T without forming B^T B. */
#include "ptq161/ptq161.h"

#include <math.h>

/* Modified Gram-Schmidt on the r columns of Z [n x r] (row-major, double); degenerate columns become 0. */
static void orthonormalize(double *Z, int64_t n, int64_t r)
{
    for (int64_t k = 0; k < r; k++) {
        for (int64_t q = 0; q < k; q++) {
            double d = 0.0;
            for (int64_t i = 0; i < n; i++) d += Z[i * r + k] * Z[i * r + q];
            for (int64_t i = 0; i < n; i++) Z[i * r + k] -= d * Z[i * r + q];
        }
        double nn = 0.0;
        for (int64_t i = 0; i < n; i++) nn += Z[i * r + k] * Z[i * r + k];
        nn = nn > 1e-300 ? 1.0 / sqrt(nn) : 0.0;
        for (int64_t i = 0; i < n; i++) Z[i * r + k] *= nn;
    }
}

qlow_status qlow__lowrank_correction(const qlow_ctx *ctx, const qlow_allocator *alloc, const float *E, int64_t rows,
                                     int64_t cols, const float *XT, int64_t T, int64_t rank, uint64_t seed, float *out)
{
    if (rank > rows) rank = rows;
    if (rank > T) rank = T;
    size_t rt = 0, bytes = 0;
    QLOW_TRY(qlow__matrix_count(rows, T, &rt));
    QLOW_TRY(qlow__mul_size(rt, sizeof(float), &bytes));
    size_t small = ((size_t)rows + (size_t)T + (size_t)cols) * (size_t)rank * sizeof(double);
    QLOW_TRY(qlow__add_size(bytes, small + 256, &bytes));
    unsigned char *mem = (unsigned char *)qlow__alloc(alloc, bytes, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    float *B = (float *)mem;
    double *Z = (double *)(mem + qlow__align_up(rt * sizeof(float), 64)); /* rows x rank */
    double *V = Z + (size_t)rows * (size_t)rank;                            /* T x rank */
    double *QE = V + (size_t)T * (size_t)rank;                              /* rank x cols */
    qlow__sgemm_nn(ctx, rows, T, cols, E, cols, XT, T, B, T, 0);
    uint64_t st = seed ^ 0x10a7u;
    for (int64_t t = 0; t < T * rank; t++) V[t] = (double)(qlow__splitmix64(&st) >> 11) / 9007199254740992.0 - 0.5;
    const int power_iters = 4;
    for (int it = 0; it <= power_iters; it++) {
        /* Z = B V */
        for (int64_t i = 0; i < rows; i++) {
            for (int64_t k = 0; k < rank; k++) Z[i * rank + k] = 0.0;
            const float *bi = B + i * T;
            for (int64_t t = 0; t < T; t++)
                for (int64_t k = 0; k < rank; k++) Z[i * rank + k] += (double)bi[t] * V[t * rank + k];
        }
        orthonormalize(Z, rows, rank);
        if (it == power_iters) break;
        /* V = B^T Z */
        for (int64_t t = 0; t < T * rank; t++) V[t] = 0.0;
        for (int64_t i = 0; i < rows; i++) {
            const float *bi = B + i * T;
            for (int64_t t = 0; t < T; t++)
                for (int64_t k = 0; k < rank; k++) V[t * rank + k] += (double)bi[t] * Z[i * rank + k];
        }
    }
    /* L = Z (Z^T E) */
    for (int64_t k = 0; k < rank * cols; k++) QE[k] = 0.0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < rank; k++) {
            const double z = Z[i * rank + k];
            for (int64_t j = 0; j < cols; j++) QE[k * cols + j] += z * E[i * cols + j];
        }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < rank; k++) s += Z[i * rank + k] * QE[k * cols + j];
            out[i * cols + j] = (float)s;
        }
    qlow__free(alloc, mem);
    return QLOW_OK;
}

void qlow__equalize_scales(const float *absmean, int64_t cols, double beta, float *s)
{
    double amax = 0.0;
    for (int64_t j = 0; j < cols; j++) amax = absmean[j] > amax ? absmean[j] : amax;
    const double floor_v = amax > 0.0 ? amax * 1e-4 : 1.0;
    double logsum = 0.0;
    for (int64_t j = 0; j < cols; j++) {
        double a = absmean[j] > floor_v ? absmean[j] : floor_v;
        logsum += beta * log(a);
    }
    const double g = logsum / (double)cols;
    for (int64_t j = 0; j < cols; j++) {
        double a = absmean[j] > floor_v ? absmean[j] : floor_v;
        s[j] = (float)exp(beta * log(a) - g);
    }
}
