/* x86_avx2.c - 256-bit row kernels, compiled per function with target attributes (no -march flag).
 * This file builds two kernel sets. Alone it is qlow__kernels_avx2, used at QLOW_ISA_AVX2 and
 * QLOW_ISA_AVX512 (the AVX-512 kernels need VNNI and VBMI): integer dot products use vpmaddubsw
 * (unsigned codes x signed int8 activations, pairs summed in int16: every code here is at most 15, so
 * 2 * 15 * 127 cannot saturate; Q8 codes are split into nibbles) followed by vpmaddwd into int32.
 * Without vpdpbusd the kernels are bound by vector operations rather than memory, so they keep as many
 * products as the bounds below allow in int16 before one vpmaddwd. Included by x86_avx2_vnni.c with
 * QLOW__AVX2_WITH_VNNI defined it is qlow__kernels_avx2_vnni (QLOW_ISA_AVX2_VNNI): the same kernels
 * with the VEX vpdpbusd of AVX-VNNI, which sums four byte products straight into int32 (Q8 codes
 * need no nibble split, runs need no widening). Q4/Q3/Q2 read the transposed activation orders
 * (qtrans) so that the lanes of a dot product are blocks and no horizontal reduction is needed. The
 * fp32 folding follows kernels.h, so both sets equal the generic kernels bit for bit. */
#include "kernels/act.h"
#include "kernels/kernels.h"
#include "kernels/lut.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(QLOW__AVX2_WITH_VNNI)
#define TGT __attribute__((target("avx2,fma,f16c,bmi2,avxvnni")))
#define KERNEL_SET qlow__kernels_avx2_vnni
#define KERNEL_SET_NAME "avx2-vnni"
#else
#define TGT __attribute__((target("avx2,fma,f16c,bmi2")))
#define KERNEL_SET qlow__kernels_avx2
#define KERNEL_SET_NAME "avx2"
#endif
#define INL static inline __attribute__((always_inline)) TGT
#define TILE 4
#define UNROLL _Pragma("GCC unroll 16")

/* ---- helpers ---------------------------------------------------------------------------------- */

/* 32 bytes at p of which only the first rem exist (zeros beyond). */
INL __m256i ld(const uint8_t *p, int64_t rem)
{
    if (rem >= 32) return _mm256_loadu_si256((const __m256i *)p);
    uint8_t tmp[32] = {0};
    if (rem > 0) memcpy(tmp, p, (size_t)rem);
    return _mm256_loadu_si256((const __m256i *)tmp);
}
/* The same for a length rem that is a multiple of 4 when positive (every Q plane's), with a masked
 * dword load instead of a copy: the partial chunk is all of a short M161 salient part. */
INL __m256i ld4(const uint8_t *p, int64_t rem)
{
    if (rem >= 32) return _mm256_loadu_si256((const __m256i *)p);
    if (rem <= 0) return _mm256_setzero_si256();
    const __m256i live = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(rem / 4)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_maskload_epi32((const int *)(const void *)p, live);
}
INL __m256i ldx(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Exact u8 x s8 dot products into the int32 lanes of a vector, each lane the sum over its 4 bytes. A
 * run of them starts from zero (dot_begin), grows by dot_step(run, codes, activations) and is added
 * to an int32 accumulator by dot_end(acc, run); dot_widen(run) is the run alone as int32.
 * Without vpdpbusd a run holds int16 pair sums (vpmaddubsw) widened once by vpmaddwd: each step adds
 * at most 2 * code * 127 per int16 lane, and every caller bounds the steps of a run so that the sum
 * stays below 2^15 (Q4: 8 x 3810; Q3: 8 x 1778; Q2: 8 x 762; T2: 4 x 762; T158: 5 x 508; B1: 64 x 254).
 * With vpdpbusd a run is int32 already. Its steps form one dependency chain, so runs stay short (a
 * chain of vpdpbusd through a whole row ran at its latency: T2 at batch 1 took 200 us where the
 * vpmaddubsw kernel took 160); B1's chunk-long runs are therefore resumed per step (dot_resume /
 * dot_pause): in the int16 form the run itself lives on, with vpdpbusd each step's short run is
 * added. Integer sums are exact, so every form gives the same int32 lanes. */
INL __m256i dot_begin(void) { return _mm256_setzero_si256(); }
#if defined(QLOW__AVX2_WITH_VNNI)
INL __m256i dot_step(__m256i run, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(run, u, s); }
INL __m256i dot_widen(__m256i run) { return run; }
INL __m256i dot_resume(__m256i acc) { (void)acc; return dot_begin(); }
INL __m256i dot_pause(__m256i acc, __m256i run) { return _mm256_add_epi32(acc, run); }
#else
INL __m256i dot_step(__m256i run, __m256i u, __m256i s) { return _mm256_add_epi16(run, _mm256_maddubs_epi16(u, s)); }
INL __m256i dot_widen(__m256i run) { return _mm256_madd_epi16(run, _mm256_set1_epi16(1)); }
INL __m256i dot_resume(__m256i acc) { return acc; }
INL __m256i dot_pause(__m256i acc, __m256i run) { (void)acc; return run; }
#endif
INL __m256i dot_end(__m256i acc, __m256i run) { return _mm256_add_epi32(acc, dot_widen(run)); }

INL float lanes_sum(__m256 lo, __m256 hi)
{
    __m256 s8 = _mm256_add_ps(lo, hi);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

INL void store(float *y, float v, int add) { *y = add ? *y + v : v; }
static inline TGT float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Eight accumulators, one block each -> 8 block sums in order. */
INL __m256i red8(const __m256i *a)
{
    __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[0], a[1]), _mm256_hadd_epi32(a[2], a[3]));
    __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(a[4], a[5]), _mm256_hadd_epi32(a[6], a[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20), _mm256_permute2x128_si256(h0, h1, 0x31));
}
/* ---- Q8 / Q4 / Q3 / Q2 ------------------------------------------------------------------------ */

/* Q8: exact sums of 8 blocks (half h of 16-block chunk c) for nt tokens, natural activation order. */
INL void q8_isums8(const uint8_t *row, int64_t c, int h, int64_t data_bytes, int whole, const qlow__xq *xq, int nt,
                   __m256i *isum)
{
    __m256i a[TILE][8];
    UNROLL
    for (int k = 0; k < 8; k++) {
        int64_t off = c * 512 + h * 256 + k * 32;
        __m256i v = whole ? _mm256_loadu_si256((const __m256i *)(row + off)) : ld4(row + off, data_bytes - off);
#if defined(QLOW__AVX2_WITH_VNNI) /* vpdpbusd takes the full code bytes: its products never saturate */
        UNROLL
        for (int t = 0; t < nt; t++) a[t][k] = dot_step(dot_begin(), v, ldx(xq[t].x8p + off));
#else /* vpmaddubsw of 255 * 127 pairs would saturate: code = lo + 16 hi */
        const __m256i m4 = _mm256_set1_epi8(15);
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        UNROLL
        for (int t = 0; t < nt; t++) {
            __m256i x = ldx(xq[t].x8p + off);
            __m256i l = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x), _mm256_set1_epi16(1));
            __m256i u = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x), _mm256_set1_epi16(16));
            a[t][k] = _mm256_add_epi32(l, u);
        }
#endif
    }
    UNROLL
    for (int t = 0; t < nt; t++) isum[t] = red8(a[t]);
}

/* Exact sums of the 16 blocks of chunk c for nt tokens, isum[t][0] blocks 0-7 and
 * isum[t][1] blocks 8-15. Q4, Q3 and Q2 activations are in the transposed orders (QLOW__XORD_Q4T / Q2T), so
 * once the codes are transposed the same way every dword lane of a dot product belongs to one
 * block: all eight products of a chunk half are one run (dot_step) and give the block sums with no
 * horizontal reduction. */
INL void q_isums16(int32_t kind, const uint8_t *row, const uint8_t *hi_row, int64_t c, int64_t data_bytes,
                   int whole, const qlow__xq *xq, int nt, __m256i (*isum)[2])
{
#define LDC(p, rem) (whole ? _mm256_loadu_si256((const __m256i *)(p)) : ld4((p), (rem)))
    __m256i s[TILE][2];
    UNROLL
    for (int t = 0; t < nt; t++) s[t][0] = s[t][1] = dot_begin();
    if (kind == QLOW_FORMAT_Q8) {
        UNROLL
        for (int hf = 0; hf < 2; hf++) {
            __m256i h8[TILE];
            q8_isums8(row, c, hf, data_bytes, whole, xq, nt, h8);
            UNROLL
            for (int t = 0; t < nt; t++) isum[t][hf] = h8[t];
        }
    } else if (kind == QLOW_FORMAT_Q4) {
        const __m256i m4 = _mm256_set1_epi8(15);
        UNROLL
        for (int hf = 0; hf < 2; hf++) { /* hf 0: blocks 4q + l for l = 0, 1; hf 1: l = 2, 3 */
            __m256i L[4];
            UNROLL
            for (int q = 0; q < 4; q++) {
                int64_t off = c * 256 + q * 64 + hf * 32;
                L[q] = LDC(row + off, data_bytes - off);
            }
            /* 4x4 dword transpose in each 128-bit lane: u_j dword 4l' + q = dword j of block 4q + l */
            __m256i t0 = _mm256_unpacklo_epi32(L[0], L[1]), t1 = _mm256_unpackhi_epi32(L[0], L[1]);
            __m256i t2 = _mm256_unpacklo_epi32(L[2], L[3]), t3 = _mm256_unpackhi_epi32(L[2], L[3]);
            __m256i u[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2), _mm256_unpacklo_epi64(t1, t3),
                            _mm256_unpackhi_epi64(t1, t3)};
            UNROLL
            for (int j = 0; j < 4; j++) {
                __m256i lo = _mm256_and_si256(u[j], m4), hi = _mm256_and_si256(_mm256_srli_epi16(u[j], 4), m4);
                UNROLL
                for (int t = 0; t < nt; t++) {
                    const int8_t *x = xq[t].x8p + c * 512 + j * 128 + hf * 32;
                    s[t][hf] = dot_step(dot_step(s[t][hf], lo, ldx(x)), hi, ldx(x + 64));
                }
            }
        }
        /* dwords of half 0 hold blocks 0,4,8,12,1,5,9,13, of half 1 blocks 2,6,10,14,3,7,11,15 */
        const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        UNROLL
        for (int t = 0; t < nt; t++) {
            __m256i a = dot_widen(s[t][0]), b = dot_widen(s[t][1]);
            isum[t][0] = _mm256_permutevar8x32_epi32(_mm256_unpacklo_epi32(a, b), perm);
            isum[t][1] = _mm256_permutevar8x32_epi32(_mm256_unpackhi_epi32(a, b), perm);
        }
    } else { /* Q2, Q3: V[hf][j] dword e = dword j of block 8hf + e */
        const __m256i m2 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
        UNROLL
        for (int hf = 0; hf < 2; hf++) {
            int64_t off = c * 128 + hf * 64;
            __m256 A0 = _mm256_castsi256_ps(LDC(row + off, data_bytes - off));
            __m256 A1 = _mm256_castsi256_ps(LDC(row + off + 32, data_bytes - off - 32));
            __m256i V[2] = {
                _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(A0, A1, _MM_SHUFFLE(2, 0, 2, 0))), 0xd8),
                _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(A0, A1, _MM_SHUFFLE(3, 1, 3, 1))), 0xd8)};
            __m256i hv = _mm256_setzero_si256();
            if (kind == QLOW_FORMAT_Q3) {
                int64_t hoff = c * 64 + hf * 32;
                hv = LDC(hi_row + hoff, data_bytes / 2 - hoff);
            }
            UNROLL
            for (int k = 0; k < 4; k++) {
                __m256i hk = hv;
                if (kind == QLOW_FORMAT_Q3) /* byte 4b + i <- byte k of block b's high word (in each lane) */
                    hk = _mm256_shuffle_epi8(hv, _mm256_add_epi8(_mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, 0, 0x04040404,
                                                                                   0x08080808, 0x0c0c0c0c),
                                                                 _mm256_set1_epi8((char)k)));
                UNROLL
                for (int j = 0; j < 2; j++) {
                    __m256i p = k ? _mm256_and_si256(_mm256_srli_epi16(V[j], 2 * k), m2) : _mm256_and_si256(V[j], m2);
                    if (kind == QLOW_FORMAT_Q3) {
                        /* column 8k + 4j + i is bit 4j + i of that byte; with j = 0 the byte is first
                         * shifted up by 2 (bits 6, 7 spill into the next byte's bits 0, 1, never
                         * tested), so the tested bit is always >= 4 and min(bit, 4) is the high part */
                        const __m256i pat = _mm256_set1_epi32(j ? (int)0x80402010 : 0x20100804);
                        __m256i bits = _mm256_and_si256(j ? hk : _mm256_slli_epi16(hk, 2), pat);
                        p = _mm256_add_epi8(p, _mm256_min_epu8(bits, four));
                    }
                    UNROLL
                    for (int t = 0; t < nt; t++)
                        s[t][hf] = dot_step(s[t][hf], p, ldx(xq[t].x8p + c * 512 + j * 256 + k * 64 + hf * 32));
                }
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            isum[t][0] = dot_widen(s[t][0]);
            isum[t][1] = dot_widen(s[t][1]);
        }
    }
#undef LDC
}

/* Scale or zero of the 8 blocks starting at block b0 of a row, as fp32. */
INL __m256 q_params8(const uint16_t *row_params, const qlow__kpart *kp, int64_t b0)
{
    if (kp->ngroups == 1) return _mm256_set1_ps(h2f(row_params[0])); /* one group per row (M161 salient part) */
    if (kp->ngroups == kp->nblk && b0 + 8 <= kp->ngroups) /* one group per block, all eight stored */
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row_params + b0)));
    if (kp->group_shift > 0 && (b0 >> kp->group_shift) + 4 <= kp->ngroups) { /* 2^shift blocks per group */
        const int sh = kp->group_shift;
        __m256 v = _mm256_cvtph_ps(_mm_loadl_epi64((const __m128i *)(row_params + (b0 >> sh))));
        return _mm256_permutevar8x32_ps(v, _mm256_srli_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), sh));
    }
    uint16_t tmp[8];
    const int32_t g0 = kp->g0[b0 / 16];
    UNROLL
    for (int i = 0; i < 8; i++) tmp[i] = row_params[g0 + kp->grel[b0 + i]];
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tmp));
}


/* Scale or zero of the 8 blocks starting at block b0 (a multiple of 8) for a mode; `whole`: the
 * chunk lies inside the row, so every group the fast paths load exists. */
INL __m256 q_params8m(const uint16_t *row_params, const qlow__kpart *kp, int64_t b0, int mode, int whole)
{
    if (mode == QP_ONE) return _mm256_set1_ps(h2f(row_params[0]));
    if (whole && mode == QP_BLOCK) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row_params + b0)));
    return q_params8(row_params, kp, b0);
}

/* Scales ws[h] of the two 8-block halves of chunk c. g128 (four groups per chunk) converts the
 * chunk's scales with one vcvtph2ps. */
INL void q_params16(const uint16_t *sr, const qlow__kpart *kp, int64_t c, int mode, int whole, __m256 *ws)
{
    if (whole && mode == QP_SHIFT && kp->group_shift == 2) {
        const __m256 v = _mm256_cvtph_ps(_mm_loadl_epi64((const __m128i *)(sr + c * 4)));
        ws[0] = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
        ws[1] = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3));
        return;
    }
    UNROLL
    for (int h = 0; h < 2; h++) ws[h] = q_params8m(sr, kp, c * 16 + h * 8, mode, whole);
}

/* Parameters g .. g + 15 of a row as fp32 halves, zero past its n = ngroups - g groups. */
INL void q_params_run16(const uint16_t *p, int64_t n, __m256 *v)
{
    __m128i raw[2];
    if (n >= 16) {
        raw[0] = _mm_loadu_si128((const __m128i *)p);
        raw[1] = _mm_loadu_si128((const __m128i *)(p + 8));
    } else {
        uint16_t tmp[16] = {0};
        memcpy(tmp, p, (size_t)n * sizeof(uint16_t));
        raw[0] = _mm_loadu_si128((const __m128i *)tmp);
        raw[1] = _mm_loadu_si128((const __m128i *)(tmp + 8));
    }
    v[0] = _mm256_cvtph_ps(raw[0]);
    v[1] = _mm256_cvtph_ps(raw[1]);
}

/* qlow__q_zero_fold for a tile of nt tokens, 16 groups per step: lanes 0-7 in acc[t][0], 8-15 in
 * acc[t][1]. Groups past ngroups read as zero parameters, whose products with the zero sums are +-0. */
INL void q_zero_fold(const qlow__kpart *kp, const uint16_t *sr, const uint16_t *zr, __m256 neg_off, const qlow__xq *xq,
                     int nt, __m256 (*acc)[2])
{
    for (int64_t g = 0; g < kp->ngroups; g += 16) {
        __m256 z[2];
        q_params_run16((zr ? zr : sr) + g, kp->ngroups - g, z);
        UNROLL
        for (int h = 0; h < 2; h++) {
            if (!zr) z[h] = _mm256_mul_ps(z[h], neg_off);
            UNROLL
            for (int t = 0; t < nt; t++)
                acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(z[h], _mm256_loadu_ps(xq[t].xgsum + g + 8 * h)));
        }
    }
}

/* Chunk c (16 blocks) of a Q row folded into acc; `whole` (a compile-time constant at each call): the
 * chunk lies inside the row. */
INL void q_chunk(int32_t kind, int mode, int whole, const qlow__kpart *kp, const uint8_t *row, const uint8_t *hi_row,
                 const uint16_t *sr, const uint16_t *zr, int64_t c, int64_t data_bytes, __m256 neg_off,
                 const qlow__xq *xq, int nt, __m256 (*acc)[2])
{
    const int64_t chunk_bytes = 16 * (kind == QLOW_FORMAT_Q8 ? 32 : kind == QLOW_FORMAT_Q4 ? 16 : 8);
    __m256i isum[TILE][2];
    __m256 ws[2];
    qlow__prefetch(row, c * chunk_bytes + QLOW__PF_DIST, chunk_bytes);
    if (hi_row) qlow__prefetch(hi_row, c * 64 + QLOW__PF_DIST / 2, 64);
    q_isums16(kind, row, hi_row, c, data_bytes, whole, xq, nt, isum);
    q_params16(sr, kp, c, mode, whole, ws);
    UNROLL
    for (int h = 0; h < 2; h++) {
        const int64_t b0 = c * 16 + h * 8;
        UNROLL
        for (int t = 0; t < nt; t++) {
            __m256 d = _mm256_mul_ps(ws[h], _mm256_loadu_ps(xq[t].xs + b0));
            acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(d, _mm256_cvtepi32_ps(isum[t][h])));
        }
        if (mode == QP_BLOCK) { /* one group per block: the zero terms too (qlow__q_zero_per_block) */
            const __m256 z = zr ? q_params8m(zr, kp, b0, mode, whole) : _mm256_mul_ps(ws[h], neg_off);
            UNROLL
            for (int t = 0; t < nt; t++)
                acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(z, _mm256_loadu_ps(xq[t].xsum + b0)));
        }
    }
}

/* Rows [r0, r1) of a Q part for a tile of nt tokens, one row at a time (as the AVX-512 kernels: a
 * single memory stream), one chunk (16 blocks) per step. */
INL void q_rows16(int32_t kind, int mode, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1,
                  float *y, int64_t ldy, int add)
{
    const int64_t bpb = kind == QLOW_FORMAT_Q8 ? 32 : kind == QLOW_FORMAT_Q4 ? 16 : 8;
    const int64_t data_bytes = kp->cols_pad / 32 * bpb;
    const int64_t nchunk = kp->nblk_pad / 16, nfull = data_bytes / (bpb * 16);
    const __m256 neg_off = _mm256_set1_ps(-kp->sym_offset);
    const int64_t pbytes = kp->ngroups * 2, ahead = 1 + QLOW__PF_DIST / (int64_t)kp->row_bytes;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = kp->codes + (size_t)r * kp->row_bytes;
        const uint8_t *hi_row = kp->codes_hi ? kp->codes_hi + (size_t)r * ((size_t)kp->cols_pad / 8) : NULL;
        const uint16_t *sr = qlow__q_scale_row(kp, r), *zr = qlow__q_zero_row(kp, r);
        __m256 acc[TILE][2];
        UNROLL
        for (int t = 0; t < nt; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        qlow__prefetch(sr, ahead * pbytes, pbytes);
        if (zr) qlow__prefetch(zr, ahead * pbytes, pbytes);
        int64_t c = 0;
        for (; c < nfull; c++) q_chunk(kind, mode, 1, kp, row, hi_row, sr, zr, c, data_bytes, neg_off, xq, nt, acc);
        for (; c < nchunk; c++) q_chunk(kind, mode, 0, kp, row, hi_row, sr, zr, c, data_bytes, neg_off, xq, nt, acc);
        if (mode != QP_BLOCK) q_zero_fold(kp, sr, zr, neg_off, xq, nt, acc);
        UNROLL
        for (int t = 0; t < nt; t++) store(&y[t * ldy + r], lanes_sum(acc[t][0], acc[t][1]), add);
    }
}

/* The group mode is a compile-time constant inside each q_rows16 instance. */
INL void q_tile(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                int64_t ldy, int add)
{
    const int mode = qlow__q_pmode(kp);
    if (mode == QP_ONE) q_rows16(kind, QP_ONE, kp, xq, nt, r0, r1, y, ldy, add);
    else if (mode == QP_BLOCK) q_rows16(kind, QP_BLOCK, kp, xq, nt, r0, r1, y, ldy, add);
    else if (mode == QP_SHIFT) q_rows16(kind, QP_SHIFT, kp, xq, nt, r0, r1, y, ldy, add);
    else q_rows16(kind, QP_MAP, kp, xq, nt, r0, r1, y, ldy, add);
}

#define ROWS_FN(name, tile_fn, KIND)                                                                   \
    static TGT void name(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y, \
                         int64_t ldy, int add)                                                          \
    {                                                                                                   \
        QLOW__TILED(tile_fn, KIND, kp)                                                                  \
    }
ROWS_FN(q8_rows, q_tile, QLOW_FORMAT_Q8)
ROWS_FN(q4_rows, q_tile, QLOW_FORMAT_Q4)
ROWS_FN(q3_rows, q_tile, QLOW_FORMAT_Q3)
ROWS_FN(q2_rows, q_tile, QLOW_FORMAT_Q2)

/* ---- B1 / B2 / T2 / T158: interleaved activation blocks (kernels.h) ---------------------------- */

/* 1 where bit i of the 4 bytes at p (column i of 32) is set, else 0. */
INL __m256i bits_to_bytes(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    const __m256i sel = _mm256_setr_epi64x(0, 0x0101010101010101ll, 0x0202020202020202ll, 0x0303030303030303ll);
    const __m256i bitpat = _mm256_set1_epi64x(0x8040201008040201ll);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w), sel);
    return _mm256_min_epu8(_mm256_and_si256(b, bitpat), _mm256_set1_epi8(1));
}

/* Base-3 digits of 32 code bytes: d[k] = digit k (k = 0..4) of each byte, as bytes. Two divisions
 * by 9 split a byte b into r = b % 9, r2 = (b / 9) % 9 and q2 = b / 81 (0..3); digits 0..3 are r and
 * r2 in base 3, and digit 4 = q2 % 3 (3 for b >= 243 maps to 0), each one table lookup. The quotients
 * come from 16-bit multiplies on the even and odd bytes (b * 7282 >> 16 = b / 9 for b <= 255); the
 * remainders are taken on both bytes at once (9 * quotient <= 252, so no carry or borrow crosses a
 * byte). */
INL void t158_digits(__m256i v, __m256i *d)
{
    const __m256i ninth = _mm256_set1_epi16(7282), nine = _mm256_set1_epi16(9);
    const __m256i mod3 = _mm256_setr_epi8(0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 1, 2, 0, 1, 2,
                                          0, 0, 0, 0, 0, 0, 0);
    const __m256i div3 = _mm256_setr_epi8(0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2,
                                          0, 0, 0, 0, 0, 0, 0);
    __m256i e = _mm256_mulhi_epu16(_mm256_and_si256(v, _mm256_set1_epi16(0xff)), ninth);
    __m256i o = _mm256_mulhi_epu16(_mm256_srli_epi16(v, 8), ninth);
    __m256i q = _mm256_or_si256(e, _mm256_slli_epi16(o, 8));
    __m256i r = _mm256_sub_epi8(v, _mm256_mullo_epi16(q, nine));
    e = _mm256_mulhi_epu16(e, ninth);
    o = _mm256_mulhi_epu16(o, ninth);
    __m256i q2 = _mm256_or_si256(e, _mm256_slli_epi16(o, 8));
    __m256i r2 = _mm256_sub_epi8(q, _mm256_mullo_epi16(q2, nine));
    d[0] = _mm256_shuffle_epi8(mod3, r);
    d[1] = _mm256_shuffle_epi8(div3, r);
    d[2] = _mm256_shuffle_epi8(mod3, r2);
    d[3] = _mm256_shuffle_epi8(div3, r2);
    d[4] = _mm256_shuffle_epi8(mod3, q2);
}

/* Step b of a row into the lane sums: a[t][0] holds blocks 0-7 of the chunk, a[t][1] blocks 8-15. */
INL void bt_step(int32_t kind, const uint8_t *row, size_t rb, int64_t b, int whole, const qlow__xq *xq, int nt,
                 __m256i (*a)[2])
{
    if (kind == QLOW_FORMAT_B1) { /* runs of a whole chunk: bt_tile widens them (dot_widen) */
        __m256i run[TILE][2];
        UNROLL
        for (int t = 0; t < nt; t++) run[t][0] = dot_resume(a[t][0]), run[t][1] = dot_resume(a[t][1]);
        UNROLL
        for (int m = 0; m < 8; m++) { /* 32 columns each */
            size_t off = (size_t)b * 32 + (size_t)m * 4;
            if (!whole && off + 4 > rb) break;
            __m256i bits = bits_to_bytes(row + off);
            UNROLL
            for (int t = 0; t < nt; t++)
                run[t][m & 1] = dot_step(run[t][m & 1], bits, ldx(xq[t].x8p + off * 8));
        }
        UNROLL
        for (int t = 0; t < nt; t++) a[t][0] = dot_pause(a[t][0], run[t][0]), a[t][1] = dot_pause(a[t][1], run[t][1]);
    } else if (kind == QLOW_FORMAT_T2) {
        const __m256i m2 = _mm256_set1_epi8(3);
        UNROLL
        for (int hf = 0; hf < 2; hf++) {
            int64_t off = b * 64 + hf * 32;
            __m256i v = whole ? _mm256_loadu_si256((const __m256i *)(row + off)) : ld(row + off, (int64_t)rb - off);
            __m256i run[TILE];
            UNROLL
            for (int t = 0; t < nt; t++) run[t] = dot_begin();
            UNROLL
            for (int k = 0; k < 4; k++) {
                __m256i p = _mm256_and_si256(_mm256_srli_epi16(v, 2 * k), m2);
                UNROLL
                for (int t = 0; t < nt; t++)
                    run[t] = dot_step(run[t], p, ldx(xq[t].x8p + b * 256 + k * 64 + hf * 32));
            }
            UNROLL
            for (int t = 0; t < nt; t++) a[t][hf] = dot_end(a[t][hf], run[t]);
        }
    } else { /* T158 */
        UNROLL
        for (int hf = 0; hf < 2; hf++) {
            int64_t off = b * 64 + hf * 32;
            __m256i d[5];
            t158_digits(whole ? _mm256_loadu_si256((const __m256i *)(row + off)) : ld(row + off, (int64_t)rb - off), d);
            __m256i run[TILE];
            UNROLL
            for (int t = 0; t < nt; t++) run[t] = dot_begin();
            UNROLL
            for (int k = 0; k < 5; k++) {
                UNROLL
                for (int t = 0; t < nt; t++)
                    run[t] = dot_step(run[t], d[k], ldx(xq[t].x8p + b * 320 + k * 64 + hf * 32));
            }
            UNROLL
            for (int t = 0; t < nt; t++) a[t][hf] = dot_end(a[t][hf], run[t]);
        }
    }
}

INL void bt_fold(const qlow__xq *xq, int nt, int64_t c, __m256i (*isum)[2], __m256 (*acc)[2])
{
    UNROLL
    for (int t = 0; t < nt; t++) {
        UNROLL
        for (int h = 0; h < 2; h++) {
            __m256 xs = _mm256_loadu_ps(xq[t].xs + c * 16 + h * 8);
            acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_mul_ps(xs, _mm256_cvtepi32_ps(isum[t][h])));
        }
    }
}

/* B1 chunk sums are one run per half: 64 steps (16 x 4) of 0/1 codes, at most 64 x 254 < 2^15. */
INL void widen_runs(int nt, __m256i (*is)[2])
{
    UNROLL
    for (int t = 0; t < nt; t++) {
        is[t][0] = dot_widen(is[t][0]);
        is[t][1] = dot_widen(is[t][1]);
    }
}

/* Steps of chunk c that hold code bytes of a row of rb bytes (step_bytes per step). */
INL int64_t live_steps(size_t rb, size_t step_bytes, int64_t c)
{
    int64_t n = (int64_t)((rb + step_bytes - 1) / step_bytes) - c * 16;
    return n < 0 ? 0 : n > 16 ? 16 : n;
}

/* Steps of chunk c that lie wholly inside a row of rb bytes. */
INL int64_t whole_steps(size_t rb, size_t step_bytes, int64_t c)
{
    int64_t n = (int64_t)(rb / step_bytes) - c * 16;
    return n < 0 ? 0 : n > 16 ? 16 : n;
}

INL void bt_tile(int32_t kind, const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                 int64_t ldy, int add)
{
    const int64_t nchunk = kp->nblk_pad / 16;
    const size_t rb = kp->row_bytes;
    const int32_t k1 = kind == QLOW_FORMAT_B2 ? QLOW_FORMAT_B1 : kind;
    const int64_t span = 16 * (k1 == QLOW_FORMAT_B1 ? 32 : 64); /* code bytes of one chunk */
    for (int64_t r = r0; r < r1; r++) {
        __m256 acc[TILE][2], acc2[TILE][2];
        UNROLL
        for (int t = 0; t < nt; t++) acc[t][0] = acc[t][1] = acc2[t][0] = acc2[t][1] = _mm256_setzero_ps();
        for (int64_t c = 0; c < nchunk; c++) {
            __m256i is[TILE][2];
            qlow__prefetch(kp->codes + (size_t)r * rb, c * span + QLOW__PF_DIST, span);
            if (kind == QLOW_FORMAT_B2) qlow__prefetch(kp->codes2 + (size_t)r * rb, c * span + QLOW__PF_DIST, span);
            UNROLL
            for (int t = 0; t < nt; t++) is[t][0] = is[t][1] = _mm256_setzero_si256();
            /* Steps past the row's code bytes add exact zeros: skip them (small matrices fill one step). */
            const int64_t ns = live_steps(rb, k1 == QLOW_FORMAT_B1 ? 32 : 64, c);
            /* steps wholly inside the row load without bounds checks (not for B tiles of several
             * tokens, whose unchecked copy of the step ran a third slower at batch 8 and 32) */
            const int64_t nw = k1 == QLOW_FORMAT_B1 && nt > 1 ? 0 : whole_steps(rb, k1 == QLOW_FORMAT_B1 ? 32 : 64, c);
            int64_t s = 0;
            for (; s < nw; s++) bt_step(k1, kp->codes + (size_t)r * rb, rb, c * 16 + s, 1, xq, nt, is);
            for (; s < ns; s++) bt_step(k1, kp->codes + (size_t)r * rb, rb, c * 16 + s, 0, xq, nt, is);
            if (k1 == QLOW_FORMAT_B1) widen_runs(nt, is);
            bt_fold(xq, nt, c, is, acc);
            if (kind == QLOW_FORMAT_B2) {
                UNROLL
                for (int t = 0; t < nt; t++) is[t][0] = is[t][1] = _mm256_setzero_si256();
                for (s = 0; s < nw; s++) bt_step(QLOW_FORMAT_B1, kp->codes2 + (size_t)r * rb, rb, c * 16 + s, 1, xq, nt, is);
                for (; s < ns; s++) bt_step(QLOW_FORMAT_B1, kp->codes2 + (size_t)r * rb, rb, c * 16 + s, 0, xq, nt, is);
                widen_runs(nt, is);
                bt_fold(xq, nt, c, is, acc2);
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++)
            store(&y[t * ldy + r],
                  qlow__bt_finish(kp, r, lanes_sum(acc[t][0], acc[t][1]), lanes_sum(acc2[t][0], acc2[t][1]),
                                  xq[t].xtot, h2f),
                  add);
    }
}

ROWS_FN(b1_rows, bt_tile, QLOW_FORMAT_B1)
ROWS_FN(b2_rows, bt_tile, QLOW_FORMAT_B2)
ROWS_FN(t2_rows, bt_tile, QLOW_FORMAT_T2)
ROWS_FN(t158_rows, bt_tile, QLOW_FORMAT_T158)

/* ---- activation quantization (same rounding as qlow__quantize_generic) -------------------------- */
/* It has no dot products, so the VNNI set shares the AVX2 set's functions. */
#if !defined(QLOW__AVX2_WITH_VNNI)

TGT float qlow__absmax_avx2(const float *v, int64_t n)
{
    const __m256 lim = _mm256_set1_ps(3.402823466e38f), absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(v + j), absm);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, lim, _CMP_NLE_UQ));
        m = _mm256_max_ps(m, a);
    }
    float r[8];
    _mm256_storeu_ps(r, m);
    float amax = 0.0f;
    for (int i = 0; i < 8; i++) amax = r[i] > amax ? r[i] : amax;
    if (_mm256_movemask_ps(bad)) return -1.0f;
    for (; j < n; j++) {
        float a = v[j] < 0.0f ? -v[j] : v[j];
        if (!(a <= 3.402823466e38f)) return -1.0f;
        amax = a > amax ? a : amax;
    }
    return amax;
}

TGT int32_t qlow__quantize_avx2(const float *v, int64_t n, float inv, int8_t *q)
{
    const __m256 vinv = _mm256_set1_ps(inv), half = _mm256_set1_ps(0.5f);
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
    __m256i sum = _mm256_setzero_si256();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 t = _mm256_mul_ps(_mm256_loadu_ps(v + j), vinv);
        __m256 h = _mm256_or_ps(_mm256_and_ps(t, sign), half);
        __m256i r = _mm256_cvttps_epi32(_mm256_add_ps(t, h));
        r = _mm256_max_epi32(_mm256_min_epi32(r, hi), lo);
        sum = _mm256_add_epi32(sum, r);
        int32_t tmp[8];
        _mm256_storeu_si256((__m256i *)tmp, r);
        for (int i = 0; i < 8; i++) q[j + i] = (int8_t)tmp[i];
    }
    int32_t tmp[8], s = 0;
    _mm256_storeu_si256((__m256i *)tmp, sum);
    for (int i = 0; i < 8; i++) s += tmp[i];
    return s + qlow__quantize_generic(v + j, n - j, inv, q + j);
}
#endif

const qlow__kernel_set KERNEL_SET = {
    .name = KERNEL_SET_NAME,
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
    .absmax = qlow__absmax_avx2,
    .quantize = qlow__quantize_avx2,
    .qtrans = 1,
    .lut_tables = qlow__lut_tables_avx2,
    .lut_rows = qlow__lut_rows_avx2,
};

#endif
