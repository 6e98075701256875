/* x86_avx512_q2lut.c - batch-1 rows of Q2 parts by table lookup over their row-tiled bit planes (lut.h),
 * AVX-512 VBMI + VNNI.
 *
 * The chunk kernel spends two operations per 64 codes on the pipes vpdpbusd also needs (a GFNI field
 * extraction and the vpdpbusd itself), and at 1 thread on Zen 4 that bound it below the read
 * bandwidth. A 2-bit code is q = b0 + 2 b1, so each bit plane goes through the binary kinds' lookup
 * step: per 16 rows x 32 columns and plane, a shift and two index operations, four vpermb and two
 * byte adds, then four vpdpbusd for both planes (plane 1 weighted by 2). The panel walk is like the
 * binary lookup kernel's: a block's four tables stay in registers for the panel's 16 tiles, and the
 * panel's fp32 fold (16 KiB) stays in L1 while the planes stream linearly.
 *
 * Exactness: the integer block sums are exact (x86_avx512_lut_step.h), and the fp32 folding repeats
 * kernels.h's Q steps with rows in lanes: lane b mod 16 of a row gets (scale_g * xs_b) * isum_b block
 * after block, its zero term either right after (one group per block) or per group once the blocks
 * are done, then the lane tree. So results equal the generic kernel bit for bit. */
#include "kernels/lut.h"
#include "kernels/x86_avx512_lut_step.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define PARAM_AHEAD_BLOCKS 4

/* No "fma": the fp32 folding must stay separate multiplies and adds. */
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

void qlow__q2t_tables_avx512(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab) TGT;
void qlow__q2t_tables_avx512(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab)
{
    for (int64_t b = 0; b < kp->nblk; b++) qlow__lut_unit_tables(x8 + b * 32, tab + (size_t)b * 256);
}

/* Exact sums code * x8 of one block of 16 rows (lane = row) from its two plane vectors at p. */
INL __m512i tile_isum(const uint8_t *p, const __m512i *t, int pf_l2)
{
    const __m512i ones = _mm512_set1_epi8(1), twos = _mm512_set1_epi8(2);
    const __m512i sixteen = _mm512_set1_epi8(16), thirty_two = _mm512_set1_epi8(32);
    qlow__prefetch_w(pf_l2, p, QLOW__PF_DIST, 128);
    __m512i bl0, bh0, bl1, bh1;
    qlow__lut_unit_step(_mm512_load_si512((const void *)p), t, &bl0, &bh0);
    qlow__lut_unit_step(_mm512_load_si512((const void *)(p + 64)), t, &bl1, &bh1);
    __m512i a = _mm512_dpbusd_epi32(_mm512_setzero_si512(), bl0, ones);
    a = _mm512_dpbusd_epi32(a, sixteen, bh0);
    a = _mm512_dpbusd_epi32(a, bl1, twos);
    return _mm512_dpbusd_epi32(a, thirty_two, bh1);
}

/* The zero parameter of 16 rows' entry e: stored, or -(scale * 2^(bits-1)) when symmetric. */
INL __m512 entry_zero(const qlow__kpart *kp, const uint8_t *e, __m512 ws)
{
    if (kp->zero) return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(e + 32)));
    return _mm512_xor_ps(_mm512_mul_ps(ws, _mm512_set1_ps(kp->sym_offset)), _mm512_set1_ps(-0.0f));
}

/* Tiles [ja, jb) of the panel whose planes start at wp and parameters at pp (pt tiles), rows from
 * rbase: every block into the fold F, then each tile's zero terms and lane tree into y (rows below
 * rend). ZBLOCK: one group per block, zero terms folded block by block. */
INL void panel_rows(const qlow__kpart *kp, const qlow__xq *xq, const uint8_t *wp, const uint8_t *pp, int64_t pt,
                    int64_t ja, int64_t jb, int64_t rbase, int64_t rend, float *y, int add, const int ZBLOCK)
{
    _Alignas(64) float F[QLOW__Q2T_PANEL][QLOW__LANES][QLOW__LANES];
    _Alignas(64) float WS[QLOW__Q2T_PANEL][QLOW__LANES], Z[QLOW__Q2T_PANEL][QLOW__LANES];
    const size_t E = qlow__q2t_param_bytes(kp);
    const int pf = xq->prefetch_l2;
    const __m512 fzero = _mm512_setzero_ps();
    /* Prefetch the parameters of the group PARAM_AHEAD_BLOCKS blocks on, at least the next: a miss at a
     * group's first block stalls every tile, and one group on was too late at g32 (cold 325 -> 245 us;
     * 8 or 16 blocks: g128 within the noise, g32 slower, 257-284 us). */
    const int64_t bpg = kp->nblk / kp->ngroups > 0 ? kp->nblk / kp->ngroups : 1;
    const int64_t ahead = (PARAM_AHEAD_BLOCKS + bpg - 1) / bpg;
    int64_t gprev = -1;
    for (int64_t b = 0; b < kp->nblk; b++) {
        const int64_t g = kp->g0[b / QLOW__LANES] + kp->grel[b];
        if (g != gprev) { /* the group's scales (and per-block zeros), converted once for its blocks */
            for (int64_t j = ja; j < jb; j++) {
                const uint8_t *e = pp + (size_t)(g * pt + j) * E;
                const __m512 ws = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)e));
                _mm512_store_ps(WS[j], ws);
                if (ZBLOCK) _mm512_store_ps(Z[j], entry_zero(kp, e, ws));
            }
            if (g + ahead < kp->ngroups)
                qlow__prefetch_w(pf, pp, (int64_t)((g + ahead) * pt + ja) * (int64_t)E, (jb - ja) * (int64_t)E);
            gprev = g;
        }
        const uint8_t *tb = xq->ltab + (size_t)b * 256;
        const __m512i t[4] = {_mm512_load_si512((const void *)tb), _mm512_load_si512((const void *)(tb + 64)),
                              _mm512_load_si512((const void *)(tb + 128)), _mm512_load_si512((const void *)(tb + 192))};
        const __m512 xs = _mm512_set1_ps(xq->xs[b]);
        const __m512 xsum = ZBLOCK ? _mm512_set1_ps(xq->xsum[b]) : fzero;
        const int64_t lane = b % QLOW__LANES;
        const uint8_t *wb = wp + (size_t)(b * pt) * 128;
        for (int64_t j = ja; j < jb; j++) { /* kernels.h: a += (ws * xs_b) * isum (+ z * xsum_b) */
            const __m512 isum = _mm512_cvtepi32_ps(tile_isum(wb + (size_t)j * 128, t, pf));
            const __m512 prev = b < QLOW__LANES ? fzero : _mm512_load_ps(F[j][lane]);
            __m512 f = _mm512_add_ps(prev, _mm512_mul_ps(_mm512_mul_ps(_mm512_load_ps(WS[j]), xs), isum));
            if (ZBLOCK) f = _mm512_add_ps(f, _mm512_mul_ps(_mm512_load_ps(Z[j]), xsum));
            _mm512_store_ps(F[j][lane], f);
        }
    }
    for (int64_t j = ja; j < jb; j++) {
        __m512 a[QLOW__LANES];
        _Pragma("GCC unroll 16") /* all of it, so that a[] lives in registers */
        for (int l = 0; l < QLOW__LANES; l++) a[l] = _mm512_load_ps(F[j][l]);
        if (!ZBLOCK) /* qlow__q_zero_fold: group g into lane g % 16, in group order */
            for (int64_t g0 = 0; g0 < kp->ngroups; g0 += QLOW__LANES) {
                _Pragma("GCC unroll 16")
                for (int l = 0; l < QLOW__LANES; l++) {
                    if (g0 + l >= kp->ngroups) break;
                    const uint8_t *e = pp + (size_t)((g0 + l) * pt + j) * E;
                    const __m512 ws = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)e));
                    a[l] = _mm512_add_ps(a[l], _mm512_mul_ps(entry_zero(kp, e, ws), _mm512_set1_ps(xq->xgsum[g0 + l])));
                }
            }
        for (int l = 0; l < 8; l++) a[l] = _mm512_add_ps(a[l], a[l + 8]); /* qlow__lanes_sum's tree */
        for (int l = 0; l < 4; l++) a[l] = _mm512_add_ps(a[l], a[l + 4]);
        for (int l = 0; l < 2; l++) a[l] = _mm512_add_ps(a[l], a[l + 2]);
        __m512 v = _mm512_add_ps(a[0], a[1]);
        const int64_t r = rbase + QLOW__LUT_TILE * j, n = rend - r;
        const __mmask16 m = n >= QLOW__LUT_TILE ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
        if (add) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + r), v);
        _mm512_mask_storeu_ps(y + r, m, v);
    }
}

static TGT void panel_rows_zgroup(const qlow__kpart *kp, const qlow__xq *xq, const uint8_t *wp, const uint8_t *pp,
                                  int64_t pt, int64_t ja, int64_t jb, int64_t rbase, int64_t rend, float *y, int add)
{
    panel_rows(kp, xq, wp, pp, pt, ja, jb, rbase, rend, y, add, 0);
}
static TGT void panel_rows_zblock(const qlow__kpart *kp, const qlow__xq *xq, const uint8_t *wp, const uint8_t *pp,
                                  int64_t pt, int64_t ja, int64_t jb, int64_t rbase, int64_t rend, float *y, int add)
{
    panel_rows(kp, xq, wp, pp, pt, ja, jb, rbase, rend, y, add, 1);
}

int64_t qlow__q2t_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
    TGT;
int64_t qlow__q2t_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
{
    const int64_t T = QLOW__LUT_TILE, PT = QLOW__Q2T_PANEL, tiles = (kp->rows + T - 1) / T;
    size_t plane_bytes, bytes;
    /* whole tiles only: every row of a tile is then written by the call that owns it */
    if (r0 >= r1 || r0 % T != 0 || (r1 % T != 0 && r1 != kp->rows) || !kp->q2t || !xq->ltab || !kp->grel || !kp->g0 ||
        qlow__q2t_bytes(kp, &plane_bytes, &bytes) != QLOW_OK)
        return r0;
    const size_t E = qlow__q2t_param_bytes(kp);
    const int zblock = qlow__q_zero_per_block(kp);
    const int64_t ta = r0 / T, tb = (r1 + T - 1) / T;
    for (int64_t P = ta / PT; P * PT < tb; P++) {
        const int64_t t0 = P * PT, pt = tiles - t0 < PT ? tiles - t0 : PT;
        const int64_t ja = ta > t0 ? ta - t0 : 0, jb = tb - t0 < pt ? tb - t0 : pt;
        const uint8_t *wp = kp->q2t + (size_t)(t0 * kp->nblk) * 128;
        const uint8_t *pp = kp->q2t + plane_bytes + (size_t)(t0 * kp->ngroups) * E;
        if (zblock) panel_rows_zblock(kp, xq, wp, pp, pt, ja, jb, t0 * T, r1, y, add);
        else panel_rows_zgroup(kp, xq, wp, pp, pt, ja, jb, t0 * T, r1, y, add);
    }
    return r1;
}

#endif
