/* json.h - a small, strict, bounds-checked JSON reader over a byte range (RFC 8259), enough for the
 * safetensors header: strings with every escape, unsigned integers, and skipping any value with a
 * nesting limit. After a failure the cursor position is unspecified: callers stop parsing. */
#ifndef QLOW_IO_JSON_H
#define QLOW_IO_JSON_H

#include "io/io_internal.h"

#define QLOW__JSON_MAX_DEPTH 64

typedef struct qlow__json {
    const unsigned char *p, *end;
} qlow__json;

/* Skip whitespace; returns the next byte or -1 at the end. */
QLOW_HIDDEN int qlow__json_peek(qlow__json *j);
/* Consume the byte c (after whitespace); QLOW_E_FORMAT / QLOW_E_TRUNCATED otherwise. */
QLOW_HIDDEN qlow_status qlow__json_expect(qlow__json *j, int c);
/* Parse a string. When dst is not NULL the unescaped UTF-8 goes to dst[cap] (cap >= the raw length is
 * always enough); *len gets the unescaped length either way. */
QLOW_HIDDEN qlow_status qlow__json_string(qlow__json *j, char *dst, size_t cap, size_t *len);
/* Parse a non-negative integer without sign, fraction or exponent (QLOW_E_OVERFLOW above UINT64_MAX). */
QLOW_HIDDEN qlow_status qlow__json_u64(qlow__json *j, uint64_t *v);
/* Parse a number and return its raw text span. */
QLOW_HIDDEN qlow_status qlow__json_number(qlow__json *j, const char **text, size_t *len);
/* Skip one value of any type; `depth` is the current nesting. */
QLOW_HIDDEN qlow_status qlow__json_skip(qlow__json *j, int depth);

#endif
