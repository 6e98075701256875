/* x86_avx2.c - AVX2 row kernels (placeholder set filled below). */
#include "kernels/kernels.h"
#if defined(QLOW__HAVE_X86_KERNELS)
const qlow__kernel_set qlow__kernels_avx2 = {.name = "avx2", .rows = {0}};
#endif
