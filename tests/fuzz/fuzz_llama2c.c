/* fuzz_llama2c.c - libFuzzer target: the llama2.c checkpoint loader (qlow_model_open_buffer with
 * QLOW_PARAM_IO_MODEL_FORMAT = QLOW_MODEL_SOURCE_LLAMA2C) on arbitrary bytes; see fuzz_model.h. */
#include "fuzz_model.h"

static int fuzz_llama2c(const uint8_t *data, size_t size)
{
    fuzz_model_exercise(data, size, QLOW_MODEL_SOURCE_LLAMA2C);
    return 0;
}

#ifndef QLOW_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_llama2c(data, size); }
#endif
