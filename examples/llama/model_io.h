/* model_io.h - loading engine models through libqlow's readers and saving quantized ones as .qlow. */
#ifndef LLM_MODEL_IO_H
#define LLM_MODEL_IO_H

#include "llama.h"

/* A llama2.c checkpoint or safetensors file, read through qlow_model into owned fp32 storage. */
int llm_model_load_checkpoint(const char *path, llm_model *out, char *err, size_t errn);

/* A .qlow container: dense tensors are used in place from the mapping and packed matrices are wrapped
 * zero-copy; the file stays open until llm_model_free(). */
int llm_model_load_qlow(const char *path, llm_model *out, char *err, size_t errn);

/* Either of the two, by content: .qlow containers are recognized by their magic. */
int llm_model_load(const char *path, llm_model *out, char *err, size_t errn);

typedef struct llm_save_meta {
    const char *method;
    double target_bits;
    int act_bits, embed_bits, group;
} llm_save_meta;

/* Writes `m` as a .qlow container (source_path, when given, supplies the configuration and SHA-256). */
int llm_model_save_qlow(const llm_model *m, const char *source_path, const llm_save_meta *meta, const char *path,
                        char *err, size_t errn);

#endif
