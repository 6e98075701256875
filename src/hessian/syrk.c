/* syrk.c - the blocked symmetric rank-k update S += X^T X behind qlow_hessian_add.
 * A chunk of tokens is packed twice: in 12-wide row tiles (broadcast operand) and 32-wide column strips
 * (vector operand), zero padded. Every 12 x 32 tile of the lower triangle accumulates the whole chunk in
 * fp32 registers and is then added into the double matrix, so the double traffic is one read-modify-
 * write per chunk and the rounding of the fp32 partial sums is bounded by the chunk length.
 * Threads take whole column strips; every element of S has one owner and a fixed summation order. */
#include "hessian.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(QLOW_FORCE_GENERIC) &&          \
    !defined(QLOW_FREESTANDING)
#define SYRK_X86 1
#include <immintrin.h>
/* GCC 12 flags the deliberately undefined pass-through operand inside its own intrinsics. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define AVX512_FN __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#endif

#define MR QLOW__SYRK_MR
#define NR QLOW__SYRK_NR
#define CHUNK QLOW__SYRK_CHUNK

/* Row p of the chunk as fp32: direct for contiguous f32 rows, else converted into `tmp`. */
static const float *chunk_row(const qlow_view *X, int64_t r, int64_t c0, int64_t w, float *tmp)
{
    const unsigned char *base = (const unsigned char *)X->data + r * X->stride_bytes[0] + c0 * X->stride_bytes[1];
    if (X->dtype == QLOW_DTYPE_F32 && X->stride_bytes[1] == 4) return (const float *)(const void *)base;
    for (int64_t c = 0; c < w; c++) tmp[c] = qlow__view_elem_f32(X, r, c0 + c);
    return tmp;
}

void qlow__syrk_pack(int threads, qlow_hessian *h, const qlow_view *X, int64_t t0, int64_t t)
{
    int64_t d = h->cols;
    int64_t strips = (d + NR - 1) / NR, tiles = (d + MR - 1) / MR;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
        float tmp[NR];
        double sum[NR];
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t s = 0; s < strips; s++) {
            float *dst = h->pack_b + s * CHUNK * NR;
            int64_t c0 = s * NR, w = d - c0 < NR ? d - c0 : NR;
            for (int64_t c = 0; c < NR; c++) sum[c] = 0.0;
            for (int64_t p = 0; p < t; p++) {
                const float *x = chunk_row(X, t0 + p, c0, w, tmp);
                float *o = dst + p * NR;
                int64_t c = 0;
                for (; c < w; c++) {
                    o[c] = x[c];
                    sum[c] += x[c];
                }
                for (; c < NR; c++) o[c] = 0.0f;
            }
            for (int64_t c = 0; c < w; c++) h->colsum[c0 + c] += sum[c];
        }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t s = 0; s < tiles; s++) {
            float *dst = h->pack_a + s * CHUNK * MR;
            int64_t r0 = s * MR, w = d - r0 < MR ? d - r0 : MR;
            for (int64_t p = 0; p < t; p++) {
                const float *x = chunk_row(X, t0 + p, r0, w, tmp);
                int64_t c = 0;
                for (; c < w; c++) dst[p * MR + c] = x[c];
                for (; c < MR; c++) dst[p * MR + c] = 0.0f;
            }
        }
    }
}

static void tile_generic(int64_t t, const float *pa, const float *pb, double *S, int64_t lds, int64_t rows,
                         int64_t cols)
{
    float acc[MR][NR];
    memset(acc, 0, sizeof(acc));
    for (int64_t p = 0; p < t; p++) {
        const float *a = pa + p * MR, *b = pb + p * NR;
        for (int r = 0; r < MR; r++) {
            float ar = a[r];
            for (int c = 0; c < NR; c++) acc[r][c] += ar * b[c];
        }
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) S[r * lds + c] += (double)acc[r][c];
}

#ifdef SYRK_X86
static __mmask8 mask8(int64_t count)
{
    if (count <= 0) return 0;
    if (count >= 8) return 0xff;
    return (__mmask8)((1u << count) - 1u);
}

AVX512_FN static void flush_vec(double *s, __m512 v, __mmask8 mlo, __mmask8 mhi)
{
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    _mm512_mask_storeu_pd(s, mlo, _mm512_add_pd(_mm512_maskz_loadu_pd(mlo, s), lo));
    _mm512_mask_storeu_pd(s + 8, mhi, _mm512_add_pd(_mm512_maskz_loadu_pd(mhi, s + 8), hi));
}

AVX512_FN static void tile_avx512(int64_t t, const float *pa, const float *pb, double *S, int64_t lds,
                                  int64_t rows, int64_t cols)
{
    __m512 c[MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < t; p++) {
        const float *a = pa + p * MR;
        __m512 b0 = _mm512_loadu_ps(pb + p * NR), b1 = _mm512_loadu_ps(pb + p * NR + 16);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512 ar = _mm512_set1_ps(a[r]);
            c[r][0] = _mm512_fmadd_ps(ar, b0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(ar, b1, c[r][1]);
        }
    }
    __mmask8 m0 = mask8(cols), m1 = mask8(cols - 8), m2 = mask8(cols - 16), m3 = mask8(cols - 24);
    for (int64_t r = 0; r < rows; r++) {
        flush_vec(S + r * lds, c[r][0], m0, m1);
        flush_vec(S + r * lds + 16, c[r][1], m2, m3);
    }
}

/* AVX2 (16 registers): the 12 x 32 tile as four 6 x 16 passes over the chunk, operands from L1. */
__attribute__((target("avx2,fma"))) static void tile_avx2(int64_t t, const float *pa, const float *pb, double *S,
                                                          int64_t lds, int64_t rows, int64_t cols)
{
    for (int r0 = 0; r0 < MR; r0 += 6)
        for (int c0 = 0; c0 < NR; c0 += 16) {
            __m256 c[6][2];
#pragma GCC unroll 6
            for (int r = 0; r < 6; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
            for (int64_t p = 0; p < t; p++) {
                const float *a = pa + p * MR + r0;
                __m256 b0 = _mm256_loadu_ps(pb + p * NR + c0), b1 = _mm256_loadu_ps(pb + p * NR + c0 + 8);
#pragma GCC unroll 6
                for (int r = 0; r < 6; r++) {
                    __m256 ar = _mm256_set1_ps(a[r]);
                    c[r][0] = _mm256_fmadd_ps(ar, b0, c[r][0]);
                    c[r][1] = _mm256_fmadd_ps(ar, b1, c[r][1]);
                }
            }
            for (int r = 0; r < 6 && r0 + r < rows; r++) {
                float lanes[16];
                _mm256_storeu_ps(lanes, c[r][0]);
                _mm256_storeu_ps(lanes + 8, c[r][1]);
                double *srow = S + (r0 + r) * lds + c0;
                for (int q = 0; q < 16 && c0 + q < cols; q++) srow[q] += (double)lanes[q];
            }
        }
}
#endif

/* Column strips are taken SUPER at a time: each row tile of the broadcast operand is loaded once for
 * all of them (their vector operands stay in L2), which divides the traffic of the packed row tiles by
 * SUPER. A work item is one strip group over at most ROW_SPAN row tiles, small enough to balance the
 * triangle over threads that may be descheduled. Every tile of S has one owner, so the sums do not
 * depend on the thread count. */
#define SUPER 4
#define ROW_SPAN 48

static int64_t first_tile(int64_t g) { return (g * SUPER * NR) / MR; }

void qlow__syrk_chunk(int isa, int threads, qlow_hessian *h, int64_t t)
{
    int64_t d = h->cols;
    int64_t strips = (d + NR - 1) / NR, tiles = (d + MR - 1) / MR, groups = (strips + SUPER - 1) / SUPER;
    int64_t items = 0;
    for (int64_t g = 0; g < groups; g++) items += (tiles - first_tile(g) + ROW_SPAN - 1) / ROW_SPAN;
#ifdef SYRK_X86
    int fast = qlow__isa_has_avx512(isa), avx2 = qlow__isa_has_avx2(isa) && !fast;
#else
    (void)isa;
#endif
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && items > 1)
#endif
    for (int64_t it = 0; it < items; it++) {
        int64_t g = 0, rest = it, span;
        while (rest >= (span = (tiles - first_tile(g) + ROW_SPAN - 1) / ROW_SPAN)) rest -= span, g++;
        int64_t s0 = g * SUPER, s1 = s0 + SUPER < strips ? s0 + SUPER : strips;
        int64_t jt0 = first_tile(g) + rest * ROW_SPAN, jt1 = jt0 + ROW_SPAN < tiles ? jt0 + ROW_SPAN : tiles;
        for (int64_t jt = jt0; jt < jt1; jt++) {
            int64_t j0 = jt * MR, rows = d - j0 < MR ? d - j0 : MR;
            const float *pa = h->pack_a + jt * CHUNK * MR;
            for (int64_t s = s0; s < s1; s++) {
                int64_t i0 = s * NR, cols = d - i0 < NR ? d - i0 : NR;
                if (j0 + MR <= i0) continue; /* tile entirely above the diagonal */
                const float *pb = h->pack_b + s * CHUNK * NR;
                double *S = h->S + j0 * d + i0;
#ifdef SYRK_X86
                if (fast) {
                    tile_avx512(t, pa, pb, S, d, rows, cols);
                    continue;
                }
                if (avx2) {
                    tile_avx2(t, pa, pb, S, d, rows, cols);
                    continue;
                }
#endif
                tile_generic(t, pa, pb, S, d, rows, cols);
            }
        }
    }
}
