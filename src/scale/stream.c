/* stream.c - calibration tokens read in place from the caller's view (strided rows, f32/f16/bf16), so
 * the scale optimizer can use every token with O(batch x cols) memory. */
#include "scale/scale.h"

void qlow__stream_read(const qlow__stream *s, int64_t cols, const int64_t *idx, int64_t n, float *row, float *Xb,
                       float *XbT)
{
    for (int64_t k = 0; k < n; k++) {
        qlow__view_read_row_f32(s->X, idx[k], row);
        float *xb = Xb + k * cols;
        if (s->fold) {
            for (int64_t j = 0; j < cols; j++) xb[j] = row[s->perm[j]] / s->fold[s->perm[j]];
        } else {
            for (int64_t j = 0; j < cols; j++) xb[j] = row[s->perm[j]];
        }
        for (int64_t j = 0; j < cols; j++) XbT[j * n + k] = xb[j];
    }
}
