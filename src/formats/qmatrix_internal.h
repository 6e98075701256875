/* qmatrix_internal.h - building qlow_qmatrix objects from quantizer results (GPTQ, PTQ1.61 and
 * qlow_quantize all end here). */
#ifndef QLOW_FORMATS_QMATRIX_INTERNAL_H
#define QLOW_FORMATS_QMATRIX_INTERNAL_H

#include "formats/layout.h"
#include "quant/qresult.h"

/* Serialized size of the matrix a qresult packs into. QLOW_E_UNSUPPORTED if it has no format. */
QLOW_HIDDEN qlow_status qlow__qresult_packed_size(const qlow__qresult *qr, size_t *bytes);

/* Pack a qresult into caller memory (8-byte aligned, at least qlow__qresult_packed_size bytes): the
 * result is a serialized matrix that qlow_qmatrix_wrap accepts. Never allocates. */
QLOW_HIDDEN qlow_status qlow__qresult_pack_into(const qlow__qresult *qr, void *dst, size_t dst_bytes);

/* A new qmatrix owning one 64-byte aligned block with every plane (allocated through alloc, NULL =
 * libc) plus a small handle. On failure nothing is allocated and *out is untouched. */
QLOW_HIDDEN qlow_status qlow__qmatrix_from_qresult(const qlow_allocator *alloc, const qlow__qresult *qr,
                                                   qlow_qmatrix **out);

/* A qmatrix that takes ownership of a serialized image allocated through alloc (checked like
 * qlow_qmatrix_wrap's header/checksums). The image is freed on failure too. */
QLOW_HIDDEN qlow_status qlow__qmatrix_adopt(const qlow_allocator *alloc, void *blob, size_t bytes,
                                            qlow_qmatrix **out);

#endif
