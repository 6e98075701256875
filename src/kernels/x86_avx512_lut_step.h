/* x86_avx512_lut_step.h - the two steps of a table-lookup GEMV over one 32-column unit of 16 rows,
 * shared by the AVX-512 kernels that read row-tiled bit planes (x86_avx512_lut.c: B1, B2, M161's
 * binary part; x86_avx512_q2lut.c: Q2, one plane per code bit). Tables and vectors are laid out as
 * lut.h describes: table entry 16 q + n holds the sum of the activations of column group q (8
 * columns, low or high nibble half) over the set bits of n, and byte 4 i + q of a weight vector holds
 * row i's bits of column group q. */
#ifndef QLOW_KERNELS_X86_AVX512_LUT_STEP_H
#define QLOW_KERNELS_X86_AVX512_LUT_STEP_H

#include "kernels/kernels.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

#define QLOW__LUT_STEP_INL                                                                                  \
    static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")))

/* Table entry 16 q + n over source s (the unit's 32 activation parts in the low half): the sum of
 * s[8 q + 4 h + k] over the set bits k of n. */
QLOW__LUT_STEP_INL __m512i qlow__lut_unit_table(__m512i s, int h)
{
    /* bit 16 q + n of mask k is bit k of n */
    static const uint64_t bit_of_n[4] = {0xAAAAAAAAAAAAAAAAull, 0xCCCCCCCCCCCCCCCCull, 0xF0F0F0F0F0F0F0F0ull,
                                         0xFF00FF00FF00FF00ull};
    const __m512i qbase = _mm512_set_epi64(0x1818181818181818ll, 0x1818181818181818ll, 0x1010101010101010ll,
                                           0x1010101010101010ll, 0x0808080808080808ll, 0x0808080808080808ll, 0, 0);
    __m512i t = _mm512_setzero_si512();
    _Pragma("GCC unroll 4")
    for (int k = 0; k < 4; k++) {
        __m512i v = _mm512_permutexvar_epi8(_mm512_add_epi8(qbase, _mm512_set1_epi8((char)(4 * h + k))), s);
        t = _mm512_mask_add_epi8(t, _cvtu64_mask64(bit_of_n[k]), t, v);
    }
    return t;
}

/* The four tables of one unit of 32 int8 activations at x: [0], [1] low / high nibbles over
 * xl = x & 15, [2], [3] over xh = floor(x / 16), stored at tab (256 bytes, 64-byte aligned). */
QLOW__LUT_STEP_INL void qlow__lut_unit_tables(const int8_t *x, uint8_t *tab)
{
    const __m512i lo4 = _mm512_set1_epi8(0x0F), bias = _mm512_set1_epi8((char)0x80), eight = _mm512_set1_epi8(8);
    const __m512i v = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)x));
    const __m512i xl = _mm512_and_si512(v, lo4);
    /* floor(x / 16) = ((x + 128) >> 4) - 8, with the shift done bytewise */
    const __m512i xh = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(_mm512_xor_si512(v, bias), 4), lo4), eight);
    _mm512_store_si512((void *)tab, qlow__lut_unit_table(xl, 0));
    _mm512_store_si512((void *)(tab + 64), qlow__lut_unit_table(xl, 1));
    _mm512_store_si512((void *)(tab + 128), qlow__lut_unit_table(xh, 0));
    _mm512_store_si512((void *)(tab + 192), qlow__lut_unit_table(xh, 1));
}

/* One unit of one tile (w, by row): the byte sums of its 16 rows, bl over xl and bh over xh. Entries
 * over xl are 0..60, so a low plus a high lookup is at most 120 (uint8); over xh -32..28, two add up
 * to -64..56 (int8): the byte sums never wrap. */
QLOW__LUT_STEP_INL void qlow__lut_unit_step(__m512i w, const __m512i *t, __m512i *bl, __m512i *bh)
{
    const __m512i lo4 = _mm512_set1_epi8(0x0F), sel = _mm512_set1_epi32(0x30201000);
    /* (w & 15) | 16 q and ((w >> 4) & 15) | 16 q: ternary-logic 0xEA is (a & b) | c */
    __m512i ilo = _mm512_ternarylogic_epi32(w, lo4, sel, 0xEA);
    __m512i ihi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(w, 4), lo4, sel, 0xEA);
    *bl = _mm512_add_epi8(_mm512_permutexvar_epi8(ilo, t[0]), _mm512_permutexvar_epi8(ihi, t[1]));
    *bh = _mm512_add_epi8(_mm512_permutexvar_epi8(ilo, t[2]), _mm512_permutexvar_epi8(ihi, t[3]));
}
#endif

#endif
