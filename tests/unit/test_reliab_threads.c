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

int main(void)
{
    int failures = 0;
    uint64_t serial = core_workload(&failures);
    QT_CHECK(failures == 0, "serial core workload");
    run_concurrently("core (ctx, params, fp16)", core_thread, serial);
    return qt_finish();
}
