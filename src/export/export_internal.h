/* export_internal.h - the pieces both exports share: an output sink (temporary file renamed on success,
 * or a caller callback) and a tensor source (a qlow_model, or a .qlow file with packed matrices). */
#ifndef QLOW_EXPORT_INTERNAL_H
#define QLOW_EXPORT_INTERNAL_H

#include "core/internal.h"
#include "io/io_internal.h"

typedef struct qlow__xsink {
    qlow__out_file *file;
    char *tmp_path;       /* "<path>.tmp", allocator memory */
    const char *path;     /* final name */
    qlow_write_fn fn;
    void *user;
    uint64_t written;
    qlow_allocator alloc;
} qlow__xsink;

QLOW_HIDDEN qlow_status qlow__xsink_open_path(qlow__xsink *s, const char *path, const qlow_allocator *alloc);
QLOW_HIDDEN void qlow__xsink_open_callback(qlow__xsink *s, qlow_write_fn fn, void *user);
QLOW_HIDDEN qlow_status qlow__xsink_write(qlow__xsink *s, const void *data, size_t size);
QLOW_HIDDEN qlow_status qlow__xsink_zeros(qlow__xsink *s, size_t n);
/* With st == QLOW_OK: flush, close and rename the temporary file to the final name; otherwise remove
 * it. Returns st, or the closing/renaming failure. */
QLOW_HIDDEN qlow_status qlow__xsink_finish(qlow__xsink *s, qlow_status st);

typedef struct qlow__xsrc {
    const qlow_model *model; /* exactly one of model / qfile */
    const qlow_qfile *qfile;
    qlow_ctx *ctx;
} qlow__xsrc;

typedef struct qlow__xtensor {
    int present;
    int packed;  /* a packed matrix of the .qlow file */
    int32_t ndim;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    size_t count; /* elements */
} qlow__xtensor;

/* Shape of tensor `name` (present = 0 when absent). */
QLOW_HIDDEN qlow_status qlow__xsrc_info(const qlow__xsrc *src, const char *name, qlow__xtensor *t);
/* The tensor as fp32 into dst[count] (packed matrices dequantized). */
QLOW_HIDDEN qlow_status qlow__xsrc_read(const qlow__xsrc *src, const char *name, float *dst, size_t count);
/* A configuration value (qlow_model_key): from the model, or from the .qlow "model.*" metadata. */
QLOW_HIDDEN qlow_status qlow__xsrc_int(const qlow__xsrc *src, int32_t key, int64_t *v);
QLOW_HIDDEN qlow_status qlow__xsrc_float(const qlow__xsrc *src, int32_t key, double *v);

/* Dequantize packed tensor `index` of a .qlow file into dst[rows * cols]. */
QLOW_HIDDEN qlow_status qlow__qfile_dequantize(qlow_ctx *ctx, const qlow_qfile *f, size_t index, float *dst,
                                               size_t count);

#endif
