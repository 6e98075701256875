/* quantize.c - the engine's quantization pipeline: per linear, the method's library call, fed with
 * the calibration activations of that linear (Hessian, importance, activation statistics). */
#include "quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const llm_method_names[5] = {"rtn", "gptq", "qbert", "ptq161", "billm"};

int llm_method_needs_calib(llm_method m) { return m != LLM_RTN; }

typedef struct qjob {
    const llm_model *src;
    const llm_quant_opts *o;
    const llm_calib *calib;
    qlow_ctx *ctx;
    qlow_params *params;
    char *err;
    size_t errn;
} qjob;

static int fail(qjob *j, const char *what, const char *name, qlow_status s)
{
    snprintf(j->err, j->errn, "%s of %s failed: %s", what, name, qlow_status_string(s));
    return -1;
}

static void linear_name(int layer, int kind, char *buf, size_t n)
{
    if (kind == LLM_CLS) snprintf(buf, n, "classifier");
    else snprintf(buf, n, "layers.%d.%s", layer, llm_kind_names[kind]);
}

/* Mean of x_j^2 over the calibration rows of the linear's input (the diagonal Hessian up to 2/N). */
static int input_importance(qjob *j, int layer, int kind, float *imp, int64_t cols)
{
    int64_t rows, c;
    const float *x = j->calib ? llm_calib_input(j->calib, layer, kind, &rows, &c) : NULL;
    if (!x || c != cols || rows < 1) return 0;
    for (int64_t k = 0; k < cols; k++) imp[k] = 0.0f;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++) imp[k] += x[r * cols + k] * x[r * cols + k];
    for (int64_t k = 0; k < cols; k++) imp[k] /= (float)rows;
    return 1;
}

/* One library quantizer call (qlow_quantize) with the given scheme and bits. */
static int quantize_scheme(qjob *j, const llm_linear *l, int layer, int kind, int scheme, int bits, int use_imp,
                           qlow_qmatrix **out)
{
    char name[64];
    linear_name(layer, kind, name, sizeof name);
    float *imp = malloc((size_t)l->cols * sizeof(float));
    if (!imp) return fail(j, "allocation", name, QLOW_E_NO_MEMORY);
    int have = use_imp && input_importance(j, layer, kind, imp, l->cols);
    qlow_params_reset(j->params);
    qlow_status s = qlow_params_set_int(j->params, QLOW_P_SCHEME, scheme);
    if (!s && scheme == QLOW_SCHEME_RTN) s = qlow_params_set_int(j->params, QLOW_P_BITS, bits);
    if (!s && scheme == QLOW_SCHEME_RTN && j->o->group) s = qlow_params_set_int(j->params, QLOW_P_GROUP_COLS, j->o->group);
    qlow_view w;
    if (!s) s = qlow_view_init_2d(&w, QLOW_DTYPE_F32, l->rows, l->cols, (void *)(uintptr_t)l->w);
    if (!s) s = qlow_quantize(j->ctx, j->params, &w, have ? imp : NULL, out);
    free(imp);
    return s ? fail(j, "quantization", name, s) : 0;
}

static int quantize_rtn(qjob *j, const llm_linear *l, int layer, int kind, int bits, qlow_qmatrix **out)
{
    if (bits == 1) return quantize_scheme(j, l, layer, kind, QLOW_SCHEME_BINARY, 1, 0, out);
    return quantize_scheme(j, l, layer, kind, QLOW_SCHEME_RTN, bits, 0, out);
}

static int set_linear(llm_linear *l, qlow_qmatrix *q, int act_bits)
{
    l->q = q;
    l->owns_q = 1;
    l->act_bits = act_bits;
    return 0;
}

static int quantize_one(qjob *j, llm_linear *dstl, const llm_linear *l, int layer, int kind, int bits)
{
    qlow_qmatrix *q = NULL;
    int rc;
    switch (j->o->method) {
    case LLM_RTN:
        rc = quantize_rtn(j, l, layer, kind, bits, &q);
        break;
    case LLM_BILLM:
        rc = quantize_scheme(j, l, layer, kind, bits >= 2 ? QLOW_SCHEME_BINARY_RESIDUAL : QLOW_SCHEME_BINARY, 1, 1, &q);
        break;
    default:
        snprintf(j->err, j->errn, "method %s is not available in this build", llm_method_names[j->o->method]);
        return -1;
    }
    if (rc) return rc;
    return set_linear(dstl, q, j->o->act_bits);
}

int llm_quantize_model(const llm_model *src, const llm_quant_opts *o, const llm_calib *calib, qlow_ctx *ctx,
                       llm_model *dst, void (*progress)(void *, int, int), void *pu, char *err, size_t errn)
{
    const llm_config *c = &src->cfg;
    qjob j = {src, o, calib, ctx, NULL, err, errn};
    if (llm_method_needs_calib(o->method) && !calib) {
        snprintf(err, errn, "method %s needs calibration data", llm_method_names[o->method]);
        return -1;
    }
    llm_model m = *src;
    m.fp32_storage = NULL;
    m.cleanup = NULL;
    m.cleanup_user = NULL;
    m.layers = malloc((size_t)c->n_layers * sizeof *m.layers);
    if (!m.layers) {
        snprintf(err, errn, "out of memory");
        return -1;
    }
    memcpy(m.layers, src->layers, (size_t)c->n_layers * sizeof *m.layers);
    if (qlow_params_create(NULL, &j.params)) {
        free(m.layers);
        snprintf(err, errn, "out of memory");
        return -1;
    }
    int total = c->n_layers * LLM_N_BLOCK_KINDS + (o->embed_bits ? 1 : 0), done = 0, rc = 0;
    int bits = o->bits ? o->bits : (int)floor(o->budget + 0.5);
    for (int l = 0; l < c->n_layers && !rc; l++)
        for (int k = 0; k < LLM_N_BLOCK_KINDS && !rc; k++) {
            rc = quantize_one(&j, &m.layers[l].lin[k], &src->layers[l].lin[k], l, k, bits);
            if (progress) progress(pu, ++done, total);
        }
    if (!rc && o->embed_bits) {
        qlow_qmatrix *q = NULL;
        rc = quantize_scheme(&j, &src->cls, -1, LLM_CLS, QLOW_SCHEME_RTN, o->embed_bits, 0, &q);
        if (!rc) {
            set_linear(&m.cls, q, o->act_bits);
            if (c->shared_classifier) m.tok_embedding = NULL;
        }
        if (progress) progress(pu, ++done, total);
    }
    qlow_params_destroy(j.params);
    if (rc) {
        for (int l = 0; l < c->n_layers; l++)
            for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) llm_qlinear_release(&m.layers[l].lin[k]);
        llm_qlinear_release(&m.cls);
        free(m.layers);
        return -1;
    }
    *dst = m;
    return 0;
}
