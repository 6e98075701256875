/* quantize.c - the public quantizer: parameters -> qresult (in a workspace) -> packed matrix. */
#include "formats/qmatrix_internal.h"
#include "quant/quantizers.h"

/* Geometry, workspace and output sizes of quantizing [rows x cols] with params. */
static qlow_status plan_quantize(const qlow_ctx *ctx, const qlow_params *params, int64_t rows, int64_t cols,
                                 qlow__qopts *o, qlow__qresult *geom, size_t *wksp_bytes, size_t *out_bytes)
{
    QLOW_TRY(qlow__qopts_from_params(params, o));
    QLOW_TRY(qlow__qopts_geometry(o, rows, cols, geom));
    if (!qlow__qresult_format(geom)) return QLOW_E_UNSUPPORTED;
    size_t planes, scratch;
    QLOW_TRY(qlow__qresult_bytes(geom, &planes));
    QLOW_TRY(qlow__quantize_scratch_bytes(geom, qlow__ctx_threads(ctx), &scratch));
    /* Both regions are carved at 64-byte alignment by qlow__wksp_take: allow for the gap. */
    QLOW_TRY(qlow__add_size(qlow__align_up(planes, 64), scratch, wksp_bytes));
    return qlow__qresult_packed_size(geom, out_bytes);
}

qlow_status qlow_quantize_workspace_size(const qlow_ctx *ctx, const qlow_params *params, int64_t rows, int64_t cols,
                                         size_t *workspace_bytes, size_t *output_bytes)
{
    if (!workspace_bytes || !output_bytes) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__ctx_check(ctx));
    qlow__qopts o;
    qlow__qresult geom;
    size_t w, b;
    QLOW_TRY(plan_quantize(ctx, params, rows, cols, &o, &geom, &w, &b));
    *workspace_bytes = w;
    *output_bytes = b;
    return QLOW_OK;
}

static qlow_status check_call(const qlow_ctx *ctx, const qlow_view *W, const float *importance)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(qlow__view_check(W, QLOW__DT_FLOAT, 2));
    if (W->shape[0] <= 0 || W->shape[1] <= 0) return QLOW_E_SHAPE;
    return qlow__quantize_check_inputs(W, importance);
}

qlow_status qlow_quantize_to_buffer(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                    const float *importance, void *workspace, size_t workspace_bytes, void *dst,
                                    size_t dst_bytes)
{
    if (!W || !dst) return QLOW_E_NULL_POINTER;
    QLOW_TRY(check_call(ctx, W, importance));
    qlow__qopts o;
    qlow__qresult qr;
    size_t need_w, need_b;
    QLOW_TRY(plan_quantize(ctx, params, W->shape[0], W->shape[1], &o, &qr, &need_w, &need_b));
    if (dst_bytes < need_b) return QLOW_E_BUFFER_TOO_SMALL;
    if (workspace_bytes < need_w || (need_w && !workspace)) return QLOW_E_WORKSPACE_TOO_SMALL;
    if ((uintptr_t)workspace % 64 != 0 || (uintptr_t)dst % 8 != 0) return QLOW_E_ALIGNMENT;
    qlow__wksp w;
    qlow__wksp_init(&w, workspace, workspace_bytes);
    qlow__qresult_carve(&qr, &w, NULL);
    size_t scratch_bytes;
    QLOW_TRY(qlow__quantize_scratch_bytes(&qr, qlow__ctx_threads(ctx), &scratch_bytes));
    void *scratch = qlow__wksp_take(&w, scratch_bytes);
    if (w.overflow || !scratch) return QLOW_E_WORKSPACE_TOO_SMALL;
    qlow__quantize_run(&o, W, importance, qlow__ctx_threads(ctx), &qr, scratch);
    return qlow__qresult_pack_into(&qr, dst, dst_bytes);
}

qlow_status qlow_quantize(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W, const float *importance,
                          qlow_qmatrix **out)
{
    if (!W || !out) return QLOW_E_NULL_POINTER;
    QLOW_TRY(check_call(ctx, W, importance));
    size_t need_w, need_b;
    QLOW_TRY(qlow_quantize_workspace_size(ctx, params, W->shape[0], W->shape[1], &need_w, &need_b));
    const qlow_allocator *a = qlow__ctx_allocator(ctx);
    void *wksp = qlow__alloc(a, need_w, 64);
    if (!wksp) return QLOW_E_NO_MEMORY;
    void *blob = qlow__alloc(a, need_b, 64);
    if (!blob) {
        qlow__free(a, wksp);
        return QLOW_E_NO_MEMORY;
    }
    qlow_status st = qlow_quantize_to_buffer(ctx, params, W, importance, wksp, need_w, blob, need_b);
    qlow__free(a, wksp);
    if (st != QLOW_OK) {
        qlow__free(a, blob);
        return st;
    }
    return qlow__qmatrix_adopt(a, blob, need_b, out);
}
