/* model_internal.h - the qlow_model object shared by the llama2.c and safetensors readers. */
#ifndef QLOW_IO_MODEL_INTERNAL_H
#define QLOW_IO_MODEL_INTERNAL_H

#include "io/io_internal.h"

typedef struct qlow__mtensor {
    const char *name; /* canonical, NUL-terminated, in the arena */
    size_t name_len;
    int32_t dtype;
    int32_t ndim;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    size_t offset; /* from the start of the mapped bytes */
    size_t bytes;
} qlow__mtensor;

typedef struct qlow__mmeta {
    const char *key;
    const char *value;
} qlow__mmeta;

#define QLOW__MODEL_NKEYS 14

struct qlow_model {
    uint32_t magic;
    qlow_allocator alloc;
    qlow__file_map map;
    int64_t ival[QLOW__MODEL_NKEYS];
    double fval[QLOW__MODEL_NKEYS];
    uint32_t known; /* bit k set = key k has a value */
    size_t n_tensors, cap_tensors;
    size_t n_meta, cap_meta;
    qlow__mtensor *tensors;
    uint32_t *by_name; /* tensor indices sorted by name */
    qlow__mmeta *meta;
    char *arena;
    size_t arena_cap, arena_used;
    void *block; /* one allocation holding tensors, by_name, meta and arena */
};
#define QLOW__MODEL_MAGIC 0x6d6f646cu /* "modl" */

/* Allocate room for the tables (called once by a parser after it has counted). */
QLOW_HIDDEN qlow_status qlow__model_reserve(qlow_model *m, size_t n_tensors, size_t n_meta, size_t arena_bytes);
/* Copy n bytes into the arena, NUL-terminated; NULL when it does not fit (a parser sizing bug). */
QLOW_HIDDEN char *qlow__model_str(qlow_model *m, const char *s, size_t n);
/* Append a tensor; checks that [offset, offset + bytes) lies inside the mapped data and that bytes
 * matches the shape and dtype. */
QLOW_HIDDEN qlow_status qlow__model_add_tensor(qlow_model *m, const char *name, size_t name_len, int32_t dtype,
                                               int32_t ndim, const int64_t *shape, size_t offset, size_t bytes);
/* Sort the name index and reject duplicate canonical names (QLOW_E_FORMAT). */
QLOW_HIDDEN qlow_status qlow__model_index_names(qlow_model *m);
QLOW_HIDDEN void qlow__model_set(qlow_model *m, int32_t key, int64_t iv, double fv);

QLOW_HIDDEN qlow_status qlow__model_parse_llama2c(qlow_model *m);
QLOW_HIDDEN qlow_status qlow__model_parse_safetensors(qlow_model *m);
/* 1 if the bytes look like a safetensors file (header length plausible and '{' after it). */
QLOW_HIDDEN int qlow__model_is_safetensors(const unsigned char *data, size_t size);

/* Map a Hugging Face or Meta tensor name to the canonical one into dst[cap]; returns its length, or
 * the source name copied unchanged when it matches no rule. 0 if it does not fit. */
QLOW_HIDDEN size_t qlow__model_canonical_name(const char *src, size_t len, char *dst, size_t cap);

/* "layers.{layer}.{suffix}" (or just suffix when layer < 0) into dst[cap], NUL-terminated; returns the
 * length, 0 if it does not fit. */
QLOW_HIDDEN size_t qlow__layer_name(char *dst, size_t cap, int64_t layer, const char *suffix);

#endif
