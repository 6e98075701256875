/* quantize.h - the engine's quantization pipeline: turns an fp32 model into one whose linears are
 * packed qlow_qmatrix objects, with any of the library's methods, fed by calibration activations. */
#ifndef LLM_QUANTIZE_H
#define LLM_QUANTIZE_H

#include "calib.h"
#include "llama.h"

typedef enum llm_method { LLM_RTN, LLM_GPTQ, LLM_QBERT, LLM_PTQ161, LLM_BILLM } llm_method;

typedef struct llm_quant_opts {
    llm_method method;
    int bits;          /* fixed bits per weight (rtn, gptq), 0 when a budget is given */
    double budget;     /* target average bits/weight (qbert, and the mixed methods), 0 = none */
    int group;         /* group size along the input dimension, 0 = library default */
    int embed_bits;    /* 0 = keep the embedding / shared classifier fp32 */
    int act_bits;      /* 0 or 8: recorded in the output; eval runs the int8 path with it */
    double salient;    /* ptq161 at fixed settings: salient column fraction (< 0 = library default) */
    int blockwise_steps; /* ptq161: > 0 runs the block-wise scale optimization with this many steps */
    int threads;
    uint64_t seed;
    int verbose;
} llm_quant_opts;

extern const char *const llm_method_names[5];
/* Does the method need calibration activations? */
int llm_method_needs_calib(llm_method m);

/* Quantizes every block linear (and the classifier when embed_bits) of `src` into `dst`, which shares
 * src's fp32 tensors (src must outlive dst). `calib` may be NULL for methods that need none.
 * `progress` (may be NULL) gets (done, total) linears. Returns 0 or -1 with a message in err. */
int llm_quantize_model(const llm_model *src, const llm_quant_opts *o, const llm_calib *calib, qlow_ctx *ctx,
                       llm_model *dst, void (*progress)(void *, int, int), void *pu, char *err, size_t errn);

#endif
