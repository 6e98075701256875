/* block_grad.h - forward and backward of one transformer block over a causal sequence, for block-wise
 * reconstruction (PTQ1.61's block-wise scale optimization): given the block input X, the fp32 block
 * output as target and the current (quantized) weights, it returns the loss and hands each linear's
 * output gradient dL/dY and input X to a callback, from which dL/dW = dY^T X. Computed in double. */
#ifndef LLM_BLOCK_GRAD_H
#define LLM_BLOCK_GRAD_H

#include "llama.h"

typedef struct llm_block_weights {
    const float *w[LLM_N_BLOCK_KINDS]; /* fp32 [rows x cols] in llm_kind order */
    const float *rms_att, *rms_ffn;
} llm_block_weights;

/* dY: [T x rows], X: [T x cols], both row-major fp32 (valid during the call). Returns 0 to go on. */
typedef int (*llm_grad_fn)(void *user, int kind, const float *dY, const float *X, int T, int64_t rows,
                           int64_t cols);

/* Called between forward and backward with the block output y [T x D]: writes dL/dy into dy. */
typedef void (*llm_dout_fn)(void *user, const double *y, double *dy, int T, int D);

/* Forward of the block on x [T x dim] (positions 0..T-1), output to out (may be NULL); then, when dout
 * is given, backward: dL/dy from dout, each linear's (dY, X) to grad (may be NULL), dL/dx to dx_out
 * (may be NULL). Returns 0, -1 on allocation failure, or the callback's nonzero value. */
int llm_block_run(const llm_config *c, const llm_block_weights *bw, const float *x, int T, float *out,
                  llm_dout_fn dout, void *dout_user, float *dx_out, llm_grad_fn grad, void *user);

/* Loss = mean((out - target)^2) + lambda_cos * -log(mean_t cos(out_t, target_t)).
 * out (may be NULL) receives the block output [T x dim]. grad may be NULL (forward only).
 * Returns 0, -1 on allocation failure, or the callback's nonzero value. */
int llm_block_loss_grad(const llm_config *c, const llm_block_weights *bw, const float *x, const float *target,
                        int T, double lambda_cos, double *loss, float *out, llm_grad_fn grad, void *user);

#endif
