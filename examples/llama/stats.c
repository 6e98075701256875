/* stats.c - model bytes and bits/weight, and batch-1 prompt/decode throughput. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampler.h"

static void count_linear(const llm_linear *l, llm_size *s)
{
    int64_t n = llm_linear_weights(l);
    s->linear_weights += n;
    if (l->q) {
        s->quant_weights += n;
        s->quant_bits += llm_qlinear_bits(l);
    } else {
        s->fp32_params += n;
    }
}

void llm_model_size(const llm_model *m, llm_size *s)
{
    const llm_config *c = &m->cfg;
    memset(s, 0, sizeof *s);
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) count_linear(&m->layers[l].lin[k], s);
    int64_t emb = (int64_t)c->vocab_size * c->dim;
    /* A packed shared classifier also serves the embedding lookups, so no fp32 table remains. */
    if (m->cls.q) count_linear(&m->cls, s);
    else if (!c->shared_classifier) s->fp32_params += emb;
    if (!(c->shared_classifier && m->cls.q)) s->fp32_params += emb;
    s->fp32_params += (int64_t)c->dim * (2 * c->n_layers + 1);
    s->bytes = s->quant_bits / 8.0 + 4.0 * (double)s->fp32_params;
    s->bpw_quant = s->quant_weights ? s->quant_bits / (double)s->quant_weights : 32.0;
    double lin_bits = s->quant_bits + 32.0 * (double)(s->linear_weights - s->quant_weights);
    s->bpw_linear = s->linear_weights ? lin_bits / (double)s->linear_weights : 32.0;
    s->bpw_model = 8.0 * s->bytes / (double)(s->fp32_params + s->quant_weights);
}

double llm_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

qlow_status llm_measure_speed(const llm_model *m, qlow_ctx *ctx, const int *prompt, int n_prompt, int n_gen,
                              int reps, llm_speed *out)
{
    const int V = m->cfg.vocab_size;
    if (n_prompt < 1 || n_gen < 0 || n_prompt + n_gen > m->cfg.seq_len) return QLOW_E_INVALID_ARG;
    llm_state s;
    float *logits = malloc((size_t)V * sizeof(float));
    if (!logits || llm_state_init(&s, m, ctx, n_prompt)) {
        free(logits);
        return QLOW_E_NO_MEMORY;
    }
    double best_p = 1e30, best_d = 1e30;
    qlow_status st = QLOW_OK;
    for (int r = 0; r < (reps < 1 ? 1 : reps) && !st; r++) {
        double t0 = llm_seconds();
        st = llm_forward(&s, prompt, n_prompt, 0, logits, 0);
        double t1 = llm_seconds();
        int tok = llm_argmax(logits, V);
        for (int g = 0; g < n_gen && !st; g++) {
            st = llm_forward(&s, &tok, 1, n_prompt + g, logits, 0);
            tok = llm_argmax(logits, V);
        }
        double t2 = llm_seconds();
        if (t1 - t0 < best_p) best_p = t1 - t0;
        if (t2 - t1 < best_d) best_d = t2 - t1;
    }
    llm_state_free(&s);
    free(logits);
    if (st) return st;
    out->prompt_tokens = n_prompt;
    out->gen_tokens = n_gen;
    out->prompt_tps = best_p > 0 ? n_prompt / best_p : 0.0;
    out->decode_tps = best_d > 0 ? n_gen / best_d : 0.0;
    return QLOW_OK;
}
