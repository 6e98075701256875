/* qmatrix.c - the qlow_qmatrix object: build from a qresult, wrap caller memory, serialize, queries. */
#include "formats/blob.h"
#include "formats/codes.h"
#include "formats/qmatrix_internal.h"
#include "kernels/kernels.h"

static qlow_status check_qm(const qlow_qmatrix *qm)
{
    if (!qm) return QLOW_E_NULL_POINTER;
    if (qm->magic != QLOW__QMATRIX_MAGIC) return QLOW_E_INVALID_ARG;
    return QLOW_OK;
}

static size_t handle_head_bytes(void) { return qlow__align_up(sizeof(qlow_qmatrix), 64); }

/* A handle is the struct, the M161 permutation, then the kernel tables (qlow__gemm_prep). */
typedef struct handle_layout {
    size_t perm_at, prep_at, prep_bytes, total;
} handle_layout;

static qlow_status layout_handle(const qlow__geom *g, const qlow__plan *pl, const uint8_t *blob, handle_layout *hl)
{
    size_t perm = 0;
    if (g->format == QLOW_FORMAT_M161) QLOW_TRY(qlow__mul_size((size_t)g->cols, sizeof(int32_t), &perm));
    qlow__packed p;
    qlow__packed_bind(g, pl, blob, &p);
    QLOW_TRY(qlow__gemm_prep_bytes(&p, g->format == QLOW_FORMAT_M161, &hl->prep_bytes));
    hl->perm_at = handle_head_bytes();
    QLOW_TRY(qlow__add_size(hl->perm_at, perm, &hl->prep_at));
    QLOW_TRY(qlow__add_size(hl->prep_at, 63, &hl->prep_at));
    hl->prep_at &= ~(size_t)63;
    return qlow__add_size(hl->prep_at, hl->prep_bytes, &hl->total);
}

/* Fill a handle placed in `mem` (hl->total bytes) over a checked image. */
static void init_handle(void *mem, const qlow__geom *g, const qlow__plan *pl, const uint8_t *blob,
                        const handle_layout *hl, qlow_qmatrix **out)
{
    qlow_qmatrix *qm = (qlow_qmatrix *)mem;
    memset(qm, 0, sizeof(*qm));
    qm->magic = QLOW__QMATRIX_MAGIC;
    qlow__packed_bind(g, pl, blob, &qm->p);
    qm->blob = blob;
    qm->blob_bytes = pl->total_bytes;
    qm->payload_bytes = pl->payload_bytes;
    if (g->format == QLOW_FORMAT_M161) {
        qm->perm = (int32_t *)((unsigned char *)mem + hl->perm_at);
        int64_t k = 0;
        for (int64_t j = 0; j < g->cols; j++)
            if (qlow__bit_get(qm->p.col_mask, j)) qm->perm[k++] = (int32_t)j;
        for (int64_t j = 0; j < g->cols; j++)
            if (!qlow__bit_get(qm->p.col_mask, j)) qm->perm[k++] = (int32_t)j;
    }
    if (hl->prep_bytes) qm->prep = qlow__gemm_prep_build(qm, (unsigned char *)mem + hl->prep_at, hl->prep_bytes);
    *out = qm;
}

/* A heap handle over an image; takes ownership of `owned` (freed on failure too) when non-NULL. */
static qlow_status make_handle(const qlow_allocator *a, const qlow__geom *g, const qlow__plan *pl,
                               const uint8_t *blob, void *owned, qlow_qmatrix **out)
{
    handle_layout hl;
    qlow_status st = layout_handle(g, pl, blob, &hl);
    void *mem = st == QLOW_OK ? qlow__alloc(a, hl.total, 64) : NULL;
    if (!mem) {
        qlow__free(a, owned);
        return st == QLOW_OK ? QLOW_E_NO_MEMORY : st;
    }
    qlow_qmatrix *qm;
    init_handle(mem, g, pl, blob, &hl, &qm);
    qm->alloc = *a;
    qm->owns_buffer = owned != NULL;
    qm->buffer = owned;
    qm->buffer_bytes = owned ? pl->total_bytes : 0;
    *out = qm;
    return QLOW_OK;
}

qlow_status qlow__qresult_packed_size(const qlow__qresult *qr, size_t *bytes)
{
    qlow__geom g;
    qlow__plan pl;
    QLOW_TRY(qlow__geom_from_qresult(qr, &g));
    QLOW_TRY(qlow__format_plan(&g, &pl));
    *bytes = pl.total_bytes;
    return QLOW_OK;
}

qlow_status qlow__qresult_pack_into(const qlow__qresult *qr, void *dst, size_t dst_bytes)
{
    if (!qr || !dst) return QLOW_E_NULL_POINTER;
    if (!qlow__host_little_endian()) return QLOW_E_UNSUPPORTED;
    qlow__geom g;
    qlow__plan pl;
    QLOW_TRY(qlow__geom_from_qresult(qr, &g));
    QLOW_TRY(qlow__format_plan(&g, &pl));
    if (dst_bytes < pl.total_bytes) return QLOW_E_BUFFER_TOO_SMALL;
    if ((uintptr_t)dst % 8 != 0) return QLOW_E_ALIGNMENT;
    uint8_t *blob = (uint8_t *)dst;
    memset(blob, 0, pl.total_bytes);
    qlow__format_traits_get(g.format)->pack(qr, &pl, blob);
    qlow__blob_write_header(blob, &g, &pl);
    return QLOW_OK;
}

qlow_status qlow__qmatrix_from_qresult(const qlow_allocator *alloc, const qlow__qresult *qr, qlow_qmatrix **out)
{
    if (!qr || !out) return QLOW_E_NULL_POINTER;
    if (!qlow__host_little_endian()) return QLOW_E_UNSUPPORTED;
    qlow__geom g;
    qlow__plan pl;
    QLOW_TRY(qlow__geom_from_qresult(qr, &g));
    QLOW_TRY(qlow__format_plan(&g, &pl));
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    uint8_t *blob = (uint8_t *)qlow__alloc(&a, pl.total_bytes, 64);
    if (!blob) return QLOW_E_NO_MEMORY;
    qlow_status st = qlow__qresult_pack_into(qr, blob, pl.total_bytes);
    if (st != QLOW_OK) {
        qlow__free(&a, blob);
        return st;
    }
    return make_handle(&a, &g, &pl, blob, blob, out);
}

qlow_status qlow__qmatrix_adopt(const qlow_allocator *alloc, void *blob, size_t bytes, qlow_qmatrix **out)
{
    qlow__geom g;
    qlow__plan pl;
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow_status st = qlow__blob_parse((const uint8_t *)blob, bytes, &g, &pl);
    if (st != QLOW_OK) {
        qlow__free(&a, blob);
        return st;
    }
    return make_handle(&a, &g, &pl, (const uint8_t *)blob, blob, out);
}

/* Header, sizes, checksums and contents of a caller image. */
static qlow_status check_image(const void *buf, size_t bytes, qlow__geom *g, qlow__plan *pl)
{
    if (!buf) return QLOW_E_NULL_POINTER;
    if ((uintptr_t)buf % 8 != 0) return QLOW_E_ALIGNMENT;
    if (!qlow__host_little_endian()) return QLOW_E_UNSUPPORTED;
    QLOW_TRY(qlow__blob_parse((const uint8_t *)buf, bytes, g, pl));
    qlow__packed p;
    qlow__packed_bind(g, pl, (const uint8_t *)buf, &p);
    return qlow__format_traits_get(g->format)->validate(&p);
}

qlow_status qlow_qmatrix_wrap(qlow_ctx *ctx, const void *buf, size_t bytes, qlow_qmatrix **out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__ctx_check(ctx));
    qlow__geom g;
    qlow__plan pl;
    QLOW_TRY(check_image(buf, bytes, &g, &pl));
    return make_handle(qlow__ctx_allocator(ctx), &g, &pl, (const uint8_t *)buf, NULL, out);
}

qlow_status qlow_qmatrix_wrap_size(const void *buf, size_t bytes, size_t *handle_bytes_out)
{
    if (!handle_bytes_out) return QLOW_E_NULL_POINTER;
    qlow__geom g;
    qlow__plan pl;
    QLOW_TRY(check_image(buf, bytes, &g, &pl));
    handle_layout hl;
    QLOW_TRY(layout_handle(&g, &pl, (const uint8_t *)buf, &hl));
    *handle_bytes_out = hl.total;
    return QLOW_OK;
}

qlow_status qlow_qmatrix_wrap_static(void *mem, size_t mem_bytes, const void *buf, size_t bytes,
                                     qlow_qmatrix **out)
{
    if (!mem || !out) return QLOW_E_NULL_POINTER;
    if ((uintptr_t)mem % 64 != 0) return QLOW_E_ALIGNMENT;
    qlow__geom g;
    qlow__plan pl;
    QLOW_TRY(check_image(buf, bytes, &g, &pl));
    handle_layout hl;
    QLOW_TRY(layout_handle(&g, &pl, (const uint8_t *)buf, &hl));
    if (mem_bytes < hl.total) return QLOW_E_WORKSPACE_TOO_SMALL;
    qlow_qmatrix *qm;
    init_handle(mem, &g, &pl, (const uint8_t *)buf, &hl, &qm);
    qm->static_handle = 1;
    *out = qm;
    return QLOW_OK;
}

void qlow_qmatrix_destroy(qlow_qmatrix *qm)
{
    if (!qm || qm->magic != QLOW__QMATRIX_MAGIC) return;
    if (qm->static_handle) {
        qm->magic = 0;
        return;
    }
    qlow_allocator a = qm->alloc;
    void *buffer = qm->owns_buffer ? qm->buffer : NULL;
    qm->magic = 0;
    qlow__free(&a, buffer);
    qlow__free(&a, qm);
}

qlow_status qlow_qmatrix_format(const qlow_qmatrix *qm, int32_t *format)
{
    QLOW_TRY(check_qm(qm));
    if (!format) return QLOW_E_NULL_POINTER;
    *format = qm->p.format;
    return QLOW_OK;
}

qlow_status qlow_qmatrix_shape(const qlow_qmatrix *qm, int64_t *rows, int64_t *cols)
{
    QLOW_TRY(check_qm(qm));
    if (!rows || !cols) return QLOW_E_NULL_POINTER;
    *rows = qm->p.rows;
    *cols = qm->p.cols;
    return QLOW_OK;
}

qlow_status qlow_qmatrix_bytes(const qlow_qmatrix *qm, size_t *bytes)
{
    QLOW_TRY(check_qm(qm));
    if (!bytes) return QLOW_E_NULL_POINTER;
    *bytes = qm->blob_bytes;
    return QLOW_OK;
}

qlow_status qlow_qmatrix_bits_per_weight(const qlow_qmatrix *qm, double *bits)
{
    QLOW_TRY(check_qm(qm));
    if (!bits) return QLOW_E_NULL_POINTER;
    *bits = 8.0 * (double)qm->payload_bytes / ((double)qm->p.rows * (double)qm->p.cols);
    return QLOW_OK;
}

qlow_status qlow_qmatrix_dequantize(const qlow_qmatrix *qm, int64_t row_begin, int64_t row_count, float *out,
                                    size_t out_count)
{
    QLOW_TRY(check_qm(qm));
    if (!out) return QLOW_E_NULL_POINTER;
    if (row_begin < 0 || row_count < 0 || row_begin > qm->p.rows || row_count > qm->p.rows - row_begin)
        return QLOW_E_SHAPE;
    size_t need;
    QLOW_TRY(qlow__mul_size((size_t)row_count, (size_t)qm->p.cols, &need));
    if (out_count < need) return QLOW_E_BUFFER_TOO_SMALL;
    const qlow__format_traits *t = qlow__format_traits_get(qm->p.format);
    for (int64_t i = 0; i < row_count; i++) t->dequant_row(&qm->p, row_begin + i, out + (size_t)i * (size_t)qm->p.cols);
    return QLOW_OK;
}

qlow_status qlow_qmatrix_serialized_size(const qlow_qmatrix *qm, size_t *bytes)
{
    return qlow_qmatrix_bytes(qm, bytes);
}

qlow_status qlow_qmatrix_serialize(const qlow_qmatrix *qm, void *buf, size_t bytes)
{
    QLOW_TRY(check_qm(qm));
    if (!buf) return QLOW_E_NULL_POINTER;
    if (bytes < qm->blob_bytes) return QLOW_E_BUFFER_TOO_SMALL;
    memcpy(buf, qm->blob, qm->blob_bytes);
    return QLOW_OK;
}

const char *qlow_format_name(int32_t format)
{
    const qlow__format_traits *t = qlow__format_traits_get(format);
    return t ? t->name : "unknown";
}

qlow_status qlow_format_bits_per_weight(int32_t format, int64_t rows, int64_t cols, int64_t group_cols,
                                        int64_t group_rows, uint32_t flags, int64_t n_salient, double *bits)
{
    if (!bits) return QLOW_E_NULL_POINTER;
    if (flags & ~(uint32_t)(QLOW_FORMAT_FLAG_SYMMETRIC | QLOW_FORMAT_FLAG_COL_SCALE)) return QLOW_E_INVALID_ARG;
    qlow__geom g;
    memset(&g, 0, sizeof(g));
    g.format = format;
    g.rows = rows;
    g.cols = cols;
    g.group_cols = group_cols;
    g.group_rows = group_rows;
    g.symmetric = (flags & QLOW_FORMAT_FLAG_SYMMETRIC) ? 1 : 0;
    g.has_col_scale = (flags & QLOW_FORMAT_FLAG_COL_SCALE) ? 1 : 0;
    g.n_salient = n_salient;
    QLOW_TRY(qlow__geom_canonical(&g));
    qlow__plan pl;
    QLOW_TRY(qlow__format_plan(&g, &pl));
    *bits = qlow__plan_bits_per_weight(&g, &pl);
    return QLOW_OK;
}
