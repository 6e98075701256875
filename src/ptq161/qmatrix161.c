/* qmatrix161.c - a finalized PTQ1.61 layer as an M161 qlow_qmatrix (4-bit salient part, binary part with
 * r1 folded into alpha/mu and r2 as the column scale, 1-bit column mask), and the public entry points
 * that return one. */
#include "formats/qmatrix_internal.h"
#include "ptq161/ptq161.h"
#include "quant/qresult.h"

qlow_status qlow__p161_to_qmatrix(const qlow__p161 *p, const qlow_allocator *alloc, qlow_qmatrix **out)
{
    const int64_t rows = p->rows, cols = p->cols, ns = p->ns, nu = p->nu;
    uint8_t *mask_bytes = (uint8_t *)qlow__alloc(alloc, (size_t)cols, 64);
    if (!mask_bytes) return QLOW_E_NO_MEMORY;
    for (int64_t j = 0; j < cols; j++) mask_bytes[j] = (uint8_t)((p->mask[j >> 3] >> (j & 7)) & 1);
    qlow__qresult *qr = NULL;
    qlow_status st = qlow__qresult_create_m161(alloc, rows, cols, mask_bytes, 1, &qr);
    qlow__free(alloc, mask_bytes);
    QLOW_TRY(st);
    for (int64_t i = 0; i < rows; i++) {
        if (ns > 0) {
            memcpy(qr->sal_codes + i * ns, p->sal_q + i * ns, (size_t)ns);
            qr->sal_scale[i] = qlow_fp32_to_fp16(p->sal_scale[i]);
            qr->sal_zero[i] = qlow_fp32_to_fp16(p->sal_min[i]);
        }
        if (nu > 0) {
            for (int64_t u = 0; u < nu; u++) qr->codes[i * nu + u] = p->sign[i * nu + u] > 0;
            qr->alpha[i] = qlow_fp32_to_fp16(p->r1[i] * p->alpha[i]);
            qr->mu[i] = qlow_fp32_to_fp16(p->r1[i] * p->mu[i]);
        }
    }
    for (int64_t u = 0; u < nu; u++) qr->col_scale[u] = qlow_fp32_to_fp16(p->r2[u]);
    st = qlow__qmatrix_from_qresult(alloc, qr, out);
    qlow__qresult_destroy(qr);
    return st;
}

qlow_status qlow_ptq161_quantize(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W, const qlow_view *X,
                                 const qlow_actstats *stats, qlow_qmatrix **out, float *fold_scale)
{
    if (!out) return QLOW_E_NULL_POINTER;
    qlow__p161 *p = NULL;
    float *fold_tmp = NULL;
    if (fold_scale && W && W->struct_size == sizeof(qlow_view) && W->ndim == 2 && W->shape[1] > 0 && ctx &&
        qlow__ctx_check(ctx) == QLOW_OK) {
        /* fold_scale is written only on success. */
        size_t bytes = 0;
        QLOW_TRY(qlow__mul_size((size_t)W->shape[1], sizeof(float), &bytes));
        fold_tmp = (float *)qlow__alloc(qlow__ctx_allocator(ctx), bytes, 64);
        if (!fold_tmp) return QLOW_E_NO_MEMORY;
    }
    qlow_status st = qlow__ptq161_run(ctx, params, W, X, NULL, stats, fold_scale ? fold_tmp : NULL, &p);
    qlow_qmatrix *qm = NULL;
    if (st == QLOW_OK) st = qlow__p161_to_qmatrix(p, qlow__ctx_allocator(ctx), &qm);
    if (st == QLOW_OK) {
        if (fold_scale) memcpy(fold_scale, fold_tmp, (size_t)W->shape[1] * sizeof(float));
        *out = qm;
    }
    qlow__p161_destroy(p);
    if (fold_tmp) qlow__free(qlow__ctx_allocator(ctx), fold_tmp);
    return st;
}
