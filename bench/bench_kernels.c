/* bench_kernels.c - GEMV/GEMM speed of every packed format against fp32 and the machine's read
 * bandwidth, hot and cold, at 1 and 2 threads (`make bench`; BENCH_QUICK=1 for a short run).
 *
 * Matrices come from the kernel tests' packer (random codes, tests/kernels_testpack.h). "cold"
 * rotates copies of the weights (400 MiB of them, at most 64 copies: 136 MB for B1, still twice the
 * 64 MiB of L3 two vCPUs may see), starting after the warm-up's copy; "hot" repeats one copy (in cache
 * when it fits). Times are medians of repetitions, with the fastest in parentheses. The read
 * bandwidth (the best of three reads: without software prefetch, and prefetching into L1 or L2) is
 * measured again before each format, as this VM's moves within a run (2 threads: 43 to 105 GB/s in
 * one run). The summary adds, per format, a plain cold read of the same number of bytes
 * at 1 and 2 threads (read_cold_us): the 128 MiB figure leaves out what a call of a few MB pays to
 * start a stream. The ggml column quotes
 * ../shared/docs/ggml_anchor.md (measured there on this machine kind), it is not measured here. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "qlow.h"
#include "kernels_testpack.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int g_quick;

/* Optional filters for focused runs (the defaults run everything):
 *   BENCH_ONLY=Q4,B1   formats whose name contains one of the comma-separated words
 *   BENCH_BATCH=1,32   batch sizes instead of the mode's list
 *   BENCH_SHAPES=1,3   shapes by number (1 = 4096x4096, 2 = 11008x4096, 3 = 4096x11008) instead of the mode's
 *   BENCH_THREADS=1    the thread counts to run (1, 2 or 1,2)
 *   BENCH_TEMP=hot     hot, cold or both (quick mode defaults to cold, full mode to both)
 *   BENCH_MISALIGN=1   planes at calloc offsets (16 bytes past 64) instead of 64-byte aligned */
static int env_has_word(const char *env, const char *name)
{
    const char *v = getenv(env);
    if (!v || !*v) return 1;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", v);
    for (char *w = strtok(buf, ","); w; w = strtok(NULL, ","))
        if (*w && strstr(name, w)) return 1;
    return 0;
}
static int in_list(int th, const int64_t *list, int n)
{
    for (int i = 0; i < n; i++)
        if (list[i] == th) return 1;
    return n == 0;
}
static int env_int_list(const char *env, int64_t *out, int max)
{
    const char *v = getenv(env);
    int n = 0;
    while (v && *v && n < max) {
        char *end;
        long x = strtol(v, &end, 10);
        if (end == v) break;
        if (x > 0) out[n++] = x;
        v = *end == ',' ? end + 1 : end;
    }
    return n;
}
/* Over 6x the 32 MiB L3 per core complex: the two vCPUs may sit on different complexes (64 MiB of L3
 * together), and with 100 MiB the 2-thread "cold" runs read partly from cache (above the read bandwidth). */
static const double COLD_BYTES = 400.0 * 1024 * 1024;

/* ---- fp32 reference GEMV / GEMM and the read-bandwidth kernel ---------------------------------- */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define X86 1
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized" /* GCC 12's _mm512_reduce_* headers */
#endif
__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    int64_t j = 0;
    for (; j + 64 <= n; j += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 32), _mm512_loadu_ps(b + j + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 48), _mm512_loadu_ps(b + j + 48), s3);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    for (; j < n; j++) s += a[j] * b[j];
    return s;
}
/* The four partial sums of n floats at a, with pf a constant at each call so that the loop carries no
 * branch for it: 0 no software prefetch, 1 into L1 (prefetcht0), 2 into L2 (prefetcht2). */
static inline __attribute__((always_inline, target("avx512f"))) __m512 read_loop(const float *a, int64_t n, const int pf)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    for (int64_t j = 0; j + 64 <= n; j += 64) {
        if (pf) {
            _Pragma("GCC unroll 4")
            for (int k = 0; k < 4; k++) {
                if (pf == 1) _mm_prefetch((const char *)(a + j + 2048 + 16 * k), _MM_HINT_T0);
                else _mm_prefetch((const char *)(a + j + 2048 + 16 * k), _MM_HINT_T2);
            }
        }
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(a + j));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(a + j + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(a + j + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(a + j + 48));
    }
    return _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
}
/* Sum of n floats at a (the bench's read kernel). With pf, each 256 bytes are paired with a prefetch
 * 8 KiB on, as the kernels stream their weights (QLOW__PF_DIST): short cold reads otherwise lose the
 * prefetchers at every 4 KiB page. Which of the three reads is fastest depends on the CPU (on Zen 4
 * the L2 one, as for the kernels), so the bench takes the best of them as the machine's figure. */
#define READ_MODES 3
__attribute__((target("avx512f"))) static double read_avx512(const float *a, int64_t n, int pf)
{
    return _mm512_reduce_add_ps(pf == 2 ? read_loop(a, n, 2) : pf ? read_loop(a, n, 1) : read_loop(a, n, 0));
}
/* Y[t][r] += W_r . X_t over columns [j0, j1) for rows r .. r + 3 and tokens t .. t + 3: 16 accumulators
 * and 8 loads per 16 FMAs, so the tile runs at FMA speed from L1. */
__attribute__((target("avx512f"))) static void tile4x4_avx512(const float *W, int64_t C, const float *X, int64_t R,
                                                               float *Y, int64_t r, int64_t t, int64_t j0, int64_t j1,
                                                               int pf)
{
    __m512 acc[4][4];
#define U4 _Pragma("GCC unroll 4")
    U4 for (int i = 0; i < 4; i++) U4 for (int k = 0; k < 4; k++) acc[i][k] = _mm512_setzero_ps();
    for (int64_t j = j0; j < j1; j += 16) {
        const __mmask16 m = j1 - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (j1 - j)) - 1u);
        __m512 w[4], x[4];
        if (pf) /* the first token tile also fetches these rows' next column block */
            U4 for (int i = 0; i < 4; i++) _mm_prefetch((const char *)(W + (r + i) * C + j + 1024), _MM_HINT_T0);
        U4 for (int i = 0; i < 4; i++) w[i] = _mm512_maskz_loadu_ps(m, W + (r + i) * C + j);
        U4 for (int k = 0; k < 4; k++) x[k] = _mm512_maskz_loadu_ps(m, X + (t + k) * C + j);
        U4 for (int i = 0; i < 4; i++) U4 for (int k = 0; k < 4; k++) acc[i][k] = _mm512_fmadd_ps(w[i], x[k], acc[i][k]);
    }
    U4 for (int i = 0; i < 4; i++) U4 for (int k = 0; k < 4; k++) Y[(t + k) * R + r + i] += _mm512_reduce_add_ps(acc[i][k]);
#undef U4
}
#endif
static int g_avx512;

static float dot_f32(const float *a, const float *b, int64_t n)
{
#ifdef X86
    if (g_avx512) return dot_avx512(a, b, n);
#endif
    float s = 0;
    for (int64_t j = 0; j < n; j++) s += a[j] * b[j];
    return s;
}

/* The fp32 baseline. One token: a dot product per row, which streams W at memory speed. Several
 * tokens: 4x4 register tiles over 1024-column blocks (4 rows and 4 tokens: 32 KiB, in L1), each
 * block of 4 rows passed over by every token tile, as a BLAS GEMM would block it; one dot per row
 * and token ran at 33-69 GFLOP/s, under ggml's fp32 figures, so the "vs fp32" column flattered us. */
static void gemm_f32(const float *W, int64_t R, int64_t C, const float *X, int64_t nb, float *Y, int threads)
{
    (void)threads;
#ifdef X86
    if (g_avx512 && nb >= 4) {
        const int64_t R4 = R / 4 * 4, nb4 = nb / 4 * 4;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
        for (int64_t rb = 0; rb < R4 / 4; rb++) {
            const int64_t r = rb * 4;
            for (int64_t t = 0; t < nb; t++)
                for (int i = 0; i < 4; i++) Y[t * R + r + i] = 0;
            for (int64_t j0 = 0; j0 < C; j0 += 1024)
                for (int64_t t = 0; t < nb4; t += 4)
                    tile4x4_avx512(W, C, X, R, Y, r, t, j0, C - j0 < 1024 ? C : j0 + 1024, t == 0);
            for (int64_t t = nb4; t < nb; t++)
                for (int i = 0; i < 4; i++) Y[t * R + r + i] = dot_f32(W + (r + i) * C, X + t * C, C);
        }
        for (int64_t r = R4; r < R; r++)
            for (int64_t t = 0; t < nb; t++) Y[t * R + r] = dot_f32(W + r * C, X + t * C, C);
        return;
    }
#endif
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (int64_t r = 0; r < R; r++)
        for (int64_t t = 0; t < nb; t++) Y[t * R + r] = dot_f32(W + r * C, X + t * C, C);
}

/* read_bandwidth for one prefetch mode of the read kernel. */
static double read_bandwidth_pf(const float *a, int64_t n, int threads, int pf, double *median_out)
{
    int reps = g_quick ? 5 : 10;
    double best = 0, v[16], sink = 0;
    (void)pf;
    for (int k = 0; k < reps; k++) {
        double t0 = now_s(), s = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : s)
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
        {
            int nt = 1, id = 0;
#endif
            int64_t lo = n * id / nt / 64 * 64, hi = n * (id + 1) / nt / 64 * 64;
#ifdef X86
            if (g_avx512) s += read_avx512(a + lo, hi - lo, pf);
            else
#endif
                for (int64_t j = lo; j < hi; j++) s += a[j];
        }
        double dt = now_s() - t0;
        sink += s;
        v[k] = (double)n * 4 / dt / 1e9;
        if (v[k] > best) best = v[k];
    }
    if (sink == 1.2345) printf(" ");
    *median_out = median(v, reps);
    return best;
}

/* Best-of read bandwidth (GB/s) over the n floats at a (128 MiB) at `threads`, over the read kernel's
 * prefetch modes; the median is that of the best mode's repetitions. */
static double read_bandwidth(const float *a, int64_t n, int threads, double *median_out)
{
    double best = 0;
    *median_out = 0;
#ifdef X86
    const int read_modes = g_avx512 ? READ_MODES : 1;
#else
    const int read_modes = 1;
#endif
    for (int pf = 0; pf < read_modes; pf++) {
        double med, b = read_bandwidth_pf(a, n, threads, pf, &med);
        if (b > best) best = b, *median_out = med;
    }
    return best;
}

/* Median time (us) to read `bytes` cold at `threads` (each thread half, as the kernels split rows),
 * rotating through windows of the 128 MiB array the way the cold kernel runs rotate copies, with or
 * without the kernels' software prefetch (`pf`). */
static double read_cold_pass(const float *arena, int64_t arena_floats, size_t bytes, int threads, int pf)
{
    const int64_t n = (int64_t)(bytes / 256) * 64, nwin = arena_floats / n; /* floats per window, 256-byte steps */
    if (nwin < 2) return 0;
    double v[31], sink = 0;
    const int reps = g_quick ? 15 : 31;
    (void)threads, (void)pf;
    for (int k = 0; k < reps; k++) {
        const float *a = arena + (size_t)(((k + 1) % nwin) * n);
        double t0 = now_s(), s = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : s)
        {
            const int nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
        {
            const int nt = 1, id = 0;
#endif
            const int64_t lo = n * id / nt / 64 * 64, hi = n * (id + 1) / nt / 64 * 64;
#ifdef X86
            if (g_avx512) s += read_avx512(a + lo, hi - lo, pf);
            else
#endif
                for (int64_t j = lo; j < hi; j++) s += a[j];
        }
        v[k] = (now_s() - t0) * 1e6;
        sink += s;
    }
    if (sink == 1.2345) printf(" ");
    return median(v, reps);
}

/* The time a call that only streamed its weights could take: the fastest of the plain reads. A
 * per-call stream of a few MiB pays a ramp-up (first misses, prefetchers retraining at each 4 KiB
 * page, at 2 threads the parallel region's start) that the 128 MiB figure averages away. Which read
 * is faster varies (on Zen 5 the L1-prefetching one was 2-6 us slower for 2.1 MB at 1 thread, 5-7 us
 * faster at 2), so all are run. */
static double read_cold_us(const float *arena, int64_t arena_floats, size_t bytes, int threads)
{
    double a = read_cold_pass(arena, arena_floats, bytes, threads, 0);
#ifdef X86
    for (int pf = 1; g_avx512 && pf < READ_MODES; pf++) {
        const double b = read_cold_pass(arena, arena_floats, bytes, threads, pf);
        if (b > 0 && b < a) a = b;
    }
#endif
    return a;
}

/* ---- formats ---------------------------------------------------------------------------------- */

typedef struct bfmt {
    const char *name;
    int format, symmetric;
    int64_t group_cols;
    int col_scale;
    double salient;
    /* ggml anchor (ggml_anchor.md), cold, us: [shape][threads] for batch 1 and [shape 0..1][threads] for 32 */
    const char *ggml_name;
    double g1[3][2], g32[2][2];
} bfmt;

static const bfmt FMTS[] = {
    {"Q8 g32 sym", QLOW_FORMAT_Q8, 1, 32, 0, 0, "q8_0",
     {{626, 423}, {1625, 1093}, {1802, 1038}}, {{7910, 4052}, {20869, 10605}}},
    {"Q4 g32 sym", QLOW_FORMAT_Q4, 1, 32, 0, 0, "best q4 (q4_0/q4_K +rp)",
     {{349, 186}, {912, 530}, {993, 542}}, {{3565, 1906}, {9688, 4862}}},
    {"Q4 g128 asym", QLOW_FORMAT_Q4, 0, 128, 0, 0, "best q4 (q4_0/q4_K +rp)",
     {{349, 186}, {912, 530}, {993, 542}}, {{3565, 1906}, {9688, 4862}}},
    {"Q3 g128 asym", QLOW_FORMAT_Q3, 0, 128, 0, 0, "q3_K",
     {{474, 313}, {1296, 842}, {1360, 798}}, {{14663, 7748}, {40870, 20775}}},
    {"Q2 g128 asym", QLOW_FORMAT_Q2, 0, 128, 0, 0, "best q2_K (+rp)",
     {{306, 172}, {819, 501}, {875, 467}}, {{5796, 2942}, {17422, 8741}}},
    {"T2", QLOW_FORMAT_T2, 0, 0, 0, 0, "tq2_0", {{239, 179}, {598, 441}, {630, 383}}, {{7451, 3713}, {19179, 9777}}},
    {"T158", QLOW_FORMAT_T158, 0, 0, 0, 0, "tq1_0", {{453, 305}, {1214, 789}, {1213, 692}}, {{14215, 7205}, {38237, 19506}}},
    {"B2", QLOW_FORMAT_B2, 0, 0, 0, 0, "iq2_xxs", {{827, 577}, {2219, 1749}, {2241, 1408}}, {{26446, 13183}, {70402, 35090}}},
    {"B1 r2", QLOW_FORMAT_B1, 0, 0, 1, 0, "iq1_s", {{725, 428}, {2016, 1108}, {2152, 1120}}, {{24468, 12524}, {64090, 32791}}},
    {"M161 10% r2", QLOW_FORMAT_M161, 0, 0, 1, 0.10, "iq1_s", {{725, 428}, {2016, 1108}, {2152, 1120}}, {{24468, 12524}, {64090, 32791}}},
};
static const double G_F32_1[3][2] = {{1693, 874}, {4729, 3977}, {4378, 3361}};
static const double G_F32_32[2][2] = {{9561, 4991}, {25835, 13132}};

static const int64_t SHAPES[3][2] = {{4096, 4096}, {11008, 4096}, {4096, 11008}};

/* A zeroed plane registered with m (freed by tp_free). Planes start 64-byte aligned, as inside a
 * qmatrix image (docs/formats.md), unless BENCH_MISALIGN=1 keeps the test packer's calloc offset. */
static int g_misalign;
static void *bench_zalloc(tp_matrix *m, size_t n)
{
    if (g_misalign) return tp_zalloc(m, n);
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    memset(p, 0, (n + 63) / 64 * 64);
    m->blk[m->nblk++] = p;
    m->bytes += n;
    return p;
}

/* A deep copy of a test matrix's planes, so cold runs stream distinct memory. */
static void clone(const tp_matrix *src, tp_matrix *dst)
{
    *dst = *src;
    dst->nblk = 0;
    dst->W = NULL;
    dst->part = NULL;
    dst->pos = NULL;
    dst->r2 = NULL;
    dst->bytes = 0;
    qlow__packed *p = &dst->qm.p;
    const qlow__packed *q = &src->qm.p;
    const size_t R = (size_t)q->rows;
#define DUP(field, n)                                                                                  \
    if (q->field) {                                                                                    \
        void *m_ = bench_zalloc(dst, (n));                                                                \
        memcpy(m_, q->field, (n));                                                                     \
        p->field = m_;                                                                                 \
    }
    size_t ng = q->group_cols ? (size_t)((q->cols_pad + q->group_cols - 1) / q->group_cols) : 0;
    size_t nrg = q->group_rows ? (R + (size_t)q->group_rows - 1) / (size_t)q->group_rows : 0;
    DUP(codes, R * q->row_bytes)
    DUP(codes2, R * q->row_bytes)
    DUP(codes_hi, R * (size_t)q->cols_pad / 8)
    DUP(scale, nrg * ng * 2)
    DUP(zero, nrg * ng * 2)
    DUP(alpha, R * 2)
    DUP(alpha2, R * 2)
    DUP(mu, R * 2)
    DUP(col_scale, (size_t)(q->cols - q->n_salient) * 2)
    DUP(col_mask, (size_t)(q->cols + 7) / 8)
    DUP(sal_codes, R * q->sal_row_bytes)
    DUP(sal_scale, R * 2)
    DUP(sal_zero, R * 2)
#undef DUP
    if (src->qm.perm) {
        int32_t *pp = (int32_t *)bench_zalloc(dst, (size_t)q->cols * 4);
        memcpy(pp, src->qm.perm, (size_t)q->cols * 4);
        dst->qm.perm = pp;
    }
}

typedef struct result {
    double us, gbs, min_us;
} result;

static result time_q(qlow_ctx *ctx, tp_matrix *mats, int ncopy, const float *X, int64_t nb, float *Y, void *ws,
                     size_t wsb, size_t wbytes)
{
    double v[64];
    int reps = g_quick ? 7 : 15;
    double budget = g_quick ? 0.15 : 0.4, t_start = now_s();
    int n = 0, k = 1 % ncopy; /* cold: the warm-up's copy comes last, so no timed call finds it cached */
    qlow_gemm_ws(ctx, &mats[0].qm, X, nb, Y, ws, wsb); /* warm-up */
    while (n < 64 && (n < reps || (now_s() - t_start < budget && n < 31))) {
        tp_matrix *m = &mats[k];
        k = (k + 1) % ncopy;
        double t0 = now_s();
        qlow_status s = qlow_gemm_ws(ctx, &m->qm, X, nb, Y, ws, wsb);
        v[n++] = now_s() - t0;
        if (s != QLOW_OK) {
            fprintf(stderr, "gemm failed: %s\n", qlow_status_string(s));
            exit(1);
        }
    }
    result r;
    r.us = median(v, n) * 1e6;
    r.min_us = v[0] * 1e6; /* sorted by median() */
    r.gbs = (double)wbytes / (r.us * 1e-6) / 1e9;
    return r;
}

static result time_f32(float **W, int ncopy, int64_t R, int64_t C, const float *X, int64_t nb, float *Y, int threads)
{
    double v[64];
    int reps = g_quick ? 5 : 11, n = 0, k = 1 % ncopy;
    gemm_f32(W[0], R, C, X, nb, Y, threads);
    while (n < reps) {
        double t0 = now_s();
        gemm_f32(W[k], R, C, X, nb, Y, threads);
        v[n++] = now_s() - t0;
        k = (k + 1) % ncopy;
    }
    result r;
    r.us = median(v, n) * 1e6;
    r.min_us = v[0] * 1e6;
    r.gbs = (double)(R * C * 4) / (r.us * 1e-6) / 1e9;
    return r;
}

int main(int argc, char **argv)
{
    const char *q = getenv("BENCH_QUICK");
    g_quick = (q && *q && *q != '0') || (argc > 1 && strcmp(argv[1], "--quick") == 0);
    g_avx512 = qlow_has_feature(QLOW_FEATURE_AVX512);
    const char *mis = getenv("BENCH_MISALIGN");
    g_misalign = mis && *mis && *mis != '0';
    qlow_ctx *ctx = NULL;
    if (qlow_ctx_create(NULL, &ctx) != QLOW_OK) return 1;
    int64_t isa = 0;
    qlow_ctx_get_int(ctx, QLOW_CTX_ISA_MAX, &isa);
    const char *isa_env = getenv("BENCH_ISA");
    if (isa_env && *isa_env) {
        qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, atoi(isa_env));
        qlow_ctx_get_int(ctx, QLOW_CTX_ISA_MAX, &isa);
    }
    printf("# libqlow kernel bench (%s mode), kernels: isa %lld, OpenMP %s\n\n", g_quick ? "quick" : "full",
           (long long)isa, qlow_has_feature(QLOW_FEATURE_OPENMP) ? "on" : "off");

    const int max_threads = qlow_has_feature(QLOW_FEATURE_OPENMP) ? 2 : 1;
    double bw[3] = {0, 0, 0}, bw_med[3];
    const int64_t arena_n = 32ll * 1024 * 1024;
    float *arena = (float *)aligned_alloc(64, (size_t)arena_n * sizeof(float));
    if (!arena) return 1;
    for (int64_t i = 0; i < arena_n; i++) arena[i] = (float)(i & 7);
    for (int th = 1; th <= max_threads; th++) bw[th] = read_bandwidth(arena, arena_n, th, &bw_med[th]);
    printf("Read bandwidth (128 MiB array, best / median): 1 thread %.1f / %.1f GB/s", bw[1], bw_med[1]);
    if (max_threads > 1) printf("; 2 threads %.1f / %.1f GB/s", bw[2], bw_med[2]);
    printf("\n\n");

    int64_t shapes_env[3];
    const int nshape_env = env_int_list("BENCH_SHAPES", shapes_env, 3);
    const int nshapes = g_quick && !nshape_env ? 1 : 3;
    const int64_t batches_full[3] = {1, 8, 32}, batches_quick[2] = {1, 8};
    int64_t batches_env[8];
    const int nbatch_env = env_int_list("BENCH_BATCH", batches_env, 8);
    const int64_t *batches = nbatch_env ? batches_env : g_quick ? batches_quick : batches_full;
    const int nbatch = nbatch_env ? nbatch_env : g_quick ? 2 : 3;
    int64_t thr_env[2];
    const int nthr_env = env_int_list("BENCH_THREADS", thr_env, 2);
    const char *temp_env = getenv("BENCH_TEMP");
    const int want_hot = temp_env && *temp_env ? strcmp(temp_env, "cold") != 0 : !g_quick;
    const int want_cold = !(temp_env && strcmp(temp_env, "hot") == 0);
    const int nfmt = (int)(sizeof(FMTS) / sizeof(FMTS[0]));
    double summary[16][3]; /* cold, batch 1, 4096^2: % of bandwidth at 1 and 2 threads */
    double summary_us[16][3], summary_min[16][3], summary_plain[16][3], summary_mb[16], summary_bw[16][3];
    memset(summary, 0, sizeof(summary));
    memset(summary_us, 0, sizeof(summary_us));
    memset(summary_min, 0, sizeof(summary_min));
    memset(summary_plain, 0, sizeof(summary_plain));
    memset(summary_bw, 0, sizeof(summary_bw));

    printf("us/call is the median (min in brackets); GB/s, %% of read BW, vs fp32 (fp32 us / format us) and GFLOP/s\n"
           "use the median. %% of read BW is against the best-of read bandwidth at the same thread count, measured\n"
           "again right before each format and shape (and the fp32 rows). The ggml column quotes\n"
           "../shared/docs/ggml_anchor.md (cold, same machine kind), it is not measured here; speedup = ggml us / our\n"
           "median us.\n\n");
    printf("| format | bpw | M x K | batch | thr | temp | us/call (min) | weight GB/s | %% of read BW | vs fp32 | GFLOP/s | "
           "ggml ref (ggml_anchor.md, cold) | speedup vs ggml |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int si = 0; si < nshapes; si++) {
        if (nshape_env && !in_list(si + 1, shapes_env, nshape_env)) continue;
        const int64_t R = SHAPES[si][0], C = SHAPES[si][1];
        const int64_t maxb = batches[nbatch - 1];
        float *X = (float *)malloc((size_t)(maxb * C) * sizeof(float));
        float *Y = (float *)malloc((size_t)(maxb * R) * sizeof(float));
        uint64_t s = 99;
        for (int64_t i = 0; i < maxb * C; i++) X[i] = (float)(tp_unif(&s) * 2 - 1);

        /* fp32 baseline: copies so that cold streams from DRAM */
        size_t fbytes = (size_t)(R * C) * 4;
        int fcopies = fbytes >= 96.0 * 1024 * 1024 ? 1 : 2;
        float *FW[2] = {NULL, NULL};
        for (int k = 0; k < fcopies; k++) {
            FW[k] = (float *)aligned_alloc(64, fbytes);
            for (int64_t i = 0; i < R * C; i++) FW[k][i] = (float)((i * 2654435761u) % 1000) * 1e-3f;
        }
        double bwl[3] = {0, 0, 0}, bwl_med; /* this block's bandwidth, measured right before it */
        for (int th = 1; th <= max_threads; th++) bwl[th] = read_bandwidth(arena, arena_n, th, &bwl_med);
        result f32r[8][3][2]; /* [batch][thr][hot/cold] */
        memset(f32r, 0, sizeof(f32r));
        for (int bi = 0; bi < nbatch; bi++)
            for (int th = 1; th <= max_threads; th++)
                for (int cold = 0; cold < 2; cold++) {
                    if (!in_list(th, thr_env, nthr_env) || !(cold ? want_cold : want_hot)) continue;
                    result r = time_f32(FW, cold ? fcopies : 1, R, C, X, batches[bi], Y, th);
                    f32r[bi][th][cold] = r;
                    int have_g = cold && (batches[bi] == 1 || (batches[bi] == 32 && si < 2));
                    double g = !have_g ? 0 : batches[bi] == 1 ? G_F32_1[si][th - 1] : G_F32_32[si][th - 1];
                    printf("| fp32 | 32 | %lldx%lld | %lld | %d | %s | %.0f (%.0f) | %.1f | %.0f%% | 1.00 | %.1f | ", (long long)R,
                           (long long)C, (long long)batches[bi], th, cold ? "cold" : "hot", r.us, r.min_us, r.gbs,
                           100.0 * r.gbs / bwl[th], 2.0 * (double)(R * C * batches[bi]) / r.us * 1e-3);
                    if (g > 0) printf("f32 %.0f | %.2fx |\n", g, g / r.us);
                    else printf("- | - |\n");
                }
        for (int k = 0; k < fcopies; k++) free(FW[k]);

        for (int fi = 0; fi < nfmt; fi++) {
            const bfmt *f = &FMTS[fi];
            if (!env_has_word("BENCH_ONLY", f->name)) continue;
            for (int th = 1; th <= max_threads; th++) bwl[th] = read_bandwidth(arena, arena_n, th, &bwl_med);
            tp_opts o;
            memset(&o, 0, sizeof(o));
            o.format = f->format;
            o.rows = R;
            o.cols = C;
            o.symmetric = f->symmetric;
            o.group_cols = f->group_cols;
            o.group_rows = 1;
            o.col_scale = f->col_scale;
            o.n_salient = (int64_t)(f->salient * (double)C);
            o.store_perm = 1;
            o.no_dequant = 1;
            o.seed = 1234 + (uint64_t)fi;
            tp_matrix base;
            tp_make(&base, &o);
            tp_attach_prep(&base);
            size_t wbytes = base.bytes;
            double bpw = 8.0 * (double)wbytes / (double)(R * C);
            int ncopy = (int)ceil(COLD_BYTES / (double)wbytes);
            if (ncopy < 2) ncopy = 2;
            if (ncopy > 64) ncopy = 64;
            tp_matrix *mats = (tp_matrix *)calloc((size_t)ncopy, sizeof(tp_matrix));
            /* each copy gets its own kernel tables, as a handle built from it would */
            for (int k = 0; k < ncopy; k++) {
                clone(&base, &mats[k]);
                tp_attach_prep(&mats[k]);
            }
            for (int bi = 0; bi < nbatch; bi++) {
                size_t wsb = 0;
                qlow_gemm_workspace_size(&base.qm, batches[bi], 0, &wsb);
                void *ws = aligned_alloc(64, (wsb + 63) / 64 * 64);
                for (int th = 1; th <= max_threads; th++) {
                    if (!in_list(th, thr_env, nthr_env)) continue;
                    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, th);
                    for (int cold = 0; cold < 2; cold++) {
                        if (!(cold ? want_cold : want_hot)) continue;
                        result r = time_q(ctx, mats, cold ? ncopy : 1, X, batches[bi], Y, ws, wsb, wbytes);
                        double gflops = 2.0 * (double)(R * C * batches[bi]) / r.us * 1e-3;
                        int have_g = cold && (batches[bi] == 1 || (batches[bi] == 32 && si < 2));
                        double g = !have_g ? 0 : batches[bi] == 1 ? f->g1[si][th - 1] : f->g32[si][th - 1];
                        printf("| %s | %.2f | %lldx%lld | %lld | %d | %s | %.0f (%.0f) | %.1f | %.0f%% | %.2f | %.1f | ", f->name,
                               bpw, (long long)R, (long long)C, (long long)batches[bi], th, cold ? "cold" : "hot", r.us,
                               r.min_us, r.gbs,
                               100.0 * r.gbs / bwl[th], f32r[bi][th][cold].us > 0 ? f32r[bi][th][cold].us / r.us : 0.0, gflops);
                        if (g > 0) printf("%s %.0f | %.2fx |\n", f->ggml_name, g, g / r.us);
                        else printf("- | - |\n");
                        if (si == 0 && batches[bi] == 1 && cold) {
                            summary[fi][th] = 100.0 * r.gbs / bwl[th];
                            summary_bw[fi][th] = bwl[th];
                            summary_us[fi][th] = r.us;
                            summary_min[fi][th] = r.min_us;
                            summary_plain[fi][th] = read_cold_us(arena, arena_n, wbytes, th);
                            summary_mb[fi] = (double)wbytes / 1e6;
                        }
                    }
                }
                free(ws);
            }
            for (int k = 0; k < ncopy; k++) tp_free(&mats[k]);
            tp_free(&base);
            free(mats);
            fflush(stdout);
        }
        free(X);
        free(Y);
    }

    printf("\n## Summary: cold, batch 1, 4096x4096 (read bandwidth at the start: 1T %.1f GB/s", bw[1]);
    if (max_threads > 1) printf(", 2T %.1f GB/s", bw[2]);
    printf(")\n\nEach percentage is against the read bandwidth measured right before that format (given with it):\n"
           "this VM's bandwidth, at 2 threads above all, moves between runs and within one.\n"
           "\"plain read\" is the bench's read kernel over the same number of bytes, cold, rotated like the\n"
           "kernel's copies, at 1 and 2 threads (the fastest of a read without software prefetch and reads\n"
           "prefetching into L1 or into L2): the time a call that only streamed its weights would take\n"
           "(kernel / read = 1.00x). The read bandwidth is the best of the same three reads over 128 MiB.\n\n");
    int nsum = 0;
    for (int fi = 0; fi < nfmt; fi++) {
        const bfmt *f = &FMTS[fi];
        /* a selection without cold batch-1 4096x4096 runs (BENCH_TEMP=hot, ...) has nothing to sum up */
        if (!env_has_word("BENCH_ONLY", f->name) || (summary_us[fi][1] <= 0 && summary_us[fi][max_threads] <= 0)) continue;
        nsum++;
        printf("- %s: cold batch-1, ", f->name);
        for (int k = 0; k < 2; k++) {
            const int th = k == 0 ? max_threads : 1;
            if (k == 1 && max_threads == 1) break;
            if (summary_us[fi][th] > 0)
                printf("%d thread%s: %.0f%% of bandwidth (median %.0f us, min %.0f; read %.1f GB/s)%s", th, th > 1 ? "s" : "",
                       summary[fi][th], summary_us[fi][th], summary_min[fi][th], summary_bw[fi][th], k == 0 ? "; " : "");
            else printf("%d thread%s: not run%s", th, th > 1 ? "s" : "", k == 0 ? "; " : "");
        }
        if (summary_us[fi][1] > 0)
            printf("; 1T speedup vs ggml %s %.0f us (ggml_anchor.md): %.2fx (median), %.2fx (min)", f->ggml_name,
                   f->g1[0][0], f->g1[0][0] / summary_us[fi][1], summary_min[fi][1] > 0 ? f->g1[0][0] / summary_min[fi][1] : 0);
        printf("; plain read of the same %.2f MB:", summary_mb[fi]);
        const char *sep = " ";
        for (int th = 1; th <= max_threads; th++)
            if (summary_plain[fi][th] > 0) {
                printf("%s%dT %.0f us (kernel / read %.2fx)", sep, th, summary_plain[fi][th],
                       summary_us[fi][th] / summary_plain[fi][th]);
                sep = ", ";
            }
        printf("\n");
    }
    if (nsum == 0) printf("(no cold batch-1 4096x4096 run in this selection)\n");
    free(arena);
    qlow_ctx_destroy(ctx);
    return 0;
}
