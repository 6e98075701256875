/* sens.c - Gauss-Newton output sensitivities from whole-model backpropagation of calibration windows. */
#include "sens.h"

#include <stdlib.h>
#include <string.h>

#include "model_grad.h"

typedef struct collect_ctx {
    llm_sens *s;
    int base; /* first token row of the current window */
} collect_ctx;

static int collect(void *user, int layer, int kind, const float *dY, const float *X, int T, int64_t rows,
                   int64_t cols)
{
    collect_ctx *c = user;
    int i = layer * LLM_N_BLOCK_KINDS + kind;
    float *d = c->s->dy2[i] + (size_t)c->base * rows, *x = c->s->x[i] + (size_t)c->base * cols;
    /* Scored positions only: the last token of a window predicts nothing. */
    for (int64_t k = 0; k < (int64_t)T * rows; k++) d[k] = dY[k] * dY[k];
    memcpy(x, X, (size_t)T * cols * sizeof(float));
    return 0;
}

void llm_sens_free(llm_sens *s)
{
    for (int i = 0; i < s->n_layers * LLM_N_BLOCK_KINDS; i++) {
        if (s->dy2) free(s->dy2[i]);
        if (s->x) free(s->x[i]);
    }
    free(s->dy2);
    free(s->x);
    memset(s, 0, sizeof *s);
}

int llm_sens_build(const llm_model *m, const llm_calib *calib, int windows, llm_sens *out)
{
    const llm_config *c = &m->cfg;
    memset(out, 0, sizeof *out);
    int W = calib->window;
    int64_t avail = calib->rows / (W > 0 ? W : 1);
    if (windows > avail) windows = (int)avail;
    if (windows < 1) return -1;
    out->n_layers = c->n_layers;
    out->tokens = windows * W;
    const int NL = c->n_layers * LLM_N_BLOCK_KINDS;
    out->dy2 = calloc((size_t)NL, sizeof(float *));
    out->x = calloc((size_t)NL, sizeof(float *));
    if (!out->dy2 || !out->x) goto fail;
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
        out->rows[k] = m->layers[0].lin[k].rows;
        out->cols[k] = m->layers[0].lin[k].cols;
    }
    for (int i = 0; i < NL; i++) {
        int k = i % LLM_N_BLOCK_KINDS;
        out->dy2[i] = malloc((size_t)out->tokens * out->rows[k] * sizeof(float));
        out->x[i] = malloc((size_t)out->tokens * out->cols[k] * sizeof(float));
        if (!out->dy2[i] || !out->x[i]) goto fail;
    }
    for (int w = 0; w < windows; w++) {
        collect_ctx cc = {out, w * W};
        double loss;
        if (llm_model_grads(m, calib->tokens + (size_t)w * W, W, &loss, collect, &cc)) goto fail;
    }
    return 0;
fail:
    llm_sens_free(out);
    return -1;
}

double llm_sens_cost(const llm_sens *s, int layer, int kind, const float *dW)
{
    const int i = layer * LLM_N_BLOCK_KINDS + kind;
    const int64_t R = s->rows[kind], C = s->cols[kind];
    double total = 0.0;
    for (int t = 0; t < s->tokens; t++) {
        const float *x = s->x[i] + (size_t)t * C, *g = s->dy2[i] + (size_t)t * R;
        for (int64_t r = 0; r < R; r++) {
            if (g[r] == 0.0f) continue;
            const float *d = dW + r * C;
            double e = 0.0;
            for (int64_t k = 0; k < C; k++) e += (double)d[k] * x[k];
            total += (double)g[r] * e * e;
        }
    }
    return total;
}
