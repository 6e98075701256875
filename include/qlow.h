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
                                 the generic path against SIMD. */
    QLOW_CTX_ISA_DETECTED = 4 /* int, read-only: the best qlow_isa this CPU and build support. */
} qlow_ctx_key;

typedef enum qlow_isa {
    QLOW_ISA_GENERIC = 0,
    QLOW_ISA_AVX2 = 1,
    QLOW_ISA_AVX512 = 2,      /* F, BW, VL, DQ */
    QLOW_ISA_AVX512_VNNI = 3, /* AVX512 plus VNNI, VBMI, VPOPCNTDQ */
    QLOW_ISA_NEON = 16
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
 * hessian 300-399, gptq 400-499, mask 500-599, scale 600-699, plan 700-799, io 800-899,
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
 *     included), followed by weighted least-squares refits; it is never worse than min/max.
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
 *  QLOW_E_ALIGNMENT; never QLOW_E_NO_MEMORY. dst may be partly written on failures detected after the
 *  checks (none are: every failure is found before writing). Never allocates. */
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
 *  Allocates only the small handle through the ctx allocator. */
QLOW_API qlow_status qlow_qmatrix_wrap(qlow_ctx *ctx, const void *buf, size_t bytes, qlow_qmatrix **out);

/*! qlow_qmatrix_wrap_size() / qlow_qmatrix_wrap_static() : qlow_qmatrix_wrap() with the handle placed
 *  in caller memory (64-byte aligned, at least *handle_bytes; M161 needs 4 bytes per column more), for
 *  builds without malloc. @return as qlow_qmatrix_wrap() plus QLOW_E_WORKSPACE_TOO_SMALL; never
 *  QLOW_E_NO_MEMORY. Never allocate. */
QLOW_API qlow_status qlow_qmatrix_wrap_size(const void *buf, size_t bytes, size_t *handle_bytes);
QLOW_API qlow_status qlow_qmatrix_wrap_static(void *mem, size_t mem_bytes, const void *buf, size_t bytes,
                                              qlow_qmatrix **out);

/* ---- end of formats/kernels section ---- */


/* ============================================================================================
 * Hessian estimation (src/hessian)
 * ============================================================================================ */

/* ---- end of hessian section ---- */


/* ============================================================================================
 * GPTQ error compensation (src/gptq)
 * ============================================================================================ */

/* ---- end of gptq section ---- */


/* ============================================================================================
 * Sensitivity and bit allocation (src/plan)
 * ============================================================================================ */

/* ---- end of plan section ---- */


/* ============================================================================================
 * PTQ1.61: salient-channel mask and scale optimization (src/mask, src/scale)
 * ============================================================================================ */

/* ---- end of ptq161 section ---- */


/* ============================================================================================
 * Files and models (src/io)
 * ============================================================================================ */

/* ---- end of io section ---- */


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
