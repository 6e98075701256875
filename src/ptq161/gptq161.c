/* gptq161.c - GPTQ-style error compensation for the PTQ1.61 parameterization (our extension; neither
 * PTQ1.61 nor BiLLM does this), as a quantizer plugged into the GPTQ column sweep of src/gptq. Columns
 * are visited in permuted order (salient first): each is rounded with the layer's current scales (4-bit
 * codes, or the nearer of r2_u (b_i +- a_i)) and its error is pushed onto the columns not yet visited. */
#include "gptq/gptq.h"
#include "ptq161/ptq161.h"

#include <math.h>

static float round_value(const qlow__p161 *p, int64_t i, int64_t j, float w)
{
    if (j < p->ns) {
        float c = nearbyintf((w - p->sal_min[i]) / p->sal_scale[i]);
        c = c < 0.0f ? 0.0f : c > 15.0f ? 15.0f : c;
        return p->sal_scale[i] * c + p->sal_min[i];
    }
    const int64_t u = j - p->ns;
    const float a = p->r1[i] * p->alpha[i], b = p->r1[i] * p->mu[i], r2 = p->r2[u];
    float hi = r2 * (b + a), lo = r2 * (b - a);
    return fabsf(w - hi) <= fabsf(w - lo) ? hi : lo;
}

static qlow_status quantize_column(void *user, int64_t col, const float *w, float *q, int64_t rows,
                                   const qlow__gptq_cursor *cursor)
{
    const qlow__p161 *p = (const qlow__p161 *)user;
    (void)cursor;
    for (int64_t i = 0; i < rows; i++) q[i] = round_value(p, i, col, w[i]);
    return QLOW_OK;
}

qlow_status qlow__ptq161_gptq(const qlow_ctx *ctx, const qlow_allocator *alloc, qlow__p161 *p, const float *Wp,
                              const double *Hp, double damp, float *Wc)
{
    qlow__gptq_plan plan = {p->rows, p->cols, 128, 0, 2, damp};
    size_t ws = 0;
    QLOW_TRY(qlow__gptq_workspace_bytes(&plan, &ws));
    unsigned char *mem = (unsigned char *)qlow__alloc(alloc, ws, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    qlow__gptq_state st;
    qlow_status s = qlow__gptq_state_init(&st, &plan, mem, ws);
    const int isa = qlow__ctx_isa(ctx), threads = qlow__ctx_threads(ctx);
    if (s == QLOW_OK) s = qlow__gptq_prepare(isa, threads, &st, Hp, p->cols, 1.0);
    qlow__gptq_quantizer q = {p, quantize_column};
    if (s == QLOW_OK) s = qlow__gptq_sweep(isa, threads, &st, Wp, p->cols, &q, Wc, NULL);
    qlow__free(alloc, mem);
    return s;
}
