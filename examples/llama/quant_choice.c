/* quant_choice.c - quantizing one linear with one choice through the library, and the choice menus. */
#include "quant_choice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qjob_fail(qjob *j, const char *what, const char *name, qlow_status s)
{
    snprintf(j->err, j->errn, "%s of %s failed: %s", what, name, qlow_status_string(s));
    return -1;
}

void qjob_set_linear(const qjob *j, llm_linear *l, qlow_qmatrix *q)
{
    l->q = q;
    l->owns_q = 1;
    l->act_bits = j->o->act_bits;
}

const qlow_hessian *qjob_hessian(const qjob *j, int layer, int kind)
{
    if (!j->hess || layer < 0 || kind == LLM_CLS) return NULL;
    return j->hess[layer * LLM_N_INPUTS + llm_kind_input(kind)];
}

int qchoice_menu(const llm_quant_opts *o, qchoice *out)
{
    int n = 0;
    if (o->method == LLM_BILLM) {
        out[n++] = (qchoice){"B1", QLOW_SCHEME_BINARY, 1, 0, 1, 1, 0, 0, 0.0, 0};
        out[n++] = (qchoice){"B2", QLOW_SCHEME_BINARY_RESIDUAL, 1, 0, 1, 1, 0, 0, 0.0, 0};
        return n;
    }
    if (o->method == LLM_PTQ161) {
        /* PTQ1.61 at a budget: the salient-column count per linear (4-bit salient, binary rest) in whole
         * 32-column blocks. M161 pads both parts to 32 columns, so any other count pays for the padding
         * anyway: on a 64-column row 13 salient columns (20%) cost exactly as much as 32. */
        for (int b = 0; b <= 3; b++) out[n++] = (qchoice){"M161", 0, 0, 0, 1, 1, 0, 1, (double)b, 1};
        return n;
    }
    /* Q-BERT: uniform widths with per-row or 4-row group scales (its group-wise quantization), each
     * with GPTQ error compensation, plus binary for the least sensitive linears at sub-2-bit budgets. */
    out[n++] = (qchoice){"B1", QLOW_SCHEME_BINARY, 1, 0, 1, 1, 0, 0, 0.0, 0};
    static const int widths[3] = {2, 3, 4};
    for (int i = 0; i < 3; i++) {
        out[n++] = (qchoice){"Q rows4", QLOW_SCHEME_RTN, widths[i], 0, 4, 1, 1, 0, 0.0, 0};
        out[n++] = (qchoice){"Q row", QLOW_SCHEME_RTN, widths[i], 0, 1, 1, 1, 0, 0.0, 0};
    }
    out[n++] = (qchoice){"Q8 row", QLOW_SCHEME_RTN, 8, 0, 1, 1, 1, 0, 0.0, 0};
    return n;
}

double qchoice_ratio_for_count(int64_t n, int64_t cols)
{
    if (n <= 0) return 0.0;
    if (n >= cols) return 1.0;
    return ((double)n - 0.5) / (double)cols; /* floor(r * cols) = n - 1 */
}

double qchoice_ratio(const qchoice *ch, int64_t cols)
{
    return ch->salient_blocks ? qchoice_ratio_for_count((int64_t)ch->salient * 32, cols) : ch->salient;
}

static qlow_status hessian_diag(const qjob *j, int layer, int kind, int64_t cols, float **out)
{
    const qlow_hessian *h = qjob_hessian(j, layer, kind);
    *out = NULL;
    if (!h) return QLOW_OK;
    float *d = malloc((size_t)cols * sizeof *d);
    if (!d) return QLOW_E_NO_MEMORY;
    qlow_status s = qlow_hessian_diag(h, d, cols);
    if (s) free(d);
    else *out = d;
    return s;
}

/* PTQ1.61 of one linear from its calibration inputs: salient-column mask from activation statistics,
 * 4-bit salient columns, binarized rest with optimized scales, packed as M161. */
static int quantize_ptq161(qjob *j, const llm_linear *l, int layer, int kind, const qchoice *ch, const char *name,
                           qlow_qmatrix **out)
{
    int64_t rows = 0, cols = 0;
    const float *x = j->calib ? llm_calib_input(j->calib, layer, kind, &rows, &cols) : NULL;
    if (!x || cols != l->cols) {
        snprintf(j->err, j->errn, "%s: PTQ1.61 needs calibration inputs", name);
        return -1;
    }
    float *fold = malloc((size_t)l->cols * sizeof *fold);
    if (!fold) return qjob_fail(j, "allocation", name, QLOW_E_NO_MEMORY);
    qlow_params *p = j->params;
    qlow_params_reset(p);
    const double ratio = qchoice_ratio(ch, l->cols);
    qlow_status s = ratio >= 0 ? qlow_params_set_float(p, QLOW_MASK_RATIO, ratio) : QLOW_OK;
    /* GPTQ-style compensation of the quantized columns (our extension): lower held-out output error on
     * every stories260K linear, at any salient count. */
    if (!s) s = qlow_params_set_int(p, QLOW_PTQ161_GPTQ, 1);
    qlow_view w, xv;
    if (!s) s = qlow_view_init_2d(&w, QLOW_DTYPE_F32, l->rows, l->cols, (void *)(uintptr_t)l->w);
    if (!s) s = qlow_view_init_2d(&xv, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)x);
    if (!s) s = qlow_ptq161_quantize(j->ctx, p, &w, &xv, NULL, out, fold);
    free(fold);
    return s ? qjob_fail(j, "PTQ1.61", name, s) : 0;
}

int qchoice_quantize(qjob *j, const llm_linear *l, int layer, int kind, const qchoice *ch, qlow_qmatrix **out)
{
    char name[64];
    if (kind == LLM_CLS) snprintf(name, sizeof name, "the classifier");
    else snprintf(name, sizeof name, "layers.%d.%s", layer, llm_kind_names[kind]);
    if (ch->ptq161) return quantize_ptq161(j, l, layer, kind, ch, name, out);
    float *imp = NULL;
    qlow_status s = ch->importance ? hessian_diag(j, layer, kind, l->cols, &imp) : QLOW_OK;
    qlow_params *p = j->params;
    qlow_params_reset(p);
    if (!s) s = qlow_params_set_int(p, QLOW_P_SCHEME, ch->scheme);
    if (!s && ch->scheme == QLOW_SCHEME_RTN) {
        s = qlow_params_set_int(p, QLOW_P_BITS, ch->bits);
        if (!s && ch->group_cols) s = qlow_params_set_int(p, QLOW_P_GROUP_COLS, ch->group_cols);
        if (!s && ch->group_rows > 1) s = qlow_params_set_int(p, QLOW_P_GROUP_ROWS, ch->group_rows);
    }
    /* Plain binarization (alpha = mean |w - mu|, the classic sign rule) unless importance-weighted. */
    if (!s && ch->scheme == QLOW_SCHEME_BINARY && !ch->importance) s = qlow_params_set_int(p, QLOW_P_BINARY_OPTIMAL, 0);
    qlow_view w;
    if (!s) s = qlow_view_init_2d(&w, QLOW_DTYPE_F32, l->rows, l->cols, (void *)(uintptr_t)l->w);
    if (!s && ch->gptq) {
        const qlow_hessian *h = qjob_hessian(j, layer, kind);
        s = h ? qlow_gptq_quantize(j->ctx, p, &w, h, out) : QLOW_E_STATE;
    } else if (!s) {
        s = qlow_quantize(j->ctx, p, &w, imp, out);
    }
    free(imp);
    return s ? qjob_fail(j, "quantization", name, s) : 0;
}

qlow_status qchoice_cost(qjob *j, const llm_linear *l, int layer, int kind, const qlow_qmatrix *q, double *cost)
{
    if (!j->sens) return QLOW_E_STATE;
    size_t n = (size_t)(l->rows * l->cols);
    float *dw = malloc(n * sizeof *dw);
    if (!dw) return QLOW_E_NO_MEMORY;
    qlow_status s = qlow_qmatrix_dequantize(q, 0, l->rows, dw, n);
    if (!s) {
        for (size_t i = 0; i < n; i++) dw[i] -= l->w[i];
        *cost = llm_sens_cost(j->sens, layer, kind, dw);
    }
    free(dw);
    return s;
}
