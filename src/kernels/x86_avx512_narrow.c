/* x86_avx512_narrow.c - batch-1 AVX-512 VNNI rows of narrow Q8/Q4/Q3/Q2 parts (one 16-block chunk, at
 * most 512 columns, like every linear of a small model), and of B1/B2 parts of one chunk. The chunk
 * kernels of x86_avx512.c pay a fixed cost per row (a whole chunk of transposes and one lane
 * reduction) that dominates when a row has only a few blocks. Here sixteen rows go through together:
 * the integer block sums of 16 rows are reduced into one vector (lane = row), and the fp32 folding of
 * kernels.h runs lane-wise, with each block's lane of the row kernels becoming one vector. Same
 * operations on the same values in the same order, so the results equal the generic kernel bit for
 * bit. */
#include "kernels/act.h"
#include "kernels/x86_avx512_finish.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,f16c")))
#define INL static inline __attribute__((always_inline)) TGT
#define NR 16 /* rows per pass: one fp32 lane each */


/* Row r + i of a pass, clamped to the last row: a short last pass recomputes that row in its unused
 * lanes (never stored) instead of reading past the matrix. */
INL int64_t row_at(int64_t r, int i, int64_t r1) { return r + i < r1 ? r + i : r1 - 1; }

/* Four 128-bit values as one vector, a[0] lowest. */
INL __m512i join4(const __m128i *a)
{
    __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(a[0]), a[1], 1);
    __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(a[2]), a[3], 1);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

int qlow__narrow_q_ok(const qlow__kpart *kp)
{
    return kp->format >= QLOW_FORMAT_Q8 && kp->format <= QLOW_FORMAT_Q2 && (kp->format != QLOW_FORMAT_Q3 || kp->codes_hi) &&
           kp->nblk_pad == QLOW__LANES && kp->nblk >= 1 && kp->grel && kp->g0 && kp->scale_t &&
           kp->rows < QLOW__NARROW_Q_MAX_ROWS &&
           (!kp->zero || kp->zero_t);
}

INL __m512i reduce_halves(const __m512i *s);

/* Q8: block b of rows r..r+15 (two rows per vector, 8 dwords each). */
INL __m512i isum_q8(const qlow__kpart *kp, int64_t r, int64_t r1, int64_t b, const int8_t *x8)
{
    const __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x8 + b * 32)));
    const __m512i zero = _mm512_setzero_si512();
    __m512i s[8];
    for (int i = 0; i < 8; i++) {
        const uint8_t *p0 = kp->codes + (size_t)row_at(r, 2 * i, r1) * kp->row_bytes + b * 32;
        const uint8_t *p1 = kp->codes + (size_t)row_at(r, 2 * i + 1, r1) * kp->row_bytes + b * 32;
        __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                                       _mm256_loadu_si256((const __m256i *)p1), 1);
        s[i] = _mm512_dpbusd_epi32(zero, v, x);
    }
    return reduce_halves(s);
}

/* s[i] holds 8 dwords of row 2i (low half) and 8 of row 2i + 1: their sums, lane = row. */
INL __m512i reduce_halves(const __m512i *s)
{
    /* 128-bit lane l of s[q] holds 4 dwords of row 2q + l / 2: sum each lane's dwords. */
    __m512i u[2];
    for (int h = 0; h < 2; h++) {
        __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[4 * h], s[4 * h + 1]),
                                      _mm512_unpackhi_epi32(s[4 * h], s[4 * h + 1]));
        __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[4 * h + 2], s[4 * h + 3]),
                                      _mm512_unpackhi_epi32(s[4 * h + 2], s[4 * h + 3]));
        u[h] = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
    }
    /* u[h] lane l dword q: lane l of s[4h + q]; rows 8h + 2q take lanes 0 + 1, rows 8h + 2q + 1 lanes 2 + 3 */
    __m512i ev = _mm512_shuffle_i32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0));
    __m512i od = _mm512_shuffle_i32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512i idx = _mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
    return _mm512_permutexvar_epi32(idx, _mm512_add_epi32(ev, od));
}

/* Q4: block b of rows r..r+15 (four rows per vector, 4 dwords each). */
INL __m512i isum_q4(const qlow__kpart *kp, int64_t r, int64_t r1, int64_t b, const int8_t *x8)
{
    const __m512i xlo = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(x8 + b * 32)));
    const __m512i xhi = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(x8 + b * 32 + 16)));
    const __m512i m4 = _mm512_set1_epi8(15), zero = _mm512_setzero_si512();
    __m512i s[4];
    for (int i = 0; i < 4; i++) {
#define Q4_ROW(j) ((const __m128i *)(kp->codes + (size_t)row_at(r, 4 * i + (j), r1) * kp->row_bytes + b * 16))
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(Q4_ROW(0)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128(Q4_ROW(1)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128(Q4_ROW(2)), 2);
        v = _mm512_inserti32x4(v, _mm_loadu_si128(Q4_ROW(3)), 3);
#undef Q4_ROW
        __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        s[i] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, lo, xlo), hi, xhi);
    }
    /* 128-bit lane l of s[q] holds the 4 dwords of row 4q + l. */
    __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[0], s[1]), _mm512_unpackhi_epi32(s[0], s[1]));
    __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[2], s[3]), _mm512_unpackhi_epi32(s[2], s[3]));
    __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(idx, u);
}

/* Q2 and Q3, blocks b and b + 1 < nblk (if any) together: four rows per vector, a row's two blocks of
 * 8 code bytes per 128-bit lane. Plane k of a block's bytes holds its columns 8k..8k+7; Q3 adds 4 where
 * bit 8k + j of the block's high word is set. out[0], out[1]: the two blocks' sums (lane = row). */
INL void isum_q2q3(const qlow__kpart *kp, int64_t r, int64_t r1, int64_t b, const int8_t *x8, int q3, int two,
                   __m512i *out)
{
    /* two: block b + 1 exists (a constant at each call); else the second half reads nothing */
    const __m512i m2 = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
    const __m512i bit = _mm512_set1_epi64(0x8040201008040201ll);
    const size_t hs = (size_t)kp->cols_pad / 8;
    __m512i xk[4];
    for (int k = 0; k < 4; k++) { /* x8 holds whole zero-padded chunks, so block b + 1 exists */
        long long w0, w1;
        memcpy(&w0, x8 + b * 32 + 8 * k, 8);
        memcpy(&w1, x8 + (b + 1) * 32 + 8 * k, 8);
        xk[k] = _mm512_broadcast_i32x4(_mm_set_epi64x(w1, w0));
    }
    __m512i t[4];
    for (int i = 0; i < 4; i++) {
        __m128i c[4], hc[4];
        for (int l = 0; l < 4; l++) {
            const int64_t row = row_at(r, 4 * i + l, r1);
            const uint8_t *p = kp->codes + (size_t)row * kp->row_bytes + b * 8;
            c[l] = two ? _mm_loadu_si128((const __m128i *)p) : _mm_maskz_loadu_epi8(0xff, p);
            if (!q3) { /* Q2 has no high plane (codes_hi is NULL: no pointer arithmetic on it) */
                hc[l] = _mm_setzero_si128();
                continue;
            }
            const uint8_t *hp = kp->codes_hi + (size_t)row * hs + b * 4;
            hc[l] = two ? _mm_loadl_epi64((const __m128i *)hp) : _mm_maskz_loadu_epi8(0xf, hp);
        }
        const __m512i v = join4(c), hv = join4(hc);
        __m512i a = _mm512_setzero_si512();
        for (int k = 0; k < 4; k++) {
            __m512i p = _mm512_and_si512(_mm512_srli_epi16(v, 2 * k), m2);
            if (q3) { /* bytes 0-7 <- byte k of block b's high word, bytes 8-15 <- byte k of block b + 1's */
                const long long lo = (long long)(0x0101010101010101ull * (unsigned)k);
                const long long hi = (long long)(0x0101010101010101ull * (unsigned)(4 + k));
                const __m512i idx = _mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo);
                __mmask64 hb = _mm512_test_epi8_mask(_mm512_shuffle_epi8(hv, idx), bit);
                p = _mm512_mask_add_epi8(p, hb, p, four);
            }
            a = _mm512_dpbusd_epi32(a, p, xk[k]);
        }
        /* lane l: dwords 0 + 1 are block b of row 4i + l, dwords 2 + 3 block b + 1 */
        t[i] = _mm512_add_epi32(a, _mm512_shuffle_epi32(a, _MM_PERM_CDAB));
    }
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 2, 6, 10, 14, 18, 22, 26, 30);
    __m512i u01 = _mm512_permutex2var_epi32(t[0], idx, t[1]), u23 = _mm512_permutex2var_epi32(t[2], idx, t[3]);
    out[0] = _mm512_shuffle_i32x4(u01, u23, _MM_SHUFFLE(1, 0, 1, 0));
    out[1] = _mm512_shuffle_i32x4(u01, u23, _MM_SHUFFLE(3, 2, 3, 2));
}

/* fp16 parameter g of rows r..r+15 as fp32, from the transposed table (rows past r1 are never stored). */
INL __m512 params16(const qlow__kpart *kp, const uint16_t *tab, int64_t r, int64_t g)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(tab + g * kp->rows_t + r)));
}

int64_t qlow__narrow_q_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
    TGT;
int64_t qlow__narrow_q_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
{
    const int8_t *x8 = xq->x8;
    const __m512 neg_off = _mm512_set1_ps(-kp->sym_offset), fzero = _mm512_setzero_ps();
    const int zblock = qlow__q_zero_per_block(kp);
    for (int64_t r = r0; r < r1; r += NR) {
        __m512 lane[QLOW__LANES];
        const int q23 = kp->format == QLOW_FORMAT_Q2 || kp->format == QLOW_FORMAT_Q3;
        __m512i pair[2];
        for (int64_t b = 0; b < QLOW__LANES; b++) {
            if (b >= kp->nblk) {
                lane[b] = fzero;
                continue;
            }
            if (q23 && b % 2 == 0) {
                const int q3 = kp->format == QLOW_FORMAT_Q3;
                if (b + 1 < kp->nblk) isum_q2q3(kp, r, r1, b, x8, q3, 1, pair);
                else isum_q2q3(kp, r, r1, b, x8, q3, 0, pair);
            }
            __m512i is = kp->format == QLOW_FORMAT_Q8   ? isum_q8(kp, r, r1, b, x8)
                         : kp->format == QLOW_FORMAT_Q4 ? isum_q4(kp, r, r1, b, x8)
                                                        : pair[b % 2];
            const int64_t g = kp->g0[0] + kp->grel[b];
            __m512 ws = params16(kp, kp->scale_t, r, g);
            __m512 d = _mm512_mul_ps(ws, _mm512_set1_ps(xq->xs[b]));
            lane[b] = _mm512_add_ps(fzero, _mm512_mul_ps(d, _mm512_cvtepi32_ps(is)));
            if (zblock) {
                __m512 z = kp->zero ? params16(kp, kp->zero_t, r, g) : _mm512_mul_ps(ws, neg_off);
                lane[b] = _mm512_add_ps(lane[b], _mm512_mul_ps(z, _mm512_set1_ps(xq->xsum[b])));
            }
        }
        for (int64_t g = 0; !zblock && g < kp->ngroups; g++) { /* kernels.h: ngroups <= nblk <= 16 */
            const __m512 ws = params16(kp, kp->scale_t, r, g);
            const __m512 z = kp->zero ? params16(kp, kp->zero_t, r, g) : _mm512_mul_ps(ws, neg_off);
            lane[g] = _mm512_add_ps(lane[g], _mm512_mul_ps(z, _mm512_set1_ps(xq->xgsum[g])));
        }
        /* qlow__lanes_sum's tree, for 16 rows at once */
        for (int i = 0; i < 8; i++) lane[i] = _mm512_add_ps(lane[i], lane[i + 8]);
        for (int i = 0; i < 4; i++) lane[i] = _mm512_add_ps(lane[i], lane[i + 4]);
        for (int i = 0; i < 2; i++) lane[i] = _mm512_add_ps(lane[i], lane[i + 2]);
        __m512 v = _mm512_add_ps(lane[0], lane[1]);
        const __mmask16 m = r1 - r >= NR ? (__mmask16)0xffff : (__mmask16)((1u << (r1 - r)) - 1u);
        if (add) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + r), v);
        _mm512_mask_storeu_ps(y + r, m, v);
    }
    return r1;
}

/* ---- B1 / B2 ------------------------------------------------------------------------------------ */

int qlow__narrow_b_ok(const qlow__kpart *kp)
{
    return (kp->format == QLOW_FORMAT_B1 || kp->format == QLOW_FORMAT_B2) && kp->interleave &&
           kp->ablock == 256 && kp->nblk_pad == QLOW__LANES && kp->row_bytes % 4 == 0;
}

/* Integer sums of the 16 interleaved blocks of one sign row (lane = block), as in the chunk kernels:
 * the sign bits of 64 kernel positions mask their activations, vpdpbusd adds them per block. */
/* The 64 sign bits at row + off; a row's last 4 bytes (rb is a multiple of 4) alone when 8 do not fit. */
INL __mmask64 sign_bits(const uint8_t *row, size_t off, size_t rb)
{
    uint64_t bits = 0;
    if (off + 8 <= rb) memcpy(&bits, row + off, 8);
    else {
        uint32_t w;
        memcpy(&w, row + off, 4);
        bits = w;
    }
    return _cvtu64_mask64(bits);
}

INL __m512i b_row_isums(const uint8_t *row, size_t rb, const int8_t *x8p)
{
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    size_t off = 0;
    /* four chains, so that long rows do not wait on one accumulator */
#define SIGNED_SUM(a, o, k) a = _mm512_dpbusd_epi32(a, ones, _mm512_maskz_loadu_epi8((k), x8p + (o) * 8))
    for (; off + 32 <= rb; off += 32) {
        uint64_t w[4];
        memcpy(w, row + off, 32);
        SIGNED_SUM(a0, off, _cvtu64_mask64(w[0]));
        SIGNED_SUM(a1, off + 8, _cvtu64_mask64(w[1]));
        SIGNED_SUM(a2, off + 16, _cvtu64_mask64(w[2]));
        SIGNED_SUM(a3, off + 24, _cvtu64_mask64(w[3]));
    }
    for (; off < rb; off += 8) SIGNED_SUM(a0, off, sign_bits(row, off, rb));
#undef SIGNED_SUM
    return _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
}

/* qlow__lanes_sum of sixteen row vectors at once (lane = block): each level of its fixed tree is one
 * add over two rows' halves, so the sums are the per-row ones exactly. Result: lane r = row r. */
INL __m512 lanes_sum16(__m512 *l)
{
    __m512 m1[8], m2[4], m3[2];
    for (int j = 0; j < 8; j++) /* a[i] + a[i + 8]: half h holds row 2j + h */
        m1[j] = _mm512_add_ps(_mm512_shuffle_f32x4(l[2 * j], l[2 * j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm512_shuffle_f32x4(l[2 * j], l[2 * j + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int k = 0; k < 4; k++) /* t[i] + t[i + 4]: 128-bit lane q holds row 4k + q */
        m2[k] = _mm512_add_ps(_mm512_shuffle_f32x4(m1[2 * k], m1[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                              _mm512_shuffle_f32x4(m1[2 * k], m1[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int m = 0; m < 2; m++) /* u[i] + u[i + 2]: lane q holds rows 8m + q and 8m + 4 + q */
        m3[m] = _mm512_add_ps(_mm512_shuffle_ps(m2[2 * m], m2[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm512_shuffle_ps(m2[2 * m], m2[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* v[0] + v[1]: element 4q + e is row 4e + q */
    __m512 out = _mm512_add_ps(_mm512_shuffle_ps(m3[0], m3[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_ps(m3[0], m3[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(idx, out);
}

/* T of 16 rows from one sign plane: lanes xs_b * isum_b folded by qlow__lanes_sum's tree. */
INL __m512 b_plane_sums(const uint8_t *codes, size_t rb, const int8_t *x8p, const float *xs, int64_t r, int64_t r1)
{
    const __m512 fzero = _mm512_setzero_ps(), xsv = _mm512_loadu_ps(xs);
    __m512 lane[NR];
    for (int i = 0; i < NR; i++) {
        __m512i is = b_row_isums(codes + (size_t)row_at(r, i, r1) * rb, rb, x8p);
        lane[i] = _mm512_add_ps(fzero, _mm512_mul_ps(xsv, _mm512_cvtepi32_ps(is)));
    }
    return lanes_sum16(lane);
}

int64_t qlow__narrow_b_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
    TGT;
int64_t qlow__narrow_b_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add)
{
    const size_t rb = kp->row_bytes;
    const __m512 X = _mm512_set1_ps(xq->xtot);
    for (int64_t r = r0; r < r1; r += NR) {
        const __mmask16 m = r1 - r >= NR ? (__mmask16)0xffff : (__mmask16)((1u << (r1 - r)) - 1u);
        const __m512 T1 = b_plane_sums(kp->codes, rb, xq->x8p, xq->xs, r, r1);
        const __m512 T2 = kp->format == QLOW_FORMAT_B2 ? b_plane_sums(kp->codes2, rb, xq->x8p, xq->xs, r, r1) : T1;
        qlow__b_finish16(kp, r, m, T1, T2, X, y, add);
    }
    return r1;
}

#endif
