/* test_kernels_q2lut.c - the table-lookup kernel of Q2 parts (src/kernels/x86_avx512_q2lut.c) and the
 * row-tiled copy of bit planes and parameters it reads (src/kernels/lut.h):
 *   - the copy holds every code bit and every scale and zero of the stored rows at the documented
 *     place, and zeros for the rows past the matrix, for every group layout;
 *   - the kernel's activation tables hold the documented partial sums, for every int8 activation;
 *   - batch-1 products through the handle's tables equal the generic kernel bit for bit at every x86
 *     level the CPU has, at 1 to 3 threads (row splits that cut a 256-row panel), in both activation
 *     modes, and equal the kernels of a handle without tables;
 *   - the kernel leaves row ranges that do not start a tile to its caller. */
#include "qtest.h"
#include "kernels_testpack.h"
#include "qtest_isa.h"
#include "kernels_testrun.h"
#include "kernels/lut.h"

typedef struct cfg {
    const char *name;
    int symmetric;
    int64_t group_cols, group_rows;
} cfg;

/* one group per block (zero terms per block), groups of 2 and 4 blocks, a group map (96 columns),
 * Q-BERT's row groups, one group per row */
static const cfg CFGS[] = {
    {"g128 asym", 0, 128, 1}, {"g128 sym", 1, 128, 1}, {"g32 asym", 0, 32, 1},        {"g32 sym", 1, 32, 1},
    {"g64 sym", 1, 64, 1},    {"g96 asym", 0, 96, 1},  {"g256 row groups 4", 0, 256, 4}, {"whole rows", 0, 0, 1},
};

/* rows x cols: one 64-row group, partial tiles, a column tail, two panels, a panel split by threads,
 * 11008 columns */
static const int64_t SHAPES[][2] = {{64, 1024}, {100, 4096}, {77, 5000}, {300, 1536}, {520, 2080}, {70, 11008}};

/* The Q2 part of a test matrix as the kernels describe it (what the copy needs). */
static qlow__kpart q2_part(const qlow__packed *p)
{
    qlow__kpart kp = tp_q_kpart(QLOW_FORMAT_Q2, p->rows, p->cols, p->row_bytes, p->codes);
    kp.scale = p->scale;
    kp.zero = p->zero;
    kp.ngroups = (p->cols_pad + p->group_cols - 1) / p->group_cols;
    kp.group_rows = p->group_rows;
    kp.sym_offset = p->symmetric ? 2.0f : 0.0f;
    return kp;
}

/* The copy of kp checked bit by bit and parameter by parameter, from lut.h's prose. */
static void check_copy(const qlow__kpart *kp, const qlow__packed *p, const char *name)
{
    size_t planes = 0, bytes = 0;
    if (!QT_CHECK(qlow__q2t_part_ok(kp) && qlow__q2t_bytes(kp, &planes, &bytes) == QLOW_OK, "%s: not eligible", name))
        return;
    const int64_t tiles = (kp->rows + 15) / 16, nb = kp->nblk, ng = kp->ngroups;
    const size_t E = kp->zero ? 64 : 32;
    QT_CHECK(planes == (size_t)(tiles * nb * 128) && bytes == planes + (size_t)(tiles * ng) * E, "%s: %zu / %zu bytes",
             name, planes, bytes);
    uint8_t *copy = (uint8_t *)malloc(bytes);
    memset(copy, 0xA5, bytes); /* every byte must be written */
    qlow__q2t_pack(kp, copy);
    int64_t bad_bits = 0, bad_params = 0;
    for (int64_t t = 0; t < tiles; t++) {
        const int64_t P = t / 16, j = t % 16, pt = tiles - 16 * P < 16 ? tiles - 16 * P : 16;
        for (int i = 0; i < 16; i++) {
            const int64_t r = 16 * t + i;
            for (int64_t b = 0; b < nb; b++)
                for (int k = 0; k < 2; k++)
                    for (int q = 0; q < 4; q++) {
                        const uint8_t got = copy[64 * (16 * P * nb * 2 + (b * pt + j) * 2 + k) + 4 * i + q];
                        for (int m = 0; m < 8; m++) {
                            unsigned want = 0;
                            if (r < kp->rows) { /* Q2: byte m of a block's 8 holds columns m + 8 q at bits 2 q */
                                const uint8_t c = p->codes[(size_t)r * p->row_bytes + (size_t)b * 8 + (size_t)m];
                                want = (c >> (2 * q + k)) & 1u;
                            }
                            bad_bits += ((got >> m) & 1u) != want;
                        }
                    }
            for (int64_t g = 0; g < ng; g++) {
                const uint8_t *e = copy + planes + (size_t)(16 * P * ng + g * pt + j) * E + 2 * (size_t)i;
                uint16_t s, z = 0;
                memcpy(&s, e, 2);
                if (kp->zero) memcpy(&z, e + 32, 2);
                const size_t at = (size_t)((r / p->group_rows) * ng + g);
                const uint16_t ws = r < kp->rows ? p->scale[at] : 0, wz = r < kp->rows && p->zero ? p->zero[at] : 0;
                bad_params += s != ws || z != wz;
            }
        }
    }
    QT_CHECK(bad_bits == 0, "%s: %lld code bits of the row-tiled copy differ from the rows", name, (long long)bad_bits);
    QT_CHECK(bad_params == 0, "%s: %lld parameters of the row-tiled copy differ", name, (long long)bad_params);
    free(copy);
}

#if defined(QLOW__HAVE_X86_KERNELS)
/* Tables over activations that take every int8 value the quantizer produces (-127..127): entry
 * [t][16 q + n] of block b is the sum over the set bits k of n of column 32 b + 8 q + 4 (t & 1) + k's
 * low (t < 2: x - 16 floor(x / 16)) or high (floor(x / 16)) part. */
static void check_tables(const qlow__kpart *kp, const char *name)
{
    const size_t nx = (size_t)kp->nblk_pad * 32;
    int8_t *x8 = (int8_t *)malloc(nx);
    uint8_t *tab = (uint8_t *)aligned_alloc(64, (size_t)kp->nblk * 256);
    tr_all_int8(x8, nx);
    qlow__q2t_tables_avx512(kp, x8, tab);
    int64_t bad = 0;
    for (int64_t b = 0; b < kp->nblk; b++)
        for (int t = 0; t < 4; t++)
            for (int q = 0; q < 4; q++)
                for (int n = 0; n < 16; n++) {
                    const uint8_t raw = tab[(size_t)b * 256 + (size_t)(t * 64 + 16 * q + n)];
                    bad += (t < 2 ? (int)raw : (int)(int8_t)raw) != tr_unit_entry(x8 + b * 32, t, q, n);
                }
    QT_CHECK(bad == 0, "%s: %lld lookup-table entries differ from their sums", name, (long long)bad);
    free(x8);
    free(tab);
}
#endif

int main(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    int64_t det = 0;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &det));
#if defined(QLOW__HAVE_X86_KERNELS) && !defined(QLOW_NO_LUT_COPY)
    const int q2t_cpu = det == QLOW_ISA_AVX512_VNNI;
#else
    const int q2t_cpu = 0;
#endif
    if (!q2t_cpu) printf("INFO this CPU or build runs no Q2 lookup kernel: the copy and the other paths are checked\n");
    /* the levels compared with the generic kernel: the detected one and every x86 level below it */
    int64_t isas[QT_ISA_LEVELS];
    int nisa = 0;
    for (int i = 0; i < QT_ISA_LEVELS; i++)
        if (qt_isa_runs(qt_isa_levels[i], det)) isas[nisa++] = qt_isa_levels[i];

    for (size_t si = 0; si < sizeof(SHAPES) / sizeof(SHAPES[0]); si++)
        for (size_t ci = 0; ci < sizeof(CFGS) / sizeof(CFGS[0]); ci++) {
            const cfg *c = &CFGS[ci];
            tp_opts o = {0};
            o.format = QLOW_FORMAT_Q2;
            o.rows = SHAPES[si][0];
            o.cols = SHAPES[si][1];
            o.symmetric = c->symmetric;
            o.group_cols = c->group_cols;
            o.group_rows = c->group_rows;
            o.no_dequant = 1;
            o.seed = 313 + si * 37 + ci;
            tp_matrix m;
            tp_make(&m, &o);
            qlow_qmatrix plain = m.qm; /* no kernel tables */
            char name[96];
            snprintf(name, sizeof(name), "Q2 %s %lldx%lld", c->name, (long long)o.rows, (long long)o.cols);
            QT_CHECK(tp_attach_prep(&m), "%s: no kernel tables", name);
            const int nlut = qlow__gemm_prep_lut_parts(&m.qm);
            QT_CHECK(nlut == q2t_cpu, "%s: %d parts with a row-tiled copy", name, nlut);
            const qlow__kpart kp = q2_part(&m.qm.p);
            check_copy(&kp, &m.qm.p, name);
#if defined(QLOW__HAVE_X86_KERNELS)
            if (q2t_cpu && ci == 0) check_tables(&kp, name);
            if (q2t_cpu && ci == 0 && si == 0) { /* rows not starting a tile are left to the caller */
                qlow__xq xq;
                memset(&xq, 0, sizeof(xq));
                float y1 = 0.0f;
                QT_CHECK(qlow__q2t_rows_avx512(&kp, &xq, 8, 16, &y1, 0) == 8 && y1 == 0.0f,
                         "%s: the kernel ran rows 8..16", name);
            }
#endif

            float *x = (float *)malloc((size_t)o.cols * sizeof(float));
            tr_activations(x, o.cols, o.seed);
            const qlow_qmatrix *hs[2] = {&m.qm, &plain}; /* plain: the chunk kernels */
            static const char *const labels[2] = {"with tables", "plain handle"};
            tr_check_levels(ctx, hs, labels, 2, x, o.rows, isas, nisa, 3, name);
            free(x);
            tp_free(&m);
        }
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
