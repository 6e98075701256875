/* calib.h - calibration: run the fp32 model over text and keep the input activations of every linear
 * (one matrix per layer and distinct input: wq/wk/wv share one, w1/w3 another), so quantizers can be
 * fed real X (Hessian accumulation, activation statistics, block-wise reconstruction). */
#ifndef LLM_CALIB_H
#define LLM_CALIB_H

#include "llama.h"
#include "tokenizer.h"

enum llm_input { LLM_IN_ATTN, LLM_IN_WO, LLM_IN_FFN, LLM_IN_W2, LLM_IN_CLS, LLM_N_INPUTS };

/* The input slot a linear kind reads. */
int llm_kind_input(int kind);

typedef struct llm_calib {
    int n_layers;
    int64_t rows;   /* tokens captured */
    int64_t cap;    /* rows allocated */
    int64_t cols[LLM_N_INPUTS];
    float **x;      /* [n_layers * LLM_N_INPUTS] row-major [rows x cols]; CLS only in slot of layer 0 */
    int *tokens;    /* [rows]: the windows' tokens, each window starting with BOS */
    int window;     /* tokens per full window */
    int failed;     /* an allocation failed during capture */
} llm_calib;

/* Captures `max_tokens` positions: windows of [BOS] + up to window-1 tokens of `text`, consecutive.
 * Returns 0 or -1 with a message. `progress` may be NULL. */
int llm_calib_run(const llm_model *m, qlow_ctx *ctx, const llm_tokenizer *t, const char *text, size_t len,
                  int window, int64_t max_tokens, llm_calib *out, void (*progress)(void *, int, int), void *pu,
                  char *err, size_t errn);
const float *llm_calib_input(const llm_calib *c, int layer, int kind, int64_t *rows, int64_t *cols);
void llm_calib_free(llm_calib *c);

#endif
