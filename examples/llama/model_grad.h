/* model_grad.h - backpropagation of the next-token cross-entropy through the whole fp32 model, handing
 * every linear's output gradient dL/dY and input X to a callback (Hessian-based sensitivities use the
 * Gauss-Newton form built from them). Double precision, for calibration-sized inputs. */
#ifndef LLM_MODEL_GRAD_H
#define LLM_MODEL_GRAD_H

#include "block_grad.h"

/* grad(user, layer, kind, dY [T x rows], X [T x cols], T, rows, cols); return nonzero to stop. */
typedef int (*llm_layer_grad_fn)(void *user, int layer, int kind, const float *dY, const float *X, int T,
                                 int64_t rows, int64_t cols);

/* Mean cross-entropy of tokens[1..T) given tokens[0..T-1) (T >= 2, T <= seq_len) into *loss, and the
 * gradients of every block linear (the classifier is not reported). The model's linears must be fp32.
 * Returns 0, -1 (allocation, packed model, bad arguments) or the callback's value. */
int llm_model_grads(const llm_model *m, const int *tokens, int T, double *loss, llm_layer_grad_fn grad,
                    void *user);

#endif
