/* act.h - per-call preparation shared by every ISA: int8 activation quantization, kernel-order
 * permutations and the Q group maps. */
#ifndef QLOW_KERNELS_ACT_H
#define QLOW_KERNELS_ACT_H

#include "kernels/kernels.h"

/* Source of a part's activation column j: x[perm ? perm[j] : j] * (colscale ? colscale[j] : 1). */
typedef struct qlow__xsrc {
    const int32_t *perm;
    const uint16_t *colscale;
} qlow__xsrc;

/* Buffers of one token's quantized activations for part kp (sizes from qlow__act_bytes). */
typedef struct qlow__xbuf {
    int8_t *x8, *x8p;
    float *xs, *xsum;
} qlow__xbuf;

/* Bytes of each buffer: x8 (and x8p) hold nblk_pad * ablock bytes, xs and xsum nblk_pad floats. */
static inline size_t qlow__act_x8_bytes(const qlow__kpart *kp) { return (size_t)kp->nblk_pad * (size_t)kp->ablock; }
static inline size_t qlow__act_f_bytes(const qlow__kpart *kp) { return (size_t)kp->nblk_pad * sizeof(float); }

/* Quantize one token (x has the matrix's logical columns) for part kp into buf and describe it in
 * *xq. per_token != 0 uses one scale for the whole part (act8 mode). QLOW_E_NONFINITE if a value
 * (after the column scale) is NaN or infinite. */
QLOW_HIDDEN qlow_status qlow__act_quantize(const qlow__kpart *kp, const qlow__xsrc *src, const float *x,
                                           int per_token, const qlow__xbuf *buf, qlow__xq *xq);

/* Fill the Q group maps kp->grel (nblk_pad entries) and kp->g0 (nblk_pad / 16 entries). */
QLOW_HIDDEN void qlow__q_group_maps(int64_t nblk, int64_t nblk_pad, int64_t group_cols, int64_t ngroups,
                                    uint16_t *grel, int32_t *g0);

#endif
