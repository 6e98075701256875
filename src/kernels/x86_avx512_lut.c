/* x86_avx512_lut.c - batch-1 binary planes (B1, B2, the binary part of M161) by table lookup over the
 * row-tiled sign copy (lut.h), AVX-512 VBMI + VNNI.
 *
 * The masked kernels spend one mask move and one vpdpbusd per 64 signs, and on Zen 5 the mask moves
 * alone (kmov, 1 per cycle) held B1 to about half the read bandwidth. Here a 64-byte vector holds 16
 * rows x 32 columns; per vector: a shift, two ternary-logic ops that turn each nibble into a table
 * index (nibble | 16 q), four vpermb lookups (low / high nibble x low / high activation part), two
 * byte adds, and two vpdpbusd that widen each row's four byte sums into its dword. That needs the
 * copy's bytes by row (lut.h), as handles on the CPUs that run this kernel keep it; a copy in the
 * lanes order is regrouped with one more vpermb per vector. Each unit's four tables are loaded once
 * for a group of four (virtual) tiles.
 *
 * Exactness: entries over xl = x & 15 are 0..60 and a low plus a high lookup at most 120 (uint8);
 * entries over xh = floor(x / 16) are -32..28 and two add up to -64..56 (int8). So the byte sums
 * never wrap, 16 * sum(xh) + sum(xl) is the exact block sum, and the fp32 folding below repeats
 * kernels.h step for step with rows in lanes (lane l of the fold is block b = l mod 16). */
#include "kernels/lut.h"
#include "kernels/x86_avx512_finish.h"
#include "kernels/x86_avx512_lut_step.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

/* No "fma": the fp32 folding must stay separate multiplies and adds. */
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,f16c")))
#define INL static inline __attribute__((always_inline)) TGT
#define UNROLL _Pragma("GCC unroll 8")

/* ---- activation tables ------------------------------------------------------------------------ */

void qlow__lut_tables_avx512(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab) TGT;
void qlow__lut_tables_avx512(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab)
{
    qlow__lut_geom g;
    if (qlow__lut_geometry(kp, &g) != QLOW_OK) return;
    for (int64_t b = 0; b < kp->nblk_pad; b++) {
        const int64_t nu = qlow__lut_block_units(&g, b);
        for (int64_t u = 0; u < nu; u++, tab += 256) qlow__lut_unit_tables(x8 + b * 256 + u * 32, tab);
    }
}

/* ---- rows --------------------------------------------------------------------------------------- */

/* Unit u of the NG tiles of one group: the tables once, then each tile's vector. BY_ROW: the copy is
 * in the by-row byte order already (lut.h); else each vector is regrouped here. Each weight vector is
 * paired with a prefetch QLOW__PF_DIST bytes on in the same linear stream, into L2 or L1 as the CPU
 * prefers (pf_l2, kernels.h; on Zen 5, L2 and 4 or 16 KiB ahead were no faster). */
INL void unit_tiles(const uint8_t *wv, const int NG, const int BY_ROW, int pf_l2, int64_t u, const uint8_t *btab,
                    __m512i *bl, __m512i *bh)
{
    const uint8_t *tp = btab + (size_t)u * 256;
    const __m512i t[4] = {_mm512_load_si512((const void *)tp), _mm512_load_si512((const void *)(tp + 64)),
                          _mm512_load_si512((const void *)(tp + 128)), _mm512_load_si512((const void *)(tp + 192))};
    /* byte 4 i + q of a regrouped vector = row i, group q, which the lanes order stores at byte
     * 32 (q & 1) + 16 (q >> 1) + i */
    const __m512i by_row = _mm512_set_epi32(0x3f1f2f0f, 0x3e1e2e0e, 0x3d1d2d0d, 0x3c1c2c0c, 0x3b1b2b0b, 0x3a1a2a0a,
                                            0x39192909, 0x38182808, 0x37172707, 0x36162606, 0x35152505, 0x34142404,
                                            0x33132303, 0x32122202, 0x31112101, 0x30102000);
    UNROLL
    for (int i = 0; i < NG; i++) {
        const uint8_t *p = wv + (size_t)(u * NG + i) * 64;
        qlow__prefetch_w(pf_l2, p, QLOW__PF_DIST, 64);
        const __m512i w = _mm512_load_si512((const void *)p);
        qlow__lut_unit_step(BY_ROW ? w : _mm512_permutexvar_epi8(by_row, w), t, &bl[i], &bh[i]);
    }
}

/* Widen the byte sums of the NG tiles into their dword accumulators, bh weighted by 16 on the way: one
 * accumulator per tile instead of one per lookup half freed the registers whose copies and spills
 * GCC otherwise added to the NG = 4 loop (4096 x 4096, 1 thread, hot medians of 6 alternating runs:
 * B1 45.5 -> 44.8 us, B2 88.9 -> 84.9, M161 62.7 -> 59.2; cold calls unchanged). */
INL void widen(const int NG, const __m512i *bl, const __m512i *bh, __m512i *A)
{
    const __m512i ones = _mm512_set1_epi8(1), sixteen = _mm512_set1_epi8(16);
    UNROLL
    for (int i = 0; i < NG; i++) {
        A[i] = _mm512_dpbusd_epi32(A[i], bl[i], ones);
        A[i] = _mm512_dpbusd_epi32(A[i], sixteen, bh[i]);
    }
}

/* Exact block sums of the NG virtual tiles of one group over one block's nu units (vectors at wv,
 * unit u of virtual tile i at wv + (u * NG + i) * 64), lane = row. Each unit is widened on its own:
 * accumulating two units in bytes saved a vpdpbusd per tile but kept twice the vectors live, and the
 * spills cost more (4096 x 4096 B1, 1 thread: hot 45 -> 38 us, cold 85 -> 60 us). */
INL void group_isums(const uint8_t *wv, const int NG, const int BY_ROW, int pf_l2, int64_t nu, const uint8_t *btab,
                     __m512i *isum)
{
    __m512i bl[QLOW__LUT_VTILES], bh[QLOW__LUT_VTILES];
    UNROLL
    for (int i = 0; i < NG; i++) isum[i] = _mm512_setzero_si512();
    for (int64_t u = 0; u < nu; u++) {
        unit_tiles(wv, NG, BY_ROW, pf_l2, u, btab, bl, bh);
        widen(NG, bl, bh, isum);
    }
}

/* The fold step of qlow__lut_walk (lut.h), the group's virtual tiles together. */
static TGT void panel_fold(const qlow__kpart *kp, const qlow__lut_geom *g, const qlow__xq *xq, int64_t pg, int64_t ga,
                           int64_t gb, float *restrict F)
{
    const __m512 fzero = _mm512_setzero_ps();
    const int pf = xq->prefetch_l2;
    const int64_t pt = (int64_t)QLOW__LUT_PANEL * g->gtiles;
    int64_t ubase = 0;
    for (int64_t b = 0; b < kp->nblk_pad; b++) {
        const int64_t nu = qlow__lut_block_units(g, b);
        const uint8_t *btab = xq->ltab + (size_t)ubase * 256;
        const __m512 x = _mm512_set1_ps(xq->xs[b]);
        for (int64_t grp = ga; grp < gb; grp++) {
            const int64_t ng = qlow__lut_group_tiles(g, grp), nv = ng * g->planes;
            const uint8_t *wv = kp->lut + (size_t)qlow__lut_vector(g, ubase, nu, grp, ng, 0, 0) * 64;
            __m512i isum[QLOW__LUT_VTILES];
            /* a constant count and order per instance keeps the accumulators in registers */
            switch (nv + 4 * (kp->lut_by_row != 0)) {
            case 8: group_isums(wv, 4, 1, pf, nu, btab, isum); break;
            case 7: group_isums(wv, 3, 1, pf, nu, btab, isum); break;
            case 6: group_isums(wv, 2, 1, pf, nu, btab, isum); break;
            case 5: group_isums(wv, 1, 1, pf, nu, btab, isum); break;
            case 4: group_isums(wv, 4, 0, pf, nu, btab, isum); break;
            case 3: group_isums(wv, 3, 0, pf, nu, btab, isum); break;
            case 2: group_isums(wv, 2, 0, pf, nu, btab, isum); break;
            default: group_isums(wv, 1, 0, pf, nu, btab, isum); break;
            }
            for (int64_t v = 0; v < nv; v++) {
                const int64_t tile = (grp - pg) * g->gtiles + v % ng, plane = v / ng;
                float *f = F + (size_t)((plane * pt + tile) * QLOW__LANES + b % 16) * QLOW__LANES;
                const __m512 prev = b < 16 ? fzero : _mm512_load_ps(f);
                _mm512_store_ps(f, _mm512_add_ps(prev, _mm512_mul_ps(x, _mm512_cvtepi32_ps(isum[v]))));
            }
        }
        ubase += nu;
    }
}

/* qlow__lanes_sum's tree, (l, l + 8), (l, l + 4), (l, l + 2), (l, l + 1), for the 16 rows at f. */
INL __m512 fold_sum(const float *f)
{
    __m512 a[QLOW__LANES];
    _Pragma("GCC unroll 16") /* all of it, so that a[] lives in registers */
    for (int l = 0; l < QLOW__LANES; l++) a[l] = _mm512_load_ps(f + (size_t)l * QLOW__LANES);
    UNROLL
    for (int l = 0; l < 8; l++) a[l] = _mm512_add_ps(a[l], a[l + 8]);
    UNROLL
    for (int l = 0; l < 4; l++) a[l] = _mm512_add_ps(a[l], a[l + 4]);
    UNROLL
    for (int l = 0; l < 2; l++) a[l] = _mm512_add_ps(a[l], a[l + 2]);
    return _mm512_add_ps(a[0], a[1]);
}

static TGT void finish_avx512(const qlow__kpart *kp, const qlow__lut_geom *g, const qlow__xq *xq, int64_t pg,
                              int64_t ra, int64_t rb, const float *F, float *y, int add)
{
    const int64_t pt = (int64_t)QLOW__LUT_PANEL * g->gtiles;
    const __m512 X = _mm512_set1_ps(xq->xtot);
    for (int64_t r = ra; r < rb; r += QLOW__LUT_TILE) {
        const int64_t n = rb - r < QLOW__LUT_TILE ? rb - r : QLOW__LUT_TILE, tile = r / QLOW__LUT_TILE - pg * g->gtiles;
        const __mmask16 m = (__mmask16)((1u << n) - 1u);
        const __m512 T1 = fold_sum(F + (size_t)tile * QLOW__LANES * QLOW__LANES);
        const __m512 T2 = g->planes == 2 ? fold_sum(F + (size_t)(pt + tile) * QLOW__LANES * QLOW__LANES) : T1;
        qlow__b_finish16(kp, r, m, T1, T2, X, y, add);
    }
}

int64_t qlow__lut_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
{
    return qlow__lut_walk(kp, xq, r0, r1, y, add, panel_fold, finish_avx512);
}

#endif
