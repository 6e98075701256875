/* io_fuzz.h - fuzz entry points for every loader in src/io. Each takes untrusted bytes, drives the
 * public API over them as far as they allow (open, every query, every tensor read, checksums,
 * encode/decode) and cleans up. They return 0 when the input was handled correctly (accepted or
 * rejected with a status) and 1 when a library invariant was broken (an unexpected status, an out-pointer
 * set on failure, a round trip that does not reproduce its input), so a harness can abort on 1. They
 * allocate through the default allocator. */
#ifndef QLOW_IO_FUZZ_H
#define QLOW_IO_FUZZ_H

#include "io/io_internal.h"

QLOW_HIDDEN int qlow__fuzz_model(const uint8_t *data, size_t size);       /* format detected */
QLOW_HIDDEN int qlow__fuzz_llama2c(const uint8_t *data, size_t size);     /* llama2.c forced */
QLOW_HIDDEN int qlow__fuzz_safetensors(const uint8_t *data, size_t size); /* safetensors forced */
QLOW_HIDDEN int qlow__fuzz_tokenizer(const uint8_t *data, size_t size);
QLOW_HIDDEN int qlow__fuzz_qfile(const uint8_t *data, size_t size);
/* The same after recomputing the preamble, directory and footer checksums of a copy. */
QLOW_HIDDEN int qlow__fuzz_qfile_resealed(const uint8_t *data, size_t size);

#endif
