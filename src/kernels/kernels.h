/* kernels.h - internal contract between the GEMV/GEMM driver (dispatch.c), activation preparation
 * (act.c) and the per-ISA row kernels (gemv_generic.c, x86_avx2.c, x86_avx512.c, arm_neon.c).
 *
 * Every product is computed the same way on every ISA, so that all paths give identical bytes:
 *   1. Each token's activations are quantized to int8 per "activation block" (ablock) of columns:
 *      xs_b = absmax_b / 127, x8 = round(x / xs_b) (or one scale per token in the act8 mode).
 *      Q kinds use blocks of 32 consecutive columns. The binary and ternary kinds use interleaved
 *      blocks: in the kernel-order stream of activations, chunks of 16 * ablock bytes are split so that
 *      byte p of a chunk belongs to block (p / 4) % 16. Those are exactly the bytes a vpdpbusd lane
 *      accumulates, so a whole chunk needs no horizontal reduction.
 *   2. A row kernel computes, per ablock b, the exact integer sum isum_b = sum_j code_j * x8_j.
 *   3. Those are folded into 16 fp32 lanes, block b into lane b % 16, in block order, using separate
 *      multiplies and adds (never fused), then the lanes are summed by a fixed tree (qlow__lanes_sum).
 *      Q kinds with groups of several blocks fold a row's zero term after its blocks, per scale group
 *      g in group order into lane g % 16 (qlow__q_zero_fold), from the token's group sums xgsum; with
 *      one group per block, block by block (qlow__q_zero_per_block).
 * Integer sums are exact and the fp32 sequence is fixed, so SIMD and generic kernels agree bit for bit.
 */
#ifndef QLOW_KERNELS_KERNELS_H
#define QLOW_KERNELS_KERNELS_H

/* "Never fused" must hold whatever flags a vendoring build uses: clang contracts a*b+c into an FMA by
 * default, which made B1/B2/M161 results differ between ISAs and thread counts. Both builds also pass
 * -ffp-contract=off for GCC, whose gnu11 mode contracts too. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "formats/layout.h"

#define QLOW__LANES 16

/* Kernel-order layouts of the int8 activations (the natural order is always kept as well). */
enum {
    QLOW__XORD_NAT = 0,  /* natural column order */
    QLOW__XORD_Q4 = 1,   /* per 128 columns: the low 16 columns of blocks 0..3, then their high 16 */
    QLOW__XORD_Q2 = 2,   /* per 256 columns: plane k (k = 0..3) of blocks 0..7, 8 columns each */
    QLOW__XORD_T158 = 3, /* per 320 columns: digit k (k = 0..4) of the 64 bytes, 64 columns each */
    /* Transposed Q orders (kernel sets with qtrans): per 16 blocks (512 columns), vectors of 64
     * bytes whose dword e holds 4 columns of block sigma(e), so vpdpbusd lanes are blocks. */
    QLOW__XORD_Q4T = 4,  /* vector (j, h), j = 0..3, h = low/high nibble: columns 16h + 4j + i */
    QLOW__XORD_Q2T = 5,  /* vector (j, k), j = 0..1, k = plane 0..3: columns 8k + 4j + i */
    QLOW__XORD_Q8T = 6   /* vector j = 0..7: columns 4j + i, block sigma(e) as in Q4T (qtrans 2 only) */
};

/* Quantized activations of one token for one part of a matrix. Arrays are padded with zeros to
 * nblk_pad ablocks (nblk_pad = round_up(nblk, 16)). */
typedef struct qlow__xq {
    const int8_t *x8;   /* block-major: block b is x8[b * ablock ... (b + 1) * ablock) */
    const int8_t *x8p;  /* kernel order (see xord); equals x8 when both orders coincide */
    const float *xs;    /* per ablock scale */
    const float *xsum;  /* per ablock xs_b * sum(x8 over the block) */
    const float *xgsum; /* Q kinds: per scale group, the sum of its blocks' xsum in block order (zero
                         * from ngroups to a multiple of 16); NULL where qlow__q_zero_per_block holds
                         * and for the binary and ternary kinds */
    float xtot;         /* sum of xsum in block order */
    const uint8_t *ltab; /* B1-kind and Q2 parts with a row-tiled copy, batch-1 calls: lookup tables (lut.h) */
    int32_t prefetch_l2; /* the context's CPU prefetches weights into L2 (qlow__prefetch_w) */
} qlow__xq;

/* One part of a packed matrix as the row kernels see it. A plain matrix has one part; M161 has a
 * 4-bit salient part (kind Q) and a binary part (kind B1). */
typedef struct qlow__kpart {
    int32_t format;          /* kernel kind: QLOW_FORMAT_Q8/Q4/Q3/Q2/B1/B2/T2/T158 */
    int32_t ablock;          /* activation block in columns */
    int32_t xord;
    int32_t interleave;      /* blocks interleaved by vpdpbusd lane (binary and ternary kinds) */
    int64_t rows;
    int64_t cols;            /* logical columns of this part */
    int64_t cols_pad;        /* round_up(cols, 32) */
    int64_t nblk, nblk_pad;  /* ablocks, and padded to a multiple of 16 */
    size_t row_bytes;        /* stride of codes (and codes2) */
    const uint8_t *codes;
    const uint8_t *codes2;   /* B2 second plane */
    const uint8_t *codes_hi; /* Q3 high plane, stride cols_pad / 8 */
    /* Q kinds */
    const uint16_t *scale, *zero; /* zero NULL when symmetric */
    int64_t ngroups;         /* scale groups per row group */
    int32_t group_shift;     /* log2(group_cols / 32) when that is 1..4 (groups tile 512 columns), else -1 */
    int32_t m161_salient;    /* the 4-bit salient part of an M161 matrix */
    int64_t group_rows;
    float sym_offset;        /* 2^(bits-1) when symmetric, else 0 */
    const uint16_t *grel;    /* per 16-block chunk: group index of each block minus g0 */
    const int32_t *g0;       /* per 16-block chunk: first group index */
    /* B1 / B2 / T kinds: per-row fp16 parameters */
    const uint16_t *alpha, *alpha2, *mu;
    /* Q kinds in a reordered activation layout, prepared once per matrix when small (else NULL and
     * the order is derived per call): x8p[xmap[2i] .. +4) = x8[xmap[2i+1] .. +4) for i < xmap_runs,
     * every other byte of x8p is zero. */
    const uint32_t *xmap;
    int64_t xmap_runs;
    /* Q kinds of at most one 16-block chunk, prepared per matrix (else NULL): the fp16 scale (and
     * zero) of group g for row r at [g * rows_t + r], rows_t = rows + 15 (the last row repeated), so
     * that 16 consecutive rows' parameters are one load. */
    const uint16_t *scale_t, *zero_t;
    int64_t rows_t;
    /* B1 kinds on CPUs with the lookup kernel, prepared per matrix (else NULL): the row-tiled copy of
     * codes (and codes2) (lut.h). */
    const uint8_t *lut;
    int32_t lut_by_row;  /* lut is in the by-row byte order (lut.h), which only AVX-512 reads */
    const uint8_t *q4t; /* M161's salient part, same CPUs: its codes in 16-row tiles (lut.h) */
    const uint8_t *q2t; /* Q2 parts on CPUs with AVX-512 VNNI and VBMI: codes and parameters in 16-row tiles (lut.h) */
    /* T158 parts of a handle whose code bytes were all found below 243 when it was built (the bytes a
     * packer writes): its kernels may then skip the check for the others. 0 otherwise and per call. */
    int32_t t158_codes_checked;
} qlow__kpart;

/* A row kernel: y[t * ldy + r] (+)= part_r . x_t for r in [r0, r1) and t in [0, nt).
 * add != 0 adds to y (second part of M161). The result must equal the generic kernel bit for bit. */
typedef void (*qlow__rows_fn)(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1,
                              float *y, int64_t ldy, int add);

/* Activation quantization steps (see act.c); every ISA must give the generic results exactly.
 * absmax: max |v_j| over n values, or -1 if any is NaN or infinite.
 * quantize: q_j = v_j * inv rounded half away from zero (add +-0.5, truncate), clamped to +-127;
 * returns the sum of the q_j. */
typedef float (*qlow__absmax_fn)(const float *v, int64_t n);
typedef int32_t (*qlow__quantize_fn)(const float *v, int64_t n, float inv, int8_t *q);

/* Batch-1 table lookup over a part's row-tiled sign copy (kp->lut, lut.h). tables: the token's lookup
 * tables from its block-major x8 into tab (the set's own layout, 256 bytes per unit). rows: rows
 * [r0, r1), which must start a 64-row span and end one (or end the part); returns the first row it
 * left undone (r0 when it cannot run, r1 otherwise). Same y contract and results as qlow__rows_fn. */
typedef void (*qlow__lut_tables_fn)(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab);
typedef int64_t (*qlow__lut_rows_fn)(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y,
                                     int add);

/* Kernels of one ISA; rows are indexed by kernel kind (a qlow_format value). NULL = use generic. */
typedef struct qlow__kernel_set {
    const char *name;
    qlow__rows_fn rows[10];
    qlow__absmax_fn absmax;
    qlow__quantize_fn quantize;
    int32_t qtrans; /* 1: Q4/Q3/Q2 kernels read the transposed activation orders; 2: Q8 as well */
    qlow__lut_tables_fn lut_tables; /* both NULL when the set has no lookup kernel */
    qlow__lut_rows_fn lut_rows;
    int32_t lut_by_row; /* lut_rows also reads copies in the by-row byte order (lut.h) */
} qlow__kernel_set;

QLOW_HIDDEN extern const qlow__kernel_set qlow__kernels_generic;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(QLOW_FORCE_GENERIC)
#define QLOW__HAVE_X86_KERNELS 1
QLOW_HIDDEN extern const qlow__kernel_set qlow__kernels_avx2;
QLOW_HIDDEN extern const qlow__kernel_set qlow__kernels_avx512;
QLOW_HIDDEN float qlow__absmax_avx2(const float *v, int64_t n);                        /* x86_avx2.c */
QLOW_HIDDEN int32_t qlow__quantize_avx2(const float *v, int64_t n, float inv, int8_t *q);
/* x86_avx2.c compiled a second time by x86_avx2_vnni.c with vpdpbusd (AVX-VNNI, GCC 11 / clang 12 on). */
#if (defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && __GNUC__ >= 11)
#define QLOW__HAVE_AVX_VNNI_KERNELS 1
QLOW_HIDDEN extern const qlow__kernel_set qlow__kernels_avx2_vnni;
#endif
#endif
#if defined(__ARM_NEON) && defined(__aarch64__) && !defined(QLOW_FORCE_GENERIC)
#define QLOW__HAVE_NEON_KERNELS 1
QLOW_HIDDEN extern const qlow__kernel_set qlow__kernels_neon;
#endif

/* SIMD row kernels: token tiles of TILE (defined by the including file) (the remainder one token at a time; two sizes keep the code small), inside row
 * blocks of about 128 KiB of codes so that a block stays in L2 while every tile passes over it.
 * QLOW__TILED_REST instead runs the last nt % TILE tokens as one tile (TILE must be 4): for kernels
 * whose per-tile work (the Q8 transposes of x86_avx512.c) costs a single token as much as a tile. */
#define QLOW__TILED_WITH(rest, tile_fn, ...)                                                            \
    const int64_t rblk = 1 + (int64_t)((128u << 10) / (kp->row_bytes + 1));                            \
    for (int64_t rb0 = r0; rb0 < r1; rb0 += rblk) {                                                     \
        const int64_t rb1 = r1 - rb0 < rblk ? r1 : rb0 + rblk;                                          \
        int t0 = 0;                                                                                     \
        for (; t0 + TILE <= nt; t0 += TILE) tile_fn(__VA_ARGS__, xq + t0, TILE, rb0, rb1, y + (int64_t)t0 * ldy, ldy, add); \
        rest(tile_fn, __VA_ARGS__)                                                                      \
    }
#define QLOW__REST_ONE(tile_fn, ...)                                                                    \
    for (; t0 < nt; t0++) tile_fn(__VA_ARGS__, xq + t0, 1, rb0, rb1, y + (int64_t)t0 * ldy, ldy, add);
#define QLOW__REST_TILE(tile_fn, ...)                                                                   \
    switch (nt - t0) {                                                                                  \
    case 3: tile_fn(__VA_ARGS__, xq + t0, 3, rb0, rb1, y + (int64_t)t0 * ldy, ldy, add); break;        \
    case 2: tile_fn(__VA_ARGS__, xq + t0, 2, rb0, rb1, y + (int64_t)t0 * ldy, ldy, add); break;        \
    case 1: tile_fn(__VA_ARGS__, xq + t0, 1, rb0, rb1, y + (int64_t)t0 * ldy, ldy, add); break;        \
    default: break;                                                                                     \
    }
#define QLOW__TILED(tile_fn, ...) QLOW__TILED_WITH(QLOW__REST_ONE, tile_fn, __VA_ARGS__)
#define QLOW__TILED_REST(tile_fn, ...) QLOW__TILED_WITH(QLOW__REST_TILE, tile_fn, __VA_ARGS__)

/* Column spans for token tiles. A tile of 4 tokens reads about 5 bytes of int8 activations, scales
 * and sums per column; past 4096 columns that outgrows L1 and every row re-reads it from L2, so Q4
 * at batch 8 ran 3.5x slower per token on 11008 columns than on 4096. Rows are then walked in column
 * spans of about QLOW__KSPAN_COLS, QLOW__KSPAN_ROWS rows at a time, each row's fp32 lanes carried
 * between spans, so the lanes see the same sequence of operations. A single token's 14 KiB at 11008
 * columns fits, so it keeps whole rows. chunk_cols: columns per kernel chunk (at least one chunk per
 * span). Returns the span in chunks: nchunk when no split is needed. */
#define QLOW__KSPAN_COLS 4096
#define QLOW__KSPAN_ROWS 32
static inline int64_t qlow__kspan(int64_t nchunk, int64_t chunk_cols, int nt)
{
    const int64_t most = chunk_cols >= QLOW__KSPAN_COLS ? 1 : QLOW__KSPAN_COLS / chunk_cols;
    if (nt == 1 || nchunk <= most) return nchunk;
    const int64_t nspan = (nchunk + most - 1) / most;
    return (nchunk + nspan - 1) / nspan;
}

/* Whether a call of nt tokens has tiles (of `tile` tokens) that walk a part's rows in spans. */
static inline int qlow__kspans(const qlow__kpart *kp, int64_t chunk_cols, int nt, int tile)
{
    const int64_t nchunk = kp->nblk_pad / 16;
    return nt >= tile && qlow__kspan(nchunk, chunk_cols, tile) < nchunk;
}

/* Rows [r0, r1) of a tile function's scope (kp, nt, r0, r1, y, ldy, add) in the spans of qlow__kspan:
 * row_fn(args..., r, y, ldy, add, c0, c1, carry) computes chunks [c0, c1) of row r, starting from the
 * 16 fp32 lanes per token in carry unless c0 = 0 (carry NULL: the whole row), and keeps them there
 * unless c1 ends the row, where it stores y. */
#define QLOW__SPANS(row_fn, chunk_cols, ...)                                                            \
    {                                                                                                   \
        const int64_t nchunk_ = kp->nblk_pad / 16, span_ = qlow__kspan(nchunk_, (chunk_cols), nt);       \
        if (span_ == nchunk_) {                                                                         \
            for (int64_t r_ = r0; r_ < r1; r_++) row_fn(__VA_ARGS__, r_, y, ldy, add, 0, nchunk_, NULL);  \
        } else {                                                                                        \
            _Alignas(64) float carry_[QLOW__KSPAN_ROWS * TILE * 16];                                    \
            for (int64_t rs_ = r0; rs_ < r1; rs_ += QLOW__KSPAN_ROWS) {                                 \
                const int64_t re_ = r1 - rs_ < QLOW__KSPAN_ROWS ? r1 : rs_ + QLOW__KSPAN_ROWS;          \
                for (int64_t c0_ = 0; c0_ < nchunk_; c0_ += span_)                                      \
                    for (int64_t r_ = rs_; r_ < re_; r_++)                                              \
                        row_fn(__VA_ARGS__, r_, y, ldy, add, c0_, nchunk_ - c0_ < span_ ? nchunk_ : c0_ + span_, \
                               carry_ + (r_ - rs_) * TILE * 16);                                        \
            }                                                                                           \
        }                                                                                               \
    }
/* Software prefetch of the weight planes, used by the SIMD kernels. Rows are short (2 KiB for Q4 at
 * 4096 columns) and the kernels walk two or more at once, so the hardware stream prefetchers, which
 * stop at 4 KiB pages, keep restarting: cold calls ran at half the read bandwidth. Each span of codes
 * a kernel reads at p + off is paired with a prefetch of p + off + QLOW__PF_DIST (rows further on in
 * the same plane); 4-12 KiB all did about equally well on 4096- and 11008-column matrices. T158's
 * batch-1 pair walk, which prefetches into L1 on every CPU, uses half (T158_PAIR_PF_DIST in
 * x86_avx512.c: faster cold on Zen 4). The address is formed as an integer: it may lie past the
 * plane, which a prefetch tolerates. */
#define QLOW__PF_DIST 8192
#if defined(__GNUC__)
#define QLOW__PREFETCH_LINES(p, off, n, level)                                                          \
    for (int64_t k = 0; k < (n); k += 64)                                                               \
    __builtin_prefetch((const void *)((uintptr_t)(p) + (uintptr_t)((off) + k)), 0, (level))
#else
#define QLOW__PREFETCH_LINES(p, off, n, level) (void)(p), (void)(off), (void)(n)
#endif
/* Into L1 (prefetcht0). */
static inline void qlow__prefetch(const void *p, int64_t off, int64_t n) { QLOW__PREFETCH_LINES(p, off, n, 3); }
/* Weights of the AVX-512 kernels except T158's: into L2 (locality 1, prefetcht2 on x86) where the
 * CPU does better so (xq->prefetch_l2, from qlow__cpu_prefetch_l2), else into L1. The branch is the
 * same for a whole call. On Zen 4, kernels that consume their weights fast streamed much faster so,
 * probably because a prefetch into L1 holds one of L1's few miss buffers until its line comes from
 * memory (this VM has no hardware counters to confirm it) (4096 x 4096
 * g128, cold, 1 thread, best of 20 batches of 20 calls, L1 -> L2: Q8 1040 -> 780-840 us, Q4 590 ->
 * 370-430, T2 340 -> 190-220, B1 145 -> 100-125, B2 270 -> 185, M161 200 -> 145-165; no prefetch at
 * all lay in between, Q8 about as fast as L2). On Zen 5, L2 made Q4 slower (257 -> 291 us) and B1
 * no faster. T158 went the other way on Zen 4 too (190-280 -> 360-440 us), probably because it spends
 * so long on each byte that its out-of-order window covers little of the stream. The
 * AVX2 kernels, slower per byte too, were mixed there (B1 272 -> 291-302, Q4 478 -> 438) and keep L1. */
static inline void qlow__prefetch_w(int l2, const void *p, int64_t off, int64_t n)
{
    if (l2)
        QLOW__PREFETCH_LINES(p, off, n, 1);
    else
        QLOW__PREFETCH_LINES(p, off, n, 3);
}

/* The kernel set for an ISA level (a qlow_isa value). */
QLOW_HIDDEN const qlow__kernel_set *qlow__kernels_for_isa(int isa);

/* ---- shared fp32 folding, used identically by every ISA ---- */
static inline float qlow__h2f(uint16_t h) { return qlow_fp16_to_fp32(h); }

/* Sum 16 lanes by the fixed tree (i, i+8), (i, i+4), (i, i+2), (i, i+1). */
static inline float qlow__lanes_sum(const float *a)
{
    float t[8];
    for (int i = 0; i < 8; i++) t[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++) t[i] = t[i] + t[i + 4];
    for (int i = 0; i < 2; i++) t[i] = t[i] + t[i + 2];
    return t[0] + t[1];
}

/* Per-row epilogues of the binary and ternary kinds (T = lane sum, X = xtot). */
static inline float qlow__b1_finish(float T, float X, float alpha, float mu)
{
    float u = (T + T) - X;
    float y = alpha * u;
    return y + mu * X;
}
static inline float qlow__b2_finish(float T1, float T2, float X, float a1, float a2, float mu)
{
    float u1 = (T1 + T1) - X;
    float u2 = (T2 + T2) - X;
    float y = a1 * u1;
    y = y + a2 * u2;
    return y + mu * X;
}
static inline float qlow__t_finish(float T, float X, float alpha) { return alpha * (T - X); }

/* Row r of a binary or ternary part from its lane sums T1 (and T2 for B2); h2f converts fp16 (each
 * ISA passes its own exact conversion). */
typedef float (*qlow__h2f_fn)(uint16_t h);
static inline float qlow__bt_finish(const qlow__kpart *kp, int64_t r, float T1, float T2, float X, qlow__h2f_fn h2f)
{
    if (kp->format == QLOW_FORMAT_B1) return qlow__b1_finish(T1, X, h2f(kp->alpha[r]), h2f(kp->mu[r]));
    if (kp->format == QLOW_FORMAT_B2)
        return qlow__b2_finish(T1, T2, X, h2f(kp->alpha[r]), h2f(kp->alpha2[r]), h2f(kp->mu[r]));
    return qlow__t_finish(T1, X, h2f(kp->alpha[r]));
}

/* Q kinds: the factors of (row r, 32-column block b in scale group g) as the kernels fold them:
 *   d = scale_g * xs_b, z_g = zero_g (asymmetric) or -scale_g * 2^(bits-1) (symmetric). */
static inline size_t qlow__q_param_offset(const qlow__kpart *kp, int64_t r)
{
    return (size_t)(kp->group_rows == 1 ? r : r / kp->group_rows) * (size_t)kp->ngroups;
}
static inline const uint16_t *qlow__q_scale_row(const qlow__kpart *kp, int64_t r)
{
    return kp->scale + qlow__q_param_offset(kp, r);
}
static inline const uint16_t *qlow__q_zero_row(const qlow__kpart *kp, int64_t r)
{
    return kp->zero ? kp->zero + qlow__q_param_offset(kp, r) : NULL;
}

/* Q kinds: a finished row's zero term, acc[g % 16] += z_g * xgsum_g for each group g in order (sr,
 * zr: the row's parameters). The SIMD kernels take 16 groups per step with the same multiplies and
 * adds; lanes past the last group add z * 0 = +-0, which leaves a lane unchanged (a lane that starts
 * at +0 and adds products is never -0), so every ISA agrees bit for bit. */
static inline void qlow__q_zero_fold(const qlow__kpart *kp, const uint16_t *sr, const uint16_t *zr, const float *xgsum,
                                     float *acc)
{
    for (int64_t g = 0; g < kp->ngroups; g++) {
        const float ws = qlow__h2f(sr[g]);
        const float z = zr ? qlow__h2f(zr[g]) : -(ws * kp->sym_offset);
        acc[g % QLOW__LANES] = acc[g % QLOW__LANES] + z * xgsum[g];
    }
}

/* How the scale groups of a Q part map to blocks. The SIMD row kernels are specialized per mode (a
 * compile-time constant at each call), which keeps the per-chunk tests out of the loop. */
enum { QP_ONE, QP_BLOCK, QP_SHIFT, QP_MAP };
static inline int qlow__q_pmode(const qlow__kpart *kp)
{
    if (kp->ngroups == 1) return QP_ONE;             /* one group per row (M161 salient part) */
    if (kp->ngroups == kp->nblk) return QP_BLOCK;    /* group_cols == 32: one group per block, in order */
    return kp->group_shift > 0 ? QP_SHIFT : QP_MAP;  /* 2^shift blocks per group, or the group maps */
}

/* Whether a Q part folds its zero terms block by block (acc[b % 16] += z_g * xsum_b right after the
 * block's scale term). That is cheaper when every block has a group of its own (QP_BLOCK): a pass per
 * group would reload the parameters that the block step has at hand (Q4 g32 symmetric, Zen 4: 20%
 * slower). Otherwise they are folded per group once the blocks are done (qlow__q_zero_fold). */
static inline int qlow__q_zero_per_block(const qlow__kpart *kp) { return qlow__q_pmode(kp) == QP_BLOCK; }

/* Natural column (within the part) of kernel-order position p. */
static inline size_t qlow__xord_source(int xord, size_t p)
{
    switch (xord) {
    case QLOW__XORD_Q4: {
        size_t c = p / 128, q = p % 128, h = q / 64, b = (q % 64) / 16, i = q % 16;
        return c * 128 + b * 32 + h * 16 + i;
    }
    case QLOW__XORD_Q2: {
        size_t c = p / 256, q = p % 256, k = q / 64, b = (q % 64) / 8, i = q % 8;
        return c * 256 + b * 32 + k * 8 + i;
    }
    case QLOW__XORD_T158: {
        size_t c = p / 320, q = p % 320, k = q / 64, i = q % 64;
        return c * 320 + 5 * i + k;
    }
    case QLOW__XORD_Q4T: { /* dword e of a vector holds block 4 * (e % 4) + e / 4 */
        size_t c = p / 512, q = p % 512, j = q / 128, h = (q % 128) / 64, e = (q % 64) / 4, i = q % 4;
        size_t b = 4 * (e % 4) + e / 4;
        return c * 512 + b * 32 + h * 16 + 4 * j + i;
    }
    case QLOW__XORD_Q2T: { /* dword e holds block e */
        size_t c = p / 512, q = p % 512, j = q / 256, k = (q % 256) / 64, b = (q % 64) / 4, i = q % 4;
        return c * 512 + b * 32 + 8 * k + 4 * j + i;
    }
    case QLOW__XORD_Q8T: { /* dword e of a vector holds block 4 * (e % 4) + e / 4 */
        size_t c = p / 512, q = p % 512, j = q / 64, e = (q % 64) / 4, i = q % 4;
        return c * 512 + (4 * (e % 4) + e / 4) * 32 + 4 * j + i;
    }
    default: return p;
    }
}

/* Block-major index of kernel-order position p (identity unless the part interleaves). */
static inline size_t qlow__block_major(const qlow__kpart *kp, size_t p)
{
    if (!kp->interleave) return p;
    size_t A = (size_t)kp->ablock, chunk = p / (16 * A), q = p % (16 * A);
    size_t s = q / 64, d = (q % 64) / 4, i = q % 4;
    return chunk * 16 * A + d * A + s * 4 + i;
}

/* T158 digit k of a code byte, defined for all 256 byte values. */
static inline int qlow__t158_digit(unsigned b, int k)
{
    static const unsigned pow3[5] = {1, 3, 9, 27, 81};
    return (int)((b / pow3[k]) % 3u);
}

/* ---- per-matrix kernel tables (dispatch.c) ----
 * Everything a product needs that depends only on the matrix, computed once when a handle is built and
 * kept in a side area of the handle (qlow_qmatrix.prep), so that a call does no per-matrix work. */
/* Bytes of that area for a handle with packed description p (perm_stored: the handle holds the M161
 * permutation); 0 when the kernels cannot run the matrix (every call then reports why).
 * QLOW_E_OVERFLOW. */
QLOW_HIDDEN qlow_status qlow__gemm_prep_bytes(const qlow__packed *p, int perm_stored, size_t *bytes);
/* Build the tables of the finished handle qm (p and perm set) in mem (64-byte aligned, `bytes` from
 * qlow__gemm_prep_bytes). Returns NULL if they cannot be built; never allocates. */
QLOW_HIDDEN const qlow__gemm_prep *qlow__gemm_prep_build(const qlow_qmatrix *qm, void *mem, size_t bytes);
/* The same with the byte order of the binary parts' row-tiled copies chosen (lut.h): QLOW__LUT_AUTO (the
 * one this CPU's best lookup kernel reads, as qlow__gemm_prep_build), QLOW__LUT_LANES or QLOW__LUT_ROWS.
 * The tests use it to run every lookup kernel on one CPU. */
enum { QLOW__LUT_AUTO = -1, QLOW__LUT_LANES = 0, QLOW__LUT_ROWS = 1 };
QLOW_HIDDEN const qlow__gemm_prep *qlow__gemm_prep_build_layout(const qlow_qmatrix *qm, void *mem, size_t bytes,
                                                                int lut_layout);
/* T158 parts of handle qm whose code bytes were all found below 243 when it was built (the tests). */
QLOW_HIDDEN int qlow__gemm_prep_t158_checked_parts(const qlow_qmatrix *qm);

/* From this many rows on, the chunk kernels beat the narrow ones on Q parts: the salient Q4 part of a
 * 4096 x 4096 M161 matrix (416 columns) took 40 us narrow against 35 us, and cold calls of the whole
 * matrix 170 against 120 us. */
#define QLOW__NARROW_Q_MAX_ROWS 1024

#if defined(QLOW__HAVE_X86_KERNELS)
/* Batch-1 AVX-512 VNNI rows of a narrow Q part (x86_avx512_narrow.c), sixteen rows per pass. _ok: the
 * part qualifies (Q8/Q4/Q3/Q2, one 16-block chunk, fewer than QLOW__NARROW_Q_MAX_ROWS rows, tables
 * prepared). _rows computes rows [r0, r1) and
 * returns the first row it left to the caller (r1). Results equal the other kernels bit for bit. */
QLOW_HIDDEN int qlow__narrow_q_ok(const qlow__kpart *kp);
QLOW_HIDDEN int64_t qlow__narrow_q_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1,
                                               float *y, int add);
/* The same for B1/B2 parts of one chunk (at most 4096 columns). */
QLOW_HIDDEN int qlow__narrow_b_ok(const qlow__kpart *kp);
QLOW_HIDDEN int64_t qlow__narrow_b_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1,
                                               float *y, int add);
#endif

#endif
