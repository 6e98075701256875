/* model_grad.c - whole-model backward pass: classifier and final RMSNorm by hand, then the blocks in
 * reverse through llm_block_run. */
#include "model_grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct copy_dout {
    const float *d;
} copy_dout;

static void dout_copy(void *user, const double *y, double *dy, int T, int D)
{
    const copy_dout *c = user;
    (void)y;
    for (size_t i = 0; i < (size_t)T * D; i++) dy[i] = c->d[i];
}

typedef struct layer_grad {
    llm_layer_grad_fn fn;
    void *user;
    int layer;
} layer_grad;

static int forward_layer_grad(void *user, int kind, const float *dY, const float *X, int T, int64_t rows,
                              int64_t cols)
{
    layer_grad *g = user;
    return g->fn(g->user, g->layer, kind, dY, X, T, rows, cols);
}

static void block_weights(const llm_layer *L, llm_block_weights *bw)
{
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) bw->w[k] = L->lin[k].w;
    bw->rms_att = L->rms_att;
    bw->rms_ffn = L->rms_ffn;
}

int llm_model_grads(const llm_model *m, const int *tokens, int T, double *loss, llm_layer_grad_fn grad,
                    void *user)
{
    const llm_config *c = &m->cfg;
    const int D = c->dim, V = c->vocab_size, NL = c->n_layers;
    if (T < 2 || T > c->seq_len || !m->tok_embedding || !m->cls.w) return -1;
    for (int l = 0; l < NL; l++)
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++)
            if (!m->layers[l].lin[k].w) return -1;
    size_t TD = (size_t)T * D;
    float *xs = malloc((size_t)(NL + 1) * TD * sizeof(float)); /* block inputs, then the final residual */
    float *dx = malloc(TD * sizeof(float)), *dx_prev = malloc(TD * sizeof(float));
    double *h = malloc(TD * sizeof(double)), *dh = calloc(TD, sizeof(double)), *lg = malloc((size_t)V * sizeof(double));
    int rc = -1;
    if (!xs || !dx || !dx_prev || !h || !dh || !lg) goto done;
    for (int t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= V) goto done;
        memcpy(xs + (size_t)t * D, m->tok_embedding + (size_t)tokens[t] * D, D * sizeof(float));
    }
    llm_block_weights bw;
    for (int l = 0; l < NL; l++) {
        block_weights(&m->layers[l], &bw);
        if ((rc = llm_block_run(c, &bw, xs + l * TD, T, xs + (l + 1) * TD, NULL, NULL, NULL, NULL, NULL))) goto done;
    }
    rc = -1;
    /* Final RMSNorm, classifier, softmax cross-entropy over the T-1 scored positions. */
    const float *xf = xs + NL * TD;
    double total = 0.0;
    for (int t = 0; t + 1 < T; t++) {
        const float *x = xf + (size_t)t * D;
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += (double)x[i] * x[i];
        double r = 1.0 / sqrt(ss / D + 1e-5);
        for (int i = 0; i < D; i++) h[(size_t)t * D + i] = (double)m->rms_final[i] * x[i] * r;
        double mx = -1e300, s = 0.0;
        for (int v = 0; v < V; v++) {
            double a = 0.0;
            for (int i = 0; i < D; i++) a += h[(size_t)t * D + i] * m->cls.w[(size_t)v * D + i];
            lg[v] = a;
            if (a > mx) mx = a;
        }
        for (int v = 0; v < V; v++) s += exp(lg[v] - mx);
        total += mx + log(s) - lg[tokens[t + 1]];
        for (int v = 0; v < V; v++) {
            double g = exp(lg[v] - mx) / s - (v == tokens[t + 1]);
            g /= (double)(T - 1);
            for (int i = 0; i < D; i++) dh[(size_t)t * D + i] += g * m->cls.w[(size_t)v * D + i];
        }
        double dot = 0.0;
        for (int i = 0; i < D; i++) dot += dh[(size_t)t * D + i] * m->rms_final[i] * x[i];
        for (int i = 0; i < D; i++)
            dx[(size_t)t * D + i] = (float)(r * m->rms_final[i] * dh[(size_t)t * D + i] - x[i] * r * r * r * dot / D);
    }
    for (int i = 0; i < D; i++) dx[(size_t)(T - 1) * D + i] = 0.0f;
    *loss = total / (T - 1);
    for (int l = NL - 1; l >= 0; l--) {
        block_weights(&m->layers[l], &bw);
        copy_dout cd = {dx};
        layer_grad lgd = {grad, user, l};
        if ((rc = llm_block_run(c, &bw, xs + l * TD, T, NULL, dout_copy, &cd, dx_prev, grad ? forward_layer_grad : NULL, &lgd)))
            goto done;
        for (size_t i = 0; i < TD; i++) dx[i] = dx_prev[i];
    }
    rc = 0;
done:
    free(xs);
    free(dx);
    free(dx_prev);
    free(h);
    free(dh);
    free(lg);
    return rc;
}
