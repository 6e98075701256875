/* ggml_search.h - the grid search shared by the 32-blocks, the ternary blocks and the k-quant
 * sub-blocks: levels value = d * level (symmetric) or d * q + m (asymmetric), each value rounded to its
 * best level exactly for a given (d, m), and the (d, m) chosen from candidates by weighted error. */
#ifndef QLOW_EXPORT_GGML_SEARCH_H
#define QLOW_EXPORT_GGML_SEARCH_H

#include "core/internal.h"

#define QLOW__GGML_SEARCH_MAX 256 /* largest n a search handles */

typedef struct qlow__lgrid {
    int32_t asym;     /* 1: value = d * q + m, q in 0..hi; 0: value = d * level */
    int32_t lo, hi;   /* integer levels lo..hi (lo = 0 when asym) when tab is NULL */
    const float *tab; /* else ntab ascending non-uniform levels (index = code) */
    int32_t ntab;
    int32_t fp16;     /* 1: d and m are rounded to fp16 before use; 0: used as given */
} qlow__lgrid;

/* Codes idx[n] (0-based index into the levels) minimizing each weighted term for fixed (d, m), the
 * dequantized values (deq may be NULL) and the weighted error. */
QLOW_HIDDEN double qlow__lgrid_round(const qlow__lgrid *g, float d, float m, const float *x, const float *w,
                                     int n, uint8_t *idx, float *deq);

/* qlow__lgrid_round without deq that may stop early: once the partial error exceeds `bound` it returns
 * a value above bound (the codes are then incomplete). */
QLOW_HIDDEN double qlow__lgrid_round_bounded(const qlow__lgrid *g, float d, float m, const float *x,
                                             const float *w, int n, uint8_t *idx, double bound);

/* Level value of code c. */
static inline float qlow__lgrid_level(const qlow__lgrid *g, int c)
{
    return g->tab ? g->tab[c] : (float)(g->lo + c);
}

typedef struct qlow__lfit {
    float d, m;  /* as used (fp16-exact when g->fp16) */
    double err;
} qlow__lfit;

/* Try (d, m): rounds to fp16 when the grid says so, skips non-finite values, and keeps it in *best
 * (with its codes in best_idx) when its error is strictly lower. */
QLOW_HIDDEN void qlow__lgrid_try(const qlow__lgrid *g, float d, float m, const float *x, const float *w, int n,
                                 qlow__lfit *best, uint8_t *best_idx, uint8_t *tmp_idx);

/* Full search over: the given seed (d0, m0) first (ggml's rule), exact fits to the extreme value(s),
 * `steps` clipped ranges, then up to 4 weighted least-squares refits. best must be initialized by the
 * caller (err = HUGE_VAL). */
QLOW_HIDDEN void qlow__lgrid_search(const qlow__lgrid *g, float d0, float m0, const float *x, const float *w,
                                    int n, int32_t steps, float min_ratio, qlow__lfit *best, uint8_t *best_idx);

#endif
