/* bits.c - PTQ1.61 bit accounting: the paper's Eq. 8 and the exact size of our stored M161 layout
 * (src/formats/layout.h: each code plane padded to 32-column blocks, fp16 per-row and per-column scales). */
#include "formats/layout.h"

static size_t pad32(int64_t n) { return (size_t)((n + QLOW__BLOCK - 1) / QLOW__BLOCK) * QLOW__BLOCK; }

qlow_status qlow_ptq161_bits(int64_t rows, int64_t cols, int64_t n_salient, double *out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    if (rows < 1 || cols < 1 || n_salient < 0 || n_salient > cols) return QLOW_E_SHAPE;
    const double n = (double)rows, m = (double)cols, s = (double)n_salient, u = m - s;
    /* The paper divides mask and scale bits by the total weight bits, not by the weight count (§3). */
    double weight_bits = n * (u * 1.0 + s * 4.0);
    out[QLOW_BITS_PAPER_WEIGHT] = (u + 4.0 * s) / m;
    out[QLOW_BITS_PAPER_MASK] = m / weight_bits;
    out[QLOW_BITS_PAPER_SCALES] = ((2.0 * n + m) * 16.0 + (s / m) * n * 16.0) / weight_bits;
    out[QLOW_BITS_PAPER_TOTAL] =
        out[QLOW_BITS_PAPER_WEIGHT] + out[QLOW_BITS_PAPER_MASK] + out[QLOW_BITS_PAPER_SCALES];
    double bytes = (double)QLOW_MASK_BYTES(cols);
    bytes += n * (double)(pad32(n_salient) / 2); /* 4-bit salient codes */
    if (n_salient > 0) bytes += n * 4.0;          /* fp16 scale + fp16 min per row */
    bytes += n * (double)(pad32(cols - n_salient) / 8); /* sign plane */
    if (n_salient < cols) bytes += n * 4.0 + u * 2.0;   /* fp16 alpha', mu' per row, r2 per column */
    out[QLOW_BITS_STORED_TOTAL] = 8.0 * bytes / (n * m);
    out[QLOW_BITS_STORED_BYTES] = bytes;
    return QLOW_OK;
}
