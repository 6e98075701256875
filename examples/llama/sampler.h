/* sampler.h - next-token choice for generation: greedy (temperature 0) or temperature + top-p. */
#ifndef LLM_SAMPLER_H
#define LLM_SAMPLER_H

#include <stdint.h>

typedef struct llm_sampler {
    float temperature; /* 0 = greedy */
    float top_p;       /* 1 = no nucleus cut */
    uint64_t rng;      /* splitmix64 state */
} llm_sampler;

/* Choose a token from logits[vocab]; may overwrite logits (softmax in place). */
int llm_sample(llm_sampler *s, float *logits, int vocab);
int llm_argmax(const float *v, int n);

#endif
