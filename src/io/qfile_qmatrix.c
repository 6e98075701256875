/* qfile_qmatrix.c - the glue between .qlow PACKED tensors and qlow_qmatrix: images are validated with
 * the formats code (qlow_qmatrix_wrap_size / _wrap_static) on the way in and out, and the directory's
 * format and shape must agree with the image. */
#include "io/qfile_internal.h"

#include "formats/layout.h"

qlow_status qlow__qfile_check_image(const qlow_allocator *a, const void *data, size_t size, int32_t format,
                                    int64_t rows, int64_t cols)
{
    size_t hb;
    QLOW_TRY(qlow_qmatrix_wrap_size(data, size, &hb));
    void *mem = qlow__alloc(a, hb, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    qlow_qmatrix *qm = NULL;
    qlow_status st = qlow_qmatrix_wrap_static(mem, hb, data, size, &qm);
    if (st == QLOW_OK) {
        int32_t f = 0;
        int64_t r = 0, c = 0;
        qlow_qmatrix_format(qm, &f);
        qlow_qmatrix_shape(qm, &r, &c);
        if (f != format || r != rows || c != cols) st = QLOW_E_FORMAT;
        qlow_qmatrix_destroy(qm);
    }
    qlow__free(a, mem);
    return st;
}

qlow_status qlow_qfile_writer_add_qmatrix(qlow_qfile_writer *w, const char *name, const qlow_qmatrix *qm)
{
    if (!w || !name || !qm) return QLOW_E_NULL_POINTER;
    int32_t format;
    int64_t rows, cols;
    size_t size;
    QLOW_TRY(qlow_qmatrix_format(qm, &format));
    QLOW_TRY(qlow_qmatrix_shape(qm, &rows, &cols));
    QLOW_TRY(qlow_qmatrix_serialized_size(qm, &size));
    const qlow_allocator *a = qlow__qfile_writer_allocator(w);
    void *img = qlow__alloc(a, size, 64);
    if (!img) return QLOW_E_NO_MEMORY;
    qlow_status st = qlow_qmatrix_serialize(qm, img, size);
    if (st == QLOW_OK) st = qlow_qfile_writer_add_packed(w, name, format, qm->p.bits, rows, cols, img, size);
    qlow__free(a, img);
    return st;
}

qlow_status qlow_qfile_tensor_qmatrix(const qlow_qfile *file, size_t index, qlow_ctx *ctx, qlow_qmatrix **out)
{
    if (!file || !out) return QLOW_E_NULL_POINTER;
    const char *name;
    int32_t kind, format;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    QLOW_TRY(qlow_qfile_tensor_info(file, index, &name, &kind, &format, NULL, NULL, shape));
    if (kind != QLOW_QFILE_PACKED) return QLOW_E_DTYPE;
    const void *data;
    size_t size;
    QLOW_TRY(qlow_qfile_tensor_data(file, index, &data, &size));
    qlow_qmatrix *qm = NULL;
    QLOW_TRY(qlow_qmatrix_wrap(ctx, data, size, &qm));
    int32_t f = 0;
    int64_t r = 0, c = 0;
    qlow_qmatrix_format(qm, &f);
    qlow_qmatrix_shape(qm, &r, &c);
    if (f != format || r != shape[0] || c != shape[1]) {
        qlow_qmatrix_destroy(qm);
        return QLOW_E_FORMAT;
    }
    *out = qm;
    return QLOW_OK;
}
