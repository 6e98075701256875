/* qtest.h - the tiny test harness every tests/unit/ files uses. A test program calls QT_CHECK for each
 * assertion and returns qt_finish() from main, which prints "N passed, N failed" as its last line;
 * tests/run_tests.sh adds those up. Also: counting and failing allocators for allocation tests. */
#ifndef QLOW_QTEST_H
#define QLOW_QTEST_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlow.h"

static int qt_passed_, qt_failed_;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int qt_check_(int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok) {
        qt_passed_++;
        return 1;
    }
    qt_failed_++;
    fprintf(stdout, "FAIL %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    return 0;
}

/* QT_CHECK(cond, "printf message", ...) */
#define QT_CHECK(cond, ...) qt_check_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define QT_CHECK_OK(expr)                                                                              \
    do {                                                                                               \
        qlow_status qt_s_ = (expr);                                                                    \
        QT_CHECK(qt_s_ == QLOW_OK, "%s -> %d (%s)", #expr, (int)qt_s_, qlow_status_string(qt_s_));     \
    } while (0)
#define QT_CHECK_STATUS(expr, want)                                                                    \
    do {                                                                                               \
        qlow_status qt_s_ = (expr);                                                                    \
        QT_CHECK(qt_s_ == (want), "%s -> %d (%s), want %d", #expr, (int)qt_s_,                        \
                 qlow_status_string(qt_s_), (int)(want));                                              \
    } while (0)

static inline int qt_finish(void)
{
    printf("%d passed, %d failed\n", qt_passed_, qt_failed_);
    return qt_failed_ ? 1 : 0;
}

/* Test data lives in the repository; tests run from the repository root (QLOW_SRCDIR overrides). */
static inline const char *qt_path(const char *rel, char *buf, size_t n)
{
    const char *root = getenv("QLOW_SRCDIR");
    snprintf(buf, n, "%s/%s", root && *root ? root : ".", rel);
    return buf;
}

/* ---- counting / failing allocator ---- */
typedef struct qt_alloc_state {
    long live;       /* allocations not yet freed */
    long total;      /* allocations attempted */
    long fail_at;    /* 1-based attempt number that fails; 0 = never */
    size_t bytes_live;
} qt_alloc_state;

static inline void *qt_alloc_fn(void *user, size_t size, size_t align)
{
    qt_alloc_state *s = (qt_alloc_state *)user;
    s->total++;
    if (s->fail_at && s->total >= s->fail_at) return NULL;
    if (align < 16) align = 16;
    unsigned char *raw = (unsigned char *)malloc(size + align + 16);
    if (!raw) return NULL;
    uintptr_t p = ((uintptr_t)raw + 16 + align - 1) & ~(uintptr_t)(align - 1);
    ((void **)p)[-1] = raw;
    ((size_t *)p)[-2] = size;
    s->live++;
    s->bytes_live += size;
    return (void *)p;
}
static inline void qt_free_fn(void *user, void *ptr)
{
    qt_alloc_state *s = (qt_alloc_state *)user;
    s->live--;
    s->bytes_live -= ((size_t *)ptr)[-2];
    free(((void **)ptr)[-1]);
}
static inline qlow_allocator qt_allocator(qt_alloc_state *s)
{
    qlow_allocator a;
    a.alloc = qt_alloc_fn;
    a.free = qt_free_fn;
    a.user = s;
    return a;
}

/* Run `body` (a statement using allocator `qa` that returns status `st`) with the allocator failing at
 * attempt 1, 2, ... until it succeeds; every failing run must give QLOW_E_NO_MEMORY and leak nothing.
 * `cleanup` frees what a successful run made. Counts the failure points in *points. */
#define QT_ALLOC_FAIL_LOOP(points, body, cleanup)                                                      \
    do {                                                                                               \
        for (long qt_n_ = 1; qt_n_ < 100000; qt_n_++) {                                                \
            qt_alloc_state qt_as_ = {0, 0, qt_n_, 0};                                                  \
            qlow_allocator qa = qt_allocator(&qt_as_);                                                 \
            qlow_status st = QLOW_OK;                                                                  \
            body;                                                                                      \
            if (st == QLOW_OK) {                                                                       \
                cleanup;                                                                               \
                QT_CHECK(qt_as_.live == 0, "leak after success: %ld live", qt_as_.live);               \
                break;                                                                                 \
            }                                                                                          \
            (*(points))++;                                                                             \
            QT_CHECK(st == QLOW_E_NO_MEMORY, "fail at %ld: status %d", qt_n_, (int)st);                \
            QT_CHECK(qt_as_.live == 0, "fail at %ld: %ld allocations leaked", qt_n_, qt_as_.live);     \
        }                                                                                              \
    } while (0)

/* Deterministic test data. */
static uint64_t qt_rng_state_ = 0x1234567887654321ull;
static inline uint64_t qt_rand_u64(void)
{
    uint64_t z = (qt_rng_state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline double qt_rand_uniform(void) { return (double)(qt_rand_u64() >> 11) * (1.0 / 9007199254740992.0); }
static inline double qt_rand_normal(void)
{
    double u1 = qt_rand_uniform(), u2 = qt_rand_uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
