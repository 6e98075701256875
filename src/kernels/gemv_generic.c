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
    const int zblock = qlow__q_zero_per_block(kp);
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
                float z = !zblock ? 0.0f : zr ? qlow__h2f(zr[g]) : -(ws * kp->sym_offset);
                for (int t = 0; t < tn; t++) {
                    const qlow__xq *q = &xq[t0 + t];
                    int32_t isum = dot32(c, q->x8 + b * 32);
                    float d = ws * q->xs[b];
                    float *a = &acc[t][b % QLOW__LANES];
                    *a = *a + d * (float)isum;
                    if (zblock) *a = *a + z * q->xsum[b];
                }
            }
            for (int t = 0; t < tn; t++) {
                if (!zblock) qlow__q_zero_fold(kp, sr, zr, xq[t0 + t].xgsum, acc[t]);
                store(&y[(t0 + t) * ldy + r], qlow__lanes_sum(acc[t]), add);
            }
        }
    }
}

/* Code of natural column j (within the part) of a binary or ternary row; 0 past the stored bytes. */
static int bt_code(int32_t kind, const uint8_t *row, size_t rb, size_t j)
{
    switch (kind) {
    case QLOW_FORMAT_T2:
        if (j / 4 >= rb) return 0;
        return (row[(j / 32) * 8 + j % 8] >> (2 * ((j % 32) / 8))) & 3;
    case QLOW_FORMAT_T158: return j / 5 < rb ? qlow__t158_digit(row[j / 5], (int)(j % 5)) : 0;
    default: return j / 8 < rb ? (row[j / 8] >> (j % 8)) & 1 : 0;
    }
}

/* Exact sum of code * x8 over interleaved activation block b (see kernels.h). */
static int32_t bt_block_sum(const qlow__kpart *kp, int32_t kind, const uint8_t *row, int64_t b, const int8_t *x8)
{
    const size_t A = (size_t)kp->ablock, chunk = (size_t)b / 16, d = (size_t)b % 16;
    int32_t s = 0;
    for (size_t m = 0; m < A; m++) {
        size_t p = chunk * 16 * A + (m / 4) * 64 + 4 * d + m % 4; /* kernel position of slot m */
        s += bt_code(kind, row, kp->row_bytes, qlow__xord_source(kp->xord, p)) * x8[(size_t)b * A + m];
    }
    return s;
}

static void bt_rows(const qlow__kpart *kp, const qlow__xq *xq, int nt, int64_t r0, int64_t r1, float *y,
                    int64_t ldy, int add)
{
    const int32_t kind = kp->format, two = kind == QLOW_FORMAT_B2;
    const int32_t k1 = two ? QLOW_FORMAT_B1 : kind;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row1 = kp->codes + (size_t)r * kp->row_bytes;
        const uint8_t *row2 = two ? kp->codes2 + (size_t)r * kp->row_bytes : NULL;
        for (int t = 0; t < nt; t++) {
            const qlow__xq *q = &xq[t];
            float acc1[QLOW__LANES] = {0}, acc2[QLOW__LANES] = {0};
            for (int64_t b = 0; b < kp->nblk; b++) {
                float *a1 = &acc1[b % QLOW__LANES];
                *a1 = *a1 + q->xs[b] * (float)bt_block_sum(kp, k1, row1, b, q->x8);
                if (two) {
                    float *a2 = &acc2[b % QLOW__LANES];
                    *a2 = *a2 + q->xs[b] * (float)bt_block_sum(kp, k1, row2, b, q->x8);
                }
            }
            float v = qlow__bt_finish(kp, r, qlow__lanes_sum(acc1), qlow__lanes_sum(acc2), q->xtot, qlow__h2f);
            store(&y[t * ldy + r], v, add);
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
            [QLOW_FORMAT_B1] = bt_rows,
            [QLOW_FORMAT_B2] = bt_rows,
            [QLOW_FORMAT_T2] = bt_rows,
            [QLOW_FORMAT_T158] = bt_rows,
        },
};
