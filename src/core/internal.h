/* internal.h - core helpers shared by every subsystem. Never installed. Internal non-static names carry
 * the qlow__ prefix and hidden visibility. */
#ifndef QLOW_CORE_INTERNAL_H
#define QLOW_CORE_INTERNAL_H

#include "qlow.h"
#include "deps.h"

#if defined(__GNUC__)
#define QLOW_HIDDEN __attribute__((visibility("hidden")))
#define QLOW_LIKELY(x) __builtin_expect(!!(x), 1)
#define QLOW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define QLOW_HIDDEN
#define QLOW_LIKELY(x) (x)
#define QLOW_UNLIKELY(x) (x)
#endif

/* Propagate a failing status (zstd CHECK_F). */
#define QLOW_TRY(expr)                                                                                 \
    do {                                                                                               \
        qlow_status qlow_try_s_ = (expr);                                                              \
        if (qlow_try_s_ != QLOW_OK) return qlow_try_s_;                                                \
    } while (0)

/* ---- allocation ---- */
/* The default allocator (libc, or always-failing with QLOW_NO_MALLOC). */
QLOW_HIDDEN const qlow_allocator *qlow__default_allocator(void);
/* Resolve NULL to the default and copy into *dst. */
QLOW_HIDDEN void qlow__allocator_copy(qlow_allocator *dst, const qlow_allocator *src);
/* Aligned allocation through `a` (never NULL after qlow__allocator_copy). size 0 allocates 1 byte.
 * Returns NULL on failure. */
QLOW_HIDDEN void *qlow__alloc(const qlow_allocator *a, size_t size, size_t align);
QLOW_HIDDEN void *qlow__calloc(const qlow_allocator *a, size_t size, size_t align);
QLOW_HIDDEN void qlow__free(const qlow_allocator *a, void *ptr);

/* ---- overflow-checked size arithmetic ---- */
static inline qlow_status qlow__mul_size(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b) return QLOW_E_OVERFLOW;
    *out = a * b;
    return QLOW_OK;
}
static inline qlow_status qlow__add_size(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b) return QLOW_E_OVERFLOW;
    *out = a + b;
    return QLOW_OK;
}
/* rows*cols as size_t, rejecting negatives (QLOW_E_SHAPE) and overflow (QLOW_E_OVERFLOW). */
QLOW_HIDDEN qlow_status qlow__matrix_count(int64_t rows, int64_t cols, size_t *count);
static inline size_t qlow__align_up(size_t n, size_t a) { return (n + (a - 1)) & ~(a - 1); }

/* Bump allocator over a caller workspace (zstd cwksp). Every compute entry point sizes its scratch with a
 * dry run (base == NULL counts bytes) and then carves it for real, so size query and use cannot drift. */
typedef struct qlow__wksp {
    unsigned char *base;
    size_t size;
    size_t used;
    int overflow;
} qlow__wksp;
static inline void qlow__wksp_init(qlow__wksp *w, void *base, size_t size)
{
    w->base = (unsigned char *)base;
    w->size = size;
    w->used = 0;
    w->overflow = 0;
}
/* Reserve n bytes at 64-byte alignment. Returns NULL when counting (base NULL) or when out of room. */
QLOW_HIDDEN void *qlow__wksp_take(qlow__wksp *w, size_t n);

/* ---- context ---- */
struct qlow_ctx {
    uint32_t magic;
    int owns_memory;          /* 1 when created by qlow_ctx_create */
    qlow_allocator alloc;     /* alloc == NULL for static contexts */
    int32_t num_threads;
    int64_t seed;
    int32_t isa_detected;
    int32_t isa_max;
    int32_t avx_vnni;         /* the CPU has AVX-VNNI (recorded at creation, as isa_detected) */
    int32_t prefetch_l2;      /* the CPU's kernels prefetch weights into L2 (qlow__cpu_prefetch_l2) */
};
#define QLOW__CTX_MAGIC 0x716c6f77u /* "qlow" */
QLOW_HIDDEN qlow_status qlow__ctx_check(const qlow_ctx *ctx);
/* The SIMD level kernels may use: qlow__isa_clamp(override, detected, avx_vnni). */
QLOW_HIDDEN int qlow__ctx_isa(const qlow_ctx *ctx);
QLOW_HIDDEN int qlow__ctx_threads(const qlow_ctx *ctx);
QLOW_HIDDEN int qlow__ctx_prefetch_l2(const qlow_ctx *ctx);
/* Allocator of a context: static contexts get one that always fails. */
QLOW_HIDDEN const qlow_allocator *qlow__ctx_allocator(const qlow_ctx *ctx);

/* ---- CPU features ---- */
QLOW_HIDDEN int qlow__cpu_best_isa(void);
QLOW_HIDDEN int qlow__cpu_has_avx_vnni(void);
QLOW_HIDDEN int qlow__cpu_prefetch_l2(void);

/* ISA levels are not ordered by value (QLOW_ISA_AVX2_VNNI = 5 sits between AVX2 and AVX512), so code
 * compares them only through these. Rank: GENERIC 0 < AVX2 1 < AVX2_VNNI 2 < AVX512 3 < AVX512_VNNI 4;
 * NEON ranks above every x86 level (on x86 it means "no limit", on ARM the x86 levels mean generic);
 * -1 for values that are no qlow_isa. */
static inline int qlow__isa_rank(int isa)
{
    switch (isa) {
    case QLOW_ISA_GENERIC: return 0;
    case QLOW_ISA_AVX2: return 1;
    case QLOW_ISA_AVX2_VNNI: return 2;
    case QLOW_ISA_AVX512: return 3;
    case QLOW_ISA_AVX512_VNNI: return 4;
    case QLOW_ISA_NEON: return 16;
    default: return -1;
    }
}
/* The level includes AVX2 + FMA (every x86 level above GENERIC). */
static inline int qlow__isa_has_avx2(int isa)
{
    const int r = qlow__isa_rank(isa);
    return r >= 1 && r <= 4;
}
/* The level includes AVX-512 F/BW/VL/DQ. */
static inline int qlow__isa_has_avx512(int isa) { return isa == QLOW_ISA_AVX512 || isa == QLOW_ISA_AVX512_VNNI; }
/* The level kernels run at when QLOW_CTX_ISA_MAX is isa_max on a CPU whose best level is detected:
 * the lower of the two by rank, and AVX2_VNNI falls back to AVX2 on a CPU without AVX-VNNI (an
 * AVX-512 VNNI CPU need not have the VEX encoding). Never allocates. */
QLOW_HIDDEN int qlow__isa_clamp(int isa_max, int detected, int avx_vnni);

/* ---- views ---- */
/* Validate a view: struct_size, dtype in `dtype_mask` (bit per qlow_dtype), ndim == want_ndim (or any if
 * 0), nonnegative extents, strides multiple of element size, no overflow in the addressed span, data
 * non-NULL when non-empty. */
QLOW_HIDDEN qlow_status qlow__view_check(const qlow_view *v, unsigned dtype_mask, int32_t want_ndim);
#define QLOW__DT(d) (1u << (d))
#define QLOW__DT_FLOAT (QLOW__DT(QLOW_DTYPE_F32) | QLOW__DT(QLOW_DTYPE_F16) | QLOW__DT(QLOW_DTYPE_BF16))
QLOW_HIDDEN size_t qlow__dtype_size(int32_t dtype);
/* 1 if the 2-D view is contiguous row-major. */
QLOW_HIDDEN int qlow__view_is_contiguous(const qlow_view *v);
/* Copy row r of a 2-D float view (f32/f16/bf16, any strides) into dst[cols] as fp32. */
QLOW_HIDDEN void qlow__view_read_row_f32(const qlow_view *v, int64_t r, float *dst);
/* Check a 2-D float view for NaN/Inf; QLOW_E_NONFINITE if any. */
QLOW_HIDDEN qlow_status qlow__view_check_finite(const qlow_view *v);
QLOW_HIDDEN int qlow__is_finite_f32(float x);

/* ---- parameters ---- */
typedef struct qlow__param_def {
    int32_t key;
    int32_t is_float;
    double min_value, max_value, default_value;
    const char *name;
} qlow__param_def;
QLOW_HIDDEN const qlow__param_def *qlow__param_find(int32_t key);
/* Read a key with its default when params is NULL or the key is unset. */
QLOW_HIDDEN int64_t qlow__param_int(const qlow_params *p, int32_t key);
QLOW_HIDDEN double qlow__param_float(const qlow_params *p, int32_t key);

/* ---- deterministic RNG (splitmix64 / xoshiro-free, stateless per stream) ---- */
static inline uint64_t qlow__splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
