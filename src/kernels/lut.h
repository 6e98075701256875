/* lut.h - the row-tiled copies that batch-1 kernels read: the binary sign planes of the table-lookup
 * GEMV (x86_avx512_lut.c, x86_avx2_lut.c), M161's salient Q4 codes (x86_avx512_q4tile.c) and Q2's bit
 * planes and parameters (x86_avx512_q2lut.c).
 *
 * Why a second layout: a table-lookup kernel turns each 4-bit group of signs into one byte lookup
 * (vpermb) of a precomputed partial sum of 4 activations, four times fewer multiply-adds than masking
 * activations by sign bits. A lookup table covers one group of columns, so the bytes that go through
 * one lookup must come from different rows of the same columns: the stored rows are transposed into
 * tiles of 16 rows. The copy is built once per handle (qlow__gemm_prep) on CPUs that run the kernel.
 *
 * Geometry of a B1-kind part (ablock 256, interleaved, see kernels.h): block b holds 256 slots; slot m
 * is kernel position p = (b / 16) * 4096 + (m / 4) * 64 + 4 * (b % 16) + m % 4 of a stored row. A
 * "unit" is 32 consecutive slots 32u .. 32u + 31 of one block. Blocks of chunk c (16 blocks, 4096
 * positions) have units_per_block(c) units: 8, or fewer for the last chunk when the row ends early.
 * Units are numbered block after block (unit_base(b) + u).
 *
 * Tiles: rows 16t .. 16t + 15 (rows past the matrix have zero bits), in groups (4 tiles, 64 rows; B2:
 * 2 tiles, whose two planes make 4 "virtual tiles") and groups in panels of 4 (the last group and
 * panel may be short). A product walks a panel block by block and, inside a block, group by group:
 * that block's activation tables (2 KiB) and the panel's per-row fold (16 KiB) stay in L1 while the
 * weights, both planes of B2 included, stream linearly as one sequence. So the copy is panel-major,
 * then block-major, then group-major: see qlow__lut_vector. Inside a group, the 64-byte vector of
 * (unit u, virtual tile v) comes at u * nv + v, where v = plane * ng + (tile in the group), ng the
 * group's tiles and nv = ng * planes. Byte qlow__lut_byte(by_row, i, q) of that vector holds row
 * 16t + i, slots 32u + 8q + k at bit k (k < 4: the low nibble, k >= 4: the high nibble). Two byte orders:
 *   - lanes (kp->lut_by_row = 0): byte 32 (q & 1) + 16 (q >> 1) + i, so each 16-byte lane holds one
 *     column group q (0, 2, 1, 3) of the 16 rows: what an AVX2 vpshufb (16 entries per lane) can look
 *     up as loaded;
 *   - by row (kp->lut_by_row = 1): byte 4 i + q, so the four group sums of row i widen into dword i
 *     with one vpdpbusd. Only the AVX-512 kernel reads it (vpermb looks up across the whole vector); it
 *     would otherwise regroup every lanes vector with one more vpermb, a twelfth of its operations.
 * A handle gets the order its CPU's best lookup kernel reads (qlow__gemm_prep_build); a product on a
 * lower level that cannot read it takes the masked kernels.
 *
 * Activation tables of one token (built per call): per unit 256 bytes, four 64-entry tables indexed
 * by 16 q + n (n a 4-bit sign group): [0] low nibbles and [1] high nibbles over xl = x & 15, [2], [3]
 * the same over xh = x >> 4 (floor), each entry the sum over the set bits of n. x = 16 xh + xl keeps
 * every entry and every byte-wide sum of a few entries inside int8 / uint8, so the integer block
 * sums come out exact and the products equal every other kernel's bit for bit. */
#ifndef QLOW_KERNELS_LUT_H
#define QLOW_KERNELS_LUT_H

#include "kernels/kernels.h"

#define QLOW__LUT_TILE 16   /* rows per tile, one dword of a vector each */
#define QLOW__LUT_VTILES 4  /* virtual tiles per group: tiles x planes */
#define QLOW__LUT_PANEL 4   /* groups per panel */
#define QLOW__LUT_UNIT 32   /* slots per unit */

typedef struct qlow__lut_geom {
    int64_t tiles;      /* ceil(rows / 16) */
    int64_t units;      /* units of one row, all blocks */
    int64_t nchunk;     /* 16-block chunks */
    int32_t nu_last;    /* units per block of the last chunk (8 for the others) */
    int32_t planes;     /* sign planes: 1, or 2 for B2 */
    int32_t gtiles;     /* tiles per group: QLOW__LUT_VTILES / planes */
    int32_t reserved;
    size_t plane_bytes; /* bytes of the copy: tiles * units * planes * 64 */
    size_t table_bytes; /* bytes of one token's activation tables: units * 256 */
} qlow__lut_geom;

/* Byte of row i (of a tile) and column group q (of a unit) in a 64-byte vector of the copy. */
static inline int qlow__lut_byte(int by_row, int i, int q)
{
    return by_row ? 4 * i + q : 32 * (q & 1) + 16 * (q >> 1) + i;
}

/* Units of block b: 8, or nu_last in the last chunk. */
static inline int64_t qlow__lut_block_units(const qlow__lut_geom *g, int64_t b)
{
    return b / 16 < g->nchunk - 1 ? 8 : g->nu_last;
}

/* Tiles in group grp (gtiles, or fewer for the last). */
static inline int64_t qlow__lut_group_tiles(const qlow__lut_geom *g, int64_t grp)
{
    const int64_t left = g->tiles - grp * g->gtiles;
    return left < g->gtiles ? left : g->gtiles;
}

/* Index (in 64-byte vectors) of unit u, virtual tile v of group grp (ng tiles) of the block whose
 * units start at ubase and number nu. */
static inline int64_t qlow__lut_vector(const qlow__lut_geom *g, int64_t ubase, int64_t nu, int64_t grp, int64_t ng,
                                       int64_t u, int64_t v)
{
    const int64_t pt = (int64_t)QLOW__LUT_PANEL * g->gtiles, t0 = grp / QLOW__LUT_PANEL * pt;
    const int64_t tp = g->tiles - t0 < pt ? g->tiles - t0 : pt, P = g->planes;
    return (t0 * g->units + ubase * tp + (grp % QLOW__LUT_PANEL) * g->gtiles * nu) * P + u * ng * P + v;
}

/* Whether part kp has the shape the lookup kernel handles (B1 kind, 256-slot interleaved blocks) and is
 * large enough for the copy to pay. Independent of the CPU. */
QLOW_HIDDEN int qlow__lut_part_ok(const qlow__kpart *kp);

/* Geometry of part kp (qlow__lut_part_ok). QLOW_E_OVERFLOW when a size does not fit size_t. */
QLOW_HIDDEN qlow_status qlow__lut_geometry(const qlow__kpart *kp, qlow__lut_geom *g);

/* Write the row-tiled copy of kp's sign planes (codes, and codes2 for B2; stride kp->row_bytes) into
 * dst (g->plane_bytes), in the byte order kp->lut_by_row names. Never allocates. */
QLOW_HIDDEN void qlow__lut_pack(const qlow__kpart *kp, const qlow__lut_geom *g, uint8_t *dst);

/* Floats of one panel's fold: per virtual tile of the panel, 16 lanes of 16 rows. */
#define QLOW__LUT_FOLD_FLOATS (QLOW__LUT_PANEL * QLOW__LUT_VTILES * QLOW__LANES * QLOW__LANES)

/* The panel walk shared by the lookup kernels (each ISA supplies the two steps). fold: the fold F of
 * groups [ga, gb) of the panel starting at group pg, every plane: plane p, tile j of the panel at
 * ((p * pt + j) * 16 + lane) * 16 + row, pt = QLOW__LUT_PANEL * gtiles tiles per panel, lane b mod 16
 * getting xs_b * isum_b block after block as kernels.h folds (the first chunk adds to zero). finish:
 * rows [ra, rb) of that panel from F, into y (added when add != 0). */
typedef void (*qlow__lut_fold_fn)(const qlow__kpart *kp, const qlow__lut_geom *g, const qlow__xq *xq, int64_t pg,
                                  int64_t ga, int64_t gb, float *F);
typedef void (*qlow__lut_finish_fn)(const qlow__kpart *kp, const qlow__lut_geom *g, const qlow__xq *xq, int64_t pg,
                                    int64_t ra, int64_t rb, const float *F, float *y, int add);
/* Rows [r0, r1) of part kp (kp->lut set) panel by panel, with the contract of qlow__lut_rows_fn. */
QLOW_HIDDEN int64_t qlow__lut_walk(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y, int add,
                                   qlow__lut_fold_fn fold, qlow__lut_finish_fn finish);

/* ---- row-tiled Q4 codes (M161's salient part) ----
 * The salient part of M161 is a Q4 matrix of about a tenth of the columns with one scale and zero per
 * row. Its rows are short (416 columns at 4096), and the chunk kernels pay a fixed cost per row that
 * dominated. The copy puts 16 rows in the dwords of each vector so that vpdpbusd accumulates one
 * 32-column block of 16 rows with no reduction: per group of 4 tiles (64 rows; the last may have
 * fewer, ng) and block b, vector (k, g) sits at group_base + (b * 4 + k) * ng + g, group_base = 4 * grp *
 * nblk * 4 vectors. Byte j (j < 4) of dword i: low nibble the code of column 32b + 8k + j of row
 * 16t + i, high nibble that of column 32b + 8k + 4 + j (zero past the rows or stored columns). */
#define QLOW__Q4T_GROUP 4 /* tiles per group */

/* Whether part kp is such a part, large enough for the copy to pay. Independent of the CPU. */
QLOW_HIDDEN int qlow__q4t_part_ok(const qlow__kpart *kp);
/* Bytes of the copy (QLOW_E_OVERFLOW if they do not fit size_t). */
QLOW_HIDDEN qlow_status qlow__q4t_bytes(const qlow__kpart *kp, size_t *bytes);
/* Write the copy of kp's codes into dst. Never allocates. */
QLOW_HIDDEN void qlow__q4t_pack(const qlow__kpart *kp, uint8_t *dst);

/* ---- row-tiled Q2 bit planes ----
 * A Q2 row spends most of its time in the chunk kernels extracting 2-bit fields and multiplying them
 * (two vector operations per 64 codes, on the pipes vpdpbusd needs). Split into its two bit planes,
 * a 2-bit code is two signs of the binary kinds' lookup: q = b0 + 2 b1, so a 32-column block of 16
 * rows is two lookup steps (x86_avx512_lut_step.h), four vpdpbusd and the block's fp32 fold, with
 * rows in lanes. The copy has two regions.
 *   Planes: tiles of 16 rows (rows past the matrix have zero codes) in panels of QLOW__Q2T_PANEL
 *   tiles (the last may be short, pt tiles). Panel-major, then block-major, then tile, then plane, so
 *   a product that walks a panel block by block reads the planes as one linear stream: the vector of
 *   (tile 16 P + j, block b, plane k) is at 64 * (16 P nblk 2 + (b pt + j) 2 + k). Byte 4 i + q of it
 *   holds bit k of the codes of row 16 t + i, columns 32 b + 8 q + m at bit m (m = 0..7).
 *   Parameters (after the planes): per panel, group and tile, the 16 rows' fp16 scales and then, if the
 *   part is asymmetric, their fp16 zeros (E = qlow__q2t_param_bytes: 32 or 64 bytes): entry (tile 16 P + j,
 *   group g) at 16 P ngroups E + (g pt + j) E; rows past the matrix have 0. */
#define QLOW__Q2T_PANEL 16 /* tiles per panel: its fold (16 KiB of fp32 lanes) stays in L1 */

/* Whether part kp is a Q2 part the copy serves (large enough for it to pay). Independent of the CPU. */
QLOW_HIDDEN int qlow__q2t_part_ok(const qlow__kpart *kp);
/* Bytes of one parameter entry (16 rows of one group): 32 symmetric, 64 asymmetric. */
static inline size_t qlow__q2t_param_bytes(const qlow__kpart *kp) { return kp->zero ? 64 : 32; }
/* Bytes of one token's activation tables: 256 per 32-column block (four 64-entry tables, lut.h). */
static inline size_t qlow__q2t_table_bytes(const qlow__kpart *kp) { return (size_t)kp->nblk * 256; }
/* Bytes of the planes and of the whole copy (QLOW_E_OVERFLOW if they do not fit size_t). */
QLOW_HIDDEN qlow_status qlow__q2t_bytes(const qlow__kpart *kp, size_t *plane_bytes, size_t *bytes);
/* Write the copy of kp's codes and parameters into dst. Never allocates. */
QLOW_HIDDEN void qlow__q2t_pack(const qlow__kpart *kp, uint8_t *dst);

/* Parts of handle qm whose kernel tables hold a row-tiled copy (tests and the bench). */
QLOW_HIDDEN int qlow__gemm_prep_lut_parts(const qlow_qmatrix *qm);

#if defined(QLOW__HAVE_X86_KERNELS)
/* The activation tables of one token from its block-major x8 (x8 of qlow__xq) into tab, in the layout
 * each kernel reads (x86_avx512_lut.c, x86_avx2_lut.c). */
QLOW_HIDDEN void qlow__lut_tables_avx512(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab);
QLOW_HIDDEN void qlow__lut_tables_avx2(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab);
/* Q2 parts with a row-tiled copy (kp->q2t): the token's tables (qlow__q2t_table_bytes, from the
 * natural-order x8) into tab, and batch-1 rows [r0, r1), which must start a tile and end one (or end
 * the part), else nothing is done and r0 is returned; same y contract and results as the others. */
QLOW_HIDDEN void qlow__q2t_tables_avx512(const qlow__kpart *kp, const int8_t *x8, uint8_t *tab);
QLOW_HIDDEN int64_t qlow__q2t_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y,
                                          int add);
/* Batch-1 rows [r0, r1) of a part with a Q4 row-tiled copy (kp->q4t), same contract as below. */
QLOW_HIDDEN int64_t qlow__q4t_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y,
                                          int add);
/* Batch-1 rows [r0, r1) of part kp (kp->lut set) from the token's tables
 * (xq->ltab). r0 must start a 64-row span and r1 end one (or be the last
 * row); otherwise nothing is done and r0 is returned. y as the row kernels (add != 0 adds). Returns
 * r1. Equal to the generic kernel bit for bit. */
QLOW_HIDDEN int64_t qlow__lut_rows_avx512(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y,
                                          int add);
QLOW_HIDDEN int64_t qlow__lut_rows_avx2(const qlow__kpart *kp, const qlow__xq *xq, int64_t r0, int64_t r1, float *y,
                                        int add);
#endif

#endif
