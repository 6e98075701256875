/* cpu.c - runtime CPU feature detection. Read on demand (no cached global), so there is no shared
 * mutable state; contexts record the result once at creation. */
#include "internal.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(QLOW_FORCE_GENERIC) &&          \
    !defined(QLOW_FREESTANDING)
#define QLOW_X86_DISPATCH 1
#include <cpuid.h>

typedef struct x86_caps {
    int avx2, fma, avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512vbmi, avx512popcnt, gfni, bitalg, avx_vnni;
} x86_caps;

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static x86_caps x86_detect(void)
{
    x86_caps c;
    memset(&c, 0, sizeof(c));
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return c;
    int osxsave = (cx >> 27) & 1, avx = (cx >> 28) & 1, fma = (cx >> 12) & 1;
    if (!osxsave || !avx) return c;
    uint64_t xcr0 = read_xcr0();
    int ymm_ok = (xcr0 & 0x6) == 0x6;
    int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0;
    if (!ymm_ok) return c;
    if (__get_cpuid_max(0, NULL) < 7) return c;
    __cpuid_count(7, 0, a, b, cx, d);
    c.avx2 = (b >> 5) & 1;
    c.fma = fma;
    if (zmm_ok) {
        c.avx512f = (b >> 16) & 1;
        c.avx512dq = (b >> 17) & 1;
        c.avx512bw = (b >> 30) & 1;
        c.avx512vl = (b >> 31) & 1;
        c.avx512vbmi = (cx >> 1) & 1;
        c.gfni = (cx >> 8) & 1;
        c.bitalg = (cx >> 12) & 1;
        c.avx512vnni = (cx >> 11) & 1;
        c.avx512popcnt = (cx >> 14) & 1;
    }
    __cpuid_count(7, 1, a, b, cx, d);
    c.avx_vnni = (a >> 4) & 1;
    return c;
}
#endif

int qlow__cpu_best_isa(void)
{
#if defined(QLOW_X86_DISPATCH)
    x86_caps c = x86_detect();
    if (!(c.avx2 && c.fma)) return QLOW_ISA_GENERIC;
    if (!(c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq)) return c.avx_vnni ? QLOW_ISA_AVX2_VNNI : QLOW_ISA_AVX2;
    /* Every CPU with VNNI, VBMI and VPOPCNTDQ (Ice Lake on, Zen 4 on) also has GFNI and BITALG. The
     * kernels use GFNI to pick bit fields out of code bytes; BITALG stays in the level's published
     * definition (qlow.h), though no kernel uses it since Q3 moved to vpmultishiftqb. */
    if (!(c.avx512vnni && c.avx512vbmi && c.avx512popcnt && c.gfni && c.bitalg)) return QLOW_ISA_AVX512;
    return QLOW_ISA_AVX512_VNNI;
#elif (defined(__ARM_NEON) || defined(__aarch64__)) && !defined(QLOW_FORCE_GENERIC)
    return QLOW_ISA_NEON;
#else
    return QLOW_ISA_GENERIC;
#endif
}

/* Whether the AVX-512 kernels should prefetch their weights into L2 rather than L1 (kernels.h,
 * qlow__prefetch_w). Measured: L2 on Zen 4 (AMD family 19h: Q4 cold 35% faster, B1 30%), L1 on Zen 5
 * (family 1Ah: Q4 13% slower with L2, B1 equal). Other CPUs keep L1, the older default. */
int qlow__cpu_prefetch_l2(void)
{
#if defined(QLOW_X86_DISPATCH)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    const int amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u; /* "AuthenticAMD" */
    if (!amd || !__get_cpuid(1, &a, &b, &c, &d)) return 0;
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    return family == 0x19;
#else
    return 0;
#endif
}

int qlow__cpu_has_avx_vnni(void)
{
#if defined(QLOW_X86_DISPATCH)
    return x86_detect().avx_vnni;
#else
    return 0;
#endif
}

int qlow_has_feature(int feature)
{
    int isa = qlow__cpu_best_isa();
    switch (feature) {
    case QLOW_FEATURE_OPENMP:
#ifdef _OPENMP
        return 1;
#else
        return 0;
#endif
    case QLOW_FEATURE_AVX2: return qlow__isa_has_avx2(isa);
    case QLOW_FEATURE_AVX512: return qlow__isa_has_avx512(isa);
    case QLOW_FEATURE_AVX512_VNNI: return isa == QLOW_ISA_AVX512_VNNI;
    case QLOW_FEATURE_NEON: return isa == QLOW_ISA_NEON;
    case QLOW_FEATURE_NO_MALLOC:
#ifdef QLOW_HAVE_MALLOC
        return 0;
#else
        return 1;
#endif
    case QLOW_FEATURE_AVX_VNNI: return qlow__isa_has_avx2(isa) && qlow__cpu_has_avx_vnni();
    case QLOW_FEATURE_FORCE_GENERIC:
#ifdef QLOW_FORCE_GENERIC
        return 1;
#else
        return 0;
#endif
    default: return 0;
    }
}

int qlow__isa_clamp(int isa_max, int detected, int avx_vnni)
{
    const int isa = qlow__isa_rank(isa_max) < qlow__isa_rank(detected) ? isa_max : detected;
    return isa == QLOW_ISA_AVX2_VNNI && !avx_vnni ? QLOW_ISA_AVX2 : isa;
}
