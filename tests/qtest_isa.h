/* qtest_isa.h - the SIMD levels a test compares with the generic path, and which of them run their own
 * kernels on this machine. Levels are not ordered by value (QLOW_ISA_AVX2_VNNI = 5 ranks between AVX2
 * and AVX512), so the check goes through the library's rank. */
#ifndef QLOW_QTEST_ISA_H
#define QLOW_QTEST_ISA_H

#include "core/internal.h"

static const int qt_isa_levels[] = {QLOW_ISA_AVX2, QLOW_ISA_AVX2_VNNI, QLOW_ISA_AVX512, QLOW_ISA_AVX512_VNNI,
                                    QLOW_ISA_NEON};
#define QT_ISA_LEVELS ((int)(sizeof(qt_isa_levels) / sizeof(qt_isa_levels[0])))

/* 1 when ISA_MAX = isa runs at isa on a CPU whose QLOW_CTX_ISA_DETECTED is detected: not above it,
 * NEON only on NEON, AVX2_VNNI only with AVX-VNNI (an AVX-512 VNNI CPU may lack it). */
static inline int qt_isa_runs(int isa, int64_t detected)
{
    if ((isa == QLOW_ISA_NEON) != (detected == QLOW_ISA_NEON)) return 0;
    if (qlow__isa_rank(isa) > qlow__isa_rank((int)detected)) return 0;
    return isa != QLOW_ISA_AVX2_VNNI || qlow_has_feature(QLOW_FEATURE_AVX_VNNI);
}

#endif
