/* eval.h - the evaluation harness: perplexity in the two protocols of docs/reference_numbers.md
 * (paragraphs, windows), KL divergence to a reference model (mean, p99 as np.percentile linear) and
 * top-1 agreement. Every candidate model is run in lockstep with the reference, one sequence at a
 * time, so memory does not grow with the text. */
#ifndef LLM_EVAL_H
#define LLM_EVAL_H

#include <stddef.h>

#include "llama.h"
#include "tokenizer.h"

/* A list of token sequences, each starting with BOS; every position after BOS is scored. */
typedef struct llm_seqs {
    int **tok;
    int *len;
    int n;
} llm_seqs;

/* paragraphs: split on blank lines (whitespace runs holding >= 2 newlines), strip, drop empty ones,
 * keep the first max_items (0 = all); each encoded with BOS and cut to seq_len tokens. */
int llm_seqs_paragraphs(const llm_tokenizer *t, const char *text, size_t len, int max_items, int seq_len,
                        llm_seqs *out);
/* windows: encode the whole text once (no BOS), then [BOS] + the next W-1 tokens, consecutive and
 * non-overlapping, incomplete tail dropped; W clamped to seq_len; first max_items windows (0 = all). */
int llm_seqs_windows(const llm_tokenizer *t, const char *text, size_t len, int window, int max_items,
                     int seq_len, llm_seqs *out);
void llm_seqs_free(llm_seqs *s);
long llm_seqs_scored(const llm_seqs *s);

typedef struct llm_quality {
    double nll_sum;
    long n;          /* scored positions */
    long top1_agree; /* positions whose argmax equals the reference argmax */
    double *kld;     /* per position KL(P_ref || P_model), n entries (malloc'ed) */
    double nll, ppl, kld_mean, kld_p99, top1_pct; /* filled by llm_quality_finish */
} llm_quality;

/* Evaluate n_models models against ref (models[i] may be ref itself) over seqs. `progress` (may be
 * NULL) is called after each sequence. Returns 0, or -1 with a message in err. */
int llm_eval_quality(const llm_model *ref, const llm_model *const *models, int n_models, qlow_ctx *ctx,
                     const llm_seqs *seqs, llm_quality *out, void (*progress)(void *, int, int), void *pu,
                     char *err, size_t errn);
void llm_quality_free(llm_quality *q);

/* np.percentile(v, p) with linear interpolation; sorts v in place. */
double llm_percentile(double *v, long n, double p);

/* Log-softmax of logits[n] into lp[n] (double precision). */
void llm_log_softmax(const float *logits, int n, double *lp);

#endif
