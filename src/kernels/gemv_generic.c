/* gemv_generic.c - portable C row kernels for every format. They define the results: each SIMD kernel
 * must reproduce them bit for bit (see kernels.h for the folding order). */
#include "kernels/kernels.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define MAXT 8 /* tokens folded per pass over a row */

/* The 32 codes of block b of a Q row, as unsigned integers. */
static void q_block_codes(int32_t kind, const uint8_t *row, const uint8_t *hi_row, int64_t b, uint8_t *c)
{
    switch (kind) {
    case QLOW_FORMAT_Q8: memcpy(c, row + b * 32, 32); break;
    case QLOW_FORMAT_Q4: {
        const uint8_t *s = row + b * 16;
        for (int j = 0; j < 16; j++) {
            c[j] = s[j] & 15u;
            c[j + 16] = s[j] >> 4;
        }
        break;
    }
    default: { /* Q2, Q3 low plane, T2 */
        const uint8_t *s = row + b * 8;
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 4; k++) c[j + 8 * k] = (uint8_t)((s[j] >> (2 * k)) & 3u);
        if (kind == QLOW_FORMAT_Q3) {
            const uint8_t *h = hi_row + b * 4;
            uint32_t w = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
            for (int j = 0; j < 32; j++) c[j] = (uint8_t)(c[j] | (((w >> j) & 1u) << 2));
        }
        break;
    }
    }
}

static int32_t dot32(const uint8_t *c, const int8_t *x)
{
    int32_t s = 0;
    for (int j = 0; j < 32; j++) s += (int32_t)c[j] * x[j];
    return s;
}

static void store(float *y, float v, int add) { *y = add ? *y + v : v; }

static void q_rows(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                   int64_t ldy, int add)
{
    const size_t hi_stride = (size_t)kp->cols_pad / 8;
    for (int t0 = 0; t0 < nt; t0 += MAXT) {
        int tn = nt - t0 < MAXT ? nt - t0 : MAXT;
        for (int64_t r = r0; r < r1; r++) {
            const uint8_t *row = kp->codes + (size_t)r * kp->row_bytes;
            const uint8_t *hi_row = kp->codes_hi ? kp->codes_hi + (size_t)r * hi_stride : NULL;
            const uint16_t *sr = qlow__q_scale_row(kp, r), *zr = qlow__q_zero_row(kp, r);
            float acc[MAXT][QLOW__LANES];
            memset(acc, 0, sizeof(acc));
            for (int64_t b = 0; b < kp->nblk; b++) {
                uint8_t c[32];
                q_block_codes(kp->format, row, hi_row, b, c);
                int64_t g = kp->g0[b / QLOW__LANES] + kp->grel[b];
                float ws = qlow__h2f(sr[g]);
                float z = zr ? qlow__h2f(zr[g]) : -(ws * kp->sym_offset);
                for (int t = 0; t < tn; t++) {
                    const qlow__xq *q = &xq[t0 + t];
                    int32_t isum = dot32(c, q->x8 + b * 32);
                    float d = ws * q->xs[b];
                    float *a = &acc[t][b % QLOW__LANES];
                    *a = *a + d * (float)isum;
                    *a = *a + z * q->xsum[b];
                }
            }
            for (int t = 0; t < tn; t++) store(&y[(t0 + t) * ldy + r], qlow__lanes_sum(acc[t]), add);
        }
    }
}

/* Sum of x8 over the set bits of `bits` (nbytes bytes, bit j of byte j/8 = column j). */
static int32_t masked_sum(const uint8_t *bits, size_t nbytes, const int8_t *x)
{
    int32_t s = 0;
    for (size_t i = 0; i < nbytes; i++)
        for (int k = 0; k < 8; k++)
            if ((bits[i] >> k) & 1u) s += x[i * 8 + (size_t)k];
    return s;
}

static void b_rows(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                   int64_t ldy, int add)
{
    const int two = kp->format == QLOW_FORMAT_B2;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row1 = kp->codes + (size_t)r * kp->row_bytes;
        const uint8_t *row2 = two ? kp->codes2 + (size_t)r * kp->row_bytes : NULL;
        for (int t = 0; t < nt; t++) {
            const qlow__xq *q = &xq[t];
            float acc1[QLOW__LANES] = {0}, acc2[QLOW__LANES] = {0};
            for (int64_t b = 0; b < kp->nblk; b++) {
                size_t off = (size_t)b * 32, nb = kp->row_bytes - off < 32 ? kp->row_bytes - off : 32;
                float *a1 = &acc1[b % QLOW__LANES];
                *a1 = *a1 + q->xs[b] * (float)masked_sum(row1 + off, nb, q->x8 + off * 8);
                if (two) {
                    float *a2 = &acc2[b % QLOW__LANES];
                    *a2 = *a2 + q->xs[b] * (float)masked_sum(row2 + off, nb, q->x8 + off * 8);
                }
            }
            float v = two ? qlow__b2_finish(qlow__lanes_sum(acc1), qlow__lanes_sum(acc2), q->xtot,
                                            qlow__h2f(kp->alpha[r]), qlow__h2f(kp->alpha2[r]), qlow__h2f(kp->mu[r]))
                          : qlow__b1_finish(qlow__lanes_sum(acc1), q->xtot, qlow__h2f(kp->alpha[r]),
                                            qlow__h2f(kp->mu[r]));
            store(&y[t * ldy + r], v, add);
        }
    }
}

static void t2_rows(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                    int64_t ldy, int add)
{
    const int64_t nb32 = kp->cols_pad / 32;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = kp->codes + (size_t)r * kp->row_bytes;
        for (int t = 0; t < nt; t++) {
            const qlow__xq *q = &xq[t];
            float acc[QLOW__LANES] = {0};
            for (int64_t b = 0; b < kp->nblk; b++) {
                int32_t isum = 0;
                for (int64_t k = b * 8; k < b * 8 + 8 && k < nb32; k++) {
                    uint8_t c[32];
                    q_block_codes(QLOW_FORMAT_T2, row, NULL, k, c);
                    isum += dot32(c, q->x8 + k * 32);
                }
                float *a = &acc[b % QLOW__LANES];
                *a = *a + q->xs[b] * (float)isum;
            }
            store(&y[t * ldy + r], qlow__t_finish(qlow__lanes_sum(acc), q->xtot, qlow__h2f(kp->alpha[r])), add);
        }
    }
}

static void t158_rows(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                      int64_t ldy, int add)
{
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = kp->codes + (size_t)r * kp->row_bytes;
        for (int t = 0; t < nt; t++) {
            const qlow__xq *q = &xq[t];
            float acc[QLOW__LANES] = {0};
            for (int64_t b = 0; b < kp->nblk; b++) {
                int32_t isum = 0;
                for (size_t i = (size_t)b * 64; i < (size_t)b * 64 + 64 && i < kp->row_bytes; i++)
                    for (int k = 0; k < 5; k++) isum += qlow__t158_digit(row[i], k) * q->x8[5 * i + (size_t)k];
                float *a = &acc[b % QLOW__LANES];
                *a = *a + q->xs[b] * (float)isum;
            }
            store(&y[t * ldy + r], qlow__t_finish(qlow__lanes_sum(acc), q->xtot, qlow__h2f(kp->alpha[r])), add);
        }
    }
}

const qlow__kernel_set qlow__kernels_generic = {
    .name = "generic",
    .rows =
        {
            [QLOW_FORMAT_Q8] = q_rows,
            [QLOW_FORMAT_Q4] = q_rows,
            [QLOW_FORMAT_Q3] = q_rows,
            [QLOW_FORMAT_Q2] = q_rows,
            [QLOW_FORMAT_B1] = b_rows,
            [QLOW_FORMAT_B2] = b_rows,
            [QLOW_FORMAT_T2] = t2_rows,
            [QLOW_FORMAT_T158] = t158_rows,
        },
};
