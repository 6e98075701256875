/* tokenizer.h - the engine's use of libqlow's llama2.c tokenizer (qlow_tokenizer): loading with an
 * error message, and encoding into a malloc'ed array of the exact length. */
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H

#include <stddef.h>

#include "qlow.h"

typedef qlow_tokenizer llm_tokenizer;

/* Load a tokenizer .bin for a vocabulary of vocab_size tokens. NULL + message on failure. */
llm_tokenizer *llm_tokenizer_load(const char *path, int vocab_size, char *err, size_t errn);
void llm_tokenizer_free(llm_tokenizer *t);

/* Encode text[0..len) (optional BOS, one leading space, BPE merges). Returns the token count, with the
 * tokens in *out (malloc'ed, caller frees), or -1 on failure. */
long llm_tokenizer_encode(const llm_tokenizer *t, const char *text, size_t len, int bos, int **out);

/* The bytes of `token` following `prev` (no leading space after BOS; <0xNN> gives the byte). */
const char *llm_tokenizer_piece(const llm_tokenizer *t, int prev, int token, size_t *len);

#endif
