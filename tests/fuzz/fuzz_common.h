/* fuzz_common.h - helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Each target defines a static `fuzz_<name>(const uint8_t *data, size_t size)` and, unless
 * QLOW_FUZZ_NO_ENTRY is defined, the libFuzzer entry point calling it. tests/unit/test_reliab_regress.c
 * defines QLOW_FUZZ_NO_ENTRY, includes every target and replays tests/regress/<name>/ and
 * tests/fuzz/corpus/<name>/ through them inside `make check`, so each crash found stays a permanent test.
 *
 * A target checks properties, not only absence of crashes: a violated property calls FUZZ_FAIL, which
 * aborts under libFuzzer (so it is reported as a crash with its input) and counts a test failure in the
 * replay driver. */
#ifndef QLOW_FUZZ_COMMON_H
#define QLOW_FUZZ_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlow.h"

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(...)                                                                                 \
    do {                                                                                               \
        fprintf(stderr, "fuzz property violated at %s:%d: ", __FILE__, __LINE__);                      \
        fprintf(stderr, __VA_ARGS__);                                                                  \
        fputc('\n', stderr);                                                                           \
        abort();                                                                                       \
    } while (0)
#endif
#define FUZZ_REQUIRE(cond, ...)                                                                        \
    do {                                                                                               \
        if (!(cond)) FUZZ_FAIL(__VA_ARGS__);                                                           \
    } while (0)

/* Consumes the fuzz input front to back; reads past the end give zeros, so every input is valid. */
typedef struct fuzz_reader {
    const uint8_t *data;
    size_t size, pos;
} fuzz_reader;

static inline void fuzz_reader_init(fuzz_reader *r, const uint8_t *data, size_t size)
{
    r->data = data;
    r->size = size;
    r->pos = 0;
}
static inline int fuzz_more(const fuzz_reader *r) { return r->pos < r->size; }
static inline uint8_t fuzz_u8(fuzz_reader *r) { return r->pos < r->size ? r->data[r->pos++] : 0; }
static inline uint32_t fuzz_u32(fuzz_reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)fuzz_u8(r) << (8 * i);
    return v;
}
static inline uint64_t fuzz_u64(fuzz_reader *r)
{
    uint64_t lo = fuzz_u32(r);
    return lo | ((uint64_t)fuzz_u32(r) << 32);
}
static inline double fuzz_f64(fuzz_reader *r)
{
    uint64_t u = fuzz_u64(r);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}
static inline float fuzz_f32(fuzz_reader *r)
{
    uint32_t u = fuzz_u32(r);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
/* The unread rest of the input. */
static inline const uint8_t *fuzz_rest(const fuzz_reader *r, size_t *n)
{
    *n = r->size - r->pos;
    return r->data + r->pos;
}

/* Counting allocator that can be told to fail from the fail_at-th attempt on (0 = never); lets a target
 * explore out-of-memory paths and check that everything allocated was freed. */
typedef struct fuzz_alloc_state {
    long live, attempts, fail_at;
} fuzz_alloc_state;

static inline void *fuzz_alloc_fn(void *user, size_t size, size_t align)
{
    fuzz_alloc_state *s = (fuzz_alloc_state *)user;
    s->attempts++;
    if (s->fail_at && s->attempts >= s->fail_at) return NULL;
    /* Requests beyond this cannot be satisfied in a fuzzing process; reporting failure keeps the target
     * from tripping libFuzzer's malloc limit on inputs that declare huge tensors. */
    if (size > ((size_t)256 << 20)) return NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    unsigned char *raw = (unsigned char *)malloc(size + align + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t p = ((uintptr_t)(raw + sizeof(void *)) + (align - 1)) & ~(uintptr_t)(align - 1);
    ((void **)p)[-1] = raw;
    s->live++;
    return (void *)p;
}
static inline void fuzz_free_fn(void *user, void *ptr)
{
    fuzz_alloc_state *s = (fuzz_alloc_state *)user;
    s->live--;
    free(((void **)ptr)[-1]);
}
static inline qlow_allocator fuzz_allocator(fuzz_alloc_state *s, long fail_at)
{
    qlow_allocator a;
    s->live = 0;
    s->attempts = 0;
    s->fail_at = fail_at;
    a.alloc = fuzz_alloc_fn;
    a.free = fuzz_free_fn;
    a.user = s;
    return a;
}

/* A copy of data[0..n) at 64-byte alignment whose heap block is exactly n bytes long, so that ASan
 * reports any read past the end (libFuzzer's own buffer has no alignment guarantee). Free with free(). */
static inline unsigned char *fuzz_copy_aligned(const uint8_t *data, size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1) != 0) return NULL;
    if (n) memcpy(p, data, n);
    return (unsigned char *)p;
}

/* Reads every byte of p[0..n) so that ASan checks the whole range a library call handed out. */
static inline unsigned fuzz_touch(const void *p, size_t n)
{
    const volatile unsigned char *b = (const volatile unsigned char *)p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

static inline void fuzz_put64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static inline uint64_t fuzz_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}
static inline void fuzz_put32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

/* Every status a function returns must be one of the pinned codes. */
static inline int fuzz_status_known(qlow_status s)
{
    return s <= 0 && s >= QLOW_E_INTERNAL;
}

#endif
