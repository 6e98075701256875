/* ternary.c - per-row ternary {-a, 0, +a} with the exactly optimal threshold.
 * For a fixed a, an element belongs to the support iff |w| > a/2, whatever its importance, so the optimal
 * support is a top-k set of |w|; for a support S the best a is sum_S c|w| / sum_S c and the error is
 * sum c w^2 - (sum_S c|w|)^2 / sum_S c. Scanning k over |w| sorted descending is therefore exact. */
#include <math.h>

#include "quant/rowquant.h"

double qlow__ternary_row(const float *w, int64_t n, const float *imp, void *scratch, uint16_t *alpha_h,
                         uint8_t *codes)
{
    qlow__kv *kv = (qlow__kv *)scratch;
    for (int64_t j = 0; j < n; j++) {
        kv[j].key = -fabsf(w[j]);
        kv[j].weight = imp ? imp[j] : 1.0f;
    }
    qlow__kv_sort(kv, n);
    double s1 = 0.0, s0 = 0.0, best = 0.0, alpha = 0.0;
    for (int64_t k = 0; k < n; k++) {
        s1 += (double)kv[k].weight * (double)(-kv[k].key);
        s0 += kv[k].weight;
        if (s0 > 0.0 && s1 * s1 / s0 > best) {
            best = s1 * s1 / s0;
            alpha = s1 / s0;
        }
    }
    uint16_t ah = qlow_fp32_to_fp16((float)alpha);
    float a = qlow_fp16_to_fp32(ah);
    double e = 0.0;
    for (int64_t j = 0; j < n; j++) {
        /* Nearest of {-a, 0, +a} for the stored a; ties go to 0. */
        int t = fabsf(w[j]) > 0.5f * a ? (w[j] > 0.0f ? 1 : -1) : 0;
        codes[j] = (uint8_t)(t + 1);
        double d = (double)w[j] - (double)(a * (float)t);
        e += (imp ? (double)imp[j] : 1.0) * d * d;
    }
    *alpha_h = ah;
    return e;
}
