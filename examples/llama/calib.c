/* calib.c - capture of every linear's input activations over calibration text. */
#include "calib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int llm_kind_input(int kind)
{
    switch (kind) {
    case LLM_WQ: case LLM_WK: case LLM_WV: return LLM_IN_ATTN;
    case LLM_WO: return LLM_IN_WO;
    case LLM_W1: case LLM_W3: return LLM_IN_FFN;
    case LLM_W2: return LLM_IN_W2;
    default: return LLM_IN_CLS;
    }
}

typedef struct capture_ctx {
    llm_calib *c;
    int64_t base; /* row where the current forward's tokens go */
} capture_ctx;

static void capture(void *user, int layer, int kind, const float *x, int64_t n, int64_t cols)
{
    capture_ctx *cc = user;
    llm_calib *c = cc->c;
    /* Only the first linear reading each input stores it. */
    if (kind == LLM_WK || kind == LLM_WV || kind == LLM_W3) return;
    int slot = llm_kind_input(kind);
    int l = layer < 0 ? 0 : layer;
    float *dst = c->x[l * LLM_N_INPUTS + slot];
    if (!dst || cols != c->cols[slot] || cc->base + n > c->cap) return;
    memcpy(dst + cc->base * cols, x, (size_t)(n * cols) * sizeof(float));
}

void llm_calib_free(llm_calib *c)
{
    if (c->x)
        for (int i = 0; i < c->n_layers * LLM_N_INPUTS; i++) free(c->x[i]);
    free(c->x);
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

const float *llm_calib_input(const llm_calib *c, int layer, int kind, int64_t *rows, int64_t *cols)
{
    int slot = llm_kind_input(kind);
    int l = slot == LLM_IN_CLS ? 0 : layer;
    if (l < 0 || l >= c->n_layers) return NULL;
    *rows = c->rows;
    *cols = c->cols[slot];
    return c->x[l * LLM_N_INPUTS + slot];
}

int llm_calib_run(const llm_model *m, qlow_ctx *ctx, const llm_tokenizer *t, const char *text, size_t len,
                  int window, int64_t max_tokens, llm_calib *out, void (*progress)(void *, int, int), void *pu,
                  char *err, size_t errn)
{
    const llm_config *cf = &m->cfg;
    int *stream = NULL;
    memset(out, 0, sizeof *out);
    if (window > cf->seq_len) window = cf->seq_len;
    if (window < 2 || max_tokens < 1) {
        snprintf(err, errn, "calibration window and token count must be positive");
        return -1;
    }
    long ns = llm_tokenizer_encode(t, text, len, 0, &stream);
    if (ns < 0) {
        snprintf(err, errn, "out of memory");
        return -1;
    }
    if (ns < 1) {
        free(stream);
        snprintf(err, errn, "calibration text is empty");
        return -1;
    }
    /* Every window contributes its BOS position too, as the model sees it at inference. */
    int64_t per = window, n_win = (max_tokens + per - 1) / per;
    int64_t avail = (ns + window - 2) / (window - 1);
    if (n_win > avail) n_win = avail;
    out->n_layers = cf->n_layers;
    out->cap = n_win * window;
    out->cols[LLM_IN_ATTN] = out->cols[LLM_IN_WO] = out->cols[LLM_IN_FFN] = out->cols[LLM_IN_CLS] = cf->dim;
    out->cols[LLM_IN_W2] = cf->hidden_dim;
    out->window = window;
    out->x = calloc((size_t)cf->n_layers * LLM_N_INPUTS, sizeof(float *));
    out->tokens = malloc((size_t)out->cap * sizeof(int));
    if (!out->x || !out->tokens) goto oom;
    for (int l = 0; l < cf->n_layers; l++)
        for (int s = 0; s < LLM_N_INPUTS; s++) {
            if (s == LLM_IN_CLS && l > 0) continue;
            if (!(out->x[l * LLM_N_INPUTS + s] = malloc((size_t)(out->cap * out->cols[s]) * sizeof(float)))) goto oom;
        }
    llm_state st;
    int *win = malloc((size_t)window * sizeof *win);
    if (!win || llm_state_init(&st, m, ctx, window)) {
        free(win);
        goto oom;
    }
    float *logits = malloc((size_t)window * cf->vocab_size * sizeof(float));
    if (!logits) {
        free(win);
        llm_state_free(&st);
        goto oom;
    }
    capture_ctx cc = {out, 0};
    st.capture = capture;
    st.capture_user = &cc;
    qlow_status s = QLOW_OK;
    for (int64_t w = 0; w < n_win && !s; w++) {
        int64_t p = w * (window - 1);
        int n = (int)(ns - p < window - 1 ? ns - p : window - 1);
        win[0] = 1;
        memcpy(win + 1, stream + p, (size_t)n * sizeof *win);
        cc.base = out->rows;
        memcpy(out->tokens + out->rows, win, (size_t)(n + 1) * sizeof *win);
        s = llm_forward(&st, win, n + 1, 0, logits, 1);
        out->rows += n + 1;
        if (progress) progress(pu, (int)(w + 1), (int)n_win);
    }
    free(logits);
    free(win);
    llm_state_free(&st);
    free(stream);
    if (s) {
        llm_calib_free(out);
        snprintf(err, errn, "calibration forward failed: %s", qlow_status_string(s));
        return -1;
    }
    return 0;
oom:
    free(stream);
    llm_calib_free(out);
    snprintf(err, errn, "out of memory for calibration activations");
    return -1;
}
