/* x86_avx512_b_act.c - the activations of a batch-1 B1/B2 part on AVX-512 (qlow__b_act_avx512, act.h),
 * read by the narrow kernels (x86_avx512_narrow.c) and the lookup kernel (x86_avx512_lut.c).
 *
 * In natural order, kernel position p of a B part is column p, and interleaved block 16 c + d holds
 * the columns 4096 c + 64 s + 4 d + i (i < 4). So per 4096-column chunk the block maxima and sums are
 * 4-lane groups of 16-column vectors, and the kernel-order activations are the quantized columns in
 * place. The portable preparation (act.c) gathers into block-major order with scalar loops and
 * reorders again: on Zen 4 that was about a third of a 64 x 4096 B1 call (perf). */
#include "kernels/act.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) /* GCC 12 flags _mm512_undefined_ps inside intrinsics */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

/* Lane 4i of a[k] (i < 4), for k < 4: the 16 block values of four 16-column vectors. */
INL __m512 blocks_ps(const __m512 *a)
{
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    __m512 lo = _mm512_permutex2var_ps(a[0], idx, a[1]), hi = _mm512_permutex2var_ps(a[2], idx, a[3]);
    return _mm512_shuffle_f32x4(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
}

/* qlow__act_gather's values (one product per column, so the same floats), 16 columns a step; a
 * gather that is a compress of a column mask (qlow__act_src) is done as one. */
INL void gather_avx512(const float *x, const qlow__act_src *src, int64_t n, float *g, int64_t room)
{
    const float *cs = src->colscale_f32;
    if (src->sel_mask) {
        const int64_t N = src->sel_cols;
        int64_t o = 0;
        for (int64_t j = 0; j < N && o < n; j += 16) {
            const __mmask16 in = _cvtu32_mask16(N - j >= 16 ? 0xffffu : (1u << (N - j)) - 1u);
            const unsigned bits = src->sel_mask[j / 8] | (N - j > 8 ? (unsigned)src->sel_mask[j / 8 + 1] << 8 : 0u);
            const __mmask16 m = _kand_mask16(in, _cvtu32_mask16(src->sel_bit ? bits : ~bits));
            const int cnt = __builtin_popcount(_cvtmask16_u32(m));
            const __m512 c = _mm512_maskz_compress_ps(m, _mm512_maskz_loadu_ps(in, x + j));
            if (o + 16 <= room) /* a whole store (masked ones are slow on Zen 4): the next overwrites the rest */
                _mm512_storeu_ps(g + o, c);
            else
                _mm512_mask_storeu_ps(g + o, _cvtu32_mask16((1u << cnt) - 1u), c);
            o += cnt;
        }
        if (cs)
            for (int64_t j = 0; j < n; j += 16) {
                const __mmask16 m = _cvtu32_mask16(n - j >= 16 ? 0xffffu : (1u << (n - j)) - 1u);
                const __m512 v = _mm512_maskz_loadu_ps(m, g + j);
                _mm512_mask_storeu_ps(g + j, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, cs + j)));
            }
        return;
    }
    const int32_t *perm = src->perm;
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = _cvtu32_mask16(n - j >= 16 ? 0xffffu : (1u << (n - j)) - 1u);
        __m512 v = perm ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_maskz_loadu_epi32(m, perm + j), x, 4)
                        : _mm512_maskz_loadu_ps(m, x + j);
        if (cs) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, cs + j));
        _mm512_mask_storeu_ps(g + j, m, v);
    }
}

/* Block maxima |v| of one 4096-column chunk (cn columns), lane = block; -1 in every lane if a value is
 * NaN or infinite. */
INL __m512 chunk_absmax(const float *v, int64_t cn)
{
#define COL_MASK(j) _cvtu32_mask16(cn - (j) >= 16 ? 0xffffu : (1u << (cn - (j))) - 1u)
    const __m512 lim = _mm512_set1_ps(3.402823466e38f);
    __m512 mx[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __mmask16 bad = 0;
    for (int64_t g = 0; g < (cn + 63) / 64; g++)
        for (int k = 0; k < 4; k++) {
            const int64_t j = g * 64 + k * 16;
            if (j >= cn) break;
            __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(COL_MASK(j), v + j));
            bad |= _mm512_cmp_ps_mask(a, lim, _CMP_NLE_UQ);
            mx[k] = _mm512_max_ps(mx[k], a);
        }
    if (bad) return _mm512_set1_ps(-1.0f);
    for (int k = 0; k < 4; k++) { /* maximum of each 4-lane group, in every lane of the group */
        mx[k] = _mm512_max_ps(mx[k], _mm512_permute_ps(mx[k], 0xB1));
        mx[k] = _mm512_max_ps(mx[k], _mm512_permute_ps(mx[k], 0x4E));
    }
    return blocks_ps(mx);
}

/* One chunk quantized with per-block inverse scales inv (lane = block) into x8p, and into the chunk's
 * block-major x8 too when x8 is not NULL; returns the exact integer sum of each block, lane = block. */
INL __m512i chunk_quantize(const float *v, int64_t cn, __m512 inv, int8_t *x8p, int8_t *x8)
{
    const __m512 half = _mm512_set1_ps(0.5f);
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i hi = _mm512_set1_epi32(127), lo = _mm512_set1_epi32(-127);
    __m512i sums[4];
    __m512 invk[4];
    for (int k = 0; k < 4; k++) {
        const __m512i idx = _mm512_setr_epi32(4 * k, 4 * k, 4 * k, 4 * k, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                                              4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 3, 4 * k + 3,
                                              4 * k + 3, 4 * k + 3);
        invk[k] = _mm512_permutexvar_ps(idx, inv);
        sums[k] = _mm512_setzero_si512();
    }
    for (int64_t g = 0; g < (cn + 63) / 64; g++)
        for (int k = 0; k < 4; k++) {
            const int64_t j = g * 64 + k * 16;
            if (j >= cn) break;
            const __mmask16 m = COL_MASK(j);
            __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, v + j), invk[k]);
            __m512 h = _mm512_castsi512_ps(
                _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(t), sign), _mm512_castps_si512(half)));
            __m512i r = _mm512_cvttps_epi32(_mm512_add_ps(t, h));
            r = _mm512_maskz_mov_epi32(m, _mm512_max_epi32(_mm512_min_epi32(r, hi), lo));
            sums[k] = _mm512_add_epi32(sums[k], r);
            const __m128i q = _mm512_cvtepi32_epi8(r);
            _mm_storeu_si128((__m128i *)(x8p + j), q);
            if (x8) { /* the 4-column run of block 4k + e at slot 4g */
                _mm_storeu_si32(x8 + (4 * k + 0) * 256 + 4 * g, q);
                _mm_storeu_si32(x8 + (4 * k + 1) * 256 + 4 * g, _mm_bsrli_si128(q, 4));
                _mm_storeu_si32(x8 + (4 * k + 2) * 256 + 4 * g, _mm_bsrli_si128(q, 8));
                _mm_storeu_si32(x8 + (4 * k + 3) * 256 + 4 * g, _mm_bsrli_si128(q, 12));
            }
        }
#undef COL_MASK
    __m512 fs[4];
    for (int k = 0; k < 4; k++) { /* integer sums of each 4-lane group (exact) */
        sums[k] = _mm512_add_epi32(sums[k], _mm512_castps_si512(_mm512_permute_ps(_mm512_castsi512_ps(sums[k]), 0xB1)));
        sums[k] = _mm512_add_epi32(sums[k], _mm512_castps_si512(_mm512_permute_ps(_mm512_castsi512_ps(sums[k]), 0x4E)));
        fs[k] = _mm512_castsi512_ps(sums[k]);
    }
    return _mm512_castps_si512(blocks_ps(fs));
}

qlow_status qlow__b_act_avx512(const qlow__kpart *kp, const qlow__act_src *src, const float *x, int per_token,
                               float *gather, int8_t *x8p, int8_t *x8, float *xs, float *xsum, qlow__xq *xq) TGT;
qlow_status qlow__b_act_avx512(const qlow__kpart *kp, const qlow__act_src *src, const float *x, int per_token,
                               float *gather, int8_t *x8p, int8_t *x8, float *xs, float *xsum, qlow__xq *xq)
{
    const int64_t n = kp->cols, nchunk = kp->nblk_pad / QLOW__LANES, CH = QLOW__LANES * 256;
    const float *v = x;
    if (src->perm || src->colscale_f32) {
        gather_avx512(x, src, n, gather, nchunk * CH);
        v = gather;
    }
    /* Pass 1: the block maxima into xs (a per-token scale needs all of them before any chunk). */
    float tok = 0.0f;
    for (int64_t c = 0; c < nchunk; c++) {
        const int64_t cn = n - c * CH < CH ? n - c * CH : CH;
        const __m512 amax = chunk_absmax(v + c * CH, cn);
        if (_mm512_reduce_min_ps(amax) < 0.0f) return QLOW_E_NONFINITE;
        const float m = _mm512_reduce_max_ps(amax);
        tok = m > tok ? m : tok;
        _mm512_storeu_ps(xs + c * QLOW__LANES, amax);
    }
    const __m512 c127 = _mm512_set1_ps(127.0f);
    const __m512 iota4 = _mm512_setr_ps(0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60);
    for (int64_t c = 0; c < nchunk; c++) {
        const int64_t cn = n - c * CH < CH ? n - c * CH : CH;
        /* block d of the chunk starts at column 4 d: with a per-token scale, blocks without columns
         * keep xs = 0 as in the portable preparation */
        const __mmask16 live = _mm512_cmp_ps_mask(iota4, _mm512_set1_ps((float)(cn < 64 ? cn : 64)), _CMP_LT_OQ);
        const __m512 amax =
            per_token ? _mm512_maskz_mov_ps(live, _mm512_set1_ps(tok)) : _mm512_loadu_ps(xs + c * QLOW__LANES);
        const __mmask16 pos = _mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ);
        const __m512 scale = _mm512_maskz_div_ps(pos, amax, c127), inv = _mm512_maskz_div_ps(pos, c127, amax);
        int8_t *x8c = x8 ? x8 + c * CH : NULL;
        if (x8c && cn < CH) memset(x8c, 0, (size_t)CH); /* slots past the columns stay zero */
        const __m512 isum = _mm512_cvtepi32_ps(chunk_quantize(v + c * CH, cn, inv, x8p + c * CH, x8c));
        _mm512_storeu_ps(xs + c * QLOW__LANES, scale);
        _mm512_storeu_ps(xsum + c * QLOW__LANES, _mm512_mul_ps(scale, isum));
    }
    /* The kernels read whole chunks, and a wrapped matrix may hold sign bits in its padding columns:
     * their activations must be zero, as in the portable preparation (with one scale per token,
     * garbage there would be counted). */
    const int64_t done = (n + 15) / 16 * 16;
    memset(x8p + done, 0, (size_t)(nchunk * CH - done));
    float tot = 0.0f;
    for (int64_t b = 0; b < kp->nblk_pad; b++) tot = tot + xsum[b];
    xq->x8 = x8 ? x8 : x8p; /* only the batch-1 B kernels read this preparation */
    xq->x8p = x8p;
    xq->xs = xs;
    xq->xsum = xsum;
    xq->xtot = tot;
    xq->xgsum = NULL;
    return QLOW_OK;
}

#endif
