/* query.c - what a filled accumulator tells: diagonal (importance vector), column means, trace, the
 * damped dense matrix and its Cholesky factors. All normalized as GPTQ's H = 2/N sum x x^T. */
#include "hessian.h"
#include "dense.h"

static qlow_status need_tokens(const qlow_hessian *h)
{
    QLOW_TRY(qlow__hessian_check(h));
    return h->tokens > 0 ? QLOW_OK : QLOW_E_STATE;
}

qlow_status qlow_hessian_diag(const qlow_hessian *h, float *out, int64_t count)
{
    QLOW_TRY(need_tokens(h));
    if (!out) return QLOW_E_NULL_POINTER;
    if (count < h->cols) return QLOW_E_BUFFER_TOO_SMALL;
    double scale = 2.0 / (double)h->tokens;
    for (int64_t j = 0; j < h->cols; j++) out[j] = (float)(scale * qlow__hessian_sumsq(h, j));
    return QLOW_OK;
}

qlow_status qlow_hessian_col_mean(const qlow_hessian *h, float *out, int64_t count)
{
    QLOW_TRY(need_tokens(h));
    if (!out) return QLOW_E_NULL_POINTER;
    if (count < h->cols) return QLOW_E_BUFFER_TOO_SMALL;
    for (int64_t j = 0; j < h->cols; j++) out[j] = (float)(h->colsum[j] / (double)h->tokens);
    return QLOW_OK;
}

qlow_status qlow_hessian_trace(const qlow_hessian *h, double *trace)
{
    QLOW_TRY(need_tokens(h));
    if (!trace) return QLOW_E_NULL_POINTER;
    double s = 0.0;
    for (int64_t j = 0; j < h->cols; j++) s += qlow__hessian_sumsq(h, j);
    *trace = 2.0 * s / (double)h->tokens;
    return QLOW_OK;
}

void qlow__hessian_dense(const qlow_hessian *h, double *out)
{
    int64_t d = h->cols;
    double scale = h->tokens > 0 ? 2.0 / (double)h->tokens : 0.0;
    for (int64_t j = 0; j < d; j++)
        for (int64_t i = 0; i <= j; i++) {
            double v = scale * h->S[j * d + i];
            out[j * d + i] = v;
            out[i * d + j] = v;
        }
}

qlow_status qlow__hessian_condition(double *H, int64_t n, double damp, uint8_t *dead)
{
    double mean = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double v = H[j * n + j];
        if (!(v == v) || v - v != 0.0) return QLOW_E_NONFINITE;
        int is_dead = v == 0.0;
        if (dead) dead[j] = (uint8_t)is_dead;
        if (is_dead) H[j * n + j] = 1.0;
        mean += H[j * n + j];
    }
    mean /= (double)n;
    double lambda = damp * mean;
    for (int64_t j = 0; j < n; j++) H[j * n + j] += lambda;
    return QLOW_OK;
}

static qlow_status check_out(const qlow_hessian *h, const double *out, int64_t count)
{
    QLOW_TRY(need_tokens(h));
    if (h->mode != QLOW_HESSIAN_FULL) return QLOW_E_STATE;
    if (!out) return QLOW_E_NULL_POINTER;
    size_t need;
    QLOW_TRY(qlow__matrix_count(h->cols, h->cols, &need));
    if (count < 0 || (uint64_t)count < (uint64_t)need) return QLOW_E_BUFFER_TOO_SMALL;
    return QLOW_OK;
}

qlow_status qlow_hessian_matrix(const qlow_hessian *h, double damp, double *out, int64_t count)
{
    QLOW_TRY(check_out(h, out, count));
    if (!(damp >= 0.0) || damp > 1e6) return QLOW_E_INVALID_ARG;
    qlow__hessian_dense(h, out);
    return qlow__hessian_condition(out, h->cols, damp, NULL);
}

qlow_status qlow_hessian_cholesky_workspace_size(int64_t cols, size_t *bytes)
{
    if (!bytes) return QLOW_E_NULL_POINTER;
    size_t dd, total;
    QLOW_TRY(qlow__matrix_count(cols, cols, &dd));
    QLOW_TRY(qlow__add_size(dd, qlow__spd_scratch_doubles(cols), &total));
    QLOW_TRY(qlow__mul_size(total, sizeof(double), &total));
    *bytes = total + 64;
    return QLOW_OK;
}

qlow_status qlow_hessian_cholesky_ws(qlow_ctx *ctx, const qlow_hessian *h, int32_t which, double damp, double *out,
                                     int64_t count, void *workspace, size_t workspace_bytes)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(check_out(h, out, count));
    if (which != QLOW_HESSIAN_FACTOR_H && which != QLOW_HESSIAN_FACTOR_HINV) return QLOW_E_INVALID_ARG;
    if (!(damp >= 0.0) || damp > 1e6) return QLOW_E_INVALID_ARG;
    if (!workspace) return QLOW_E_NULL_POINTER;
    size_t need;
    QLOW_TRY(qlow_hessian_cholesky_workspace_size(h->cols, &need));
    if (workspace_bytes < need) return QLOW_E_WORKSPACE_TOO_SMALL;
    qlow__wksp w;
    qlow__wksp_init(&w, workspace, workspace_bytes);
    int64_t n = h->cols;
    double *A = (double *)qlow__wksp_take(&w, (size_t)n * (size_t)n * sizeof(double));
    double *scratch = (double *)qlow__wksp_take(&w, qlow__spd_scratch_doubles(n) * sizeof(double));
    if (!A || !scratch) return QLOW_E_WORKSPACE_TOO_SMALL;
    qlow__hessian_dense(h, A);
    QLOW_TRY(qlow__hessian_condition(A, n, damp, NULL));
    int isa = qlow__ctx_isa(ctx), threads = qlow__ctx_threads(ctx);
    if (which == QLOW_HESSIAN_FACTOR_H) {
        QLOW_TRY(qlow__cholesky_lower(isa, threads, A, n, scratch));
        qlow__transpose_sq(A, n);
    } else {
        QLOW_TRY(qlow__inverse_upper_factor(isa, threads, A, n, scratch));
    }
    memcpy(out, A, (size_t)n * (size_t)n * sizeof(double));
    return QLOW_OK;
}

qlow_status qlow_hessian_cholesky(qlow_ctx *ctx, const qlow_hessian *h, int32_t which, double damp, double *out,
                                  int64_t count)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(qlow__hessian_check(h));
    size_t need;
    QLOW_TRY(qlow_hessian_cholesky_workspace_size(h->cols, &need));
    const qlow_allocator *a = qlow__ctx_allocator(ctx);
    void *ws = qlow__alloc(a, need, 64);
    if (!ws) return QLOW_E_NO_MEMORY;
    qlow_status st = qlow_hessian_cholesky_ws(ctx, h, which, damp, out, count, ws, need);
    qlow__free(a, ws);
    return st;
}
