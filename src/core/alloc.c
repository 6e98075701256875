/* alloc.c - the allocator hook and the default allocator. This is the only file that may reference
 * malloc/free, and only when QLOW_NO_MALLOC is not defined. */
#include "internal.h"

#ifdef QLOW_HAVE_MALLOC
#include <stdlib.h>

/* Over-allocate and stash the original pointer just below the aligned block, so that plain malloc is
 * enough (aligned_alloc has size restrictions and is missing on some libcs). */
static void *libc_alloc(void *user, size_t size, size_t align)
{
    (void)user;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (size > SIZE_MAX - align - sizeof(void *)) return NULL;
    unsigned char *raw = (unsigned char *)malloc(size + align + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t p = ((uintptr_t)(raw + sizeof(void *)) + (align - 1)) & ~(uintptr_t)(align - 1);
    ((void **)p)[-1] = raw;
    return (void *)p;
}

static void libc_free(void *user, void *ptr)
{
    (void)user;
    free(((void **)ptr)[-1]);
}
#else
static void *libc_alloc(void *user, size_t size, size_t align)
{
    (void)user;
    (void)size;
    (void)align;
    return NULL;
}
static void libc_free(void *user, void *ptr)
{
    (void)user;
    (void)ptr;
}
#endif

static const qlow_allocator default_allocator = {libc_alloc, libc_free, NULL};

const qlow_allocator *qlow__default_allocator(void) { return &default_allocator; }

void qlow__allocator_copy(qlow_allocator *dst, const qlow_allocator *src)
{
    if (src && src->alloc && src->free)
        *dst = *src;
    else
        *dst = default_allocator;
}

void *qlow__alloc(const qlow_allocator *a, size_t size, size_t align)
{
    if (!a || !a->alloc) return NULL;
    if (align == 0 || (align & (align - 1)) != 0 || align > 4096) return NULL;
    return a->alloc(a->user, size ? size : 1, align);
}

void *qlow__calloc(const qlow_allocator *a, size_t size, size_t align)
{
    void *p = qlow__alloc(a, size, align);
    if (p) memset(p, 0, size);
    return p;
}

void qlow__free(const qlow_allocator *a, void *ptr)
{
    if (ptr && a && a->free) a->free(a->user, ptr);
}

void *qlow__wksp_take(qlow__wksp *w, size_t n)
{
    size_t start = qlow__align_up(w->used, 64);
    if (start < w->used || n > SIZE_MAX - start) {
        w->overflow = 1;
        return NULL;
    }
    w->used = start + n;
    if (!w->base) return NULL;
    if (w->used > w->size) {
        w->overflow = 1;
        return NULL;
    }
    return w->base + start;
}
