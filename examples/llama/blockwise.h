/* blockwise.h - PTQ1.61's block-wise scale optimization driven by the engine: for each transformer
 * block, the library's qlow_scaleopt holds the binarized linears (salient mask from calibration
 * statistics, frozen signs), the engine runs the block forward and backward (block_grad.c) against the
 * fp32 block's output on calibration inputs, hands every linear's dL/dY and X to qlow_scaleopt_grad_dy
 * and steps; the result is packed as M161. */
#ifndef LLM_BLOCKWISE_H
#define LLM_BLOCKWISE_H

#include "calib.h"
#include "llama.h"

/* Quantizes every block linear of src into dst's layers (dst shares src's other tensors, as
 * llm_quantize_model does). params: QLOW_MASK_RATIO, QLOW_SCALE_* (NULL = defaults). Uses the first
 * `windows` full calibration windows; `steps` optimizer steps per block. 0 or -1 with a message. */
int llm_ptq161_blockwise(const llm_model *src, const llm_calib *calib, qlow_ctx *ctx, const qlow_params *params,
                         int windows, int steps, llm_layer *dst_layers, int act_bits, char *err, size_t errn);

#endif
