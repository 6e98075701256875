/* x86_avx512.c - AVX-512 row kernels (F/BW/VL/DQ + VNNI + VBMI), compiled per function with target
 * attributes so the library itself needs no -march flag. Used at QLOW_ISA_AVX512_VNNI.
 * Weight codes are unsigned bytes, activations signed int8, so vpdpbusd multiplies them directly:
 *   Q8 bytes as they are; Q4 high nibbles and Q2/Q3 bit pairs moved down by one GFNI affine op,
 *   T2 bit pairs masked in place (activations are stored in the matching kernel order); Q3's third
 *   bits taken for two fields at a time by vpmultishiftqb from their plane; B1/B2 sign bits used as
 *   byte masks on the activations (sum of x over the +1 columns); T158 bytes reduced modulo 81 by
 *   unsigned minimums, digits 0..3 from one vpermt2b lookup of the remainder (2-bit fields) and
 *   digit 4 from the difference. Weight planes are prefetched QLOW__PF_DIST bytes ahead, into L2 or
 *   L1 as the CPU prefers, T158's into L1 (kernels.h).
 * Integer sums are exact and the fp32 folding follows kernels.h, so results equal the generic ones. */
#include "kernels/kernels.h"
#include "kernels/lut.h"
#include "kernels/x86_avx512_finish.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
/* GCC 12's intrinsic headers start some results from an undefined vector. */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define TGT                                                                                            \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,gfni,"             \
                          "avx2,fma,f16c,bmi2")))
#define INL static inline __attribute__((always_inline)) TGT
#define TILE 4 /* tokens sharing one pass over the weights */
#ifndef BT_NR
#define BT_NR 4 /* rows walked together by one token in the binary kernels */
#endif
/* Small fixed loops must be fully unrolled so that accumulator arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 16")

/* ---- helpers ---------------------------------------------------------------------------------- */

/* 64 bytes at p, of which only the first `rem` exist (zeros beyond). */
INL __m512i ld(const uint8_t *p, int64_t rem)
{
    if (rem >= 64) return _mm512_loadu_si512((const void *)p);
    if (rem <= 0) return _mm512_setzero_si512();
    return _mm512_maskz_loadu_epi8(_cvtu64_mask64(_bzhi_u64(~0ull, (unsigned)rem)), p);
}
INL __m512i ldx(const int8_t *p) { return _mm512_loadu_si512((const void *)p); }

/* Bits [lo, lo + n) of every byte, moved to the bottom: one GF(2) affine op, where a shift and a mask
 * are two (AVX-512 has no byte shift). Result bit i is the parity of matrix byte 7 - i AND the input. */
INL __m512i bits_of_bytes(__m512i v, int lo, int n)
{
    unsigned long long m = 0;
    for (int i = 0; i < n; i++) m |= 1ull << (8 * (7 - i) + lo + i);
    return _mm512_gf2p8affine_epi64_epi8(v, _mm512_set1_epi64((long long)m), 0);
}

/* The fixed lane tree of qlow__lanes_sum. */
INL float lanes_sum(__m512 a)
{
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

INL void store(float *y, float v, int add) { *y = add ? *y + v : v; }

/* lanes_sum of 16 rows at once, row i's lanes at L + 16 i (rows n..15 read as zero), row i in lane i.
 * Each step adds the lane pairs lanes_sum adds, for two to eight rows per instruction, so the sums are
 * the same bit for bit; one row at a time, the reduction's shuffles and its scalar store were 4-9% of
 * a hot batch-1 Q call. */
INL __m512 lanes_sum16(const float *L, int n)
{
    __m512 a[16], v[8], u[4], x[2];
    UNROLL
    for (int i = 0; i < 16; i++) a[i] = i < n ? _mm512_load_ps(L + 16 * i) : _mm512_setzero_ps();
    UNROLL /* (l, l + 8): row 2m in lanes 0-7, row 2m + 1 in lanes 8-15 */
    for (int m = 0; m < 8; m++)
        v[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xEE));
    UNROLL /* (l, l + 4): quarter k holds row 4n + k */
    for (int m = 0; m < 4; m++)
        u[m] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * m], v[2 * m + 1], 0x88),
                             _mm512_shuffle_f32x4(v[2 * m], v[2 * m + 1], 0xDD));
    UNROLL /* (l, l + 2): quarter k holds rows 8p + k, 8p + 4 + k, two lanes each */
    for (int p = 0; p < 2; p++) {
        const __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(u[2 * p]), _mm512_castps_pd(u[2 * p + 1]));
        const __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(u[2 * p]), _mm512_castps_pd(u[2 * p + 1]));
        x[p] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
    }
    /* (l, l + 1): lane 4k + e holds row 4e + k */
    const __m512 f = _mm512_add_ps(_mm512_shuffle_ps(x[0], x[1], 0x88), _mm512_shuffle_ps(x[0], x[1], 0xDD));
    const __m512i rows = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(rows, f);
}

/* store for rows 0..n-1 in lanes. */
INL void store16(__m512 v, int n, float *y, int add)
{
    const __mmask16 m = _cvtu32_mask16((1u << n) - 1u);
    if (add) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y), v);
    _mm512_mask_storeu_ps(y, m, v);
}

static inline TGT float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Within each 128-bit lane, a 4x4 dword transpose: dword q of lane l of u[j] = dword j of lane l of L[q]. */
INL void transpose4x4_epi32(const __m512i *L, __m512i *u)
{
    __m512i t0 = _mm512_unpacklo_epi32(L[0], L[1]), t1 = _mm512_unpackhi_epi32(L[0], L[1]);
    __m512i t2 = _mm512_unpacklo_epi32(L[2], L[3]), t3 = _mm512_unpackhi_epi32(L[2], L[3]);
    u[0] = _mm512_unpacklo_epi64(t0, t2);
    u[1] = _mm512_unpackhi_epi64(t0, t2);
    u[2] = _mm512_unpacklo_epi64(t1, t3);
    u[3] = _mm512_unpackhi_epi64(t1, t3);
}
/* ---- Q8 / Q4 / Q3 / Q2 ------------------------------------------------------------------------ */


/* Scale (and zero) of the 16 blocks of chunk c of row r as fp32. `whole`: the chunk lies inside the
 * row, so all of its groups exist and the fast paths load them without a computed mask (the mask
 * arithmetic was a fifth of the Q2 loop). */
INL __m512 q_params(const uint16_t *row_params, const qlow__kpart *kp, int64_t c, int mode, int whole)
{
    if (mode == QP_ONE) return _mm512_set1_ps(h2f(row_params[0]));
    if (mode == QP_BLOCK) {
        if (whole) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row_params + c * 16)));
        int64_t n = kp->ngroups - c * 16;
        __mmask16 m = _cvtu32_mask16(n >= 16 ? 0xffffu : (1u << n) - 1u);
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row_params + c * 16));
    }
    if (mode == QP_SHIFT) { /* 16 >> shift groups per chunk */
        const unsigned sh = (unsigned)kp->group_shift;
        int64_t g = (c * 16) >> sh, cnt = 16 >> sh;
        if (!whole) cnt = kp->ngroups - g < cnt ? kp->ngroups - g : cnt;
        __m512 v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(_cvtu32_mask16((1u << cnt) - 1u), row_params + g));
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        return _mm512_permutexvar_ps(_mm512_srli_epi32(iota, sh), v);
    }
    int64_t g0 = kp->g0[c], n = kp->ngroups - g0;
    __mmask32 m = _cvtu32_mask32(n >= 32 ? 0xffffffffu : (1u << n) - 1u);
    __m512i raw = _mm512_maskz_loadu_epi16(m, row_params + g0);
    __m512i idx = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(kp->grel + c * 16)));
    return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(idx, raw)));
}

/* Exact per-block integer sums of chunk c (16 blocks, 512 columns) for nt tokens. */
/* Loads of a Q chunk: `whole` (a compile-time constant at each call) skips the bounds checks. */
#define LDQ(p, rem) (whole ? _mm512_loadu_si512((const void *)(p)) : ld((p), (rem)))

INL void q_isums(int32_t kind, const uint8_t *row, const uint8_t *hi_row, int64_t c, int64_t data_bytes, int whole,
                 const qlow__xq *xq, int nt, __m512i *isum)
{
    const __m512i zero = _mm512_setzero_si512();
    /* the block order's lane b takes lane 4 (b % 4) + b / 4 of the Q8T / Q4T lane order */
    const __m512i q_blocks = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    if (kind == QLOW_FORMAT_Q8) {
        /* Lanes become blocks once per chunk for every token of the tile, instead of an 8-to-1 reduction
         * per token: 128-bit lane t of Y[e][p] is block 4p + t, dwords 4e .. 4e + 3, then a 4x4 dword
         * transpose per e gives vector 4e + i with dword 4t + g = dword 4e + i of block 4g + t, the
         * activations' order (QLOW__XORD_Q8T). */
        __m512i W[8], Y[2][4];
        UNROLL
        for (int k = 0; k < 8; k++) W[k] = LDQ(row + c * 512 + k * 64, data_bytes - (c * 512 + k * 64));
        UNROLL
        for (int p = 0; p < 4; p++) {
            Y[0][p] = _mm512_shuffle_i32x4(W[2 * p], W[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0));
            Y[1][p] = _mm512_shuffle_i32x4(W[2 * p], W[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1));
        }
        __m512i a[TILE][2];
        UNROLL
        for (int t = 0; t < nt; t++) a[t][0] = a[t][1] = zero;
        UNROLL
        for (int e = 0; e < 2; e++) {
            __m512i u[4];
            transpose4x4_epi32(Y[e], u);
            UNROLL
            for (int i = 0; i < 4; i++) {
                UNROLL
                for (int t = 0; t < nt; t++)
                    a[t][i & 1] = _mm512_dpbusd_epi32(a[t][i & 1], u[i], ldx(xq[t].x8p + c * 512 + (4 * e + i) * 64));
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++) isum[t] = _mm512_permutexvar_epi32(q_blocks, _mm512_add_epi32(a[t][0], a[t][1]));
    } else if (kind == QLOW_FORMAT_Q4) {
        /* 4x4 dword transpose inside each 128-bit lane: u_j dword 4l + q = dword j of block 4q + l,
         * the activations are stored in that order (QLOW__XORD_Q4T). */
        const __m512i m4 = _mm512_set1_epi8(15);
        __m512i L[4], u[4];
        UNROLL
        for (int q = 0; q < 4; q++) L[q] = LDQ(row + c * 256 + q * 64, data_bytes - (c * 256 + q * 64));
        transpose4x4_epi32(L, u);
        __m512i alo[TILE], ahi[TILE];
        UNROLL
        for (int t = 0; t < nt; t++) alo[t] = ahi[t] = zero;
        UNROLL
        for (int j = 0; j < 4; j++) {
            __m512i lo = _mm512_and_si512(u[j], m4), hi = bits_of_bytes(u[j], 4, 4);
            UNROLL
            for (int t = 0; t < nt; t++) {
                const int8_t *x = xq[t].x8p + c * 512 + j * 128;
                alo[t] = _mm512_dpbusd_epi32(alo[t], lo, ldx(x));
                ahi[t] = _mm512_dpbusd_epi32(ahi[t], hi, ldx(x + 64));
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++) isum[t] = _mm512_permutexvar_epi32(q_blocks, _mm512_add_epi32(alo[t], ahi[t]));
    } else { /* Q2, Q3: V_j dword b = dword j of block b (QLOW__XORD_Q2T), so lanes are blocks */
        const __m512i m2 = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
        __m512i L0 = LDQ(row + c * 128, data_bytes - c * 128), L1 = LDQ(row + c * 128 + 64, data_bytes - c * 128 - 64);
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        __m512i V[2] = {_mm512_permutex2var_epi32(L0, even, L1), _mm512_permutex2var_epi32(L0, odd, L1)};
        if (kind == QLOW_FORMAT_Q2 && nt == 1) { /* two dpbusd chains */
            __m512i a[2] = {zero, zero};
            UNROLL
            for (int k = 0; k < 4; k++) {
                UNROLL
                for (int j = 0; j < 2; j++)
                    a[j] = _mm512_dpbusd_epi32(a[j], bits_of_bytes(V[j], 2 * k, 2),
                                               ldx(xq[0].x8p + c * 512 + j * 256 + k * 64));
            }
            isum[0] = _mm512_add_epi32(a[0], a[1]);
            return;
        }
        __m512i hv = zero;
        if (kind == QLOW_FORMAT_Q3) hv = LDQ(hi_row + c * 64, data_bytes / 2 - c * 64);
        __m512i a[TILE][2];
        UNROLL
        for (int t = 0; t < nt; t++) a[t][0] = a[t][1] = zero;
        UNROLL
        for (int k = 0; k < 4; k++) {
            __m512i hk = zero;
            if (kind == QLOW_FORMAT_Q3) {
                /* Byte 4h + i of qword q of p is column 8k + 4j + i of block 2q + h, whose high bit is
                 * bit 32h + 8k + 4j + i of qword q of hv. Taking each byte from 2 bits lower puts it at
                 * bit 2 for j = 0 and bit 6 for j = 1: one vpmultishiftqb per k, where a vpshufbitqmb
                 * per k and j and a masked add were slower (Zen 4, 4096 x 4096 g128, 1 thread, hot,
                 * best of 5 alternating runs: 300 -> 293 us; 4096 x 11008: 865 -> 836; batch 8 equal). */
                const __m512i at = _mm512_add_epi8(_mm512_set1_epi64(0x2322212003020100ll),
                                                   _mm512_set1_epi8((char)(8 * k - 2)));
                hk = _mm512_multishift_epi64_epi8(at, hv);
            }
            UNROLL
            for (int j = 0; j < 2; j++) {
                /* GFNI shares the ports vpdpbusd needs: a tile's four tokens keep shift and mask */
                __m512i p = nt == 1 ? bits_of_bytes(V[j], 2 * k, 2)
                                    : _mm512_and_si512(_mm512_srli_epi16(V[j], 2 * k), m2);
                if (kind == QLOW_FORMAT_Q3) /* p | (high & 4) */
                    p = _mm512_ternarylogic_epi32(p, j ? _mm512_srli_epi16(hk, 4) : hk, four, 0xF8);
                UNROLL
                for (int t = 0; t < nt; t++)
                    a[t][j] = _mm512_dpbusd_epi32(a[t][j], p, ldx(xq[t].x8p + c * 512 + j * 256 + k * 64));
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++) isum[t] = _mm512_add_epi32(a[t][0], a[t][1]);
    }
}

/* Q4 block sums of chunk c for rows row[0] and row[1] and nt tokens, as q_isums computes them for
 * one row: each activation vector loaded feeds both rows' vpdpbusd (q_rows2_to). */
INL void q4_isums2(const uint8_t *const *row, int64_t c, int64_t data_bytes, int whole, const qlow__xq *xq, int nt,
                   __m512i (*isum)[TILE])
{
    const __m512i m4 = _mm512_set1_epi8(15), zero = _mm512_setzero_si512();
    const __m512i q_blocks = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512i u[2][4];
    UNROLL
    for (int i = 0; i < 2; i++) {
        __m512i L[4];
        UNROLL
        for (int q = 0; q < 4; q++) L[q] = LDQ(row[i] + c * 256 + q * 64, data_bytes - (c * 256 + q * 64));
        transpose4x4_epi32(L, u[i]);
    }
    __m512i a[2][TILE];
    UNROLL
    for (int t = 0; t < nt; t++) a[0][t] = a[1][t] = zero;
    UNROLL
    for (int j = 0; j < 4; j++) {
        __m512i lo[2], hi[2];
        UNROLL
        for (int i = 0; i < 2; i++) {
            lo[i] = _mm512_and_si512(u[i][j], m4);
            hi[i] = bits_of_bytes(u[i][j], 4, 4);
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            const int8_t *x = xq[t].x8p + c * 512 + j * 128;
            const __m512i xl = ldx(x), xh = ldx(x + 64);
            UNROLL
            for (int i = 0; i < 2; i++) a[i][t] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(a[i][t], lo[i], xl), hi[i], xh);
        }
    }
    UNROLL
    for (int i = 0; i < 2; i++) {
        UNROLL
        for (int t = 0; t < nt; t++) isum[i][t] = _mm512_permutexvar_epi32(q_blocks, a[i][t]);
    }
}

/* One chunk's block sums folded into a row's 16 fp32 lanes, in kernels.h's order; with one group per
 * block (QP_BLOCK) the zero terms z * xsum too (qlow__q_zero_per_block), else they come after the
 * row's blocks (q_zero_fold, q_zero_fold16). */
INL __m512 q_fold(int mode, __m512 acc, __m512 ws, __m512 z, const float *xs, const float *xsum, __m512i isum)
{
    const __m512 d = _mm512_mul_ps(ws, _mm512_loadu_ps(xs));
    acc = _mm512_add_ps(acc, _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum)));
    return mode == QP_BLOCK ? _mm512_add_ps(acc, _mm512_mul_ps(z, _mm512_loadu_ps(xsum))) : acc;
}
/* The zero terms of chunk c for q_fold: only QP_BLOCK folds them per block. */
INL __m512 q_zeros_block(int mode, const qlow__kpart *kp, const uint16_t *zr, __m512 ws, __m512 neg_off, int64_t c,
                         int whole)
{
    if (mode != QP_BLOCK) return ws; /* unused */
    return zr ? q_params(zr, kp, c, mode, whole) : _mm512_mul_ps(ws, neg_off);
}

/* z_g of groups g .. g + 15 of a row (kernels.h) from its zero parameters (asymmetric) or scales
 * (symmetric) at p, zero past ngroups: those lanes then add z * 0 = +-0, which leaves them unchanged
 * (qlow__q_zero_fold). */
INL __m512 q_zeros16(const qlow__kpart *kp, const uint16_t *p, int64_t g)
{
    const int64_t left = kp->ngroups - g;
    const __mmask16 m = _cvtu32_mask16(left >= 16 ? 0xffffu : (1u << left) - 1u);
    const __m512 v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + g));
    return kp->zero ? v : _mm512_mul_ps(v, _mm512_set1_ps(-kp->sym_offset));
}
INL const uint16_t *q_zero_params(const qlow__kpart *kp, int64_t r)
{
    return kp->zero ? qlow__q_zero_row(kp, r) : qlow__q_scale_row(kp, r);
}

/* qlow__q_zero_fold of row r for nt tokens (the column-span walks). */
INL void q_zero_fold(const qlow__kpart *kp, int64_t r, const qlow__xq *xq, int nt, __m512 *acc)
{
    const uint16_t *p = q_zero_params(kp, r);
    for (int64_t g = 0; g < kp->ngroups; g += 16) {
        const __m512 z = q_zeros16(kp, p, g);
        UNROLL
        for (int t = 0; t < nt; t++) acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(z, _mm512_loadu_ps(xq[t].xgsum + g)));
    }
}

/* qlow__q_zero_fold of the n rows of a 16-row batch (q_whole: token t, row i at L + 256 t + 16 i), all
 * 16 rows per group step (rows past n read row r's parameters; their lanes are never stored). Per row
 * inside the chunk loops, the zero terms changed those loops' register allocation, and Q2 got slower
 * instead of faster. */
INL void q_zero_fold16(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r, int n, float *L)
{
    const uint16_t *p[16];
    for (int i = 0; i < 16; i++) p[i] = q_zero_params(kp, i < n ? r + i : r);
    for (int t = 0; t < nt; t++) {
        __m512 a[16];
        UNROLL
        for (int i = 0; i < 16; i++) a[i] = _mm512_load_ps(L + 256 * t + 16 * i);
        for (int64_t g = 0; g < kp->ngroups; g += 16) {
            const __m512 X = _mm512_loadu_ps(xq[t].xgsum + g);
            UNROLL
            for (int i = 0; i < 16; i++) a[i] = _mm512_add_ps(a[i], _mm512_mul_ps(q_zeros16(kp, p[i], g), X));
        }
        UNROLL
        for (int i = 0; i < 16; i++) _mm512_store_ps(L + 256 * t + 16 * i, a[i]);
    }
}

/* Chunks [c0, c1) of row r for a tile of nt tokens, one row at a time (pairs of rows: q_rows2_to).
 * carry: NULL for a whole row; else the row's 16 fp32 lanes per token between column spans (q_span),
 * loaded unless c0 = 0 and kept unless c1 ends the row, so the lanes see the same fp32 sequence. */
INL void q_row_to(int32_t kind, int mode, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r, float *y,
                  int64_t ldy, int add, int64_t c0, int64_t c1, float *carry, float *lanes)
{
    const size_t bpb = kind == QLOW_FORMAT_Q8 ? 32 : kind == QLOW_FORMAT_Q4 ? 16 : 8;
    const int64_t data_bytes = (int64_t)((size_t)kp->cols_pad / 32 * bpb);
    const int64_t nchunk = kp->nblk_pad / 16;
    const __m512 neg_off = _mm512_set1_ps(-kp->sym_offset); /* here: stores to y may alias kp */
    const uint8_t *row = kp->codes + (size_t)r * kp->row_bytes;
    const uint8_t *hi_row = kp->codes_hi ? kp->codes_hi + (size_t)r * ((size_t)kp->cols_pad / 8) : NULL;
    const uint16_t *sr = qlow__q_scale_row(kp, r), *zr = qlow__q_zero_row(kp, r);
    __m512 acc[TILE];
    UNROLL
    for (int t = 0; t < nt; t++) acc[t] = carry && c0 > 0 ? _mm512_load_ps(carry + t * 16) : _mm512_setzero_ps();
    const int64_t chunk_bytes = (int64_t)bpb * 16, nfull = data_bytes / chunk_bytes;
    /* the parameters of the row QLOW__PF_DIST code bytes ahead */
    const int64_t ahead = 1 + QLOW__PF_DIST / (int64_t)kp->row_bytes, pbytes = kp->ngroups * 2;
    /* In a column span the next codes read are the next rows' same columns: prefetch those. */
    const int64_t span_bytes = (c1 - c0) * (int64_t)bpb * 16;
    const int64_t pfd = carry ? (1 + QLOW__PF_DIST / span_bytes) * (int64_t)kp->row_bytes : QLOW__PF_DIST;
    if (c0 == 0) {
        qlow__prefetch_w(xq->prefetch_l2, sr, ahead * pbytes, pbytes);
        if (zr) qlow__prefetch_w(xq->prefetch_l2, zr, ahead * pbytes, pbytes);
    }
#define Q_CHUNK(c, whole)                                                                              \
    {                                                                                                  \
        __m512i isum[TILE];                                                                            \
        qlow__prefetch_w(xq->prefetch_l2, row, (c) * chunk_bytes + pfd, chunk_bytes);                  \
        if (hi_row) qlow__prefetch_w(xq->prefetch_l2, hi_row, (c) * 64 + pfd / 2, 64);                 \
        q_isums(kind, row, hi_row, c, data_bytes, whole, xq, nt, isum);                                \
        __m512 ws = q_params(sr, kp, c, mode, whole), z = q_zeros_block(mode, kp, zr, ws, neg_off, c, whole); \
        UNROLL                                                                                         \
        for (int t = 0; t < nt; t++)                                                                   \
            acc[t] = q_fold(mode, acc[t], ws, z, xq[t].xs + (c) * 16, xq[t].xsum + (c) * 16, isum[t]); \
    }
    const int64_t cwhole = c1 < nfull ? c1 : nfull;
    int64_t c = c0;
    for (; c < cwhole; c++) Q_CHUNK(c, 1)
    for (; c < c1; c++) Q_CHUNK(c, 0)
#undef Q_CHUNK
    if (carry && c1 < nchunk) {
        UNROLL
        for (int t = 0; t < nt; t++) _mm512_store_ps(carry + t * 16, acc[t]);
        return;
    }
    if (lanes) { /* a 16-row batch's lanes (q_whole: q_zero_fold16, then lanes_sum16) */
        UNROLL
        for (int t = 0; t < nt; t++) _mm512_store_ps(lanes + t * 256, acc[t]);
        return;
    }
    if (mode != QP_BLOCK) q_zero_fold(kp, r, xq, nt, acc);
    UNROLL
    for (int t = 0; t < nt; t++) store(&y[t * ldy + r], lanes_sum(acc[t]), add);
}
INL void q_row(int32_t kind, int mode, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r, float *y,
               int64_t ldy, int add, int64_t c0, int64_t c1, float *carry)
{
    q_row_to(kind, mode, kp, xq, nt, r, y, ldy, add, c0, c1, carry, NULL);
}

/* Chunks [c0, c1) of rows r and r + 1 in one pass, as q_row_to computes them, for Q2 with one token
 * and Q4 with a tile of two or more: each activation vector is loaded once for both rows. Their lanes
 * go to lanes + 256 t + 16 i (row r + i, token t), or with a carry (column spans) to carry + 16 (TILE i
 * + t), whole rows included: q_span sums those. Whole rows are adjacent in each plane, so the prefetch
 * walks the pair as one stream; in spans it fetches both rows' same columns further on.
 * - Q2, one token: a chunk reads four activation bytes per code byte. With the shift-and-mask field
 *   extraction this was no faster; with GFNI's fewer operations it is (Zen 4, 4096 x 4096 g128, 1
 *   thread, hot: 220-224 -> 211-216 us). Q3, with more live registers, was 3% slower paired.
 * - Q4, tiles: one row at a time, each token's chunk loads 10 vectors (activations, their scales and
 *   sums) for 8 vpdpbusd; paired, for 16 (Zen 4, 1 thread, hot, alternating runs: 4096 x 4096 batch 8
 *   1269-1280 -> 1137-1144 us, batch 32 5087-5253 -> 4506-4581; 4096 x 11008 batch 8 3810-3860 ->
 *   3584-3718; batch 2 and 3 unchanged). Pairs were slower for Q2 and Q3 tiles (batch 32: 4% and
 *   10%, with either field extraction) and for Q8's (15%: its regrouping shuffles are the limit). */
INL void q_rows2_to(int32_t kind, int mode, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r, int64_t c0,
                    int64_t c1, float *carry, float *lanes)
{
    const size_t bpb = kind == QLOW_FORMAT_Q4 ? 16 : 8;
    const int64_t data_bytes = (int64_t)((size_t)kp->cols_pad / 32 * bpb);
    const int64_t chunk_bytes = (int64_t)bpb * 16, nfull = data_bytes / chunk_bytes;
    const __m512 neg_off = _mm512_set1_ps(-kp->sym_offset);
    const uint8_t *row[2];
    const uint16_t *sr[2], *zr[2];
    for (int i = 0; i < 2; i++) {
        row[i] = kp->codes + (size_t)(r + i) * kp->row_bytes;
        sr[i] = qlow__q_scale_row(kp, r + i);
        zr[i] = qlow__q_zero_row(kp, r + i);
    }
    const int pf_l2 = xq->prefetch_l2;
    const int64_t ahead = 1 + QLOW__PF_DIST / (int64_t)kp->row_bytes, pbytes = kp->ngroups * 2;
    if (c0 == 0) {
        for (int i = 0; i < 2; i++) {
            qlow__prefetch_w(pf_l2, sr[i], ahead * pbytes, pbytes);
            if (zr[i]) qlow__prefetch_w(pf_l2, zr[i], ahead * pbytes, pbytes);
        }
    }
    /* a column span's next codes are the same columns of the rows QLOW__PF_DIST bytes of spans on */
    const int64_t span_bytes = (c1 - c0) * chunk_bytes;
    const int64_t pfd = carry ? (1 + QLOW__PF_DIST / span_bytes) * (int64_t)kp->row_bytes : 0;
    __m512 acc[2][TILE];
    UNROLL
    for (int t = 0; t < nt; t++) {
        UNROLL
        for (int i = 0; i < 2; i++)
            acc[i][t] = carry && c0 > 0 ? _mm512_load_ps(carry + (i * TILE + t) * 16) : _mm512_setzero_ps();
    }
#define Q_CHUNK2(c, whole)                                                                             \
    {                                                                                                  \
        __m512i isum[2][TILE];                                                                         \
        if (carry) {                                                                                   \
            qlow__prefetch_w(pf_l2, row[0], (c) * chunk_bytes + pfd, chunk_bytes);                     \
            qlow__prefetch_w(pf_l2, row[1], (c) * chunk_bytes + pfd, chunk_bytes);                     \
        } else {                                                                                       \
            qlow__prefetch_w(pf_l2, row[0], 2 * (c) * chunk_bytes + QLOW__PF_DIST, 2 * chunk_bytes);  \
        }                                                                                              \
        if (kind == QLOW_FORMAT_Q4) {                                                                  \
            q4_isums2(row, c, data_bytes, whole, xq, nt, isum);                                        \
        } else {                                                                                       \
            q_isums(kind, row[0], NULL, c, data_bytes, whole, xq, 1, &isum[0][0]);                     \
            q_isums(kind, row[1], NULL, c, data_bytes, whole, xq, 1, &isum[1][0]);                     \
        }                                                                                              \
        UNROLL                                                                                         \
        for (int i = 0; i < 2; i++) {                                                                  \
            __m512 ws = q_params(sr[i], kp, c, mode, whole), z = q_zeros_block(mode, kp, zr[i], ws, neg_off, c, whole); \
            UNROLL                                                                                     \
            for (int t = 0; t < nt; t++)                                                               \
                acc[i][t] = q_fold(mode, acc[i][t], ws, z, xq[t].xs + (c) * 16, xq[t].xsum + (c) * 16, isum[i][t]); \
        }                                                                                              \
    }
    const int64_t cwhole = c1 < nfull ? c1 : nfull;
    int64_t c = c0;
    for (; c < cwhole; c++) Q_CHUNK2(c, 1)
    for (; c < c1; c++) Q_CHUNK2(c, 0)
#undef Q_CHUNK2
    if (mode != QP_BLOCK && carry && c1 == kp->nblk_pad / 16) { /* q_span's finished rows (whole: q_zero_fold16) */
        UNROLL
        for (int i = 0; i < 2; i++) q_zero_fold(kp, r + i, xq, nt, acc[i]);
    }
    UNROLL
    for (int t = 0; t < nt; t++) {
        UNROLL
        for (int i = 0; i < 2; i++)
            _mm512_store_ps(carry ? carry + (i * TILE + t) * 16 : lanes + t * 256 + 16 * i, acc[i][t]);
    }
}

/* Rows [r0, r1) for a tile: whole rows (q_whole), or in column spans when its activations outgrow L1
 * (q_span, kernels.h). */
INL void q_whole(int32_t kind, int mode, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1,
                 float *y, int64_t ldy, int add)
{
    _Alignas(64) float L[TILE * 256]; /* per token, 16 rows of 16 lanes */
    for (int64_t r = r0; r < r1; r += 16) {
        const int n = r1 - r < 16 ? (int)(r1 - r) : 16;
        for (int i = 0; i < n; i++) {
            if (((nt == 1 && kind == QLOW_FORMAT_Q2) || (nt > 1 && kind == QLOW_FORMAT_Q4)) && i + 1 < n) {
                q_rows2_to(kind, mode, kp, xq, nt, r + i, 0, kp->nblk_pad / 16, NULL, L + 16 * i);
                i++;
                continue;
            }
            q_row_to(kind, mode, kp, xq, nt, r + i, y, ldy, add, 0, kp->nblk_pad / 16, NULL, L + 16 * i);
        }
        if (mode != QP_BLOCK) q_zero_fold16(kp, xq, nt, r, n, L);
        UNROLL
        for (int t = 0; t < nt; t++) store16(lanes_sum16(L + 256 * t, n), n, y + t * ldy + r, add);
    }
}
INL void q_span(int32_t kind, int mode, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1,
                float *y, int64_t ldy, int add)
{
    const int64_t nchunk = kp->nblk_pad / 16, span = qlow__kspan(nchunk, 512, nt);
    if (kind != QLOW_FORMAT_Q4 || nt == 1 || span == nchunk) {
        QLOW__SPANS(q_row, 512, kind, mode, kp, xq, nt)
        return;
    }
    /* QLOW__SPANS's walk with Q4's rows in pairs (q_rows2_to), whose lanes end in the carry */
    _Alignas(64) float carry[QLOW__KSPAN_ROWS * TILE * 16];
    for (int64_t rs = r0; rs < r1; rs += QLOW__KSPAN_ROWS) {
        const int64_t re = r1 - rs < QLOW__KSPAN_ROWS ? r1 : rs + QLOW__KSPAN_ROWS;
        for (int64_t c0 = 0; c0 < nchunk; c0 += span) {
            const int64_t c1 = nchunk - c0 < span ? nchunk : c0 + span;
            for (int64_t r = rs; r < re; r += 2) {
                float *cr = carry + (r - rs) * TILE * 16;
                if (r + 1 < re)
                    q_rows2_to(kind, mode, kp, xq, nt, r, c0, c1, cr, NULL);
                else
                    q_row(kind, mode, kp, xq, nt, r, y, ldy, add, c0, c1, cr);
            }
        }
        for (int64_t r = rs; r + 1 < re; r += 2) {
            UNROLL
            for (int i = 0; i < 2; i++) {
                UNROLL
                for (int t = 0; t < nt; t++)
                    store(&y[t * ldy + r + i], lanes_sum(_mm512_load_ps(carry + ((r - rs + i) * TILE + t) * 16)), add);
            }
        }
    }
}
/* A rows function: a tile function over all tokens in tiles of up to TILE with a compile-time tile
 * size. Calls whose tiles walk long rows in column spans (qlow__kspans) go through span_tile in a
 * function of its own, so that the whole-row loops compile as they would alone: sharing one function
 * changed their register allocation (2-4% slower at batch 8, T2 and T158 up to 20%). The trailing
 * arguments, each followed by a comma (or none), go before kp in the tile functions' calls. */
#define SPANNED_ROWS(name, KIND, whole_tile, span_tile, chunk_cols, tiled, ...)                            \
    static TGT __attribute__((noinline)) void name##_spans(const qlow__kpart *kp, const qlow__xq *xq, int nt, \
                                                           int64_t r0, int64_t r1, float *y, int64_t ldy, int add) \
    {                                                                                                   \
        tiled(span_tile, KIND, __VA_ARGS__ kp)                                                          \
    }                                                                                                   \
    static TGT __attribute__((noinline)) void name(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, \
                                                   int64_t r1, float *y, int64_t ldy, int add)          \
    {                                                                                                   \
        if (qlow__kspans(kp, (chunk_cols), nt, TILE)) {                                                 \
            name##_spans(kp, xq, nt, r0, r1, y, ldy, add);                                              \
            return;                                                                                     \
        }                                                                                               \
        tiled(whole_tile, KIND, __VA_ARGS__ kp)                                                         \
    }
/* Q rows: a rows function per group mode (q_pmode), each with the mode a compile-time constant in its
 * walks, so that the modes compile as they would alone (folding QP_BLOCK's zero terms per block made
 * the QP_SHIFT loops of a shared function 3-5% slower). */
#define Q_MODE_ROWS(name, KIND, MODE, tiled) SPANNED_ROWS(name, KIND, q_whole, q_span, 512, tiled, MODE,)
#define Q_ROWS_WITH(name, KIND, tiled)                                                                  \
    Q_MODE_ROWS(name##_one, KIND, QP_ONE, tiled)                                                        \
    Q_MODE_ROWS(name##_block, KIND, QP_BLOCK, tiled)                                                    \
    Q_MODE_ROWS(name##_shift, KIND, QP_SHIFT, tiled)                                                    \
    Q_MODE_ROWS(name##_map, KIND, QP_MAP, tiled)                                                        \
    static TGT void name(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y, \
                         int64_t ldy, int add)                                                          \
    {                                                                                                   \
        switch (qlow__q_pmode(kp)) {                                                                    \
        case QP_ONE: name##_one(kp, xq, nt, r0, r1, y, ldy, add); break;                                \
        case QP_BLOCK: name##_block(kp, xq, nt, r0, r1, y, ldy, add); break;                            \
        case QP_SHIFT: name##_shift(kp, xq, nt, r0, r1, y, ldy, add); break;                            \
        default: name##_map(kp, xq, nt, r0, r1, y, ldy, add); break;                                    \
        }                                                                                               \
    }
/* Q8's transposes (q_isums) are shared by a tile's tokens: the last nt % 4 go together too. */
_Static_assert(TILE == 4, "QLOW__TILED_REST tiles by 4");
Q_ROWS_WITH(q8_rows, QLOW_FORMAT_Q8, QLOW__TILED_REST)
Q_ROWS_WITH(q4_rows, QLOW_FORMAT_Q4, QLOW__TILED)
Q_ROWS_WITH(q3_rows, QLOW_FORMAT_Q3, QLOW__TILED)
Q_ROWS_WITH(q2_rows, QLOW_FORMAT_Q2, QLOW__TILED)

/* ---- B1 / B2 / T2 / T158: one 256- or 320-column activation block per step ---------------------- */

/* Base-3 digits 0..3 of i as 2-bit fields (digit k at bit 2k), for i < 128. */
static const uint8_t T158_PACKED[128] __attribute__((aligned(64))) = {
    0, 1, 2, 4, 5, 6, 8, 9, 10, 16, 17, 18, 20, 21, 22, 24, 25, 26, 32, 33, 34, 36, 37, 38, 40, 41, 42, 64, 65, 66, 68, 69,
    70, 72, 73, 74, 80, 81, 82, 84, 85, 86, 88, 89, 90, 96, 97, 98, 100, 101, 102, 104, 105, 106, 128, 129, 130, 132, 133, 134, 136, 137, 138, 144,
    145, 146, 148, 149, 150, 152, 153, 154, 160, 161, 162, 164, 165, 166, 168, 169, 170, 0, 1, 2, 4, 5, 6, 8, 9, 10, 16, 17, 18, 20, 21, 22,
    24, 25, 26, 32, 33, 34, 36, 37, 38, 40, 41, 42, 64, 65, 66, 68, 69, 70, 72, 73, 74, 80, 81, 82, 84, 85, 86, 88, 89, 90, 96, 97,
};

/* 8 bytes of a sign plane at byte offset off of a row of rb bytes (rb is a multiple of 4). */
/* Rows are only 4-byte aligned (32-column blocks of 4 bytes), so the 8 sign bytes go through memcpy
 * rather than a __mmask64 load, which UBSan rightly flags as misaligned. */
INL __mmask64 mask64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return _cvtu64_mask64(v);
}

INL __mmask64 bits64(const uint8_t *row, size_t off, size_t rb)
{
    uint64_t v = 0;
    if (off + 8 <= rb) memcpy(&v, row + off, 8);
    else if (off + 4 <= rb) {
        uint32_t w;
        memcpy(&w, row + off, 4);
        v = w;
    }
    return _cvtu64_mask64(v);
}

/* Step b of a B1 row: 256 columns, added to the lane sums a[t][0..3] (four accumulators per token so
 * that the vpdpbusd chains overlap). `whole`: the step lies inside the row. One token masks its
 * activations with the signs; a tile turns the signs into 0/1 bytes once, the weights of a plain
 * vpdpbusd per token, instead of a masked move per token (Zen 4, 4096 x 4096, 1 thread, hot: B1
 * batch 8 875 -> 800 us, batch 32 3509 -> 3221; B2 1736 -> 1584, 7014 -> 6357; cold batch 3, 32
 * copies, 521-532 -> 495-498). Tiles walking two rows at once were no faster (B2 slower). */
INL void bt_step(const uint8_t *row, size_t rb, int64_t b, int whole, const qlow__xq *xq, int nt, __m512i (*a)[4])
{
    const __m512i ones = _mm512_set1_epi8(1);
    UNROLL
    for (int m = 0; m < 4; m++) {
        size_t off = (size_t)b * 32 + (size_t)m * 8;
        __mmask64 k = whole ? mask64_at(row + off) : bits64(row, off, rb);
        if (nt == 1) {
            a[0][m] = _mm512_dpbusd_epi32(a[0][m], ones, _mm512_maskz_mov_epi8(k, ldx(xq[0].x8p + off * 8)));
            continue;
        }
        const __m512i w = _mm512_maskz_mov_epi8(k, ones);
        UNROLL
        for (int t = 0; t < nt; t++) a[t][m] = _mm512_dpbusd_epi32(a[t][m], w, ldx(xq[t].x8p + off * 8));
    }
}

/* Per-block sums of the 16 interleaved activation blocks of chunk c of B1 rows row[0..nr): lane d of
 * each vpdpbusd accumulates block 16c + d, so the accumulators are the result. The rows are walked
 * together, step by step, so that 4 * nr independent vpdpbusd chains overlap (one row's four chains
 * left the vector units waiting on their latency). Steps past the stored bytes of a row hold zero
 * codes and are skipped; only the last stored step can be partial. */
INL void bt_isums(const uint8_t *const *row, int nr, size_t rb, int64_t c, const qlow__xq *xq, int nt,
                  __m512i (*isum)[TILE])
{
    const int64_t step_bytes = 32, left = (int64_t)rb - c * 16 * step_bytes;
    const int64_t nwhole = left >= 16 * step_bytes ? 16 : left / step_bytes;
    const int64_t nstep = left >= 16 * step_bytes ? 16 : (left + step_bytes - 1) / step_bytes;
    __m512i a[BT_NR][TILE][4];
    UNROLL
    for (int i = 0; i < nr; i++) {
        UNROLL
        for (int t = 0; t < nt; t++) a[i][t][0] = a[i][t][1] = a[i][t][2] = a[i][t][3] = _mm512_setzero_si512();
    }
    int64_t s = 0;
    for (; s < nwhole; s++) {
        UNROLL
        for (int i = 0; i < nr; i++) {
            /* Four rows at a time: the prefetches go step by step rather than one burst per chunk and
             * row (B2 cold 211 -> 196 us). */
            qlow__prefetch_w(xq->prefetch_l2, row[i], (c * 16 + s) * step_bytes + QLOW__PF_DIST, step_bytes);
            bt_step(row[i], rb, c * 16 + s, 1, xq, nt, a[i]);
        }
    }
    for (; s < nstep; s++) {
        UNROLL
        for (int i = 0; i < nr; i++) bt_step(row[i], rb, c * 16 + s, 0, xq, nt, a[i]);
    }
    UNROLL
    for (int i = 0; i < nr; i++) {
        UNROLL
        for (int t = 0; t < nt; t++)
            isum[i][t] = _mm512_add_epi32(_mm512_add_epi32(a[i][t][0], a[i][t][1]), _mm512_add_epi32(a[i][t][2], a[i][t][3]));
    }
}

/* ---- T2 / T158 ----------------------------------------------------------------------------------- */

/* Loop constants, set up once per call so that they stay out of the row loop. */
typedef struct t_consts {
    __m512i tab0, tab1; /* T158_PACKED */
    __m512i minus81;
    __m512i field[4];   /* 3 << 2k in every byte */
} t_consts;

INL void t_consts_init(t_consts *K)
{
    K->tab0 = _mm512_load_si512((const void *)T158_PACKED);
    K->tab1 = _mm512_load_si512((const void *)(T158_PACKED + 64));
    K->minus81 = _mm512_set1_epi8((char)175);
    UNROLL
    for (int k = 0; k < 4; k++) K->field[k] = _mm512_set1_epi8((char)(3 << (2 * k)));
}

/* Step b of a T2 (256 columns) or T158 (320 columns) row, code bytes v, added to the lane sums
 * a[t][0..4]. Accumulator k < 4 gets digit k (T2: bit pair k) masked in place, so it holds 4^k times
 * its sum. T158 bytes are reduced by two unsigned minimums to i = v mod 81 (+81 when v >= 243), i < 94,
 * which has the digits 0..3 of v, so one vpermt2b gives all four; v - i is 81 times digit 4. That
 * holds up to v = 242; the bytes 243..255 (no packer writes them, but kernels.h defines their digits,
 * digit 4 being 0) would add 162 instead. `mode` T_EXACT zeroes those with a compare; T_FAST
 * tracks the largest byte in *hi and the caller redoes the chunk exactly when it is 243 or more (for
 * one token the compare and masked subtract cost 4% of the hot loop; tiles of tokens are faster
 * exact); T_CHECKED does neither, for handles whose bytes were all found below 243 when built
 * (kp->t158_codes_checked): the max alone was 4.5% of the hot pair loop, and the compare 2-4% of a
 * tile's (Zen 4, 4096 x 4096, 1 thread, hot, 3 alternating runs: batch 8 1160-1179 -> 1122-1142 us,
 * batch 32 4697-4736 -> 4515-4543). */
enum { T_FAST = 0, T_EXACT = 1, T_CHECKED = 2 };
INL void t_step(int32_t kind, __m512i v, int64_t b, const t_consts *K, const qlow__xq *xq, int nt, __m512i (*a)[5],
                int mode, __m512i *hi)
{
    const int64_t xb = b * (kind == QLOW_FORMAT_T158 ? 320 : 256);
    if (kind == QLOW_FORMAT_T158) {
        __asm__("" : "+v"(v)); /* one load: GCC otherwise re-reads v as a memory operand of each use */
        __m512i i1 = _mm512_min_epu8(v, _mm512_add_epi8(v, K->minus81));
        __m512i i = _mm512_min_epu8(i1, _mm512_add_epi8(i1, K->minus81));
        __m512i e;
        if (mode == T_EXACT)
            e = _mm512_maskz_sub_epi8(_mm512_cmplt_epu8_mask(i, _mm512_set1_epi8(81)), v, i);
        else {
            e = _mm512_sub_epi8(v, i);
            if (mode == T_FAST) *hi = _mm512_max_epu8(*hi, v);
        }
        UNROLL
        for (int t = 0; t < nt; t++) a[t][4] = _mm512_dpbusd_epi32(a[t][4], e, ldx(xq[t].x8p + xb + 256));
        v = _mm512_permutex2var_epi8(K->tab0, i, K->tab1);
    }
    UNROLL
    for (int k = 0; k < 4; k++) {
        __m512i d = _mm512_and_si512(v, K->field[k]);
        UNROLL
        for (int t = 0; t < nt; t++) a[t][k] = _mm512_dpbusd_epi32(a[t][k], d, ldx(xq[t].x8p + xb + k * 64));
    }
}

/* The exact block sums from the digit accumulators k[0..3] (digit d held 4^d times) and, for T158,
 * k[4] (81 times). The shifts and the multiplication by the inverse of 81 modulo 2^32 are exact: each
 * sum is a multiple of its factor and, per lane and chunk, below 16 * 4 * 192 * 127 < 2^31 in magnitude. */
INL __m512i t_digit_sums(int32_t kind, const __m512i *k)
{
    __m512i s01 = _mm512_add_epi32(k[0], _mm512_srai_epi32(k[1], 2));
    __m512i s23 = _mm512_add_epi32(_mm512_srai_epi32(k[2], 4), _mm512_srai_epi32(k[3], 6));
    __m512i sum = _mm512_add_epi32(s01, s23);
    if (kind == QLOW_FORMAT_T158) /* 0x781948b1 * 81 = 1 modulo 2^32 */
        sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(k[4], _mm512_set1_epi32(0x781948b1)));
    return sum;
}

/* Steps of chunk c (1024 code bytes) of a T2 / T158 row of rb bytes: the whole 64-byte steps are
 * returned, the bytes of a last partial step go to *tail (0 when there is none). */
INL int64_t t_chunk_steps(size_t rb, int64_t c, int64_t *tail)
{
    const int64_t left = (int64_t)rb - c * 1024;
    *tail = left > 0 && left < 1024 ? left % 64 : 0;
    return left >= 1024 ? 16 : left > 0 ? left / 64 : 0;
}
INL __mmask64 t_tail_mask(int64_t tail) { return _cvtu64_mask64(_bzhi_u64(~0ull, (unsigned)tail)); }

/* Per-block sums of chunk c (16 steps) of one T2 or T158 row for nt tokens; lanes are blocks, as in
 * bt_isums. One token keeps two sets of T158 accumulators, even and odd steps, so that ten vpdpbusd
 * chains overlap: with one set their four-cycle latency, not the two vpdpbusd per cycle, bounded the
 * loop. T2 keeps one set: two were 12% faster hot but 2-4% slower cold, its loop being bound by
 * memory there (T158 was faster both ways). A tile of tokens has enough chains with one set. The codes
 * are prefetched QLOW__PF_DIST ahead step by step (faster than one burst per chunk, hot and cold).
 * Only the last step of a row can be partial; a masked load reads it. Returns nonzero when the chunk
 * must be redone with T_EXACT. */
INL int t_isums(int32_t kind, const uint8_t *row, size_t rb, int64_t c, const t_consts *K,
                const qlow__xq *xq, int nt, __m512i *isum, int mode)
{
    const int ns = nt == 1 && kind == QLOW_FORMAT_T158 ? 2 : 1, nd = kind == QLOW_FORMAT_T158 ? 5 : 4;
    int64_t tail;
    const int64_t nwhole = t_chunk_steps(rb, c, &tail);
    const uint8_t *p = row + c * 1024;
    __m512i a[2][TILE][5], hi = _mm512_setzero_si512();
    UNROLL
    for (int j = 0; j < ns; j++) {
        UNROLL
        for (int t = 0; t < nt; t++) {
            UNROLL
            for (int k = 0; k < nd; k++) a[j][t][k] = _mm512_setzero_si512();
        }
    }
    int64_t s = 0;
/* T158 needs its bytes in L1, T2 streams them faster than L1 prefetches allow (kernels.h) */
#define T_PF(off)                                                                                      \
    (kind == QLOW_FORMAT_T158 ? qlow__prefetch(p, (off) + QLOW__PF_DIST, 1)                            \
                              : qlow__prefetch_w(xq->prefetch_l2, p, (off) + QLOW__PF_DIST, 1))
    if (ns == 2)
        for (; s + 2 <= nwhole; s += 2) {
            T_PF(s * 64);
            T_PF(s * 64 + 64);
            t_step(kind, _mm512_loadu_si512((const void *)(p + s * 64)), c * 16 + s, K, xq, nt, a[0], mode, &hi);
            t_step(kind, _mm512_loadu_si512((const void *)(p + s * 64 + 64)), c * 16 + s + 1, K, xq, nt, a[1],
                   mode, &hi);
        }
    for (; s < nwhole; s++) {
        T_PF(s * 64);
        t_step(kind, _mm512_loadu_si512((const void *)(p + s * 64)), c * 16 + s, K, xq, nt, a[0], mode, &hi);
    }
    if (tail) {
        T_PF(s * 64);
        t_step(kind, _mm512_maskz_loadu_epi8(t_tail_mask(tail), p + s * 64), c * 16 + s, K, xq, nt, a[ns - 1], mode,
               &hi);
    }
#undef T_PF
    UNROLL
    for (int t = 0; t < nt; t++) {
        __m512i k[5];
        UNROLL
        for (int d = 0; d < nd; d++) k[d] = ns == 2 ? _mm512_add_epi32(a[0][t][d], a[1][t][d]) : a[0][t][d];
        isum[t] = t_digit_sums(kind, k);
    }
    return kind == QLOW_FORMAT_T158 && mode == T_FAST && _mm512_cmpge_epu8_mask(hi, _mm512_set1_epi8((char)243)) != 0;
}

/* Exact per-block sums of chunk c. One token takes the fast T158 decode, redone exactly in the rare
 * chunk that needs it; handles whose bytes were checked when built take neither. */
INL void t_chunk(int32_t kind, const uint8_t *row, size_t rb, int64_t c, const t_consts *K, const qlow__xq *xq,
                 int nt, int checked, __m512i *isum)
{
    if (checked) {
        t_isums(kind, row, rb, c, K, xq, nt, isum, T_CHECKED);
        return;
    }
    if (t_isums(kind, row, rb, c, K, xq, nt, isum, nt > 1 ? T_EXACT : T_FAST))
        t_isums(kind, row, rb, c, K, xq, nt, isum, T_EXACT);
}

/* Chunks [c0, c1) of row r for a tile of nt tokens, carry as in q_row. One row at a time: rows walked
 * two or four together, each with its own prefetch, were faster hot but up to 2x slower cold (the
 * memory stream is then split across rows). t158_rows_pair walks two rows with one linear prefetch
 * instead, which keeps cold calls where they were. */
INL void t_row_to(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r, float *y, int64_t ldy,
                  int add, int64_t c0, int64_t c1, float *carry, float *lanes)
{
    const int64_t nchunk = kp->nblk_pad / 16;
    const uint8_t *row = kp->codes + (size_t)r * kp->row_bytes;
    /* in a column span the next codes read are the next rows': prefetched here besides t_isums' own */
    const int64_t pfd = carry ? (1 + QLOW__PF_DIST / ((c1 - c0) * 1024)) * (int64_t)kp->row_bytes : 0;
    t_consts K;
    t_consts_init(&K);
    __m512 acc[TILE];
    UNROLL
    for (int t = 0; t < nt; t++) acc[t] = carry && c0 > 0 ? _mm512_load_ps(carry + t * 16) : _mm512_setzero_ps();
    for (int64_t c = c0; c < c1; c++) {
        __m512i isum[TILE];
        if (carry && kind == QLOW_FORMAT_T2) qlow__prefetch_w(xq->prefetch_l2, row, c * 1024 + pfd, 1024);
        t_chunk(kind, row, kp->row_bytes, c, &K, xq, nt, kind == QLOW_FORMAT_T158 && kp->t158_codes_checked, isum);
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_loadu_ps(xq[t].xs + c * 16), _mm512_cvtepi32_ps(isum[t])));
    }
    if (carry && c1 < nchunk) {
        UNROLL
        for (int t = 0; t < nt; t++) _mm512_store_ps(carry + t * 16, acc[t]);
        return;
    }
    if (lanes) { /* a 16-row batch (t_whole) */
        UNROLL
        for (int t = 0; t < nt; t++) _mm512_store_ps(lanes + t * 256, acc[t]);
        return;
    }
    const float alpha = h2f(kp->alpha[r]);
    UNROLL
    for (int t = 0; t < nt; t++) store(&y[t * ldy + r], qlow__t_finish(lanes_sum(acc[t]), xq[t].xtot, alpha), add);
}
INL void t_row(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r, float *y, int64_t ldy,
               int add, int64_t c0, int64_t c1, float *carry)
{
    t_row_to(kind, kp, xq, nt, r, y, ldy, add, c0, c1, carry, NULL);
}

/* Rows r .. r + n - 1 of a ternary kind from their lanes at L (row i at L + 16 i): qlow__t_finish,
 * alpha (T - X), lane-wise. */
INL void t_finish16(const qlow__kpart *kp, int64_t r, int n, const float *L, float X, float *y, int add)
{
    const __m512 alpha = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(_cvtu32_mask16((1u << n) - 1u), kp->alpha + r));
    store16(_mm512_mul_ps(alpha, _mm512_sub_ps(lanes_sum16(L, n), _mm512_set1_ps(X))), n, y + r, add);
}

/* Whole rows [r0, r1) of a ternary kind, 16 at a time: the lane sums as q_whole's, then
 * qlow__t_finish lane-wise (alpha (T - X)). */
INL void t_whole(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                 int64_t ldy, int add)
{
    _Alignas(64) float L[TILE * 256];
    for (int64_t r = r0; r < r1; r += 16) {
        const int n = r1 - r < 16 ? (int)(r1 - r) : 16;
        for (int i = 0; i < n; i++) t_row_to(kind, kp, xq, nt, r + i, y, ldy, add, 0, kp->nblk_pad / 16, NULL, L + 16 * i);
        UNROLL
        for (int t = 0; t < nt; t++) t_finish16(kp, r, n, L + 256 * t, xq[t].xtot, y + t * ldy, add);
    }
}

/* Chunk c of the T158 rows at row and row + rb (the next row) for one token. The pair replaces
 * t_isums' two accumulator sets of one row: it has the same ten vpdpbusd chains, both rows use each
 * activation load, and the chunk's fixed costs (the tail step, the 4^k / 81 combination, the end of the
 * row) are paid once per two rows: 4096 x 4096 batch 1, 1 thread, hot medians 105-106 -> 98-100 us,
 * cold no consistent change. The two rows are adjacent, 2 rb bytes read as one stream, and the
 * prefetch walks that stream linearly; a prefetch per row (two fronts one row apart) made cold calls
 * slower (116-147 -> 146-180 us). isum[j] as t_isums' for row j; a chunk holding bytes >= 243 is
 * redone exactly, row by row, unless `mode` is T_CHECKED (t_step). */
/* How far ahead the pair walk prefetches into L1, half of QLOW__PF_DIST: with 8 KiB in flight a
 * cold call was slower, probably because the L1 misses outnumber L1's miss buffers (Zen 4, 4096 x
 * 4096, 1 thread, 64 copies, 9 alternating runs: 188-208 -> 169-199 us, faster in each; 2 threads and
 * 11008 x 4096 unchanged; 2 KiB, 3 KiB, 16 KiB and a second, L2 prefetch further ahead were slower). */
#define T158_PAIR_PF_DIST 4096

INL void t158_chunk2(const uint8_t *row, size_t rb, int64_t c, const t_consts *K, const qlow__xq *xq, __m512i *isum,
                     const int mode)
{
    int64_t tail;
    const int64_t nwhole = t_chunk_steps(rb, c, &tail);
    const uint8_t *p = row + c * 1024;
    __m512i a[2][1][5], hi = _mm512_setzero_si512();
    UNROLL
    for (int j = 0; j < 2; j++) {
        UNROLL
        for (int k = 0; k < 5; k++) a[j][0][k] = _mm512_setzero_si512();
    }
    int64_t s = 0;
    for (; s < nwhole; s++) {
        qlow__prefetch(row, (c * 1024 + s * 64) * 2 + T158_PAIR_PF_DIST, 128);
        const __m512i v0 = _mm512_loadu_si512((const void *)(p + s * 64));
        const __m512i v1 = _mm512_loadu_si512((const void *)(p + rb + s * 64));
        t_step(QLOW_FORMAT_T158, v0, c * 16 + s, K, xq, 1, a[0], mode, &hi);
        t_step(QLOW_FORMAT_T158, v1, c * 16 + s, K, xq, 1, a[1], mode, &hi);
    }
    if (tail) {
        const __mmask64 m = t_tail_mask(tail);
        t_step(QLOW_FORMAT_T158, _mm512_maskz_loadu_epi8(m, p + s * 64), c * 16 + s, K, xq, 1, a[0], mode, &hi);
        t_step(QLOW_FORMAT_T158, _mm512_maskz_loadu_epi8(m, p + rb + s * 64), c * 16 + s, K, xq, 1, a[1], mode, &hi);
    }
    if (mode == T_FAST && _mm512_cmpge_epu8_mask(hi, _mm512_set1_epi8((char)243)) != 0) {
        t_isums(QLOW_FORMAT_T158, row, rb, c, K, xq, 1, &isum[0], T_EXACT);
        t_isums(QLOW_FORMAT_T158, row + rb, rb, c, K, xq, 1, &isum[1], T_EXACT);
        return;
    }
    isum[0] = t_digit_sums(QLOW_FORMAT_T158, a[0][0]);
    isum[1] = t_digit_sums(QLOW_FORMAT_T158, a[1][0]);
}

/* Rows [r0, r1) of T158 for one token: pairs of rows (t158_chunk2), a last odd row alone (t_row_to),
 * and each 16 rows' ends lane-wise as t_whole's. */
INL void t158_rows_pair(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add,
                        const int mode)
{
    const int64_t nchunk = kp->nblk_pad / 16;
    const size_t rb = kp->row_bytes;
    t_consts K;
    t_consts_init(&K);
    _Alignas(64) float L[256];
    for (int64_t r = r0; r < r1; r += 16) {
        const int n = r1 - r < 16 ? (int)(r1 - r) : 16;
        int i = 0;
        for (; i + 2 <= n; i += 2) {
            const uint8_t *row = kp->codes + (size_t)(r + i) * rb;
            __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
            for (int64_t c = 0; c < nchunk; c++) {
                __m512i isum[2];
                t158_chunk2(row, rb, c, &K, xq, isum, mode);
                const __m512 xs = _mm512_loadu_ps(xq->xs + c * 16);
                acc0 = _mm512_add_ps(acc0, _mm512_mul_ps(xs, _mm512_cvtepi32_ps(isum[0])));
                acc1 = _mm512_add_ps(acc1, _mm512_mul_ps(xs, _mm512_cvtepi32_ps(isum[1])));
            }
            _mm512_store_ps(L + 16 * i, acc0);
            _mm512_store_ps(L + 16 * i + 16, acc1);
        }
        for (; i < n; i++) t_row_to(QLOW_FORMAT_T158, kp, xq, 1, r + i, y, 0, add, 0, nchunk, NULL, L + 16 * i);
        t_finish16(kp, r, n, L, xq->xtot, y, add);
    }
}

INL void bt_fold(const qlow__xq *xq, int nt, int nr, int64_t c, __m512i (*isum)[TILE], __m512 (*acc)[TILE])
{
    UNROLL
    for (int t = 0; t < nt; t++) {
        __m512 xs = _mm512_loadu_ps(xq[t].xs + c * 16);
        UNROLL
        for (int i = 0; i < nr; i++) acc[i][t] = _mm512_add_ps(acc[i][t], _mm512_mul_ps(xs, _mm512_cvtepi32_ps(isum[i][t])));
    }
}

/* nr rows from r for nt tokens: row i's lanes for token t go to L1 + 256 t + 16 i (B2's second plane
 * to L2), which bt_whole finishes. */
INL void bt_rows_nr(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int nr, int64_t r, float *L1,
                    float *L2)
{
    const int64_t nchunk = kp->nblk_pad / 16;
    const size_t rb = kp->row_bytes;
    const uint8_t *row[BT_NR], *row2[BT_NR];
    __m512 acc[BT_NR][TILE], acc2[BT_NR][TILE];
    UNROLL
    for (int i = 0; i < nr; i++) {
        row[i] = kp->codes + (size_t)(r + i) * rb;
        row2[i] = kind == QLOW_FORMAT_B2 ? kp->codes2 + (size_t)(r + i) * rb : NULL;
        UNROLL
        for (int t = 0; t < nt; t++) acc[i][t] = acc2[i][t] = _mm512_setzero_ps();
    }
    for (int64_t c = 0; c < nchunk; c++) {
        __m512i isum[BT_NR][TILE];
        bt_isums(row, nr, rb, c, xq, nt, isum);
        bt_fold(xq, nt, nr, c, isum, acc);
        if (kind == QLOW_FORMAT_B2) {
            bt_isums(row2, nr, rb, c, xq, nt, isum);
            bt_fold(xq, nt, nr, c, isum, acc2);
        }
    }
    UNROLL
    for (int i = 0; i < nr; i++) {
        UNROLL
        for (int t = 0; t < nt; t++) {
            _mm512_store_ps(L1 + 256 * t + 16 * i, acc[i][t]);
            if (kind == QLOW_FORMAT_B2) _mm512_store_ps(L2 + 256 * t + 16 * i, acc2[i][t]);
        }
    }
}

/* Rows [r0, r1) of B1 / B2, 16 at a time: the lane sums as q_whole's, then the lane-wise epilogue
 * (x86_avx512_finish.h). At batch 8 and 32 a 4096-column row is one chunk per token, and ending each
 * row with its own reductions and scalar epilogue made B1 5-8% slower. */
INL void bt_whole(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                  int64_t ldy, int add)
{
    _Alignas(64) float L1[TILE * 256], L2[TILE * 256];
    for (int64_t r = r0; r < r1; r += 16) {
        const int n = r1 - r < 16 ? (int)(r1 - r) : 16;
        int i = 0;
        if (nt == 1)
            for (; i + BT_NR <= n; i += BT_NR) bt_rows_nr(kind, kp, xq, 1, BT_NR, r + i, L1 + 16 * i, L2 + 16 * i);
        for (; i < n; i++) bt_rows_nr(kind, kp, xq, nt, 1, r + i, L1 + 16 * i, L2 + 16 * i);
        const __mmask16 m = _cvtu32_mask16((1u << n) - 1u);
        UNROLL
        for (int t = 0; t < nt; t++) {
            const __m512 T1 = lanes_sum16(L1 + 256 * t, n);
            const __m512 T2 = kind == QLOW_FORMAT_B2 ? lanes_sum16(L2 + 256 * t, n) : T1;
            qlow__b_finish16(kp, r, m, T1, T2, _mm512_set1_ps(xq[t].xtot), y + t * ldy, add);
        }
    }
}

/* One token walks BT_NR binary rows at a time (they span 2 KiB at 4096 columns); a tile of tokens
 * shares each row's codes instead. The ternary kinds go one row at a time (t_whole), except T158 for
 * one token, which walks rows in pairs (t158_rows_pair). */
INL void bt_tile(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                 int64_t ldy, int add)
{
    if (kind == QLOW_FORMAT_T2 || kind == QLOW_FORMAT_T158) {
        if (nt == 1 && kind == QLOW_FORMAT_T158 && kp->t158_codes_checked)
            t158_rows_pair(kp, xq, r0, r1, y, add, T_CHECKED);
        else if (nt == 1 && kind == QLOW_FORMAT_T158)
            t158_rows_pair(kp, xq, r0, r1, y, add, T_FAST);
        else
            t_whole(kind, kp, xq, nt, r0, r1, y, ldy, add);
        return;
    }
    bt_whole(kind, kp, xq, nt, r0, r1, y, ldy, add);
}

/* The ternary kinds' tiles in column spans (as q_span). */
INL void t_tile_spans(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1,
                      float *y, int64_t ldy, int add)
{
    QLOW__SPANS(t_row, kp->ablock * 16, kind, kp, xq, nt)
}

#define BT_ROWS(name, KIND)                                                                            \
    static TGT void name(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y, \
                         int64_t ldy, int add)                                                          \
    {                                                                                                   \
        QLOW__TILED(bt_tile, KIND, kp)                                                                  \
    }
#define T_ROWS(name, KIND) SPANNED_ROWS(name, KIND, bt_tile, t_tile_spans, kp->ablock * 16, QLOW__TILED, )
BT_ROWS(b1_rows, QLOW_FORMAT_B1)
BT_ROWS(b2_rows, QLOW_FORMAT_B2)
T_ROWS(t2_rows, QLOW_FORMAT_T2)
T_ROWS(t158_rows, QLOW_FORMAT_T158)

/* ---- activation quantization (same rounding as qlow__quantize_generic) -------------------------- */

static TGT float absmax_avx512(const float *v, int64_t n)
{
    const __m512 lim = _mm512_set1_ps(3.402823466e38f);
    __m512 m = _mm512_setzero_ps();
    __mmask16 bad = 0;
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 k = _cvtu32_mask16(n - j >= 16 ? 0xffffu : (1u << (n - j)) - 1u);
        __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(k, v + j));
        bad |= _mm512_cmp_ps_mask(a, lim, _CMP_NLE_UQ);
        m = _mm512_max_ps(m, a);
    }
    return bad ? -1.0f : _mm512_reduce_max_ps(m);
}

static TGT int32_t quantize_avx512(const float *v, int64_t n, float inv, int8_t *q)
{
    const __m512 vinv = _mm512_set1_ps(inv), half = _mm512_set1_ps(0.5f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i hi = _mm512_set1_epi32(127), lo = _mm512_set1_epi32(-127);
    __m512i sum = _mm512_setzero_si512();
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 k = _cvtu32_mask16(n - j >= 16 ? 0xffffu : (1u << (n - j)) - 1u);
        __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, v + j), vinv);
        __m512 h = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(t), sign),
                                                       _mm512_castps_si512(half)));
        /* t < 0 takes -0.5; -0.0 takes +0.5 in the generic code: both truncate to 0. */
        __m512i r = _mm512_cvttps_epi32(_mm512_add_ps(t, h));
        r = _mm512_max_epi32(_mm512_min_epi32(r, hi), lo);
        r = _mm512_maskz_mov_epi32(k, r);
        sum = _mm512_add_epi32(sum, r);
        _mm_mask_storeu_epi8(q + j, k, _mm512_cvtepi32_epi8(r));
    }
    return _mm512_reduce_add_epi32(sum);
}

const qlow__kernel_set qlow__kernels_avx512 = {
    .name = "avx512-vnni",
    .rows =
        {
            [QLOW_FORMAT_Q8] = q8_rows,
            [QLOW_FORMAT_Q4] = q4_rows,
            [QLOW_FORMAT_Q3] = q3_rows,
            [QLOW_FORMAT_Q2] = q2_rows,
            [QLOW_FORMAT_B1] = b1_rows,
            [QLOW_FORMAT_B2] = b2_rows,
            [QLOW_FORMAT_T2] = t2_rows,
            [QLOW_FORMAT_T158] = t158_rows,
        },
    .absmax = absmax_avx512,
    .quantize = quantize_avx512,
    .qtrans = 2,
    .lut_tables = qlow__lut_tables_avx512,
    .lut_rows = qlow__lut_rows_avx512,
    .lut_by_row = 1,
};

#endif
