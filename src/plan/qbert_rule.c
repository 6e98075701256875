/* qbert_rule.c - Q-BERT's own bit assignment, kept for comparison with the knapsack planner: sort the
 * layers by Omega (descending) and give the top fraction the higher bit width. */
#include "core/internal.h"

#include <math.h>

qlow_status qlow_plan_qbert_rule(int32_t n_layers, const double *omega, double fraction_high, int32_t bits_low,
                                 int32_t bits_high, int32_t *bits)
{
    if (!omega || !bits) return QLOW_E_NULL_POINTER;
    if (n_layers < 1) return QLOW_E_SHAPE;
    if (!(fraction_high >= 0.0 && fraction_high <= 1.0)) return QLOW_E_INVALID_ARG;
    for (int32_t l = 0; l < n_layers; l++)
        if (!(omega[l] - omega[l] == 0.0)) return QLOW_E_NONFINITE;
    int32_t n_high = (int32_t)floor(fraction_high * n_layers + 1e-9);
    /* Rank of layer l = number of layers ahead of it (larger Omega, ties by index); O(L^2) keeps this
     * allocation-free and L is the number of layers. */
    for (int32_t l = 0; l < n_layers; l++) {
        int32_t rank = 0;
        for (int32_t m = 0; m < n_layers; m++)
            if (omega[m] > omega[l] || (omega[m] == omega[l] && m < l)) rank++;
        bits[l] = rank < n_high ? bits_high : bits_low;
    }
    return QLOW_OK;
}
