/* test_reliab_threads.c - thread safety as documented in qlow.h: functions marked thread-safe and
 * distinct handles used from several pthreads at once give the same results as a serial run. Run under
 * `make tsan` this also proves the absence of data races. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "qtest.h"

#define NTHREADS 4

typedef struct worker {
    int id;
    uint64_t digest; /* folds every result the worker saw */
    int failures;
} worker;

static uint64_t fold(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

/* Only thread-safe free functions and handles private to the calling thread. */
static uint64_t core_workload(int *failures)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t x = 0; x < 65536; x += 7) {
        h = fold(h, qlow_fp32_to_fp16(qlow_fp16_to_fp32((uint16_t)x) * 1.5f));
        h = fold(h, qlow_fp32_to_bf16(qlow_bf16_to_fp32((uint16_t)x) * 0.75f));
    }
    for (int c = 0; c >= -30; c--) h = fold(h, (uint64_t)strlen(qlow_status_string(c)));
    for (int f = 0; f < 10; f++) h = fold(h, (uint64_t)qlow_has_feature(f));
    for (int k = 0; k < 20; k++) {
        qlow_ctx *ctx = NULL;
        qlow_params *p = NULL;
        if (qlow_ctx_create(NULL, &ctx) != QLOW_OK || qlow_params_create(NULL, &p) != QLOW_OK) {
            (*failures)++;
        } else {
            int64_t v = 0;
            if (qlow_ctx_set_int(ctx, QLOW_CTX_SEED, k * 31) != QLOW_OK) (*failures)++;
            if (qlow_ctx_get_int(ctx, QLOW_CTX_SEED, &v) != QLOW_OK || v != k * 31) (*failures)++;
            h = fold(h, (uint64_t)v);
            if (qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &v) != QLOW_OK) (*failures)++;
            h = fold(h, (uint64_t)v);
        }
        qlow_params_destroy(p);
        qlow_ctx_destroy(ctx);
    }
    return h;
}

static void *core_thread(void *arg)
{
    worker *w = (worker *)arg;
    w->digest = core_workload(&w->failures);
    return NULL;
}

/* Starts `fn` on NTHREADS threads at once and checks every digest against the serial one. */
static void run_concurrently(const char *name, void *(*fn)(void *), uint64_t serial)
{
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    int started = 0;
    for (int i = 0; i < NTHREADS; i++) {
        w[i].id = i;
        w[i].digest = 0;
        w[i].failures = 0;
        if (pthread_create(&th[i], NULL, fn, &w[i]) == 0) started++;
        else break;
    }
    QT_CHECK(started == NTHREADS, "%s: started %d threads", name, started);
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        QT_CHECK(w[i].failures == 0, "%s: thread %d had %d failures", name, i, w[i].failures);
        QT_CHECK(w[i].digest == serial, "%s: thread %d digest %016llx, serial %016llx", name, i,
                 (unsigned long long)w[i].digest, (unsigned long long)serial);
    }
    printf("INFO concurrent %-24s %d threads identical to the serial run\n", name, started);
}

/* ---- immutable objects shared by every thread ---------------------------------------------------- */
static qlow_qmatrix *shared_qm[4];
static int n_shared_qm;
static qlow_tokenizer *shared_tok;
static qlow_model *shared_model;

static uint64_t fold_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) h = fold(h, b[i]);
    return h;
}

/* Reads every shared object through its documented thread-safe calls. */
static uint64_t shared_workload(int *failures)
{
    uint64_t h = 0xcbf29ce484222325ull;
    static _Thread_local float rows[64 * 300];
    for (int q = 0; q < n_shared_qm; q++) {
        int64_t r = 0, c = 0;
        if (qlow_qmatrix_shape(shared_qm[q], &r, &c) != QLOW_OK) (*failures)++;
        for (int64_t r0 = 0; r0 < r; r0 += 16) {
            int64_t nr = r - r0 < 16 ? r - r0 : 16;
            if (qlow_qmatrix_dequantize(shared_qm[q], r0, nr, rows, sizeof rows / sizeof rows[0]) != QLOW_OK) (*failures)++;
            h = fold_bytes(h, rows, (size_t)(nr * c) * sizeof(float));
        }
    }
    /* Products with the shared matrices: own ctx (2 OpenMP threads) and workspace per thread. */
    static _Thread_local float x[300 * 3], y[64 * 3];
    for (int j = 0; j < 300 * 3; j++) x[j] = (float)((j * 37) % 101 - 50) / 25.0f;
    qlow_ctx *kctx = NULL;
    if (qlow_ctx_create(NULL, &kctx) != QLOW_OK || qlow_ctx_set_int(kctx, QLOW_CTX_NUM_THREADS, 2) != QLOW_OK) (*failures)++;
    for (int q = 0; kctx && q < n_shared_qm; q++) {
        if (qlow_gemv(kctx, shared_qm[q], x, y) != QLOW_OK) (*failures)++;
        h = fold_bytes(h, y, 64 * sizeof(float));
        if (qlow_gemm(kctx, shared_qm[q], x, 3, y) != QLOW_OK) (*failures)++;
        h = fold_bytes(h, y, 3 * 64 * sizeof(float));
        if (qlow_gemm_act8(kctx, shared_qm[q], x, 3, y) != QLOW_OK) (*failures)++;
        h = fold_bytes(h, y, 3 * 64 * sizeof(float));
    }
    qlow_ctx_destroy(kctx);
    if (shared_tok) {
        static const char *texts[] = {"Once upon a time, there was a little girl named Lily.",
                                      "She liked to play outside in the park with her dog.", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac 3"};
        int32_t ids[128];
        char out[256];
        for (int k = 0; k < 3; k++) {
            size_t n = 0, len = 0;
            if (qlow_tokenizer_encode(shared_tok, texts[k], strlen(texts[k]), 1, 0, ids, 128, &n) != QLOW_OK) (*failures)++;
            h = fold_bytes(h, ids, n * sizeof(int32_t));
            if (qlow_tokenizer_decode(shared_tok, ids, n, out, sizeof out, &len) != QLOW_OK || len != strlen(texts[k]) ||
                memcmp(out, texts[k], len) != 0)
                (*failures)++;
        }
    }
    if (shared_model) {
        size_t count = 0;
        static _Thread_local float buf[1 << 16];
        if (qlow_model_tensor_count(shared_model, &count) != QLOW_OK) (*failures)++;
        for (size_t i = 0; i < count; i += 3) {
            int32_t ndim = 0;
            int64_t shape[4];
            if (qlow_model_tensor_info(shared_model, i, NULL, NULL, &ndim, shape) != QLOW_OK) (*failures)++;
            size_t n = 1;
            for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
            if (n > sizeof buf / sizeof buf[0]) continue;
            if (qlow_model_tensor_read_f32(shared_model, i, buf, n) != QLOW_OK) (*failures)++;
            h = fold_bytes(h, buf, n * sizeof(float));
        }
    }
    return h;
}

static void *shared_thread(void *arg)
{
    worker *w = (worker *)arg;
    w->digest = shared_workload(&w->failures);
    return NULL;
}

/* Each thread quantizes with its own multi-threaded ctx (OpenMP inside pthreads). */
static float qw[48 * 160];
static uint64_t quantize_workload(int *failures)
{
    qlow_ctx *ctx = NULL;
    qlow_qmatrix *qm = NULL;
    qlow_view W;
    uint64_t h = 0;
    size_t n = 0;
    qlow_view_init_2d(&W, QLOW_DTYPE_F32, 48, 160, qw);
    if (qlow_ctx_create(NULL, &ctx) != QLOW_OK || qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 2) != QLOW_OK ||
        qlow_quantize(ctx, NULL, &W, NULL, &qm) != QLOW_OK || qlow_qmatrix_serialized_size(qm, &n) != QLOW_OK) {
        (*failures)++;
    } else {
        unsigned char *img = (unsigned char *)malloc(n);
        if (!img || qlow_qmatrix_serialize(qm, img, n) != QLOW_OK) (*failures)++;
        else h = fold_bytes(0, img, n);
        free(img);
    }
    qlow_qmatrix_destroy(qm);
    qlow_ctx_destroy(ctx);
    return h;
}
static void *quantize_thread(void *arg)
{
    worker *w = (worker *)arg;
    w->digest = quantize_workload(&w->failures);
    return NULL;
}

static void setup_shared(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    static float w[64 * 300];
    for (int i = 0; i < 64 * 300; i++) w[i] = (float)qt_rand_normal();
    qlow_view W;
    QT_CHECK_OK(qlow_view_init_2d(&W, QLOW_DTYPE_F32, 64, 300, w));
    static const int schemes[4] = {QLOW_SCHEME_RTN, QLOW_SCHEME_BINARY, QLOW_SCHEME_BINARY_RESIDUAL, QLOW_SCHEME_TERNARY};
    for (int s = 0; s < 4 && ctx; s++) {
        qlow_params *p = NULL;
        QT_CHECK_OK(qlow_params_create(NULL, &p));
        qlow_params_set_int(p, QLOW_P_SCHEME, schemes[s]);
        if (qlow_quantize(ctx, p, &W, NULL, &shared_qm[n_shared_qm]) == QLOW_OK) n_shared_qm++;
        qlow_params_destroy(p);
    }
    QT_CHECK(n_shared_qm == 4, "shared matrices");
    qlow_ctx_destroy(ctx);
    char path[512];
    QT_CHECK_OK(qlow_tokenizer_open(qt_path("data/tok512.bin", path, sizeof path), 512, NULL, &shared_tok));
    QT_CHECK_OK(qlow_model_open(qt_path("data/stories260K.bin", path, sizeof path), NULL, NULL, &shared_model));
    for (int i = 0; i < 48 * 160; i++) qw[i] = (float)qt_rand_normal();
}

int main(void)
{
    int failures = 0;
    uint64_t serial = core_workload(&failures);
    QT_CHECK(failures == 0, "serial core workload");
    run_concurrently("core (ctx, params, fp16)", core_thread, serial);

    setup_shared();
    failures = 0;
    serial = shared_workload(&failures);
    QT_CHECK(failures == 0, "serial shared workload: %d failures", failures);
    run_concurrently("shared qmatrix/tokenizer/model", shared_thread, serial);
    failures = 0;
    serial = quantize_workload(&failures);
    QT_CHECK(failures == 0, "serial quantize");
    run_concurrently("quantize (2 OpenMP threads each)", quantize_thread, serial);

    for (int q = 0; q < n_shared_qm; q++) qlow_qmatrix_destroy(shared_qm[q]);
    qlow_tokenizer_close(shared_tok);
    qlow_model_close(shared_model);
    return qt_finish();
}
