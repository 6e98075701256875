/* x86_avx2_lut.c - batch-1 binary planes (B1, B2, the binary part of M161) by table lookup over the
 * row-tiled sign copy (lut.h), AVX2 only.
 *
 * The AVX2 masked kernels expand every sign to a byte before a vpmaddubsw, about six vector
 * operations per 32 signs. A lookup turns 4 signs into one byte of a vpshufb instead. vpshufb looks
 * up 16 entries per 128-bit lane, so all bytes of a lane must share one table, that is one column
 * group q: the copy stores each 64-byte vector that way (lut.h), as P = [q0 | q2] and Q = [q1 | q3],
 * byte i of each lane = row i. Eight lookups (low / high nibble x P / Q x xl / xh tables) give per
 * row and lane the two byte sums of the unit; even and odd rows are split into 16-bit lanes by a
 * mask and a shift (no shuffle) and summed until the block ends, when the two 128-bit lanes are
 * added and the rows put back in order.
 *
 * Exactness: as in x86_avx512_lut.c, entries over xl = x & 15 are 0..60 and entries over xh =
 * floor(x / 16) are -32..28; four of each add up to at most 240 (uint8) and to -128..112 (int8,
 * stored +128 so that both widen unsigned), at most 8 units of 240 fit 16 bits, and 16 * sum(xh) +
 * sum(xl) is the exact block sum. The fp32 fold and its order are kernels.h's, so results equal the
 * generic kernel bit for bit. Tables of one token: per unit 256 bytes, eight 32-byte registers
 * [kind][P, Q], kind 0, 1 the low and high nibbles over xl, 2, 3 over xh; lane 0 of P holds group 0,
 * lane 1 group 2, lane 0 of Q group 1, lane 1 group 3, entry n the sum over the set bits of n. */
#include "kernels/lut.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* No "fma": the fp32 folding must stay separate multiplies and adds. */
#define TGT __attribute__((target("avx2,f16c")))
#define INL static inline __attribute__((always_inline)) TGT
#define UNROLL _Pragma("GCC unroll 8")

/* ---- activation tables ------------------------------------------------------------------------ */

/* The table over source s (32 values of a unit, xl or xh) of nibble h for column groups pq (0: P, 1: Q):
 * byte n of each lane is the sum of the lane's s[8 q + 4 h + k] over the set bits k of n, which sit at
 * lane offset 8 pq + 4 h + k in both lanes. */
INL __m256i unit_table(__m256i s, int h, int pq)
{
    const __m256i bit_of_n[4] = {
        _mm256_setr_epi8(0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1,
                         0, -1, 0, -1),
        _mm256_setr_epi8(0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1,
                         -1, 0, 0, -1, -1),
        _mm256_setr_epi8(0, 0, 0, 0, -1, -1, -1, -1, 0, 0, 0, 0, -1, -1, -1, -1, 0, 0, 0, 0, -1, -1, -1, -1, 0, 0, 0, 0,
                         -1, -1, -1, -1),
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1,
                         -1, -1, -1, -1)};
    __m256i t = _mm256_setzero_si256();
    UNROLL
    for (int k = 0; k < 4; k++) {
        __m256i v = _mm256_shuffle_epi8(s, _mm256_set1_epi8((char)(8 * pq + 4 * h + k)));
        t = _mm256_add_epi8(t, _mm256_and_si256(v, bit_of_n[k]));
    }
    return t;
}

void qlow__lut_tables_avx2(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab) TGT;
void qlow__lut_tables_avx2(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab)
{
    qlow__lut_geom g;
    if (qlow__lut_geometry(kp, &g) != QLOW_OK) return;
    const __m256i lo4 = _mm256_set1_epi8(0x0F), bias = _mm256_set1_epi8((char)0x80), eight = _mm256_set1_epi8(8);
    for (int64_t b = 0; b < kp->nblk_pad; b++) {
        const int64_t nu = qlow__lut_block_units(&g, b);
        for (int64_t u = 0; u < nu; u++, tab += 256) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(x8 + b * 256 + u * 32));
            const __m256i xl = _mm256_and_si256(x, lo4);
            /* floor(x / 16) = ((x + 128) >> 4) - 8, with the shift done bytewise */
            const __m256i xh =
                _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(_mm256_xor_si256(x, bias), 4), lo4), eight);
            UNROLL
            for (int kind = 0; kind < 4; kind++)
                UNROLL
                for (int pq = 0; pq < 2; pq++)
                    _mm256_store_si256((__m256i *)(void *)(tab + (kind * 2 + pq) * 32),
                                       unit_table(kind < 2 ? xl : xh, kind & 1, pq));
        }
    }
}

/* ---- rows --------------------------------------------------------------------------------------- */

/* 16-bit sums of one virtual tile over a block: LE / LO the even / odd rows (16-bit lane k = row 2k or
 * 2k + 1 of its 128-bit lane) over xl, HE / HO over xh (+128 per unit and lane). */
typedef struct tile_acc {
    __m256i LE, LO, HE, HO;
} tile_acc;

/* One unit of one virtual tile: the copy's vector at p against the unit's tables t. */
INL void unit_step(const uint8_t *p, const uint8_t *t, tile_acc *a)
{
    const __m256i lo4 = _mm256_set1_epi8(0x0F), even = _mm256_set1_epi16(0x00FF);
    const __m256i P = _mm256_load_si256((const __m256i *)(const void *)p);
    const __m256i Q = _mm256_load_si256((const __m256i *)(const void *)(p + 32));
    const __m256i pl = _mm256_and_si256(P, lo4), ph = _mm256_and_si256(_mm256_srli_epi16(P, 4), lo4);
    const __m256i ql = _mm256_and_si256(Q, lo4), qh = _mm256_and_si256(_mm256_srli_epi16(Q, 4), lo4);
#define T(kind, pq) _mm256_load_si256((const __m256i *)(const void *)(t + ((kind) * 2 + (pq)) * 32))
    const __m256i bl = _mm256_add_epi8(
        _mm256_add_epi8(_mm256_shuffle_epi8(T(0, 0), pl), _mm256_shuffle_epi8(T(1, 0), ph)),
        _mm256_add_epi8(_mm256_shuffle_epi8(T(0, 1), ql), _mm256_shuffle_epi8(T(1, 1), qh)));
    __m256i bh = _mm256_add_epi8(_mm256_add_epi8(_mm256_shuffle_epi8(T(2, 0), pl), _mm256_shuffle_epi8(T(3, 0), ph)),
                                 _mm256_add_epi8(_mm256_shuffle_epi8(T(2, 1), ql), _mm256_shuffle_epi8(T(3, 1), qh)));
#undef T
    bh = _mm256_xor_si256(bh, _mm256_set1_epi8((char)0x80));
    a->LE = _mm256_add_epi16(a->LE, _mm256_and_si256(bl, even));
    a->LO = _mm256_add_epi16(a->LO, _mm256_srli_epi16(bl, 8));
    a->HE = _mm256_add_epi16(a->HE, _mm256_and_si256(bh, even));
    a->HO = _mm256_add_epi16(a->HO, _mm256_srli_epi16(bh, 8));
}

/* Both 128-bit lanes of the even and odd row sums E, O added, back in row order: rows 0-7 (half 0) or
 * 8-15 as int32. */
INL __m256i rows_in_order(__m256i E, __m256i O, int half)
{
    const __m128i e = _mm_add_epi16(_mm256_castsi256_si128(E), _mm256_extracti128_si256(E, 1));
    const __m128i o = _mm_add_epi16(_mm256_castsi256_si128(O), _mm256_extracti128_si256(O, 1));
    return _mm256_cvtepu16_epi32(half ? _mm_unpackhi_epi16(e, o) : _mm_unpacklo_epi16(e, o));
}

/* Exact block sums of rows 0-7 (half 0) or 8-15 of a tile: sum(xl) + 16 ((sum(xh) + 256 nu) - 256 nu). */
INL __m256i tile_isum(const tile_acc *a, int half, int64_t nu)
{
    const __m256i l = rows_in_order(a->LE, a->LO, half), h = rows_in_order(a->HE, a->HO, half);
    return _mm256_add_epi32(l, _mm256_slli_epi32(_mm256_sub_epi32(h, _mm256_set1_epi32((int)(256 * nu))), 4));
}

/* The fold step of qlow__lut_walk (lut.h), one virtual tile at a time. */
static TGT void panel_fold(const qlow__kpart *kp, const qlow__lut_geom *g, const qlow__xq *xq, int64_t pg, int64_t ga,
                           int64_t gb, float *restrict F)
{
    const int64_t pt = (int64_t)QLOW__LUT_PANEL * g->gtiles;
    int64_t ubase = 0;
    for (int64_t b = 0; b < kp->nblk_pad; b++) {
        const int64_t nu = qlow__lut_block_units(g, b);
        const uint8_t *btab = xq->ltab + (size_t)ubase * 256;
        const __m256 x = _mm256_set1_ps(xq->xs[b]);
        for (int64_t grp = ga; grp < gb; grp++) {
            const int64_t ng = qlow__lut_group_tiles(g, grp), nv = ng * g->planes;
            const uint8_t *wv = kp->lut + (size_t)qlow__lut_vector(g, ubase, nu, grp, ng, 0, 0) * 64;
            for (int64_t v = 0; v < nv; v++) {
                tile_acc a = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                              _mm256_setzero_si256()};
                for (int64_t u = 0; u < nu; u++) {
                    const uint8_t *p = wv + (size_t)(u * nv + v) * 64;
                    qlow__prefetch(p, QLOW__PF_DIST, 64);
                    unit_step(p, btab + (size_t)u * 256, &a);
                }
                const int64_t tile = (grp - pg) * g->gtiles + v % ng, plane = v / ng;
                float *f = F + (size_t)((plane * pt + tile) * QLOW__LANES + b % 16) * QLOW__LANES;
                const __m256 p0 = _mm256_cvtepi32_ps(tile_isum(&a, 0, nu));
                const __m256 p1 = _mm256_cvtepi32_ps(tile_isum(&a, 1, nu));
                /* lane b mod 16 starts from zero in the first chunk, as every kernel folds */
                const __m256 f0 = b < 16 ? _mm256_setzero_ps() : _mm256_load_ps(f);
                const __m256 f1 = b < 16 ? _mm256_setzero_ps() : _mm256_load_ps(f + 8);
                _mm256_store_ps(f, _mm256_add_ps(f0, _mm256_mul_ps(x, p0)));
                _mm256_store_ps(f + 8, _mm256_add_ps(f1, _mm256_mul_ps(x, p1)));
            }
        }
        ubase += nu;
    }
}

/* qlow__lanes_sum's tree for the 16 rows of a tile's fold f (half 0: rows 0-7, 1: rows 8-15). */
INL __m256 fold_sum(const float *f, int half)
{
    __m256 a[QLOW__LANES];
    for (int l = 0; l < QLOW__LANES; l++) a[l] = _mm256_load_ps(f + (size_t)l * QLOW__LANES + 8 * half);
    for (int l = 0; l < 8; l++) a[l] = _mm256_add_ps(a[l], a[l + 8]);
    for (int l = 0; l < 4; l++) a[l] = _mm256_add_ps(a[l], a[l + 4]);
    for (int l = 0; l < 2; l++) a[l] = _mm256_add_ps(a[l], a[l + 2]);
    return _mm256_add_ps(a[0], a[1]);
}

static inline TGT float h2f(uint16_t h) { return _cvtsh_ss(h); }

static TGT void finish_avx2(const qlow__kpart *kp, const qlow__lut_geom *g, const qlow__xq *xq, int64_t pg,
                            int64_t ra, int64_t rb, const float *F, float *y, int add)
{
    const int64_t pt = (int64_t)QLOW__LUT_PANEL * g->gtiles;
    const int two = g->planes == 2;
    float T1[QLOW__LUT_TILE], T2[QLOW__LUT_TILE];
    for (int64_t r = ra; r < rb; r += QLOW__LUT_TILE) {
        const int64_t n = rb - r < QLOW__LUT_TILE ? rb - r : QLOW__LUT_TILE, tile = r / QLOW__LUT_TILE - pg * g->gtiles;
        for (int h = 0; h < 2; h++) {
            _mm256_storeu_ps(T1 + 8 * h, fold_sum(F + (size_t)tile * QLOW__LANES * QLOW__LANES, h));
            if (two) _mm256_storeu_ps(T2 + 8 * h, fold_sum(F + (size_t)(pt + tile) * QLOW__LANES * QLOW__LANES, h));
        }
        for (int64_t i = 0; i < n; i++) {
            const float v = qlow__bt_finish(kp, r + i, T1[i], two ? T2[i] : 0.0f, xq->xtot, h2f);
            y[r + i] = add ? y[r + i] + v : v;
        }
    }
}

int64_t qlow__lut_rows_avx2(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
{
    if (kp->lut_by_row) return r0; /* vpshufb cannot look up that byte order (lut.h) */
    return qlow__lut_walk(kp, xq, r0, r1, y, add, panel_fold, finish_avx2);
}

#endif
