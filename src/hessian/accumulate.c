/* accumulate.c - the streaming qlow_hessian accumulator: creation in one block (allocator or caller
 * memory), adding activation batches, merging and resetting. */
#include "hessian.h"

typedef struct layout {
    size_t s_off, colsum_off, sumsq_off, pa_off, pb_off, total;
} layout;

static qlow_status plan_layout(int64_t cols, int32_t mode, layout *L)
{
    if (cols <= 0) return QLOW_E_SHAPE;
    if (mode != QLOW_HESSIAN_FULL && mode != QLOW_HESSIAN_DIAG) return QLOW_E_INVALID_ARG;
    size_t d = (size_t)cols, off = qlow__align_up(sizeof(qlow_hessian), 64), bytes;
    memset(L, 0, sizeof(*L));
    if (mode == QLOW_HESSIAN_FULL) {
        size_t dd;
        QLOW_TRY(qlow__matrix_count(cols, cols, &dd));
        QLOW_TRY(qlow__mul_size(dd, sizeof(double), &bytes));
        L->s_off = off;
        QLOW_TRY(qlow__add_size(off, bytes, &off));
    }
    QLOW_TRY(qlow__mul_size(d, sizeof(double), &bytes));
    bytes = qlow__align_up(bytes, 64);
    L->colsum_off = off;
    QLOW_TRY(qlow__add_size(off, bytes, &off));
    L->sumsq_off = off;
    QLOW_TRY(qlow__add_size(off, bytes, &off));
    if (mode == QLOW_HESSIAN_FULL) {
        size_t tiles = (d + QLOW__SYRK_MR - 1) / QLOW__SYRK_MR, strips = (d + QLOW__SYRK_NR - 1) / QLOW__SYRK_NR;
        QLOW_TRY(qlow__mul_size(tiles, (size_t)QLOW__SYRK_CHUNK * QLOW__SYRK_MR * sizeof(float), &bytes));
        L->pa_off = off;
        QLOW_TRY(qlow__add_size(off, qlow__align_up(bytes, 64), &off));
        QLOW_TRY(qlow__mul_size(strips, (size_t)QLOW__SYRK_CHUNK * QLOW__SYRK_NR * sizeof(float), &bytes));
        L->pb_off = off;
        QLOW_TRY(qlow__add_size(off, qlow__align_up(bytes, 64), &off));
    }
    L->total = off;
    return QLOW_OK;
}

static qlow_hessian *place(void *mem, int64_t cols, int32_t mode, const layout *L)
{
    unsigned char *base = (unsigned char *)mem;
    memset(base, 0, L->s_off ? L->s_off : L->colsum_off);
    qlow_hessian *h = (qlow_hessian *)base;
    h->magic = QLOW__HESSIAN_MAGIC;
    h->mode = mode;
    h->cols = cols;
    h->colsum = (double *)(base + L->colsum_off);
    h->sumsq = (double *)(base + L->sumsq_off);
    if (mode == QLOW_HESSIAN_FULL) {
        h->S = (double *)(base + L->s_off);
        h->pack_a = (float *)(base + L->pa_off);
        h->pack_b = (float *)(base + L->pb_off);
        memset(h->S, 0, (size_t)cols * (size_t)cols * sizeof(double));
    }
    memset(h->colsum, 0, (size_t)cols * sizeof(double));
    memset(h->sumsq, 0, (size_t)cols * sizeof(double));
    return h;
}

qlow_status qlow_hessian_estimate_size(int64_t cols, int32_t mode, size_t *bytes)
{
    if (!bytes) return QLOW_E_NULL_POINTER;
    layout L;
    QLOW_TRY(plan_layout(cols, mode, &L));
    *bytes = L.total;
    return QLOW_OK;
}

qlow_status qlow_hessian_create(const qlow_allocator *alloc, int64_t cols, int32_t mode, qlow_hessian **out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    layout L;
    QLOW_TRY(plan_layout(cols, mode, &L));
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    void *mem = qlow__alloc(&a, L.total, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    qlow_hessian *h = place(mem, cols, mode, &L);
    h->alloc = a;
    h->owns_memory = 1;
    *out = h;
    return QLOW_OK;
}

qlow_status qlow_hessian_init_static(void *mem, size_t mem_bytes, int64_t cols, int32_t mode, qlow_hessian **out)
{
    if (!mem || !out) return QLOW_E_NULL_POINTER;
    if (((uintptr_t)mem & 63u) != 0) return QLOW_E_ALIGNMENT;
    layout L;
    QLOW_TRY(plan_layout(cols, mode, &L));
    if (mem_bytes < L.total) return QLOW_E_WORKSPACE_TOO_SMALL;
    *out = place(mem, cols, mode, &L);
    return QLOW_OK;
}

void qlow_hessian_destroy(qlow_hessian *h)
{
    if (!h || h->magic != QLOW__HESSIAN_MAGIC || !h->owns_memory) return;
    qlow_allocator a = h->alloc;
    h->magic = 0;
    qlow__free(&a, h);
}

qlow_status qlow__hessian_check(const qlow_hessian *h)
{
    if (!h) return QLOW_E_NULL_POINTER;
    if (h->magic != QLOW__HESSIAN_MAGIC) return QLOW_E_INVALID_ARG;
    return QLOW_OK;
}

qlow_status qlow_hessian_reset(qlow_hessian *h)
{
    QLOW_TRY(qlow__hessian_check(h));
    size_t d = (size_t)h->cols;
    if (h->S) memset(h->S, 0, d * d * sizeof(double));
    memset(h->colsum, 0, d * sizeof(double));
    memset(h->sumsq, 0, d * sizeof(double));
    h->tokens = 0;
    return QLOW_OK;
}

qlow_status qlow_hessian_info(const qlow_hessian *h, int64_t *cols, int32_t *mode, int64_t *tokens)
{
    QLOW_TRY(qlow__hessian_check(h));
    if (cols) *cols = h->cols;
    if (mode) *mode = h->mode;
    if (tokens) *tokens = h->tokens;
    return QLOW_OK;
}

double qlow__hessian_sumsq(const qlow_hessian *h, int64_t j)
{
    return h->S ? h->S[j * h->cols + j] : h->sumsq[j];
}

static void add_diag(int threads, qlow_hessian *h, const qlow_view *X)
{
    int64_t d = h->cols, n = X->shape[0];
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && d >= 256)
#endif
    for (int64_t c0 = 0; c0 < d; c0 += 64) {
        int64_t c1 = d - c0 < 64 ? d : c0 + 64;
        for (int64_t r = 0; r < n; r++)
            for (int64_t c = c0; c < c1; c++) {
                double x = (double)qlow__view_elem_f32(X, r, c);
                h->sumsq[c] += x * x;
                h->colsum[c] += x;
            }
    }
}

qlow_status qlow_hessian_add(qlow_ctx *ctx, qlow_hessian *h, const qlow_view *X)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(qlow__hessian_check(h));
    QLOW_TRY(qlow__view_check(X, QLOW__DT_FLOAT, 2));
    if (X->shape[1] != h->cols) return QLOW_E_SHAPE;
    int64_t n = X->shape[0];
    if (n == 0) return QLOW_OK;
    if (h->tokens > INT64_MAX - n) return QLOW_E_OVERFLOW;
    QLOW_TRY(qlow__view_check_finite(X));
    int threads = qlow__ctx_threads(ctx);
    if (h->mode == QLOW_HESSIAN_DIAG) {
        add_diag(threads, h, X);
    } else {
        int isa = qlow__ctx_isa(ctx);
        for (int64_t t0 = 0; t0 < n; t0 += QLOW__SYRK_CHUNK) {
            int64_t t = n - t0 < QLOW__SYRK_CHUNK ? n - t0 : QLOW__SYRK_CHUNK;
            qlow__syrk_pack(threads, h, X, t0, t);
            qlow__syrk_chunk(isa, threads, h, t);
        }
    }
    h->tokens += n;
    return QLOW_OK;
}

qlow_status qlow_hessian_merge(qlow_hessian *dst, const qlow_hessian *src)
{
    QLOW_TRY(qlow__hessian_check(dst));
    QLOW_TRY(qlow__hessian_check(src));
    if (dst == src) return QLOW_E_INVALID_ARG;
    if (dst->cols != src->cols) return QLOW_E_SHAPE;
    if (dst->mode == QLOW_HESSIAN_FULL && src->mode != QLOW_HESSIAN_FULL) return QLOW_E_STATE;
    if (dst->tokens > INT64_MAX - src->tokens) return QLOW_E_OVERFLOW;
    int64_t d = dst->cols;
    if (dst->mode == QLOW_HESSIAN_FULL) {
        for (int64_t j = 0; j < d; j++)
            for (int64_t i = 0; i <= j; i++) dst->S[j * d + i] += src->S[j * d + i];
    } else {
        for (int64_t j = 0; j < d; j++) dst->sumsq[j] += qlow__hessian_sumsq(src, j);
    }
    for (int64_t j = 0; j < d; j++) dst->colsum[j] += src->colsum[j];
    dst->tokens += src->tokens;
    return QLOW_OK;
}
