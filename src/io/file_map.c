/* file_map.c - the only place in src/io that touches the file system. POSIX systems map files with
 * mmap (pages are read lazily, so a model larger than memory can be walked one tensor at a time);
 * elsewhere, or when asked, the file is read into allocator memory. Freestanding builds have no files. */
#if !defined(_WIN32) && !defined(QLOW_FREESTANDING) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#if !defined(_WIN32) && !defined(QLOW_FREESTANDING) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE 1 /* madvise */
#endif
#include "io/io_internal.h"

#if !defined(QLOW_FREESTANDING)
#include <stdio.h>
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define QLOW_HAVE_MMAP 1
#endif
#endif

#if !defined(QLOW_FREESTANDING)
static qlow_status read_whole(const char *path, const qlow_allocator *alloc, qlow__file_map *map)
{
    FILE *f = fopen(path, "rb");
    if (!f) return QLOW_E_IO;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return QLOW_E_IO;
    }
    long end = ftell(f);
    if (end < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return QLOW_E_IO;
    }
    if ((unsigned long)end > (unsigned long)(SIZE_MAX - 64)) {
        fclose(f);
        return QLOW_E_OVERFLOW;
    }
    size_t size = (size_t)end;
    unsigned char *buf = (unsigned char *)qlow__alloc(alloc, size, 64);
    if (!buf) {
        fclose(f);
        return QLOW_E_NO_MEMORY;
    }
    size_t got = size ? fread(buf, 1, size, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (got != size || err) {
        qlow__free(alloc, buf);
        return QLOW_E_IO;
    }
    map->data = buf;
    map->size = size;
    map->kind = 2;
    map->base = buf;
    map->base_size = size;
    return QLOW_OK;
}
#endif

qlow_status qlow__file_map_open(const char *path, int use_mmap, const qlow_allocator *alloc,
                                qlow__file_map *map)
{
#if defined(QLOW_FREESTANDING)
    (void)path;
    (void)use_mmap;
    (void)alloc;
    (void)map;
    return QLOW_E_UNSUPPORTED;
#else
    if (!path || !map) return QLOW_E_NULL_POINTER;
#if defined(QLOW_HAVE_MMAP)
    if (use_mmap) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) return QLOW_E_IO;
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            return QLOW_E_IO;
        }
        if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
            close(fd);
            return QLOW_E_OVERFLOW;
        }
        size_t size = (size_t)st.st_size;
        if (size == 0) {
            close(fd);
            map->data = (const unsigned char *)"";
            map->size = 0;
            map->kind = 0;
            map->base = NULL;
            map->base_size = 0;
            return QLOW_OK;
        }
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p == MAP_FAILED) return QLOW_E_IO;
        map->data = (const unsigned char *)p;
        map->size = size;
        map->kind = 1;
        map->base = p;
        map->base_size = size;
        return QLOW_OK;
    }
#else
    (void)use_mmap;
#endif
    return read_whole(path, alloc, map);
#endif
}

void qlow__file_map_close(qlow__file_map *map, const qlow_allocator *alloc)
{
    if (!map) return;
#if defined(QLOW_HAVE_MMAP)
    if (map->kind == 1) munmap(map->base, map->base_size);
#endif
    if (map->kind == 2) qlow__free(alloc, map->base);
    map->kind = 0;
    map->base = NULL;
    map->data = NULL;
    map->size = 0;
}

void qlow__file_map_release(const qlow__file_map *map, size_t offset, size_t bytes)
{
#if defined(QLOW_HAVE_MMAP) && defined(MADV_DONTNEED)
    if (map->kind != 1 || bytes == 0 || offset > map->size || bytes > map->size - offset) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    /* Only whole pages inside the range: neighbours may still be in use. */
    uintptr_t lo = (uintptr_t)(map->data + offset), hi = lo + bytes;
    lo = (lo + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    hi &= ~((uintptr_t)page - 1);
    if (hi > lo) madvise((void *)lo, (size_t)(hi - lo), MADV_DONTNEED);
#else
    (void)map;
    (void)offset;
    (void)bytes;
#endif
}

/* ---- sequential output ---- */
struct qlow__out_file {
    qlow_allocator alloc;
#if !defined(QLOW_FREESTANDING)
    FILE *f;
#endif
    char *path;
};

qlow_status qlow__out_file_open(const char *path, const qlow_allocator *alloc, qlow__out_file **out)
{
#if defined(QLOW_FREESTANDING)
    (void)path;
    (void)alloc;
    (void)out;
    return QLOW_E_UNSUPPORTED;
#else
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    size_t len = strlen(path);
    qlow__out_file *f = (qlow__out_file *)qlow__alloc(&a, sizeof *f, 8);
    if (!f) return QLOW_E_NO_MEMORY;
    f->alloc = a;
    f->path = (char *)qlow__alloc(&a, len + 1, 1);
    if (!f->path) {
        qlow__free(&a, f);
        return QLOW_E_NO_MEMORY;
    }
    memcpy(f->path, path, len + 1);
    f->f = fopen(path, "wb");
    if (!f->f) {
        qlow__free(&a, f->path);
        qlow__free(&a, f);
        return QLOW_E_IO;
    }
    *out = f;
    return QLOW_OK;
#endif
}

qlow_status qlow__out_file_write(qlow__out_file *f, const void *data, size_t size)
{
#if defined(QLOW_FREESTANDING)
    (void)f;
    (void)data;
    (void)size;
    return QLOW_E_UNSUPPORTED;
#else
    if (size && fwrite(data, 1, size, f->f) != size) return QLOW_E_IO;
    return QLOW_OK;
#endif
}

qlow_status qlow__out_file_close(qlow__out_file *f, int discard)
{
    if (!f) return QLOW_OK;
    qlow_status st = QLOW_OK;
#if !defined(QLOW_FREESTANDING)
    if (fclose(f->f) != 0) st = QLOW_E_IO;
    if (discard || st != QLOW_OK) remove(f->path);
#endif
    qlow_allocator a = f->alloc;
    qlow__free(&a, f->path);
    qlow__free(&a, f);
    return discard ? QLOW_OK : st;
}
