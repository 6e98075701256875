/* bench_one.c - one format, one shape, timed for comparing two builds (`make bench-one`).
 *
 * make bench reports medians, which on a shared VM move by 10-30% between runs. To tell whether a
 * kernel change is a few percent faster, this times back-to-back calls in batches and keeps the best
 * batch's mean: interference only ever adds time, so the best batch is the one closest to what the
 * code costs. Run the builds being compared alternately, several times each, and compare the spread.
 *
 *   bench_one FORMAT [ROWS [COLS]]    FORMAT: q8 q4 q3 q2 (g128 asym; see BENCH_GROUP, BENCH_SYM),
 *                                     t2 t158 b1 b2 m161 (r2, 10%)
 *   BENCH_THREADS=n   threads (1)          BENCH_BATCH=n    tokens per call (1)
 *   BENCH_COPIES=n    rotated copies (1 = hot; 64 streams from memory, like make bench's cold runs)
 *   BENCH_CALLS=n     calls per batch (20)  BENCH_BATCHES=n  batches (40)
 *   BENCH_ISA=n       highest qlow_isa the kernels may use
 *   BENCH_GROUP=n     Q formats: columns per scale group (128)   BENCH_SYM=1  symmetric (no zeros)
 *
 * It prints the best batch's microseconds per call and a checksum of y, which must match between
 * builds (the kernels are exact, so any change of the checksum is a change of the results). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qlow.h"
#include "kernels_testpack.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = getenv(name);
    if (!v || !*v) return def;
    long x = strtol(v, NULL, 10);
    return x < lo ? lo : x > hi ? hi : x;
}

typedef struct named_format {
    const char *name;
    int format, col_scale;
    double salient;
} named_format;

static const named_format FORMATS[] = {
    {"q8", QLOW_FORMAT_Q8, 0, 0},     {"q4", QLOW_FORMAT_Q4, 0, 0},   {"q3", QLOW_FORMAT_Q3, 0, 0},
    {"q2", QLOW_FORMAT_Q2, 0, 0},     {"t2", QLOW_FORMAT_T2, 0, 0},   {"t158", QLOW_FORMAT_T158, 0, 0},
    {"b1", QLOW_FORMAT_B1, 1, 0},     {"b2", QLOW_FORMAT_B2, 0, 0},   {"m161", QLOW_FORMAT_M161, 1, 0.1},
};

int main(int argc, char **argv)
{
    const named_format *f = NULL;
    for (size_t i = 0; argc > 1 && i < sizeof(FORMATS) / sizeof(FORMATS[0]); i++)
        if (strcmp(argv[1], FORMATS[i].name) == 0) f = &FORMATS[i];
    if (!f) {
        fprintf(stderr, "usage: bench_one q8|q4|q3|q2|t2|t158|b1|b2|m161 [rows [cols]] (see bench/bench_one.c)\n");
        return 2;
    }
    const int64_t R = argc > 2 ? atoll(argv[2]) : 4096, C = argc > 3 ? atoll(argv[3]) : 4096;
    const int threads = (int)env_long("BENCH_THREADS", 1, 1, 256), copies = (int)env_long("BENCH_COPIES", 1, 1, 256);
    const int64_t nb = env_long("BENCH_BATCH", 1, 1, 4096);
    const int calls = (int)env_long("BENCH_CALLS", 20, 1, 1000000), batches = (int)env_long("BENCH_BATCHES", 40, 1, 100000);
    if (R < 1 || C < 1 || R > 65536 || C > 65536) {
        fprintf(stderr, "rows and cols must be 1..65536\n");
        return 2;
    }

    qlow_ctx *ctx = NULL;
    if (qlow_ctx_create(NULL, &ctx) != QLOW_OK) return 1;
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads);
    if (getenv("BENCH_ISA")) qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, env_long("BENCH_ISA", 0, 0, 64));
    int64_t isa = 0;
    qlow_ctx_get_int(ctx, QLOW_CTX_ISA_MAX, &isa);

    tp_opts o;
    memset(&o, 0, sizeof(o));
    o.format = f->format;
    o.rows = R;
    o.cols = C;
    o.group_cols = env_long("BENCH_GROUP", 128, 32, 1 << 20);
    o.symmetric = (int)env_long("BENCH_SYM", 0, 0, 1);
    o.group_rows = 1;
    o.col_scale = f->col_scale;
    o.n_salient = (int64_t)(f->salient * (double)C);
    o.store_perm = 1;
    o.no_dequant = 1;
    o.seed = 77;
    tp_matrix *m = (tp_matrix *)calloc((size_t)copies, sizeof(tp_matrix));
    float *X = (float *)malloc((size_t)(C * nb) * sizeof(float)), *Y = (float *)malloc((size_t)(R * nb) * sizeof(float));
    if (!m || !X || !Y) return 1;
    for (int k = 0; k < copies; k++) { /* the same codes in each copy, so the checksum is the same */
        tp_make(&m[k], &o);
        tp_attach_prep(&m[k]);
    }
    for (int64_t j = 0; j < C * nb; j++) X[j] = (float)((j * 37 % 101) - 50) / 17.0f;
    size_t wsb = 0;
    qlow_gemm_workspace_size(&m[0].qm, nb, 0, &wsb);
    void *ws = aligned_alloc(64, (wsb + 63) / 64 * 64 + 64);
    if (!ws) return 1;

    for (int i = 0; i < 2 * copies + 10; i++) { /* warm-up: threads started, pages touched */
        qlow_status st = qlow_gemm_ws(ctx, &m[i % copies].qm, X, nb, Y, ws, wsb);
        if (st != QLOW_OK) {
            fprintf(stderr, "qlow_gemm_ws: %s\n", qlow_status_string(st));
            return 1;
        }
    }
    double best = 1e30;
    int k = 0;
    for (int b = 0; b < batches; b++) {
        const double t0 = now_s();
        for (int i = 0; i < calls; i++) {
            k = (k + 1) % copies;
            qlow_gemm_ws(ctx, &m[k].qm, X, nb, Y, ws, wsb);
        }
        const double us = (now_s() - t0) / calls * 1e6;
        if (us < best) best = us;
    }
    double check = 0;
    for (int64_t i = 0; i < R * nb; i++) check += (double)Y[i] * (double)(i % 7 + 1);
    printf("%s %lldx%lld batch %lld, %d thread%s, isa %lld, %d cop%s: best %.2f us per call (%d batches of %d calls), "
           "checksum %.9g\n",
           f->name, (long long)R, (long long)C, (long long)nb, threads, threads > 1 ? "s" : "", (long long)isa, copies,
           copies > 1 ? "ies" : "y", best, batches, calls, check);

    for (int c = 0; c < copies; c++) tp_free(&m[c]);
    free(m);
    free(X);
    free(Y);
    free(ws);
    qlow_ctx_destroy(ctx);
    return 0;
}
