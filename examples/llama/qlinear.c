/* qlinear.c - the packed-matrix path of the engine's linear layers, through libqlow's kernels. */
#include <stdio.h>
#include <stdlib.h>

#include "llama.h"

void llm_wksp_free(llm_wksp *w)
{
    free(w->p);
    w->p = NULL;
    w->bytes = 0;
}

static qlow_status wksp_reserve(llm_wksp *w, size_t bytes)
{
    if (bytes <= w->bytes) return QLOW_OK;
    size_t n = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, n);
    if (!p) return QLOW_E_NO_MEMORY;
    free(w->p);
    w->p = p;
    w->bytes = n;
    return QLOW_OK;
}

static qlow_status qlinear_run(const llm_linear *l, qlow_ctx *ctx, const llm_wksp *w, const float *x, int64_t n,
                               float *y)
{
    if (l->act_bits == 8) return qlow_gemm_act8_ws(ctx, l->q, x, n, y, w->p, w->bytes);
    return qlow_gemm_ws(ctx, l->q, x, n, y, w->p, w->bytes);
}

/* The workspace only grows, so after the first tokens every call fits: try it first and ask for the
 * size only when the library says it is too small (it checks before touching anything). */
qlow_status llm_qlinear_apply(const llm_linear *l, qlow_ctx *ctx, llm_wksp *w, const float *x, int64_t n, float *y)
{
    if (w->p) {
        qlow_status st = qlinear_run(l, ctx, w, x, n, y);
        if (st != QLOW_E_WORKSPACE_TOO_SMALL) return st;
    }
    size_t need;
    qlow_status st = qlow_gemm_workspace_size(l->q, n, l->act_bits == 8 ? QLOW_GEMM_ACT8 : 0, &need);
    if (st || (st = wksp_reserve(w, need))) return st;
    return qlinear_run(l, ctx, w, x, n, y);
}

qlow_status llm_qlinear_row(const llm_linear *l, int64_t row, float *out)
{
    return qlow_qmatrix_dequantize(l->q, row, 1, out, (size_t)l->cols);
}

void llm_qlinear_release(llm_linear *l)
{
    if (l->owns_q) qlow_qmatrix_destroy((qlow_qmatrix *)(uintptr_t)l->q);
    l->q = NULL;
    l->owns_q = 0;
}

double llm_qlinear_bits(const llm_linear *l)
{
    double bpw = 0.0;
    if (!l->q || qlow_qmatrix_bits_per_weight(l->q, &bpw)) return 0.0;
    return bpw * (double)l->rows * (double)l->cols;
}

void llm_qlinear_describe(const llm_linear *l, char *buf, size_t n)
{
    int32_t f;
    if (!l->q || qlow_qmatrix_format(l->q, &f)) {
        snprintf(buf, n, "fp32");
        return;
    }
    snprintf(buf, n, "%s%s", qlow_format_name(f), l->act_bits == 8 ? "+a8" : "");
}
