/* qresult.c - geometry, single-block allocation and dequantization of unpacked quantizer results. */
#include "quant/qresult.h"
#include "quant/rtn.h"

static int64_t round_up32(int64_t n) { return (n + 31) / 32 * 32; }

static void clear(qlow__qresult *qr)
{
    memset(qr, 0, sizeof(*qr));
}

/* Shapes are bounded so that every derived byte count fits comfortably in size_t and int64_t. */
static qlow_status check_shape(int64_t rows, int64_t cols)
{
    if (rows <= 0 || cols <= 0) return QLOW_E_SHAPE;
    if (rows > ((int64_t)1 << 40) || cols > ((int64_t)1 << 40)) return QLOW_E_OVERFLOW;
    size_t n;
    return qlow__matrix_count(rows, round_up32(cols), &n);
}

qlow_status qlow__qresult_init_rtn(qlow__qresult *qr, int64_t rows, int64_t cols, int32_t bits, int32_t symmetric,
                                   int64_t group_cols, int64_t group_rows)
{
    QLOW_TRY(check_shape(rows, cols));
    if (bits < 2 || bits > 8 || (symmetric != 0 && symmetric != 1)) return QLOW_E_PARAM;
    if (group_cols < 0 || group_cols % 32 != 0 || group_rows < 1) return QLOW_E_PARAM;
    clear(qr);
    qr->kind = QLOW__QK_RTN;
    qr->bits = bits;
    qr->symmetric = symmetric;
    qr->rows = rows;
    qr->cols = cols;
    qr->code_cols = cols;
    int64_t cols_pad = round_up32(cols);
    qr->group_cols = (group_cols == 0 || group_cols >= cols_pad) ? cols_pad : group_cols;
    qr->group_rows = group_rows > rows ? rows : group_rows;
    qr->n_row_groups = (rows + qr->group_rows - 1) / qr->group_rows;
    qr->n_col_groups = (cols_pad + qr->group_cols - 1) / qr->group_cols;
    return QLOW_OK;
}

qlow_status qlow__qresult_init_rows(qlow__qresult *qr, int32_t kind, int64_t rows, int64_t cols)
{
    QLOW_TRY(check_shape(rows, cols));
    if (kind != QLOW__QK_BINARY && kind != QLOW__QK_BINARY2 && kind != QLOW__QK_TERNARY) return QLOW_E_PARAM;
    clear(qr);
    qr->kind = kind;
    qr->bits = kind == QLOW__QK_BINARY2 ? 2 : 1;
    qr->rows = rows;
    qr->cols = cols;
    qr->code_cols = cols;
    qr->group_rows = 1;
    qr->ternary_format = QLOW_FORMAT_T158;
    return QLOW_OK;
}

qlow_status qlow__qresult_init_m161(qlow__qresult *qr, int64_t rows, int64_t cols, const uint8_t *col_mask,
                                    int32_t has_col_scale)
{
    if (!col_mask) return QLOW_E_NULL_POINTER;
    QLOW_TRY(check_shape(rows, cols));
    if (has_col_scale != 0 && has_col_scale != 1) return QLOW_E_PARAM;
    int64_t n = 0;
    for (int64_t j = 0; j < cols; j++) {
        if (col_mask[j] > 1) return QLOW_E_INVALID_ARG;
        n += col_mask[j];
    }
    clear(qr);
    qr->kind = QLOW__QK_M161;
    qr->bits = 4;
    qr->rows = rows;
    qr->cols = cols;
    qr->group_rows = 1;
    qr->n_salient = n;
    qr->code_cols = cols - n;
    qr->has_col_scale = has_col_scale;
    return QLOW_OK;
}

/* Takes n elements of `size` bytes, n*size overflow-checked (rows*cols is already known to fit). */
static void *take(qlow__wksp *w, int64_t n, size_t size)
{
    size_t bytes;
    if (qlow__mul_size((size_t)n, size, &bytes) != QLOW_OK) {
        w->overflow = 1;
        return NULL;
    }
    return qlow__wksp_take(w, bytes);
}

void qlow__qresult_carve(qlow__qresult *qr, qlow__wksp *w, const uint8_t *col_mask)
{
    const int64_t rows = qr->rows;
    qr->codes = (uint8_t *)take(w, rows * qr->code_cols, 1);
    qr->scale = qr->zero = qr->alpha = qr->alpha2 = qr->mu = qr->col_scale = NULL;
    qr->col_mask = qr->sal_codes = NULL;
    qr->sal_scale = qr->sal_zero = NULL;
    switch (qr->kind) {
    case QLOW__QK_RTN:
        qr->scale = (uint16_t *)take(w, qr->n_row_groups * qr->n_col_groups, 2);
        if (!qr->symmetric) qr->zero = (uint16_t *)take(w, qr->n_row_groups * qr->n_col_groups, 2);
        break;
    case QLOW__QK_BINARY2:
        qr->alpha2 = (uint16_t *)take(w, rows, 2);
        /* fall through */
    case QLOW__QK_BINARY:
        qr->alpha = (uint16_t *)take(w, rows, 2);
        qr->mu = (uint16_t *)take(w, rows, 2);
        if (qr->has_col_scale) qr->col_scale = (uint16_t *)take(w, qr->code_cols, 2);
        break;
    case QLOW__QK_TERNARY:
        qr->alpha = (uint16_t *)take(w, rows, 2);
        break;
    case QLOW__QK_M161:
        qr->alpha = (uint16_t *)take(w, rows, 2);
        qr->mu = (uint16_t *)take(w, rows, 2);
        if (qr->has_col_scale) qr->col_scale = (uint16_t *)take(w, qr->code_cols, 2);
        qr->col_mask = (uint8_t *)take(w, qr->cols, 1);
        qr->sal_codes = (uint8_t *)take(w, rows * qr->n_salient, 1);
        qr->sal_scale = (uint16_t *)take(w, rows, 2);
        qr->sal_zero = (uint16_t *)take(w, rows, 2);
        if (qr->col_mask && col_mask) memcpy(qr->col_mask, col_mask, (size_t)qr->cols);
        break;
    default:
        w->overflow = 1;
        break;
    }
}

qlow_status qlow__qresult_bytes(const qlow__qresult *qr, size_t *bytes)
{
    qlow__qresult tmp = *qr;
    qlow__wksp w;
    qlow__wksp_init(&w, NULL, 0);
    qlow__qresult_carve(&tmp, &w, NULL);
    if (w.overflow) return QLOW_E_OVERFLOW;
    *bytes = w.used;
    return QLOW_OK;
}

qlow_status qlow__qresult_create(const qlow_allocator *alloc, const qlow__qresult *geometry, qlow__qresult **out)
{
    size_t planes, total;
    QLOW_TRY(qlow__qresult_bytes(geometry, &planes));
    const size_t head = qlow__align_up(sizeof(qlow__qresult), 64);
    QLOW_TRY(qlow__add_size(head, planes, &total));
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    unsigned char *block = (unsigned char *)qlow__calloc(&a, total, 64);
    if (!block) return QLOW_E_NO_MEMORY;
    qlow__qresult *qr = (qlow__qresult *)block;
    *qr = *geometry;
    qlow__wksp w;
    qlow__wksp_init(&w, block + head, planes);
    qlow__qresult_carve(qr, &w, NULL);
    qr->alloc = a;
    qr->owned = 1;
    *out = qr;
    return QLOW_OK;
}

qlow_status qlow__qresult_create_m161(const qlow_allocator *alloc, int64_t rows, int64_t cols,
                                      const uint8_t *col_mask, int32_t has_col_scale, qlow__qresult **out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    qlow__qresult g;
    QLOW_TRY(qlow__qresult_init_m161(&g, rows, cols, col_mask, has_col_scale));
    qlow__qresult *qr;
    QLOW_TRY(qlow__qresult_create(alloc, &g, &qr));
    memcpy(qr->col_mask, col_mask, (size_t)cols);
    *out = qr;
    return QLOW_OK;
}

void qlow__qresult_destroy(qlow__qresult *qr)
{
    if (!qr || !qr->owned) return;
    qlow_allocator a = qr->alloc;
    qlow__free(&a, qr);
}

static float h2f(uint16_t h) { return qlow_fp16_to_fp32(h); }

static void dequant_rtn(const qlow__qresult *qr, int64_t row, float *out)
{
    const uint8_t *c = qr->codes + row * qr->code_cols;
    const int64_t rg = row / qr->group_rows;
    for (int64_t j = 0; j < qr->cols; j++) {
        int64_t gi = rg * qr->n_col_groups + j / qr->group_cols;
        float s = h2f(qr->scale[gi]);
        float z = qr->symmetric ? 0.0f : h2f(qr->zero[gi]);
        out[j] = qlow__rtn_value(s, z, qr->symmetric, qr->bits, c[j]);
    }
}

/* The binary part: w = (alpha*s + mu) * r2, with s from bit 0 of each code. */
static float binary_value(float a, float m, int bit, const uint16_t *col_scale, int64_t j)
{
    float v = (bit ? a : -a) + m;
    return col_scale ? v * h2f(col_scale[j]) : v;
}

void qlow__qresult_dequantize_row(const qlow__qresult *qr, int64_t row, float *out)
{
    const uint8_t *c = qr->codes + row * qr->code_cols;
    switch (qr->kind) {
    case QLOW__QK_RTN:
        dequant_rtn(qr, row, out);
        break;
    case QLOW__QK_BINARY: {
        float a = h2f(qr->alpha[row]), m = h2f(qr->mu[row]);
        for (int64_t j = 0; j < qr->cols; j++) out[j] = binary_value(a, m, c[j] & 1, qr->col_scale, j);
        break;
    }
    case QLOW__QK_BINARY2: {
        float a = h2f(qr->alpha[row]), a2 = h2f(qr->alpha2[row]), m = h2f(qr->mu[row]);
        for (int64_t j = 0; j < qr->cols; j++)
            out[j] = ((c[j] & 1 ? a : -a) + (c[j] & 2 ? a2 : -a2)) + m;
        break;
    }
    case QLOW__QK_TERNARY: {
        float a = h2f(qr->alpha[row]);
        for (int64_t j = 0; j < qr->cols; j++) out[j] = a * (float)((int)c[j] - 1);
        break;
    }
    case QLOW__QK_M161: {
        const uint8_t *sc = qr->sal_codes + row * qr->n_salient;
        float a = h2f(qr->alpha[row]), m = h2f(qr->mu[row]);
        float ss = h2f(qr->sal_scale[row]), sz = h2f(qr->sal_zero[row]);
        int64_t is = 0, iu = 0;
        for (int64_t j = 0; j < qr->cols; j++) {
            if (qr->col_mask[j]) {
                out[j] = qlow__rtn_value(ss, sz, 0, 4, sc[is++]);
            } else {
                out[j] = binary_value(a, m, c[iu] & 1, qr->col_scale, iu);
                iu++;
            }
        }
        break;
    }
    default:
        for (int64_t j = 0; j < qr->cols; j++) out[j] = 0.0f;
        break;
    }
}

int32_t qlow__qresult_format(const qlow__qresult *qr)
{
    switch (qr->kind) {
    case QLOW__QK_RTN:
        return qr->bits == 8 ? QLOW_FORMAT_Q8
               : qr->bits == 4 ? QLOW_FORMAT_Q4
               : qr->bits == 3 ? QLOW_FORMAT_Q3
               : qr->bits == 2 ? QLOW_FORMAT_Q2
                               : 0;
    case QLOW__QK_BINARY: return QLOW_FORMAT_B1;
    case QLOW__QK_BINARY2: return QLOW_FORMAT_B2;
    case QLOW__QK_TERNARY: return qr->ternary_format;
    case QLOW__QK_M161: return QLOW_FORMAT_M161;
    default: return 0;
    }
}
