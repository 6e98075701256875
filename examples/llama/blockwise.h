/* blockwise.h - PTQ1.61's block-wise scale optimization driven by the engine: for each transformer
 * block, the library's qlow_scaleopt holds the linears (each from its layer-wise PTQ1.61 fit, signs
 * frozen), the engine runs the block forward and backward (block_grad.c) against the
 * fp32 block's output on calibration inputs, hands every linear's dL/dY and X to qlow_scaleopt_grad_dy
 * and steps; the result is packed as M161. */
#ifndef LLM_BLOCKWISE_H
#define LLM_BLOCKWISE_H

#include "calib.h"
#include "llama.h"

/* Quantizes every block linear of src into dst's layers (dst shares src's other tensors, as
 * llm_quantize_model does). Every linear starts from its layer-wise PTQ1.61 fit (with GPTQ
 * compensation) at the salient ratio ratios[layer * LLM_N_BLOCK_KINDS + kind] (ratios NULL: params'
 * QLOW_MASK_RATIO, else the library default). params: QLOW_SCALE_* of the block-wise Adam steps (NULL =
 * defaults). Uses the first `windows` full calibration windows; `steps` optimizer steps per block. 0 or
 * -1 with a message; dst_layers' linears that were set must be released by the caller on failure. */
int llm_ptq161_blockwise(const llm_model *src, const llm_calib *calib, qlow_ctx *ctx, const qlow_params *params,
                         const double *ratios, int windows, int steps, llm_layer *dst_layers, int act_bits, char *err,
                         size_t errn);

#endif
