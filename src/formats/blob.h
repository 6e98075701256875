/* blob.h - the serialized image of a packed matrix: a 128-byte little-endian header (docs/formats.md)
 * followed by the planes of its plan. Parsing never reads outside the given bytes. */
#ifndef QLOW_FORMATS_BLOB_H
#define QLOW_FORMATS_BLOB_H

#include "formats/traits.h"

#define QLOW__QM_VERSION 1u

/* 64-bit checksum of n bytes (word-wise multiply-xor; not cryptographic). */
QLOW_HIDDEN uint64_t qlow__checksum64(const uint8_t *p, size_t n);

/* Write the header of an image whose planes are already in place (computes both checksums). */
QLOW_HIDDEN void qlow__blob_write_header(uint8_t *blob, const qlow__geom *g, const qlow__plan *pl);

/* Parse and check header, geometry, plan, sizes and checksums of buf[bytes].
 * @return QLOW_E_TRUNCATED, QLOW_E_FORMAT, QLOW_E_VERSION_MISMATCH, QLOW_E_CHECKSUM, QLOW_E_OVERFLOW. */
QLOW_HIDDEN qlow_status qlow__blob_parse(const uint8_t *buf, size_t bytes, qlow__geom *g, qlow__plan *pl);

/* 1 on little-endian hosts (the only ones whose in-memory planes match the serialized bytes). */
QLOW_HIDDEN int qlow__host_little_endian(void);

#endif
