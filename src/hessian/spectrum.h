/* spectrum.h - matrix-free spectral estimates (power iteration, Lanczos, Hutchinson) over a double
 * matrix-vector callback; shared by the accumulator queries and the caller-HVP API. */
#ifndef QLOW_HESSIAN_SPECTRUM_H
#define QLOW_HESSIAN_SPECTRUM_H

#include "core/internal.h"

typedef qlow_status (*qlow__matvec_fn)(void *user, const double *x, double *y, int64_t n);

/* Scratch doubles each routine needs. */
#define QLOW__POWER_SCRATCH(n) (2 * (size_t)(n))
#define QLOW__HUTCH_SCRATCH(n) (2 * (size_t)(n))
QLOW_HIDDEN size_t qlow__lanczos_scratch(int64_t n, int32_t steps);

/* Largest-magnitude eigenvalue (sign kept) by power iteration from a seeded Gaussian start; stops when
 * |lambda - lambda_prev| <= tol * |lambda| or after max_iter products. *iters = products used. */
QLOW_HIDDEN qlow_status qlow__power_iteration(qlow__matvec_fn f, void *user, int64_t n, uint64_t seed, double tol,
                                              int32_t max_iter, double *scratch, double *lambda, int32_t *iters);

/* The k largest eigenvalues (descending) of the Lanczos tridiagonal after `steps` steps with full
 * reorthogonalization (restarting on an invariant subspace). */
QLOW_HIDDEN qlow_status qlow__lanczos(qlow__matvec_fn f, void *user, int64_t n, uint64_t seed, int32_t steps,
                                      int32_t k, double *scratch, double *eigs);

/* Hutchinson trace with Rademacher probes: mean of z^T A z, its standard error, probes used. Stops early
 * when rel_tol > 0 and stderr <= rel_tol * |mean| after at least 4 probes. */
QLOW_HIDDEN qlow_status qlow__hutchinson(qlow__matvec_fn f, void *user, int64_t n, uint64_t seed,
                                         int32_t max_probes, double rel_tol, double *scratch, double *trace,
                                         double *std_error, int32_t *used);

/* k largest eigenvalues of the symmetric tridiagonal (diag a[m], off-diagonal b[m-1]) by Sturm bisection. */
QLOW_HIDDEN void qlow__tridiag_top_eigs(const double *a, const double *b, int32_t m, int32_t k, double *eigs);

#endif
