/* x86_avx512_q4tile.c - batch-1 rows of M161's salient Q4 part over its row-tiled copy (lut.h), AVX-512
 * VNNI. A vector holds 8 columns of 16 rows: its low nibbles, masked, are 4 codes per row that one
 * vpdpbusd multiplies with the 4 matching activations broadcast to every dword, and the high nibbles
 * the next 4, so a 32-column block of 16 rows is 8 vpdpbusd into one vector with lane = row, and no
 * horizontal reduction. Four tiles go together (8 independent accumulator chains). The integer block
 * sums are exact and the fp32 folding repeats kernels.h's Q steps lane-wise, so results equal the
 * generic kernel bit for bit. */
#include "kernels/lut.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

/* No "fma": the fp32 folding must stay separate multiplies and adds. */
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c")))
#define INL static inline __attribute__((always_inline)) TGT
#define UNROLL _Pragma("GCC unroll 8")

INL __m512i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* Rows of the NG tiles of group grp: fold every block, then the lane sums into y. */
INL void group_rows(const qlow__kpart *kp, const qlow__xq *xq, const uint8_t *w, const int NG, int64_t r, int64_t rend,
                    float *y, int add)
{
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    const int64_t nb = kp->nblk;
    __m512 ws[QLOW__Q4T_GROUP], z[QLOW__Q4T_GROUP], F[QLOW__Q4T_GROUP][QLOW__LANES];
    __mmask16 m[QLOW__Q4T_GROUP];
    UNROLL
    for (int g = 0; g < NG; g++) {
        const int64_t rg = r + 16 * g, n = rend - rg;
        m[g] = n >= 16 ? (__mmask16)0xffff : n > 0 ? (__mmask16)((1u << n) - 1u) : (__mmask16)0;
        const int64_t rs = n > 0 ? rg : r; /* a tile past the rows reads the first row's parameters */
        const __mmask16 ml = n > 0 ? m[g] : (__mmask16)1;
        ws[g] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(ml, kp->scale + rs));
        z[g] = kp->zero ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(ml, kp->zero + rs))
                        : _mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(ws[g], _mm512_set1_ps(kp->sym_offset)));
        for (int l = 0; l < QLOW__LANES; l++) F[g][l] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = xq->x8 + b * 32;
        __m512i a[QLOW__Q4T_GROUP][2];
        UNROLL
        for (int g = 0; g < NG; g++) a[g][0] = a[g][1] = _mm512_setzero_si512();
        UNROLL
        for (int k = 0; k < 4; k++) {
            const __m512i xl = bcast4(xb + 8 * k), xh = bcast4(xb + 8 * k + 4);
            UNROLL
            for (int g = 0; g < NG; g++) {
                const uint8_t *p = w + (size_t)((b * 4 + k) * NG + g) * 64;
                qlow__prefetch_w(xq->prefetch_l2, p, QLOW__PF_DIST, 64);
                const __m512i v = _mm512_load_si512((const void *)p);
                a[g][0] = _mm512_dpbusd_epi32(a[g][0], _mm512_and_si512(v, lo4), xl);
                a[g][1] = _mm512_dpbusd_epi32(a[g][1], _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4), xh);
            }
        }
        const __m512 xs = _mm512_set1_ps(xq->xs[b]);
        UNROLL
        for (int g = 0; g < NG; g++) { /* kernels.h: a += (ws * xs_b) * isum */
            const __m512 isum = _mm512_cvtepi32_ps(_mm512_add_epi32(a[g][0], a[g][1]));
            F[g][b % 16] = _mm512_add_ps(F[g][b % 16], _mm512_mul_ps(_mm512_mul_ps(ws[g], xs), isum));
        }
    }
    const __m512 xg = _mm512_set1_ps(xq->xgsum[0]); /* the zero term of the row's one group */
    UNROLL
    for (int g = 0; g < NG; g++) {
        if (!m[g]) continue;
        F[g][0] = _mm512_add_ps(F[g][0], _mm512_mul_ps(z[g], xg));
        __m512 *l = F[g]; /* qlow__lanes_sum's tree, all 16 rows at once */
        for (int i = 0; i < 8; i++) l[i] = _mm512_add_ps(l[i], l[i + 8]);
        for (int i = 0; i < 4; i++) l[i] = _mm512_add_ps(l[i], l[i + 4]);
        for (int i = 0; i < 2; i++) l[i] = _mm512_add_ps(l[i], l[i + 2]);
        __m512 v = _mm512_add_ps(l[0], l[1]);
        float *yg = y + r + 16 * g;
        if (add) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m[g], yg), v);
        _mm512_mask_storeu_ps(yg, m[g], v);
    }
}

int64_t qlow__q4t_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
    TGT;
int64_t qlow__q4t_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
{
    const int64_t grows = QLOW__LUT_TILE * QLOW__Q4T_GROUP, tiles = (kp->rows + QLOW__LUT_TILE - 1) / QLOW__LUT_TILE;
    /* whole groups only: every row of a group is then written by the call that owns it */
    if (r0 >= r1 || r0 % grows != 0 || (r1 % grows != 0 && r1 != kp->rows) || !kp->q4t) return r0;
    for (int64_t grp = r0 / grows; grp * grows < r1; grp++) {
        const int64_t t0 = grp * QLOW__Q4T_GROUP;
        const int ng = (int)(tiles - t0 < QLOW__Q4T_GROUP ? tiles - t0 : QLOW__Q4T_GROUP);
        const uint8_t *w = kp->q4t + (size_t)(t0 * kp->nblk * 4) * 64;
        const int64_t r = grp * grows, rend = r1;
        /* the next group's row parameters: read before its first block, they stalled it cold */
        if ((grp + 1) * grows < r1) {
            qlow__prefetch_w(xq->prefetch_l2, kp->scale + r + grows, 0, grows * 2);
            if (kp->zero) qlow__prefetch_w(xq->prefetch_l2, kp->zero + r + grows, 0, grows * 2);
        }
        switch (ng) { /* a constant tile count per instance keeps the accumulators in registers */
        case 4: group_rows(kp, xq, w, 4, r, rend, y, add); break;
        case 3: group_rows(kp, xq, w, 3, r, rend, y, add); break;
        case 2: group_rows(kp, xq, w, 2, r, rend, y, add); break;
        default: group_rows(kp, xq, w, 1, r, rend, y, add); break;
        }
    }
    return r1;
}

#endif
