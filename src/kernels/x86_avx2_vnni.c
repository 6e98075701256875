/* x86_avx2_vnni.c - the AVX-VNNI kernel set (QLOW_ISA_AVX2_VNNI): x86_avx2.c compiled again with its
 * dot products on the VEX vpdpbusd, for CPUs with AVX-VNNI but not the AVX512 level. One source keeps
 * the two sets' data movement and fp32 folding identical; only the integer dot-product steps differ. */
#define QLOW__AVX2_WITH_VNNI 1
#include "kernels/kernels.h"

#if defined(QLOW__HAVE_AVX_VNNI_KERNELS)
#include "kernels/x86_avx2.c"
#endif
