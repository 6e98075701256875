/*
 * qlow.h - libqlow, ultra-low-precision post-training quantization for transformer weights.
 *
 * Copyright (c) 2026 the libqlow authors. MIT licence (see LICENSE).
 *
 * ============================================================================================
 * Introduction
 * ============================================================================================
 * libqlow quantizes fp32 weight matrices to 1..8 bits after training and runs the packed result
 * through fused dequantize-and-multiply kernels. It implements three published ideas:
 *   - Q-BERT: Hessian-guided mixed precision (power iteration, Hutchinson trace, group-wise);
 *   - PTQ1.61: a 1-D salient-channel mask, 4-bit salient columns and binarized rest with optimized
 *     scales;
 *   - a quality-and-efficiency evaluation protocol (perplexity, KLD, top-1, bytes, decode speed).
 *
 * This header is the reference documentation (SQLite style). Everything in it is stable ABI unless it
 * sits in the experimental tier at the bottom, which is only visible with QLOW_EXPERIMENTAL defined
 * before inclusion and must not be relied on across releases.
 *
 * Conventions shared by every function:
 *   - Every fallible function returns a qlow_status: QLOW_OK (0) or a pinned negative code. Results go
 *     through out-parameters. On failure, out-parameters are left untouched (pointers are not set) and no
 *     output buffer is partially written unless the function says otherwise.
 *   - Matrices are row-major [rows x cols] with cols the input dimension (W x gives rows outputs).
 *   - Opaque handles come in create/destroy pairs; destroy(NULL) is a no-op.
 *   - Allocation: every object that allocates takes a `const qlow_allocator*` (NULL = libc). Each doc
 *     comment says "allocates" or "never allocates". Compute entry points have a workspace variant that
 *     takes caller memory; the allocating variant is a thin wrapper over it.
 *   - Threads: libqlow has no global mutable state. Distinct handles may be used concurrently from any
 *     threads. A mutable handle (qlow_ctx, qlow_params, accumulators) must not be used by two threads at
 *     once. Immutable objects (a built qlow_qmatrix) may be shared freely. Results are bit-identical
 *     whatever the thread count.
 *   - The library never aborts, exits, asserts or prints.
 */
#ifndef QLOW_H_INCLUDED
#define QLOW_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Visibility ------------------------------------------------------------------------------- */
#ifndef QLOW_API
#  if defined(QLOW_BUILDING_DLL) && defined(QLOW_USING_DLL)
#    error "define at most one of QLOW_BUILDING_DLL and QLOW_USING_DLL"
#  elif defined(_WIN32) && defined(QLOW_BUILDING_DLL)
#    define QLOW_API __declspec(dllexport)
#  elif defined(_WIN32) && defined(QLOW_USING_DLL)
#    define QLOW_API __declspec(dllimport)
#  elif defined(__GNUC__) && __GNUC__ >= 4 && !defined(QLOW_STATIC)
#    define QLOW_API __attribute__((visibility("default")))
#  else
#    define QLOW_API
#  endif
#endif
#ifndef QLOW_EXPERIMENTAL_API
#  define QLOW_EXPERIMENTAL_API QLOW_API
#endif

/* ============================================================================================
 * Versions
 * ============================================================================================
 * The release version (MAJOR.MINOR.PATCH) and the ABI version are separate numbers. The ABI version is
 * the shared library's soname suffix (libqlow.so.<ABI>); it changes only on an incompatible ABI change.
 */
#define QLOW_VERSION_MAJOR 0
#define QLOW_VERSION_MINOR 1
#define QLOW_VERSION_PATCH 0
#define QLOW_VERSION_NUMBER (QLOW_VERSION_MAJOR * 10000 + QLOW_VERSION_MINOR * 100 + QLOW_VERSION_PATCH)
#define QLOW_STRINGIFY_(x) #x
#define QLOW_STRINGIFY(x) QLOW_STRINGIFY_(x)
#define QLOW_VERSION_STRING                                                                            \
    QLOW_STRINGIFY(QLOW_VERSION_MAJOR) "." QLOW_STRINGIFY(QLOW_VERSION_MINOR) "." QLOW_STRINGIFY(     \
        QLOW_VERSION_PATCH)
#define QLOW_ABI_VERSION 1

/*! qlow_version_number() : the linked library's QLOW_VERSION_NUMBER. Never allocates; thread-safe. */
QLOW_API unsigned qlow_version_number(void);
/*! qlow_version_string() : the linked library's release as static "M.m.p". Never allocates; thread-safe. */
QLOW_API const char *qlow_version_string(void);
/*! qlow_abi_version() : the linked library's QLOW_ABI_VERSION. Never allocates; thread-safe. */
QLOW_API unsigned qlow_abi_version(void);

/* ============================================================================================
 * Status codes
 * ============================================================================================
 * Values are pinned forever and never reused. Only the range 0..-99 is stable. The X-macro list is the
 * single source of both the codes and qlow_status_string()'s table.
 */
typedef int32_t qlow_status;

#define QLOW_STATUS_LIST(X)                                                                            \
    X(QLOW_OK, 0, "success")                                                                           \
    X(QLOW_E_INVALID_ARG, -1, "invalid argument")                                                      \
    X(QLOW_E_NULL_POINTER, -2, "required pointer argument is NULL")                                    \
    X(QLOW_E_SHAPE, -3, "tensor shapes are invalid or do not match")                                   \
    X(QLOW_E_DTYPE, -4, "unsupported or mismatched data type")                                         \
    X(QLOW_E_STRUCT_SIZE, -5, "struct_size is not one this library knows")                             \
    X(QLOW_E_ALIGNMENT, -6, "pointer or stride is not suitably aligned")                               \
    X(QLOW_E_WORKSPACE_TOO_SMALL, -7, "workspace buffer is too small")                                 \
    X(QLOW_E_BUFFER_TOO_SMALL, -8, "output buffer is too small")                                       \
    X(QLOW_E_NO_MEMORY, -9, "memory allocation failed")                                                \
    X(QLOW_E_OVERFLOW, -10, "size computation overflows")                                              \
    X(QLOW_E_NONFINITE, -11, "input contains NaN or infinity")                                         \
    X(QLOW_E_NUMERIC, -12, "numerical failure (e.g. matrix not positive definite)")                    \
    X(QLOW_E_UNSUPPORTED, -13, "feature not supported by this build or format")                        \
    X(QLOW_E_PARAM, -14, "unknown parameter key or value out of bounds")                               \
    X(QLOW_E_VERSION_MISMATCH, -15, "ABI or file version mismatch")                                    \
    X(QLOW_E_IO, -16, "I/O error")                                                                     \
    X(QLOW_E_FORMAT, -17, "malformed or corrupt data")                                                 \
    X(QLOW_E_TRUNCATED, -18, "data is truncated")                                                      \
    X(QLOW_E_CHECKSUM, -19, "checksum mismatch")                                                       \
    X(QLOW_E_NOT_FOUND, -20, "item not found")                                                         \
    X(QLOW_E_STATE, -21, "object is not in a state that allows this call")                             \
    X(QLOW_E_CALLBACK, -22, "a caller callback reported failure")                                      \
    X(QLOW_E_INTERNAL, -23, "internal error")

#define QLOW_STATUS_ENUM_(name, value, text) name = (value),
enum { QLOW_STATUS_LIST(QLOW_STATUS_ENUM_) QLOW_STATUS_MIN_ = -99 };
#undef QLOW_STATUS_ENUM_

/*! qlow_status_string() : a static, NUL-terminated English description of `status`. Unknown codes give
 *  "unknown status". Never allocates; thread-safe. */
QLOW_API const char *qlow_status_string(qlow_status status);

/* ============================================================================================
 * Memory: per-object allocator hook
 * ============================================================================================
 * alloc(user, size, align) returns size bytes aligned to `align` (a power of two, at most 4096) or NULL.
 * free(user, ptr) releases a pointer from alloc; it is never called with NULL. Passing a NULL
 * `const qlow_allocator*` anywhere means the libc default. A build with QLOW_NO_MALLOC references neither
 * malloc nor free: its default allocator always fails, so such builds need a hook or caller memory.
 * The allocator struct is copied into each object; `user` must stay valid for the object's lifetime.
 */
typedef struct qlow_allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr);
    void *user;
} qlow_allocator;

/* ============================================================================================
 * Tensor views: the one exposed struct (frozen POD)
 * ============================================================================================
 * A view describes memory the caller owns; the library never frees it. struct_size must equal
 * sizeof(qlow_view) of this header (use the init helpers); the library rejects sizes it does not know
 * with QLOW_E_STRUCT_SIZE. Strides are in bytes and must be multiples of the element size. The element
 * at index (i0, i1, ...) sits at data + i0*stride_bytes[0] + i1*stride_bytes[1] + ....
 * Unless stated otherwise a function accepts any strides for inputs and requires contiguous outputs.
 */
typedef enum qlow_dtype {
    QLOW_DTYPE_F32 = 0,
    QLOW_DTYPE_F16 = 1,
    QLOW_DTYPE_BF16 = 2,
    QLOW_DTYPE_I8 = 3,
    QLOW_DTYPE_U8 = 4,
    QLOW_DTYPE_I32 = 5,
    QLOW_DTYPE_F64 = 6
} qlow_dtype;

#define QLOW_VIEW_MAX_DIMS 4

typedef struct qlow_view {
    uint32_t struct_size;                      /* = sizeof(qlow_view) */
    int32_t dtype;                             /* qlow_dtype */
    int32_t ndim;                              /* 1..QLOW_VIEW_MAX_DIMS */
    int32_t flags;                             /* reserved, must be 0 */
    void *data;                                /* caller-owned; may be NULL only if an extent is 0 */
    int64_t shape[QLOW_VIEW_MAX_DIMS];         /* extents; unused dims are 1 */
    int64_t stride_bytes[QLOW_VIEW_MAX_DIMS];  /* byte strides; unused dims are 0 */
    int64_t reserved[2];                       /* must be 0 */
} qlow_view;

/*! qlow_sizeof_view() : sizeof(qlow_view) as compiled into the library, for bindings. Thread-safe. */
QLOW_API size_t qlow_sizeof_view(void);

/*! qlow_view_init() : fill `view` for a contiguous row-major tensor of `ndim` dims with extents `shape`.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_DTYPE, QLOW_E_SHAPE (ndim out of range or negative extent) or
 *  QLOW_E_OVERFLOW (byte size overflows). Never allocates; thread-safe. */
QLOW_API qlow_status qlow_view_init(qlow_view *view, qlow_dtype dtype, int32_t ndim, const int64_t *shape,
                                    void *data);

/*! qlow_view_init_2d() : qlow_view_init() for a contiguous [rows x cols] matrix. */
QLOW_API qlow_status qlow_view_init_2d(qlow_view *view, qlow_dtype dtype, int64_t rows, int64_t cols,
                                       void *data);

/*! qlow_abi_check() : for wrappers and engines to call once at load time with the header's
 *  QLOW_ABI_VERSION and their sizeof(qlow_view). @return QLOW_E_VERSION_MISMATCH if either differs. */
QLOW_API qlow_status qlow_abi_check(unsigned header_abi_version, size_t view_size);

/* ============================================================================================
 * fp16 / bf16 conversion (exact; round to nearest even; NaN stays NaN, overflow gives infinity)
 * ============================================================================================
 * Scales and zeros are stored as fp16, so these are the library's own conversions, exported for callers
 * that read packed data. Never allocate; thread-safe.
 */
QLOW_API uint16_t qlow_fp32_to_fp16(float value);
QLOW_API float qlow_fp16_to_fp32(uint16_t half);
QLOW_API uint16_t qlow_fp32_to_bf16(float value);
QLOW_API float qlow_bf16_to_fp32(uint16_t bf16);

/* ============================================================================================
 * Build and CPU features
 * ============================================================================================ */
typedef enum qlow_feature {
    QLOW_FEATURE_OPENMP = 1,      /* built with OpenMP: QLOW_CTX_NUM_THREADS > 1 runs in parallel */
    QLOW_FEATURE_AVX2 = 2,        /* AVX2+FMA kernels compiled in and supported by this CPU */
    QLOW_FEATURE_AVX512 = 3,      /* AVX-512 F/BW/VL kernels compiled in and supported by this CPU */
    QLOW_FEATURE_AVX512_VNNI = 4, /* AVX-512 VNNI integer dot products available */
    QLOW_FEATURE_NEON = 5,        /* NEON kernels compiled in (ARM builds) */
    QLOW_FEATURE_NO_MALLOC = 6,   /* built with QLOW_NO_MALLOC: the default allocator always fails */
    QLOW_FEATURE_AVX_VNNI = 7,    /* AVX-VNNI (VEX-encoded) integer dot products available */
    QLOW_FEATURE_FORCE_GENERIC = 8 /* built with QLOW_FORCE_GENERIC: only portable C kernels */
} qlow_feature;

/*! qlow_has_feature() : 1 if `feature` is available in this build on this CPU, else 0 (also for unknown
 *  values). Reads CPUID on every call; never allocates; thread-safe. */
QLOW_API int qlow_has_feature(int feature);

/* ============================================================================================
 * Context
 * ============================================================================================
 * A qlow_ctx carries the allocator, thread count, seed and the SIMD level chosen at creation (CPU
 * detection happens per context, not in a global). Mutable: one thread at a time. Objects created with a
 * ctx copy what they need and do not keep a pointer to it.
 */
typedef struct qlow_ctx qlow_ctx;

typedef enum qlow_ctx_key {
    QLOW_CTX_NUM_THREADS = 1, /* int, 1..1024, default 1. Without OpenMP, values > 1 run serially. */
    QLOW_CTX_SEED = 2,        /* int, any int64, default 0x5eed. Seeds every randomized algorithm. */
    QLOW_CTX_ISA_MAX = 3,     /* int, a qlow_isa: highest SIMD level kernels may use (runtime override);
                                 default is the best the CPU supports. Lowering it is how tests compare
                                 the generic path against SIMD. Levels are ordered GENERIC < AVX2 <
                                 AVX2_VNNI < AVX512 < AVX512_VNNI (not by value); NEON stands apart.
                                 Reading it gives the level kernels run at: the lower (in that order)
                                 of this value and QLOW_CTX_ISA_DETECTED, and AVX2 for AVX2_VNNI on a
                                 CPU without AVX-VNNI (e.g. an AVX-512 VNNI CPU without the VEX
                                 encoding). */
    QLOW_CTX_ISA_DETECTED = 4 /* int, read-only: the best qlow_isa this CPU and build support. */
} qlow_ctx_key;

typedef enum qlow_isa {
    QLOW_ISA_GENERIC = 0,
    QLOW_ISA_AVX2 = 1,
    QLOW_ISA_AVX512 = 2,      /* F, BW, VL, DQ */
    QLOW_ISA_AVX512_VNNI = 3, /* AVX512 plus VNNI, VBMI, VPOPCNTDQ, GFNI, BITALG */
    QLOW_ISA_NEON = 16,
    QLOW_ISA_AVX2_VNNI = 5    /* AVX2 + FMA + AVX-VNNI (VEX vpdpbusd): the best level of a CPU that has
                                 AVX-VNNI but not the AVX512 level (Alder Lake .. Arrow Lake, E-core
                                 Xeons); ranks between AVX2 and AVX512 (see QLOW_CTX_ISA_MAX) */
} qlow_isa;

/*! qlow_ctx_create() : a context with default parameters. `alloc` may be NULL (libc).
 *  Allocates (one block through `alloc`). @return QLOW_E_NULL_POINTER, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_ctx_create(const qlow_allocator *alloc, qlow_ctx **out);

/*! qlow_ctx_destroy() : frees a context from qlow_ctx_create(); NULL is a no-op. Must not be called on
 *  a context from qlow_ctx_init_static(). */
QLOW_API void qlow_ctx_destroy(qlow_ctx *ctx);

/*! qlow_ctx_estimate_size() : bytes that qlow_ctx_init_static() needs. Thread-safe. */
QLOW_API size_t qlow_ctx_estimate_size(void);

/*! qlow_ctx_init_static() : place a context in caller memory (8-byte aligned, at least
 *  qlow_ctx_estimate_size() bytes). The context has no allocator: calls that would allocate through it
 *  fail with QLOW_E_NO_MEMORY, so use workspace variants. There is no destroy; just stop using `mem`.
 *  Never allocates. @return QLOW_E_NULL_POINTER, QLOW_E_ALIGNMENT, QLOW_E_WORKSPACE_TOO_SMALL. */
QLOW_API qlow_status qlow_ctx_init_static(void *mem, size_t mem_bytes, qlow_ctx **out);

/*! qlow_ctx_set_int() / qlow_ctx_get_int() : parameters by key (qlow_ctx_key).
 *  @return QLOW_E_PARAM for an unknown or read-only key or a value out of bounds (the context is then
 *  unchanged). Never allocate. */
QLOW_API qlow_status qlow_ctx_set_int(qlow_ctx *ctx, int32_t key, int64_t value);
QLOW_API qlow_status qlow_ctx_get_int(const qlow_ctx *ctx, int32_t key, int64_t *value);

/* ============================================================================================
 * Parameters by key
 * ============================================================================================
 * A qlow_params is a small typed key/value set that configures an algorithm (a quantizer, GPTQ, the
 * PTQ1.61 pipeline, ...). Keys are explicitly numbered in blocks per subsystem and never renumbered;
 * keys a consumer does not use are ignored by it. Unset keys take their documented defaults.
 * Each key has a type (int or float); setting the wrong type or an out-of-bounds value gives QLOW_E_PARAM.
 * Mutable: one thread at a time.
 */
typedef struct qlow_params qlow_params;

#define QLOW_PARAMS_MAX_ENTRIES 64

/*! qlow_params_create() : an empty parameter set. Allocates through `alloc` (NULL = libc).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_params_create(const qlow_allocator *alloc, qlow_params **out);
/*! qlow_params_destroy() : NULL is a no-op. */
QLOW_API void qlow_params_destroy(qlow_params *params);
/*! qlow_params_reset() : forget every key set so far. Never allocates. */
QLOW_API void qlow_params_reset(qlow_params *params);
/*! qlow_params_set_int() / qlow_params_set_float() : set `key`. @return QLOW_E_PARAM for an unknown key,
 *  a key of the other type, or a value out of the key's bounds (qlow_param_bounds()). Never allocate. */
QLOW_API qlow_status qlow_params_set_int(qlow_params *params, int32_t key, int64_t value);
QLOW_API qlow_status qlow_params_set_float(qlow_params *params, int32_t key, double value);
/*! qlow_params_get_int() / qlow_params_get_float() : the value set, or the key's default when unset.
 *  @return QLOW_E_PARAM for an unknown key or one of the other type. Never allocate. */
QLOW_API qlow_status qlow_params_get_int(const qlow_params *params, int32_t key, int64_t *value);
QLOW_API qlow_status qlow_params_get_float(const qlow_params *params, int32_t key, double *value);

/*! qlow_param_bounds() : the inclusive bounds and default of `key`, and whether it is a float key
 *  (*is_float = 1) or an int key (0). Any out-pointer may be NULL. @return QLOW_E_PARAM if unknown.
 *  Thread-safe; never allocates. */
QLOW_API qlow_status qlow_param_bounds(int32_t key, double *min_value, double *max_value,
                                       double *default_value, int *is_float);

/* Parameter keys, one block per subsystem. Ranges: quant 100-199, formats/kernels 200-299,
 * hessian 300-399, gptq 400-499, mask 500-599, scale 600-699, plan 700-799, io 800-899, export 900-999,
 * experimental 10000 and up. Each subsystem section below lists its keys. */

/* ============================================================================================
 * Quantization primitives (src/quant)
 * ============================================================================================
 * qlow_quantize() turns a row-major [rows x cols] float matrix W (f32, f16 or bf16 view, any strides;
 * cols is the input dimension) into a packed qlow_qmatrix. The scheme and its options come from a
 * qlow_params set (keys below; NULL = all defaults):
 *   - QLOW_SCHEME_RTN: uniform round-to-nearest, k bits (k = 2, 3, 4, 8 -> QLOW_FORMAT_Q2/Q3/Q4/Q8),
 *     asymmetric (w = scale*q + zero, q in 0..2^k-1) or symmetric (w = scale*(q - 2^(k-1)), levels
 *     +-(2^(k-1)-1), scale = absmax/(2^(k-1)-1)). One fp16 scale (and zero) per group; a group is
 *     QLOW_P_GROUP_ROWS consecutive rows (Q-BERT row groups) x QLOW_P_GROUP_COLS consecutive columns
 *     (0 = whole rows; else a multiple of 32, the last group may be shorter). With QLOW_P_RANGE_SEARCH
 *     the clip ratio of each group minimizes the importance-weighted squared error (fp16 rounding
 *     included; asymmetric grids then also clip each end on its own), followed by weighted
 *     least-squares refits of scale and zero; the result is never worse than min/max.
 *   - QLOW_SCHEME_BINARY: w = alpha_i*s + mu_i per row (QLOW_FORMAT_B1); closed-form weighted mean and
 *     mean absolute deviation, or (QLOW_P_BINARY_OPTIMAL) the exact best split of the sorted row.
 *   - QLOW_SCHEME_BINARY_RESIDUAL: BiLLM order-2 residual binarization, w = a1*s1 + a2*s2 + mu
 *     (QLOW_FORMAT_B2), refined by weighted least squares.
 *   - QLOW_SCHEME_TERNARY: w = alpha_i*t, t in {-1,0,1}, threshold exactly optimal per row;
 *     packed as QLOW_FORMAT_T158 (5 trits per byte) or QLOW_FORMAT_T2 (QLOW_P_TERNARY_PACKING).
 * `importance` (cols floats, finite, >= 0; NULL = uniform) weighs the error of each input column: pass
 * the diagonal of the layer Hessian, i.e. the mean of x_j^2 over calibration inputs.
 * Weights must be finite and |w| <= 16384 (so that every fp16 scale stays finite).
 * Results are deterministic and identical for every thread count (QLOW_CTX_NUM_THREADS).
 */
struct qlow_qmatrix; /* typedef'd as qlow_qmatrix in the packed-matrix section below */

typedef enum qlow_scheme {
    QLOW_SCHEME_RTN = 1,
    QLOW_SCHEME_BINARY = 2,
    QLOW_SCHEME_BINARY_RESIDUAL = 3,
    QLOW_SCHEME_TERNARY = 4
} qlow_scheme;

typedef enum qlow_quant_key {
    QLOW_P_SCHEME = 100,          /* int, a qlow_scheme, default QLOW_SCHEME_RTN */
    QLOW_P_BITS = 101,            /* int, RTN bits 2..8, default 4 (qlow_quantize packs 2, 3, 4, 8) */
    QLOW_P_GROUP_COLS = 102,      /* int, RTN columns per group: 0 = whole rows (default), else k*32 */
    QLOW_P_GROUP_ROWS = 103,      /* int, RTN consecutive rows sharing a group, >= 1, default 1 */
    QLOW_P_SYMMETRIC = 104,       /* int 0/1, RTN symmetric grid, default 0 */
    QLOW_P_RANGE_SEARCH = 105,    /* int 0/1, RTN weighted clip search (1, default) or min/max (0) */
    QLOW_P_RANGE_STEPS = 106,     /* int 1..1000, clip ratios tried after 1.0, default 100 */
    QLOW_P_RANGE_MIN_RATIO = 107, /* float 0.05..1, smallest clip ratio tried, default 0.3 */
    QLOW_P_TERNARY_PACKING = 108, /* int, QLOW_FORMAT_T158 (default) or QLOW_FORMAT_T2 */
    QLOW_P_ROW_GROUPS = 109,      /* int, RTN: if > 0, number of row groups per matrix (Q-BERT uses
                                     128); overrides QLOW_P_GROUP_ROWS with ceil(rows / value) */
    QLOW_P_BINARY_OPTIMAL = 110,  /* int 0/1, BINARY: also try the exact optimal split (default 1) */
    QLOW_P_RANGE_REFINE = 111     /* int 0..16, RTN weighted least-squares refits after the search,
                                     default 4 (used only with QLOW_P_RANGE_SEARCH) */
} qlow_quant_key;

/*! qlow_quantize() : quantize W [rows x cols] into a new packed matrix *out.
 *  @param ctx        context (allocator, threads); required.
 *  @param params     scheme and options, NULL = defaults.
 *  @param W          2-D f32/f16/bf16 view, rows, cols >= 1, any strides.
 *  @param importance cols nonnegative finite floats, or NULL (uniform).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_STRUCT_SIZE / QLOW_E_DTYPE / QLOW_E_SHAPE / QLOW_E_ALIGNMENT (bad
 *  view), QLOW_E_NONFINITE (NaN/Inf in W or importance), QLOW_E_INVALID_ARG (negative importance),
 *  QLOW_E_NUMERIC (|w| > 16384), QLOW_E_PARAM (inconsistent parameters), QLOW_E_UNSUPPORTED (RTN with
 *  5..7 bits has no packed format), QLOW_E_OVERFLOW, QLOW_E_NO_MEMORY. On failure *out is untouched.
 *  Allocates through the ctx allocator (a workspace, freed before returning, and the matrix: one block
 *  for all planes plus a small handle; release with qlow_qmatrix_destroy). The ctx is used by one thread
 *  at a time; W is only read. */
QLOW_API qlow_status qlow_quantize(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                   const float *importance, struct qlow_qmatrix **out);

/*! qlow_quantize_workspace_size() : sizes for qlow_quantize_to_buffer(): the workspace (depends on the
 *  ctx thread count) and the serialized output of a [rows x cols] matrix.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_PARAM, QLOW_E_UNSUPPORTED, QLOW_E_OVERFLOW.
 *  Never allocates. */
QLOW_API qlow_status qlow_quantize_workspace_size(const qlow_ctx *ctx, const qlow_params *params,
                                                  int64_t rows, int64_t cols, size_t *workspace_bytes,
                                                  size_t *output_bytes);

/*! qlow_quantize_to_buffer() : qlow_quantize() without allocation. The workspace (64-byte aligned) is
 *  scratch; dst (8-byte aligned, 64 recommended) receives the serialized matrix, which
 *  qlow_qmatrix_wrap() / qlow_qmatrix_wrap_static() open in place and which can be written to a file.
 *  @return as qlow_quantize() plus QLOW_E_WORKSPACE_TOO_SMALL, QLOW_E_BUFFER_TOO_SMALL,
 *  QLOW_E_ALIGNMENT; never QLOW_E_NO_MEMORY. Every failure is detected before dst is written. Never
 *  allocates; the ctx is used by one thread at a time. */
QLOW_API qlow_status qlow_quantize_to_buffer(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                             const float *importance, void *workspace,
                                             size_t workspace_bytes, void *dst, size_t dst_bytes);

/* ---- end of quant section ---- */


/* ============================================================================================
 * Packed matrices and kernels (src/formats, src/kernels)
 * ============================================================================================
 * A qlow_qmatrix is a quantized weight matrix in one of the packed formats below (layouts in
 * docs/formats.md). It is immutable once built and may be shared by any number of threads.
 * The format enum is append-only; removed values stay reserved.
 */
typedef struct qlow_qmatrix qlow_qmatrix;

typedef enum qlow_format {
    QLOW_FORMAT_Q8 = 1,   /* 8-bit group-wise, fp16 scale (+ fp16 min unless symmetric) per group */
    QLOW_FORMAT_Q4 = 2,   /* 4-bit group-wise */
    QLOW_FORMAT_Q3 = 3,   /* 3-bit group-wise (2-bit plane + 1-bit plane) */
    QLOW_FORMAT_Q2 = 4,   /* 2-bit group-wise */
    QLOW_FORMAT_B1 = 5,   /* binary rows: w = alpha_i * s_ij * r2_j + mu_i * r2_j, s = +-1 */
    QLOW_FORMAT_M161 = 6, /* PTQ1.61 mixed: 4-bit salient columns + B1 for the rest, 1-bit column mask */
    QLOW_FORMAT_T158 = 7, /* ternary {-a, 0, +a} per row, 5 trits per byte (1.6 bits) */
    QLOW_FORMAT_T2 = 8,   /* ternary {-a, 0, +a} per row, 2-bit codes */
    QLOW_FORMAT_B2 = 9    /* BiLLM-style residual binary: two sign planes, w = a1 s1 + a2 s2 + mu */
} qlow_format;

/* Flags of qlow_format_bits_per_weight(). */
#define QLOW_FORMAT_FLAG_SYMMETRIC 1u /* Q formats: no stored zero */
#define QLOW_FORMAT_FLAG_COL_SCALE 2u /* B1 / M161: a stored fp16 per-column scale r2 */

/*! qlow_format_name() : static name of a format ("Q4", "M161", ...), "unknown" for others.
 *  Never allocates; thread-safe. */
QLOW_API const char *qlow_format_name(int32_t format);

/*! qlow_format_bits_per_weight() : exact storage of a [rows x cols] matrix in `format`, in bits per
 *  weight: 8 * (bytes of every stored plane: codes including the row padding to 32 columns, fp16 scales,
 *  zeros, alphas, mus, column scales, the M161 column mask) / (rows * cols). The fixed 128-byte header
 *  is not counted. group_cols (0 = whole rows, else a multiple of 32) and group_rows (0 or 1 = per row)
 *  apply to Q formats and must be 0 otherwise; n_salient is the M161 salient column count (0 else).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_UNSUPPORTED (unknown format), QLOW_E_SHAPE, QLOW_E_INVALID_ARG,
 *  QLOW_E_OVERFLOW. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_format_bits_per_weight(int32_t format, int64_t rows, int64_t cols, int64_t group_cols,
                                                 int64_t group_rows, uint32_t flags, int64_t n_salient,
                                                 double *bits);

/*! qlow_qmatrix_destroy() : release a matrix (its planes if owned, and its handle). NULL is a no-op.
 *  A handle from qlow_qmatrix_wrap_static() is only invalidated; wrapped caller memory is never freed. */
QLOW_API void qlow_qmatrix_destroy(qlow_qmatrix *qm);

/*! qlow_qmatrix_format() / qlow_qmatrix_shape() / qlow_qmatrix_bytes() : the qlow_format, the shape
 *  [rows x cols], and the bytes of its serialized image (header + planes; what qlow_qmatrix_serialize
 *  writes). @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG (not a matrix). Never allocate; thread-safe. */
QLOW_API qlow_status qlow_qmatrix_format(const qlow_qmatrix *qm, int32_t *format);
QLOW_API qlow_status qlow_qmatrix_shape(const qlow_qmatrix *qm, int64_t *rows, int64_t *cols);
QLOW_API qlow_status qlow_qmatrix_bytes(const qlow_qmatrix *qm, size_t *bytes);

/*! qlow_qmatrix_bits_per_weight() : exact bits per weight of the stored planes, as defined by
 *  qlow_format_bits_per_weight(). Never allocates; thread-safe. */
QLOW_API qlow_status qlow_qmatrix_bits_per_weight(const qlow_qmatrix *qm, double *bits);

/*! qlow_qmatrix_dequantize() : rows [row_begin, row_begin + row_count) as fp32 into out (row-major,
 *  out_count >= row_count * cols floats). @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE (row range),
 *  QLOW_E_BUFFER_TOO_SMALL, QLOW_E_OVERFLOW. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_qmatrix_dequantize(const qlow_qmatrix *qm, int64_t row_begin, int64_t row_count,
                                             float *out, size_t out_count);

/*! qlow_qmatrix_serialized_size() / qlow_qmatrix_serialize() : copy the matrix's self-contained image
 *  (little-endian 128-byte header with checksums, then 64-byte aligned planes; docs/formats.md) into
 *  buf. @return QLOW_E_NULL_POINTER, QLOW_E_BUFFER_TOO_SMALL. Never allocate; thread-safe. */
QLOW_API qlow_status qlow_qmatrix_serialized_size(const qlow_qmatrix *qm, size_t *bytes);
QLOW_API qlow_status qlow_qmatrix_serialize(const qlow_qmatrix *qm, void *buf, size_t bytes);

/*! qlow_qmatrix_wrap() : open a serialized image in place, without copying (mmap'ed file, flash,
 *  workspace). Validates everything before use and never reads outside buf[bytes]: header, format and
 *  geometry, sizes, both checksums, every fp16 value finite, ternary codes in range, the M161 mask.
 *  buf must be 8-byte aligned and stay valid and unchanged while the matrix is used.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_ALIGNMENT, QLOW_E_TRUNCATED, QLOW_E_FORMAT, QLOW_E_CHECKSUM,
 *  QLOW_E_VERSION_MISMATCH, QLOW_E_OVERFLOW, QLOW_E_UNSUPPORTED (big-endian host), QLOW_E_NO_MEMORY.
 *  Allocates only the handle through the ctx allocator: the struct plus the tables the kernels
 *  precompute once per matrix (see qlow_qmatrix_wrap_size()). */
QLOW_API qlow_status qlow_qmatrix_wrap(qlow_ctx *ctx, const void *buf, size_t bytes, qlow_qmatrix **out);

/*! qlow_qmatrix_wrap_size() / qlow_qmatrix_wrap_static() : qlow_qmatrix_wrap() with the handle placed
 *  in caller memory (64-byte aligned, at least *handle_bytes), for builds without malloc. The handle
 *  holds, besides the struct, everything the products need that depends only on the matrix, computed
 *  here once so that no call repeats it: the kernel plans (about 2 KB), for M161 the column
 *  permutation (4 bytes per column), for column-scaled formats the scales as fp32 (4 bytes per scaled
 *  column), for Q formats the group maps (about 2.25 bytes per 32 columns), the activation order of Q
 *  matrices up to 4096 columns (4 bytes per column) and, for Q matrices up to 512 columns and under
 *  1024 rows, their fp16 scales and zeros once more, regrouped by column group (as many bytes as those
 *  planes). On x86-64
 *  CPUs with AVX2, B1, B2 and M161 matrices of at least 64 rows whose binary part has at least 1024
 *  columns also get their sign planes once more, transposed into 16-row tiles for the batch-1
 *  table-lookup kernels (as many bytes as the sign planes, rounded up to whole 64-row groups: one more
 *  bit per binary weight), and on CPUs with AVX-512 VBMI and VNNI, M161 matrices of at least 64 rows
 *  and 128 salient columns their salient 4-bit codes once more, in 16-row tiles as well, and Q2
 *  matrices of at least 64 rows and 1024 columns their codes and fp16 scales and zeros once more, in
 *  16-row tiles (as many bytes as those planes, rounded up to whole 16-row tiles: a Q2 matrix then
 *  takes about twice its packed bytes) (build with QLOW_NO_LUT_COPY to trade that speed for the
 *  memory). That memory
 *  must stay valid and unchanged while the matrix is used. @return as qlow_qmatrix_wrap() plus
 *  QLOW_E_WORKSPACE_TOO_SMALL; never QLOW_E_NO_MEMORY. Never allocate. */
QLOW_API qlow_status qlow_qmatrix_wrap_size(const void *buf, size_t bytes, size_t *handle_bytes);
QLOW_API qlow_status qlow_qmatrix_wrap_static(void *mem, size_t mem_bytes, const void *buf, size_t bytes,
                                              qlow_qmatrix **out);
/* ---- Products with packed matrices: y = W x (GEMV) and Y = W X (GEMM) ---------------------------
 * X is [batch x cols] row-major fp32 (one token per row), Y is [batch x rows] row-major fp32; Y must
 * not overlap X, the workspace or the matrix. Any batch >= 1 is accepted (batch 1 is the GEMV).
 *
 * How the product is computed (identical on every ISA): each token's activations are quantized to
 * int8 in blocks of columns, x8 = round(x * 127 / absmax_block) (half away from zero), scale
 * absmax_block / 127. Blocks are 32 consecutive columns for Q8/Q4/Q3/Q2 and M161's salient part. For
 * B1/B2/T2 and M161's binary part (T158) columns come in chunks of 4096 (5120), each split into 16
 * blocks of 256 (320) columns: column j of a chunk belongs to block (j % 64) / 4 for B1/B2,
 * ((j % 256) / 32 * 8 + j % 8) / 4 for T2 and (j % 320) / 20 for T158 (the lanes of the integer
 * dot-product instructions). The weight codes are multiplied with x8 in exact integer arithmetic
 * (AVX512-VNNI or AVX-VNNI vpdpbusd, AVX2 vpmaddubsw, NEON sdot or widening multiplies, or plain C); the
 * per-block integer sums are scaled and added in fp32 in one fixed order. Formats with a column scale
 * (B1 with r2, M161) scale x by it before quantizing; M161 gathers x into its salient and binary parts
 * once per call.
 *
 * Exactness: for a given matrix, input and mode, Y is bit-identical on every ISA (generic C, AVX2,
 * AVX2_VNNI, AVX-512, NEON; see QLOW_CTX_ISA_MAX) and for every thread count. (This needs the library built
 * without fused multiply-add contraction: the default of -std=c11; GNU modes need -ffp-contract=off.)
 * Accuracy: Y equals W x_hat computed with fp32 rounding, where x_hat is the dequantized activation
 * (|x - x_hat| <= scale_block / 2 per element). Hence |Y - W x| <= sum_j |w_j| * scale_block(j) / 2
 * plus fp32 rounding (relative 2^-24 per operation over about cols/ablock + 16 additions).
 *
 * Workspace: size from qlow_gemm_workspace_size() for that matrix, batch and flags; 64-byte aligned
 * (QLOW_E_ALIGNMENT otherwise). Its contents on entry do not matter; it may be reused across calls but
 * not shared by concurrent calls. Threads: rows are split over QLOW_CTX_NUM_THREADS OpenMP threads.
 * Non-finite input: if X (after a column scale) holds NaN or infinity the call returns
 * QLOW_E_NONFINITE and leaves Y untouched. Non-finite weights propagate into Y as IEEE arithmetic does.
 * On any error Y is left untouched. */

/* Flags of qlow_gemm_workspace_size(). */
#define QLOW_GEMM_ACT8 1 /* size the workspace for the act8 entry points (same size today) */

/*! qlow_gemm_workspace_size() : bytes of workspace that qlow_gemm_ws()/qlow_gemm_act8_ws() (flags
 *  QLOW_GEMM_ACT8) need for `qm` and `batch` tokens (batch 1 for qlow_gemv_ws()).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG (unknown flags or not a qmatrix), QLOW_E_SHAPE
 *  (batch < 1), QLOW_E_FORMAT (inconsistent packed description), QLOW_E_OVERFLOW.
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_gemm_workspace_size(const qlow_qmatrix *qm, int64_t batch, int32_t flags, size_t *bytes);

/*! qlow_gemm_ws() : Y[t] = W X[t] for t < batch, activations quantized per block (see above).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG (bad ctx or qmatrix), QLOW_E_SHAPE, QLOW_E_FORMAT,
 *  QLOW_E_ALIGNMENT (workspace not 64-byte aligned), QLOW_E_WORKSPACE_TOO_SMALL, QLOW_E_NONFINITE.
 *  Never allocates. Thread-safe for distinct ctx and workspace (the qmatrix may be shared). */
QLOW_API qlow_status qlow_gemm_ws(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y,
                                  void *wksp, size_t wksp_bytes);

/*! qlow_gemm_act8_ws() : as qlow_gemm_ws(), but with Q-BERT 8-bit activations: each token (each part
 *  of an M161 matrix, after its column scale) is quantized with ONE absmax scale, so an engine running
 *  int8 activations gets exactly its numbers. Same statuses; never allocates. */
QLOW_API qlow_status qlow_gemm_act8_ws(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch,
                                       float *Y, void *wksp, size_t wksp_bytes);

/*! qlow_gemv_ws() : qlow_gemm_ws() with batch 1: y[rows] = W x[cols]. */
QLOW_API qlow_status qlow_gemv_ws(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *x, float *y, void *wksp,
                                  size_t wksp_bytes);

/*! qlow_gemm() / qlow_gemm_act8() / qlow_gemv() : the same products with a workspace allocated and
 *  freed through the ctx allocator on each call. Additionally @return QLOW_E_NO_MEMORY (e.g. a static
 *  context). Allocates (one block through the ctx allocator). */
QLOW_API qlow_status qlow_gemm(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y);
QLOW_API qlow_status qlow_gemm_act8(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y);
QLOW_API qlow_status qlow_gemv(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *x, float *y);

/* ---- end of formats/kernels section ---- */


/* ============================================================================================
 * Hessian estimation (src/hessian)
 * ============================================================================================ */

/* Two sources of curvature:
 *   (a) calibration activations: the layer-wise proxy H = 2/N sum_t x_t x_t^T of GPTQ/OBQ, accumulated
 *       from batches X [tokens x cols] (cols = the layer's input dimension). Its diagonal is llama.cpp's
 *       importance vector ("imatrix" = diag(H)/2).
 *   (b) a caller's model: any Hessian-vector product callback over a flat parameter block (Q-BERT's
 *       full-loss block Hessian), for top eigenvalues and Hutchinson traces.
 * Randomized routines draw only from the ctx seed (QLOW_CTX_SEED). */

/*! qlow_hessian : opaque streaming accumulator of sum x x^T (double precision), the column sums and the
 *  token count. Mutable: one thread at a time; distinct accumulators are independent. */
typedef struct qlow_hessian qlow_hessian;

typedef enum qlow_hessian_mode {
    QLOW_HESSIAN_FULL = 0, /* the full cols x cols matrix: 8*cols^2 bytes plus packing scratch */
    QLOW_HESSIAN_DIAG = 1  /* diagonal only (importance vector): O(cols) memory */
} qlow_hessian_mode;

typedef enum qlow_hessian_factor {
    QLOW_HESSIAN_FACTOR_H = 0,   /* upper R with H_damped = R^T R */
    QLOW_HESSIAN_FACTOR_HINV = 1 /* upper U with H_damped^-1 = U^T U (the factor GPTQ sweeps) */
} qlow_hessian_factor;

/*! qlow_hessian_estimate_size() : bytes qlow_hessian_init_static() needs for `cols` columns in `mode`.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE (cols <= 0), QLOW_E_INVALID_ARG (mode), QLOW_E_OVERFLOW.
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_hessian_estimate_size(int64_t cols, int32_t mode, size_t *bytes);

/*! qlow_hessian_create() : an empty accumulator. Allocates one block through `alloc` (NULL = libc).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_INVALID_ARG, QLOW_E_OVERFLOW, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_hessian_create(const qlow_allocator *alloc, int64_t cols, int32_t mode,
                                         qlow_hessian **out);

/*! qlow_hessian_init_static() : an empty accumulator in caller memory (64-byte aligned, at least
 *  qlow_hessian_estimate_size() bytes). No destroy needed. Never allocates.
 *  @return as qlow_hessian_estimate_size(), plus QLOW_E_ALIGNMENT, QLOW_E_WORKSPACE_TOO_SMALL. */
QLOW_API qlow_status qlow_hessian_init_static(void *mem, size_t mem_bytes, int64_t cols, int32_t mode,
                                              qlow_hessian **out);

/*! qlow_hessian_destroy() : frees an accumulator from create/load; NULL and static ones are no-ops. */
QLOW_API void qlow_hessian_destroy(qlow_hessian *h);

/*! qlow_hessian_reset() : forget everything added. Never allocates. @return QLOW_E_NULL_POINTER,
 *  QLOW_E_INVALID_ARG (not an accumulator). */
QLOW_API qlow_status qlow_hessian_reset(qlow_hessian *h);

/*! qlow_hessian_info() : columns, mode and tokens added so far (each out-pointer may be NULL).
 *  Never allocates. */
QLOW_API qlow_status qlow_hessian_info(const qlow_hessian *h, int64_t *cols, int32_t *mode, int64_t *tokens);

/*! qlow_hessian_add() : accumulate a batch X [tokens x cols] (2-D view, f32, f16 or bf16, any strides).
 *  FULL mode runs a blocked symmetric rank-k update: fp32 products over chunks of 256 tokens, flushed
 *  into the double accumulator; threads from the ctx (bit-identical for any thread count).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE (cols mismatch), QLOW_E_DTYPE, QLOW_E_NONFINITE (the
 *  accumulator is then unchanged), QLOW_E_OVERFLOW (token count). Never allocates. */
QLOW_API qlow_status qlow_hessian_add(qlow_ctx *ctx, qlow_hessian *h, const qlow_view *X);

/*! qlow_hessian_merge() : dst += src (matrix, sums, tokens), for sharded or resumed calibration. A DIAG
 *  dst takes the diagonal of a FULL src; a FULL dst needs a FULL src (else QLOW_E_STATE).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_STATE, QLOW_E_INVALID_ARG (dst == src). Never
 *  allocates. */
QLOW_API qlow_status qlow_hessian_merge(qlow_hessian *dst, const qlow_hessian *src);

/*! qlow_hessian_diag() : out[j] = H_jj = 2/N sum x_j^2 for j < cols (count >= cols). The imatrix is
 *  out[j] / 2. @return QLOW_E_STATE when no token was added, QLOW_E_BUFFER_TOO_SMALL. Never allocates. */
QLOW_API qlow_status qlow_hessian_diag(const qlow_hessian *h, float *out, int64_t count);

/*! qlow_hessian_col_mean() : out[j] = mean of x_j over the tokens. @return as qlow_hessian_diag(). */
QLOW_API qlow_status qlow_hessian_col_mean(const qlow_hessian *h, float *out, int64_t count);

/*! qlow_hessian_trace() : tr H = 2/N sum_j sum x_j^2 (exact). @return QLOW_E_STATE when empty. */
QLOW_API qlow_status qlow_hessian_trace(const qlow_hessian *h, double *trace);

/*! qlow_hessian_matrix() : the dense symmetric H + lambda I into out[cols*cols] (count elements), with
 *  columns whose diagonal is 0 ("dead") given H_jj = 1 first, as GPTQ does, and lambda = damp *
 *  mean(diag) (damp = 0.01 is GPTQ's default). FULL mode only (else QLOW_E_STATE).
 *  @return QLOW_E_STATE, QLOW_E_BUFFER_TOO_SMALL, QLOW_E_INVALID_ARG (damp < 0 or NaN). Never allocates. */
QLOW_API qlow_status qlow_hessian_matrix(const qlow_hessian *h, double damp, double *out, int64_t count);

/*! qlow_hessian_cholesky_workspace_size() : workspace bytes of qlow_hessian_cholesky_ws(). */
QLOW_API qlow_status qlow_hessian_cholesky_workspace_size(int64_t cols, size_t *bytes);

/*! qlow_hessian_cholesky_ws() : the upper Cholesky factor (qlow_hessian_factor `which`) of the damped
 *  matrix of qlow_hessian_matrix(), in double, into out[cols*cols] (lower triangle zero). Blocked and
 *  threaded by the ctx. Workspace: 8-byte aligned caller memory. Never allocates.
 *  @return QLOW_E_NUMERIC when the damped matrix is not positive definite (out untouched),
 *  QLOW_E_WORKSPACE_TOO_SMALL, and the errors of qlow_hessian_matrix(). */
QLOW_API qlow_status qlow_hessian_cholesky_ws(qlow_ctx *ctx, const qlow_hessian *h, int32_t which, double damp,
                                              double *out, int64_t count, void *workspace,
                                              size_t workspace_bytes);
/*! qlow_hessian_cholesky() : qlow_hessian_cholesky_ws() with workspace from the ctx allocator
 *  (allocates; QLOW_E_NO_MEMORY). */
QLOW_API qlow_status qlow_hessian_cholesky(qlow_ctx *ctx, const qlow_hessian *h, int32_t which, double damp,
                                           double *out, int64_t count);

/*! qlow_hessian_top_eigen() : the largest eigenvalue of H by power iteration (seeded Gaussian start from
 *  the ctx seed), stopping when |lambda_k - lambda_k-1| <= tol * |lambda_k| or after max_iter products
 *  (*iters, may be NULL, tells which). Layer-wise, every output row of W has this same Hessian, so this
 *  is also the top eigenvalue of the layer's full Hessian. FULL mode. workspace NULL = allocate through
 *  the ctx allocator, else 8-byte aligned caller memory of qlow_spectral_workspace_size(cols, 0) bytes.
 *  @return QLOW_E_STATE, QLOW_E_INVALID_ARG (tol outside [0,1], max_iter < 1),
 *  QLOW_E_WORKSPACE_TOO_SMALL, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_hessian_top_eigen(qlow_ctx *ctx, const qlow_hessian *h, double tol, int32_t max_iter,
                                            void *workspace, size_t workspace_bytes, double *lambda,
                                            int32_t *iters);

/*! qlow_hessian_lanczos() : the k largest eigenvalues of H (descending) from `steps` Lanczos steps with
 *  full reorthogonalization (1 <= k <= steps, k <= cols; steps above cols are clamped). Extreme
 *  eigenvalues converge first; use steps >= 3k. FULL mode. Workspace as qlow_hessian_top_eigen() with
 *  qlow_spectral_workspace_size(cols, steps) bytes (about (steps+1)*cols doubles).
 *  @return QLOW_E_STATE, QLOW_E_INVALID_ARG, QLOW_E_WORKSPACE_TOO_SMALL, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_hessian_lanczos(qlow_ctx *ctx, const qlow_hessian *h, int32_t steps, int32_t k,
                                          void *workspace, size_t workspace_bytes, double *eigs);

/*! qlow_hessian_save_size() / qlow_hessian_save() : serialize into caller memory (versioned, host byte
 *  order with a byte-order mark, FNV-1a checksum); the scratch is not saved. *written may be NULL.
 *  @return QLOW_E_BUFFER_TOO_SMALL. Never allocate. */
QLOW_API qlow_status qlow_hessian_save_size(const qlow_hessian *h, size_t *bytes);
QLOW_API qlow_status qlow_hessian_save(const qlow_hessian *h, void *buffer, size_t buffer_bytes, size_t *written);

/*! qlow_hessian_load() : a new accumulator from qlow_hessian_save() bytes; every length is checked
 *  against buffer_bytes before it is read. Allocates through `alloc`.
 *  @return QLOW_E_TRUNCATED, QLOW_E_FORMAT (bad magic, mode, byte order, sizes or non-finite data),
 *  QLOW_E_VERSION_MISMATCH, QLOW_E_CHECKSUM, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_hessian_load(const qlow_allocator *alloc, const void *buffer, size_t buffer_bytes,
                                       qlow_hessian **out);

/* ---- Hessian-vector products from the caller (full-model path) ---- */

/*! qlow_hvp_fn : v_out = H v_in for the caller's parameter block of n floats. Return 0 on success;
 *  any other value aborts the computation with QLOW_E_CALLBACK. Called from the calling thread only. */
typedef int (*qlow_hvp_fn)(void *user, const float *v_in, float *v_out, int64_t n);
/*! qlow_grad_fn : grad = dL/dtheta at theta (n floats). Nonzero return = failure. */
typedef int (*qlow_grad_fn)(void *user, const float *theta, float *grad, int64_t n);

/*! qlow_spectral_workspace_size() : workspace bytes for the qlow_hvp_* calls on n parameters (pass the
 *  Lanczos step count, or 0 for power iteration / Hutchinson only). */
QLOW_API qlow_status qlow_spectral_workspace_size(int64_t n, int32_t lanczos_steps, size_t *bytes);

/*! qlow_hvp_top_eigen() : the largest-magnitude eigenvalue of the caller's Hessian (sign kept: negative
 *  curvature shows up as a negative value) by power iteration from a Gaussian start seeded by the ctx;
 *  stops when the relative change is <= tol (Q-BERT uses 1e-2, PyHessian 1e-3) or after max_iter HVPs.
 *  workspace NULL = allocate through the ctx allocator, else 8-byte aligned caller memory of
 *  qlow_spectral_workspace_size(n, 0) bytes. @return QLOW_E_CALLBACK, QLOW_E_NONFINITE (the callback
 *  produced NaN/Inf), QLOW_E_INVALID_ARG, QLOW_E_WORKSPACE_TOO_SMALL, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_hvp_top_eigen(qlow_ctx *ctx, qlow_hvp_fn hvp, void *user, int64_t n, double tol,
                                        int32_t max_iter, void *workspace, size_t workspace_bytes,
                                        double *lambda, int32_t *iters);

/*! qlow_hvp_lanczos() : the k largest eigenvalues (descending) of the caller's Hessian from `steps`
 *  Lanczos steps (one HVP each) with full reorthogonalization. Workspace as qlow_hvp_top_eigen() with
 *  qlow_spectral_workspace_size(n, steps). @return as qlow_hvp_top_eigen(). */
QLOW_API qlow_status qlow_hvp_lanczos(qlow_ctx *ctx, qlow_hvp_fn hvp, void *user, int64_t n, int32_t steps,
                                      int32_t k, void *workspace, size_t workspace_bytes, double *eigs);

/*! qlow_hvp_trace() : Hutchinson's estimate of tr H = E[z^T H z] with Rademacher probes z drawn from the
 *  ctx seed. Runs max_probes probes, or stops early once the standard error of the mean is <= rel_tol *
 *  |estimate| (rel_tol = 0: never early; at least 4 probes). *std_error = sample std / sqrt(probes),
 *  *probes_used may be NULL. Workspace as qlow_hvp_top_eigen(). @return as qlow_hvp_top_eigen(). */
QLOW_API qlow_status qlow_hvp_trace(qlow_ctx *ctx, qlow_hvp_fn hvp, void *user, int64_t n, int32_t max_probes,
                                    double rel_tol, void *workspace, size_t workspace_bytes, double *trace,
                                    double *std_error, int32_t *probes_used);

/*! qlow_fd_hvp : an HVP built from a gradient callback by central differences,
 *  H v ~ (g(theta + e v) - g(theta - e v)) / (2 e), two gradients per product. The step is
 *  e = s * (1 + max|theta|) / ||v||, with s = `step` or, when step = 0, s = (2^-23)^(1/3) ~ 4.9e-3,
 *  which balances the O(e^2) truncation error against fp32 rounding of the gradients, O(2^-23 |g| / e).
 *  Pass qlow_fd_hvp_apply as the qlow_hvp_fn and the object as its `user`. `theta` (n floats) is not
 *  copied and must outlive the object. One thread at a time. */
typedef struct qlow_fd_hvp qlow_fd_hvp;

/*! qlow_fd_hvp_create() : allocates (3 n floats) through `alloc`. @return QLOW_E_NULL_POINTER,
 *  QLOW_E_SHAPE, QLOW_E_INVALID_ARG (step outside [0, 1]), QLOW_E_NONFINITE (theta), QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_fd_hvp_create(const qlow_allocator *alloc, qlow_grad_fn grad, void *user,
                                        const float *theta, int64_t n, double step, qlow_fd_hvp **out);
/*! qlow_fd_hvp_destroy() : NULL is a no-op. */
QLOW_API void qlow_fd_hvp_destroy(qlow_fd_hvp *fd);
/*! qlow_fd_hvp_apply() : the qlow_hvp_fn of a qlow_fd_hvp (user = the object). Returns nonzero if the
 *  gradient callback fails or the arguments do not match the object. Never allocates. */
QLOW_API int qlow_fd_hvp_apply(void *fd_hvp, const float *v_in, float *v_out, int64_t n);

/* ---- end of hessian section ---- */


/* ============================================================================================
 * GPTQ error compensation (src/gptq)
 * ============================================================================================ */

/* GPTQ (Frantar et al. 2022): quantize W column by column and push each column's rounding error onto
 * the not-yet-quantized columns through the upper Cholesky factor of the damped H^-1, so that the layer
 * output error ||W X^T - Wq X^T||^2 over the calibration inputs (not the weight error) is minimized.
 * The quantizer is the foundation's RTN (keys QLOW_P_BITS, QLOW_P_SYMMETRIC, QLOW_P_GROUP_COLS,
 * QLOW_P_GROUP_ROWS / QLOW_P_ROW_GROUPS, QLOW_P_RANGE_SEARCH and its options); the result is the same
 * packed qmatrix qlow_quantize would build, so every kernel runs it. */
typedef enum qlow_gptq_key {
    QLOW_GPTQ_BLOCK = 400,        /* int 1..65536, default 128: columns per lazy batch update */
    QLOW_GPTQ_ACT_ORDER = 401,    /* int 0/1, default 0: sweep columns by descending diag(H); group
                                     grids then come from the original weights (static groups) */
    QLOW_GPTQ_DAMP = 402,         /* float 0..10, default 0.01: lambda = damp * mean(diag H) */
    QLOW_GPTQ_DAMP_RETRIES = 403  /* int 0..10, default 0: on a failed factorization retry with the
                                     damping multiplied by 10, this many times */
} qlow_gptq_key;

/*! qlow_gptq_workspace_size() : workspace bytes of qlow_gptq_quantize_ws() and
 *  qlow_gptq_fake_quantize_ws() for a [rows x cols] matrix (about 8 cols^2 + 9 rows cols bytes).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_PARAM, QLOW_E_UNSUPPORTED (a scheme other than
 *  RTN), QLOW_E_OVERFLOW. Never allocates. */
QLOW_API qlow_status qlow_gptq_workspace_size(const qlow_params *params, int64_t rows, int64_t cols,
                                              size_t *bytes);

/*! qlow_gptq_quantize_ws() : GPTQ-quantize W [rows x cols] (2-D f32/f16/bf16 view, any strides) with the
 *  layer Hessian accumulated from its inputs (H: FULL mode, cols columns). Columns whose diagonal is 0
 *  are dead: their weights become 0 (H_jj = 1, as GPTQ). Workspace: 64-byte aligned caller memory;
 *  the result *out is allocated through the ctx allocator (release with qlow_qmatrix_destroy).
 *  Deterministic and identical for every thread count.
 *  @return QLOW_E_NULL_POINTER, view errors, QLOW_E_SHAPE (cols != H's), QLOW_E_STATE (H empty or DIAG),
 *  QLOW_E_NONFINITE, QLOW_E_NUMERIC (|w| > 16384, or H + damping not positive definite),
 *  QLOW_E_PARAM, QLOW_E_UNSUPPORTED, QLOW_E_WORKSPACE_TOO_SMALL, QLOW_E_ALIGNMENT, QLOW_E_NO_MEMORY.
 *  *out is untouched on failure. */
QLOW_API qlow_status qlow_gptq_quantize_ws(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                           const qlow_hessian *H, void *workspace, size_t workspace_bytes,
                                           qlow_qmatrix **out);

/*! qlow_gptq_quantize() : qlow_gptq_quantize_ws() with the workspace allocated through the ctx
 *  allocator (and freed before returning). */
QLOW_API qlow_status qlow_gptq_quantize(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                        const qlow_hessian *H, qlow_qmatrix **out);

/*! qlow_gptq_fake_quantize_ws() : the same GPTQ pass, returning the dequantized weights in out (row-major
 *  [rows x cols], out_count >= rows * cols floats) instead of a packed matrix, for evaluation, export and
 *  bit widths without a packed format (RTN 5..7 bits work here). *loss (may be NULL) gets GPTQ's
 *  sum (w - q)^2 / [H^-1]_jj / 2 over the sweep. Never allocates.
 *  @return as qlow_gptq_quantize_ws() plus QLOW_E_BUFFER_TOO_SMALL; out is untouched on failure. */
QLOW_API qlow_status qlow_gptq_fake_quantize_ws(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                                const qlow_hessian *H, void *workspace, size_t workspace_bytes,
                                                float *out, int64_t out_count, double *loss);
/*! qlow_gptq_fake_quantize() : qlow_gptq_fake_quantize_ws() with workspace from the ctx allocator. */
QLOW_API qlow_status qlow_gptq_fake_quantize(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                             const qlow_hessian *H, float *out, int64_t out_count, double *loss);

/* ---- end of gptq section ---- */


/* ============================================================================================
 * Sensitivity and bit allocation (src/plan)
 * ============================================================================================ */

/* Per-layer sensitivities and an exact bit-allocation planner. Sizes and costs are caller numbers: e.g.
 * size = bits/weight x weights (or bytes, including group metadata) and cost = a sensitivity of the
 * layer quantized at that width (qlow_plan_layer_error(), qlow_plan_hawq_v2(), ...). */
typedef enum qlow_plan_key {
    QLOW_PLAN_BUDGET_UNITS = 700 /* int, 1..10^7, default 100000: budget discretization of the planner's
                                    dynamic program (time and memory grow linearly with it) */
} qlow_plan_key;

/*! qlow_plan_qbert_omega() : Q-BERT's sensitivity Omega = |mean(lambda)| + std(lambda) over the top
 *  eigenvalues of n_runs calibration subsets (population std, ddof = 0). Never allocates.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE (n_runs < 1), QLOW_E_NONFINITE. */
QLOW_API qlow_status qlow_plan_qbert_omega(const double *lambdas, int32_t n_runs, double *omega);

/*! qlow_plan_hawq_v2() : HAWQ-V2's perturbation (trace / n_params) * ||Wq - W||_F^2 for a layer with
 *  Hessian trace `trace` over n_params parameters; W and Wq are same-shape 2-D float views (original
 *  and quantize-dequantized). Never allocates. @return QLOW_E_SHAPE, QLOW_E_NONFINITE, view errors. */
QLOW_API qlow_status qlow_plan_hawq_v2(double trace, int64_t n_params, const qlow_view *W, const qlow_view *Wq,
                                       double *omega);

/*! qlow_plan_diag_weighted() : sum_j hdiag[j] * sum_r (Wq - W)_rj^2 (count = cols), the separable proxy
 *  of the layer error that needs only the importance vector (qlow_hessian_diag()). Never allocates. */
QLOW_API qlow_status qlow_plan_diag_weighted(const float *hdiag, int64_t count, const qlow_view *W,
                                             const qlow_view *Wq, double *cost);

/*! qlow_plan_layer_error_workspace_size() : workspace bytes of qlow_plan_layer_error() for a
 *  [rows x cols] matrix with the ctx's thread count. Never allocates. */
QLOW_API qlow_status qlow_plan_layer_error_workspace_size(const qlow_ctx *ctx, int64_t rows, int64_t cols,
                                                          size_t *bytes);

/*! qlow_plan_layer_error() : the exact layer-wise quadratic form tr(dW H dW^T) with dW = Wq - W and the
 *  accumulator's H = 2/N sum x x^T, i.e. 2/N ||dW X^T||_F^2 over the calibration tokens. O(rows cols^2),
 *  threaded by the ctx (bit-identical for any thread count). workspace NULL = allocate through the ctx
 *  allocator, else 8-byte aligned caller memory of qlow_plan_layer_error_workspace_size() bytes.
 *  @return QLOW_E_STATE (empty or DIAG accumulator), QLOW_E_SHAPE, QLOW_E_NONFINITE,
 *  QLOW_E_WORKSPACE_TOO_SMALL, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_plan_layer_error(qlow_ctx *ctx, const qlow_hessian *h, const qlow_view *W,
                                           const qlow_view *Wq, void *workspace, size_t workspace_bytes,
                                           double *error);

/*! qlow_plan_solve_workspace_size() : workspace bytes of qlow_plan_solve_ws() (about n_layers x
 *  (QLOW_PLAN_BUDGET_UNITS + 1) bytes plus two rows of doubles). */
QLOW_API qlow_status qlow_plan_solve_workspace_size(int32_t n_layers, int32_t n_choices, const qlow_params *params,
                                                    size_t *bytes);

/*! qlow_plan_solve_ws() : the assignment choice[l] in [0, n_choices) minimizing sum_l cost[l][choice] subject
 *  to sum_l size[l][choice] <= budget, an exact multiple-choice knapsack by dynamic programming.
 *  size and cost are [n_layers x n_choices] row-major; cost +INFINITY marks a choice unavailable.
 *  tie (may be NULL): tie[l] >= 0 puts layer l in a group whose layers must take the same choice index
 *  (-1 = untied). The budget is cut into QLOW_PLAN_BUDGET_UNITS units and every size is rounded UP to
 *  whole units, so the returned plan never exceeds the budget; when all sizes are multiples of
 *  budget / units the result is the exact optimum. Ties between equal costs go to the lower choice
 *  index. total_cost / total_size (may be NULL) get the plan's sums. Never allocates.
 *  @return QLOW_E_NOT_FOUND (no plan fits; choice untouched), QLOW_E_SHAPE (n_choices outside 1..255),
 *  QLOW_E_INVALID_ARG (budget <= 0, negative or infinite size, tie < -1), QLOW_E_NONFINITE,
 *  QLOW_E_WORKSPACE_TOO_SMALL. */
QLOW_API qlow_status qlow_plan_solve_ws(const qlow_params *params, int32_t n_layers, int32_t n_choices,
                                        const double *size, const double *cost, const int32_t *tie, double budget,
                                        int32_t *choice, double *total_cost, double *total_size, void *workspace,
                                        size_t workspace_bytes);
/*! qlow_plan_solve() : qlow_plan_solve_ws() with its workspace allocated through `alloc` (NULL = libc). */
QLOW_API qlow_status qlow_plan_solve(const qlow_allocator *alloc, const qlow_params *params, int32_t n_layers,
                                     int32_t n_choices, const double *size, const double *cost, const int32_t *tie,
                                     double budget, int32_t *choice, double *total_cost, double *total_size);

/*! qlow_plan_qbert_rule() : Q-BERT's hand rule: the floor(fraction_high * n_layers) layers with the largest
 *  Omega get bits_high, the rest bits_low (ties by index). Never allocates. @return QLOW_E_NULL_POINTER,
 *  QLOW_E_SHAPE, QLOW_E_INVALID_ARG (fraction outside [0,1]), QLOW_E_NONFINITE. */
QLOW_API qlow_status qlow_plan_qbert_rule(int32_t n_layers, const double *omega, double fraction_high,
                                          int32_t bits_low, int32_t bits_high, int32_t *bits);

/* ---- end of plan section ---- */


/* ============================================================================================
 * PTQ1.61: salient-channel mask and scale optimization (src/mask, src/scale)
 * ============================================================================================
 * PTQ1.61 (Zhao et al., ACL 2025) splits the input channels (columns) of a linear layer in two:
 *   - salient columns (top 20% by max|x| over calibration activations): 4-bit asymmetric, per row;
 *   - the rest: W^_ij = r1_i r2_j (alpha_i sgn(W_ij - mu_i) + mu_i), mu_i the frozen row mean over the
 *     non-salient entries, sgn(0) = +1 (the paper's; the authors' code gives 0, which a sign bit cannot
 *     hold); alpha (per row), r1 (per row), r2 (per column) are optimized so
 *     that the layer output W^ x matches W x (MSE + lambda * -log mean-token-cosine).
 * Stages, each usable on its own:
 *   1. qlow_actstats: streaming per-channel statistics of calibration activations X [tokens x cols];
 *   2. qlow_mask_*: the top-k salient-column mask (1 bit per column) and its permutation;
 *   3. qlow_ptq161_quantize_f32(): mask + quantize + optimize one layer (optionally with equalization,
 *      a low-rank restorative correction and GPTQ-style compensation), fp32 dequantized output;
 *   4. qlow_scaleopt: the same parameterization driven by an engine that owns the block forward and
 *      backward (the paper's block-wise variant): the engine hands in dL/dW^ and the library steps.
 */

/* Parameter keys: mask and pipeline (500-599), scale optimization (600-699). */
typedef enum qlow_ptq161_key {
    QLOW_MASK_RATIO = 500,           /* float 0..1, default 0.2: fraction of salient columns. 0 = none,
                                        1 = all; otherwise the authors' rule: k = floor(ratio*cols)+1
                                        columns with score >= the k-th largest score (ties included) */
    QLOW_MASK_STATISTIC = 501,       /* int qlow_actstat, default QLOW_ACTSTAT_ABSMAX (the authors' code) */
    QLOW_PTQ161_SALIENT_RANGE = 502, /* int 0..1, default 0: 4-bit range over the salient columns of the
                                        row only; 1 = over the whole row (the authors' code) */
    QLOW_PTQ161_ALPHA_INIT = 503,    /* int 0..1, default 0: alpha = mean|w - mu|; 1 = mean|w| (code) */
    QLOW_PTQ161_OPTIMIZE = 504,      /* int 0..1, default 1: run the scale optimizer (0 = "mask only") */
    QLOW_PTQ161_EQUALIZE = 505,      /* int 0..1, default 0: activation-aware column equalization */
    QLOW_PTQ161_EQUALIZE_GRID = 506, /* int 1..32, default 5: exponents beta = 0, 1/(2(g-1)), .., 1/2 */
    QLOW_PTQ161_LOWRANK = 507,       /* int 0..512, default 0: rank of the restorative correction */
    QLOW_PTQ161_GPTQ = 508,          /* int 0..1, default 0: GPTQ-style compensation of the binary part */
    QLOW_PTQ161_GPTQ_DAMP = 509,     /* float 0..1, default 0.01: damping as a fraction of mean diag(H) */
    QLOW_SCALE_LR_ALPHA = 600,       /* float 0..1, default 5e-4: Adam learning rate of alpha */
    QLOW_SCALE_LR_R = 601,           /* float 0..1, default 1e-3: Adam learning rate of r1 and r2 */
    QLOW_SCALE_BETA1 = 602,          /* float 0..1, default 0.9 */
    QLOW_SCALE_BETA2 = 603,          /* float 0..1, default 0.999 */
    QLOW_SCALE_EPS = 604,            /* float 0..1, default 1e-8 */
    QLOW_SCALE_WEIGHT_DECAY = 605,   /* float 0..1, default 0 (decoupled, AdamW) */
    QLOW_SCALE_LAMBDA_COS = 606,     /* float 0..100, default 1: weight of -log(mean cosine) */
    QLOW_SCALE_ALS_ITERS = 607,      /* int 0..100, default 2: closed-form alternating sweeps */
    QLOW_SCALE_CG_ITERS = 608,       /* int 1..100, default 2: conjugate-gradient steps for r2 per sweep */
    QLOW_SCALE_ADAM_STEPS = 609,     /* int 0..1000000, default 16: Adam steps after the sweeps */
    QLOW_SCALE_BATCH_TOKENS = 610,   /* int 1..1<<30, default 128: tokens per Adam step */
    QLOW_SCALE_FIT_TOKENS = 611      /* int 0..1<<30, default 512: token budget of the layer-wise
                                        optimizer. With more tokens T than columns and budget 0 or
                                        >= cols, X is streamed, never copied: the closed-form sweeps
                                        (output MSE) run exactly over all T tokens on cols
                                        pseudo-tokens of X^T X, the Adam minibatches (MSE + cosine)
                                        read X in place, drawn by a seeded stride over all T, and the
                                        final loss reads all T (budget 0) or an evenly spread sample of
                                        the budget; memory O(cols^2 + batch x (rows + cols)),
                                        independent of T. Otherwise a seeded random subset of at most
                                        `budget` tokens (all if 0) is copied and fitted: memory and
                                        time linear in it. The default keeps a 4096-column layer at
                                        512 tokens' cost and is exact over every token on layers of
                                        up to 512 columns; 0 = every token everywhere (slower on wide
                                        layers: sweeps cost rows x cols x min(T, cols)) */
} qlow_ptq161_key;

/* ---- activation statistics ---- */
typedef struct qlow_actstats qlow_actstats;

typedef enum qlow_actstat {
    QLOW_ACTSTAT_ABSMAX = 0,  /* max over tokens of |x_c| */
    QLOW_ACTSTAT_ABSMEAN = 1, /* mean over tokens of |x_c| */
    QLOW_ACTSTAT_SQMEAN = 2   /* mean over tokens of x_c^2 (the diagonal of X^T X / tokens) */
} qlow_actstat;

/*! qlow_actstats_create() : an empty accumulator of per-input-channel statistics for `cols` channels.
 *  Allocates through `alloc` (NULL = libc). @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE (cols < 1),
 *  QLOW_E_OVERFLOW, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_actstats_create(const qlow_allocator *alloc, int64_t cols, qlow_actstats **out);
/*! qlow_actstats_destroy() : NULL is a no-op. */
QLOW_API void qlow_actstats_destroy(qlow_actstats *stats);
/*! qlow_actstats_update() : add the rows of X [tokens x cols] (f32/f16/bf16, any strides). Sums are kept
 *  in double in token order, so splitting a stream into chunks gives the same result as one call.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE (column count differs), QLOW_E_DTYPE, QLOW_E_NONFINITE (then
 *  the accumulator is unchanged). Never allocates. One thread at a time per accumulator. */
QLOW_API qlow_status qlow_actstats_update(qlow_actstats *stats, const qlow_view *X);
/*! qlow_actstats_merge() : dst += src (max of maxima, sums added). @return QLOW_E_NULL_POINTER,
 *  QLOW_E_SHAPE. Never allocates. */
QLOW_API qlow_status qlow_actstats_merge(qlow_actstats *dst, const qlow_actstats *src);
/*! qlow_actstats_get() : statistic `which` (qlow_actstat) into out[cols]; *tokens (may be NULL) gets
 *  the token count. An empty accumulator gives zeros. @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE (cols
 *  differs), QLOW_E_INVALID_ARG (unknown statistic). Never allocates. */
QLOW_API qlow_status qlow_actstats_get(const qlow_actstats *stats, int32_t which, float *out, int64_t cols,
                                       int64_t *tokens);

/* ---- salient-column mask ---- */
/* Bytes of a 1-bit-per-column mask: bit (j & 7) of byte j / 8 set = column j is salient. */
#define QLOW_MASK_BYTES(cols) ((size_t)(((cols) + 7) / 8))

/*! qlow_mask_select() : the salient mask of the top columns by score[cols] (see QLOW_MASK_RATIO for
 *  the exact rule) into mask[QLOW_MASK_BYTES(cols)]; *n_salient (may be NULL) gets the count.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_INVALID_ARG (ratio outside 0..1), QLOW_E_NONFINITE.
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_mask_select(const float *score, int64_t cols, double ratio, uint8_t *mask,
                                      int64_t *n_salient);
/*! qlow_actstats_mask() : qlow_mask_select() on the statistic QLOW_MASK_STATISTIC of `stats` with
 *  QLOW_MASK_RATIO from `params` (NULL = defaults). Allocates a cols-float scratch through the stats'
 *  allocator. @return as qlow_mask_select(), QLOW_E_STATE (no tokens yet), QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_actstats_mask(const qlow_actstats *stats, const qlow_params *params,
                                        uint8_t *mask, int64_t *n_salient);
/*! qlow_mask_permutation() : perm[cols] = the salient columns in increasing order, then the others in
 *  increasing order; *n_salient (may be NULL) gets the count. @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE.
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_mask_permutation(const uint8_t *mask, int64_t cols, int32_t *perm,
                                           int64_t *n_salient);

/* ---- bit accounting ---- */
typedef enum qlow_ptq161_bits_index {
    QLOW_BITS_PAPER_WEIGHT = 0, /* paper Eq. 8: (|U| * 1 + |S| * 4) / cols (1.6 at 20%) */
    QLOW_BITS_PAPER_MASK = 1,   /* cols mask bits / total weight bits (paper's denominator) */
    QLOW_BITS_PAPER_SCALES = 2, /* ((2 rows + cols) * 16 + (|S|/cols) * rows * 16) / total weight bits */
    QLOW_BITS_PAPER_TOTAL = 3,  /* sum of the three: ~1.61 for 4096 x 4096 at 20% */
    QLOW_BITS_STORED_TOTAL = 4, /* qlow_format_bits_per_weight() of our M161 layout with r2 */
    QLOW_BITS_STORED_BYTES = 5, /* its plane bytes (codes, fp16 scales, mask; header excluded) */
    QLOW_BITS_COUNT = 6
} qlow_ptq161_bits_index;

/*! qlow_ptq161_bits() : bit accounting of a rows x cols PTQ1.61 layer with n_salient salient columns
 *  into out[QLOW_BITS_COUNT], both the paper's way and the exact size of the stored M161 layout.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_ptq161_bits(int64_t rows, int64_t cols, int64_t n_salient, double *out);

/* ---- one-call layer quantization ---- */
/*! qlow_ptq161_quantize_f32() : PTQ1.61 of one linear layer W [rows x cols] (f32/f16/bf16) with
 *  calibration inputs X [tokens x cols] (the rows x of y = W x; f32/f16/bf16). The mask comes from
 *  `stats` when given (e.g. statistics over more data than X), else from X. Writes the dequantized
 *  result W_hat[rows * cols] (fp32, row-major, exactly the values the stored format holds: scales
 *  rounded to fp16 with r1 folded in) and, if mask is not NULL, the column mask.
 *  With QLOW_PTQ161_EQUALIZE the layer is quantized in equalized coordinates W' = W diag(s): W_hat
 *  approximates W' and the caller must feed x / s instead of x, i.e. divide the preceding RMSNorm weight
 *  (or the preceding linear's rows) by s. fold_scale[cols] receives s (all ones without equalization);
 *  it may be NULL only when equalization is off.
 *  When X has more tokens than columns and QLOW_SCALE_FIT_TOKENS is 0 or >= cols (the default on
 *  layers of up to 512 columns), every token of X is used and X is read in place (strided rows, any
 *  supported dtype), not copied.
 *  Deterministic; bit-identical for any QLOW_CTX_NUM_THREADS. Allocates through the ctx allocator.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_DTYPE, QLOW_E_NONFINITE, QLOW_E_PARAM,
 *  QLOW_E_NUMERIC, QLOW_E_NO_MEMORY; on failure the outputs are untouched. */
QLOW_API qlow_status qlow_ptq161_quantize_f32(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                              const qlow_view *X, const qlow_actstats *stats,
                                              float *W_hat, uint8_t *mask, float *fold_scale);

/*! qlow_ptq161_quantize_gram_f32() : qlow_ptq161_quantize_f32() from the Gram matrix H = X^T X
 *  [cols x cols] (f32/f16/bf16; any positive multiple, e.g. a qlow_hessian's 2/N X^T X) instead of the
 *  tokens, so X need not be kept. The output-MSE objective is exact (the optimizer runs on cols
 *  pseudo-tokens x_t with sum_t x_t x_t^T = H + 1e-6 mean(diag H) I, from a Cholesky factor); the
 *  cosine term needs real tokens and is off (QLOW_SCALE_LAMBDA_COS is ignored). `stats` is required
 *  (the mask). Allocates (cols^2 doubles more). @return as qlow_ptq161_quantize_f32(), QLOW_E_NUMERIC
 *  if H is not positive semi-definite. */
QLOW_API qlow_status qlow_ptq161_quantize_gram_f32(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                                   const qlow_view *H, const qlow_actstats *stats, float *W_hat,
                                                   uint8_t *mask, float *fold_scale);

/*! qlow_ptq161_quantize() : the same pipeline as qlow_ptq161_quantize_f32(), packed into a
 *  QLOW_FORMAT_M161 qlow_qmatrix (4-bit salient columns, sign plane with fp16 alpha' = r1 alpha and
 *  mu' = r1 mu per row, fp16 r2 per non-salient column, 1-bit column mask) that the kernels run and
 *  qlow_qmatrix_dequantize() turns back into exactly the W_hat of qlow_ptq161_quantize_f32().
 *  *out is owned by the caller (qlow_qmatrix_destroy). fold_scale as in qlow_ptq161_quantize_f32().
 *  Allocates through the ctx allocator. @return as qlow_ptq161_quantize_f32(). */
QLOW_API qlow_status qlow_ptq161_quantize(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                          const qlow_view *X, const qlow_actstats *stats, qlow_qmatrix **out,
                                          float *fold_scale);

/* ---- engine-driven (block-wise) scale optimization ---- */
typedef struct qlow_scaleopt qlow_scaleopt;

/*! qlow_scaleopt_create() : an optimizer for the PTQ1.61 scales of any number of linears, configured
 *  from `params` (QLOW_SCALE_* learning rates, betas, eps, weight decay; PTQ1.61 salient range and alpha
 *  init). The block-wise loop of the paper, with the engine owning forward and backward:
 *      for each block: masks from qlow_actstats_mask(); qlow_scaleopt_add_linear() per linear;
 *        repeat: qlow_scaleopt_weight() -> engine forward with W^ -> loss -> engine backward ->
 *                qlow_scaleopt_grad() (or _grad_dy()) per linear -> qlow_scaleopt_step();
 *        then qlow_scaleopt_quantize() per linear.
 *  Mutable: one thread at a time. Allocates through the ctx allocator.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_scaleopt_create(qlow_ctx *ctx, const qlow_params *params, qlow_scaleopt **out);
/*! qlow_scaleopt_destroy() : NULL is a no-op. */
QLOW_API void qlow_scaleopt_destroy(qlow_scaleopt *opt);
/*! qlow_scaleopt_add_linear() : register W [rows x cols] with its column mask: quantizes the salient
 *  columns, freezes signs and mu, initializes alpha and r1 = r2 = 1. *linear_id gets its index (0, 1,
 *  ...). Allocates. @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_DTYPE, QLOW_E_NONFINITE,
 *  QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_scaleopt_add_linear(qlow_scaleopt *opt, const qlow_view *W, const uint8_t *mask,
                                              int32_t *linear_id);
/*! qlow_scaleopt_add_fitted() : register W [rows x cols] initialized by the whole layer-wise pipeline of
 *  qlow_ptq161_quantize() on its calibration inputs X [tokens x cols] with `params` (mask from X's
 *  statistics at QLOW_MASK_RATIO, closed-form and Adam scale fit, optional low-rank restoration and GPTQ
 *  compensation), so the engine's block-wise steps refine a layer-wise optimum instead of the alpha
 *  init. Equalization cannot be used here (it would change the linear's input): QLOW_PTQ161_EQUALIZE
 *  set gives QLOW_E_INVALID_ARG. *linear_id as qlow_scaleopt_add_linear(). Allocates through the
 *  ctx allocator given at creation; `params` may be NULL (defaults).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG, QLOW_E_SHAPE, QLOW_E_DTYPE, QLOW_E_NONFINITE,
 *  QLOW_E_NUMERIC, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_scaleopt_add_fitted(qlow_scaleopt *opt, const qlow_params *params, const qlow_view *W,
                                              const qlow_view *X, int32_t *linear_id);
/*! qlow_scaleopt_weight() : the current W^ of a linear into W_hat[rows * cols] (fp32, row-major) for the
 *  engine's forward pass. @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG (bad id). Never allocates. */
QLOW_API qlow_status qlow_scaleopt_weight(const qlow_scaleopt *opt, int32_t linear_id, float *W_hat);
/*! qlow_scaleopt_grad() : accumulate dL/dW^ [rows x cols] (f32, unit column stride, any row stride) into the
 *  gradients of the linear's alpha, r1, r2 (ptq161.md §2.5). @return QLOW_E_NULL_POINTER,
 *  QLOW_E_INVALID_ARG, QLOW_E_SHAPE, QLOW_E_DTYPE, QLOW_E_ALIGNMENT, QLOW_E_NONFINITE. Never allocates. */
QLOW_API qlow_status qlow_scaleopt_grad(qlow_scaleopt *opt, int32_t linear_id, const qlow_view *dW_hat);
/*! qlow_scaleopt_grad_dy() : the same from dL/dY [tokens x rows] and the inputs X [tokens x cols] of
 *  the linear (dL/dW^ = dY^T X, formed internally). Allocates a rows x cols scratch. @return as
 *  qlow_scaleopt_grad(), QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_scaleopt_grad_dy(qlow_scaleopt *opt, int32_t linear_id, const qlow_view *dY,
                                           const qlow_view *X);
/*! qlow_scaleopt_step() : one Adam/AdamW step of every linear on the accumulated gradients (alpha at
 *  QLOW_SCALE_LR_ALPHA, r1 and r2 at QLOW_SCALE_LR_R), then clears them. Never allocates. */
QLOW_API qlow_status qlow_scaleopt_step(qlow_scaleopt *opt);
/*! qlow_scaleopt_scales() : copy a linear's alpha[rows], r1[rows], mu[rows], r2[cols] (r2 is 1 on
 *  salient columns); any pointer may be NULL. @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG. */
QLOW_API qlow_status qlow_scaleopt_scales(const qlow_scaleopt *opt, int32_t linear_id, float *alpha,
                                          float *r1, float *mu, float *r2);

/*! qlow_scaleopt_quantize() : the current state of a linear packed as an M161 qlow_qmatrix (scales
 *  rounded to fp16 with r1 folded in); the optimizer itself is unchanged. Allocates through the ctx
 *  allocator given at creation. @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG, QLOW_E_NUMERIC (a scale
 *  does not fit fp16), QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_scaleopt_quantize(const qlow_scaleopt *opt, int32_t linear_id, qlow_qmatrix **out);

/* ---- end of ptq161 section ---- */


/* ============================================================================================
 * Files and models (src/io)
 * ============================================================================================ */

/* Everything here reads untrusted bytes: every reader is bounds-checked and reports a malformed input with
 * a clear status (QLOW_E_TRUNCATED, QLOW_E_FORMAT, QLOW_E_VERSION_MISMATCH, QLOW_E_CHECKSUM,
 * QLOW_E_OVERFLOW, QLOW_E_DTYPE, QLOW_E_UNSUPPORTED, QLOW_E_IO) and never reads outside its input.
 * Files opened by path are mapped with mmap on POSIX systems (pages load lazily, so a model larger than
 * memory can be processed one tensor at a time) or, elsewhere or with QLOW_PARAM_IO_USE_MMAP = 0, read
 * into allocator memory. Every object here is immutable after open unless a function says otherwise, so
 * one handle may be read from any number of threads at once.
 *
 * Parameter keys (qlow_params, block 800-899), all optional (NULL params = defaults): */
typedef enum qlow_io_param_key {
    QLOW_PARAM_IO_USE_MMAP = 800,     /* int 0..1, default 1: map files with mmap where available */
    QLOW_PARAM_IO_MODEL_FORMAT = 801, /* int 0..2, default 0: 0 = detect, else a qlow_model_source */
    QLOW_PARAM_IO_VERIFY = 802,       /* int 0..1, default 1: .qlow open checks every tensor checksum
                                         (0 = only the header; call qlow_qfile_tensor_verify yourself) */
    QLOW_PARAM_IO_ALIGNMENT = 803     /* int 64..65536, default 64: .qlow writer tensor data alignment (a
                                         power of two; use 4096 or more to map tensors page-aligned) */
} qlow_io_param_key;

/* ---- Model input: llama2.c checkpoints and safetensors -------------------------------------------
 * A qlow_model gives fp32/fp16/bf16 weights under one canonical naming (the llama2.c / Meta names):
 *   tok_embeddings                  [vocab_size, dim]
 *   layers.{i}.attention_norm       [dim]
 *   layers.{i}.attention.wq         [n_heads*head_dim, dim]     (rows = outputs, cols = inputs)
 *   layers.{i}.attention.wk / .wv   [n_kv_heads*head_dim, dim]
 *   layers.{i}.attention.wo         [dim, n_heads*head_dim]
 *   layers.{i}.ffn_norm             [dim]
 *   layers.{i}.feed_forward.w1 / .w3 [hidden_dim, dim]          (gate / up)
 *   layers.{i}.feed_forward.w2      [dim, hidden_dim]           (down)
 *   norm                            [dim]
 *   output                          [vocab_size, dim]  (absent when QLOW_MODEL_SHARED_CLASSIFIER is 1:
 *                                                       then the classifier is tok_embeddings)
 *   freq_cis_real / freq_cis_imag   [seq_len, head_dim/2]       (llama2.c files only; unused RoPE tables)
 * safetensors names are mapped from the Hugging Face LLaMA names (model.embed_tokens.weight,
 * model.layers.{i}.self_attn.{q,k,v,o}_proj.weight, model.layers.{i}.mlp.{gate,down,up}_proj.weight,
 * model.layers.{i}.input_layernorm.weight, model.layers.{i}.post_attention_layernorm.weight,
 * model.norm.weight, lm_head.weight) and from the Meta names (the canonical name plus ".weight").
 * Names that match neither stay as they are. Two source names mapping to one canonical name make the
 * file malformed (QLOW_E_FORMAT). Tensor indices run 0..count-1 in file order. */
typedef struct qlow_model qlow_model;

typedef enum qlow_model_source {
    QLOW_MODEL_SOURCE_LLAMA2C = 1,    /* llama2.c legacy checkpoint (.bin) */
    QLOW_MODEL_SOURCE_SAFETENSORS = 2 /* safetensors */
} qlow_model_source;

typedef enum qlow_model_key {
    QLOW_MODEL_DIM = 1,               /* int */
    QLOW_MODEL_HIDDEN_DIM = 2,        /* int, the feed-forward width */
    QLOW_MODEL_N_LAYERS = 3,          /* int */
    QLOW_MODEL_N_HEADS = 4,           /* int */
    QLOW_MODEL_N_KV_HEADS = 5,        /* int */
    QLOW_MODEL_VOCAB_SIZE = 6,        /* int */
    QLOW_MODEL_SEQ_LEN = 7,           /* int, the maximum context */
    QLOW_MODEL_SHARED_CLASSIFIER = 8, /* int 0/1: the output layer reuses tok_embeddings */
    QLOW_MODEL_NORM_EPS = 9,          /* float, RMSNorm epsilon (llama2.c: 1e-5) */
    QLOW_MODEL_ROPE_THETA = 10,       /* float (llama2.c: 10000) */
    QLOW_MODEL_SOURCE = 11,           /* int, a qlow_model_source (read-only) */
    QLOW_MODEL_HEAD_DIM = 12,         /* int, dim / n_heads (read-only, known once n_heads is) */
    QLOW_MODEL_QK_HF_ORDER = 13       /* int 0/1: 1 when wq/wk rows are in Hugging Face rotate-half order
                                         (each head's first half holds the real parts); 0 for llama2.c
                                         and Meta interleaved pairs */
} qlow_model_key;

/*! qlow_model_open() : open a llama2.c checkpoint or a safetensors file (detected from its bytes unless
 *  QLOW_PARAM_IO_MODEL_FORMAT says which). The whole file is validated at open: header values, sizes,
 *  every tensor's offset and extent, overlaps, names. Tensor bytes are only touched when read.
 *  llama2.c: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a positive
 *  vocab_size means a shared classifier), then fp32 tensors in llama2.c order; the file size must match.
 *  safetensors: dtypes F32/F16/BF16 (also F64/I8/U8/I32 as raw tensors); config values come from tensor
 *  shapes and from __metadata__ keys (n_heads / num_attention_heads, n_kv_heads / num_key_value_heads,
 *  seq_len / max_position_embeddings, norm_eps / rms_norm_eps, rope_theta) when present.
 *  Allocates through `alloc` (NULL = libc); the model keeps the file mapped until qlow_model_close().
 *  @return QLOW_E_NULL_POINTER, QLOW_E_IO, QLOW_E_NO_MEMORY, QLOW_E_TRUNCATED, QLOW_E_FORMAT,
 *  QLOW_E_OVERFLOW, QLOW_E_DTYPE, QLOW_E_UNSUPPORTED, QLOW_E_PARAM. Thread-safe (no shared state). */
QLOW_API qlow_status qlow_model_open(const char *path, const qlow_params *params, const qlow_allocator *alloc,
                                     qlow_model **out);

/*! qlow_model_open_buffer() : qlow_model_open() on `size` bytes at `data`, which the caller owns and
 *  must keep unchanged until qlow_model_close() (tensors point into it; nothing is copied). Any alignment
 *  is accepted (views of misaligned tensors then fail with QLOW_E_ALIGNMENT; qlow_model_tensor_read_f32
 *  always works). Allocates through `alloc`. @return as qlow_model_open() without QLOW_E_IO. */
QLOW_API qlow_status qlow_model_open_buffer(const void *data, size_t size, const qlow_params *params,
                                            const qlow_allocator *alloc, qlow_model **out);

/*! qlow_model_close() : unmap and free; NULL is a no-op. Views obtained from the model become invalid. */
QLOW_API void qlow_model_close(qlow_model *model);

/*! qlow_model_get_int() / qlow_model_get_float() : a configuration value by qlow_model_key.
 *  @return QLOW_E_PARAM for an unknown key or one of the other type, QLOW_E_NOT_FOUND when the file does
 *  not say (e.g. n_heads of a safetensors file without metadata). Never allocate; thread-safe. */
QLOW_API qlow_status qlow_model_get_int(const qlow_model *model, int32_t key, int64_t *value);
QLOW_API qlow_status qlow_model_get_float(const qlow_model *model, int32_t key, double *value);

/*! qlow_model_set_int() / qlow_model_set_float() : supply or override a configuration value (e.g. from a
 *  Hugging Face config.json). Setting n_heads also derives n_kv_heads from the wk shape if unknown.
 *  Values must be positive (SHARED_CLASSIFIER, QK_HF_ORDER: 0 or 1); SOURCE and HEAD_DIM are read-only.
 *  @return QLOW_E_PARAM. Never allocate. Not thread-safe against concurrent readers of the same model. */
QLOW_API qlow_status qlow_model_set_int(qlow_model *model, int32_t key, int64_t value);
QLOW_API qlow_status qlow_model_set_float(qlow_model *model, int32_t key, double value);

/*! qlow_model_tensor_count() : number of tensors. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_model_tensor_count(const qlow_model *model, size_t *count);

/*! qlow_model_tensor_find() : index of the tensor with canonical `name`. O(log n).
 *  @return QLOW_E_NOT_FOUND. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_model_tensor_find(const qlow_model *model, const char *name, size_t *index);

/*! qlow_model_tensor_info() : canonical name (NUL-terminated, owned by the model), dtype (qlow_dtype),
 *  ndim and shape (unused dims 1) of tensor `index`. Any out-pointer may be NULL; `shape` holds
 *  QLOW_VIEW_MAX_DIMS entries. @return QLOW_E_INVALID_ARG for a bad index. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_model_tensor_info(const qlow_model *model, size_t index, const char **name,
                                            int32_t *dtype, int32_t *ndim, int64_t *shape);

/*! qlow_model_tensor_view() : a zero-copy view of tensor `index` in its stored dtype, pointing into the
 *  mapping (read-only memory: never write through it). Valid until qlow_model_close().
 *  @return QLOW_E_INVALID_ARG, QLOW_E_ALIGNMENT (data not aligned to its element size, possible in
 *  safetensors or caller buffers), QLOW_E_UNSUPPORTED on a big-endian host. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_model_tensor_view(const qlow_model *model, size_t index, qlow_view *view);

/*! qlow_model_tensor_read_f32() : convert tensor `index` (F32, F16 or BF16) to fp32 into dst[0..count),
 *  count >= the element count. Works for any alignment and host byte order. Never allocates; thread-safe.
 *  @return QLOW_E_INVALID_ARG, QLOW_E_NULL_POINTER, QLOW_E_DTYPE, QLOW_E_BUFFER_TOO_SMALL. */
QLOW_API qlow_status qlow_model_tensor_read_f32(const qlow_model *model, size_t index, float *dst,
                                                size_t count);

/*! qlow_model_tensor_release() : after processing tensor `index`, let the OS drop its resident pages
 *  (madvise on a mapped file; no effect for the read path or caller buffers). The data stays valid and is
 *  read from the file again if touched, so this only bounds resident memory when a model larger than
 *  memory is processed one tensor at a time. Never allocates; thread-safe.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG. */
QLOW_API qlow_status qlow_model_tensor_release(const qlow_model *model, size_t index);

/*! qlow_model_sha256() : SHA-256 of the whole source file (reads every byte once; for a mapped file this
 *  pages it in). Never allocates; thread-safe. @return QLOW_E_NULL_POINTER. */
QLOW_API qlow_status qlow_model_sha256(const qlow_model *model, uint8_t digest[32]);

/*! qlow_model_meta_count() / qlow_model_meta_get() : the safetensors __metadata__ entries with string or
 *  number values, in file order (keys and values unescaped, NUL-terminated, owned by the model).
 *  @return QLOW_E_INVALID_ARG for a bad index. Never allocate; thread-safe. */
QLOW_API qlow_status qlow_model_meta_count(const qlow_model *model, size_t *count);
QLOW_API qlow_status qlow_model_meta_get(const qlow_model *model, size_t index, const char **key,
                                         const char **value);

/* ---- Tokenizer: llama2.c tokenizer files (tok512.bin) ---------------------------------------------
 * File: int32 max_token_length, then per token: float32 score, int32 length, `length` bytes. Token 0 is
 * <unk>, 1 BOS, 2 EOS, 3..258 the byte tokens <0x00>..<0xFF>. Encoding is the llama2.c BPE: one leading
 * space, each UTF-8 character to its token (or its bytes to byte tokens, byte + 3), then repeatedly merge
 * the adjacent pair whose concatenation is a token with the highest score (leftmost on ties; only scores
 * above -1e10 merge), in O(n log n) with a heap. Strings compare as bytes; when two tokens share a string
 * the lower id wins. */
typedef struct qlow_tokenizer qlow_tokenizer;

#define QLOW_TOKEN_UNK 0
#define QLOW_TOKEN_BOS 1
#define QLOW_TOKEN_EOS 2

/*! qlow_tokenizer_open() / qlow_tokenizer_open_buffer() : load a tokenizer with `vocab_size` tokens
 *  (0 = as many as the data holds; it must then end exactly after the last token; extra tokens after an
 *  explicit vocab_size are ignored). At least 259 tokens (<unk>, BOS, EOS, 256 byte tokens) are required. The buffer variant
 *  copies what it needs, so `data` may be freed afterwards. Allocates through `alloc`.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG (vocab_size < 0), QLOW_E_IO, QLOW_E_NO_MEMORY,
 *  QLOW_E_TRUNCATED, QLOW_E_FORMAT (negative length, length above max_token_length, non-finite score,
 *  trailing bytes), QLOW_E_OVERFLOW. Thread-safe. */
QLOW_API qlow_status qlow_tokenizer_open(const char *path, int32_t vocab_size, const qlow_allocator *alloc,
                                         qlow_tokenizer **out);
QLOW_API qlow_status qlow_tokenizer_open_buffer(const void *data, size_t size, int32_t vocab_size,
                                                const qlow_allocator *alloc, qlow_tokenizer **out);
/*! qlow_tokenizer_close() : NULL is a no-op. */
QLOW_API void qlow_tokenizer_close(qlow_tokenizer *tok);

/*! qlow_tokenizer_vocab_size() : number of tokens (0 for NULL). Never allocates; thread-safe. */
QLOW_API int32_t qlow_tokenizer_vocab_size(const qlow_tokenizer *tok);

/*! qlow_tokenizer_token() : the bytes (not NUL-terminated inside the vocabulary; a NUL follows them),
 *  length and score of token `id`. Any out-pointer may be NULL. @return QLOW_E_INVALID_ARG.
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_tokenizer_token(const qlow_tokenizer *tok, int32_t id, const char **bytes,
                                          size_t *length, float *score);

/*! qlow_tokenizer_lookup() : the id of the token whose bytes are exactly text[0..len) (lowest id on
 *  duplicates). @return QLOW_E_NOT_FOUND. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_tokenizer_lookup(const qlow_tokenizer *tok, const char *text, size_t len,
                                           int32_t *id);

/*! qlow_tokenizer_encode_workspace_size() : bytes of workspace qlow_tokenizer_encode_wksp() needs for a
 *  text of `text_len` bytes. @return QLOW_E_NULL_POINTER, QLOW_E_OVERFLOW. Never allocates. */
QLOW_API qlow_status qlow_tokenizer_encode_workspace_size(const qlow_tokenizer *tok, size_t text_len,
                                                          size_t *bytes);

/*! qlow_tokenizer_encode_wksp() : BPE-encode text[0..text_len) (any bytes, NUL included) into
 *  tokens[0..capacity), adding BOS first when `bos` and EOS last when `eos`; *n_tokens gets the count.
 *  capacity >= text_len + 3 always suffices. An empty text gives only BOS/EOS (no leading space).
 *  `workspace` (any alignment) holds at least qlow_tokenizer_encode_workspace_size() bytes.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_WORKSPACE_TOO_SMALL, QLOW_E_BUFFER_TOO_SMALL (nothing written),
 *  QLOW_E_OVERFLOW. Never allocates; thread-safe (distinct workspaces). */
QLOW_API qlow_status qlow_tokenizer_encode_wksp(const qlow_tokenizer *tok, const char *text, size_t text_len,
                                                int bos, int eos, int32_t *tokens, size_t capacity,
                                                size_t *n_tokens, void *workspace, size_t workspace_bytes);

/*! qlow_tokenizer_encode() : qlow_tokenizer_encode_wksp() with a workspace allocated through the
 *  tokenizer's allocator and freed before returning. Also QLOW_E_NO_MEMORY. Thread-safe. */
QLOW_API qlow_status qlow_tokenizer_encode(const qlow_tokenizer *tok, const char *text, size_t text_len,
                                           int bos, int eos, int32_t *tokens, size_t capacity,
                                           size_t *n_tokens);

/*! qlow_tokenizer_decode_piece() : the bytes token `token` stands for after token `prev` (llama2.c
 *  decode): byte tokens <0xHH> give the raw byte, and the leading space of a piece right after BOS is
 *  dropped (so is a <0x20> byte token there: the encoder's dummy-prefix space in a vocabulary that has
 *  no " " token). *piece points into the tokenizer or a static table (not NUL-terminated); *length may be 0.
 *  @return QLOW_E_INVALID_ARG for an id out of range. Never allocates; thread-safe. */
QLOW_API qlow_status qlow_tokenizer_decode_piece(const qlow_tokenizer *tok, int32_t prev, int32_t token,
                                                 const char **piece, size_t *length);

/*! qlow_tokenizer_decode() : concatenate the pieces of tokens[0..n) into out[0..capacity) (BOS and EOS
 *  give no bytes); *length gets the byte count and out[*length] is set to NUL, so capacity must exceed
 *  the text length. decode(encode(text, bos = 1)) == text for every text.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG, QLOW_E_BUFFER_TOO_SMALL (nothing written).
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_tokenizer_decode(const qlow_tokenizer *tok, const int32_t *tokens, size_t n,
                                           char *out, size_t capacity, size_t *length);

/* ---- The .qlow container ----------------------------------------------------------------------
 * A versioned little-endian file of named tensors: packed quantized matrices (kind PACKED: the bytes
 * of a serialized qlow_qmatrix plus its format, code bits and shape in the directory) and dense tensors
 * (kind DENSE: norms, embeddings kept in fp32, any qlow_dtype), plus typed metadata key/values. Tensor
 * data is aligned (QLOW_PARAM_IO_ALIGNMENT, default 64 bytes) so a mapped file is used in place, and
 * every tensor, the preamble, the directory and the footer carry CRC-32C checksums. The byte layout is
 * specified in docs/format.md. The writer streams: each tensor is written when added, and only the
 * directory is kept in memory, so a model never has to be in memory at once. */
typedef struct qlow_qfile qlow_qfile;
typedef struct qlow_qfile_writer qlow_qfile_writer;

typedef enum qlow_qfile_kind {
    QLOW_QFILE_DENSE = 1, /* type = qlow_dtype, ndim 1..4 */
    QLOW_QFILE_PACKED = 2 /* type = qlow_format, ndim 2: [rows, cols] */
} qlow_qfile_kind;

typedef enum qlow_meta_type {
    QLOW_META_STRING = 1, /* UTF-8 text without NUL bytes */
    QLOW_META_INT = 2,    /* int64 */
    QLOW_META_FLOAT = 3,  /* float64 */
    QLOW_META_BYTES = 4   /* opaque bytes (e.g. a SHA-256 digest) */
} qlow_meta_type;

/*! Write callback: consume data[0..size) and return 0, or nonzero to fail the writer (QLOW_E_CALLBACK). */
typedef int (*qlow_write_fn)(void *user, const void *data, size_t size);

/*! qlow_qfile_writer_open() : start a .qlow file at `path` (created or truncated). If the writer is
 *  destroyed before qlow_qfile_writer_finish() succeeds, the partial file is removed. `params` may set
 *  QLOW_PARAM_IO_ALIGNMENT. Allocates through `alloc`. @return QLOW_E_NULL_POINTER, QLOW_E_PARAM (an
 *  alignment that is not a power of two), QLOW_E_IO, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_qfile_writer_open(const char *path, const qlow_params *params,
                                            const qlow_allocator *alloc, qlow_qfile_writer **out);
/*! qlow_qfile_writer_open_callback() : the same, sending the bytes in order to `write` (no seeking).
 *  Also QLOW_E_CALLBACK when the callback fails (the preamble is written at open). */
QLOW_API qlow_status qlow_qfile_writer_open_callback(qlow_write_fn write, void *user, const qlow_params *params,
                                                     const qlow_allocator *alloc, qlow_qfile_writer **out);
/*! qlow_qfile_writer_open_buffer() : the same into caller memory buffer[0..capacity); running out gives
 *  QLOW_E_BUFFER_TOO_SMALL. qlow_qfile_writer_bytes() tells how much was written. */
QLOW_API qlow_status qlow_qfile_writer_open_buffer(void *buffer, size_t capacity, const qlow_params *params,
                                                   const qlow_allocator *alloc, qlow_qfile_writer **out);

/*! qlow_qfile_writer_add_dense() : append tensor `name` (UTF-8, 1..65535 bytes, no NUL, unique) with the
 *  dtype, shape and contents of `view` (any strides; stored contiguous row-major little-endian).
 *  Allocates through the writer's allocator (directory growth).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG (bad or duplicate name), view errors (QLOW_E_STRUCT_SIZE,
 *  QLOW_E_DTYPE, QLOW_E_SHAPE, QLOW_E_OVERFLOW), QLOW_E_STATE (finished or failed writer), QLOW_E_NO_MEMORY,
 *  and the sink's errors (QLOW_E_IO, QLOW_E_CALLBACK, QLOW_E_BUFFER_TOO_SMALL), which are sticky: every
 *  later call then returns QLOW_E_STATE and the file is unusable. Not thread-safe (one writer, one thread). */
QLOW_API qlow_status qlow_qfile_writer_add_dense(qlow_qfile_writer *w, const char *name, const qlow_view *view);

/*! qlow_qfile_writer_add_packed() : append a packed matrix given as the `size` serialized bytes of a
 *  qlow_qmatrix (see the packed-matrix section) with its qlow_format, code bits and [rows x cols] shape,
 *  which the directory repeats so that readers can list tensors without decoding them. The image is
 *  validated (qlow_qmatrix_wrap_size) and must match format and shape; `data` must be 8-byte aligned.
 *  Allocates a temporary handle. @return as qlow_qfile_writer_add_dense(), QLOW_E_SHAPE for rows or
 *  cols < 1, QLOW_E_ALIGNMENT, and the image's errors (QLOW_E_FORMAT, QLOW_E_CHECKSUM, QLOW_E_TRUNCATED,
 *  ...). */
QLOW_API qlow_status qlow_qfile_writer_add_packed(qlow_qfile_writer *w, const char *name, int32_t format,
                                                  int32_t bits, int64_t rows, int64_t cols, const void *data,
                                                  size_t size);

/*! qlow_qfile_writer_add_qmatrix() : append `qm` as a PACKED tensor: its serialized image
 *  (qlow_qmatrix_serialize), format, code bits and shape. Allocates a temporary copy of the image through
 *  the writer's allocator. @return as qlow_qfile_writer_add_packed(), and the qmatrix's own errors. */
QLOW_API qlow_status qlow_qfile_writer_add_qmatrix(qlow_qfile_writer *w, const char *name, const qlow_qmatrix *qm);

/*! qlow_qfile_writer_set_string() / _set_int() / _set_float() / _set_bytes() : add metadata `key`
 *  (same rules as tensor names; unique). Values are kept in memory until finish. Allocates.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG (bad or duplicate key, a string with NUL bytes),
 *  QLOW_E_STATE, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_qfile_writer_set_string(qlow_qfile_writer *w, const char *key, const char *value);
QLOW_API qlow_status qlow_qfile_writer_set_int(qlow_qfile_writer *w, const char *key, int64_t value);
QLOW_API qlow_status qlow_qfile_writer_set_float(qlow_qfile_writer *w, const char *key, double value);
QLOW_API qlow_status qlow_qfile_writer_set_bytes(qlow_qfile_writer *w, const char *key, const void *value,
                                                 size_t size);

/*! qlow_qfile_writer_set_model() : record `model`'s configuration (every known qlow_model_key as
 *  "model.dim", "model.hidden_dim", "model.n_layers", "model.n_heads", "model.n_kv_heads",
 *  "model.vocab_size", "model.seq_len", "model.shared_classifier", "model.norm_eps", "model.rope_theta",
 *  "model.qk_hf_order") and its SHA-256 as "source.sha256" (reads the whole model once). Allocates.
 *  @return as qlow_qfile_writer_set_int(). */
QLOW_API qlow_status qlow_qfile_writer_set_model(qlow_qfile_writer *w, const qlow_model *model);

/*! qlow_qfile_writer_finish() : write the directory and footer, completing the file (and closing it
 *  for a path). Afterwards only qlow_qfile_writer_bytes() and destroy are allowed.
 *  @return QLOW_E_STATE (already finished or failed), QLOW_E_OVERFLOW, sink errors. */
QLOW_API qlow_status qlow_qfile_writer_finish(qlow_qfile_writer *w);
/*! qlow_qfile_writer_bytes() : bytes written so far (the file size after finish). */
QLOW_API qlow_status qlow_qfile_writer_bytes(const qlow_qfile_writer *w, uint64_t *bytes);
/*! qlow_qfile_writer_destroy() : free the writer; an unfinished path writer removes its file. NULL is a
 *  no-op. */
QLOW_API void qlow_qfile_writer_destroy(qlow_qfile_writer *w);

/*! qlow_qfile_open() / qlow_qfile_open_buffer() : open a .qlow file (mapped; see QLOW_PARAM_IO_USE_MMAP)
 *  or caller bytes (kept, not copied: they must stay unchanged until close). Everything is validated at
 *  open: magic, version (QLOW_E_VERSION_MISMATCH for another major version), the preamble, directory and
 *  footer checksums, every name, type, shape, size, offset, alignment and overlap, and (unless
 *  QLOW_PARAM_IO_VERIFY = 0) every tensor checksum. Allocates through `alloc`.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_IO, QLOW_E_NO_MEMORY, QLOW_E_TRUNCATED, QLOW_E_FORMAT,
 *  QLOW_E_VERSION_MISMATCH, QLOW_E_CHECKSUM, QLOW_E_OVERFLOW. Thread-safe. */
QLOW_API qlow_status qlow_qfile_open(const char *path, const qlow_params *params, const qlow_allocator *alloc,
                                     qlow_qfile **out);
QLOW_API qlow_status qlow_qfile_open_buffer(const void *data, size_t size, const qlow_params *params,
                                            const qlow_allocator *alloc, qlow_qfile **out);
/*! qlow_qfile_close() : NULL is a no-op. Pointers and views obtained from the file become invalid. */
QLOW_API void qlow_qfile_close(qlow_qfile *file);

/*! qlow_qfile_tensor_count() / qlow_qfile_tensor_find() (by exact name, O(log n), QLOW_E_NOT_FOUND) /
 *  qlow_qfile_tensor_info() (any out-pointer may be NULL; `type` is a qlow_dtype for DENSE and a
 *  qlow_format for PACKED; `shape` holds QLOW_VIEW_MAX_DIMS entries, unused 1; QLOW_E_INVALID_ARG for a
 *  bad index). Tensors are indexed in file order. Never allocate; thread-safe. */
QLOW_API qlow_status qlow_qfile_tensor_count(const qlow_qfile *file, size_t *count);
QLOW_API qlow_status qlow_qfile_tensor_find(const qlow_qfile *file, const char *name, size_t *index);
QLOW_API qlow_status qlow_qfile_tensor_info(const qlow_qfile *file, size_t index, const char **name,
                                            int32_t *kind, int32_t *type, int32_t *bits, int32_t *ndim,
                                            int64_t *shape);
/*! qlow_qfile_tensor_data() : the stored bytes of tensor `index` (inside the mapping, aligned as the
 *  file says relative to the mapping's start). Never allocates; thread-safe. */
QLOW_API qlow_status qlow_qfile_tensor_data(const qlow_qfile *file, size_t index, const void **data,
                                            size_t *size);
/*! qlow_qfile_tensor_view() : zero-copy read-only view of a DENSE tensor. @return QLOW_E_INVALID_ARG,
 *  QLOW_E_DTYPE (not DENSE), QLOW_E_ALIGNMENT (caller buffer misaligned), QLOW_E_UNSUPPORTED
 *  (big-endian host). Never allocates; thread-safe. */
QLOW_API qlow_status qlow_qfile_tensor_view(const qlow_qfile *file, size_t index, qlow_view *view);
/*! qlow_qfile_tensor_qmatrix() : open PACKED tensor `index` as a qlow_qmatrix in place (zero-copy over
 *  the mapping, qlow_qmatrix_wrap: only the small handle is allocated, through the ctx allocator). The
 *  matrix borrows the file's memory: destroy it before qlow_qfile_close(). @return QLOW_E_INVALID_ARG,
 *  QLOW_E_DTYPE (not PACKED), QLOW_E_FORMAT (image disagrees with the directory), and
 *  qlow_qmatrix_wrap()'s errors (QLOW_E_ALIGNMENT for a misaligned caller buffer). Thread-safe.
 *  Without an allocator (static ctx, firmware), use qlow_qfile_tensor_data() + qlow_qmatrix_wrap_static(). */
QLOW_API qlow_status qlow_qfile_tensor_qmatrix(const qlow_qfile *file, size_t index, qlow_ctx *ctx,
                                               qlow_qmatrix **out);
/*! qlow_qfile_tensor_verify() : recompute tensor `index`'s CRC-32C. @return QLOW_E_CHECKSUM. Thread-safe. */
QLOW_API qlow_status qlow_qfile_tensor_verify(const qlow_qfile *file, size_t index);

/*! qlow_qfile_meta_count() / qlow_qfile_meta_info() (key, qlow_meta_type, value bytes and size; string
 *  values and keys are NUL-terminated) / qlow_qfile_meta_find() (QLOW_E_NOT_FOUND) and the typed getters
 *  (QLOW_E_NOT_FOUND, QLOW_E_DTYPE for another type). Pointers stay valid until close. Never allocate;
 *  thread-safe. */
QLOW_API qlow_status qlow_qfile_meta_count(const qlow_qfile *file, size_t *count);
QLOW_API qlow_status qlow_qfile_meta_info(const qlow_qfile *file, size_t index, const char **key, int32_t *type,
                                          const void **value, size_t *size);
QLOW_API qlow_status qlow_qfile_meta_find(const qlow_qfile *file, const char *key, size_t *index);
QLOW_API qlow_status qlow_qfile_meta_get_string(const qlow_qfile *file, const char *key, const char **value);
QLOW_API qlow_status qlow_qfile_meta_get_int(const qlow_qfile *file, const char *key, int64_t *value);
QLOW_API qlow_status qlow_qfile_meta_get_float(const qlow_qfile *file, const char *key, double *value);

/* ---- end of io section ---- */


/* ============================================================================================
 * Export to other tools' formats: fake-quant checkpoints, GGUF (src/export)
 * ============================================================================================ */

/* Two exports let other tools check and run libqlow's results:
 *   - fake-quant checkpoints: the dequantized weights of a .qlow file written back in the source
 *     checkpoint's own format (llama2.c .bin or safetensors F32/F16), for any external evaluator;
 *   - GGUF v3 files for llama.cpp, where libqlow chooses the values (importance-weighted scale search,
 *     GPTQ or mixed precision upstream) and one of ggml's block layouts stores them.
 * Writers stream tensor by tensor (only one tensor's rows are in memory) and allocate through the ctx
 * allocator. A path writer writes "<path>.tmp" and renames it to `path` only after the last byte was
 * written and flushed, so a failed export never leaves a partial file at `path` (the temporary file is
 * removed). A callback writer sends the bytes in order (no seeking); after a failure the bytes already
 * sent are incomplete and the caller must discard them. Layouts and rules: docs/export.md.
 *
 * Parameter keys (qlow_params, block 900-999), all optional (NULL params = defaults): */
typedef enum qlow_export_param_key {
    QLOW_PARAM_EXPORT_FORMAT = 900,      /* int 0..3, default 0: fake-quant output format, a
                                            qlow_export_format */
    QLOW_PARAM_EXPORT_GGUF_SEARCH = 901, /* int 0..1, default 1: 1 = libqlow's importance-weighted search
                                            under the type's constraints; 0 = ggml's published RTN rule */
    QLOW_PARAM_EXPORT_GGUF_ALIGNMENT = 902, /* int 8..65536, default 32: general.alignment (power of 2) */
    QLOW_PARAM_EXPORT_GGUF_EMBED_TYPE = 903, /* int, a qlow_ggml_type, default QLOW_GGML_F32: the type of
                                            token_embd.weight and output.weight (falls back like others) */
    QLOW_PARAM_EXPORT_GGUF_STEPS = 904   /* int 4..1000, default 64: scale candidates per block tried by
                                            the search (besides the exact-fit and ggml candidates) */
} qlow_export_param_key;

typedef enum qlow_export_format {
    QLOW_EXPORT_FORMAT_SOURCE = 0,         /* the source checkpoint's own format and dtypes */
    QLOW_EXPORT_FORMAT_LLAMA2C = 1,        /* llama2.c .bin (source must be a llama2.c checkpoint) */
    QLOW_EXPORT_FORMAT_SAFETENSORS_F32 = 2, /* safetensors, every tensor F32 */
    QLOW_EXPORT_FORMAT_SAFETENSORS_F16 = 3  /* safetensors, every floating tensor F16 */
} qlow_export_format;

/* ggml tensor types (values are ggml's own enum). */
typedef enum qlow_ggml_type {
    QLOW_GGML_F32 = 0,
    QLOW_GGML_F16 = 1,
    QLOW_GGML_Q4_0 = 2,  /* 32: fp16 d, 4-bit q, w = d (q - 8) */
    QLOW_GGML_Q4_1 = 3,  /* 32: fp16 d, m, 4-bit q, w = d q + m */
    QLOW_GGML_Q5_0 = 6,  /* 32: fp16 d, 5-bit q, w = d (q - 16) */
    QLOW_GGML_Q5_1 = 7,  /* 32: fp16 d, m, 5-bit q, w = d q + m */
    QLOW_GGML_Q8_0 = 8,  /* 32: fp16 d, int8 q, w = d q */
    QLOW_GGML_Q2_K = 10, /* 256: 16 x 16 with 4-bit scales and mins */
    QLOW_GGML_Q3_K = 11, /* 256: 16 x 16 with 6-bit scales */
    QLOW_GGML_Q4_K = 12, /* 256: 8 x 32 with 6-bit scales and mins */
    QLOW_GGML_Q5_K = 13, /* 256: 8 x 32 with 6-bit scales and mins */
    QLOW_GGML_Q6_K = 14, /* 256: 16 x 16 with int8 scales */
    QLOW_GGML_IQ4_NL = 20, /* 32: fp16 d, 4-bit index into ggml's 16 non-linear levels */
    QLOW_GGML_TQ1_0 = 34,  /* 256: ternary, 5 trits per byte, fp16 d */
    QLOW_GGML_TQ2_0 = 35   /* 256: ternary, 2 bits each, fp16 d */
} qlow_ggml_type;

/*! qlow_ggml_type_name() : static ggml name of `type` ("q4_0", "iq4_nl", ...), or "unknown".
 *  Never allocates; thread-safe. */
QLOW_API const char *qlow_ggml_type_name(int32_t type);

/*! qlow_ggml_type_from_name() : the type whose name matches `name` (case-insensitive, "Q4_0" or "q4_0").
 *  @return QLOW_E_NULL_POINTER, QLOW_E_NOT_FOUND (also for ggml types this library cannot write).
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_ggml_type_from_name(const char *name, int32_t *type);

/*! qlow_ggml_type_block() : elements per block and bytes per block of `type` (1 and 4 for F32).
 *  Either out-pointer may be NULL. @return QLOW_E_UNSUPPORTED for a type this library cannot write.
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_ggml_type_block(int32_t type, int64_t *block_elems, size_t *block_bytes);

/*! qlow_ggml_fallback_type() : the type a weight matrix with `cols` columns is written in when
 *  `requested` is asked for: `requested` itself when cols is a multiple of its block, else the fallback
 *  chain of llama.cpp's quantizer (TQ1_0, TQ2_0 -> Q4_0; Q2_K, Q3_K -> IQ4_NL; Q4_K -> Q5_0;
 *  Q5_K -> Q5_1; Q6_K -> Q8_0) and finally F16 when no block fits (e.g. stories260K's w2, 172 columns).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_UNSUPPORTED, QLOW_E_SHAPE (cols < 1). Never allocates. */
QLOW_API qlow_status qlow_ggml_fallback_type(int32_t requested, int64_t cols, int32_t *type);

/*! qlow_ggml_quantize_row() : quantize x[0..n) (n a multiple of the type's block) into ggml blocks at
 *  dst (dst_bytes >= n / block * block bytes). search = 1 picks each block's parameters (scale, min,
 *  sub-block scales) to minimize sum_j importance[j] * (x_j - deq_j)^2 over a scale search that includes
 *  ggml's own rule, the exact fit of values already on a grid of the type, and weighted least-squares
 *  refits, rounding each value optimally for the chosen parameters; so its weighted error is never above
 *  ggml's rule's. search = 0 applies ggml's published rule (e.g. Q4_0: d = max / -8 with max the value of
 *  largest magnitude); for the k-quants the rule is the plain two-level min/max rounding (ggml's own
 *  iterative k-quant search is not reproduced) and the search picks sub-block and super-block scales. steps is the number of scale candidates (4..1000; 0 = 64). importance: n
 *  nonnegative finite floats or NULL (uniform). F32/F16 rows are stored as they are (rounded for F16).
 *  @return QLOW_E_NULL_POINTER, QLOW_E_UNSUPPORTED, QLOW_E_SHAPE (n not a multiple of the block),
 *  QLOW_E_BUFFER_TOO_SMALL, QLOW_E_NONFINITE, QLOW_E_INVALID_ARG (negative importance, bad steps),
 *  QLOW_E_NUMERIC (|x| > 65504 for a type with fp16 scales). dst is untouched on failure. Never
 *  allocates; thread-safe. */
QLOW_API qlow_status qlow_ggml_quantize_row(int32_t type, const float *x, int64_t n, const float *importance,
                                            int32_t search, int32_t steps, void *dst, size_t dst_bytes);

/*! qlow_ggml_dequantize_row() : decode n values (a multiple of the block) of `type` from src into out.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_UNSUPPORTED, QLOW_E_SHAPE, QLOW_E_TRUNCATED (src_bytes too small).
 *  Never allocates; thread-safe. */
QLOW_API qlow_status qlow_ggml_dequantize_row(int32_t type, const void *src, size_t src_bytes, int64_t n,
                                              float *out);

/*! Importance callback of the GGUF export: fill out[0..cols) with the importance (mean x^2 of the
 *  matrix's input column, llama.cpp's imatrix) of the weight matrix with canonical name `name` and return
 *  1, return 0 for "none" (uniform), or a negative value to abort the export (QLOW_E_CALLBACK). */
typedef int (*qlow_export_importance_fn)(void *user, const char *name, int64_t cols, float *out);

/*! qlow_export_gguf() : write a GGUF v3 file at `path` for llama.cpp (architecture "llama").
 *  Tensors come from `qfile` when it is not NULL (its packed matrices dequantized, its dense tensors
 *  converted; the configuration from its "model.*" metadata) and otherwise from `model`. Every weight
 *  matrix (wq, wk, wv, wo, w1, w2, w3) is written as `type` or its fallback
 *  (qlow_ggml_fallback_type()), chosen per block by qlow_ggml_quantize_row() with the importance from
 *  `importance` (may be NULL); tok_embeddings/output follow QLOW_PARAM_EXPORT_GGUF_EMBED_TYPE and norms
 *  stay F32. Hugging Face rotate-half wq/wk rows (QLOW_MODEL_QK_HF_ORDER = 1) are permuted back to the
 *  interleaved pairs llama.cpp's "llama" architecture expects. `tok` (may be NULL) adds the
 *  tokenizer.ggml.* vocabulary (model "llama": tokens with spaces as U+2581, scores, token types).
 *  @return QLOW_E_NULL_POINTER (ctx, path, or both model and qfile NULL), QLOW_E_INVALID_ARG (both
 *  given), QLOW_E_PARAM, QLOW_E_UNSUPPORTED (type), QLOW_E_NOT_FOUND (a tensor or configuration value
 *  missing), QLOW_E_SHAPE, QLOW_E_FORMAT, QLOW_E_NONFINITE, QLOW_E_NUMERIC, QLOW_E_CALLBACK, QLOW_E_IO,
 *  QLOW_E_NO_MEMORY, QLOW_E_OVERFLOW. Allocates through the ctx allocator (one tensor's rows at a time).
 *  The ctx is used by one thread at a time; model, qfile and tok are only read. */
QLOW_API qlow_status qlow_export_gguf(qlow_ctx *ctx, const qlow_params *params, const qlow_model *model,
                                      const qlow_qfile *qfile, const qlow_tokenizer *tok, int32_t type,
                                      qlow_export_importance_fn importance, void *importance_user,
                                      const char *path);

/*! qlow_export_gguf_callback() : qlow_export_gguf() sending the bytes in order to `write`.
 *  @return as qlow_export_gguf() (QLOW_E_CALLBACK when `write` fails). */
QLOW_API qlow_status qlow_export_gguf_callback(qlow_ctx *ctx, const qlow_params *params, const qlow_model *model,
                                               const qlow_qfile *qfile, const qlow_tokenizer *tok, int32_t type,
                                               qlow_export_importance_fn importance, void *importance_user,
                                               qlow_write_fn write, void *user);

/*! qlow_export_dequant() : write the fake-quant checkpoint of `qfile` at `path`: every tensor of the
 *  `source` checkpoint (the one the .qlow came from) in source order, where a tensor stored PACKED in
 *  qfile under the same canonical name is replaced by its dequantized rows and every other tensor is
 *  copied byte for byte from the source (llama2.c: the 28-byte header, norms, RoPE tables and a fp32
 *  embedding included). QLOW_PARAM_EXPORT_FORMAT selects the output: the source's format (default),
 *  llama2.c, or safetensors F32/F16 (header JSON written deterministically: source order, original
 *  names for a safetensors source, canonical names + ".weight" otherwise, no __metadata__). F16 output
 *  rounds dequantized values to nearest even; F32 output holds them exactly.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_PARAM, QLOW_E_UNSUPPORTED (llama2.c output from a safetensors
 *  source, a BF16/integer source tensor with F16 output), QLOW_E_SHAPE (a packed tensor's shape differs
 *  from the source's), QLOW_E_NOT_FOUND (a packed tensor the source lacks), QLOW_E_FORMAT (a packed
 *  matrix that does not open), QLOW_E_IO, QLOW_E_NO_MEMORY, QLOW_E_OVERFLOW. Allocates through the ctx
 *  allocator (one tensor at a time). The ctx is used by one thread at a time; inputs are only read. */
QLOW_API qlow_status qlow_export_dequant(qlow_ctx *ctx, const qlow_params *params, const qlow_qfile *qfile,
                                         const qlow_model *source, const char *path);

/*! qlow_export_dequant_callback() : qlow_export_dequant() sending the bytes in order to `write`.
 *  @return as qlow_export_dequant() (QLOW_E_CALLBACK when `write` fails). */
QLOW_API qlow_status qlow_export_dequant_callback(qlow_ctx *ctx, const qlow_params *params,
                                                  const qlow_qfile *qfile, const qlow_model *source,
                                                  qlow_write_fn write, void *user);

/* ---- end of export section ---- */


#ifdef __cplusplus
}
#endif
#endif /* QLOW_H_INCLUDED */

/* ============================================================================================
 * Experimental tier: define QLOW_EXPERIMENTAL before including qlow.h. No ABI promise.
 * ============================================================================================ */
#if defined(QLOW_EXPERIMENTAL) && !defined(QLOW_H_EXPERIMENTAL_INCLUDED)
#define QLOW_H_EXPERIMENTAL_INCLUDED
#ifdef __cplusplus
extern "C" {
#endif

/* ---- end of experimental section ---- */

#ifdef __cplusplus
}
#endif
#endif /* QLOW_EXPERIMENTAL */
