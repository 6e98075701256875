/* gptq161.c - GPTQ-style error compensation for the PTQ1.61 parameterization (our extension; neither
 * PTQ1.61 nor BiLLM does this). Columns are visited in permuted order (salient first): each column is
 * rounded with the layer's current scales (4-bit codes, or the nearer of r2_u (b_i +- a_i)), and its
 * error is pushed onto the not-yet-visited columns through the upper Cholesky factor of H^-1
 * (H = X^T X + damp, factored by the Hessian code's qlow__inverse_upper_factor). Errors of a 128-column
 * block reach later blocks through one sgemm. */
#include "hessian/dense.h"
#include "ptq161/ptq161.h"

#include <math.h>

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
    size_t mm = 0, bytes = 0, scratch = qlow__spd_scratch_doubles(m);
    QLOW_TRY(qlow__matrix_count(m, m, &mm));
    QLOW_TRY(qlow__mul_size(mm, sizeof(double) + sizeof(float), &bytes));
    const size_t errb = (size_t)n * (size_t)BS * sizeof(float);
    QLOW_TRY(qlow__add_size(bytes, errb + 256, &bytes));
    QLOW_TRY(qlow__add_size(bytes, scratch * sizeof(double), &bytes));
    unsigned char *mem = (unsigned char *)qlow__alloc(alloc, bytes, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    double *H = (double *)mem, *sc = H + mm;
    float *Uf = (float *)(sc + scratch); /* H in float, then the factor U */
    float *Err = Uf + mm;                /* n x BS, negated scaled errors of the current block */
    qlow__sgemm_nn(ctx, m, m, T, c->XT, T, c->X, m, Uf, m, 0);
    double mean_diag = 0.0;
    for (int64_t j = 0; j < m; j++) mean_diag += Uf[j * m + j];
    mean_diag /= (double)m;
    if (!(mean_diag > 0.0)) mean_diag = 1.0;
    for (size_t k = 0; k < mm; k++) H[k] = Uf[k];
    for (int64_t j = 0; j < m; j++) H[j * m + j] += damp * mean_diag + (H[j * m + j] == 0.0 ? 1.0 : 0.0);
    qlow_status st = qlow__inverse_upper_factor(qlow__ctx_isa(ctx), qlow__ctx_threads(ctx), H, m, sc);
    if (st != QLOW_OK) {
        qlow__free(alloc, mem);
        return st;
    }
    for (size_t k = 0; k < mm; k++) Uf[k] = (float)H[k];
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
                float e = (w[j] - q) / Uf[j * m + j];
                w[j] = q;
                for (int64_t k = j + 1; k < j1; k++) w[k] -= e * Uf[j * m + k];
                Err[i * BS + (j - j0)] = -e;
            }
        }
        if (j1 < m) qlow__sgemm_nn(ctx, n, m - j1, bw, Err, BS, Uf + j0 * m + j1, m, Wc + j1, m, 1);
    }
    qlow__free(alloc, mem);
    return QLOW_OK;
}
