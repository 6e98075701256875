/* serialize.c - save an accumulator to caller memory and restore it, so calibration runs once.
 * Layout (little-endian host order, version 1):
 *   "QLHS" | u32 version | u32 mode | u32 byte-order mark 0x01020304 | i64 cols | i64 tokens |
 *   u64 payload doubles | colsum[cols] | FULL: lower triangle of sum x x^T row by row, DIAG: sumsq[cols] |
 *   u64 FNV-1a 64 of every preceding byte. */
#include "hessian.h"

#define HDR_BYTES 40
#define FILE_VERSION 1u
#define BOM 0x01020304u

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static qlow_status payload_doubles(int64_t cols, int32_t mode, size_t *count)
{
    size_t d = (size_t)cols, tri;
    if (mode == QLOW_HESSIAN_FULL) {
        QLOW_TRY(qlow__mul_size(d, d + 1, &tri));
        tri /= 2;
    } else {
        tri = d;
    }
    return qlow__add_size(tri, d, count);
}

static qlow_status total_bytes(int64_t cols, int32_t mode, size_t *bytes, size_t *count)
{
    QLOW_TRY(payload_doubles(cols, mode, count));
    size_t b;
    QLOW_TRY(qlow__mul_size(*count, sizeof(double), &b));
    QLOW_TRY(qlow__add_size(b, HDR_BYTES + 8, bytes));
    return QLOW_OK;
}

qlow_status qlow_hessian_save_size(const qlow_hessian *h, size_t *bytes)
{
    QLOW_TRY(qlow__hessian_check(h));
    if (!bytes) return QLOW_E_NULL_POINTER;
    size_t count;
    return total_bytes(h->cols, h->mode, bytes, &count);
}

qlow_status qlow_hessian_save(const qlow_hessian *h, void *buffer, size_t buffer_bytes, size_t *written)
{
    QLOW_TRY(qlow__hessian_check(h));
    if (!buffer) return QLOW_E_NULL_POINTER;
    size_t need, count;
    QLOW_TRY(total_bytes(h->cols, h->mode, &need, &count));
    if (buffer_bytes < need) return QLOW_E_BUFFER_TOO_SMALL;
    unsigned char *p = (unsigned char *)buffer;
    uint32_t u32[4] = {0, FILE_VERSION, (uint32_t)h->mode, BOM};
    memcpy(u32, "QLHS", 4);
    memcpy(p, u32, 16);
    int64_t i64[2] = {h->cols, h->tokens};
    memcpy(p + 16, i64, 16);
    uint64_t cnt = count;
    memcpy(p + 32, &cnt, 8);
    unsigned char *q = p + HDR_BYTES;
    size_t d = (size_t)h->cols;
    memcpy(q, h->colsum, d * sizeof(double));
    q += d * sizeof(double);
    if (h->mode == QLOW_HESSIAN_FULL) {
        for (size_t j = 0; j < d; j++) {
            memcpy(q, h->S + j * d, (j + 1) * sizeof(double));
            q += (j + 1) * sizeof(double);
        }
    } else {
        memcpy(q, h->sumsq, d * sizeof(double));
        q += d * sizeof(double);
    }
    uint64_t sum = fnv1a(p, (size_t)(q - p));
    memcpy(q, &sum, 8);
    if (written) *written = need;
    return QLOW_OK;
}

qlow_status qlow_hessian_load(const qlow_allocator *alloc, const void *buffer, size_t buffer_bytes,
                              qlow_hessian **out)
{
    if (!buffer || !out) return QLOW_E_NULL_POINTER;
    const unsigned char *p = (const unsigned char *)buffer;
    if (buffer_bytes < HDR_BYTES + 8) return QLOW_E_TRUNCATED;
    if (memcmp(p, "QLHS", 4) != 0) return QLOW_E_FORMAT;
    uint32_t u32[4];
    memcpy(u32, p, 16);
    if (u32[1] != FILE_VERSION) return QLOW_E_VERSION_MISMATCH;
    if (u32[3] != BOM) return QLOW_E_FORMAT;
    int32_t mode = (int32_t)u32[2];
    if (mode != QLOW_HESSIAN_FULL && mode != QLOW_HESSIAN_DIAG) return QLOW_E_FORMAT;
    int64_t i64[2];
    memcpy(i64, p + 16, 16);
    if (i64[0] <= 0 || i64[1] < 0) return QLOW_E_FORMAT;
    uint64_t cnt;
    memcpy(&cnt, p + 32, 8);
    size_t need, count;
    qlow_status st = total_bytes(i64[0], mode, &need, &count);
    if (st != QLOW_OK) return QLOW_E_FORMAT;
    if (cnt != count) return QLOW_E_FORMAT;
    if (buffer_bytes < need) return QLOW_E_TRUNCATED;
    uint64_t sum;
    memcpy(&sum, p + need - 8, 8);
    if (fnv1a(p, need - 8) != sum) return QLOW_E_CHECKSUM;
    const unsigned char *q = p + HDR_BYTES;
    for (size_t i = 0; i < count; i++) {
        double v;
        memcpy(&v, q + i * sizeof(double), sizeof(double));
        if (!(v - v == 0.0)) return QLOW_E_FORMAT;
    }
    qlow_hessian *h = NULL;
    QLOW_TRY(qlow_hessian_create(alloc, i64[0], mode, &h));
    size_t d = (size_t)h->cols;
    memcpy(h->colsum, q, d * sizeof(double));
    q += d * sizeof(double);
    if (mode == QLOW_HESSIAN_FULL) {
        for (size_t j = 0; j < d; j++) {
            memcpy(h->S + j * d, q, (j + 1) * sizeof(double));
            q += (j + 1) * sizeof(double);
        }
    } else {
        memcpy(h->sumsq, q, d * sizeof(double));
    }
    h->tokens = i64[1];
    *out = h;
    return QLOW_OK;
}
