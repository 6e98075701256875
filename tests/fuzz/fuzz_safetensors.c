/* fuzz_safetensors.c - libFuzzer target: the safetensors parser (header JSON, offsets, metadata) (qlow_model_open_buffer with
 * QLOW_PARAM_IO_MODEL_FORMAT = QLOW_MODEL_SOURCE_SAFETENSORS) on arbitrary bytes; see fuzz_model.h. */
#include "fuzz_model.h"

static int fuzz_safetensors(const uint8_t *data, size_t size)
{
    fuzz_model_exercise(data, size, QLOW_MODEL_SOURCE_SAFETENSORS);
    return 0;
}

#ifndef QLOW_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_safetensors(data, size); }
#endif
