/* x86_avx512_finish.h - the epilogue of the binary kinds for 16 rows at once (lane = row), shared by
 * the AVX-512 kernels that keep rows in lanes (x86_avx512_narrow.c, x86_avx512_lut.c). */
#ifndef QLOW_KERNELS_X86_AVX512_FINISH_H
#define QLOW_KERNELS_X86_AVX512_FINISH_H

#include "kernels/kernels.h"

#if defined(QLOW__HAVE_X86_KERNELS)
#include <immintrin.h>

/* qlow__b1_finish / qlow__b2_finish, lane-wise, for rows r + i (bit i of m set), stored to y + r (added
 * to it when add != 0). T2 is only read for B2. */
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,f16c"))) void
qlow__b_finish16(const qlow__kpart *kp, int64_t r, __mmask16 m, __m512 T1, __m512 T2, __m512 X, float *y, int add)
{
    const __m512 alpha = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kp->alpha + r));
    const __m512 mu = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kp->mu + r));
    __m512 v = _mm512_mul_ps(alpha, _mm512_sub_ps(_mm512_add_ps(T1, T1), X));
    if (kp->format == QLOW_FORMAT_B2) {
        const __m512 alpha2 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, kp->alpha2 + r));
        v = _mm512_add_ps(v, _mm512_mul_ps(alpha2, _mm512_sub_ps(_mm512_add_ps(T2, T2), X)));
    }
    v = _mm512_add_ps(v, _mm512_mul_ps(mu, X));
    if (add) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + r), v);
    _mm512_mask_storeu_ps(y + r, m, v);
}
#endif

#endif
