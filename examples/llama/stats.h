/* stats.h - model size accounting and batch-1 speed measurement for the reference engine. */
#ifndef LLM_STATS_H
#define LLM_STATS_H

#include "llama.h"

typedef struct llm_size {
    int64_t quant_weights; /* weights held in packed matrices */
    double quant_bits;     /* their exact stored bits (qlow_qmatrix_bits_per_weight * weights) */
    int64_t linear_weights; /* weights of the block linears, plus the classifier when packed */
    int64_t fp32_params;   /* everything else stored as fp32 (embedding, norms, fp32 linears) */
    double bytes;          /* quant_bits / 8 + 4 * fp32_params */
    double bpw_quant;      /* bits/weight over the packed matrices only (32 when none) */
    double bpw_linear;     /* bits/weight over all linears, fp32 ones counted at 32 */
    double bpw_model;      /* bits/parameter over the whole model */
} llm_size;

void llm_model_size(const llm_model *m, llm_size *out);

typedef struct llm_speed {
    int prompt_tokens, gen_tokens;
    double prompt_tps, decode_tps; /* best of the repetitions */
} llm_speed;

/* Batch-1 timing: prefill `prompt` (n_prompt tokens, one batched forward) then decode n_gen tokens
 * greedily one at a time; best of `reps` runs. Returns QLOW_OK or the forward's status. */
qlow_status llm_measure_speed(const llm_model *m, qlow_ctx *ctx, const int *prompt, int n_prompt, int n_gen,
                              int reps, llm_speed *out);

double llm_seconds(void);

#endif
