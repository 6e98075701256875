/* dense.c - blocked GEMM updates and SPD factorizations for the Hessian, GPTQ and planner code.
 * The GEMM kernels keep an 8-row tile of C in registers while streaming a k x (3 vectors) slice of B
 * that stays in L1; tiles are spread over threads, each tile owned by one thread, so results never
 * depend on the thread count. */
#include "dense.h"

#include <math.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(QLOW_FORCE_GENERIC) &&          \
    !defined(QLOW_FREESTANDING)
#define DENSE_X86 1
#include <immintrin.h>
/* GCC 12 flags the deliberately undefined pass-through operand inside its own intrinsics. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define AVX512_FN __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#endif

#define TILE_ROWS 8
#define ROW_BLOCK 64

/* ---- portable kernels ------------------------------------------------------------------------ */
static void dgemm_block_generic(int64_t m, int64_t n, int64_t k, const double *A, int64_t a_row,
                                int64_t a_col, const double *B, int64_t ldb, double *C, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++) {
        double *c = C + i * ldc;
        for (int64_t p = 0; p < k; p++) {
            double a = A[i * a_row + p * a_col];
            const double *b = B + p * ldb;
            for (int64_t j = 0; j < n; j++) c[j] -= a * b[j];
        }
    }
}

static void sgemm_block_generic(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B,
                                int64_t ldb, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++) {
        float *c = C + i * ldc;
        for (int64_t p = 0; p < k; p++) {
            float a = A[i * lda + p];
            const float *b = B + p * ldb;
            for (int64_t j = 0; j < n; j++) c[j] -= a * b[j];
        }
    }
}

#ifdef DENSE_X86
/* One tile: R rows (compile-time) x up to 24 doubles, masked at the right edge. */
#define DTILE_BODY(R)                                                                                  \
    __m512d c[R][3];                                                                                   \
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                             \
        c[r][0] = _mm512_maskz_loadu_pd(m0, C + r * ldc);                                              \
        c[r][1] = _mm512_maskz_loadu_pd(m1, C + r * ldc + 8);                                          \
        c[r][2] = _mm512_maskz_loadu_pd(m2, C + r * ldc + 16);                                         \
    }                                                                                                  \
    for (int64_t p = 0; p < k; p++) {                                                                  \
        const double *b = B + p * ldb;                                                                 \
        __m512d b0 = _mm512_maskz_loadu_pd(m0, b);                                                     \
        __m512d b1 = _mm512_maskz_loadu_pd(m1, b + 8);                                                 \
        __m512d b2 = _mm512_maskz_loadu_pd(m2, b + 16);                                                \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                         \
            __m512d a = _mm512_set1_pd(A[r * a_row + p * a_col]);                                      \
            c[r][0] = _mm512_fnmadd_pd(a, b0, c[r][0]);                                                \
            c[r][1] = _mm512_fnmadd_pd(a, b1, c[r][1]);                                                \
            c[r][2] = _mm512_fnmadd_pd(a, b2, c[r][2]);                                                \
        }                                                                                              \
    }                                                                                                  \
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                             \
        _mm512_mask_storeu_pd(C + r * ldc, m0, c[r][0]);                                               \
        _mm512_mask_storeu_pd(C + r * ldc + 8, m1, c[r][1]);                                           \
        _mm512_mask_storeu_pd(C + r * ldc + 16, m2, c[r][2]);                                          \
    }

AVX512_FN static void dtile8(int64_t k, const double *A, int64_t a_row, int64_t a_col, const double *B,
                             int64_t ldb, double *C, int64_t ldc, __mmask8 m0, __mmask8 m1, __mmask8 m2)
{
    DTILE_BODY(8)
}
AVX512_FN static void dtile1(int64_t k, const double *A, int64_t a_row, int64_t a_col, const double *B,
                             int64_t ldb, double *C, int64_t ldc, __mmask8 m0, __mmask8 m1, __mmask8 m2)
{
    DTILE_BODY(1)
}

static __mmask8 mask8(int64_t count)
{
    if (count <= 0) return 0;
    if (count >= 8) return 0xff;
    return (__mmask8)((1u << count) - 1u);
}

AVX512_FN static void dgemm_block_avx512(int64_t m, int64_t n, int64_t k, const double *A, int64_t a_row,
                                         int64_t a_col, const double *B, int64_t ldb, double *C, int64_t ldc)
{
    for (int64_t j = 0; j < n; j += 24) {
        int64_t w = n - j < 24 ? n - j : 24;
        __mmask8 m0 = mask8(w), m1 = mask8(w - 8), m2 = mask8(w - 16);
        int64_t i = 0;
        for (; i + TILE_ROWS <= m; i += TILE_ROWS)
            dtile8(k, A + i * a_row, a_row, a_col, B + j, ldb, C + i * ldc + j, ldc, m0, m1, m2);
        for (; i < m; i++) dtile1(k, A + i * a_row, a_row, a_col, B + j, ldb, C + i * ldc + j, ldc, m0, m1, m2);
    }
}

#define STILE_BODY(R)                                                                                  \
    __m512 c[R][3];                                                                                    \
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                             \
        c[r][0] = _mm512_maskz_loadu_ps(m0, C + r * ldc);                                              \
        c[r][1] = _mm512_maskz_loadu_ps(m1, C + r * ldc + 16);                                         \
        c[r][2] = _mm512_maskz_loadu_ps(m2, C + r * ldc + 32);                                         \
    }                                                                                                  \
    for (int64_t p = 0; p < k; p++) {                                                                  \
        const float *b = B + p * ldb;                                                                  \
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b);                                                      \
        __m512 b1 = _mm512_maskz_loadu_ps(m1, b + 16);                                                 \
        __m512 b2 = _mm512_maskz_loadu_ps(m2, b + 32);                                                 \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                         \
            __m512 a = _mm512_set1_ps(A[r * lda + p]);                                                 \
            c[r][0] = _mm512_fnmadd_ps(a, b0, c[r][0]);                                                \
            c[r][1] = _mm512_fnmadd_ps(a, b1, c[r][1]);                                                \
            c[r][2] = _mm512_fnmadd_ps(a, b2, c[r][2]);                                                \
        }                                                                                              \
    }                                                                                                  \
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                             \
        _mm512_mask_storeu_ps(C + r * ldc, m0, c[r][0]);                                               \
        _mm512_mask_storeu_ps(C + r * ldc + 16, m1, c[r][1]);                                          \
        _mm512_mask_storeu_ps(C + r * ldc + 32, m2, c[r][2]);                                          \
    }

AVX512_FN static void stile8(int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                             int64_t ldc, __mmask16 m0, __mmask16 m1, __mmask16 m2)
{
    STILE_BODY(8)
}
AVX512_FN static void stile1(int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                             int64_t ldc, __mmask16 m0, __mmask16 m1, __mmask16 m2)
{
    STILE_BODY(1)
}

static __mmask16 mask16(int64_t count)
{
    if (count <= 0) return 0;
    if (count >= 16) return 0xffff;
    return (__mmask16)((1u << count) - 1u);
}

AVX512_FN static void sgemm_block_avx512(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda,
                                         const float *B, int64_t ldb, float *C, int64_t ldc)
{
    for (int64_t j = 0; j < n; j += 48) {
        int64_t w = n - j < 48 ? n - j : 48;
        __mmask16 m0 = mask16(w), m1 = mask16(w - 16), m2 = mask16(w - 32);
        int64_t i = 0;
        for (; i + TILE_ROWS <= m; i += TILE_ROWS)
            stile8(k, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, m0, m1, m2);
        for (; i < m; i++) stile1(k, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, m0, m1, m2);
    }
}

#define AVX2_FN __attribute__((target("avx2,fma")))
/* AVX2 has 16 registers: tiles of 4 rows x 3 vectors. Column tails go through the portable path. */
AVX2_FN static void dgemm_block_avx2(int64_t m, int64_t n, int64_t k, const double *A, int64_t a_row,
                                     int64_t a_col, const double *B, int64_t ldb, double *C, int64_t ldc)
{
    int64_t j = 0;
    for (; j + 12 <= n; j += 12) {
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
            __m256d c[4][3];
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 3; v++) c[r][v] = _mm256_loadu_pd(C + (i + r) * ldc + j + 4 * v);
            for (int64_t p = 0; p < k; p++) {
                const double *b = B + p * ldb + j;
                __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4), b2 = _mm256_loadu_pd(b + 8);
#pragma GCC unroll 4
                for (int r = 0; r < 4; r++) {
                    __m256d a = _mm256_set1_pd(A[(i + r) * a_row + p * a_col]);
                    c[r][0] = _mm256_fnmadd_pd(a, b0, c[r][0]);
                    c[r][1] = _mm256_fnmadd_pd(a, b1, c[r][1]);
                    c[r][2] = _mm256_fnmadd_pd(a, b2, c[r][2]);
                }
            }
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 3; v++) _mm256_storeu_pd(C + (i + r) * ldc + j + 4 * v, c[r][v]);
        }
        if (i < m) dgemm_block_generic(m - i, 12, k, A + i * a_row, a_row, a_col, B + j, ldb, C + i * ldc + j, ldc);
    }
    if (j < n) dgemm_block_generic(m, n - j, k, A, a_row, a_col, B + j, ldb, C + j, ldc);
}

AVX2_FN static void sgemm_block_avx2(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B,
                                     int64_t ldb, float *C, int64_t ldc)
{
    int64_t j = 0;
    for (; j + 24 <= n; j += 24) {
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
            __m256 c[4][3];
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 3; v++) c[r][v] = _mm256_loadu_ps(C + (i + r) * ldc + j + 8 * v);
            for (int64_t p = 0; p < k; p++) {
                const float *b = B + p * ldb + j;
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), b2 = _mm256_loadu_ps(b + 16);
#pragma GCC unroll 4
                for (int r = 0; r < 4; r++) {
                    __m256 a = _mm256_set1_ps(A[(i + r) * lda + p]);
                    c[r][0] = _mm256_fnmadd_ps(a, b0, c[r][0]);
                    c[r][1] = _mm256_fnmadd_ps(a, b1, c[r][1]);
                    c[r][2] = _mm256_fnmadd_ps(a, b2, c[r][2]);
                }
            }
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 3; v++) _mm256_storeu_ps(C + (i + r) * ldc + j + 8 * v, c[r][v]);
        }
        if (i < m) sgemm_block_generic(m - i, 24, k, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc);
    }
    if (j < n) sgemm_block_generic(m, n - j, k, A, lda, B + j, ldb, C + j, ldc);
}

AVX2_FN static void saxpy_avx2(int64_t n, float a, const float *x, float *y)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fnmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] -= a * x[i];
}
#endif

static inline int use_avx2(int isa)
{
#ifdef DENSE_X86
    return qlow__isa_has_avx2(isa) && !qlow__isa_has_avx512(isa);
#else
    (void)isa;
    return 0;
#endif
}

static int use_avx512(int isa)
{
#ifdef DENSE_X86
    return qlow__isa_has_avx512(isa);
#else
    (void)isa;
    return 0;
#endif
}

/* Work items are (row block, column panel) pairs; a panel is wide enough for the tile kernels and
 * narrow enough that its B slice stays in L1 for k up to a few hundred. */
#define COL_PANEL 96

void qlow__dgemm_sub_tri(int isa, int threads, int64_t m, int64_t n, int64_t k, const double *A, int64_t a_row,
                         int64_t a_col, const double *B, int64_t ldb, double *C, int64_t ldc, int c_lower,
                         int64_t c_row0, int b_lower)
{
    if (m <= 0 || n <= 0 || k <= 0) return;
    int64_t rb = (m + ROW_BLOCK - 1) / ROW_BLOCK, cb = (n + COL_PANEL - 1) / COL_PANEL;
    int64_t items = rb * cb;
    int fast = use_avx512(isa);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && items > 1)
#endif
    for (int64_t it = 0; it < items; it++) {
        int64_t i0 = (it % rb) * ROW_BLOCK, j0 = (it / rb) * COL_PANEL;
        int64_t mm = m - i0 < ROW_BLOCK ? m - i0 : ROW_BLOCK, nn = n - j0 < COL_PANEL ? n - j0 : COL_PANEL;
        if (c_lower && j0 > i0 + mm - 1 + c_row0) continue;
        int64_t p0 = b_lower ? (j0 < k ? j0 : k) : 0;
        if (p0 >= k) continue;
        const double *a = A + i0 * a_row + p0 * a_col;
        const double *b = B + p0 * ldb + j0;
        double *c = C + i0 * ldc + j0;
#ifdef DENSE_X86
        if (fast) {
            dgemm_block_avx512(mm, nn, k - p0, a, a_row, a_col, b, ldb, c, ldc);
            continue;
        }
        if (use_avx2(isa)) {
            dgemm_block_avx2(mm, nn, k - p0, a, a_row, a_col, b, ldb, c, ldc);
            continue;
        }
#endif
        (void)fast;
        dgemm_block_generic(mm, nn, k - p0, a, a_row, a_col, b, ldb, c, ldc);
    }
}

void qlow__dgemm_sub(int isa, int threads, int64_t m, int64_t n, int64_t k, const double *A, int64_t a_row,
                     int64_t a_col, const double *B, int64_t ldb, double *C, int64_t ldc)
{
    qlow__dgemm_sub_tri(isa, threads, m, n, k, A, a_row, a_col, B, ldb, C, ldc, 0, 0, 0);
}

#ifdef DENSE_X86
AVX512_FN static void saxpy_avx512(int64_t n, float a, const float *x, float *y)
{
    __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fnmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fnmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}
#endif

void qlow__saxpy_sub(int isa, int64_t n, float a, const float *x, float *y)
{
#ifdef DENSE_X86
    if (use_avx512(isa)) {
        saxpy_avx512(n, a, x, y);
        return;
    }
    if (use_avx2(isa)) {
        saxpy_avx2(n, a, x, y);
        return;
    }
#endif
    (void)isa;
    for (int64_t i = 0; i < n; i++) y[i] -= a * x[i];
}

void qlow__sgemm_sub(int isa, int threads, int64_t m, int64_t n, int64_t k, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float *C, int64_t ldc)
{
    if (m <= 0 || n <= 0 || k <= 0) return;
    int64_t rb = (m + ROW_BLOCK - 1) / ROW_BLOCK, cb = (n + COL_PANEL - 1) / COL_PANEL;
    int64_t items = rb * cb;
    int fast = use_avx512(isa);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && items > 1)
#endif
    for (int64_t it = 0; it < items; it++) {
        int64_t i0 = (it % rb) * ROW_BLOCK, j0 = (it / rb) * COL_PANEL;
        int64_t mm = m - i0 < ROW_BLOCK ? m - i0 : ROW_BLOCK, nn = n - j0 < COL_PANEL ? n - j0 : COL_PANEL;
        const float *a = A + i0 * lda;
        float *c = C + i0 * ldc + j0;
#ifdef DENSE_X86
        if (fast) {
            sgemm_block_avx512(mm, nn, k, a, lda, B + j0, ldb, c, ldc);
            continue;
        }
        if (use_avx2(isa)) {
            sgemm_block_avx2(mm, nn, k, a, lda, B + j0, ldb, c, ldc);
            continue;
        }
#endif
        (void)fast;
        sgemm_block_generic(mm, nn, k, a, lda, B + j0, ldb, c, ldc);
    }
}

/* ---- factorizations ---------------------------------------------------------------------------- */
#define NB 64

size_t qlow__spd_scratch_doubles(int64_t n) { return (size_t)NB * (size_t)(n > 0 ? n : 1) + (size_t)NB * NB; }

/* A pivot that lost all but this fraction of its original diagonal means the column is (to working
 * precision) a combination of earlier ones: the matrix is singular, and factoring on would give a
 * factor with a rounding-noise pivot whose inverse is garbage. */
#define PIVOT_REL_TOL 1e-12

/* Unblocked lower Cholesky of the b x b block at A (leading dimension lda); diag0 holds the block's
 * diagonal as it was before any elimination. */
static qlow_status chol_diag_block(double *A, int64_t b, int64_t lda, const double *diag0)
{
    for (int64_t j = 0; j < b; j++) {
        double *rj = A + j * lda;
        double d = rj[j];
        for (int64_t p = 0; p < j; p++) d -= rj[p] * rj[p];
        if (!(d > PIVOT_REL_TOL * diag0[j])) return QLOW_E_NUMERIC;
        d = sqrt(d);
        rj[j] = d;
        for (int64_t i = j + 1; i < b; i++) {
            double *ri = A + i * lda;
            double s = ri[j];
            for (int64_t p = 0; p < j; p++) s -= ri[p] * rj[p];
            ri[j] = s / d;
        }
    }
    return QLOW_OK;
}

qlow_status qlow__cholesky_lower(int isa, int threads, double *A, int64_t n, double *scratch)
{
    double *diag0 = scratch; /* scratch holds at least NB * n doubles */
    for (int64_t j = 0; j < n; j++) diag0[j] = A[j * n + j];
    for (int64_t k0 = 0; k0 < n; k0 += NB) {
        int64_t b = n - k0 < NB ? n - k0 : NB;
        double *akk = A + k0 * n + k0;
        QLOW_TRY(chol_diag_block(akk, b, n, diag0 + k0));
        int64_t r0 = k0 + b;
        /* Panel rows solve L21 L11^T = A21, row by row (independent rows). */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && n - r0 > 256)
#endif
        for (int64_t i = r0; i < n; i++) {
            double *ri = A + i * n + k0;
            for (int64_t c = 0; c < b; c++) {
                const double *rc = akk + c * n;
                double s = ri[c];
                for (int64_t p = 0; p < c; p++) s -= ri[p] * rc[p];
                ri[c] = s / rc[c];
            }
            /* Keep L21^T in the upper block row so the trailing update reads it row-major. */
            for (int64_t c = 0; c < b; c++) A[(k0 + c) * n + i] = ri[c];
        }
        /* Trailing lower triangle in one parallel pass: A22 -= L21 L21^T. */
        if (r0 < n)
            qlow__dgemm_sub_tri(isa, threads, n - r0, n - r0, b, A + r0 * n + k0, n, 1, A + k0 * n + r0, n,
                                A + r0 * n + r0, n, 1, 0, 0);
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) A[i * n + j] = 0.0;
    return QLOW_OK;
}

void qlow__trinv_lower(int isa, int threads, double *L, int64_t n, double *scratch)
{
    double *lrow = scratch;            /* NB x n: the block's rows of L left of the diagonal block */
    double *ldiag = scratch + NB * n;  /* NB x NB: its diagonal block */
    for (int64_t i0 = 0; i0 < n; i0 += NB) {
        int64_t b = n - i0 < NB ? n - i0 : NB;
        for (int64_t r = 0; r < b; r++) {
            memcpy(lrow + r * n, L + (i0 + r) * n, (size_t)i0 * sizeof(double));
            memcpy(ldiag + r * NB, L + (i0 + r) * n + i0, (size_t)b * sizeof(double));
            memset(L + (i0 + r) * n, 0, (size_t)(i0 + b) * sizeof(double));
        }
        /* T = -L[I, 0:i0] Y[0:i0, 0:i0]; Y is lower triangular, so column panel j only needs rows >= j. */
        if (i0 > 0) qlow__dgemm_sub_tri(isa, threads, b, i0, i0, lrow, n, 1, L, n, L + i0 * n, n, 0, 0, 1);
        /* Y[I, 0:i0+b] = L_II^-1 [T | I]: forward substitution on whole rows. */
        for (int64_t r = 0; r < b; r++) {
            double *yr = L + (i0 + r) * n;
            yr[i0 + r] = 1.0;
            for (int64_t q = 0; q < r; q++) {
                double f = ldiag[r * NB + q];
                const double *yq = L + (i0 + q) * n;
                int64_t len = i0 + q + 1, c = 0;
                for (; c + 4 <= len; c += 4) {
                    yr[c] -= f * yq[c];
                    yr[c + 1] -= f * yq[c + 1];
                    yr[c + 2] -= f * yq[c + 2];
                    yr[c + 3] -= f * yq[c + 3];
                }
                for (; c < len; c++) yr[c] -= f * yq[c];
            }
            double inv = 1.0 / ldiag[r * NB + r];
            for (int64_t c = 0; c <= i0 + r; c++) yr[c] *= inv;
        }
    }
}

void qlow__reverse_sym(double *A, int64_t n)
{
    size_t total = (size_t)n * (size_t)n;
    for (size_t a = 0, b = total; a + 1 < b; a++, b--) {
        double t = A[a];
        A[a] = A[b - 1];
        A[b - 1] = t;
    }
}

void qlow__transpose_sq(double *A, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            double t = A[i * n + j];
            A[i * n + j] = A[j * n + i];
            A[j * n + i] = t;
        }
}

qlow_status qlow__inverse_upper_factor(int isa, int threads, double *A, int64_t n, double *scratch)
{
    qlow__reverse_sym(A, n);
    QLOW_TRY(qlow__cholesky_lower(isa, threads, A, n, scratch));
    qlow__trinv_lower(isa, threads, A, n, scratch);
    qlow__reverse_sym(A, n);
    return QLOW_OK;
}
