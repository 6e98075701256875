/* io_testutil.h - file helpers shared by the tests/unit/test_io_*.c programs. */
#ifndef QLOW_IO_TESTUTIL_H
#define QLOW_IO_TESTUTIL_H

#include "qtest.h"

/* The whole file at `path` in malloc'ed memory with a NUL after it, or NULL. */
static unsigned char *io_read_path(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n >= 0 ? (unsigned char *)malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(f);
    *size = (size_t)n;
    return b;
}

/* A repository data file (relative to the repository root, see qt_path). */
static inline unsigned char *io_read_data(const char *rel, size_t *size)
{
    char path[512];
    return io_read_path(qt_path(rel, path, sizeof path), size);
}

#endif
