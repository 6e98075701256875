/* act.h - per-call preparation shared by every ISA: int8 activation quantization, kernel-order
 * permutations and the Q group maps. */
#ifndef QLOW_KERNELS_ACT_H
#define QLOW_KERNELS_ACT_H

#include "kernels/kernels.h"

/* Source of a part's activation column j: x[perm ? perm[j] : j] * (colscale ? colscale[j] : 1).
 * colscale_f32 holds the column scales converted once per call. sel_mask, when set, says that perm
 * lists in ascending order exactly the columns j < sel_cols whose bit j of sel_mask equals sel_bit
 * (M161's two parts, usually): the gather is then a compress, which SIMD does far faster. */
typedef struct qlow__act_src {
    const int32_t *perm;
    const uint16_t *colscale;
    const float *colscale_f32;
    const uint8_t *sel_mask;
    int64_t sel_cols;
    int32_t sel_bit;
} qlow__act_src;

/* Buffers of one token's quantized activations for part kp. v holds the gathered, column-scaled
 * activations of a part that is not interleaved and has a perm or colscale (NULL otherwise).
 * Interleaved parts gather into vb: the portable preparation in block-major order, the AVX-512 one of
 * B parts (qlow__b_act_avx512; vb holds at least cols floats) in natural order. */
typedef struct qlow__xbuf {
    int8_t *x8, *x8p;
    float *xs, *xsum;
    float *xgsum; /* Q parts that fold zero terms per group: qlow__xq's xgsum (nblk_pad floats) */
    float *v;
    float *vb; /* interleaved parts: the activations in block-major order (nblk_pad * ablock floats) */
    uint8_t *ltab; /* parts with a row-tiled copy: the lookup tables of a batch-1 call (lut.h) */
} qlow__xbuf;

/* Bytes of each buffer: x8 (and x8p) hold nblk_pad * ablock bytes, xs and xsum nblk_pad floats. */
static inline size_t qlow__act_x8_bytes(const qlow__kpart *kp) { return (size_t)kp->nblk_pad * (size_t)kp->ablock; }
static inline size_t qlow__act_f_bytes(const qlow__kpart *kp) { return (size_t)kp->nblk_pad * sizeof(float); }

/* Quantize one token (x has the matrix's logical columns) for part kp into buf and describe it in
 * *xq. per_token != 0 uses one scale for the whole part (act8 mode). QLOW_E_NONFINITE if a value
 * (after the column scale) is NaN or infinite. */
QLOW_HIDDEN qlow_status qlow__act_quantize(const qlow__kernel_set *ks, const qlow__kpart *kp, const qlow__act_src *src,
                                           const float *x, int per_token, const qlow__xbuf *buf, qlow__xq *xq);

/* g[j] = source column j of x (qlow__act_src's rule, perm and cs may be NULL) for j < n. */
QLOW_HIDDEN void qlow__act_gather(const float *x, const int32_t *perm, const float *cs, int64_t n, float *g);

/* The portable activation steps (the reference for every ISA). */
QLOW_HIDDEN float qlow__absmax_generic(const float *v, int64_t n);
QLOW_HIDDEN int32_t qlow__quantize_generic(const float *v, int64_t n, float inv, int8_t *q);

/* Fill the Q group maps kp->grel (nblk_pad entries) and kp->g0 (nblk_pad / 16 entries). */
QLOW_HIDDEN void qlow__q_group_maps(int64_t nblk, int64_t nblk_pad, int64_t group_cols, int64_t ngroups,
                                    uint16_t *grel, int32_t *g0);

#if defined(QLOW__HAVE_X86_KERNELS)
/* The activations the batch-1 B kernels on AVX-512 read (those rows, the lookup kernel's tables and
 * its tail rows) for any B1/B2 part with 256-slot interleaved blocks: x8p (natural order, all
 * chunks), xs, xsum, xtot, and the block-major x8 the tables are built from when x8 is not NULL (else
 * xq->x8 is x8p). Prepared directly from src (x86_avx512_b_act.c); gather holds cols floats. Equal
 * to the portable preparation for every value those kernels read. QLOW_E_NONFINITE as there. */
QLOW_HIDDEN qlow_status qlow__b_act_avx512(const qlow__kpart *kp, const qlow__act_src *src, const float *x,
                                           int per_token, float *gather, int8_t *x8p, int8_t *x8, float *xs,
                                           float *xsum, qlow__xq *xq);
#endif

#endif
