/* hessian_ref.h - plain double-precision references shared by the hessian/gptq/plan tests. */
#ifndef QLOW_TEST_HESSIAN_REF_H
#define QLOW_TEST_HESSIAN_REF_H
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t ref_rng_state = 0x1234567ull;
static inline double ref_uniform(void)
{
    uint64_t z = (ref_rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1p-53;
}
static inline double ref_gauss(void)
{
    double u1 = ref_uniform(), u2 = ref_uniform();
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Eigenvalues of a symmetric n x n matrix by cyclic Jacobi rotations (A is destroyed), sorted descending. */
static inline void ref_jacobi_eigs(double *A, int n, double *eig)
{
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) off += A[i * n + j] * A[i * n + j];
        if (off < 1e-30) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (A[q * n + q] - A[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < n; k++) {
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = c * akp - s * akq;
                    A[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = c * apk - s * aqk;
                    A[q * n + k] = s * apk + c * aqk;
                }
            }
    }
    for (int i = 0; i < n; i++) eig[i] = A[i * n + i];
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (eig[j] > eig[i]) {
                double t = eig[i];
                eig[i] = eig[j];
                eig[j] = t;
            }
}

/* H = 2/N X^T X in double. */
static inline void ref_hessian(const float *X, int64_t N, int64_t d, double *H)
{
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < d; j++) {
            double s = 0.0;
            for (int64_t t = 0; t < N; t++) s += (double)X[t * d + i] * X[t * d + j];
            H[i * d + j] = 2.0 * s / (double)N;
        }
}
#endif
