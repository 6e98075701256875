/* actstats.c - streaming per-input-channel activation statistics (max|x|, mean|x|, mean x^2).
 * Sums are double and accumulated in token order so chunked streams reproduce one big call exactly. */
#include "mask/mask.h"

struct qlow_actstats {
    qlow_allocator alloc;
    int64_t cols;
    int64_t tokens;
    float *absmax;  /* cols */
    double *abssum; /* cols */
    double *sqsum;  /* cols */
    float *row;     /* cols scratch for one converted input row */
};

qlow_status qlow_actstats_create(const qlow_allocator *alloc, int64_t cols, qlow_actstats **out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    if (cols < 1) return QLOW_E_SHAPE;
    size_t n = 0, bytes = 0;
    QLOW_TRY(qlow__matrix_count(cols, 1, &n));
    QLOW_TRY(qlow__mul_size(n, 2 * sizeof(double) + 2 * sizeof(float), &bytes));
    QLOW_TRY(qlow__add_size(bytes, sizeof(qlow_actstats) + 64, &bytes));
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    unsigned char *mem = (unsigned char *)qlow__calloc(&a, bytes, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    qlow_actstats *s = (qlow_actstats *)mem;
    unsigned char *p = mem + qlow__align_up(sizeof(qlow_actstats), 64);
    s->alloc = a;
    s->cols = cols;
    s->abssum = (double *)p;
    s->sqsum = s->abssum + n;
    s->absmax = (float *)(s->sqsum + n);
    s->row = s->absmax + n;
    *out = s;
    return QLOW_OK;
}

void qlow_actstats_destroy(qlow_actstats *stats)
{
    if (!stats) return;
    qlow_allocator a = stats->alloc;
    qlow__free(&a, stats);
}

qlow_status qlow_actstats_update(qlow_actstats *stats, const qlow_view *X)
{
    if (!stats || !X) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__view_check(X, QLOW__DT_FLOAT, 2));
    if (X->shape[1] != stats->cols) return QLOW_E_SHAPE;
    QLOW_TRY(qlow__view_check_finite(X));
    const int64_t m = stats->cols;
    for (int64_t t = 0; t < X->shape[0]; t++) {
        qlow__view_read_row_f32(X, t, stats->row);
        for (int64_t c = 0; c < m; c++) {
            float v = stats->row[c];
            float a = v < 0 ? -v : v;
            if (a > stats->absmax[c]) stats->absmax[c] = a;
            stats->abssum[c] += a;
            stats->sqsum[c] += (double)v * v;
        }
    }
    stats->tokens += X->shape[0];
    return QLOW_OK;
}

qlow_status qlow_actstats_merge(qlow_actstats *dst, const qlow_actstats *src)
{
    if (!dst || !src) return QLOW_E_NULL_POINTER;
    if (dst->cols != src->cols) return QLOW_E_SHAPE;
    for (int64_t c = 0; c < dst->cols; c++) {
        if (src->absmax[c] > dst->absmax[c]) dst->absmax[c] = src->absmax[c];
        dst->abssum[c] += src->abssum[c];
        dst->sqsum[c] += src->sqsum[c];
    }
    dst->tokens += src->tokens;
    return QLOW_OK;
}

qlow_status qlow_actstats_get(const qlow_actstats *stats, int32_t which, float *out, int64_t cols,
                              int64_t *tokens)
{
    if (!stats || !out) return QLOW_E_NULL_POINTER;
    if (cols != stats->cols) return QLOW_E_SHAPE;
    if (which < QLOW_ACTSTAT_ABSMAX || which > QLOW_ACTSTAT_SQMEAN) return QLOW_E_INVALID_ARG;
    double inv = stats->tokens > 0 ? 1.0 / (double)stats->tokens : 0.0;
    for (int64_t c = 0; c < cols; c++) {
        if (which == QLOW_ACTSTAT_ABSMAX) out[c] = stats->absmax[c];
        else if (which == QLOW_ACTSTAT_ABSMEAN) out[c] = (float)(stats->abssum[c] * inv);
        else out[c] = (float)(stats->sqsum[c] * inv);
    }
    if (tokens) *tokens = stats->tokens;
    return QLOW_OK;
}

qlow_status qlow_actstats_mask(const qlow_actstats *stats, const qlow_params *params, uint8_t *mask,
                               int64_t *n_salient)
{
    if (!stats || !mask) return QLOW_E_NULL_POINTER;
    if (stats->tokens == 0) return QLOW_E_STATE;
    size_t bytes = 0;
    QLOW_TRY(qlow__mul_size((size_t)stats->cols, sizeof(float), &bytes));
    float *score = (float *)qlow__alloc(&stats->alloc, bytes, 64);
    if (!score) return QLOW_E_NO_MEMORY;
    qlow_status st = qlow_actstats_get(stats, (int32_t)qlow__param_int(params, QLOW_MASK_STATISTIC), score,
                                       stats->cols, NULL);
    if (st == QLOW_OK)
        st = qlow_mask_select(score, stats->cols, qlow__param_float(params, QLOW_MASK_RATIO), mask, n_salient);
    qlow__free(&stats->alloc, score);
    return st;
}

int64_t qlow__actstats_cols(const qlow_actstats *stats) { return stats->cols; }
