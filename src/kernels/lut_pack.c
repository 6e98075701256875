/* lut_pack.c - geometry and construction of the row-tiled sign planes (layout in lut.h). Portable C:
 * the copy is made once per handle, on any build that has the lookup kernel. */
#include "kernels/lut.h"

/* Below this many rows or stored columns the narrow and chunk kernels are already fast and a second
 * copy of the signs would not pay for its memory. */
#define LUT_MIN_ROWS 64
#define LUT_MIN_COLS 1024

int qlow__lut_part_ok(const qlow__kpart *kp)
{
    return kp->format == QLOW_FORMAT_B1 || kp->format == QLOW_FORMAT_B2
               ? kp->interleave && kp->ablock == 256 && kp->nblk_pad % 16 == 0 && kp->rows >= LUT_MIN_ROWS &&
                     kp->cols_pad >= LUT_MIN_COLS && kp->row_bytes * 8 >= (size_t)kp->cols_pad
               : 0;
}

qlow_status qlow__lut_geometry(const qlow__kpart *kp, qlow__lut_geom *g)
{
    const int64_t chunk_pos = 16 * 256;
    g->tiles = (kp->rows + QLOW__LUT_TILE - 1) / QLOW__LUT_TILE;
    g->nchunk = kp->nblk_pad / 16;
    /* positions the last chunk stores, in rows of 64 (one 4-slot group per block), then units of 8 rows */
    int64_t live = (int64_t)kp->row_bytes * 8 - (g->nchunk - 1) * chunk_pos;
    if (live > chunk_pos) live = chunk_pos;
    if (live < 1) live = 1;
    g->nu_last = (int32_t)(((live + 63) / 64 + 7) / 8);
    g->units = ((g->nchunk - 1) * 8 + g->nu_last) * 16;
    g->planes = kp->format == QLOW_FORMAT_B2 ? 2 : 1;
    g->gtiles = QLOW__LUT_VTILES / g->planes;
    g->reserved = 0;
    size_t per_tile, plane, table;
    QLOW_TRY(qlow__mul_size((size_t)g->units, 64 * (size_t)g->planes, &per_tile));
    QLOW_TRY(qlow__mul_size(per_tile, (size_t)g->tiles, &plane));
    QLOW_TRY(qlow__mul_size((size_t)g->units, 256, &table));
    g->plane_bytes = plane;
    g->table_bytes = table;
    return QLOW_OK;
}

/* The 4 signs of slots 4s .. 4s + 3 of block (c, d) in a stored row (0 past the stored bytes). Those
 * slots are kernel positions 4096 c + 64 s + 4 d + 0..3: one nibble of one byte. */
static unsigned nibble(const uint8_t *row, size_t rb, int64_t c, int64_t s, int64_t d)
{
    size_t p = (size_t)(c * 4096 + s * 64 + 4 * d);
    return p / 8 < rb ? (row[p / 8] >> (p % 8)) & 15u : 0u;
}

void qlow__lut_pack(const qlow__kpart *kp, const qlow__lut_geom *g, uint8_t *dst)
{
    const size_t rb = kp->row_bytes;
    int64_t ubase = 0;
    for (int64_t b = 0; b < kp->nblk_pad; b++) {
        const int64_t c = b / 16, d = b % 16, nu = qlow__lut_block_units(g, b);
        for (int64_t t = 0; t < g->tiles; t++) {
            const int64_t grp = t / g->gtiles, ng = qlow__lut_group_tiles(g, grp);
            for (int pl = 0; pl < g->planes; pl++) {
                const uint8_t *codes = pl ? kp->codes2 : kp->codes;
                const int64_t v = pl * ng + t % g->gtiles;
                for (int i = 0; i < QLOW__LUT_TILE; i++) {
                    const int64_t r = t * QLOW__LUT_TILE + i;
                    const uint8_t *row = r < kp->rows ? codes + (size_t)r * rb : NULL;
                    for (int64_t u = 0; u < nu; u++) {
                        uint8_t *vec = dst + (size_t)qlow__lut_vector(g, ubase, nu, grp, ng, u, v) * 64;
                        for (int q = 0; q < 4; q++) {
                            const int64_t s = 8 * u + 2 * q;
                            vec[qlow__lut_byte(kp->lut_by_row, i, q)] =
                                row ? (uint8_t)(nibble(row, rb, c, s, d) | nibble(row, rb, c, s + 1, d) << 4) : 0;
                        }
                    }
                }
            }
        }
        ubase += nu;
    }
}

int64_t qlow__lut_walk(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add,
                       qlow__lut_fold_fn fold, qlow__lut_finish_fn finish)
{
    qlow__lut_geom g;
    /* whole 64-row spans only (a span is one group of B1 or two of B2): every row of a group is then
     * written by the call that owns the group */
    if (r0 >= r1 || r0 % 64 != 0 || (r1 % 64 != 0 && r1 != kp->rows) || !xq->ltab || qlow__lut_geometry(kp, &g) != QLOW_OK)
        return r0;
    const int64_t grows = QLOW__LUT_TILE * g.gtiles;
    const int64_t grp0 = r0 / grows, grp1 = (r1 + grows - 1) / grows;
    /* the fold area serves one panel at a time (16 KiB of this thread's stack), so it stays in L1 */
    _Alignas(64) float F[QLOW__LUT_FOLD_FLOATS];
    for (int64_t pg = grp0 - grp0 % QLOW__LUT_PANEL; pg < grp1; pg += QLOW__LUT_PANEL) {
        const int64_t ga = pg > grp0 ? pg : grp0, gb = pg + QLOW__LUT_PANEL < grp1 ? pg + QLOW__LUT_PANEL : grp1;
        const int64_t ra = ga * grows, rb = gb * grows < r1 ? gb * grows : r1;
        /* this panel's per-row parameters, read after its fold: cold, each panel waited on their misses */
        for (int64_t r = ra; r < rb; r += 32) {
            qlow__prefetch(kp->alpha + r, 0, 64);
            qlow__prefetch(kp->mu + r, 0, 64);
            if (g.planes == 2) qlow__prefetch(kp->alpha2 + r, 0, 64);
        }
        fold(kp, &g, xq, pg, ga, gb, F);
        finish(kp, &g, xq, pg, ra, rb, F, y, add);
    }
    return r1;
}

/* ---- row-tiled Q4 codes ---- */

int qlow__q4t_part_ok(const qlow__kpart *kp)
{
    return kp->m161_salient && kp->format == QLOW_FORMAT_Q4 && kp->ablock == 32 && !kp->interleave &&
           kp->ngroups == 1 && kp->group_rows == 1 && kp->nblk >= 4 && kp->rows >= LUT_MIN_ROWS &&
           kp->row_bytes * 2 >= (size_t)(kp->nblk * 32);
}

qlow_status qlow__q4t_bytes(const qlow__kpart *kp, size_t *bytes)
{
    const size_t tiles = (size_t)((kp->rows + QLOW__LUT_TILE - 1) / QLOW__LUT_TILE);
    size_t per_tile;
    QLOW_TRY(qlow__mul_size((size_t)kp->nblk, 256, &per_tile));
    return qlow__mul_size(per_tile, tiles, bytes);
}

/* Code of column j of a Q4 row (32-column blocks of 16 bytes: byte i holds columns i and i + 16). */
static unsigned q4_code(const uint8_t *row, int64_t j)
{
    const uint8_t v = row[(j / 32) * 16 + j % 16];
    return (j % 32) < 16 ? v & 15u : (unsigned)(v >> 4);
}

void qlow__q4t_pack(const qlow__kpart *kp, uint8_t *dst)
{
    const int64_t tiles = (kp->rows + QLOW__LUT_TILE - 1) / QLOW__LUT_TILE, nb = kp->nblk;
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t grp = t / QLOW__Q4T_GROUP, gt = t % QLOW__Q4T_GROUP;
        const int64_t ng = tiles - grp * QLOW__Q4T_GROUP < QLOW__Q4T_GROUP ? tiles - grp * QLOW__Q4T_GROUP : QLOW__Q4T_GROUP;
        uint8_t *base = dst + (size_t)(grp * QLOW__Q4T_GROUP * nb * 4) * 64;
        for (int i = 0; i < QLOW__LUT_TILE; i++) {
            const int64_t r = t * QLOW__LUT_TILE + i;
            const uint8_t *row = r < kp->rows ? kp->codes + (size_t)r * kp->row_bytes : NULL;
            for (int64_t b = 0; b < nb; b++)
                for (int k = 0; k < 4; k++) {
                    uint8_t *v = base + (size_t)((b * 4 + k) * ng + gt) * 64 + 4 * (size_t)i;
                    for (int j = 0; j < 4; j++) {
                        const int64_t c = 32 * b + 8 * k + j;
                        v[j] = row ? (uint8_t)(q4_code(row, c) | q4_code(row, c + 4) << 4) : 0;
                    }
                }
        }
    }
}

/* ---- row-tiled Q2 bit planes ---- */

int qlow__q2t_part_ok(const qlow__kpart *kp)
{
    return kp->format == QLOW_FORMAT_Q2 && kp->ablock == 32 && !kp->interleave && kp->rows >= LUT_MIN_ROWS &&
           kp->cols_pad >= LUT_MIN_COLS && kp->row_bytes * 4 >= (size_t)(kp->nblk * 32);
}

qlow_status qlow__q2t_bytes(const qlow__kpart *kp, size_t *plane_bytes, size_t *bytes)
{
    const size_t tiles = (size_t)((kp->rows + QLOW__LUT_TILE - 1) / QLOW__LUT_TILE);
    size_t per_tile, planes, per_tile_p, params;
    QLOW_TRY(qlow__mul_size((size_t)kp->nblk, 128, &per_tile));
    QLOW_TRY(qlow__mul_size(per_tile, tiles, &planes));
    QLOW_TRY(qlow__mul_size((size_t)kp->ngroups, qlow__q2t_param_bytes(kp), &per_tile_p));
    QLOW_TRY(qlow__mul_size(per_tile_p, tiles, &params));
    *plane_bytes = planes;
    return qlow__add_size(planes, params, bytes);
}

void qlow__q2t_pack(const qlow__kpart *kp, uint8_t *dst)
{
    const int64_t tiles = (kp->rows + QLOW__LUT_TILE - 1) / QLOW__LUT_TILE, nb = kp->nblk, ng = kp->ngroups;
    const size_t E = qlow__q2t_param_bytes(kp), planes = (size_t)(tiles * nb) * 128;
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t P = t / QLOW__Q2T_PANEL, j = t % QLOW__Q2T_PANEL, t0 = P * QLOW__Q2T_PANEL;
        const int64_t pt = tiles - t0 < QLOW__Q2T_PANEL ? tiles - t0 : QLOW__Q2T_PANEL;
        for (int i = 0; i < QLOW__LUT_TILE; i++) {
            const int64_t r = t * QLOW__LUT_TILE + i;
            const uint8_t *row = r < kp->rows ? kp->codes + (size_t)r * kp->row_bytes : NULL;
            for (int64_t b = 0; b < nb; b++)
                for (int q = 0; q < 4; q++) {
                    /* Q2: byte m of a block's 8 holds columns m + 8 q at bits 2 q */
                    unsigned p0 = 0, p1 = 0;
                    for (int m = 0; m < 8 && row; m++) {
                        const unsigned c = (row[b * 8 + m] >> (2 * q)) & 3u;
                        p0 |= (c & 1u) << m;
                        p1 |= (c >> 1) << m;
                    }
                    uint8_t *v = dst + (size_t)(t0 * nb * 2 + (b * pt + j) * 2) * 64 + 4 * (size_t)i + (size_t)q;
                    v[0] = (uint8_t)p0;
                    v[64] = (uint8_t)p1;
                }
            const uint16_t *sr = row ? qlow__q_scale_row(kp, r) : NULL, *zr = row ? qlow__q_zero_row(kp, r) : NULL;
            for (int64_t g = 0; g < ng; g++) {
                uint8_t *e = dst + planes + (size_t)(t0 * ng) * E + (size_t)(g * pt + j) * E + 2 * (size_t)i;
                const uint16_t s = sr ? sr[g] : 0, z = zr ? zr[g] : 0;
                memcpy(e, &s, 2);
                if (kp->zero) memcpy(e + 32, &z, 2);
            }
        }
    }
}
