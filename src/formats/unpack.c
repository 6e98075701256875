/* unpack.c - reference dequantization of one packed row per format, and content validation of wrapped
 * data (every fp16 finite, no invalid ternary code, a mask consistent with n_salient). */
#include "formats/codes.h"
#include "formats/traits.h"
#include "quant/rtn.h"

static float h2f(uint16_t h) { return qlow_fp16_to_fp32(h); }

static int q_code(const qlow__packed *p, const uint8_t *row, int64_t i, int64_t j)
{
    switch (p->bits) {
    case 8: return row[j];
    case 4: return qlow__q4_get(row, j);
    case 3: return qlow__q2_get(row, j) | (qlow__bit_get(p->codes_hi + (size_t)i * (size_t)(p->cols_pad / 8), j) << 2);
    default: return qlow__q2_get(row, j);
    }
}

void qlow__dequant_row_q(const qlow__packed *p, int64_t row, float *out)
{
    const uint8_t *r = p->codes + (size_t)row * p->row_bytes;
    const int64_t n_gc = (p->cols_pad + p->group_cols - 1) / p->group_cols;
    const int64_t base = (row / p->group_rows) * n_gc;
    for (int64_t j = 0; j < p->cols; j++) {
        const int64_t gi = base + j / p->group_cols;
        const float s = h2f(p->scale[gi]), z = p->symmetric ? 0.0f : h2f(p->zero[gi]);
        out[j] = qlow__rtn_value(s, z, p->symmetric, p->bits, q_code(p, r, row, j));
    }
}

static float binary_value(float a, float m, int bit, const uint16_t *col_scale, int64_t j)
{
    float v = (bit ? a : -a) + m;
    return col_scale ? v * h2f(col_scale[j]) : v;
}

void qlow__dequant_row_b1(const qlow__packed *p, int64_t row, float *out)
{
    const uint8_t *r = p->codes + (size_t)row * p->row_bytes;
    const float a = h2f(p->alpha[row]), m = h2f(p->mu[row]);
    for (int64_t j = 0; j < p->cols; j++) out[j] = binary_value(a, m, qlow__bit_get(r, j), p->col_scale, j);
}

void qlow__dequant_row_b2(const qlow__packed *p, int64_t row, float *out)
{
    const uint8_t *r1 = p->codes + (size_t)row * p->row_bytes, *r2 = p->codes2 + (size_t)row * p->row_bytes;
    const float a = h2f(p->alpha[row]), a2 = h2f(p->alpha2[row]), m = h2f(p->mu[row]);
    for (int64_t j = 0; j < p->cols; j++)
        out[j] = ((qlow__bit_get(r1, j) ? a : -a) + (qlow__bit_get(r2, j) ? a2 : -a2)) + m;
}

void qlow__dequant_row_t2(const qlow__packed *p, int64_t row, float *out)
{
    const uint8_t *r = p->codes + (size_t)row * p->row_bytes;
    const float a = h2f(p->alpha[row]);
    for (int64_t j = 0; j < p->cols; j++) out[j] = a * (float)(qlow__q2_get(r, j) - 1);
}

void qlow__dequant_row_t158(const qlow__packed *p, int64_t row, float *out)
{
    const uint8_t *r = p->codes + (size_t)row * p->row_bytes;
    const float a = h2f(p->alpha[row]);
    for (int64_t j = 0; j < p->cols; j++) out[j] = a * (float)(qlow__t158_get(r, j) - 1);
}

void qlow__dequant_row_m161(const qlow__packed *p, int64_t row, float *out)
{
    const uint8_t *sal = p->sal_codes ? p->sal_codes + (size_t)row * p->sal_row_bytes : NULL;
    const uint8_t *r = p->codes ? p->codes + (size_t)row * p->row_bytes : NULL;
    const float ss = h2f(p->sal_scale[row]), sz = h2f(p->sal_zero[row]);
    const float a = h2f(p->alpha[row]), m = h2f(p->mu[row]);
    int64_t is = 0, iu = 0;
    for (int64_t j = 0; j < p->cols; j++) {
        if (qlow__bit_get(p->col_mask, j)) {
            out[j] = qlow__rtn_value(ss, sz, 0, 4, qlow__q4_get(sal, is++));
        } else {
            out[j] = binary_value(a, m, qlow__bit_get(r, iu), p->col_scale, iu);
            iu++;
        }
    }
}

/* ---- validation -------------------------------------------------------------------------------- */

static qlow_status finite16(const uint16_t *v, int64_t n)
{
    if (!v) return QLOW_OK;
    for (int64_t k = 0; k < n; k++)
        if ((v[k] & 0x7c00u) == 0x7c00u) return QLOW_E_FORMAT;
    return QLOW_OK;
}

qlow_status qlow__validate_q(const qlow__packed *p)
{
    const int64_t n_gr = (p->rows + p->group_rows - 1) / p->group_rows;
    const int64_t n = n_gr * ((p->cols_pad + p->group_cols - 1) / p->group_cols);
    QLOW_TRY(finite16(p->scale, n));
    return finite16(p->zero, n);
}

qlow_status qlow__validate_b(const qlow__packed *p)
{
    QLOW_TRY(finite16(p->alpha, p->rows));
    QLOW_TRY(finite16(p->alpha2, p->rows));
    QLOW_TRY(finite16(p->mu, p->rows));
    return finite16(p->col_scale, p->cols);
}

qlow_status qlow__validate_t2(const qlow__packed *p)
{
    const size_t n = (size_t)p->rows * p->row_bytes;
    for (size_t k = 0; k < n; k++) {
        const unsigned b = p->codes[k];
        /* A 2-bit field equal to 3 has both of its bits set. */
        if ((b & (b >> 1) & 0x55u) != 0) return QLOW_E_FORMAT;
    }
    return finite16(p->alpha, p->rows);
}

qlow_status qlow__validate_t158(const qlow__packed *p)
{
    const size_t n = (size_t)p->rows * p->row_bytes;
    for (size_t k = 0; k < n; k++)
        if (p->codes[k] >= 243) return QLOW_E_FORMAT;
    return finite16(p->alpha, p->rows);
}

qlow_status qlow__validate_m161(const qlow__packed *p)
{
    int64_t n = 0;
    for (int64_t j = 0; j < p->cols; j++) n += qlow__bit_get(p->col_mask, j);
    for (int64_t j = p->cols; j < (p->cols + 7) / 8 * 8; j++)
        if (qlow__bit_get(p->col_mask, j)) return QLOW_E_FORMAT;
    if (n != p->n_salient) return QLOW_E_FORMAT;
    QLOW_TRY(finite16(p->sal_scale, p->rows));
    QLOW_TRY(finite16(p->sal_zero, p->rows));
    QLOW_TRY(finite16(p->alpha, p->rows));
    QLOW_TRY(finite16(p->mu, p->rows));
    return finite16(p->col_scale, p->cols - p->n_salient);
}
