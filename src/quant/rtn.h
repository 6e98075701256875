/* rtn.h - uniform round-to-nearest on one group: the grid (fp16 scale and zero), one value's code and
 * dequantized value, min/max and importance-weighted range search. GPTQ and PTQ1.61 build on these.
 *
 * A group is a [nrows x ncols] block of a row-major matrix with leading dimension ld; imp (NULL = all
 * ones) gives the importance of each of its ncols columns, so the group error is
 * sum_ij imp_j * (w_ij - deq(q(w_ij)))^2. */
#ifndef QLOW_QUANT_RTN_H
#define QLOW_QUANT_RTN_H

#include <math.h>

#include "core/internal.h"

/* Build grids only through qlow__rtn_grid_from_range / _from_fp16 / _minmax / _search: the derived
 * fields (inv_scale, tmin, tmax, center) must match scale and bits. */
typedef struct qlow__qgrid {
    float scale;      /* fp32 value of scale_h */
    float zero;       /* fp32 value of zero_h (asymmetric); 0 when symmetric */
    float inv_scale;  /* 1 / scale, or 0 when scale is 0 */
    float tmin, tmax; /* code range relative to `center`: asym 0..2^bits-1, sym -(2^(bits-1)-1)..+ */
    int32_t center;   /* 2^(bits-1) when symmetric, else 0 */
    uint16_t scale_h; /* fp16 bits as stored */
    uint16_t zero_h;
    int32_t bits;     /* 2..8 */
    int32_t symmetric;
} qlow__qgrid;

/* Dequantized value of code q: the single definition every dequantizer and kernel reference follows. */
static inline float qlow__rtn_value(float scale, float zero, int32_t symmetric, int32_t bits, int32_t q)
{
    return symmetric ? scale * (float)(q - (1 << (bits - 1))) : scale * (float)q + zero;
}

/* Round to nearest even for |t| <= 2^22 (t is clamped to a code range first); branch-free and
 * vectorizable without SSE4.1. The add/subtract pair must not be reassociated: never build with
 * -ffast-math (-std=c11 also keeps floating-point contraction off). */
static inline float qlow__round_small(float t)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    return (t + magic) - magic;
}

/* Code of w relative to the grid center, as a float in [tmin, tmax]: round((w - zero) / scale), clamped.
 * Division is replaced by the stored reciprocal; this is the definition (tests allow for it near ties). */
static inline float qlow__rtn_level(const qlow__qgrid *g, float w)
{
    float t = (w - g->zero) * g->inv_scale;
    t = t < g->tmin ? g->tmin : t;
    t = t > g->tmax ? g->tmax : t;
    return qlow__round_small(t);
}

/* Nearest code of w on grid g (clamped to the grid's code range). */
static inline int32_t qlow__rtn_code(const qlow__qgrid *g, float w)
{
    return g->center + (int32_t)qlow__rtn_level(g, w);
}

static inline float qlow__rtn_dequant(const qlow__qgrid *g, int32_t q)
{
    return qlow__rtn_value(g->scale, g->zero, g->symmetric, g->bits, q);
}

/* Smallest and largest element of a group (nrows, ncols >= 1). */
QLOW_HIDDEN void qlow__rtn_group_range(const float *w, int64_t nrows, int64_t ncols, int64_t ld, float *lo,
                                       float *hi);

/* The grid covering [lo, hi] clipped by `ratio` in (0, 1] towards clamp(0, lo, hi) (ratio 1 = plain
 * min/max). Asymmetric: scale = (hi'-lo')/(2^bits-1), zero = lo'. Symmetric: scale = ratio*max(|lo|,
 * |hi|)/(2^(bits-1)-1). Both rounded to fp16. Inputs must satisfy |lo|, |hi| <= QLOW__QUANT_MAX_ABS. */
QLOW_HIDDEN void qlow__rtn_grid_from_range(float lo, float hi, float ratio, int32_t bits, int32_t symmetric,
                                           qlow__qgrid *g);

/* Build a grid from stored fp16 scale/zero bits. */
QLOW_HIDDEN void qlow__rtn_grid_from_fp16(uint16_t scale_h, uint16_t zero_h, int32_t bits, int32_t symmetric,
                                          qlow__qgrid *g);

/* Importance-weighted squared error of quantizing the group on g. */
QLOW_HIDDEN double qlow__rtn_group_error(const qlow__qgrid *g, const float *w, int64_t nrows, int64_t ncols,
                                         int64_t ld, const float *imp);

typedef struct qlow__range_opts {
    int32_t steps;     /* clip ratios tried: 1 - k*(1-min_ratio)/steps, k = 0..steps */
    float min_ratio;   /* in (0, 1] */
    int32_t refine;    /* weighted least-squares refits of (scale, zero) for the chosen codes */
} qlow__range_opts;

/* Min/max grid of a group (what naive RTN uses). */
QLOW_HIDDEN void qlow__rtn_grid_minmax(const float *w, int64_t nrows, int64_t ncols, int64_t ld, int32_t bits,
                                       int32_t symmetric, qlow__qgrid *g);

/* The grid minimizing the weighted error over the clip ratios of `o`; asymmetric grids then move each end
 * alone around the best common ratio (17 ratios per side); then least-squares refits. Ratio 1 is always a
 * candidate and a refit is kept only when it lowers the error, so the result is never worse than
 * qlow__rtn_grid_minmax on the weighted error (fp16 rounding included). Returns that error in *err when
 * err is non-NULL. */
QLOW_HIDDEN void qlow__rtn_grid_search(const float *w, int64_t nrows, int64_t ncols, int64_t ld,
                                       const float *imp, int32_t bits, int32_t symmetric,
                                       const qlow__range_opts *o, qlow__qgrid *g, double *err);

#endif
