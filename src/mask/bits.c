/* bits.c - PTQ1.61 bit accounting: the paper's Eq. 8, and the exact size of the stored M161 layout as
 * counted by the format traits (the one place where stored bits are counted). */
#include "core/internal.h"

qlow_status qlow_ptq161_bits(int64_t rows, int64_t cols, int64_t n_salient, double *out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    if (rows < 1 || cols < 1 || n_salient < 0 || n_salient > cols) return QLOW_E_SHAPE;
    double stored = 0.0;
    QLOW_TRY(qlow_format_bits_per_weight(QLOW_FORMAT_M161, rows, cols, 0, 0, QLOW_FORMAT_FLAG_COL_SCALE, n_salient,
                                         &stored));
    const double n = (double)rows, m = (double)cols, s = (double)n_salient, u = m - s;
    /* The paper divides mask and scale bits by the total weight bits, not by the weight count (§3). */
    const double weight_bits = n * (u * 1.0 + s * 4.0);
    out[QLOW_BITS_PAPER_WEIGHT] = (u + 4.0 * s) / m;
    out[QLOW_BITS_PAPER_MASK] = m / weight_bits;
    out[QLOW_BITS_PAPER_SCALES] = ((2.0 * n + m) * 16.0 + (s / m) * n * 16.0) / weight_bits;
    out[QLOW_BITS_PAPER_TOTAL] =
        out[QLOW_BITS_PAPER_WEIGHT] + out[QLOW_BITS_PAPER_MASK] + out[QLOW_BITS_PAPER_SCALES];
    out[QLOW_BITS_STORED_TOTAL] = stored;
    out[QLOW_BITS_STORED_BYTES] = stored * n * m / 8.0;
    return QLOW_OK;
}
