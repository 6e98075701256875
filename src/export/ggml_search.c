/* ggml_search.c - weighted (d, m) search on a level grid; see ggml_search.h. */
#include <math.h>
#include <string.h>

#include "export/ggml_search.h"

static float as_used(const qlow__lgrid *g, float v)
{
    return g->fp16 ? qlow_fp16_to_fp32(qlow_fp32_to_fp16(v)) : v;
}

static float value_of(const qlow__lgrid *g, float d, float m, int c)
{
    return g->asym ? d * (float)c + m : d * qlow__lgrid_level(g, c);
}

/* Code nearest to x for a grid step with reciprocal inv (0 when d is 0); neighbours are checked exactly
 * by the caller, so the reciprocal's rounding does not matter. */
static int nearest_uniform(const qlow__lgrid *g, float inv, float m, float x)
{
    int lo = g->asym ? 0 : g->lo, hi = g->hi;
    if (inv == 0.0f) return g->asym ? 0 : -lo; /* every code gives the same value; pick the zero level */
    float t = (x - m) * inv;
    if (t != t) t = 0.0f; /* 0 * inf from a subnormal step */
    t = t < (float)lo ? (float)lo : t > (float)hi ? (float)hi : t;
    return (int)floorf(t + 0.5f) - lo;
}

/* Rounds x[0..n) and returns the weighted error, stopping early (with a value above `bound`) as soon
 * as the partial error exceeds bound. */
static double round_bounded(const qlow__lgrid *g, float d, float m, const float *x, const float *w, int n,
                            uint8_t *idx, float *deq, double bound)
{
    double err = 0.0;
    int ncode = g->tab ? g->ntab : g->hi - (g->asym ? 0 : g->lo) + 1;
    float inv = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++) {
        int best = 0;
        float bv = 0.0f, be = INFINITY;
        if (g->tab) {
            /* bracket x / d among the ascending levels, then compare the neighbours exactly */
            int c0 = 0;
            if (d != 0.0f) {
                float t = x[j] * inv;
                int a = 0, b = ncode - 1;
                while (b - a > 1) {
                    int mid = (a + b) / 2;
                    if (g->tab[mid] <= t) a = mid; else b = mid;
                }
                c0 = a;
            }
            for (int c = c0 - 1; c <= c0 + 2; c++) {
                if (c < 0 || c >= ncode) continue;
                float v = value_of(g, d, m, c), e = fabsf(x[j] - v);
                if (e < be) be = e, bv = v, best = c;
            }
        } else {
            /* the nearest by the reciprocal, then the neighbour towards x checked on exact values */
            int c0 = nearest_uniform(g, inv, m, x[j]);
            best = c0, bv = value_of(g, d, m, c0), be = fabsf(x[j] - bv);
            int c1 = c0 + (((x[j] - bv) > 0.0f) == (d > 0.0f) ? 1 : -1);
            if (d != 0.0f && c1 >= 0 && c1 < ncode) {
                float v = value_of(g, d, m, c1), e = fabsf(x[j] - v);
                if (e < be) be = e, bv = v, best = c1;
            }
        }
        idx[j] = (uint8_t)best;
        if (deq) deq[j] = bv;
        double diff = (double)x[j] - (double)bv;
        err += (w ? (double)w[j] : 1.0) * diff * diff;
        if (err > bound) return err;
    }
    return err;
}

double qlow__lgrid_round(const qlow__lgrid *g, float d, float m, const float *x, const float *w, int n,
                         uint8_t *idx, float *deq)
{
    return round_bounded(g, d, m, x, w, n, idx, deq, INFINITY);
}

double qlow__lgrid_round_bounded(const qlow__lgrid *g, float d, float m, const float *x, const float *w, int n,
                                 uint8_t *idx, double bound)
{
    return round_bounded(g, d, m, x, w, n, idx, NULL, bound);
}

void qlow__lgrid_try(const qlow__lgrid *g, float d, float m, const float *x, const float *w, int n,
                     qlow__lfit *best, uint8_t *best_idx, uint8_t *tmp_idx)
{
    if (!isfinite(d) || !isfinite(m)) return;
    d = as_used(g, d);
    m = g->asym ? as_used(g, m) : 0.0f;
    if (!isfinite(d) || !isfinite(m)) return;
    double e = round_bounded(g, d, m, x, w, n, tmp_idx, NULL, best->err);
    if (e < best->err) {
        best->err = e;
        best->d = d;
        best->m = m;
        memcpy(best_idx, tmp_idx, (size_t)n);
    }
}

/* Weighted least squares for the codes in idx: d (symmetric) or (d, m) (asymmetric). 0 if singular. */
static int refit(const qlow__lgrid *g, const float *x, const float *w, int n, const uint8_t *idx, float *d,
                 float *m)
{
    double sw = 0, sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int j = 0; j < n; j++) {
        double wj = w ? w[j] : 1.0;
        double q = g->asym ? (double)idx[j] : (double)qlow__lgrid_level(g, idx[j]);
        sw += wj, sq += wj * q, sqq += wj * q * q, sx += wj * x[j], sqx += wj * q * x[j];
    }
    if (!g->asym) {
        if (sqq <= 0) return 0;
        *d = (float)(sqx / sqq);
        *m = 0.0f;
        return 1;
    }
    double det = sqq * sw - sq * sq;
    if (!(det > 1e-30 * (sqq * sw)) || det <= 0) return 0;
    *d = (float)((sqx * sw - sq * sx) / det);
    *m = (float)((sqq * sx - sq * sqx) / det);
    return 1;
}

void qlow__lgrid_search(const qlow__lgrid *g, float d0, float m0, const float *x, const float *w, int n,
                        int32_t steps, float min_ratio, qlow__lfit *best, uint8_t *best_idx)
{
    uint8_t tmp[QLOW__GGML_SEARCH_MAX];
    qlow__lgrid_try(g, d0, m0, x, w, n, best, best_idx, tmp);

    float lo = x[0], hi = x[0], xm = x[0];
    for (int j = 1; j < n; j++) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
        xm = fabsf(x[j]) > fabsf(xm) ? x[j] : xm;
    }
    if (g->asym) {
        float range = hi - lo;
        /* exact fits: values already on a grid d * q + lo with q up to k */
        for (int k = 1; k <= g->hi; k++) qlow__lgrid_try(g, range / (float)k, lo, x, w, n, best, best_idx, tmp);
        int s = (int)sqrt((double)steps);
        s = s < 2 ? 2 : s;
        for (int a = 0; a < s; a++)
            for (int b = 0; b < s; b++) {
                float l2 = lo + range * (1.0f - min_ratio) * 0.5f * (float)a / (float)s;
                float h2 = hi - range * (1.0f - min_ratio) * 0.5f * (float)b / (float)s;
                qlow__lgrid_try(g, (h2 - l2) / (float)g->hi, l2, x, w, n, best, best_idx, tmp);
            }
    } else {
        int ncode = g->tab ? g->ntab : g->hi - g->lo + 1;
        for (int c = 0; c < ncode; c++) {
            /* exact fits: values already on a grid d * level reach the largest value at some level */
            float l = qlow__lgrid_level(g, c);
            if (l != 0.0f) qlow__lgrid_try(g, xm / l, 0.0f, x, w, n, best, best_idx, tmp);
        }
        float lmin = qlow__lgrid_level(g, 0), lmax = qlow__lgrid_level(g, ncode - 1);
        for (int k = 0; k < steps; k++) {
            float r = 1.0f - (1.0f - min_ratio) * (float)k / (float)steps;
            if (lmax != 0.0f) qlow__lgrid_try(g, r * xm / lmax, 0.0f, x, w, n, best, best_idx, tmp);
            if (lmin != 0.0f) qlow__lgrid_try(g, r * xm / lmin, 0.0f, x, w, n, best, best_idx, tmp);
        }
    }
    for (int it = 0; it < 4 && best->err > 0; it++) {
        float d, m;
        double before = best->err;
        if (!refit(g, x, w, n, best_idx, &d, &m)) break;
        qlow__lgrid_try(g, d, m, x, w, n, best, best_idx, tmp);
        if (!(best->err < before)) break;
    }
}
