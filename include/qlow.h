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
 * ============================================================================================ */

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
 *  is also the top eigenvalue of the layer's full Hessian. FULL mode. Allocates O(cols) scratch through
 *  the ctx allocator. @return QLOW_E_STATE, QLOW_E_INVALID_ARG (tol outside [0,1], max_iter < 1),
 *  QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_hessian_top_eigen(qlow_ctx *ctx, const qlow_hessian *h, double tol, int32_t max_iter,
                                            double *lambda, int32_t *iters);

/*! qlow_hessian_lanczos() : the k largest eigenvalues of H (descending) from `steps` Lanczos steps with
 *  full reorthogonalization (1 <= k <= steps; steps above cols are clamped). Extreme eigenvalues converge
 *  first; use steps >= 3k. FULL mode. Allocates (steps+1)*cols doubles through the ctx allocator.
 *  @return QLOW_E_STATE, QLOW_E_INVALID_ARG, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_hessian_lanczos(qlow_ctx *ctx, const qlow_hessian *h, int32_t steps, int32_t k,
                                          double *eigs);

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

/*! qlow_plan_layer_error() : the exact layer-wise quadratic form tr(dW H dW^T) with dW = Wq - W and the
 *  accumulator's H = 2/N sum x x^T, i.e. 2/N ||dW X^T||_F^2 over the calibration tokens. O(rows cols^2),
 *  threaded by the ctx (bit-identical for any thread count). Allocates O(threads * cols + rows) doubles
 *  through the ctx allocator. @return QLOW_E_STATE (empty or DIAG accumulator), QLOW_E_SHAPE,
 *  QLOW_E_NONFINITE, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_plan_layer_error(qlow_ctx *ctx, const qlow_hessian *h, const qlow_view *W,
                                           const qlow_view *Wq, double *error);

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
