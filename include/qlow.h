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
 * ============================================================================================
 * PTQ1.61 (Zhao et al., ACL 2025) splits the input channels (columns) of a linear layer in two:
 *   - salient columns (top 20% by max|x| over calibration activations): 4-bit asymmetric, per row;
 *   - the rest: W^_ij = r1_i r2_j (alpha_i sgn(W_ij - mu_i) + mu_i), mu_i the frozen row mean over the
 *     non-salient entries, sgn(0) = +1; alpha (per row), r1 (per row), r2 (per column) are optimized so
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
    QLOW_SCALE_FIT_TOKENS = 611      /* int 1..1<<30, default 512: the optimizer fits on a seeded random
                                        subset of at most this many calibration tokens (12K scales need
                                        far fewer than rows * tokens equations; cost is linear in it) */
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
    QLOW_BITS_STORED_TOTAL = 4, /* 8 * bytes of our M161 layout / (rows * cols) */
    QLOW_BITS_STORED_BYTES = 5, /* bytes of our M161 layout (codes, scales, mask) */
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
 *  Deterministic; bit-identical for any QLOW_CTX_NUM_THREADS. Allocates through the ctx allocator.
 *  @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_DTYPE, QLOW_E_NONFINITE, QLOW_E_PARAM,
 *  QLOW_E_NUMERIC, QLOW_E_NO_MEMORY; on failure the outputs are untouched. */
QLOW_API qlow_status qlow_ptq161_quantize_f32(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                              const qlow_view *X, const qlow_actstats *stats,
                                              float *W_hat, uint8_t *mask, float *fold_scale);

/* ---- engine-driven (block-wise) scale optimization ---- */
typedef struct qlow_scaleopt qlow_scaleopt;

/*! qlow_scaleopt_create() : an optimizer for the PTQ1.61 scales of any number of linears, configured
 *  from `params` (QLOW_SCALE_* learning rates, betas, eps, weight decay; PTQ1.61 salient range and alpha
 *  init). Allocates through the ctx allocator. @return QLOW_E_NULL_POINTER, QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_scaleopt_create(qlow_ctx *ctx, const qlow_params *params, qlow_scaleopt **out);
/*! qlow_scaleopt_destroy() : NULL is a no-op. */
QLOW_API void qlow_scaleopt_destroy(qlow_scaleopt *opt);
/*! qlow_scaleopt_add_linear() : register W [rows x cols] with its column mask: quantizes the salient
 *  columns, freezes signs and mu, initializes alpha and r1 = r2 = 1. *linear_id gets its index (0, 1,
 *  ...). Allocates. @return QLOW_E_NULL_POINTER, QLOW_E_SHAPE, QLOW_E_DTYPE, QLOW_E_NONFINITE,
 *  QLOW_E_NO_MEMORY. */
QLOW_API qlow_status qlow_scaleopt_add_linear(qlow_scaleopt *opt, const qlow_view *W, const uint8_t *mask,
                                              int32_t *linear_id);
/*! qlow_scaleopt_weight() : the current W^ of a linear into W_hat[rows * cols] (fp32, row-major) for the
 *  engine's forward pass. @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG (bad id). Never allocates. */
QLOW_API qlow_status qlow_scaleopt_weight(const qlow_scaleopt *opt, int32_t linear_id, float *W_hat);
/*! qlow_scaleopt_grad() : accumulate dL/dW^ [rows x cols] (f32, any strides) of a linear into the
 *  gradients of its alpha, r1, r2 (ptq161.md §2.5). @return QLOW_E_NULL_POINTER, QLOW_E_INVALID_ARG,
 *  QLOW_E_SHAPE, QLOW_E_DTYPE, QLOW_E_NONFINITE. Never allocates. */
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
