/* export_sink.c - where export bytes go: a temporary file renamed over the target only when complete,
 * or a caller callback. */
#include <stdio.h>
#include <string.h>

#include "export/export_internal.h"

qlow_status qlow__xsink_open_path(qlow__xsink *s, const char *path, const qlow_allocator *alloc)
{
    memset(s, 0, sizeof *s);
    qlow__allocator_copy(&s->alloc, alloc);
    size_t len = strlen(path);
    if (len == 0) return QLOW_E_INVALID_ARG;
    s->tmp_path = (char *)qlow__alloc(&s->alloc, len + 5, 1);
    if (!s->tmp_path) return QLOW_E_NO_MEMORY;
    memcpy(s->tmp_path, path, len);
    memcpy(s->tmp_path + len, ".tmp", 5);
    s->path = path;
    qlow_status st = qlow__out_file_open(s->tmp_path, &s->alloc, &s->file);
    if (st) {
        qlow__free(&s->alloc, s->tmp_path);
        s->tmp_path = NULL;
    }
    return st;
}

void qlow__xsink_open_callback(qlow__xsink *s, qlow_write_fn fn, void *user)
{
    memset(s, 0, sizeof *s);
    s->fn = fn;
    s->user = user;
}

qlow_status qlow__xsink_write(qlow__xsink *s, const void *data, size_t size)
{
    if (!size) return QLOW_OK;
    qlow_status st = QLOW_OK;
    if (s->fn)
        st = s->fn(s->user, data, size) ? QLOW_E_CALLBACK : QLOW_OK;
    else
        st = qlow__out_file_write(s->file, data, size);
    if (!st) s->written += size;
    return st;
}

qlow_status qlow__xsink_zeros(qlow__xsink *s, size_t n)
{
    static const unsigned char zero[64];
    while (n) {
        size_t k = n < sizeof zero ? n : sizeof zero;
        qlow_status st = qlow__xsink_write(s, zero, k);
        if (st) return st;
        n -= k;
    }
    return QLOW_OK;
}

qlow_status qlow__xsink_finish(qlow__xsink *s, qlow_status st)
{
    if (s->fn || !s->tmp_path) return st;
    qlow_status cs = qlow__out_file_close(s->file, st != QLOW_OK);
    s->file = NULL;
    if (!st && cs) st = cs;
#if !defined(QLOW_FREESTANDING)
    if (!st && rename(s->tmp_path, s->path) != 0) {
        remove(s->tmp_path);
        st = QLOW_E_IO;
    }
#endif
    qlow__free(&s->alloc, s->tmp_path);
    s->tmp_path = NULL;
    return st;
}
