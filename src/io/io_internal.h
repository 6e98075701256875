/* io_internal.h - helpers shared by the file readers and writers of src/io: little-endian loads,
 * checksums, hashing, sorting, and mapping a file into memory. Never installed. */
#ifndef QLOW_IO_INTERNAL_H
#define QLOW_IO_INTERNAL_H

#include "core/internal.h"

/* ---- little-endian loads and stores (alignment-free, host-endian independent) ---- */
static inline uint16_t qlow__ld16(const unsigned char *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }
static inline uint32_t qlow__ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t qlow__ld64(const unsigned char *p)
{
    return (uint64_t)qlow__ld32(p) | (uint64_t)qlow__ld32(p + 4) << 32;
}
static inline void qlow__st32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static inline void qlow__st64(unsigned char *p, uint64_t v)
{
    qlow__st32(p, (uint32_t)v);
    qlow__st32(p + 4, (uint32_t)(v >> 32));
}
static inline int qlow__host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- checksums and hashes ---- */
/* CRC-32C; start with crc = 0 and feed pieces in order. */
QLOW_HIDDEN uint32_t qlow__crc32c_update(uint32_t crc, const void *data, size_t size);

typedef struct qlow__sha256 {
    uint32_t h[8];
    uint64_t total;
    unsigned char buf[64];
    size_t fill;
} qlow__sha256;
QLOW_HIDDEN void qlow__sha256_init(qlow__sha256 *s);
QLOW_HIDDEN void qlow__sha256_update(qlow__sha256 *s, const void *data, size_t size);
QLOW_HIDDEN void qlow__sha256_final(qlow__sha256 *s, unsigned char out[32]);

/* ---- sorting: in-place heapsort of uint32 indices with a caller comparison (no recursion, no libc) ---- */
typedef int (*qlow__cmp_fn)(const void *ctx, uint32_t a, uint32_t b);
QLOW_HIDDEN void qlow__sort_indices(uint32_t *idx, size_t n, qlow__cmp_fn cmp, const void *ctx);

/* Binary search of `order` (n indices sorted by name) for `name`: *index gets the matching index.
 * name_of returns element i's name and length. QLOW_E_NOT_FOUND when absent. */
typedef const char *(*qlow__name_fn)(const void *ctx, uint32_t i, size_t *len);
QLOW_HIDDEN qlow_status qlow__find_by_name(const uint32_t *order, size_t n, qlow__name_fn name_of, const void *ctx,
                                           const char *name, size_t *index);

/* Byte strings compared as unsigned bytes, shorter first on a common prefix. */
static inline int qlow__bytes_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c) return c;
    return na < nb ? -1 : na > nb;
}

/* ---- a whole file in memory: mmap'ed (read-only) or read into allocator memory ---- */
typedef struct qlow__file_map {
    const unsigned char *data;
    size_t size;
    int kind;   /* 0 = caller buffer (not owned), 1 = mmap, 2 = allocator memory */
    void *base; /* what to unmap or free */
    size_t base_size;
} qlow__file_map;
/* Map `path`. use_mmap = 0 forces the read path. QLOW_E_IO when the file cannot be opened or read,
 * QLOW_E_UNSUPPORTED without a file system, QLOW_E_NO_MEMORY on the read path, QLOW_E_OVERFLOW if the
 * file does not fit the address space. */
QLOW_HIDDEN qlow_status qlow__file_map_open(const char *path, int use_mmap, const qlow_allocator *alloc,
                                            qlow__file_map *map);
QLOW_HIDDEN void qlow__file_map_close(qlow__file_map *map, const qlow_allocator *alloc);
/* Let the OS drop the resident pages wholly inside [offset, offset + bytes) of a mapped file (they are
 * read again from the file on the next access). No effect for other kinds of maps. */
QLOW_HIDDEN void qlow__file_map_release(const qlow__file_map *map, size_t offset, size_t bytes);

/* Sequential writer to a file (stdio); used by the .qlow writer. */
typedef struct qlow__out_file qlow__out_file;
QLOW_HIDDEN qlow_status qlow__out_file_open(const char *path, const qlow_allocator *alloc, qlow__out_file **out);
QLOW_HIDDEN qlow_status qlow__out_file_write(qlow__out_file *f, const void *data, size_t size);
/* Close; when `discard` the partial file is removed. QLOW_E_IO if flushing fails. */
QLOW_HIDDEN qlow_status qlow__out_file_close(qlow__out_file *f, int discard);

#endif
