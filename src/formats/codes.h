/* codes.h - reading and writing one code in the packed code planes of layout.h. These are the reference
 * definitions of the bit layouts (docs/formats.md); `row` points at the start of a row's bytes. */
#ifndef QLOW_FORMATS_CODES_H
#define QLOW_FORMATS_CODES_H

#include "formats/layout.h"

/* Q4: per 32-block 16 bytes; byte k holds column k (low nibble) and column k+16 (high nibble). */
static inline int qlow__q4_get(const uint8_t *row, int64_t j)
{
    uint8_t b = row[(j >> 5) * 16 + (j & 15)];
    return (j & 16) ? b >> 4 : b & 15;
}
static inline void qlow__q4_set(uint8_t *row, int64_t j, int v)
{
    uint8_t *b = &row[(j >> 5) * 16 + (j & 15)];
    *b = (uint8_t)((j & 16) ? ((*b & 0x0f) | (v << 4)) : ((*b & 0xf0) | (v & 15)));
}

/* Q2 / Q3 low plane / T2: per 32-block 8 bytes; byte k holds columns k, k+8, k+16, k+24 at bits 0,2,4,6. */
static inline int qlow__q2_get(const uint8_t *row, int64_t j)
{
    return (row[(j >> 5) * 8 + (j & 7)] >> (2 * ((j >> 3) & 3))) & 3;
}
static inline void qlow__q2_set(uint8_t *row, int64_t j, int v)
{
    uint8_t *b = &row[(j >> 5) * 8 + (j & 7)];
    int sh = 2 * (int)((j >> 3) & 3);
    *b = (uint8_t)((*b & ~(3 << sh)) | ((v & 3) << sh));
}

/* Bit planes (B1/B2 signs, Q3 high plane, M161 mask): per 32-block one little-endian uint32 with bit k =
 * column k, i.e. bit (j & 7) of byte j >> 3. */
static inline int qlow__bit_get(const uint8_t *row, int64_t j) { return (row[j >> 3] >> (j & 7)) & 1; }
static inline void qlow__bit_set(uint8_t *row, int64_t j, int v)
{
    if (v)
        row[j >> 3] = (uint8_t)(row[j >> 3] | (1u << (j & 7)));
    else
        row[j >> 3] = (uint8_t)(row[j >> 3] & ~(1u << (j & 7)));
}

/* T158: byte j/5 holds sum_k (t_k + 1) * 3^k over columns 5*(j/5) + k. Returns t + 1 in 0..2. */
static inline int qlow__t158_get(const uint8_t *row, int64_t j)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    return (row[j / 5] / pow3[j % 5]) % 3;
}

#endif
