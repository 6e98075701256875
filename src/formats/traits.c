/* traits.c - the static format table, geometry rules and the plane plan (all bit accounting). */
#include "formats/traits.h"

static const qlow__format_traits traits_table[] = {
    [QLOW_FORMAT_Q8] = {"Q8", 8, QLOW__BLOCK, 32, 1, qlow__pack_q, qlow__dequant_row_q, qlow__validate_q},
    [QLOW_FORMAT_Q4] = {"Q4", 4, QLOW__BLOCK, 16, 1, qlow__pack_q, qlow__dequant_row_q, qlow__validate_q},
    [QLOW_FORMAT_Q3] = {"Q3", 3, QLOW__BLOCK, 12, 1, qlow__pack_q, qlow__dequant_row_q, qlow__validate_q},
    [QLOW_FORMAT_Q2] = {"Q2", 2, QLOW__BLOCK, 8, 1, qlow__pack_q, qlow__dequant_row_q, qlow__validate_q},
    [QLOW_FORMAT_B1] = {"B1", 1, QLOW__BLOCK, 4, 0, qlow__pack_b1, qlow__dequant_row_b1, qlow__validate_b},
    [QLOW_FORMAT_M161] = {"M161", 0, QLOW__BLOCK, 0, 0, qlow__pack_m161, qlow__dequant_row_m161,
                          qlow__validate_m161},
    [QLOW_FORMAT_T158] = {"T158", 0, QLOW__BLOCK, 0, 0, qlow__pack_t158, qlow__dequant_row_t158,
                          qlow__validate_t158},
    [QLOW_FORMAT_T2] = {"T2", 2, QLOW__BLOCK, 8, 0, qlow__pack_t2, qlow__dequant_row_t2, qlow__validate_t2},
    [QLOW_FORMAT_B2] = {"B2", 1, QLOW__BLOCK, 8, 0, qlow__pack_b2, qlow__dequant_row_b2, qlow__validate_b},
};

const qlow__format_traits *qlow__format_traits_get(int32_t format)
{
    if (format <= 0 || format >= (int32_t)(sizeof(traits_table) / sizeof(traits_table[0]))) return NULL;
    return traits_table[format].name ? &traits_table[format] : NULL;
}

static int is_q(int32_t f)
{
    return f == QLOW_FORMAT_Q8 || f == QLOW_FORMAT_Q4 || f == QLOW_FORMAT_Q3 || f == QLOW_FORMAT_Q2;
}

static int64_t round_up32(int64_t n) { return (n + 31) / 32 * 32; }

qlow_status qlow__geom_canonical(qlow__geom *g)
{
    const qlow__format_traits *t = qlow__format_traits_get(g->format);
    if (!t) return QLOW_E_UNSUPPORTED;
    if (g->rows <= 0 || g->cols <= 0) return QLOW_E_SHAPE;
    /* Bounding each extent keeps every derived count far from int64/size_t overflow before the
     * checked products of the plan. */
    if (g->rows > ((int64_t)1 << 40) || g->cols > ((int64_t)1 << 40)) return QLOW_E_OVERFLOW;
    if (g->symmetric != 0 && g->symmetric != 1) return QLOW_E_INVALID_ARG;
    if (g->has_col_scale != 0 && g->has_col_scale != 1) return QLOW_E_INVALID_ARG;
    if (is_q(g->format)) {
        const int64_t cols_pad = round_up32(g->cols);
        if (g->group_cols < 0 || g->group_cols % 32 != 0 || g->group_rows < 0) return QLOW_E_INVALID_ARG;
        if (g->group_cols == 0 || g->group_cols > cols_pad) g->group_cols = cols_pad;
        if (g->group_rows == 0) g->group_rows = 1;
        if (g->group_rows > g->rows) g->group_rows = g->rows;
        if (g->has_col_scale || g->n_salient) return QLOW_E_INVALID_ARG;
        g->bits = t->code_bits;
        return QLOW_OK;
    }
    if (g->symmetric) return QLOW_E_INVALID_ARG;
    g->group_cols = g->group_rows = 0;
    g->bits = g->format == QLOW_FORMAT_B1 || g->format == QLOW_FORMAT_B2 ? 1 : g->format == QLOW_FORMAT_T2 ? 2 : 0;
    if (g->format == QLOW_FORMAT_M161) {
        if (g->n_salient < 0 || g->n_salient > g->cols) return QLOW_E_INVALID_ARG;
    } else if (g->n_salient) {
        return QLOW_E_INVALID_ARG;
    }
    if (g->has_col_scale && g->format != QLOW_FORMAT_B1 && g->format != QLOW_FORMAT_M161) return QLOW_E_INVALID_ARG;
    return QLOW_OK;
}

/* size = a * b with overflow flagged into *st. */
static size_t mul(size_t a, size_t b, qlow_status *st)
{
    size_t r = 0;
    if (qlow__mul_size(a, b, &r) != QLOW_OK) *st = QLOW_E_OVERFLOW;
    return r;
}

qlow_status qlow__format_plan(const qlow__geom *g, qlow__plan *pl)
{
    qlow_status st = QLOW_OK;
    memset(pl, 0, sizeof(*pl));
    const size_t rows = (size_t)g->rows;
    size_t *sz = pl->size;
    int64_t code_cols = g->format == QLOW_FORMAT_M161 ? g->cols - g->n_salient : g->cols;
    pl->cols_pad = round_up32(code_cols);
    const size_t cp = (size_t)pl->cols_pad;
    switch (g->format) {
    case QLOW_FORMAT_Q8:
    case QLOW_FORMAT_Q4:
    case QLOW_FORMAT_Q3:
    case QLOW_FORMAT_Q2: {
        pl->n_row_groups = (g->rows + g->group_rows - 1) / g->group_rows;
        pl->n_col_groups = (pl->cols_pad + g->group_cols - 1) / g->group_cols;
        pl->row_bytes = g->format == QLOW_FORMAT_Q3 ? cp / 4 : cp / 32 * (size_t)qlow__format_traits_get(g->format)->block_bytes;
        sz[QLOW__PL_CODES] = mul(rows, pl->row_bytes, &st);
        if (g->format == QLOW_FORMAT_Q3) sz[QLOW__PL_CODES_HI] = mul(rows, cp / 8, &st);
        size_t groups = mul((size_t)pl->n_row_groups, (size_t)pl->n_col_groups, &st);
        sz[QLOW__PL_SCALE] = mul(groups, 2, &st);
        if (!g->symmetric) sz[QLOW__PL_ZERO] = sz[QLOW__PL_SCALE];
        break;
    }
    case QLOW_FORMAT_B1:
    case QLOW_FORMAT_B2:
    case QLOW_FORMAT_M161:
        pl->row_bytes = cp / 8;
        sz[QLOW__PL_CODES] = mul(rows, pl->row_bytes, &st);
        if (g->format == QLOW_FORMAT_B2) {
            sz[QLOW__PL_CODES2] = sz[QLOW__PL_CODES];
            sz[QLOW__PL_ALPHA2] = mul(rows, 2, &st);
        }
        sz[QLOW__PL_ALPHA] = sz[QLOW__PL_MU] = mul(rows, 2, &st);
        if (g->has_col_scale) sz[QLOW__PL_COL_SCALE] = mul((size_t)code_cols, 2, &st);
        if (g->format == QLOW_FORMAT_M161) {
            pl->sal_row_bytes = (size_t)round_up32(g->n_salient) / 2;
            sz[QLOW__PL_COL_MASK] = ((size_t)g->cols + 7) / 8;
            sz[QLOW__PL_SAL_CODES] = mul(rows, pl->sal_row_bytes, &st);
            sz[QLOW__PL_SAL_SCALE] = sz[QLOW__PL_SAL_ZERO] = mul(rows, 2, &st);
        }
        break;
    case QLOW_FORMAT_T2:
    case QLOW_FORMAT_T158:
        pl->row_bytes = g->format == QLOW_FORMAT_T2 ? cp / 4 : (cp + 4) / 5;
        sz[QLOW__PL_CODES] = mul(rows, pl->row_bytes, &st);
        sz[QLOW__PL_ALPHA] = mul(rows, 2, &st);
        break;
    default:
        return QLOW_E_UNSUPPORTED;
    }
    if (st != QLOW_OK) return st;
    size_t off = QLOW__QM_HEADER_BYTES;
    for (int k = 0; k < QLOW__PL_COUNT; k++) {
        if (!sz[k]) continue;
        off = qlow__align_up(off, QLOW__QM_PLANE_ALIGN);
        pl->offset[k] = off;
        QLOW_TRY(qlow__add_size(off, sz[k], &off));
        QLOW_TRY(qlow__add_size(pl->payload_bytes, sz[k], &pl->payload_bytes));
        if (off > SIZE_MAX - QLOW__QM_PLANE_ALIGN) return QLOW_E_OVERFLOW;
    }
    pl->total_bytes = qlow__align_up(off, QLOW__QM_PLANE_ALIGN);
    return QLOW_OK;
}

qlow_status qlow__geom_from_qresult(const qlow__qresult *qr, qlow__geom *g)
{
    memset(g, 0, sizeof(*g));
    g->format = qlow__qresult_format(qr);
    if (!g->format) return QLOW_E_UNSUPPORTED;
    g->rows = qr->rows;
    g->cols = qr->cols;
    g->symmetric = qr->kind == QLOW__QK_RTN ? qr->symmetric : 0;
    g->group_cols = qr->kind == QLOW__QK_RTN ? qr->group_cols : 0;
    g->group_rows = qr->kind == QLOW__QK_RTN ? qr->group_rows : 0;
    g->has_col_scale = qr->col_scale != NULL;
    g->n_salient = qr->kind == QLOW__QK_M161 ? qr->n_salient : 0;
    return qlow__geom_canonical(g);
}

static const void *plane(const qlow__plan *pl, const uint8_t *blob, int k)
{
    return pl->size[k] ? (const void *)(blob + pl->offset[k]) : NULL;
}

void qlow__packed_bind(const qlow__geom *g, const qlow__plan *pl, const uint8_t *blob, qlow__packed *p)
{
    memset(p, 0, sizeof(*p));
    p->format = g->format;
    p->bits = g->bits;
    p->symmetric = g->symmetric;
    p->rows = g->rows;
    p->cols = g->cols;
    p->cols_pad = pl->cols_pad;
    p->group_cols = g->group_cols;
    p->group_rows = g->group_rows;
    p->row_bytes = pl->row_bytes;
    p->codes = (const uint8_t *)plane(pl, blob, QLOW__PL_CODES);
    p->codes_hi = (const uint8_t *)plane(pl, blob, QLOW__PL_CODES_HI);
    p->scale = (const uint16_t *)plane(pl, blob, QLOW__PL_SCALE);
    p->zero = (const uint16_t *)plane(pl, blob, QLOW__PL_ZERO);
    p->codes2 = (const uint8_t *)plane(pl, blob, QLOW__PL_CODES2);
    p->alpha = (const uint16_t *)plane(pl, blob, QLOW__PL_ALPHA);
    p->alpha2 = (const uint16_t *)plane(pl, blob, QLOW__PL_ALPHA2);
    p->mu = (const uint16_t *)plane(pl, blob, QLOW__PL_MU);
    p->col_scale = (const uint16_t *)plane(pl, blob, QLOW__PL_COL_SCALE);
    p->col_mask = (const uint8_t *)plane(pl, blob, QLOW__PL_COL_MASK);
    p->n_salient = g->n_salient;
    p->sal_codes = (const uint8_t *)plane(pl, blob, QLOW__PL_SAL_CODES);
    p->sal_row_bytes = pl->sal_row_bytes;
    p->sal_scale = (const uint16_t *)plane(pl, blob, QLOW__PL_SAL_SCALE);
    p->sal_zero = (const uint16_t *)plane(pl, blob, QLOW__PL_SAL_ZERO);
}

double qlow__plan_bits_per_weight(const qlow__geom *g, const qlow__plan *pl)
{
    return 8.0 * (double)pl->payload_bytes / ((double)g->rows * (double)g->cols);
}
