/* ctx.c - the context: allocator, threads, seed and the SIMD level picked at creation. */
#include "internal.h"

static const qlow_allocator failing_allocator = {NULL, NULL, NULL};

static void ctx_defaults(qlow_ctx *c)
{
    c->magic = QLOW__CTX_MAGIC;
    c->num_threads = 1;
    c->seed = 0x5eed;
    c->isa_detected = qlow__cpu_best_isa();
    c->isa_max = c->isa_detected;
    c->avx_vnni = qlow__cpu_has_avx_vnni();
    c->prefetch_l2 = qlow__cpu_prefetch_l2();
}

qlow_status qlow_ctx_create(const qlow_allocator *alloc, qlow_ctx **out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow_ctx *c = (qlow_ctx *)qlow__calloc(&a, sizeof(*c), 64);
    if (!c) return QLOW_E_NO_MEMORY;
    ctx_defaults(c);
    c->alloc = a;
    c->owns_memory = 1;
    *out = c;
    return QLOW_OK;
}

void qlow_ctx_destroy(qlow_ctx *ctx)
{
    if (!ctx || ctx->magic != QLOW__CTX_MAGIC || !ctx->owns_memory) return;
    qlow_allocator a = ctx->alloc;
    ctx->magic = 0;
    qlow__free(&a, ctx);
}

size_t qlow_ctx_estimate_size(void) { return sizeof(qlow_ctx); }

qlow_status qlow_ctx_init_static(void *mem, size_t mem_bytes, qlow_ctx **out)
{
    if (!mem || !out) return QLOW_E_NULL_POINTER;
    if (((uintptr_t)mem & 7u) != 0) return QLOW_E_ALIGNMENT;
    if (mem_bytes < sizeof(qlow_ctx)) return QLOW_E_WORKSPACE_TOO_SMALL;
    qlow_ctx *c = (qlow_ctx *)mem;
    memset(c, 0, sizeof(*c));
    ctx_defaults(c);
    c->alloc = failing_allocator;
    c->owns_memory = 0;
    *out = c;
    return QLOW_OK;
}

qlow_status qlow__ctx_check(const qlow_ctx *ctx)
{
    if (!ctx) return QLOW_E_NULL_POINTER;
    if (ctx->magic != QLOW__CTX_MAGIC) return QLOW_E_INVALID_ARG;
    return QLOW_OK;
}

int qlow__ctx_isa(const qlow_ctx *ctx)
{
    if (!ctx) return QLOW_ISA_GENERIC;
    return qlow__isa_clamp(ctx->isa_max, ctx->isa_detected, ctx->avx_vnni);
}

int qlow__ctx_prefetch_l2(const qlow_ctx *ctx) { return ctx ? ctx->prefetch_l2 : 0; }

int qlow__ctx_threads(const qlow_ctx *ctx)
{
#ifdef _OPENMP
    return ctx ? ctx->num_threads : 1;
#else
    (void)ctx;
    return 1;
#endif
}

const qlow_allocator *qlow__ctx_allocator(const qlow_ctx *ctx)
{
    return ctx ? &ctx->alloc : &failing_allocator;
}

static int isa_valid(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX && qlow__isa_rank((int)v) >= 0; }

qlow_status qlow_ctx_set_int(qlow_ctx *ctx, int32_t key, int64_t value)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    switch (key) {
    case QLOW_CTX_NUM_THREADS:
        if (value < 1 || value > 1024) return QLOW_E_PARAM;
        ctx->num_threads = (int32_t)value;
        return QLOW_OK;
    case QLOW_CTX_SEED: ctx->seed = value; return QLOW_OK;
    case QLOW_CTX_ISA_MAX:
        if (!isa_valid(value)) return QLOW_E_PARAM;
        ctx->isa_max = (int32_t)value;
        return QLOW_OK;
    default: return QLOW_E_PARAM;
    }
}

qlow_status qlow_ctx_get_int(const qlow_ctx *ctx, int32_t key, int64_t *value)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!value) return QLOW_E_NULL_POINTER;
    switch (key) {
    case QLOW_CTX_NUM_THREADS: *value = ctx->num_threads; return QLOW_OK;
    case QLOW_CTX_SEED: *value = ctx->seed; return QLOW_OK;
    case QLOW_CTX_ISA_MAX: *value = qlow__ctx_isa(ctx); return QLOW_OK;
    case QLOW_CTX_ISA_DETECTED: *value = ctx->isa_detected; return QLOW_OK;
    default: return QLOW_E_PARAM;
    }
}
