/* sensitivity.c - per-layer sensitivity measures: Q-BERT's Omega over eigenvalue runs, HAWQ-V2's
 * trace-weighted perturbation, the diagonal-weighted perturbation and the exact layer-wise quadratic
 * form tr(dW H dW^T) = 2/N ||dW X^T||^2 of the calibration proxy. */
#include "hessian/hessian.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

qlow_status qlow_plan_qbert_omega(const double *lambdas, int32_t n_runs, double *omega)
{
    if (!lambdas || !omega) return QLOW_E_NULL_POINTER;
    if (n_runs < 1) return QLOW_E_SHAPE;
    double mean = 0.0;
    for (int32_t i = 0; i < n_runs; i++) {
        if (!(lambdas[i] - lambdas[i] == 0.0)) return QLOW_E_NONFINITE;
        mean += lambdas[i];
    }
    mean /= n_runs;
    double var = 0.0;
    for (int32_t i = 0; i < n_runs; i++) var += (lambdas[i] - mean) * (lambdas[i] - mean);
    *omega = fabs(mean) + sqrt(var / n_runs);
    return QLOW_OK;
}

/* Validate two same-shape 2-D float views. */
static qlow_status check_pair(const qlow_view *W, const qlow_view *Wq)
{
    QLOW_TRY(qlow__view_check(W, QLOW__DT_FLOAT, 2));
    QLOW_TRY(qlow__view_check(Wq, QLOW__DT_FLOAT, 2));
    if (W->shape[0] != Wq->shape[0] || W->shape[1] != Wq->shape[1]) return QLOW_E_SHAPE;
    QLOW_TRY(qlow__view_check_finite(W));
    return qlow__view_check_finite(Wq);
}

qlow_status qlow_plan_hawq_v2(double trace, int64_t n_params, const qlow_view *W, const qlow_view *Wq, double *omega)
{
    if (!omega) return QLOW_E_NULL_POINTER;
    if (n_params < 1) return QLOW_E_SHAPE;
    if (!(trace - trace == 0.0)) return QLOW_E_NONFINITE;
    QLOW_TRY(check_pair(W, Wq));
    double dw = 0.0;
    int64_t rows = W->shape[0], cols = W->shape[1];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            double d = (double)qlow__view_elem_f32(Wq, r, j) - (double)qlow__view_elem_f32(W, r, j);
            dw += d * d;
        }
    *omega = trace / (double)n_params * dw;
    return QLOW_OK;
}

qlow_status qlow_plan_diag_weighted(const float *hdiag, int64_t count, const qlow_view *W, const qlow_view *Wq,
                                    double *cost)
{
    if (!hdiag || !cost) return QLOW_E_NULL_POINTER;
    QLOW_TRY(check_pair(W, Wq));
    int64_t cols = W->shape[1];
    if (count != cols) return QLOW_E_SHAPE;
    double s = 0.0;
    /* Small per-call scratch on the stack, in column tiles, keeps this allocation-free. */
    double tile[256];
    for (int64_t j0 = 0; j0 < cols; j0 += 256) {
        int64_t w = cols - j0 < 256 ? cols - j0 : 256;
        for (int64_t j = 0; j < w; j++) tile[j] = 0.0;
        for (int64_t r = 0; r < W->shape[0]; r++)
            for (int64_t j = 0; j < w; j++) {
                double d = (double)qlow__view_elem_f32(Wq, r, j0 + j) - (double)qlow__view_elem_f32(W, r, j0 + j);
                tile[j] += d * d;
            }
        for (int64_t j = 0; j < w; j++) {
            if (!qlow__is_finite_f32(hdiag[j0 + j])) return QLOW_E_NONFINITE;
            s += (double)hdiag[j0 + j] * tile[j];
        }
    }
    *cost = s;
    return QLOW_OK;
}

qlow_status qlow_plan_layer_error_workspace_size(const qlow_ctx *ctx, int64_t rows, int64_t cols, size_t *bytes)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!bytes) return QLOW_E_NULL_POINTER;
    if (rows <= 0 || cols <= 0) return QLOW_E_SHAPE;
    size_t per, total;
    QLOW_TRY(qlow__mul_size((size_t)cols, sizeof(double), &per));
    QLOW_TRY(qlow__mul_size(per, (size_t)qlow__ctx_threads(ctx), &total));
    QLOW_TRY(qlow__mul_size((size_t)rows, sizeof(double), &per));
    return qlow__add_size(total, per, bytes);
}

qlow_status qlow_plan_layer_error(qlow_ctx *ctx, const qlow_hessian *h, const qlow_view *W, const qlow_view *Wq,
                                  void *workspace, size_t workspace_bytes, double *error)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(qlow__hessian_check(h));
    if (!error) return QLOW_E_NULL_POINTER;
    if (h->mode != QLOW_HESSIAN_FULL || h->tokens <= 0) return QLOW_E_STATE;
    QLOW_TRY(check_pair(W, Wq));
    int64_t rows = W->shape[0], d = W->shape[1];
    if (d != h->cols) return QLOW_E_SHAPE;
    const qlow_allocator *a = qlow__ctx_allocator(ctx);
    int threads = qlow__ctx_threads(ctx);
    size_t total;
    QLOW_TRY(qlow_plan_layer_error_workspace_size(ctx, rows, d, &total));
    double *mem = (double *)workspace;
    if (!workspace) {
        mem = (double *)qlow__alloc(a, total, 64);
        if (!mem) return QLOW_E_NO_MEMORY;
    } else {
        if (((uintptr_t)workspace & 7u) != 0) return QLOW_E_ALIGNMENT;
        if (workspace_bytes < total) return QLOW_E_WORKSPACE_TOO_SMALL;
    }
    double *row_err = mem + (size_t)d * (size_t)threads;
    const double *S = h->S;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double *dw = mem + (size_t)d * (size_t)tid;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t j = 0; j < d; j++)
                dw[j] = (double)qlow__view_elem_f32(Wq, r, j) - (double)qlow__view_elem_f32(W, r, j);
            /* dw^T S dw over the lower triangle: diagonal once, off-diagonal twice. */
            double q = 0.0;
            for (int64_t j = 0; j < d; j++) {
                const double *srow = S + j * d;
                double s = 0.0;
                for (int64_t i = 0; i < j; i++) s += srow[i] * dw[i];
                q += dw[j] * (2.0 * s + srow[j] * dw[j]);
            }
            row_err[r] = q;
        }
    }
    double sum = 0.0;
    for (int64_t r = 0; r < rows; r++) sum += row_err[r];
    if (!workspace) qlow__free(a, mem);
    *error = 2.0 * sum / (double)h->tokens;
    return QLOW_OK;
}
