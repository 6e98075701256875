/* pack.c - write a qlow__qresult's planes into a zeroed serialized image laid out by a plan. */
#include "formats/codes.h"
#include "formats/traits.h"

static uint8_t *at(const qlow__plan *pl, uint8_t *blob, int k) { return blob + pl->offset[k]; }

static void copy16(const qlow__plan *pl, uint8_t *blob, int k, const uint16_t *src)
{
    if (pl->size[k] && src) memcpy(at(pl, blob, k), src, pl->size[k]);
}

void qlow__pack_q(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob)
{
    uint8_t *codes = at(pl, blob, QLOW__PL_CODES);
    uint8_t *hi = pl->size[QLOW__PL_CODES_HI] ? at(pl, blob, QLOW__PL_CODES_HI) : NULL;
    const size_t hi_bytes = (size_t)pl->cols_pad / 8;
    for (int64_t i = 0; i < qr->rows; i++) {
        const uint8_t *c = qr->codes + i * qr->code_cols;
        uint8_t *row = codes + (size_t)i * pl->row_bytes;
        for (int64_t j = 0; j < qr->cols; j++) {
            switch (qr->bits) {
            case 8: row[j] = c[j]; break;
            case 4: qlow__q4_set(row, j, c[j]); break;
            case 3:
                qlow__q2_set(row, j, c[j] & 3);
                qlow__bit_set(hi + (size_t)i * hi_bytes, j, (c[j] >> 2) & 1);
                break;
            default: qlow__q2_set(row, j, c[j]); break;
            }
        }
    }
    copy16(pl, blob, QLOW__PL_SCALE, qr->scale);
    copy16(pl, blob, QLOW__PL_ZERO, qr->zero);
}

static void pack_signs(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob, int plane_id, int bit)
{
    uint8_t *plane = at(pl, blob, plane_id);
    for (int64_t i = 0; i < qr->rows; i++) {
        const uint8_t *c = qr->codes + i * qr->code_cols;
        uint8_t *row = plane + (size_t)i * pl->row_bytes;
        for (int64_t j = 0; j < qr->code_cols; j++) qlow__bit_set(row, j, (c[j] >> bit) & 1);
    }
}

void qlow__pack_b1(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob)
{
    pack_signs(qr, pl, blob, QLOW__PL_CODES, 0);
    copy16(pl, blob, QLOW__PL_ALPHA, qr->alpha);
    copy16(pl, blob, QLOW__PL_MU, qr->mu);
    copy16(pl, blob, QLOW__PL_COL_SCALE, qr->col_scale);
}

void qlow__pack_b2(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob)
{
    pack_signs(qr, pl, blob, QLOW__PL_CODES, 0);
    pack_signs(qr, pl, blob, QLOW__PL_CODES2, 1);
    copy16(pl, blob, QLOW__PL_ALPHA, qr->alpha);
    copy16(pl, blob, QLOW__PL_ALPHA2, qr->alpha2);
    copy16(pl, blob, QLOW__PL_MU, qr->mu);
}

/* Padding columns hold t = 0 (code 1) so that a kernel reading a whole block adds nothing for them. */
void qlow__pack_t2(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob)
{
    uint8_t *codes = at(pl, blob, QLOW__PL_CODES);
    for (int64_t i = 0; i < qr->rows; i++) {
        const uint8_t *c = qr->codes + i * qr->code_cols;
        uint8_t *row = codes + (size_t)i * pl->row_bytes;
        for (int64_t j = 0; j < pl->cols_pad; j++) qlow__q2_set(row, j, j < qr->cols ? c[j] : 1);
    }
    copy16(pl, blob, QLOW__PL_ALPHA, qr->alpha);
}

void qlow__pack_t158(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob)
{
    uint8_t *codes = at(pl, blob, QLOW__PL_CODES);
    for (int64_t i = 0; i < qr->rows; i++) {
        const uint8_t *c = qr->codes + i * qr->code_cols;
        uint8_t *row = codes + (size_t)i * pl->row_bytes;
        for (size_t b = 0; b < pl->row_bytes; b++) {
            unsigned v = 0;
            for (int k = 4; k >= 0; k--) {
                int64_t j = (int64_t)b * 5 + k;
                v = v * 3 + (j < qr->cols ? c[j] : 1u);
            }
            row[b] = (uint8_t)v;
        }
    }
    copy16(pl, blob, QLOW__PL_ALPHA, qr->alpha);
}

void qlow__pack_m161(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob)
{
    uint8_t *mask = at(pl, blob, QLOW__PL_COL_MASK);
    for (int64_t j = 0; j < qr->cols; j++) qlow__bit_set(mask, j, qr->col_mask[j]);
    if (pl->size[QLOW__PL_SAL_CODES]) {
        uint8_t *sal = at(pl, blob, QLOW__PL_SAL_CODES);
        for (int64_t i = 0; i < qr->rows; i++) {
            const uint8_t *c = qr->sal_codes + i * qr->n_salient;
            uint8_t *row = sal + (size_t)i * pl->sal_row_bytes;
            for (int64_t j = 0; j < qr->n_salient; j++) qlow__q4_set(row, j, c[j]);
        }
    }
    copy16(pl, blob, QLOW__PL_SAL_SCALE, qr->sal_scale);
    copy16(pl, blob, QLOW__PL_SAL_ZERO, qr->sal_zero);
    if (pl->size[QLOW__PL_CODES]) pack_signs(qr, pl, blob, QLOW__PL_CODES, 0);
    copy16(pl, blob, QLOW__PL_ALPHA, qr->alpha);
    copy16(pl, blob, QLOW__PL_MU, qr->mu);
    copy16(pl, blob, QLOW__PL_COL_SCALE, qr->col_scale);
}
