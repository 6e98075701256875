/* qfile_internal.h - what the .qlow reader/writer files share beyond the byte layout. */
#ifndef QLOW_IO_QFILE_INTERNAL_H
#define QLOW_IO_QFILE_INTERNAL_H

#include "io/qfile_format.h"

/* Validate a serialized qlow_qmatrix image (8-byte aligned) and that it has the given format and
 * shape. Allocates one temporary handle through `a`. */
QLOW_HIDDEN qlow_status qlow__qfile_check_image(const qlow_allocator *a, const void *data, size_t size,
                                                int32_t format, int64_t rows, int64_t cols);
QLOW_HIDDEN const qlow_allocator *qlow__qfile_writer_allocator(const qlow_qfile_writer *w);

#endif
