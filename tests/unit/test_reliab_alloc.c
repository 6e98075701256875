/* test_reliab_alloc.c - SQLite-style allocation-failure sweep over every public function that allocates:
 * the allocator hook fails at the 1st, 2nd, ... N-th attempt until the call succeeds. Each failing call
 * must return QLOW_E_NO_MEMORY, leave its out-pointers untouched and leak nothing (counting allocator);
 * the successful call must have allocated through the hook only, and its destroy must free everything. */
#include "qtest.h"

static long points_total;
static int sentinel_;
#define SENTINEL ((void *)&sentinel_)

/* Runs one sweep: `make` creates the object into *out using allocator `qa`; `destroy` frees it. */
#define SWEEP(name, T, make, destroy)                                                                  \
    do {                                                                                               \
        long pts = 0;                                                                                  \
        long total_ok = 0;                                                                             \
        QT_ALLOC_FAIL_LOOP(&pts,                                                                       \
            {                                                                                          \
                T *out = (T *)SENTINEL;                                                                \
                st = (make);                                                                           \
                if (st != QLOW_OK)                                                                     \
                    QT_CHECK(out == (T *)SENTINEL, "%s: out-pointer written on failure %d", name, (int)st); \
                else                                                                                   \
                    total_ok = qt_as_.total;                                                           \
                if (st == QLOW_OK) { destroy; }                                                        \
            },                                                                                         \
            (void)0);                                                                                  \
        QT_CHECK(pts >= 1 && total_ok == pts, "%s: %ld failure points, %ld allocations", name, pts, \
                 total_ok);                                                                            \
        printf("INFO   %-28s %ld failure points\n", name, pts);                                        \
        points_total += pts;                                                                           \
    } while (0)

static void core_objects(void)
{
    SWEEP("qlow_ctx_create", qlow_ctx, qlow_ctx_create(&qa, &out), qlow_ctx_destroy(out));
    SWEEP("qlow_params_create", qlow_params, qlow_params_create(&qa, &out), qlow_params_destroy(out));
}

/* A static context has no allocator: anything that would allocate through it must report
 * QLOW_E_NO_MEMORY rather than fall back to libc. */
static void static_ctx_never_allocates(void)
{
    _Alignas(64) unsigned char mem[1024];
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_init_static(mem, sizeof mem, &ctx));
    QT_CHECK(ctx != NULL, "static ctx");
}

int main(void)
{
    core_objects();
    static_ctx_never_allocates();
    printf("INFO alloc-failure points tested: %ld\n", points_total);
    return qt_finish();
}
