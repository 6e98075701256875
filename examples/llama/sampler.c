/* sampler.c - greedy and temperature/top-p sampling. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

int llm_argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static uint64_t next_u64(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct prob_index {
    float p;
    int i;
} prob_index;

static int by_prob_desc(const void *a, const void *b)
{
    const prob_index *x = a, *y = b;
    return (x->p < y->p) - (x->p > y->p);
}

int llm_sample(llm_sampler *s, float *logits, int vocab)
{
    if (s->temperature <= 0.0f) return llm_argmax(logits, vocab);
    float mx = logits[llm_argmax(logits, vocab)], sum = 0.0f;
    for (int i = 0; i < vocab; i++) sum += (logits[i] = expf((logits[i] - mx) / s->temperature));
    for (int i = 0; i < vocab; i++) logits[i] /= sum;
    float r = (float)((next_u64(&s->rng) >> 40) * (1.0 / 16777216.0));
    if (s->top_p > 0.0f && s->top_p < 1.0f) {
        prob_index *pi = malloc((size_t)vocab * sizeof *pi);
        if (pi) {
            for (int i = 0; i < vocab; i++) pi[i].p = logits[i], pi[i].i = i;
            qsort(pi, (size_t)vocab, sizeof *pi, by_prob_desc);
            float cum = 0.0f;
            int last = vocab - 1;
            for (int i = 0; i < vocab; i++) {
                cum += pi[i].p;
                if (cum > s->top_p) {
                    last = i;
                    break;
                }
            }
            float target = r * cum, acc = 0.0f;
            int tok = pi[last].i;
            for (int i = 0; i <= last; i++) {
                acc += pi[i].p;
                if (target < acc) {
                    tok = pi[i].i;
                    break;
                }
            }
            free(pi);
            return tok;
        }
    }
    float acc = 0.0f;
    for (int i = 0; i < vocab; i++) {
        acc += logits[i];
        if (r < acc) return i;
    }
    return vocab - 1;
}
