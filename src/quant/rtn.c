/* rtn.c - one group's RTN grid: min/max, clip-ratio search on the weighted error, least-squares refit. */
#include "quant/rtn.h"

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
}

void qlow__rtn_grid_from_range(float lo, float hi, float ratio, int32_t bits, int32_t symmetric, qlow__qgrid *g)
{
    if (symmetric) {
        float amax = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        float s = ratio * amax / (float)((1 << (bits - 1)) - 1);
        qlow__rtn_grid_from_fp16(qlow_fp32_to_fp16(s), 0, bits, 1, g);
        return;
    }
    /* Clip towards zero when the group straddles it, else towards the end nearest to zero, so that
     * one-signed groups are clipped rather than stretched. */
    float c = lo > 0.0f ? lo : (hi < 0.0f ? hi : 0.0f);
    float l = c + ratio * (lo - c), h = c + ratio * (hi - c);
    float s = (h - l) / (float)((1 << bits) - 1);
    qlow__rtn_grid_from_fp16(qlow_fp32_to_fp16(s), qlow_fp32_to_fp16(l), bits, 0, g);
}

double qlow__rtn_group_error(const qlow__qgrid *g, const float *w, int64_t nrows, int64_t ncols, int64_t ld,
                             const float *imp)
{
    double total = 0.0;
    for (int64_t i = 0; i < nrows; i++) {
        const float *r = w + i * ld;
        for (int64_t j = 0; j < ncols; j++) {
            double d = (double)r[j] - (double)qlow__rtn_dequant(g, qlow__rtn_code(g, r[j]));
            total += (imp ? (double)imp[j] : 1.0) * d * d;
        }
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

void qlow__rtn_grid_search(const float *w, int64_t nrows, int64_t ncols, int64_t ld, const float *imp,
                           int32_t bits, int32_t symmetric, const qlow__range_opts *o, qlow__qgrid *g,
                           double *err)
{
    float lo, hi;
    qlow__rtn_group_range(w, nrows, ncols, ld, &lo, &hi);
    qlow__qgrid best, cand;
    qlow__rtn_grid_from_range(lo, hi, 1.0f, bits, symmetric, &best);
    double best_err = qlow__rtn_group_error(&best, w, nrows, ncols, ld, imp);
    int32_t steps = o->steps > 0 ? o->steps : 0;
    for (int32_t k = 1; k <= steps && best_err > 0.0; k++) {
        float ratio = 1.0f - (float)k * (1.0f - o->min_ratio) / (float)steps;
        if (!(ratio > 0.0f)) break;
        qlow__rtn_grid_from_range(lo, hi, ratio, bits, symmetric, &cand);
        double e = qlow__rtn_group_error(&cand, w, nrows, ncols, ld, imp);
        if (e < best_err) {
            best_err = e;
            best = cand;
        }
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
