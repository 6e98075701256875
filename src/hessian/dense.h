/* dense.h - the dense linear algebra the Hessian, GPTQ and planner code need: blocked GEMM updates in
 * fp32 and double (AVX-512 or portable C, picked from the context's ISA), Cholesky factors of symmetric
 * positive definite matrices and triangular inverses. Row-major throughout. */
#ifndef QLOW_HESSIAN_DENSE_H
#define QLOW_HESSIAN_DENSE_H

#include "core/internal.h"

/* C[m x n] -= A[m x k] * B[k x n]. A's element (i, p) sits at A[i * a_row + p * a_col], so A may be
 * read transposed. Each element of C is computed by one thread in a fixed order, so the result does not
 * depend on `threads`. */
QLOW_HIDDEN void qlow__dgemm_sub(int isa, int threads, int64_t m, int64_t n, int64_t k, const double *A,
                                 int64_t a_row, int64_t a_col, const double *B, int64_t ldb, double *C,
                                 int64_t ldc);
/* Structured variant: with c_lower, only column panels that reach the lower triangle of C are computed,
 * where C's row i is matrix row i + c_row0 and column j is matrix column j (so entries with j <= i + c_row0
 * are updated; a few above the diagonal inside a panel are updated too and must be don't-care). With
 * b_lower, B is lower triangular (B[p][j] = 0 for j > p) and each column panel starting at j0 skips
 * p < j0. */
QLOW_HIDDEN void qlow__dgemm_sub_tri(int isa, int threads, int64_t m, int64_t n, int64_t k, const double *A,
                                     int64_t a_row, int64_t a_col, const double *B, int64_t ldb, double *C,
                                     int64_t ldc, int c_lower, int64_t c_row0, int b_lower);
/* y[i] -= a * x[i], i < n. */
QLOW_HIDDEN void qlow__saxpy_sub(int isa, int64_t n, float a, const float *x, float *y);
QLOW_HIDDEN void qlow__sgemm_sub(int isa, int threads, int64_t m, int64_t n, int64_t k, const float *A,
                                 int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc);

/* Scratch (in doubles) the factorizations below need for an n x n matrix. */
QLOW_HIDDEN size_t qlow__spd_scratch_doubles(int64_t n);

/* In place: the lower Cholesky factor L of the symmetric matrix A (A = L L^T, full storage; the strict
 * upper triangle is zeroed). QLOW_E_NUMERIC if A is not numerically positive definite. */
QLOW_HIDDEN qlow_status qlow__cholesky_lower(int isa, int threads, double *A, int64_t n, double *scratch);

/* In place: L^-1 of a lower triangular L (strict upper triangle must be zero and stays zero). */
QLOW_HIDDEN void qlow__trinv_lower(int isa, int threads, double *L, int64_t n, double *scratch);

/* In place: reverse the order of rows and columns (A <- J A J). */
QLOW_HIDDEN void qlow__reverse_sym(double *A, int64_t n);

/* In place on symmetric positive definite A: the upper factor U with A^-1 = U^T U (the factor GPTQ's
 * column sweep walks). Uses A = R R^T with R upper (Cholesky of J A J, reversed) and U = R^-1. */
QLOW_HIDDEN qlow_status qlow__inverse_upper_factor(int isa, int threads, double *A, int64_t n, double *scratch);

/* Transpose an n x n matrix in place. */
QLOW_HIDDEN void qlow__transpose_sq(double *A, int64_t n);

#endif
