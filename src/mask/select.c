/* select.c - the salient-column mask: top-k by score with the authors' threshold rule, bit packing and
 * the salient-first permutation kernels gather with. */
#include "core/internal.h"

/* Map a float to an unsigned key with the same order (negative values flipped), so the k-th largest
 * score can be found by a bisection over keys without sorting or scratch memory. */
static uint32_t order_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static int64_t count_at_least(const float *score, int64_t cols, uint32_t key)
{
    int64_t n = 0;
    for (int64_t j = 0; j < cols; j++) n += order_key(score[j]) >= key;
    return n;
}

qlow_status qlow_mask_select(const float *score, int64_t cols, double ratio, uint8_t *mask, int64_t *n_salient)
{
    if (!score || !mask) return QLOW_E_NULL_POINTER;
    if (cols < 1) return QLOW_E_SHAPE;
    if (!(ratio >= 0.0 && ratio <= 1.0)) return QLOW_E_INVALID_ARG;
    for (int64_t j = 0; j < cols; j++)
        if (!qlow__is_finite_f32(score[j])) return QLOW_E_NONFINITE;
    uint32_t tau = 0; /* every key >= 0: selects all */
    if (ratio == 0.0) {
        tau = UINT32_MAX; /* sentinel: selects none */
    } else if (ratio < 1.0) {
        /* The authors' rule: tau = (scores sorted descending)[floor(ratio * cols)], select score >= tau.
         * tau is the largest key with at least k0 + 1 scores >= it. */
        int64_t k0 = (int64_t)(ratio * (double)cols);
        if (k0 > cols - 1) k0 = cols - 1;
        uint32_t lo = 0, hi = UINT32_MAX; /* invariant: count(>= lo) >= k0+1 */
        while (lo < hi) {
            uint32_t mid = lo + (uint32_t)(((uint64_t)hi - lo + 1) / 2);
            if (count_at_least(score, cols, mid) >= k0 + 1) lo = mid;
            else hi = mid - 1;
        }
        tau = lo;
    }
    int64_t n = 0;
    memset(mask, 0, QLOW_MASK_BYTES(cols));
    if (ratio != 0.0) {
        for (int64_t j = 0; j < cols; j++) {
            if (order_key(score[j]) >= tau) {
                mask[j >> 3] |= (uint8_t)(1u << (j & 7));
                n++;
            }
        }
    }
    if (n_salient) *n_salient = n;
    return QLOW_OK;
}

qlow_status qlow_mask_permutation(const uint8_t *mask, int64_t cols, int32_t *perm, int64_t *n_salient)
{
    if (!mask || !perm) return QLOW_E_NULL_POINTER;
    if (cols < 1 || cols > INT32_MAX) return QLOW_E_SHAPE;
    int64_t ns = 0;
    for (int64_t j = 0; j < cols; j++) ns += (mask[j >> 3] >> (j & 7)) & 1;
    int64_t a = 0, b = ns;
    for (int64_t j = 0; j < cols; j++) {
        if ((mask[j >> 3] >> (j & 7)) & 1) perm[a++] = (int32_t)j;
        else perm[b++] = (int32_t)j;
    }
    if (n_salient) *n_salient = ns;
    return QLOW_OK;
}
