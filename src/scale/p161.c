/* p161.c - the PTQ1.61 layer parameterization: 4-bit salient columns, frozen signs and mu, trainable
 * alpha, r1, r2; materialization, gradients (ptq161.md §2.5), Adam and the fp16 fold for storage. */
#include "scale/scale.h"

#include <math.h>

#define P161_ARRAYS 14

qlow_status qlow__p161_create(const qlow_allocator *alloc, int64_t rows, int64_t cols, const uint8_t *mask,
                              qlow__p161 **out)
{
    if (rows < 1 || cols < 1 || cols > INT32_MAX) return QLOW_E_SHAPE;
    int64_t ns = 0;
    for (int64_t j = 0; j < cols; j++) ns += (mask[j >> 3] >> (j & 7)) & 1;
    const int64_t nu = cols - ns;
    size_t rc = 0, sizes[P161_ARRAYS], total = 0;
    QLOW_TRY(qlow__matrix_count(rows, cols, &rc));
    size_t nrow = (size_t)rows * sizeof(float), ncol = (size_t)nu * sizeof(float);
    sizes[0] = sizeof(qlow__p161);
    sizes[1] = (size_t)cols * sizeof(int32_t);
    sizes[2] = QLOW_MASK_BYTES(cols);
    sizes[3] = rc; /* sal_q (rows x ns) and sign (rows x nu) share rows x cols bytes */
    sizes[4] = 2 * nrow;            /* sal_scale, sal_min */
    sizes[5] = 3 * nrow;            /* mu, alpha, r1 */
    sizes[6] = ncol;                /* r2 */
    sizes[7] = 2 * nrow + ncol;     /* gradients */
    sizes[8] = 2 * nrow;            /* m/v alpha */
    sizes[9] = 2 * nrow;            /* m/v r1 */
    sizes[10] = 2 * ncol;           /* m/v r2 */
    sizes[11] = sizes[12] = sizes[13] = 0;
    for (int k = 0; k < P161_ARRAYS; k++) {
        QLOW_TRY(qlow__add_size(total, qlow__align_up(sizes[k], 64), &total));
    }
    unsigned char *mem = (unsigned char *)qlow__calloc(alloc, total, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    unsigned char *ptr[P161_ARRAYS];
    size_t off = 0;
    for (int k = 0; k < P161_ARRAYS; k++) {
        ptr[k] = mem + off;
        off += qlow__align_up(sizes[k], 64);
    }
    qlow__p161 *p = (qlow__p161 *)ptr[0];
    p->alloc = *alloc;
    p->rows = rows;
    p->cols = cols;
    p->ns = ns;
    p->nu = nu;
    p->perm = (int32_t *)ptr[1];
    p->mask = ptr[2];
    memcpy(p->mask, mask, QLOW_MASK_BYTES(cols));
    if ((cols & 7) != 0) p->mask[cols >> 3] &= (uint8_t)((1u << (cols & 7)) - 1);
    p->sal_q = ptr[3];
    p->sign = (int8_t *)(ptr[3] + (size_t)rows * (size_t)ns);
    p->sal_scale = (float *)ptr[4];
    p->sal_min = p->sal_scale + rows;
    p->mu = (float *)ptr[5];
    p->alpha = p->mu + rows;
    p->r1 = p->alpha + rows;
    p->r2 = (float *)ptr[6];
    p->g_alpha = (float *)ptr[7];
    p->g_r1 = p->g_alpha + rows;
    p->g_r2 = p->g_r1 + rows;
    p->m_alpha = (float *)ptr[8];
    p->v_alpha = p->m_alpha + rows;
    p->m_r1 = (float *)ptr[9];
    p->v_r1 = p->m_r1 + rows;
    p->m_r2 = (float *)ptr[10];
    p->v_r2 = p->m_r2 + nu;
    qlow_mask_permutation(p->mask, cols, p->perm, NULL);
    *out = p;
    return QLOW_OK;
}

void qlow__p161_destroy(qlow__p161 *p)
{
    if (!p) return;
    qlow_allocator a = p->alloc;
    qlow__free(&a, p);
}

/* 4-bit asymmetric RTN of one row's salient part (authors' high_quant): range [min(0, lo), max(0, hi)]. */
static void quant_salient_row(qlow__p161 *p, int64_t i, const float *w, int full_row_range)
{
    const int64_t ns = p->ns, range_n = full_row_range ? p->cols : ns;
    float lo = 0.0f, hi = 0.0f;
    for (int64_t j = 0; j < range_n; j++) {
        if (w[j] < lo) lo = w[j];
        if (w[j] > hi) hi = w[j];
    }
    if (lo == 0.0f && hi == 0.0f) {
        lo = -1.0f;
        hi = 1.0f;
    }
    /* Scale and offset are stored as fp16, so the codes are chosen against the rounded values. */
    float delta = qlow_fp16_to_fp32(qlow_fp32_to_fp16((hi - lo) / 15.0f));
    if (!(delta > 0.0f)) delta = 6.103515625e-05f;
    float z = nearbyintf(-lo / delta);
    float minv = qlow_fp16_to_fp32(qlow_fp32_to_fp16(-z * delta));
    uint8_t *q = p->sal_q + i * ns;
    for (int64_t j = 0; j < ns; j++) {
        float c = nearbyintf((w[j] - minv) / delta);
        q[j] = (uint8_t)(c < 0.0f ? 0.0f : c > 15.0f ? 15.0f : c);
    }
    p->sal_scale[i] = delta;
    p->sal_min[i] = minv;
}

void qlow__p161_init(const qlow_ctx *ctx, qlow__p161 *p, const float *Wp, int full_row_range, int alpha_mean_abs)
{
    const int64_t rows = p->rows, cols = p->cols, ns = p->ns, nu = p->nu;
    int nth = qlow__par_threads(ctx, (double)p->rows * (double)p->cols);
    (void)nth;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
    for (int64_t i = 0; i < rows; i++) {
        const float *w = Wp + i * cols;
        if (ns > 0) quant_salient_row(p, i, w, full_row_range);
        double sum = 0.0;
        for (int64_t u = 0; u < nu; u++) sum += w[ns + u];
        float mu = nu > 0 ? (float)(sum / (double)nu) : 0.0f;
        double asum = 0.0;
        int8_t *s = p->sign + i * nu;
        for (int64_t u = 0; u < nu; u++) {
            float d = w[ns + u] - mu;
            s[u] = d >= 0.0f ? 1 : -1;
            asum += fabs(alpha_mean_abs ? (double)w[ns + u] : (double)d);
        }
        p->mu[i] = mu;
        p->alpha[i] = nu > 0 ? (float)(asum / (double)nu) : 0.0f;
        p->r1[i] = 1.0f;
    }
    for (int64_t u = 0; u < nu; u++) p->r2[u] = 1.0f;
    memset(p->g_alpha, 0, (size_t)(2 * rows + nu) * sizeof(float));
    memset(p->m_alpha, 0, (size_t)(2 * rows) * sizeof(float));
    memset(p->m_r1, 0, (size_t)(2 * rows) * sizeof(float));
    memset(p->m_r2, 0, (size_t)(2 * nu) * sizeof(float));
    p->steps = 0;
}

void qlow__p161_resign(const qlow_ctx *ctx, qlow__p161 *p, const float *Wp)
{
    const int64_t cols = p->cols, ns = p->ns, nu = p->nu;
    int nth = qlow__par_threads(ctx, (double)p->rows * (double)p->cols);
    (void)nth;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
    for (int64_t i = 0; i < p->rows; i++) {
        int8_t *s = p->sign + i * nu;
        for (int64_t u = 0; u < nu; u++) s[u] = Wp[i * cols + ns + u] - p->mu[i] >= 0.0f ? 1 : -1;
    }
}

void qlow__p161_materialize(const qlow_ctx *ctx, const qlow__p161 *p, float *out, int permuted)
{
    const int64_t cols = p->cols, ns = p->ns, nu = p->nu;
    int nth = qlow__par_threads(ctx, (double)p->rows * (double)p->cols);
    (void)nth;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
    for (int64_t i = 0; i < p->rows; i++) {
        float *o = out + i * cols;
        const uint8_t *q = p->sal_q + i * ns;
        const int8_t *s = p->sign + i * nu;
        const float sc = p->sal_scale[i], mn = p->sal_min[i];
        const float a = p->r1[i] * p->alpha[i], b = p->r1[i] * p->mu[i];
        for (int64_t j = 0; j < ns; j++) o[permuted ? j : p->perm[j]] = sc * (float)q[j] + mn;
        for (int64_t u = 0; u < nu; u++)
            o[permuted ? ns + u : p->perm[ns + u]] = p->r2[u] * (a * (float)s[u] + b);
    }
}

void qlow__p161_accumulate_grad(const qlow_ctx *ctx, qlow__p161 *p, const float *G, int64_t ldg, int permuted)
{
    const int64_t rows = p->rows, ns = p->ns, nu = p->nu;
    int nth = qlow__par_threads(ctx, (double)p->rows * (double)p->cols);
    (void)nth;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
    for (int64_t i = 0; i < rows; i++) {
        const float *g = G + i * ldg;
        const int8_t *s = p->sign + i * nu;
        double ga = 0.0, gr = 0.0;
        for (int64_t u = 0; u < nu; u++) {
            double gu = (double)g[permuted ? ns + u : p->perm[ns + u]] * p->r2[u];
            ga += gu * s[u];
            gr += gu * ((double)p->alpha[i] * s[u] + p->mu[i]);
        }
        p->g_alpha[i] += (float)(ga * p->r1[i]);
        p->g_r1[i] += (float)gr;
    }
    /* Column sums run over rows in a fixed order inside one thread per column block. */
    const int64_t CB = 64, blocks = (nu + CB - 1) / CB;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t u0 = b * CB, u1 = u0 + CB < nu ? u0 + CB : nu;
        double acc[64];
        for (int64_t u = u0; u < u1; u++) acc[u - u0] = 0.0;
        for (int64_t i = 0; i < rows; i++) {
            const float *g = G + i * ldg;
            const int8_t *s = p->sign + i * nu;
            const double a = (double)p->r1[i] * p->alpha[i], c = (double)p->r1[i] * p->mu[i];
            for (int64_t u = u0; u < u1; u++)
                acc[u - u0] += (double)g[permuted ? ns + u : p->perm[ns + u]] * (a * s[u] + c);
        }
        for (int64_t u = u0; u < u1; u++) p->g_r2[u] += (float)acc[u - u0];
    }
}

static void adam_update(float *x, float *g, float *m, float *v, int64_t n, double lr, const qlow__adam_hp *hp,
                        double bc1, double bc2)
{
    for (int64_t k = 0; k < n; k++) {
        double gk = g[k];
        double mk = hp->beta1 * m[k] + (1.0 - hp->beta1) * gk;
        double vk = hp->beta2 * v[k] + (1.0 - hp->beta2) * gk * gk;
        m[k] = (float)mk;
        v[k] = (float)vk;
        double xk = x[k] * (1.0 - lr * hp->weight_decay);
        xk -= lr * (mk / bc1) / (sqrt(vk / bc2) + hp->eps);
        x[k] = (float)xk;
        g[k] = 0.0f;
    }
}

void qlow__p161_adam_step(qlow__p161 *p, const qlow__adam_hp *hp)
{
    p->steps++;
    double bc1 = 1.0 - pow(hp->beta1, (double)p->steps), bc2 = 1.0 - pow(hp->beta2, (double)p->steps);
    if (bc1 <= 0.0) bc1 = 1.0;
    if (bc2 <= 0.0) bc2 = 1.0;
    adam_update(p->alpha, p->g_alpha, p->m_alpha, p->v_alpha, p->rows, hp->lr_alpha, hp, bc1, bc2);
    adam_update(p->r1, p->g_r1, p->m_r1, p->v_r1, p->rows, hp->lr_r, hp, bc1, bc2);
    adam_update(p->r2, p->g_r2, p->m_r2, p->v_r2, p->nu, hp->lr_r, hp, bc1, bc2);
}

static float to_fp16(float x) { return qlow_fp16_to_fp32(qlow_fp32_to_fp16(x)); }

void qlow__p161_finalize(qlow__p161 *p)
{
    for (int64_t i = 0; i < p->rows; i++) {
        p->alpha[i] = to_fp16(p->r1[i] * p->alpha[i]);
        p->mu[i] = to_fp16(p->r1[i] * p->mu[i]);
        p->r1[i] = 1.0f;
    }
    for (int64_t u = 0; u < p->nu; u++) p->r2[u] = to_fp16(p->r2[u]);
}

int qlow__p161_check_finite(const qlow__p161 *p)
{
    for (int64_t i = 0; i < p->rows; i++)
        if (!qlow__is_finite_f32(p->alpha[i]) || !qlow__is_finite_f32(p->mu[i]) || !qlow__is_finite_f32(p->r1[i]) ||
            !qlow__is_finite_f32(p->sal_scale[i]) || !qlow__is_finite_f32(p->sal_min[i]))
            return 0;
    for (int64_t u = 0; u < p->nu; u++)
        if (!qlow__is_finite_f32(p->r2[u])) return 0;
    return 1;
}

void qlow__p161_save(const qlow__p161 *p, float *buf)
{
    memcpy(buf, p->alpha, (size_t)p->rows * sizeof(float));
    memcpy(buf + p->rows, p->r1, (size_t)p->rows * sizeof(float));
    memcpy(buf + 2 * p->rows, p->r2, (size_t)p->nu * sizeof(float));
}

void qlow__p161_load(qlow__p161 *p, const float *buf)
{
    memcpy(p->alpha, buf, (size_t)p->rows * sizeof(float));
    memcpy(p->r1, buf + p->rows, (size_t)p->rows * sizeof(float));
    memcpy(p->r2, buf + 2 * p->rows, (size_t)p->nu * sizeof(float));
}

void qlow__adam_hp_from_params(const qlow_params *params, qlow__adam_hp *hp)
{
    hp->lr_alpha = qlow__param_float(params, QLOW_SCALE_LR_ALPHA);
    hp->lr_r = qlow__param_float(params, QLOW_SCALE_LR_R);
    hp->beta1 = qlow__param_float(params, QLOW_SCALE_BETA1);
    hp->beta2 = qlow__param_float(params, QLOW_SCALE_BETA2);
    hp->eps = qlow__param_float(params, QLOW_SCALE_EPS);
    hp->weight_decay = qlow__param_float(params, QLOW_SCALE_WEIGHT_DECAY);
}
