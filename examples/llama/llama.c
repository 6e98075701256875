/* llama.c - model loading (llama2.c checkpoints) and the forward pass of the reference engine. */
#include "llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const llm_kind_names[8] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3", "cls"};

void llm_model_free(llm_model *m)
{
    if (!m) return;
    if (m->layers)
        for (int l = 0; l < m->cfg.n_layers; l++)
            for (int k = 0; k < LLM_N_BLOCK_KINDS; k++)
                llm_qlinear_release(&m->layers[l].lin[k]);
    llm_qlinear_release(&m->cls);
    if (m->cleanup) m->cleanup(m->cleanup_user);
    free(m->layers);
    free(m->fp32_storage);
    memset(m, 0, sizeof *m);
}

int llm_model_act_variant(const llm_model *src, int act_bits, llm_model *dst)
{
    llm_layer *layers = malloc((size_t)src->cfg.n_layers * sizeof *layers);
    if (!layers) return -1;
    memcpy(layers, src->layers, (size_t)src->cfg.n_layers * sizeof *layers);
    *dst = *src;
    dst->layers = layers;
    dst->fp32_storage = NULL;
    dst->cleanup = NULL;
    dst->cleanup_user = NULL;
    for (int l = 0; l < src->cfg.n_layers; l++)
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
            layers[l].lin[k].owns_q = 0;
            if (layers[l].lin[k].q) layers[l].lin[k].act_bits = act_bits;
        }
    dst->cls.owns_q = 0;
    if (dst->cls.q) dst->cls.act_bits = act_bits;
    return 0;
}

void llm_model_free_variant(llm_model *m)
{
    free(m->layers);
    memset(m, 0, sizeof *m);
}

int64_t llm_linear_weights(const llm_linear *l) { return l->rows * l->cols; }

/* Eight partial sums so the compiler can keep them in one vector register. */
static float dot_f32(const float *a, const float *b, int64_t n)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

qlow_status llm_linear_apply(const llm_linear *l, qlow_ctx *ctx, llm_wksp *w, const float *x, int64_t n, float *y)
{
    if (l->q) return llm_qlinear_apply(l, ctx, w, x, n, y);
    const int64_t R = l->rows, C = l->cols;
    for (int64_t t = 0; t < n; t++) {
        const float *xt = x + t * C;
        float *yt = y + t * R;
        for (int64_t r = 0; r < R; r++) yt[r] = dot_f32(xt, l->w + r * C, C);
    }
    return QLOW_OK;
}

int llm_state_init(llm_state *s, const llm_model *m, qlow_ctx *ctx, int max_batch)
{
    const llm_config *c = &m->cfg;
    memset(s, 0, sizeof *s);
    if (max_batch < 1) max_batch = 1;
    if (max_batch > c->seq_len) max_batch = c->seq_len;
    s->m = m;
    s->ctx = ctx;
    s->max_batch = max_batch;
    size_t kv = (size_t)c->dim * c->n_kv_heads / c->n_heads;
    size_t B = (size_t)max_batch;
    s->key_cache = calloc((size_t)c->n_layers * c->seq_len * kv, sizeof(float));
    s->value_cache = calloc((size_t)c->n_layers * c->seq_len * kv, sizeof(float));
    s->x = calloc(B * c->dim, sizeof(float));
    s->xb = calloc(B * c->dim, sizeof(float));
    s->xb2 = calloc(B * c->dim, sizeof(float));
    s->q = calloc(B * c->dim, sizeof(float));
    s->k = calloc(B * kv, sizeof(float));
    s->v = calloc(B * kv, sizeof(float));
    s->hb = calloc(B * c->hidden_dim, sizeof(float));
    s->hb2 = calloc(B * c->hidden_dim, sizeof(float));
    s->att = calloc((size_t)c->seq_len, sizeof(float));
    if (!s->key_cache || !s->value_cache || !s->x || !s->xb || !s->xb2 || !s->q || !s->k || !s->v || !s->hb ||
        !s->hb2 || !s->att) {
        llm_state_free(s);
        return -1;
    }
    return 0;
}

void llm_state_free(llm_state *s)
{
    free(s->key_cache);
    free(s->value_cache);
    free(s->x);
    free(s->xb);
    free(s->xb2);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->hb);
    free(s->hb2);
    free(s->att);
    llm_wksp_free(&s->wksp);
    memset(s, 0, sizeof *s);
}

static void rmsnorm(float *o, const float *x, const float *w, int n)
{
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    ss = 1.0f / sqrtf(ss / (float)n + 1e-5f);
    for (int i = 0; i < n; i++) o[i] = w[i] * (ss * x[i]);
}

/* RoPE on interleaved pairs (2i, 2i+1) within each head, theta 10000. */
static void rope(float *v, int n, int head_size, int pos)
{
    for (int i = 0; i < n; i += 2) {
        int hd = i % head_size;
        float freq = 1.0f / powf(10000.0f, (float)hd / (float)head_size);
        float a = (float)pos * freq, cr = cosf(a), ci = sinf(a);
        float v0 = v[i], v1 = v[i + 1];
        v[i] = v0 * cr - v1 * ci;
        v[i + 1] = v0 * ci + v1 * cr;
    }
}

static qlow_status run_linear(llm_state *s, int layer, int kind, const llm_linear *l, const float *x, int n,
                              float *y)
{
    if (s->capture) s->capture(s->capture_user, layer, kind, x, n, l->cols);
    return llm_linear_apply(l, s->ctx, &s->wksp, x, n, y);
}

static void attention(llm_state *s, int l, int n, int pos0)
{
    const llm_config *c = &s->m->cfg;
    const int D = c->dim, hs = D / c->n_heads, kvd = D * c->n_kv_heads / c->n_heads;
    const int rep = c->n_heads / c->n_kv_heads;
    const float *kc = s->key_cache + (size_t)l * c->seq_len * kvd;
    const float *vc = s->value_cache + (size_t)l * c->seq_len * kvd;
    const float inv = 1.0f / sqrtf((float)hs);
    for (int t = 0; t < n; t++) {
        int pos = pos0 + t;
        for (int h = 0; h < c->n_heads; h++) {
            const float *q = s->q + (size_t)t * D + h * hs;
            const int kh = h / rep;
            float *att = s->att;
            float mx = -INFINITY;
            for (int p = 0; p <= pos; p++) {
                const float *k = kc + (size_t)p * kvd + kh * hs;
                float sc = 0.0f;
                for (int i = 0; i < hs; i++) sc += q[i] * k[i];
                att[p] = sc * inv;
                if (att[p] > mx) mx = att[p];
            }
            float sum = 0.0f;
            for (int p = 0; p <= pos; p++) {
                att[p] = expf(att[p] - mx);
                sum += att[p];
            }
            float *o = s->xb + (size_t)t * D + h * hs;
            for (int i = 0; i < hs; i++) o[i] = 0.0f;
            for (int p = 0; p <= pos; p++) {
                const float *v = vc + (size_t)p * kvd + kh * hs;
                float a = att[p] / sum;
                for (int i = 0; i < hs; i++) o[i] += a * v[i];
            }
        }
    }
}

qlow_status llm_forward(llm_state *s, const int *tokens, int n, int pos0, float *logits, int all_logits)
{
    const llm_model *m = s->m;
    const llm_config *c = &m->cfg;
    if (n < 1 || n > s->max_batch || pos0 < 0 || pos0 + n > c->seq_len) return QLOW_E_INVALID_ARG;
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size) return QLOW_E_INVALID_ARG;
    const int D = c->dim, Hd = c->hidden_dim, hs = D / c->n_heads, kvd = D * c->n_kv_heads / c->n_heads;
    qlow_status st;
    for (int t = 0; t < n; t++) {
        if (m->tok_embedding) memcpy(s->x + (size_t)t * D, m->tok_embedding + (size_t)tokens[t] * D, D * sizeof(float));
        else if ((st = llm_qlinear_row(&m->cls, tokens[t], s->x + (size_t)t * D))) return st;
    }

    for (int l = 0; l < c->n_layers; l++) {
        const llm_layer *L = &m->layers[l];
        for (int t = 0; t < n; t++) rmsnorm(s->xb + (size_t)t * D, s->x + (size_t)t * D, L->rms_att, D);
        if ((st = run_linear(s, l, LLM_WQ, &L->lin[LLM_WQ], s->xb, n, s->q))) return st;
        if ((st = run_linear(s, l, LLM_WK, &L->lin[LLM_WK], s->xb, n, s->k))) return st;
        if ((st = run_linear(s, l, LLM_WV, &L->lin[LLM_WV], s->xb, n, s->v))) return st;
        float *kc = s->key_cache + (size_t)l * c->seq_len * kvd;
        float *vc = s->value_cache + (size_t)l * c->seq_len * kvd;
        for (int t = 0; t < n; t++) {
            rope(s->q + (size_t)t * D, D, hs, pos0 + t);
            rope(s->k + (size_t)t * kvd, kvd, hs, pos0 + t);
            memcpy(kc + (size_t)(pos0 + t) * kvd, s->k + (size_t)t * kvd, kvd * sizeof(float));
            memcpy(vc + (size_t)(pos0 + t) * kvd, s->v + (size_t)t * kvd, kvd * sizeof(float));
        }
        attention(s, l, n, pos0);
        if ((st = run_linear(s, l, LLM_WO, &L->lin[LLM_WO], s->xb, n, s->xb2))) return st;
        for (size_t i = 0; i < (size_t)n * D; i++) s->x[i] += s->xb2[i];

        for (int t = 0; t < n; t++) rmsnorm(s->xb + (size_t)t * D, s->x + (size_t)t * D, L->rms_ffn, D);
        if ((st = run_linear(s, l, LLM_W1, &L->lin[LLM_W1], s->xb, n, s->hb))) return st;
        if ((st = run_linear(s, l, LLM_W3, &L->lin[LLM_W3], s->xb, n, s->hb2))) return st;
        for (size_t i = 0; i < (size_t)n * Hd; i++) {
            float g = s->hb[i];
            s->hb[i] = g / (1.0f + expf(-g)) * s->hb2[i];
        }
        if ((st = run_linear(s, l, LLM_W2, &L->lin[LLM_W2], s->hb, n, s->xb))) return st;
        for (size_t i = 0; i < (size_t)n * D; i++) s->x[i] += s->xb[i];
    }
    int first = all_logits ? 0 : n - 1;
    int cnt = n - first;
    for (int t = first; t < n; t++) rmsnorm(s->xb + (size_t)(t - first) * D, s->x + (size_t)t * D, m->rms_final, D);
    return run_linear(s, -1, LLM_CLS, &m->cls, s->xb, cnt, logits);
}
