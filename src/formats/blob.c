/* blob.c - header encoding, checksums and validation of serialized packed matrices. */
#include "formats/blob.h"

/* Firmware builds link this file with only memcpy/memset available, so compare bytes here. */
static int bytes_differ(const void *a, const void *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(x[i] ^ y[i]);
    return d != 0;
}

static const uint8_t magic[8] = {'Q', 'L', 'O', 'W', 'Q', 'M', 'A', 'T'};

enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_HEADER_BYTES = 12,
    H_FORMAT = 16,
    H_BITS = 20,
    H_SYMMETRIC = 24,
    H_FLAGS = 28,
    H_ROWS = 32,
    H_COLS = 40,
    H_GROUP_COLS = 48,
    H_GROUP_ROWS = 56,
    H_N_SALIENT = 64,
    H_TOTAL_BYTES = 72,
    H_PAYLOAD_SUM = 80,
    H_RESERVED = 88, /* 32 zero bytes */
    H_HEADER_SUM = 120
};
#define FLAG_COL_SCALE 1u

int qlow__host_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}
static void wr32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

uint64_t qlow__checksum64(const uint8_t *p, size_t n)
{
    const uint64_t prime = 0x100000001b3ull;
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        h = (h ^ rd64(p + i)) * prime;
        h ^= h >> 32;
    }
    for (; i < n; i++) h = (h ^ p[i]) * prime;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

void qlow__blob_write_header(uint8_t *blob, const qlow__geom *g, const qlow__plan *pl)
{
    memset(blob, 0, QLOW__QM_HEADER_BYTES);
    memcpy(blob + H_MAGIC, magic, 8);
    wr32(blob + H_VERSION, QLOW__QM_VERSION);
    wr32(blob + H_HEADER_BYTES, QLOW__QM_HEADER_BYTES);
    wr32(blob + H_FORMAT, (uint32_t)g->format);
    wr32(blob + H_BITS, (uint32_t)g->bits);
    wr32(blob + H_SYMMETRIC, (uint32_t)g->symmetric);
    wr32(blob + H_FLAGS, g->has_col_scale ? FLAG_COL_SCALE : 0u);
    wr64(blob + H_ROWS, (uint64_t)g->rows);
    wr64(blob + H_COLS, (uint64_t)g->cols);
    wr64(blob + H_GROUP_COLS, (uint64_t)g->group_cols);
    wr64(blob + H_GROUP_ROWS, (uint64_t)g->group_rows);
    wr64(blob + H_N_SALIENT, (uint64_t)g->n_salient);
    wr64(blob + H_TOTAL_BYTES, (uint64_t)pl->total_bytes);
    wr64(blob + H_PAYLOAD_SUM, qlow__checksum64(blob + QLOW__QM_HEADER_BYTES, pl->total_bytes - QLOW__QM_HEADER_BYTES));
    wr64(blob + H_HEADER_SUM, qlow__checksum64(blob, H_HEADER_SUM));
}

qlow_status qlow__blob_parse(const uint8_t *buf, size_t bytes, qlow__geom *g, qlow__plan *pl)
{
    if (bytes < QLOW__QM_HEADER_BYTES) return QLOW_E_TRUNCATED;
    if (bytes_differ(buf + H_MAGIC, magic, 8)) return QLOW_E_FORMAT;
    if (rd32(buf + H_VERSION) != QLOW__QM_VERSION) return QLOW_E_VERSION_MISMATCH;
    if (rd64(buf + H_HEADER_SUM) != qlow__checksum64(buf, H_HEADER_SUM)) return QLOW_E_CHECKSUM;
    if (rd32(buf + H_HEADER_BYTES) != QLOW__QM_HEADER_BYTES) return QLOW_E_FORMAT;
    for (int k = H_RESERVED; k < H_HEADER_SUM; k++)
        if (buf[k]) return QLOW_E_FORMAT;
    uint32_t flags = rd32(buf + H_FLAGS);
    if (flags & ~FLAG_COL_SCALE) return QLOW_E_FORMAT;
    qlow__geom stored;
    memset(&stored, 0, sizeof(stored));
    stored.format = (int32_t)rd32(buf + H_FORMAT);
    stored.bits = (int32_t)rd32(buf + H_BITS);
    stored.symmetric = (int32_t)rd32(buf + H_SYMMETRIC);
    stored.has_col_scale = (flags & FLAG_COL_SCALE) ? 1 : 0;
    stored.rows = (int64_t)rd64(buf + H_ROWS);
    stored.cols = (int64_t)rd64(buf + H_COLS);
    stored.group_cols = (int64_t)rd64(buf + H_GROUP_COLS);
    stored.group_rows = (int64_t)rd64(buf + H_GROUP_ROWS);
    stored.n_salient = (int64_t)rd64(buf + H_N_SALIENT);
    qlow__geom canon = stored;
    qlow_status st = qlow__geom_canonical(&canon);
    if (st == QLOW_E_UNSUPPORTED || st == QLOW_E_SHAPE || st == QLOW_E_INVALID_ARG) return QLOW_E_FORMAT;
    if (st != QLOW_OK) return st;
    /* Only canonical headers are written; anything else is corrupt. */
    if (bytes_differ(&canon, &stored, sizeof(canon))) return QLOW_E_FORMAT;
    QLOW_TRY(qlow__format_plan(&canon, pl));
    if (rd64(buf + H_TOTAL_BYTES) != (uint64_t)pl->total_bytes) return QLOW_E_FORMAT;
    if (bytes < pl->total_bytes) return QLOW_E_TRUNCATED;
    uint64_t sum = qlow__checksum64(buf + QLOW__QM_HEADER_BYTES, pl->total_bytes - QLOW__QM_HEADER_BYTES);
    if (rd64(buf + H_PAYLOAD_SUM) != sum) return QLOW_E_CHECKSUM;
    *g = canon;
    return QLOW_OK;
}
