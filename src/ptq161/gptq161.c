/* gptq161.c - GPTQ-style error compensation for the PTQ1.61 parameterization (our extension; neither
 * PTQ1.61 nor BiLLM does this). Columns are visited in permuted order (salient first): each column is
 * rounded with the layer's current scales (4-bit codes, or the nearer of r2_u (b_i +- a_i)), and its
 * error is pushed onto the not-yet-visited columns through the upper Cholesky factor of H^-1
 * (H = X^T X + damp). Errors of a 128-column block reach later blocks through one sgemm. */
#include "ptq161/ptq161.h"

#include <math.h>

/* In-place lower Cholesky of the SPD matrix A [n x n] (row-major double). 0 on success. */
static int cholesky_lower(double *A, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (int64_t k = 0; k < j; k++) d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0.0)) return -1;
        d = sqrt(d);
        A[j * n + j] = d;
        for (int64_t i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            const double *ai = A + i * n, *aj = A + j * n;
            for (int64_t k = 0; k < j; k++) s -= ai[k] * aj[k];
            A[i * n + j] = s / d;
        }
    }
    return 0;
}

/* U with U^T U = H^-1, U upper: with H = L L^T and J the reversal, chol of J H^-1 J... is avoided by the
 * direct route: Hinv = L^-T L^-1, then its lower Cholesky M gives U = M^T. */
static int hinv_upper(double *H, double *tmp, int64_t n)
{
    if (cholesky_lower(H, n)) return -1;
    /* tmp = L^-1 (lower), by forward substitution column by column. */
    memset(tmp, 0, (size_t)n * (size_t)n * sizeof(double));
    for (int64_t j = 0; j < n; j++) {
        tmp[j * n + j] = 1.0 / H[j * n + j];
        for (int64_t i = j + 1; i < n; i++) {
            double s = 0.0;
            for (int64_t k = j; k < i; k++) s += H[i * n + k] * tmp[k * n + j];
            tmp[i * n + j] = -s / H[i * n + i];
        }
    }
    /* H = L^-T L^-1 = sum_k tmp[k,i] tmp[k,j] (k >= max(i, j)). */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) {
            double s = 0.0;
            for (int64_t k = i; k < n; k++) s += tmp[k * n + i] * tmp[k * n + j];
            H[i * n + j] = s;
            H[j * n + i] = s;
        }
    if (cholesky_lower(H, n)) return -1;
    /* U = M^T into tmp (row-major upper). */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) tmp[i * n + j] = j >= i ? H[j * n + i] : 0.0;
    return 0;
}

static float round_column(const qlow__p161 *p, int64_t i, int64_t j, float w)
{
    if (j < p->ns) {
        float c = nearbyintf((w - p->sal_min[i]) / p->sal_scale[i]);
        c = c < 0.0f ? 0.0f : c > 15.0f ? 15.0f : c;
        return p->sal_scale[i] * c + p->sal_min[i];
    }
    const int64_t u = j - p->ns;
    const float a = p->r1[i] * p->alpha[i], b = p->r1[i] * p->mu[i], r2 = p->r2[u];
    float hi = r2 * (b + a), lo = r2 * (b - a);
    return fabsf(w - hi) <= fabsf(w - lo) ? hi : lo;
}

qlow_status qlow__ptq161_gptq(const qlow_ctx *ctx, const qlow_allocator *alloc, qlow__p161 *p, const float *Wp,
                              const qlow__calib *c, double damp, float *Wc)
{
    const int64_t n = p->rows, m = p->cols, T = c->T, BS = 128;
    size_t mm = 0, bytes = 0;
    QLOW_TRY(qlow__matrix_count(m, m, &mm));
    QLOW_TRY(qlow__mul_size(mm, 2 * sizeof(double) + sizeof(float), &bytes));
    size_t errb = (size_t)n * (size_t)BS * sizeof(float);
    QLOW_TRY(qlow__add_size(bytes, errb + 256, &bytes));
    unsigned char *mem = (unsigned char *)qlow__alloc(alloc, bytes, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    double *H = (double *)mem, *U = H + mm;
    float *UT = (float *)(U + mm); /* UT[k * m + j] = U[j, k] for the block update */
    float *Err = UT + mm;          /* n x BS, negated scaled errors of the current block */
    /* H = X^T X in float through sgemm (rows of XT are the columns of X), then damped in double. */
    qlow__sgemm_nt(ctx, m, m, T, c->XT, T, c->XT, T, UT, m, 0);
    double mean_diag = 0.0;
    for (int64_t j = 0; j < m; j++) mean_diag += UT[j * m + j];
    mean_diag /= (double)m;
    if (!(mean_diag > 0.0)) mean_diag = 1.0;
    for (size_t k = 0; k < mm; k++) H[k] = UT[k];
    for (int64_t j = 0; j < m; j++) H[j * m + j] += damp * mean_diag + (H[j * m + j] == 0.0 ? 1.0 : 0.0);
    if (hinv_upper(H, U, m)) {
        qlow__free(alloc, mem);
        return QLOW_E_NUMERIC;
    }
    for (int64_t k = 0; k < m; k++)
        for (int64_t j = 0; j < m; j++) UT[k * m + j] = (float)U[j * m + k];
    memcpy(Wc, Wp, (size_t)n * (size_t)m * sizeof(float));
    for (int64_t j0 = 0; j0 < m; j0 += BS) {
        const int64_t j1 = j0 + BS < m ? j0 + BS : m, bw = j1 - j0;
        int nth = qlow__par_threads(ctx, (double)n * (double)bw * (double)bw);
        (void)nth;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
        for (int64_t i = 0; i < n; i++) {
            float *w = Wc + i * m;
            for (int64_t j = j0; j < j1; j++) {
                float q = round_column(p, i, j, w[j]);
                float e = (w[j] - q) / (float)U[j * m + j];
                w[j] = q;
                for (int64_t k = j + 1; k < j1; k++) w[k] -= e * (float)U[j * m + k];
                Err[i * BS + (j - j0)] = -e;
            }
        }
        if (j1 < m) qlow__sgemm_nt(ctx, n, m - j1, bw, Err, BS, UT + j1 * m + j0, m, Wc + j1, m, 1);
    }
    qlow__free(alloc, mem);
    return QLOW_OK;
}
