/* rtn.c - one group's RTN grid: min/max, clip-ratio search on the weighted error, least-squares refit. */
#include "quant/rtn.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void qlow__rtn_group_range(const float *w, int64_t nrows, int64_t ncols, int64_t ld, float *lo, float *hi)
{
    float a = w[0], b = w[0];
    for (int64_t i = 0; i < nrows; i++) {
        const float *r = w + i * ld;
        for (int64_t j = 0; j < ncols; j++) {
            if (r[j] < a) a = r[j];
            if (r[j] > b) b = r[j];
        }
    }
    *lo = a;
    *hi = b;
}

void qlow__rtn_grid_from_fp16(uint16_t scale_h, uint16_t zero_h, int32_t bits, int32_t symmetric,
                              qlow__qgrid *g)
{
    g->bits = bits;
    g->symmetric = symmetric;
    g->scale_h = scale_h;
    g->zero_h = symmetric ? 0 : zero_h;
    g->scale = qlow_fp16_to_fp32(scale_h);
    g->zero = symmetric ? 0.0f : qlow_fp16_to_fp32(zero_h);
    g->inv_scale = g->scale > 0.0f ? 1.0f / g->scale : 0.0f;
    g->center = symmetric ? 1 << (bits - 1) : 0;
    g->tmin = symmetric ? (float)(1 - (1 << (bits - 1))) : 0.0f;
    g->tmax = symmetric ? (float)((1 << (bits - 1)) - 1) : (float)((1 << bits) - 1);
}

/* Asymmetric grid over [lo, hi] with each end clipped by its own ratio towards clamp(0, lo, hi): zero when
 * the group straddles it, else the end nearest to zero, so one-signed groups are clipped, not stretched. */
static void grid_two_sided(float lo, float hi, float ratio_lo, float ratio_hi, int32_t bits, qlow__qgrid *g)
{
    float c = lo > 0.0f ? lo : (hi < 0.0f ? hi : 0.0f);
    float l = c + ratio_lo * (lo - c), h = c + ratio_hi * (hi - c);
    float s = (h - l) / (float)((1 << bits) - 1);
    qlow__rtn_grid_from_fp16(qlow_fp32_to_fp16(s), qlow_fp32_to_fp16(l), bits, 0, g);
}

void qlow__rtn_grid_from_range(float lo, float hi, float ratio, int32_t bits, int32_t symmetric, qlow__qgrid *g)
{
    if (symmetric) {
        float amax = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        float s = ratio * amax / (float)((1 << (bits - 1)) - 1);
        qlow__rtn_grid_from_fp16(qlow_fp32_to_fp16(s), 0, bits, 1, g);
        return;
    }
    grid_two_sided(lo, hi, ratio, ratio, bits, g);
}

double qlow__rtn_group_error(const qlow__qgrid *g, const float *w, int64_t nrows, int64_t ncols, int64_t ld,
                             const float *imp)
{
    /* value = scale * level + zero for both kinds (symmetric grids have zero = 0 and level = q - center),
     * bit-identical to qlow__rtn_dequant(g, qlow__rtn_code(g, w)). */
    const float s = g->scale, z = g->zero;
    double total = 0.0;
    for (int64_t i = 0; i < nrows; i++) {
        const float *r = w + i * ld;
        double row = 0.0;
        if (imp) {
            for (int64_t j = 0; j < ncols; j++) {
                const double d = (double)r[j] - (double)(s * qlow__rtn_level(g, r[j]) + z);
                row += (double)imp[j] * d * d;
            }
        } else {
            for (int64_t j = 0; j < ncols; j++) {
                const double d = (double)r[j] - (double)(s * qlow__rtn_level(g, r[j]) + z);
                row += d * d;
            }
        }
        total += row;
    }
    return total;
}

void qlow__rtn_grid_minmax(const float *w, int64_t nrows, int64_t ncols, int64_t ld, int32_t bits,
                           int32_t symmetric, qlow__qgrid *g)
{
    float lo, hi;
    qlow__rtn_group_range(w, nrows, ncols, ld, &lo, &hi);
    qlow__rtn_grid_from_range(lo, hi, 1.0f, bits, symmetric, g);
}

/* Weighted least-squares (scale, zero) for the codes that grid g assigns; 0 if degenerate. */
static int refit(const qlow__qgrid *g, const float *w, int64_t nrows, int64_t ncols, int64_t ld,
                 const float *imp, qlow__qgrid *out)
{
    double sc = 0, sq = 0, sqq = 0, sw = 0, sqw = 0;
    const int32_t center = g->symmetric ? (1 << (g->bits - 1)) : 0;
    for (int64_t i = 0; i < nrows; i++) {
        const float *r = w + i * ld;
        for (int64_t j = 0; j < ncols; j++) {
            double c = imp ? (double)imp[j] : 1.0;
            double q = (double)(qlow__rtn_code(g, r[j]) - center);
            sc += c;
            sq += c * q;
            sqq += c * q * q;
            sw += c * r[j];
            sqw += c * q * r[j];
        }
    }
    double s, z = 0.0;
    if (g->symmetric) {
        if (!(sqq > 0.0)) return 0;
        s = sqw / sqq;
    } else {
        double det = sqq * sc - sq * sq;
        if (!(det > 1e-12 * sqq * sc)) return 0;
        s = (sqw * sc - sq * sw) / det;
        z = (sqq * sw - sq * sqw) / det;
    }
    if (!(s > 0.0) || s > 65504.0 || fabs(z) > 65504.0) return 0;
    qlow__rtn_grid_from_fp16(qlow_fp32_to_fp16((float)s), qlow_fp32_to_fp16((float)z), g->bits, g->symmetric,
                             out);
    return 1;
}

/* The search's estimate of the group error: float arithmetic over blocks of 64 columns (4-wide SSE2 on
 * x86-64), each block added into a double. Only used to rank candidates; the final choice is checked with
 * the exact qlow__rtn_group_error. */
static double estimate_row(const qlow__qgrid *g, const float *r, int64_t n, const float *imp)
{
    const float s = g->scale, z = g->zero;
    double total = 0.0;
    int64_t j = 0;
#if defined(__SSE2__)
    const __m128 vs = _mm_set1_ps(s), vz = _mm_set1_ps(z), vinv = _mm_set1_ps(g->inv_scale);
    const __m128 vlo = _mm_set1_ps(g->tmin), vhi = _mm_set1_ps(g->tmax), magic = _mm_set1_ps(12582912.0f);
    while (j + 8 <= n) {
        __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
        const int64_t end = j + 64 <= n ? j + 64 : j + (n - j) / 8 * 8;
        for (; j < end; j += 8) {
            __m128 x0 = _mm_loadu_ps(r + j), x1 = _mm_loadu_ps(r + j + 4);
            __m128 t0 = _mm_min_ps(_mm_max_ps(_mm_mul_ps(_mm_sub_ps(x0, vz), vinv), vlo), vhi);
            __m128 t1 = _mm_min_ps(_mm_max_ps(_mm_mul_ps(_mm_sub_ps(x1, vz), vinv), vlo), vhi);
            t0 = _mm_sub_ps(_mm_add_ps(t0, magic), magic);
            t1 = _mm_sub_ps(_mm_add_ps(t1, magic), magic);
            __m128 d0 = _mm_sub_ps(x0, _mm_add_ps(_mm_mul_ps(vs, t0), vz));
            __m128 d1 = _mm_sub_ps(x1, _mm_add_ps(_mm_mul_ps(vs, t1), vz));
            d0 = _mm_mul_ps(d0, d0);
            d1 = _mm_mul_ps(d1, d1);
            if (imp) {
                d0 = _mm_mul_ps(d0, _mm_loadu_ps(imp + j));
                d1 = _mm_mul_ps(d1, _mm_loadu_ps(imp + j + 4));
            }
            acc0 = _mm_add_ps(acc0, d0);
            acc1 = _mm_add_ps(acc1, d1);
        }
        float lanes[4];
        _mm_storeu_ps(lanes, _mm_add_ps(acc0, acc1));
        total += (double)((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]));
    }
#endif
    for (; j < n; j++) {
        const float d = r[j] - (s * qlow__rtn_level(g, r[j]) + z);
        total += (double)((imp ? imp[j] : 1.0f) * (d * d));
    }
    return total;
}

static double estimate_error(const qlow__qgrid *g, const float *w, int64_t nrows, int64_t ncols, int64_t ld,
                             const float *imp)
{
    double total = 0.0;
    for (int64_t i = 0; i < nrows; i++) total += estimate_row(g, w + i * ld, ncols, imp);
    return total;
}

void qlow__rtn_grid_search(const float *w, int64_t nrows, int64_t ncols, int64_t ld, const float *imp,
                           int32_t bits, int32_t symmetric, const qlow__range_opts *o, qlow__qgrid *g,
                           double *err)
{
    float lo, hi;
    qlow__rtn_group_range(w, nrows, ncols, ld, &lo, &hi);
    qlow__qgrid minmax, best, cand;
    qlow__rtn_grid_from_range(lo, hi, 1.0f, bits, symmetric, &minmax);
    best = minmax;
    double best_est = estimate_error(&best, w, nrows, ncols, ld, imp);
    float best_ratio = 1.0f;
    int32_t steps = o->steps > 0 ? o->steps : 0;
    for (int32_t k = 1; k <= steps && best_est > 0.0; k++) {
        float ratio = 1.0f - (float)k * (1.0f - o->min_ratio) / (float)steps;
        if (!(ratio > 0.0f)) break;
        qlow__rtn_grid_from_range(lo, hi, ratio, bits, symmetric, &cand);
        double e = estimate_error(&cand, w, nrows, ncols, ld, imp);
        if (e < best_est) {
            best_est = e;
            best = cand;
            best_ratio = ratio;
        }
    }
    /* Asymmetric grids: then move each end alone around the best common ratio (skewed groups). */
    if (!symmetric && steps > 0 && best_est > 0.0) {
        const float step = (1.0f - o->min_ratio) / (float)steps * 2.0f;
        float r_lo = best_ratio, r_hi = best_ratio;
        for (int side = 0; side < 2; side++)
            for (int32_t k = -8; k <= 8; k++) {
                float r = best_ratio + (float)k * step;
                if (k == 0 || r < o->min_ratio || r > 1.0f) continue;
                grid_two_sided(lo, hi, side == 0 ? r : r_lo, side == 0 ? r_hi : r, bits, &cand);
                double e = estimate_error(&cand, w, nrows, ncols, ld, imp);
                if (e < best_est) {
                    best_est = e;
                    best = cand;
                    if (side == 0) r_lo = r;
                    else r_hi = r;
                }
            }
    }
    /* From here on errors are exact; min/max is the floor of what is returned. */
    const double minmax_err = qlow__rtn_group_error(&minmax, w, nrows, ncols, ld, imp);
    double best_err = qlow__rtn_group_error(&best, w, nrows, ncols, ld, imp);
    if (!(best_err < minmax_err)) {
        best = minmax;
        best_err = minmax_err;
    }
    for (int32_t it = 0; it < o->refine && best_err > 0.0; it++) {
        if (!refit(&best, w, nrows, ncols, ld, imp, &cand)) break;
        double e = qlow__rtn_group_error(&cand, w, nrows, ncols, ld, imp);
        if (!(e < best_err)) break;
        best_err = e;
        best = cand;
    }
    *g = best;
    if (err) *err = best_err;
}
