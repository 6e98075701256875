/* blockwise.c - block-wise PTQ1.61: engine forward/backward, library scale optimizer. */
#include "blockwise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_grad.h"

typedef struct grad_ctx {
    qlow_scaleopt *opt;
    const int32_t *ids;
    qlow_status status;
} grad_ctx;

static int to_scaleopt(void *user, int kind, const float *dY, const float *X, int T, int64_t rows, int64_t cols)
{
    grad_ctx *g = user;
    qlow_view dy, x;
    qlow_status s = qlow_view_init_2d(&dy, QLOW_DTYPE_F32, T, rows, (void *)(uintptr_t)dY);
    if (!s) s = qlow_view_init_2d(&x, QLOW_DTYPE_F32, T, cols, (void *)(uintptr_t)X);
    if (!s) s = qlow_scaleopt_grad_dy(g->opt, g->ids[kind], &dy, &x);
    g->status = s;
    return s ? 1 : 0;
}

/* Each linear starts from the layer-wise PTQ1.61 result on its calibration inputs (mask at its salient
 * ratio, closed-form and Adam scale fit, GPTQ compensation): the block-wise steps then refine that
 * optimum. Started from the plain alpha init instead, 40 steps end worse than layer-wise on stories260K. */
static qlow_status add_linears(qlow_scaleopt *opt, const llm_layer *L, const llm_calib *calib, int layer,
                               const qlow_params *params, const double *ratios, qlow_params *fit, int32_t *ids)
{
    qlow_status s = QLOW_OK;
    for (int k = 0; k < LLM_N_BLOCK_KINDS && !s; k++) {
        const llm_linear *l = &L->lin[k];
        int64_t rows = 0, cols = 0;
        const float *x = llm_calib_input(calib, layer, k, &rows, &cols);
        if (!x || cols != l->cols) return QLOW_E_STATE;
        double ratio = -1.0;
        if (ratios) ratio = ratios[layer * LLM_N_BLOCK_KINDS + k];
        else if (params) qlow_params_get_float(params, QLOW_MASK_RATIO, &ratio);
        qlow_view xv, wv;
        qlow_params_reset(fit);
        if (ratio >= 0) s = qlow_params_set_float(fit, QLOW_MASK_RATIO, ratio);
        if (!s) s = qlow_params_set_int(fit, QLOW_PTQ161_GPTQ, 1);
        if (!s) s = qlow_view_init_2d(&xv, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)x);
        if (!s) s = qlow_view_init_2d(&wv, QLOW_DTYPE_F32, l->rows, l->cols, (void *)(uintptr_t)l->w);
        if (!s) s = qlow_scaleopt_add_fitted(opt, fit, &wv, &xv, &ids[k]);
    }
    return s;
}

int llm_ptq161_blockwise(const llm_model *src, const llm_calib *calib, qlow_ctx *ctx, const qlow_params *params,
                         const double *ratios, int windows, int steps, llm_layer *dst_layers, int act_bits, char *err,
                         size_t errn)
{
    const llm_config *c = &src->cfg;
    const int W = calib->window, D = c->dim;
    if (windows > calib->rows / W) windows = (int)(calib->rows / W);
    if (windows < 1 || W < 2 || !src->tok_embedding) {
        snprintf(err, errn, "block-wise PTQ1.61 needs at least one full calibration window");
        return -1;
    }
    double lambda_cos = 1.0;
    if (params) qlow_params_get_float(params, QLOW_SCALE_LAMBDA_COS, &lambda_cos);
    size_t TD = (size_t)W * D, NT = (size_t)windows * TD;
    /* Two streams as in the authors' code (ptq161.md §2.5): xf the fp32 model's, xq the quantized
     * model's. Block l's quantized copy runs on xq; its target is the mean of the fp32 block on xf and
     * on xq (the mean of the two MSE targets gives the same MSE gradient as the two-term loss; the cosine
     * term is taken against the mean too). */
    float *xf = malloc(NT * sizeof(float)), *xq = malloc(NT * sizeof(float));
    float *yf = malloc(NT * sizeof(float)), *tg = malloc(NT * sizeof(float));
    float *what[LLM_N_BLOCK_KINDS] = {0};
    qlow_params *fit = NULL;
    int rc = -1;
    if (!xf || !xq || !yf || !tg || qlow_params_create(NULL, &fit)) goto oom;
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++)
        if (!(what[k] = malloc((size_t)llm_linear_weights(&src->layers[0].lin[k]) * sizeof(float)))) goto oom;
    for (int w = 0; w < windows; w++)
        for (int t = 0; t < W; t++)
            memcpy(xf + w * TD + (size_t)t * D, src->tok_embedding + (size_t)calib->tokens[w * W + t] * D,
                   D * sizeof(float));
    memcpy(xq, xf, NT * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        const llm_layer *L = &src->layers[l];
        llm_block_weights fp = {{0}, L->rms_att, L->rms_ffn};
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) fp.w[k] = L->lin[k].w;
        for (int w = 0; w < windows; w++)
            if (llm_block_run(c, &fp, xf + w * TD, W, yf + w * TD, NULL, NULL, NULL, NULL, NULL) ||
                llm_block_run(c, &fp, xq + w * TD, W, tg + w * TD, NULL, NULL, NULL, NULL, NULL))
                goto oom;
        for (size_t i = 0; i < NT; i++) tg[i] = 0.5f * (tg[i] + yf[i]);
        qlow_scaleopt *opt = NULL;
        int32_t ids[LLM_N_BLOCK_KINDS];
        qlow_status s = qlow_scaleopt_create(ctx, params, &opt);
        if (!s) s = add_linears(opt, L, calib, l, params, ratios, fit, ids);
        for (int it = 0; it < steps && !s; it++) {
            llm_block_weights bw = fp;
            for (int k = 0; k < LLM_N_BLOCK_KINDS && !s; k++) {
                s = qlow_scaleopt_weight(opt, ids[k], what[k]);
                bw.w[k] = what[k];
            }
            grad_ctx g = {opt, ids, QLOW_OK};
            for (int w = 0; w < windows && !s; w++) {
                double loss;
                int e = llm_block_loss_grad(c, &bw, xq + w * TD, tg + w * TD, W, lambda_cos, &loss, NULL, to_scaleopt, &g);
                s = g.status ? g.status : e ? QLOW_E_NO_MEMORY : QLOW_OK;
            }
            if (!s) s = qlow_scaleopt_step(opt);
        }
        llm_block_weights qw = fp; /* the packed result, as the engine will run it */
        for (int k = 0; k < LLM_N_BLOCK_KINDS && !s; k++) {
            qlow_qmatrix *q = NULL;
            const llm_linear *sl = &L->lin[k];
            s = qlow_scaleopt_quantize(opt, ids[k], &q);
            if (!s) s = qlow_qmatrix_dequantize(q, 0, sl->rows, what[k], (size_t)llm_linear_weights(sl));
            if (!s) {
                llm_qlinear_release(&dst_layers[l].lin[k]); /* a planned layer-wise result, if any */
                dst_layers[l].lin[k].q = q;
                dst_layers[l].lin[k].owns_q = 1;
                dst_layers[l].lin[k].act_bits = act_bits;
                qw.w[k] = what[k];
            } else {
                qlow_qmatrix_destroy(q);
            }
        }
        qlow_scaleopt_destroy(opt);
        if (s) {
            snprintf(err, errn, "block-wise PTQ1.61 of layer %d failed: %s", l, qlow_status_string(s));
            goto done;
        }
        /* Advance both streams: xf through the fp32 block (already in yf), xq through the packed one. */
        for (int w = 0; w < windows; w++)
            if (llm_block_run(c, &qw, xq + w * TD, W, tg + w * TD, NULL, NULL, NULL, NULL, NULL)) goto oom;
        float *tmp = xf;
        xf = yf;
        yf = tmp;
        tmp = xq;
        xq = tg;
        tg = tmp;
    }
    rc = 0;
    goto done;
oom:
    snprintf(err, errn, "out of memory in block-wise PTQ1.61");
done:
    qlow_params_destroy(fit);
    free(xf);
    free(xq);
    free(yf);
    free(tg);
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) free(what[k]);
    return rc;
}
