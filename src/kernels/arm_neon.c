/* arm_neon.c - NEON row kernels (AArch64). The exact per-block integer sums come from NEON widening
 * multiplies (vmull_s8 + pairwise adds, or vdotq_s32 with the dotprod extension); the fp32 folding
 * is the generic scalar sequence (kernels.h), so results equal the generic kernels bit for bit. */
#include "kernels/kernels.h"

#if defined(QLOW__HAVE_NEON_KERNELS)
#include <arm_neon.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* int32 lane l = sum over bytes 4l..4l+3 of u * s (u holds codes <= 15). */
static inline int32x4_t dot4(int32x4_t acc, int8x16_t u, int8x16_t s)
{
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, u, s);
#else
    int16x8_t p = vpaddq_s16(vmull_s8(vget_low_s8(u), vget_low_s8(s)), vmull_high_s8(u, s));
    return vaddq_s32(acc, vpaddlq_s16(p));
#endif
}

static void store(float *y, float v, int add) { *y = add ? *y + v : v; }

/* ---- Q kinds: one block of 32 columns at a time, natural activation order --------------------- */

static int32_t q_block_sum(int32_t kind, const uint8_t *row, const uint8_t *hi_row, int64_t b, const int8_t *x)
{
    const uint8x16_t m4 = vdupq_n_u8(15), m2 = vdupq_n_u8(3);
    int32x4_t acc = vdupq_n_s32(0);
    if (kind == QLOW_FORMAT_Q8) {
        for (int h = 0; h < 2; h++) {
            uint8x16_t v = vld1q_u8(row + b * 32 + h * 16);
            int8x16_t xv = vld1q_s8(x + h * 16);
            int32x4_t lo = dot4(vdupq_n_s32(0), vreinterpretq_s8_u8(vandq_u8(v, m4)), xv);
            int32x4_t hi = dot4(vdupq_n_s32(0), vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), xv);
            acc = vaddq_s32(acc, vaddq_s32(lo, vshlq_n_s32(hi, 4)));
        }
    } else if (kind == QLOW_FORMAT_Q4) {
        uint8x16_t v = vld1q_u8(row + b * 16);
        acc = dot4(acc, vreinterpretq_s8_u8(vandq_u8(v, m4)), vld1q_s8(x));
        acc = dot4(acc, vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), vld1q_s8(x + 16));
    } else { /* Q2, Q3: byte j holds columns j + 8k at bits 2k */
        uint8x8_t v8 = vld1_u8(row + b * 8);
        static const uint8_t bitpat[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
        for (int k = 0; k < 4; k += 2) {
            /* planes k and k + 1 in one vector: columns 8k..8k+15 */
            uint8x16_t p = vcombine_u8(vand_u8(vshl_u8(v8, vdup_n_s8((int8_t)(-2 * k))), vget_low_u8(m2)),
                                       vand_u8(vshl_u8(v8, vdup_n_s8((int8_t)(-2 * k - 2))), vget_low_u8(m2)));
            if (kind == QLOW_FORMAT_Q3) {
                const uint8_t *h = hi_row + b * 4;
                uint8x16_t bytes = vcombine_u8(vdup_n_u8(h[k]), vdup_n_u8(h[k + 1]));
                p = vorrq_u8(p, vandq_u8(vtstq_u8(bytes, vld1q_u8(bitpat)), vdupq_n_u8(4)));
            }
            acc = dot4(acc, vreinterpretq_s8_u8(p), vld1q_s8(x + 8 * k));
        }
    }
    return vaddvq_s32(acc);
}

static void q_rows(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y, int64_t ldy,
                   int add)
{
    const size_t hi_stride = (size_t)kp->cols_pad / 8;
    const int zblock = qlow__q_zero_per_block(kp);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = kp->codes + (size_t)r * kp->row_bytes;
        const uint8_t *hi_row = kp->codes_hi ? kp->codes_hi + (size_t)r * hi_stride : NULL;
        const uint16_t *sr = qlow__q_scale_row(kp, r), *zr = qlow__q_zero_row(kp, r);
        for (int t = 0; t < nt; t++) {
            const qlow__xq *q = &xq[t];
            float acc[QLOW__LANES] = {0};
            for (int64_t b = 0; b < kp->nblk; b++) {
                int64_t g = kp->g0[b / QLOW__LANES] + kp->grel[b];
                float ws = qlow__h2f(sr[g]);
                int32_t isum = q_block_sum(kp->format, row, hi_row, b, q->x8 + b * 32);
                float d = ws * q->xs[b];
                float *a = &acc[b % QLOW__LANES];
                *a = *a + d * (float)isum;
                if (zblock) { /* one group per block: its zero term here (kernels.h) */
                    float z = zr ? qlow__h2f(zr[g]) : -(ws * kp->sym_offset);
                    *a = *a + z * q->xsum[b];
                }
            }
            if (!zblock) qlow__q_zero_fold(kp, sr, zr, q->xgsum, acc);
            store(&y[t * ldy + r], qlow__lanes_sum(acc), add);
        }
    }
}

/* ---- binary and ternary kinds: interleaved blocks, kernel-order activations -------------------- */

/* Base-3 digit k of each of 16 code bytes. */
static uint8x16_t t158_digit(uint8x16_t v, int k)
{
    for (int i = 0; i < k; i++) { /* v / 3 = (v * 171) >> 9 for bytes */
        uint16x8_t lo = vshrq_n_u16(vmull_u8(vget_low_u8(v), vdup_n_u8(171)), 9);
        uint16x8_t hi = vshrq_n_u16(vmull_high_u8(v, vdupq_n_u8(171)), 9);
        v = vcombine_u8(vmovn_u16(lo), vmovn_u16(hi));
    }
    uint16x8_t lo = vshrq_n_u16(vmull_u8(vget_low_u8(v), vdup_n_u8(171)), 9);
    uint16x8_t hi = vshrq_n_u16(vmull_high_u8(v, vdupq_n_u8(171)), 9);
    uint8x16_t q = vcombine_u8(vmovn_u16(lo), vmovn_u16(hi));
    return vsubq_u8(v, vmulq_u8(q, vdupq_n_u8(3)));
}

/* 16 bytes of a row at off, zeros past rb. */
static uint8x16_t ld16(const uint8_t *row, size_t off, size_t rb)
{
    if (off + 16 <= rb) return vld1q_u8(row + off);
    uint8_t tmp[16] = {0};
    if (off < rb) memcpy(tmp, row + off, rb - off);
    return vld1q_u8(tmp);
}

/* Lane sums of chunk c: acc[v] lane l = block 16c + 4v + l. */
static void bt_chunk(int32_t kind, const uint8_t *row, size_t rb, int64_t c, const int8_t *xp, int32_t *isum)
{
    static const uint8_t bitpat[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    /* Steps past the row's code bytes add exact zeros: skip them (small matrices fill one step). */
    const size_t step_bytes = kind == QLOW_FORMAT_B1 ? 32 : 64;
    for (int64_t s = c * 16; s < c * 16 + 16 && (size_t)s * step_bytes < rb; s++) {
        if (kind == QLOW_FORMAT_B1) {
            for (int m = 0; m < 16; m++) { /* 16 columns per vector: 2 bytes of signs */
                size_t off = (size_t)s * 32 + (size_t)m * 2;
                if (off + 2 > rb) break;
                uint8x16_t bytes = vcombine_u8(vdup_n_u8(row[off]), vdup_n_u8(row[off + 1]));
                uint8x16_t mask = vtstq_u8(bytes, vld1q_u8(bitpat));
                int8x16_t xm = vandq_s8(vld1q_s8(xp + off * 8), vreinterpretq_s8_u8(mask));
                acc[m % 4] = vaddq_s32(acc[m % 4], vpaddlq_s16(vpaddlq_s8(xm)));
            }
        } else {
            const int planes = kind == QLOW_FORMAT_T2 ? 4 : 5;
            const size_t stride = kind == QLOW_FORMAT_T2 ? 256 : 320;
            for (int v = 0; v < 4; v++) {
                uint8x16_t code = ld16(row, (size_t)s * 64 + (size_t)v * 16, rb);
                for (int k = 0; k < planes; k++) {
                    uint8x16_t p = kind == QLOW_FORMAT_T2 ? vandq_u8(vshlq_u8(code, vdupq_n_s8((int8_t)(-2 * k))), vdupq_n_u8(3))
                                                          : t158_digit(code, k);
                    acc[v] = dot4(acc[v], vreinterpretq_s8_u8(p), vld1q_s8(xp + (size_t)s * stride + (size_t)k * 64 + (size_t)v * 16));
                }
            }
        }
    }
    for (int v = 0; v < 4; v++) vst1q_s32(isum + 4 * v, acc[v]);
}

static void bt_rows(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                    int64_t ldy, int add)
{
    const int32_t kind = kp->format, two = kind == QLOW_FORMAT_B2;
    const int32_t k1 = two ? QLOW_FORMAT_B1 : kind;
    const size_t rb = kp->row_bytes;
    for (int64_t r = r0; r < r1; r++) {
        for (int t = 0; t < nt; t++) {
            const qlow__xq *q = &xq[t];
            float acc1[QLOW__LANES] = {0}, acc2[QLOW__LANES] = {0};
            for (int64_t c = 0; c < kp->nblk_pad / 16; c++) {
                int32_t is1[16], is2[16];
                bt_chunk(k1, kp->codes + (size_t)r * rb, rb, c, q->x8p, is1);
                if (two) bt_chunk(k1, kp->codes2 + (size_t)r * rb, rb, c, q->x8p, is2);
                for (int l = 0; l < 16; l++) {
                    acc1[l] = acc1[l] + q->xs[c * 16 + l] * (float)is1[l];
                    if (two) acc2[l] = acc2[l] + q->xs[c * 16 + l] * (float)is2[l];
                }
            }
            float v = qlow__bt_finish(kp, r, qlow__lanes_sum(acc1), qlow__lanes_sum(acc2), q->xtot, qlow__h2f);
            store(&y[t * ldy + r], v, add);
        }
    }
}

const qlow__kernel_set qlow__kernels_neon = {
    .name = "neon",
    .rows =
        {
            [QLOW_FORMAT_Q8] = q_rows,
            [QLOW_FORMAT_Q4] = q_rows,
            [QLOW_FORMAT_Q3] = q_rows,
            [QLOW_FORMAT_Q2] = q_rows,
            [QLOW_FORMAT_B1] = bt_rows,
            [QLOW_FORMAT_B2] = bt_rows,
            [QLOW_FORMAT_T2] = bt_rows,
            [QLOW_FORMAT_T158] = bt_rows,
        },
};

#endif
