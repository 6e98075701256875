/* spectrum.c - power iteration, Lanczos with full reorthogonalization and Hutchinson's trace estimator
 * over a matrix-vector callback, in double. Randomness comes only from the seed passed in. */
#include "spectrum.h"

#include <math.h>

static double dot(const double *x, const double *y, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

static int all_finite(const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!(x[i] - x[i] == 0.0)) return 0;
    return 1;
}

static double uniform01(uint64_t *state) { return ((double)(qlow__splitmix64(state) >> 11) + 0.5) * 0x1p-53; }

static void gaussian_fill(double *v, int64_t n, uint64_t *state)
{
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = uniform01(state), u2 = uniform01(state);
        double r = sqrt(-2.0 * log(u1));
        v[i] = r * cos(6.283185307179586 * u2);
        if (i + 1 < n) v[i + 1] = r * sin(6.283185307179586 * u2);
    }
}

static int normalize(double *v, int64_t n)
{
    double nrm = sqrt(dot(v, v, n));
    if (!(nrm > 0.0)) return 0;
    for (int64_t i = 0; i < n; i++) v[i] /= nrm;
    return 1;
}

qlow_status qlow__power_iteration(qlow__matvec_fn f, void *user, int64_t n, uint64_t seed, double tol,
                                  int32_t max_iter, double *scratch, double *lambda, int32_t *iters)
{
    double *v = scratch, *w = scratch + n;
    uint64_t st = seed;
    gaussian_fill(v, n, &st);
    normalize(v, n);
    double lam = 0.0;
    int32_t it = 0;
    while (it < max_iter) {
        QLOW_TRY(f(user, v, w, n));
        it++;
        if (!all_finite(w, n)) return QLOW_E_NONFINITE;
        double next = dot(v, w, n);
        double nrm = sqrt(dot(w, w, n));
        if (!(nrm > 0.0)) {
            lam = 0.0;
            break;
        }
        for (int64_t i = 0; i < n; i++) v[i] = w[i] / nrm;
        int done = it > 1 && fabs(next - lam) <= tol * fabs(next);
        lam = next;
        if (done) break;
    }
    *lambda = lam;
    if (iters) *iters = it;
    return QLOW_OK;
}

size_t qlow__lanczos_scratch(int64_t n, int32_t steps)
{
    return ((size_t)steps + 1) * (size_t)n + 3 * (size_t)steps + 2;
}

/* v -= V[0..m) V^T v twice (classical Gram-Schmidt, repeated: full reorthogonalization). */
static void reorthogonalize(double *v, const double *V, int32_t m, int64_t n)
{
    for (int pass = 0; pass < 2; pass++)
        for (int32_t j = 0; j < m; j++) {
            const double *q = V + (size_t)j * (size_t)n;
            double c = dot(q, v, n);
            for (int64_t i = 0; i < n; i++) v[i] -= c * q[i];
        }
}

qlow_status qlow__lanczos(qlow__matvec_fn f, void *user, int64_t n, uint64_t seed, int32_t steps, int32_t k,
                          double *scratch, double *eigs)
{
    int32_t m = steps < n ? steps : (int32_t)n;
    double *V = scratch;                              /* (m+1) x n basis */
    double *alpha = scratch + ((size_t)steps + 1) * (size_t)n;
    double *beta = alpha + steps + 1;                 /* beta[j] couples q_j and q_{j+1} */
    double *w = V + (size_t)m * (size_t)n;            /* the slot after the last basis vector */
    uint64_t st = seed;
    gaussian_fill(V, n, &st);
    normalize(V, n);
    for (int32_t j = 0; j < m; j++) {
        double *q = V + (size_t)j * (size_t)n;
        double *r = j + 1 < m ? V + (size_t)(j + 1) * (size_t)n : w;
        QLOW_TRY(f(user, q, r, n));
        if (!all_finite(r, n)) return QLOW_E_NONFINITE;
        alpha[j] = dot(q, r, n);
        reorthogonalize(r, V, j + 1, n);
        if (j + 1 == m) break;
        double b = sqrt(dot(r, r, n));
        double scale = fabs(alpha[j]) + (j > 0 ? beta[j - 1] : 0.0);
        if (!(b > 1e-12 * (scale > 0.0 ? scale : 1.0))) {
            /* Invariant subspace: continue with a fresh direction orthogonal to the basis; the
             * tridiagonal decouples (beta = 0), which keeps its eigenvalues exact. */
            int ok = 0;
            for (int tries = 0; tries < 8 && !ok; tries++) {
                gaussian_fill(r, n, &st);
                reorthogonalize(r, V, j + 1, n);
                ok = normalize(r, n);
            }
            if (!ok) {
                m = j + 1;
                break;
            }
            beta[j] = 0.0;
        } else {
            beta[j] = b;
            for (int64_t i = 0; i < n; i++) r[i] /= b;
        }
    }
    int32_t kk = k < m ? k : m;
    qlow__tridiag_top_eigs(alpha, beta, m, kk, eigs);
    for (int32_t i = kk; i < k; i++) eigs[i] = eigs[kk - 1];
    return QLOW_OK;
}

/* Number of eigenvalues of the tridiagonal that are < x (Sturm sequence / LDL^T inertia). */
static int32_t sturm_below(const double *a, const double *b, int32_t m, double x)
{
    int32_t count = 0;
    double q = 1.0;
    for (int32_t i = 0; i < m; i++) {
        double off = i > 0 ? b[i - 1] * b[i - 1] : 0.0;
        q = a[i] - x - (i > 0 ? off / q : 0.0);
        if (q == 0.0) q = -1e-300;
        if (q < 0.0) count++;
    }
    return count;
}

void qlow__tridiag_top_eigs(const double *a, const double *b, int32_t m, int32_t k, double *eigs)
{
    double lo = a[0], hi = a[0];
    for (int32_t i = 0; i < m; i++) {
        double r = (i > 0 ? fabs(b[i - 1]) : 0.0) + (i + 1 < m ? fabs(b[i]) : 0.0);
        if (a[i] - r < lo) lo = a[i] - r;
        if (a[i] + r > hi) hi = a[i] + r;
    }
    double pad = 1e-12 * (fabs(lo) + fabs(hi)) + 1e-300;
    lo -= pad;
    hi += pad;
    for (int32_t r = 0; r < k; r++) {
        int32_t idx = m - 1 - r; /* ascending index of the (r+1)-th largest */
        double l = lo, h = hi;
        for (int it = 0; it < 200 && h - l > 1e-15 * (fabs(l) + fabs(h)) + 1e-300; it++) {
            double mid = 0.5 * (l + h);
            if (sturm_below(a, b, m, mid) > idx)
                h = mid;
            else
                l = mid;
        }
        eigs[r] = 0.5 * (l + h);
    }
}

qlow_status qlow__hutchinson(qlow__matvec_fn f, void *user, int64_t n, uint64_t seed, int32_t max_probes,
                             double rel_tol, double *scratch, double *trace, double *std_error, int32_t *used)
{
    double *z = scratch, *w = scratch + n;
    uint64_t st = seed;
    double mean = 0.0, m2 = 0.0;
    int32_t p = 0;
    while (p < max_probes) {
        for (int64_t i = 0; i < n; i += 64) {
            uint64_t bits = qlow__splitmix64(&st);
            for (int64_t j = i; j < n && j < i + 64; j++) z[j] = ((bits >> (j - i)) & 1u) ? 1.0 : -1.0;
        }
        QLOW_TRY(f(user, z, w, n));
        if (!all_finite(w, n)) return QLOW_E_NONFINITE;
        double s = dot(z, w, n);
        p++;
        double delta = s - mean;
        mean += delta / p;
        m2 += delta * (s - mean);
        if (rel_tol > 0.0 && p >= 4) {
            double se = sqrt(m2 / (p - 1) / p);
            if (se <= rel_tol * fabs(mean)) break;
        }
    }
    *trace = mean;
    if (std_error) *std_error = p > 1 ? sqrt(m2 / (p - 1) / p) : 0.0;
    if (used) *used = p;
    return QLOW_OK;
}
