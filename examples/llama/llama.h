/* llama.h - the libqlow reference engine: a LLaMA-architecture forward pass (RMSNorm, RoPE on
 * interleaved pairs, GQA attention with a KV cache, SwiGLU) whose every linear layer is either fp32 or
 * a packed qlow_qmatrix run through libqlow's kernels. It uses only the public header, like any
 * engine that embeds libqlow. Engine-side names use the llm_ prefix. */
#ifndef LLM_LLAMA_H
#define LLM_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "qlow.h"

typedef struct llm_config {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier; /* 1: the classifier is the token embedding */
} llm_config;

/* The linear kinds of one block, in llama2.c file order, plus the classifier. */
enum llm_kind { LLM_WQ, LLM_WK, LLM_WV, LLM_WO, LLM_W1, LLM_W2, LLM_W3, LLM_N_BLOCK_KINDS, LLM_CLS = 7 };
extern const char *const llm_kind_names[8];

/* A kernel workspace, grown on demand (64-byte aligned). */
typedef struct llm_wksp {
    void *p;
    size_t bytes;
} llm_wksp;
void llm_wksp_free(llm_wksp *w);

/* y[n x rows] = x[n x cols] W^T through either fp32 weights or a packed matrix (exactly one set). */
typedef struct llm_linear {
    int64_t rows, cols;
    const float *w;        /* fp32 [rows x cols], or NULL */
    const qlow_qmatrix *q; /* packed, or NULL; owned by the model when owns_q */
    int owns_q;
    int act_bits;          /* packed only: 8 = int8 activations through the integer kernel path, 0 = fp32 */
} llm_linear;

typedef struct llm_layer {
    const float *rms_att, *rms_ffn; /* [dim] */
    llm_linear lin[LLM_N_BLOCK_KINDS];
} llm_layer;

typedef struct llm_model {
    llm_config cfg;
    const float *tok_embedding; /* [vocab x dim] fp32, or NULL when lookups go through the packed cls */
    const float *rms_final;     /* [dim] */
    llm_layer *layers;
    llm_linear cls;             /* classifier [vocab x dim] */
    float *fp32_storage;        /* owned copy of every fp32 tensor (NULL if borrowed) */
    void *cleanup_user;         /* extra owned resource released by cleanup() */
    void (*cleanup)(void *user);
} llm_model;

/* Capture hook: called with the input of each linear before it runs (x: n rows of `cols` floats).
 * wq/wk/wv share one input, as do w1/w3; the hook is called once per linear anyway. */
typedef void (*llm_capture_fn)(void *user, int layer, int kind, const float *x, int64_t n, int64_t cols);

/* Per-sequence inference state: KV cache, activations, kernel workspace, optional capture hook. */
typedef struct llm_state {
    const llm_model *m;
    qlow_ctx *ctx;
    llm_wksp wksp;
    int max_batch;
    float *key_cache, *value_cache; /* [layers][seq_len][kv_dim] */
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2, *att; /* batch buffers */
    llm_capture_fn capture;
    void *capture_user;
} llm_state;

/* Releases everything the model owns; a zeroed model is fine. (Loading and saving: model_io.h.) */
void llm_model_free(llm_model *m);

/* A variant of `src` that shares all of its weights but runs its packed linears with `act_bits`-bit
 * activations. Release with llm_model_free_variant() before src. Returns 0 or -1 (out of memory). */
int llm_model_act_variant(const llm_model *src, int act_bits, llm_model *dst);
void llm_model_free_variant(llm_model *m);

/* rows * cols of a linear. */
int64_t llm_linear_weights(const llm_linear *l);

/* Runs y = x W^T for n rows (packed linears through the kernels with workspace w). Returns QLOW_OK or a
 * library status. */
qlow_status llm_linear_apply(const llm_linear *l, qlow_ctx *ctx, llm_wksp *w, const float *x, int64_t n, float *y);

/* The packed path of llm_linear_apply (qlinear.c), and releasing an owned packed matrix. */
qlow_status llm_qlinear_apply(const llm_linear *l, qlow_ctx *ctx, llm_wksp *w, const float *x, int64_t n, float *y);
/* Row `row` of a packed matrix as fp32 (embedding lookups through a packed shared classifier). */
qlow_status llm_qlinear_row(const llm_linear *l, int64_t row, float *out);
void llm_qlinear_release(llm_linear *l);
/* Exact stored bits of a packed linear (qlow_qmatrix_bits_per_weight * rows * cols). */
double llm_qlinear_bits(const llm_linear *l);
/* Short format name of a linear ("fp32", "Q4", "M161", "Q4+a8" with int8 activations, ...). */
void llm_qlinear_describe(const llm_linear *l, char *buf, size_t n);

/* Buffers for batches of up to max_batch tokens and a KV cache of seq_len positions; ctx runs the
 * kernels. Returns 0 or -1 (out of memory). */
int llm_state_init(llm_state *s, const llm_model *m, qlow_ctx *ctx, int max_batch);
void llm_state_free(llm_state *s);

/* Forward n tokens at positions pos0..pos0+n-1 (n <= max_batch, pos0+n <= seq_len). Writes the logits of
 * every token to logits[n x vocab] when all_logits, else only the last token's to logits[vocab].
 * Returns QLOW_OK or the first failing status. */
qlow_status llm_forward(llm_state *s, const int *tokens, int n, int pos0, float *logits, int all_logits);

#endif
