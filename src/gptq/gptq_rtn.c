/* gptq_rtn.c - qlow_gptq_quantize: the GPTQ sweep with the foundation's uniform quantizers (sym/asym,
 * 2..8 bits, column groups, row groups, min/max or importance-weighted range search), producing the same
 * packed qmatrix as qlow_quantize. Group grids are computed on the fly from the error-updated weights
 * when a group's first column is reached; with act-order they are static (computed from the original
 * weights in original column order, GPTQ's --static-groups), so the packed layout needs no column index. */
#include "gptq.h"
#include "hessian/hessian.h"
#include "formats/qmatrix_internal.h"
#include "quant/quantizers.h"

typedef struct rtn_columns {
    qlow__qresult *qr;
    const qlow__qopts *o;
    int dynamic;
    const float *hdiag;   /* importance of each original column for the range search */
    float *gbuf;          /* rows x group_cols gather buffer */
    float *colbuf;        /* rows */
    qlow__qgrid *grids;   /* n_row_groups x n_col_groups */
} rtn_columns;

static float clamp_abs(float v)
{
    if (v > QLOW__QUANT_MAX_ABS) return QLOW__QUANT_MAX_ABS;
    if (v < -QLOW__QUANT_MAX_ABS) return -QLOW__QUANT_MAX_ABS;
    return v;
}

/* Grids of column group cg from gbuf (rows x width, row-major). */
static void fit_group(rtn_columns *rc, int64_t cg, int64_t width)
{
    const qlow__qresult *qr = rc->qr;
    const int64_t c0 = cg * qr->group_cols;
    for (int64_t rg = 0; rg < qr->n_row_groups; rg++) {
        int64_t r0 = rg * qr->group_rows, nr = qr->rows - r0 < qr->group_rows ? qr->rows - r0 : qr->group_rows;
        const float *blk = rc->gbuf + r0 * width;
        qlow__qgrid *g = &rc->grids[rg * qr->n_col_groups + cg];
        if (rc->o->range_search)
            qlow__rtn_grid_search(blk, nr, width, width, rc->hdiag + c0, qr->bits, qr->symmetric, &rc->o->range, g,
                                  NULL);
        else
            qlow__rtn_grid_minmax(blk, nr, width, width, qr->bits, qr->symmetric, g);
        rc->qr->scale[rg * qr->n_col_groups + cg] = g->scale_h;
        if (!qr->symmetric) rc->qr->zero[rg * qr->n_col_groups + cg] = g->zero_h;
    }
}

static int64_t group_width(const qlow__qresult *qr, int64_t cg)
{
    int64_t c0 = cg * qr->group_cols;
    return qr->cols - c0 < qr->group_cols ? qr->cols - c0 : qr->group_cols;
}

static qlow_status quantize_column(void *user, int64_t col, const float *w, float *q, int64_t rows,
                                   const qlow__gptq_cursor *cursor)
{
    rtn_columns *rc = (rtn_columns *)user;
    qlow__qresult *qr = rc->qr;
    const int64_t cg = col / qr->group_cols;
    if (rc->dynamic && col % qr->group_cols == 0) {
        int64_t width = group_width(qr, cg);
        for (int64_t j = 0; j < width; j++) {
            qlow__gptq_read_column(cursor, col + j, rc->colbuf);
            for (int64_t r = 0; r < rows; r++) rc->gbuf[r * width + j] = clamp_abs(rc->colbuf[r]);
        }
        fit_group(rc, cg, width);
    }
    for (int64_t r = 0; r < rows; r++) {
        const qlow__qgrid *g = &rc->grids[(r / qr->group_rows) * qr->n_col_groups + cg];
        int32_t code = qlow__rtn_code(g, clamp_abs(w[r]));
        qr->codes[r * qr->code_cols + col] = (uint8_t)code;
        q[r] = qlow__rtn_dequant(g, code);
    }
    return QLOW_OK;
}

typedef struct gptq_layout {
    qlow__gptq_plan plan;
    qlow__qopts o;
    qlow__qresult geom;
    size_t sweep_bytes, plane_bytes, deq_bytes, gbuf_bytes, grid_bytes, total;
} gptq_layout;

static qlow_status plan_gptq(const qlow_params *params, int64_t rows, int64_t cols, gptq_layout *L)
{
    memset(L, 0, sizeof(*L));
    QLOW_TRY(qlow__qopts_from_params(params, &L->o));
    if (L->o.kind != QLOW__QK_RTN) return QLOW_E_UNSUPPORTED;
    QLOW_TRY(qlow__qopts_geometry(&L->o, rows, cols, &L->geom));
    L->plan.rows = rows;
    L->plan.cols = cols;
    L->plan.block = qlow__param_int(params, QLOW_GPTQ_BLOCK);
    L->plan.act_order = (int32_t)qlow__param_int(params, QLOW_GPTQ_ACT_ORDER);
    L->plan.retries = (int32_t)qlow__param_int(params, QLOW_GPTQ_DAMP_RETRIES);
    L->plan.damp = qlow__param_float(params, QLOW_GPTQ_DAMP);
    QLOW_TRY(qlow__gptq_workspace_bytes(&L->plan, &L->sweep_bytes));
    QLOW_TRY(qlow__qresult_bytes(&L->geom, &L->plane_bytes));
    size_t rc, g;
    QLOW_TRY(qlow__matrix_count(rows, cols, &rc));
    QLOW_TRY(qlow__mul_size(rc, sizeof(float), &L->deq_bytes));
    QLOW_TRY(qlow__matrix_count(rows, L->geom.group_cols + 1, &g));
    QLOW_TRY(qlow__mul_size(g, sizeof(float), &L->gbuf_bytes));
    QLOW_TRY(qlow__matrix_count(L->geom.n_row_groups, L->geom.n_col_groups, &g));
    QLOW_TRY(qlow__mul_size(g, sizeof(qlow__qgrid), &L->grid_bytes));
    size_t parts[5] = {L->sweep_bytes, L->plane_bytes, L->deq_bytes, L->gbuf_bytes, L->grid_bytes}, t = 0;
    for (int i = 0; i < 5; i++) {
        QLOW_TRY(qlow__add_size(t, parts[i], &t));
        QLOW_TRY(qlow__add_size(t, 128, &t));
    }
    L->total = t;
    return QLOW_OK;
}

qlow_status qlow_gptq_workspace_size(const qlow_params *params, int64_t rows, int64_t cols, size_t *bytes)
{
    if (!bytes) return QLOW_E_NULL_POINTER;
    gptq_layout L;
    QLOW_TRY(plan_gptq(params, rows, cols, &L));
    *bytes = L.total;
    return QLOW_OK;
}

/* The whole GPTQ pass into carved workspace: *qr gets the codes and grids, *deq_out the dequantized
 * weights (rows x cols, inside the workspace). */
static qlow_status gptq_run(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W, const qlow_hessian *H,
                            void *workspace, size_t workspace_bytes, int need_format, qlow__qresult *qr_out,
                            float **deq_out, double *loss)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(qlow__hessian_check(H));
    if (!workspace) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__view_check(W, QLOW__DT_FLOAT, 2));
    const int64_t rows = W->shape[0], cols = W->shape[1];
    if (rows <= 0 || cols <= 0 || cols != H->cols) return QLOW_E_SHAPE;
    if (H->mode != QLOW_HESSIAN_FULL || H->tokens <= 0) return QLOW_E_STATE;
    gptq_layout L;
    QLOW_TRY(plan_gptq(params, rows, cols, &L));
    if (need_format && !qlow__qresult_format(&L.geom)) return QLOW_E_UNSUPPORTED;
    QLOW_TRY(qlow__quantize_check_inputs(W, NULL));
    if (workspace_bytes < L.total) return QLOW_E_WORKSPACE_TOO_SMALL;
    if (((uintptr_t)workspace & 63u) != 0) return QLOW_E_ALIGNMENT;
    qlow__wksp w;
    qlow__wksp_init(&w, workspace, workspace_bytes);
    void *sweep_ws = qlow__wksp_take(&w, L.sweep_bytes);
    qlow__qresult qr = L.geom;
    qlow__qresult_carve(&qr, &w, NULL);
    float *deq = (float *)qlow__wksp_take(&w, L.deq_bytes);
    float *gbuf = (float *)qlow__wksp_take(&w, L.gbuf_bytes);
    qlow__qgrid *grids = (qlow__qgrid *)qlow__wksp_take(&w, L.grid_bytes);
    if (!grids || w.overflow) return QLOW_E_WORKSPACE_TOO_SMALL;
    memset(qr.codes, 0, (size_t)rows * (size_t)qr.code_cols);

    const int isa = qlow__ctx_isa(ctx), threads = qlow__ctx_threads(ctx);
    qlow__gptq_state st;
    QLOW_TRY(qlow__gptq_state_init(&st, &L.plan, sweep_ws, L.sweep_bytes));
    QLOW_TRY(qlow__gptq_prepare(isa, threads, &st, H->S, cols, 2.0 / (double)H->tokens));
    for (int64_t r = 0; r < rows; r++) {
        qlow__view_read_row_f32(W, r, deq + r * cols);
        for (int64_t c = 0; c < cols; c++)
            if (st.dead[c]) deq[r * cols + c] = 0.0f;
    }
    rtn_columns rc = {&qr, &L.o, !L.plan.act_order, st.hdiag, gbuf, gbuf + (size_t)rows * (size_t)qr.group_cols,
                      grids};
    if (!rc.dynamic)
        for (int64_t cg = 0; cg < qr.n_col_groups; cg++) {
            int64_t width = group_width(&qr, cg), c0 = cg * qr.group_cols;
            for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < width; j++) gbuf[r * width + j] = deq[r * cols + c0 + j];
            fit_group(&rc, cg, width);
        }
    qlow__gptq_quantizer q = {&rc, quantize_column};
    QLOW_TRY(qlow__gptq_sweep(isa, threads, &st, deq, cols, &q, deq, loss));
    *qr_out = qr;
    *deq_out = deq;
    return QLOW_OK;
}

qlow_status qlow_gptq_quantize_ws(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W, const qlow_hessian *H,
                                  void *workspace, size_t workspace_bytes, qlow_qmatrix **out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    qlow__qresult qr;
    float *deq = NULL;
    QLOW_TRY(gptq_run(ctx, params, W, H, workspace, workspace_bytes, 1, &qr, &deq, NULL));
    return qlow__qmatrix_from_qresult(qlow__ctx_allocator(ctx), &qr, out);
}

qlow_status qlow_gptq_fake_quantize_ws(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                       const qlow_hessian *H, void *workspace, size_t workspace_bytes, float *out,
                                       int64_t out_count, double *loss)
{
    if (!out || !W) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__view_check(W, QLOW__DT_FLOAT, 2));
    size_t need;
    QLOW_TRY(qlow__matrix_count(W->shape[0], W->shape[1], &need));
    if (out_count < 0 || (uint64_t)out_count < (uint64_t)need) return QLOW_E_BUFFER_TOO_SMALL;
    qlow__qresult qr;
    float *deq = NULL;
    double l = 0.0;
    QLOW_TRY(gptq_run(ctx, params, W, H, workspace, workspace_bytes, 0, &qr, &deq, &l));
    memcpy(out, deq, need * sizeof(float));
    if (loss) *loss = l;
    return QLOW_OK;
}

qlow_status qlow_gptq_fake_quantize(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                    const qlow_hessian *H, float *out, int64_t out_count, double *loss)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!W) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__view_check(W, QLOW__DT_FLOAT, 2));
    size_t need;
    QLOW_TRY(qlow_gptq_workspace_size(params, W->shape[0], W->shape[1], &need));
    const qlow_allocator *a = qlow__ctx_allocator(ctx);
    void *ws = qlow__alloc(a, need, 64);
    if (!ws) return QLOW_E_NO_MEMORY;
    qlow_status st = qlow_gptq_fake_quantize_ws(ctx, params, W, H, ws, need, out, out_count, loss);
    qlow__free(a, ws);
    return st;
}

qlow_status qlow_gptq_quantize(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W, const qlow_hessian *H,
                               qlow_qmatrix **out)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!W || !out) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__view_check(W, QLOW__DT_FLOAT, 2));
    size_t need;
    QLOW_TRY(qlow_gptq_workspace_size(params, W->shape[0], W->shape[1], &need));
    const qlow_allocator *a = qlow__ctx_allocator(ctx);
    void *ws = qlow__alloc(a, need, 64);
    if (!ws) return QLOW_E_NO_MEMORY;
    qlow_status st = qlow_gptq_quantize_ws(ctx, params, W, H, ws, need, out);
    qlow__free(a, ws);
    return st;
}
