/* driver.c - matrix-level quantizers over row groups, and the M161 reference construction. */
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "quant/quantizers.h"
#include "quant/rowquant.h"

qlow_status qlow__qopts_from_params(const qlow_params *params, qlow__qopts *o)
{
    memset(o, 0, sizeof(*o));
    o->kind = (int32_t)qlow__param_int(params, QLOW_P_SCHEME);
    o->bits = (int32_t)qlow__param_int(params, QLOW_P_BITS);
    o->symmetric = (int32_t)qlow__param_int(params, QLOW_P_SYMMETRIC);
    o->range_search = (int32_t)qlow__param_int(params, QLOW_P_RANGE_SEARCH);
    o->range.steps = (int32_t)qlow__param_int(params, QLOW_P_RANGE_STEPS);
    o->range.min_ratio = (float)qlow__param_float(params, QLOW_P_RANGE_MIN_RATIO);
    o->range.refine = (int32_t)qlow__param_int(params, QLOW_P_RANGE_REFINE);
    o->group_cols = qlow__param_int(params, QLOW_P_GROUP_COLS);
    o->group_rows = qlow__param_int(params, QLOW_P_GROUP_ROWS);
    o->row_groups = qlow__param_int(params, QLOW_P_ROW_GROUPS);
    o->binary_optimal = (int32_t)qlow__param_int(params, QLOW_P_BINARY_OPTIMAL);
    o->ternary_format = (int32_t)qlow__param_int(params, QLOW_P_TERNARY_PACKING);
    if (o->kind < QLOW__QK_RTN || o->kind > QLOW__QK_TERNARY) return QLOW_E_PARAM;
    if (o->group_cols % 32 != 0) return QLOW_E_PARAM;
    if (o->ternary_format != QLOW_FORMAT_T2 && o->ternary_format != QLOW_FORMAT_T158) return QLOW_E_PARAM;
    return QLOW_OK;
}

qlow_status qlow__qopts_geometry(const qlow__qopts *o, int64_t rows, int64_t cols, qlow__qresult *qr)
{
    if (o->kind == QLOW__QK_RTN) {
        int64_t gr = o->group_rows;
        if (o->row_groups > 0 && rows > 0) gr = (rows + o->row_groups - 1) / o->row_groups;
        return qlow__qresult_init_rtn(qr, rows, cols, o->bits, o->symmetric, o->group_cols, gr);
    }
    QLOW_TRY(qlow__qresult_init_rows(qr, o->kind, rows, cols));
    qr->ternary_format = o->ternary_format;
    return QLOW_OK;
}

/* Per thread: a block of group_rows rows of W plus sort / gather scratch of 4 floats per column. */
static qlow_status per_thread_bytes(const qlow__qresult *qr, size_t *bytes)
{
    size_t rows_in_block = (size_t)(qr->kind == QLOW__QK_RTN ? qr->group_rows : 1) + 4, n;
    QLOW_TRY(qlow__mul_size(rows_in_block, (size_t)qr->cols, &n));
    QLOW_TRY(qlow__mul_size(n, sizeof(float), &n));
    *bytes = qlow__align_up(n, 64);
    return *bytes >= n ? QLOW_OK : QLOW_E_OVERFLOW;
}

static int32_t work_threads(const qlow__qresult *qr, int32_t threads)
{
    int64_t items = qr->kind == QLOW__QK_RTN ? qr->n_row_groups : qr->rows;
    if (threads < 1) threads = 1;
    return items < threads ? (int32_t)items : threads;
}

qlow_status qlow__quantize_scratch_bytes(const qlow__qresult *qr, int32_t threads, size_t *bytes)
{
    size_t one;
    QLOW_TRY(per_thread_bytes(qr, &one));
    return qlow__mul_size(one, (size_t)work_threads(qr, threads), bytes);
}

qlow_status qlow__quantize_check_inputs(const qlow_view *W, const float *importance)
{
    QLOW_TRY(qlow__view_check_finite(W));
    const int64_t rows = W->shape[0], cols = W->shape[1];
    /* The magnitude bound keeps every fp16 scale/alpha/mu finite. Checked on the fp32 values that the
     * quantizers will see. */
    float buf[256];
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j0 = 0; j0 < cols; j0 += 256) {
            qlow_view sub = *W;
            sub.shape[1] = cols - j0 < 256 ? cols - j0 : 256;
            sub.data = (unsigned char *)W->data + j0 * W->stride_bytes[1];
            qlow__view_read_row_f32(&sub, i, buf);
            for (int64_t j = 0; j < sub.shape[1]; j++)
                if (!(fabsf(buf[j]) <= QLOW__QUANT_MAX_ABS)) return QLOW_E_NUMERIC;
        }
    }
    if (importance) {
        for (int64_t j = 0; j < cols; j++) {
            if (!qlow__is_finite_f32(importance[j])) return QLOW_E_NONFINITE;
            if (importance[j] < 0.0f) return QLOW_E_INVALID_ARG;
        }
    }
    return QLOW_OK;
}

static void rtn_row_group(const qlow__qopts *o, const qlow_view *W, const float *imp, qlow__qresult *qr,
                          int64_t rg, float *buf)
{
    const int64_t cols = qr->cols, r0 = rg * qr->group_rows;
    const int64_t nr = qr->rows - r0 < qr->group_rows ? qr->rows - r0 : qr->group_rows;
    for (int64_t i = 0; i < nr; i++) qlow__view_read_row_f32(W, r0 + i, buf + i * cols);
    for (int64_t cg = 0; cg < qr->n_col_groups; cg++) {
        const int64_t c0 = cg * qr->group_cols;
        const int64_t nc = cols - c0 < qr->group_cols ? cols - c0 : qr->group_cols;
        qlow__qgrid g;
        if (o->range_search)
            qlow__rtn_grid_search(buf + c0, nr, nc, cols, imp ? imp + c0 : NULL, qr->bits, qr->symmetric,
                                  &o->range, &g, NULL);
        else
            qlow__rtn_grid_minmax(buf + c0, nr, nc, cols, qr->bits, qr->symmetric, &g);
        const int64_t gi = rg * qr->n_col_groups + cg;
        qr->scale[gi] = g.scale_h;
        if (qr->zero) qr->zero[gi] = g.zero_h;
        for (int64_t i = 0; i < nr; i++) {
            uint8_t *codes = qr->codes + (r0 + i) * cols + c0;
            const float *w = buf + i * cols + c0;
            for (int64_t j = 0; j < nc; j++) codes[j] = (uint8_t)qlow__rtn_code(&g, w[j]);
        }
    }
}

static void row_item(const qlow__qopts *o, const qlow_view *W, const float *imp, qlow__qresult *qr, int64_t i,
                     float *buf)
{
    const int64_t cols = qr->cols;
    qlow__view_read_row_f32(W, i, buf);
    uint8_t *codes = qr->codes + i * cols;
    float *scratch = buf + cols;
    switch (qr->kind) {
    case QLOW__QK_BINARY:
        qlow__binary_row(buf, cols, imp, o->binary_optimal, scratch, &qr->alpha[i], &qr->mu[i], codes);
        break;
    case QLOW__QK_BINARY2:
        qlow__binary2_row(buf, cols, imp, &qr->alpha[i], &qr->alpha2[i], &qr->mu[i], codes);
        break;
    default:
        qlow__ternary_row(buf, cols, imp, scratch, &qr->alpha[i], codes);
        break;
    }
}

void qlow__quantize_run(const qlow__qopts *o, const qlow_view *W, const float *importance, int32_t threads,
                        qlow__qresult *qr, void *scratch)
{
    size_t one = 0;
    (void)per_thread_bytes(qr, &one);
    const int32_t nt = work_threads(qr, threads);
    const int64_t items = qr->kind == QLOW__QK_RTN ? qr->n_row_groups : qr->rows;
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int64_t it = 0; it < items; it++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *buf = (float *)((unsigned char *)scratch + (size_t)tid * one);
        if (qr->kind == QLOW__QK_RTN)
            rtn_row_group(o, W, importance, qr, it, buf);
        else
            row_item(o, W, importance, qr, it, buf);
    }
}

void qlow__quantize_m161(const qlow_view *W, const float *importance, const float *col_scale,
                         const qlow__range_opts *range, int32_t binary_optimal, qlow__qresult *qr, void *scratch)
{
    const int64_t cols = qr->cols, ns = qr->n_salient, nu = qr->code_cols;
    float *row = (float *)scratch, *sal = row + cols, *uns = sal + cols, *wimp = uns + cols;
    float *simp = wimp; /* importance of salient columns first, then of the others after them */
    if (qr->col_scale)
        for (int64_t j = 0, u = 0; j < cols; j++)
            if (!qr->col_mask[j]) qr->col_scale[u++] = qlow_fp32_to_fp16(col_scale ? col_scale[j] : 1.0f);
    /* Per-part importance, gathered once. */
    for (int64_t j = 0, s = 0, u = 0; j < cols; j++) {
        float c = importance ? importance[j] : 1.0f;
        if (qr->col_mask[j]) {
            simp[s++] = c;
        } else {
            float r2 = qr->col_scale ? qlow_fp16_to_fp32(qr->col_scale[u]) : 1.0f;
            simp[ns + u++] = c * r2 * r2;
        }
    }
    for (int64_t i = 0; i < qr->rows; i++) {
        qlow__view_read_row_f32(W, i, row);
        for (int64_t j = 0, s = 0, u = 0; j < cols; j++) {
            if (qr->col_mask[j]) {
                sal[s++] = row[j];
            } else {
                float r2 = qr->col_scale ? qlow_fp16_to_fp32(qr->col_scale[u]) : 1.0f;
                uns[u++] = r2 != 0.0f ? row[j] / r2 : 0.0f;
            }
        }
        if (ns > 0) {
            qlow__qgrid g;
            if (range)
                qlow__rtn_grid_search(sal, 1, ns, ns, importance ? simp : NULL, 4, 0, range, &g, NULL);
            else
                qlow__rtn_grid_minmax(sal, 1, ns, ns, 4, 0, &g);
            qr->sal_scale[i] = g.scale_h;
            qr->sal_zero[i] = g.zero_h;
            for (int64_t s = 0; s < ns; s++) qr->sal_codes[i * ns + s] = (uint8_t)qlow__rtn_code(&g, sal[s]);
        } else {
            qr->sal_scale[i] = qr->sal_zero[i] = 0;
        }
        if (nu > 0) {
            /* `row` is free once gathered: reuse it as sort scratch (2 * nu floats fit in cols + cols). */
            qlow__binary_row(uns, nu, (importance || qr->col_scale) ? simp + ns : NULL, binary_optimal, row,
                             &qr->alpha[i], &qr->mu[i], qr->codes + i * nu);
        } else {
            qr->alpha[i] = qr->mu[i] = 0;
        }
    }
}
