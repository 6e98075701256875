/* tokenizer.h - llama2.c BPE tokenizer for the reference engine (encode with a heap, decode). */
#ifndef LLM_TOKENIZER_H
#define LLM_TOKENIZER_H

#include <stddef.h>

typedef struct llm_tokenizer llm_tokenizer;

/* Load a llama2.c tokenizer .bin for a vocabulary of vocab_size tokens. NULL + message on failure. */
llm_tokenizer *llm_tokenizer_load(const char *path, int vocab_size, char *err, size_t errn);
void llm_tokenizer_free(llm_tokenizer *t);

/* Encode text[0..len): an optional BOS (id 1), a dummy leading space, UTF-8 characters or byte
 * fallback tokens, then merges (highest score first, leftmost on ties). Returns the number of tokens
 * written to *out (malloc'ed, caller frees) or -1 on allocation failure. */
long llm_tokenizer_encode(const llm_tokenizer *t, const char *text, size_t len, int bos, int **out);

/* The text of `token` following `prev` (drops the leading space after BOS, turns <0xNN> into a byte).
 * Returns a pointer valid while t lives (or into *byte_buf for byte tokens) and its length in *len. */
const char *llm_tokenizer_piece(const llm_tokenizer *t, int prev, int token, char byte_buf[2], size_t *len);

int llm_tokenizer_vocab_size(const llm_tokenizer *t);

#endif
