/* qlinear.c - the packed-matrix path of the engine's linear layers, through libqlow's kernels. */
#include "llama.h"

#include <stdio.h>

qlow_status llm_qlinear_apply(const llm_linear *l, qlow_ctx *ctx, const float *x, int64_t n, float *y)
{
    (void)l; (void)ctx; (void)x; (void)n; (void)y;
    return QLOW_E_UNSUPPORTED;
}

void llm_qlinear_release(llm_linear *l)
{
    l->q = NULL;
    l->owns_q = 0;
}

double llm_qlinear_bits(const llm_linear *l)
{
    (void)l;
    return 0.0;
}

void llm_qlinear_describe(const llm_linear *l, char *buf, size_t n)
{
    snprintf(buf, n, "%s", l->q ? "packed" : "fp32");
}
