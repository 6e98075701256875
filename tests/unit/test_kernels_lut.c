/* test_kernels_lut.c - the table-lookup kernels of binary planes (src/kernels/x86_avx512_lut.c,
 * x86_avx2_lut.c) and the row-tiled sign copy they read (src/kernels/lut.h):
 *   - the copy holds every sign of the stored rows at the documented place, and zeros elsewhere;
 *   - both kernels' activation tables hold the documented partial sums, for every int8 activation;
 *   - batch-1 products through the handle's tables equal the generic kernel bit for bit, at 1 and 2
 *     threads (row splits that cut a 64-row group), in both activation modes, at every x86 level the
 *     CPU has (AVX2 and AVX-512), for B1, B2 and M161 (its salient Q4 part through its own row-tiled
 *     copy on AVX-512), and equal the kernels of a handle without one and of a handle whose binary
 *     copies are in the other byte order (lanes or by row). */
#include "qtest.h"
#include "kernels_testpack.h"
#include "qtest_isa.h"
#include "kernels_testrun.h"
#include "kernels/lut.h"

typedef struct cfg {
    const char *name;
    int format, col_scale, store_perm;
    double salient_frac;
} cfg;

static const cfg CFGS[] = {
    {"B1", QLOW_FORMAT_B1, 0, 0, 0},
    {"B1 r2", QLOW_FORMAT_B1, 1, 0, 0},
    {"B2", QLOW_FORMAT_B2, 0, 0, 0},
    {"M161 r2 perm", QLOW_FORMAT_M161, 1, 1, 0.1},
    {"M161 mask-only", QLOW_FORMAT_M161, 0, 0, 0.3},
    {"M161 all salient", QLOW_FORMAT_M161, 1, 1, 1.0},
};

/* rows x cols: one tile group, partial groups, several chunks, a short last chunk, 11008 columns */
static const int64_t SHAPES[][2] = {{64, 1536}, {100, 4096}, {77, 5000}, {130, 2080}, {70, 11008}};

/* The sign of slot m of block b in a stored row, straight from the definition in kernels.h. */
static unsigned slot_sign(const uint8_t *row, size_t rb, int64_t b, int64_t m)
{
    size_t p = (size_t)((b / 16) * 4096 + (m / 4) * 64 + 4 * (b % 16) + m % 4);
    return p / 8 < rb ? (row[p / 8] >> (p % 8)) & 1u : 0u;
}

/* Vector index of (block units from ubase, nu; tile t; plane pl; unit u), written out from lut.h's
 * prose rather than through qlow__lut_vector: panels of 4 groups, then blocks, then groups, then units,
 * then virtual tiles plane * ng + (tile in group). */
static size_t vector_at(const qlow__lut_geom *g, int64_t ubase, int64_t nu, int64_t t, int pl, int64_t u)
{
    const int64_t P = g->planes, gt = 4 / P, grp = t / gt, ng = g->tiles - grp * gt < gt ? g->tiles - grp * gt : gt;
    const int64_t panel_tiles = 4 * gt, t0 = t / panel_tiles * panel_tiles;
    const int64_t tp = g->tiles - t0 < panel_tiles ? g->tiles - t0 : panel_tiles;
    const int64_t panel_start = t0 * g->units * P, block_start = ubase * tp * P;
    const int64_t group_start = (grp % 4) * gt * nu * P;
    return (size_t)(panel_start + block_start + group_start + u * ng * P + pl * ng + t % gt);
}

/* The copy of kp in byte order by_row (lut.h), checked sign by sign. */
static void check_copy(qlow__kpart *kp, int by_row, const char *name)
{
    kp->lut_by_row = by_row;
    qlow__lut_geom g;
    if (!QT_CHECK(qlow__lut_geometry(kp, &g) == QLOW_OK, "%s: geometry", name)) return;
    QT_CHECK(g.planes == (kp->format == QLOW_FORMAT_B2 ? 2 : 1), "%s: %d planes", name, g.planes);
    uint8_t *copy = (uint8_t *)malloc(g.plane_bytes);
    memset(copy, 0xA5, g.plane_bytes); /* every byte must be written */
    qlow__lut_pack(kp, &g, copy);
    int64_t bad = 0, ones = 0;
    for (int pl = 0; pl < g.planes; pl++) {
        const uint8_t *codes = pl ? kp->codes2 : kp->codes;
        for (int64_t t = 0; t < g.tiles; t++) {
            int64_t unit = 0;
            for (int64_t b = 0; b < kp->nblk_pad; b++) {
                const int64_t nu = b / 16 < g.nchunk - 1 ? 8 : g.nu_last, ubase = unit;
                for (int64_t u = 0; u < nu; u++, unit++)
                    for (int i = 0; i < 16; i++)
                        for (int q = 0; q < 4; q++)
                            for (int k = 0; k < 8; k++) {
                                const int64_t r = 16 * t + i;
                                /* lanes: they hold column groups 0, 2, 1, 3, byte i of a lane row i;
                                 * by row: dword i holds row i, byte q of it group q */
                                const size_t lane = q == 0 ? 0 : q == 2 ? 1 : q == 1 ? 2 : 3;
                                const size_t at = vector_at(&g, ubase, nu, t, pl, u) * 64 +
                                                  (by_row ? 4 * (size_t)i + (size_t)q : 16 * lane + (size_t)i);
                                unsigned got = (copy[at] >> k) & 1u;
                                unsigned want = r < kp->rows ? slot_sign(codes + (size_t)r * kp->row_bytes,
                                                                         kp->row_bytes, b, 32 * u + 8 * q + k)
                                                             : 0u;
                                bad += got != want;
                                ones += want;
                            }
            }
            QT_CHECK(unit == g.units, "%s: %lld units walked, geometry says %lld", name, (long long)unit,
                     (long long)g.units);
        }
    }
    /* every stored sign lands somewhere: the copy has as many set bits as the rows' stored positions */
    int64_t stored = 0, copied = 0;
    for (int pl = 0; pl < g.planes; pl++)
        for (int64_t r = 0; r < kp->rows; r++)
            for (size_t j = 0; j < kp->row_bytes; j++)
                stored += __builtin_popcount((pl ? kp->codes2 : kp->codes)[(size_t)r * kp->row_bytes + j]);
    for (size_t j = 0; j < g.plane_bytes; j++) copied += __builtin_popcount(copy[j]);
    QT_CHECK(bad == 0, "%s: %lld signs of the row-tiled copy (%s) differ from the rows", name, (long long)bad,
             by_row ? "by row" : "lanes");
    QT_CHECK(stored == copied && ones == stored, "%s: %lld signs stored, %lld copied, %lld expected", name,
             (long long)stored, (long long)copied, (long long)ones);
    free(copy);
}

/* M161's salient Q4 part: the code of (row r, salient column c) at the documented nibble (lut.h). */
static void check_salient_copy(const qlow__packed *p, const char *name)
{
    qlow__kpart kp = tp_q_kpart(QLOW_FORMAT_Q4, p->rows, p->n_salient, p->sal_row_bytes, p->sal_codes);
    kp.m161_salient = 1;
    kp.ngroups = 1;
    kp.group_rows = 1;
    size_t bytes = 0;
    if (!QT_CHECK(qlow__q4t_part_ok(&kp) && qlow__q4t_bytes(&kp, &bytes) == QLOW_OK, "%s: salient part not eligible", name))
        return;
    uint8_t *copy = (uint8_t *)malloc(bytes);
    memset(copy, 0xA5, bytes);
    qlow__q4t_pack(&kp, copy);
    const int64_t tiles = (kp.rows + 15) / 16;
    int64_t bad = 0;
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t grp = t / 4, ng = tiles - 4 * grp < 4 ? tiles - 4 * grp : 4;
        for (int64_t b = 0; b < kp.nblk; b++)
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < 16; i++)
                    for (int j = 0; j < 8; j++) {
                        const int64_t r = 16 * t + i, col = 32 * b + 8 * k + j;
                        const size_t vec = (size_t)(grp * 4 * kp.nblk * 4 + (b * 4 + k) * ng + t % 4);
                        const uint8_t byte = copy[vec * 64 + 4 * (size_t)i + (size_t)(j % 4)];
                        const unsigned got = j < 4 ? byte & 15u : (unsigned)(byte >> 4);
                        unsigned want = 0;
                        if (r < kp.rows) { /* Q4: byte i of a 32-column block holds columns i and i + 16 */
                            const uint8_t v = p->sal_codes[(size_t)r * p->sal_row_bytes + (size_t)(col / 32) * 16 + col % 16];
                            want = col % 32 < 16 ? v & 15u : (unsigned)(v >> 4);
                        }
                        bad += got != want;
                    }
    }
    QT_CHECK(bad == 0, "%s: %lld codes of the salient copy differ from the rows", name, (long long)bad);
    free(copy);
}

#if defined(QLOW__HAVE_X86_KERNELS)
/* Byte of unit table entry (kind t: 0, 1 low / high nibble over xl, 2, 3 over xh; column group q; sign
 * pattern n) in each kernel's layout: AVX-512 [t][16 q + n] (x86_avx512_lut.c); AVX2 [t][P, Q] of 32
 * bytes, lane q / 2 of P (q even) or Q (q odd) (x86_avx2_lut.c). */
static size_t table_byte(int avx2, int t, int q, int n)
{
    return avx2 ? (size_t)(t * 64 + (q & 1) * 32 + (q / 2) * 16 + n) : (size_t)(t * 64 + 16 * q + n);
}

/* Tables over activations that take every int8 value the quantizer produces (-127..127). */
static void check_tables(const qlow__kpart *kp, int avx2, const char *name)
{
    qlow__lut_geom g;
    if (!QT_CHECK(qlow__lut_geometry(kp, &g) == QLOW_OK, "%s: geometry", name)) return;
    const size_t nx = (size_t)kp->nblk_pad * 256;
    int8_t *x8 = (int8_t *)malloc(nx);
    uint8_t *tab = (uint8_t *)aligned_alloc(64, (g.table_bytes + 63) / 64 * 64);
    tr_all_int8(x8, nx);
    if (avx2) qlow__lut_tables_avx2(kp, x8, tab);
    else qlow__lut_tables_avx512(kp, x8, tab);
    int64_t bad = 0, unit = 0;
    for (int64_t b = 0; b < kp->nblk_pad; b++) {
        const int64_t nu = b / 16 < g.nchunk - 1 ? 8 : g.nu_last;
        for (int64_t u = 0; u < nu; u++, unit++)
            for (int t = 0; t < 4; t++)
                for (int q = 0; q < 4; q++)
                    for (int n = 0; n < 16; n++) {
                        uint8_t raw = tab[(size_t)unit * 256 + table_byte(avx2, t, q, n)];
                        int got = t < 2 ? (int)raw : (int)(int8_t)raw;
                        bad += got != tr_unit_entry(x8 + b * 256 + 32 * u, t, q, n);
                    }
    }
    QT_CHECK(bad == 0, "%s %s: %lld lookup-table entries differ from their sums", name, avx2 ? "AVX2" : "AVX-512",
             (long long)bad);
    free(x8);
    free(tab);
}
#endif

/* A stored M161 permutation out of the mask's order (two unsalient columns swapped) keeps the
 * gathering preparation: the compress of the mask (qlow__xsrc) would read the columns in mask order.
 * Every kernel level must still equal the generic kernel on the same handle. */
static void check_perm_out_of_mask_order(qlow_ctx *ctx, const int64_t *isas, int nisa)
{
    tp_opts o = {0};
    o.format = QLOW_FORMAT_M161;
    o.rows = 100;
    o.cols = 4096;
    o.col_scale = 1;
    o.store_perm = 1;
    o.n_salient = 400;
    o.no_dequant = 1;
    o.seed = 4242;
    tp_matrix m;
    tp_make(&m, &o);
    int32_t *perm = (int32_t *)m.qm.perm, t = perm[o.n_salient + 3];
    perm[o.n_salient + 3] = perm[o.n_salient + 1000];
    perm[o.n_salient + 1000] = t;
    QT_CHECK(tp_attach_prep(&m), "perm out of mask order: no kernel tables");
    float *x = (float *)malloc((size_t)o.cols * sizeof(float));
    float *yg = (float *)malloc((size_t)o.rows * sizeof(float)), *y = (float *)malloc((size_t)o.rows * sizeof(float));
    for (int64_t j = 0; j < o.cols; j++) x[j] = (float)((j * 37 % 101) - 50) / 17.0f;
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 1));
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC));
    QT_CHECK_OK(tr_run(ctx, &m.qm, x, yg, 0));
    /* were the compress taken, the two columns' activations would trade places and rows would differ */
    for (int ii = 0; ii < nisa; ii++) {
        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, isas[ii]));
        memset(y, 0xFF, (size_t)o.rows * sizeof(float));
        QT_CHECK_OK(tr_run(ctx, &m.qm, x, y, 0));
        QT_CHECK(memcmp(y, yg, (size_t)o.rows * sizeof(float)) == 0,
                 "perm out of mask order, isa %lld: differs from the generic kernel (row 0: %.9g vs %.9g)",
                 (long long)isas[ii], (double)y[0], (double)yg[0]);
    }
    free(x);
    free(y);
    free(yg);
    tp_free(&m);
}

int main(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    int64_t det = 0;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &det));
    /* copies of the binary parts on every x86 level (AVX2 up), of M161's salient part with AVX-512 VNNI */
    const int lut_cpu = qt_isa_runs(QLOW_ISA_AVX2, det), q4t_cpu = det == QLOW_ISA_AVX512_VNNI;
    if (!lut_cpu) printf("INFO this CPU runs no lookup kernel: only the copy and the generic path are checked\n");
    /* the levels whose kernels are compared: the detected one, AVX2 and AVX2_VNNI below it */
    int64_t isas[3] = {det, 0, 0};
    int nisa = 1;
    if (lut_cpu && det != QLOW_ISA_AVX2) isas[nisa++] = QLOW_ISA_AVX2;
    if (det != QLOW_ISA_AVX2_VNNI && qt_isa_runs(QLOW_ISA_AVX2_VNNI, det)) isas[nisa++] = QLOW_ISA_AVX2_VNNI;

    for (size_t si = 0; si < sizeof(SHAPES) / sizeof(SHAPES[0]); si++)
        for (size_t ci = 0; ci < sizeof(CFGS) / sizeof(CFGS[0]); ci++) {
            const cfg *c = &CFGS[ci];
            tp_opts o = {0};
            o.format = c->format;
            o.rows = SHAPES[si][0];
            o.cols = SHAPES[si][1];
            o.col_scale = c->col_scale;
            o.store_perm = c->store_perm;
            o.n_salient = (int64_t)(c->salient_frac * (double)o.cols);
            o.no_dequant = 1;
            o.seed = 77 + si * 31 + ci;
            tp_matrix m;
            tp_make(&m, &o);
            qlow_qmatrix plain = m.qm; /* no kernel tables: the chunk / narrow kernels */
            /* the binary copies in the byte order this CPU's handles do not get (lut.h): on AVX-512
             * the AVX2 lookup kernel and the AVX-512 one's regrouping path run on it, on AVX2 the
             * fallback to the masked kernels */
            qlow_qmatrix other = m.qm;
            size_t prep_n = 0;
            QT_CHECK_OK(qlow__gemm_prep_bytes(&m.qm.p, m.qm.perm != NULL, &prep_n));
            void *prep_mem = aligned_alloc(64, (prep_n + 63) / 64 * 64 + 64);
            other.prep = qlow__gemm_prep_build_layout(&other, prep_mem, prep_n,
                                                      det == QLOW_ISA_AVX512_VNNI ? QLOW__LUT_LANES : QLOW__LUT_ROWS);
            char name[96];
            snprintf(name, sizeof(name), "%s %lldx%lld", c->name, (long long)o.rows, (long long)o.cols);
            QT_CHECK(tp_attach_prep(&m), "%s: no kernel tables", name);
            const qlow__packed *p = &m.qm.p;
            /* M161's salient part gets a row-tiled copy from 128 stored columns on */
            const int sal = c->format == QLOW_FORMAT_M161 && (p->n_salient + 31) / 32 * 32 >= 128;
            const int bin = p->cols - (c->format == QLOW_FORMAT_M161 ? p->n_salient : 0) > 0;
            const int nlut = qlow__gemm_prep_lut_parts(&m.qm);
            QT_CHECK(nlut == (lut_cpu ? bin : 0) + (q4t_cpu ? sal : 0), "%s: %d parts with a row-tiled copy", name, nlut);
            QT_CHECK(other.prep && qlow__gemm_prep_lut_parts(&other) == nlut, "%s: other byte order: no kernel tables",
                     name);
            if (sal) check_salient_copy(p, name);

            /* The binary part, as the kernels describe it. */
            qlow__kpart kp;
            memset(&kp, 0, sizeof(kp));
            kp.format = c->format == QLOW_FORMAT_B2 ? QLOW_FORMAT_B2 : QLOW_FORMAT_B1;
            kp.rows = p->rows;
            kp.cols = p->cols - (c->format == QLOW_FORMAT_M161 ? p->n_salient : 0);
            kp.cols_pad = (kp.cols + 31) / 32 * 32;
            kp.row_bytes = p->row_bytes;
            kp.ablock = 256;
            kp.interleave = 1;
            kp.nblk_pad = (kp.cols_pad / 256 + (kp.cols_pad % 256 != 0) + 15) / 16 * 16;
            kp.codes = p->codes;
            kp.codes2 = c->format == QLOW_FORMAT_B2 ? p->codes2 : NULL;
            if (bin) {
                QT_CHECK(qlow__lut_part_ok(&kp), "%s: part not eligible for the lookup kernel", name);
                check_copy(&kp, 0, name);
                check_copy(&kp, 1, name);
            }
#if defined(QLOW__HAVE_X86_KERNELS)
            if (bin && lut_cpu && si < 2) {
                check_tables(&kp, 1, name);
                if (q4t_cpu) check_tables(&kp, 0, name);
            }
#endif

            float *x = (float *)malloc((size_t)o.cols * sizeof(float));
            tr_activations(x, o.cols, o.seed);
            const qlow_qmatrix *hs[3] = {&m.qm, &plain, &other};
            static const char *const labels[3] = {"with tables", "plain handle", "with tables, other byte order"};
            tr_check_levels(ctx, hs, labels, 3, x, o.rows, isas, nisa, 2, name);
            free(x);
            free(prep_mem);
            tp_free(&m);
        }
    check_perm_out_of_mask_order(ctx, isas, nisa);
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
