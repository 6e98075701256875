/* sens.h - loss-aware sensitivities of quantizing each linear: a Gauss-Newton (Fisher) approximation
 * of the cross-entropy Hessian on each linear's outputs, from backpropagated calibration windows.
 * Quantizing W to W + dW costs about sum_t sum_r g_tr^2 (dW_r . x_t)^2, where g_t = dL/dy_t and x_t
 * are the linear's output gradient and input at calibration token t. */
#ifndef LLM_SENS_H
#define LLM_SENS_H

#include "calib.h"
#include "llama.h"

typedef struct llm_sens {
    int n_layers;
    int tokens;                        /* calibration tokens used */
    float **dy2;                       /* [n_layers * kinds] -> [tokens x rows] squared output gradients */
    float **x;                         /* [n_layers * kinds] -> [tokens x cols] inputs */
    int64_t rows[LLM_N_BLOCK_KINDS], cols[LLM_N_BLOCK_KINDS];
} llm_sens;

/* Backpropagates the first `windows` calibration windows through the fp32 model. 0 or -1. */
int llm_sens_build(const llm_model *m, const llm_calib *calib, int windows, llm_sens *out);
/* The sensitivity cost of replacing linear (layer, kind) by W + dW (dW: rows x cols fp32). */
double llm_sens_cost(const llm_sens *s, int layer, int kind, const float *dW);
void llm_sens_free(llm_sens *s);

#endif
