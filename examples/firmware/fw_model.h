/* fw_model.h - what the generator (fw_gen.c) writes into fw_model.c: packed matrices as serialized
 * qlow_qmatrix images in const arrays (flash), the inputs, and the hosted library's results for them. */
#ifndef QLOW_FW_MODEL_H
#define QLOW_FW_MODEL_H

#include <stdint.h>

typedef struct fw_matrix {
    const char *name;               /* e.g. "layer0.wq Q4" */
    int32_t format;                 /* qlow_format */
    int32_t rows, cols;
    const uint8_t *image;           /* serialized qlow_qmatrix, 64-byte aligned, in flash */
    uint32_t image_bytes;
    const float *x;                 /* input, cols values */
    const uint32_t *expected_y;     /* fp32 bits of the hosted library's GEMV, rows values */
    const uint32_t *expected_row0;  /* fp32 bits of the hosted library's dequantized row 0, cols values */
} fw_matrix;

extern const fw_matrix fw_matrices[];
extern const uint32_t fw_matrix_count;

#endif
