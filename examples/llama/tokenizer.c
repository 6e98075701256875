/* tokenizer.c - thin engine-side helpers over qlow_tokenizer. */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>

llm_tokenizer *llm_tokenizer_load(const char *path, int vocab_size, char *err, size_t errn)
{
    qlow_tokenizer *t = NULL;
    qlow_status s = qlow_tokenizer_open(path, vocab_size, NULL, &t);
    if (s) {
        snprintf(err, errn, "cannot load tokenizer '%s': %s", path, qlow_status_string(s));
        return NULL;
    }
    return t;
}

void llm_tokenizer_free(llm_tokenizer *t) { qlow_tokenizer_close(t); }

long llm_tokenizer_encode(const llm_tokenizer *t, const char *text, size_t len, int bos, int **out)
{
    size_t cap = len + 3, n = 0;
    int32_t *tok = malloc(cap * sizeof *tok);
    if (!tok) return -1;
    if (qlow_tokenizer_encode(t, text, len, bos, 0, tok, cap, &n)) {
        free(tok);
        return -1;
    }
    int32_t *shrunk = realloc(tok, (n ? n : 1) * sizeof *tok);
    *out = (int *)(shrunk ? shrunk : tok);
    return (long)n;
}

const char *llm_tokenizer_piece(const llm_tokenizer *t, int prev, int token, size_t *len)
{
    const char *p = "";
    *len = 0;
    if (qlow_tokenizer_decode_piece(t, prev, token, &p, len)) *len = 0;
    return p;
}
