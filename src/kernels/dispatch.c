/* dispatch.c - the public GEMV/GEMM entry points: validation, workspace carving, activation
 * preparation, and the row split over threads. The kernel set is picked per call from the context's
 * ISA level (qlow__ctx_isa), so QLOW_CTX_ISA_MAX takes effect immediately. */
#include "kernels/act.h"
#include "kernels/lut.h"

#ifdef _OPENMP
#include <omp.h>
#endif

const qlow__kernel_set *qlow__kernels_for_isa(int isa)
{
#if defined(QLOW__HAVE_X86_KERNELS)
    if (isa == QLOW_ISA_AVX512_VNNI) return &qlow__kernels_avx512;
#if defined(QLOW__HAVE_AVX_VNNI_KERNELS)
    if (isa == QLOW_ISA_AVX2_VNNI) return &qlow__kernels_avx2_vnni;
#endif
    if (qlow__isa_has_avx2(isa)) return &qlow__kernels_avx2; /* AVX512 without VNNI/VBMI included */
#endif
#if defined(QLOW__HAVE_NEON_KERNELS)
    if (isa == QLOW_ISA_NEON) return &qlow__kernels_neon;
#endif
    (void)isa;
    return &qlow__kernels_generic;
}

/* ---- the parts of a matrix ---------------------------------------------------------------------- */

typedef struct gemm_plan {
    const qlow__packed *p;
    qlow__kpart part[2];
    qlow__act_src src[2];
    int nparts;
    int need_perm; /* M161 without a stored permutation: derive it from col_mask */
} gemm_plan;

static int64_t round_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

static void part_blocks(qlow__kpart *kp, int32_t kind, int64_t rows, int64_t cols, int qtrans)
{
    kp->format = kind;
    kp->rows = rows;
    kp->cols = cols;
    kp->cols_pad = round_up(cols, QLOW__BLOCK);
    switch (kind) {
    case QLOW_FORMAT_B1:
    case QLOW_FORMAT_B2:
        kp->ablock = 256;
        kp->xord = QLOW__XORD_NAT;
        kp->interleave = 1;
        break;
    case QLOW_FORMAT_T2:
        kp->ablock = 256;
        kp->xord = QLOW__XORD_Q2;
        kp->interleave = 1;
        break;
    case QLOW_FORMAT_T158:
        kp->ablock = 320;
        kp->xord = QLOW__XORD_T158;
        kp->interleave = 1;
        break;
    case QLOW_FORMAT_Q4:
        kp->ablock = QLOW__BLOCK;
        kp->xord = qtrans ? QLOW__XORD_Q4T : QLOW__XORD_Q4;
        break;
    case QLOW_FORMAT_Q8:
        kp->ablock = QLOW__BLOCK;
        kp->xord = qtrans >= 2 ? QLOW__XORD_Q8T : QLOW__XORD_NAT;
        break;
    default: /* Q3, Q2 */
        kp->ablock = QLOW__BLOCK;
        kp->xord = qtrans ? QLOW__XORD_Q2T : QLOW__XORD_Q2;
        break;
    }
    kp->nblk = kind == QLOW_FORMAT_T158 ? (int64_t)((kp->row_bytes + 63) / 64) : (kp->cols_pad + kp->ablock - 1) / kp->ablock;
    kp->nblk_pad = round_up(kp->nblk, QLOW__LANES);
    if (kp->interleave) kp->nblk = kp->nblk_pad; /* every lane of a chunk holds columns */
}

static size_t q_block_bytes(int32_t f) { return f == QLOW_FORMAT_Q8 ? 32 : f == QLOW_FORMAT_Q4 ? 16 : 8; }

/* Check what the kernels rely on and describe the parts. Shapes and plane sizes are not re-derived
 * from the buffer (the qmatrix builder validated them); this guards against misuse and corruption
 * of the fields the kernels index with. */
static qlow_status plan_parts(const qlow_qmatrix *qm, gemm_plan *pl, int qtrans)
{
    memset(pl, 0, sizeof(*pl));
    if (!qm) return QLOW_E_NULL_POINTER;
    if (qm->magic != QLOW__QMATRIX_MAGIC) return QLOW_E_INVALID_ARG;
    const qlow__packed *p = &qm->p;
    pl->p = p;
    if (p->rows < 1 || p->cols < 1) return QLOW_E_SHAPE;
    const int32_t f = p->format;
    qlow__kpart *kp = &pl->part[0];
    switch (f) {
    case QLOW_FORMAT_Q8:
    case QLOW_FORMAT_Q4:
    case QLOW_FORMAT_Q3:
    case QLOW_FORMAT_Q2: {
        int64_t cp = round_up(p->cols, QLOW__BLOCK);
        size_t need = f == QLOW_FORMAT_Q3 ? (size_t)cp / 4 : (size_t)cp / 32 * q_block_bytes(f);
        if (!p->codes || !p->scale || p->row_bytes < need) return QLOW_E_FORMAT;
        if (f == QLOW_FORMAT_Q3 && !p->codes_hi) return QLOW_E_FORMAT;
        if (!p->symmetric && !p->zero) return QLOW_E_FORMAT;
        if (p->group_cols < QLOW__BLOCK || p->group_rows < 1) return QLOW_E_FORMAT;
        if (p->group_cols % QLOW__BLOCK != 0 && p->group_cols != cp) return QLOW_E_FORMAT;
        kp->row_bytes = p->row_bytes;
        kp->codes = p->codes;
        kp->codes_hi = f == QLOW_FORMAT_Q3 ? p->codes_hi : NULL;
        kp->scale = p->scale;
        kp->zero = p->symmetric ? NULL : p->zero;
        kp->ngroups = (cp + p->group_cols - 1) / p->group_cols;
        kp->group_rows = p->group_rows;
        kp->group_shift = -1;
        for (int32_t sh = 1; sh <= 4; sh++)
            if (p->group_cols == (int64_t)QLOW__BLOCK << sh) kp->group_shift = sh;
        int bits = f == QLOW_FORMAT_Q8 ? 8 : f == QLOW_FORMAT_Q4 ? 4 : f == QLOW_FORMAT_Q3 ? 3 : 2;
        kp->sym_offset = p->symmetric ? (float)(1 << (bits - 1)) : 0.0f;
        part_blocks(kp, f, p->rows, p->cols, qtrans);
        pl->nparts = 1;
        return QLOW_OK;
    }
    case QLOW_FORMAT_B1:
    case QLOW_FORMAT_B2:
    case QLOW_FORMAT_T2:
    case QLOW_FORMAT_T158: {
        int64_t cp = round_up(p->cols, QLOW__BLOCK);
        size_t need = f == QLOW_FORMAT_T158 ? (size_t)(cp + 4) / 5 : f == QLOW_FORMAT_T2 ? (size_t)cp / 4 : (size_t)cp / 8;
        if (!p->codes || !p->alpha) return QLOW_E_FORMAT;
        if ((f == QLOW_FORMAT_B1 || f == QLOW_FORMAT_B2) && !p->mu) return QLOW_E_FORMAT;
        if (f == QLOW_FORMAT_B2 && (!p->codes2 || !p->alpha2)) return QLOW_E_FORMAT;
        kp->row_bytes = need;
        kp->codes = p->codes;
        kp->codes2 = f == QLOW_FORMAT_B2 ? p->codes2 : NULL;
        kp->alpha = p->alpha;
        kp->alpha2 = p->alpha2;
        kp->mu = p->mu;
        /* The kernels use row_bytes as both stride and length of these planes. */
        if (p->row_bytes != need) return QLOW_E_FORMAT;
        part_blocks(kp, f, p->rows, p->cols, qtrans);
        if (f == QLOW_FORMAT_B1) pl->src[0].colscale = p->col_scale;
        pl->nparts = 1;
        return QLOW_OK;
    }
    case QLOW_FORMAT_M161: {
        int64_t ns = p->n_salient, nu = p->cols - p->n_salient;
        if (ns < 0 || nu < 0 || !p->col_mask) return QLOW_E_FORMAT;
        int k = 0;
        if (ns > 0) {
            int64_t cps = round_up(ns, QLOW__BLOCK);
            if (!p->sal_codes || !p->sal_scale || !p->sal_zero || p->sal_row_bytes < (size_t)cps / 2)
                return QLOW_E_FORMAT;
            qlow__kpart *s = &pl->part[k];
            s->row_bytes = p->sal_row_bytes;
            s->codes = p->sal_codes;
            s->scale = p->sal_scale;
            s->zero = p->sal_zero;
            s->ngroups = 1;
            s->group_rows = 1;
            s->group_shift = -1;
            s->m161_salient = 1;
            part_blocks(s, QLOW_FORMAT_Q4, p->rows, ns, qtrans);
            pl->src[k].perm = qm->perm; /* filled in by the caller when derived */
            k++;
        }
        if (nu > 0) {
            int64_t cpu = round_up(nu, QLOW__BLOCK);
            if (!p->codes || !p->alpha || !p->mu || p->row_bytes != (size_t)cpu / 8) return QLOW_E_FORMAT;
            qlow__kpart *u = &pl->part[k];
            u->row_bytes = p->row_bytes;
            u->codes = p->codes;
            u->alpha = p->alpha;
            u->mu = p->mu;
            part_blocks(u, QLOW_FORMAT_B1, p->rows, nu, qtrans);
            pl->src[k].perm = qm->perm ? qm->perm + ns : NULL;
            pl->src[k].colscale = p->col_scale;
            k++;
        }
        pl->nparts = k;
        pl->need_perm = qm->perm == NULL;
        return QLOW_OK;
    }
    default: return QLOW_E_FORMAT;
    }
}

/* ---- per-matrix tables ---------------------------------------------------------------------------
 * What depends only on the matrix (the M161 permutation, fp32 column scales, the Q group maps) is
 * computed once, when the handle is built, into a side area of the handle (qlow__gemm_prep). A handle
 * without one (built by hand, or a copy of a handle) gets the same tables carved from the workspace and
 * filled on every call; both give identical bytes. */

typedef struct gemm_tables {
    int32_t *perm;           /* M161 permutation when the handle has none */
    float *colscale_f32[2];  /* per part with a column scale */
    uint16_t *grel[2];       /* per Q part */
    int32_t *g0[2];
} gemm_tables;

#define QTRANS_LEVELS 3 /* kernel sets' qtrans values: 0, 1, 2 */

struct qlow__gemm_prep {
    const qlow_qmatrix *owner; /* the handle it was built for: a copy of the handle does not use it */
    qlow__packed p;            /* the description it was built from, checked on every call */
    const int32_t *perm;       /* the handle's perm when it was built */
    gemm_plan plan[4];         /* by the kernel set's qtrans; [3]: AVX-512 at batch 1 (narrow Q parts
                                * and Q2 parts with a row-tiled copy keep their activations in natural
                                * order, all their kernels read) */
    size_t need1;              /* workspace bytes of a batch-1 call (0: count per call) */
};

/* Carve (or, with w->base == NULL, only count) the tables of a plan. */
static void carve_tables(qlow__wksp *w, const gemm_plan *pl, gemm_tables *t)
{
    memset(t, 0, sizeof(*t));
    t->perm = pl->need_perm ? (int32_t *)qlow__wksp_take(w, (size_t)pl->p->cols * sizeof(int32_t)) : NULL;
    for (int k = 0; k < pl->nparts; k++) {
        const qlow__kpart *kp = &pl->part[k];
        if (pl->src[k].colscale) t->colscale_f32[k] = (float *)qlow__wksp_take(w, (size_t)kp->cols * sizeof(float));
        if (kp->format >= QLOW_FORMAT_Q8 && kp->format <= QLOW_FORMAT_Q2) {
            t->grel[k] = (uint16_t *)qlow__wksp_take(w, (size_t)kp->nblk_pad * sizeof(uint16_t));
            t->g0[k] = (int32_t *)qlow__wksp_take(w, (size_t)kp->nblk_pad / QLOW__LANES * sizeof(int32_t));
        }
    }
}

static void derive_perm(const qlow__packed *p, int32_t *perm)
{
    int64_t s = 0, u = p->n_salient;
    for (int64_t j = 0; j < p->cols; j++) {
        int sal = (p->col_mask[j >> 3] >> (j & 7)) & 1;
        if (sal && s < p->n_salient)
            perm[s++] = (int32_t)j;
        else if (u < p->cols)
            perm[u++] = (int32_t)j;
    }
}

/* Whether perm is derive_perm's order and that order is a compress of col_mask: the salient part the
 * set bits, the other part the clear ones, each ascending (so exactly n_salient bits are set). */
static int perm_is_mask_order(const qlow__packed *p, const int32_t *perm)
{
    int64_t s = 0, u = p->n_salient;
    for (int64_t j = 0; j < p->cols; j++) {
        const int sal = (p->col_mask[j >> 3] >> (j & 7)) & 1;
        const int64_t at = sal ? s++ : u++;
        if (at >= p->cols || (sal && at >= p->n_salient) || perm[at] != (int32_t)j) return 0;
    }
    return s == p->n_salient;
}

/* Record on each M161 part that its gather is a compress of col_mask (qlow__act_src). */
static void mark_mask_order(gemm_plan *pl, const int32_t *perm)
{
    const qlow__packed *p = pl->p;
    if (p->format != QLOW_FORMAT_M161 || !perm || !p->col_mask || !perm_is_mask_order(p, perm)) return;
    for (int k = 0; k < pl->nparts; k++) {
        pl->src[k].sel_mask = p->col_mask;
        pl->src[k].sel_cols = p->cols;
        pl->src[k].sel_bit = p->n_salient > 0 && pl->src[k].perm == perm; /* the salient list comes first */
    }
}

/* Fill carved tables and point the plan at them. */
static void fill_tables(gemm_plan *pl, const gemm_tables *t)
{
    const qlow__packed *p = pl->p;
    if (pl->need_perm) {
        derive_perm(p, t->perm);
        int k = 0;
        if (p->n_salient > 0) pl->src[k++].perm = t->perm;
        if (p->cols - p->n_salient > 0) pl->src[k].perm = t->perm + p->n_salient;
        pl->need_perm = 0;
        mark_mask_order(pl, t->perm);
    }
    for (int k = 0; k < pl->nparts; k++) {
        qlow__kpart *kp = &pl->part[k];
        if (t->colscale_f32[k]) {
            for (int64_t j = 0; j < kp->cols; j++) t->colscale_f32[k][j] = qlow__h2f(pl->src[k].colscale[j]);
            pl->src[k].colscale_f32 = t->colscale_f32[k];
        }
        if (t->grel[k]) {
            int64_t gc = p->format == QLOW_FORMAT_M161 ? kp->cols_pad : p->group_cols;
            qlow__q_group_maps(kp->nblk, kp->nblk_pad, gc, kp->ngroups, t->grel[k], t->g0[k]);
            kp->grel = t->grel[k];
            kp->g0 = t->g0[k];
        }
    }
}

/* Whether every code byte of T158 part kp is below 243. The handle is immutable, so one look when it
 * is built lets its batch-1 kernels leave out the per-call check for bytes 243..255 (x86_avx512.c). */
static int t158_codes_below_243(const qlow__kpart *kp)
{
    if (kp->format != QLOW_FORMAT_T158 || !kp->codes) return 0;
    const size_t n = (size_t)kp->rows * kp->row_bytes;
    uint8_t hi = 0;
    for (size_t i = 0; i < n; i++) hi = kp->codes[i] > hi ? kp->codes[i] : hi;
    return hi < 243;
}

static size_t prep_head_bytes(void) { return qlow__align_up(sizeof(qlow__gemm_prep), 64); }

static qlow_status ws_bytes(const gemm_plan *pl, int with_tables, int64_t batch, size_t *bytes);

/* Parts small enough to get a prepared activation order (2 bytes of map per column). */
#define XMAP_MAX_BYTES 4096u

static int part_has_xmap(const qlow__kpart *kp)
{
    return !kp->interleave && kp->xord != QLOW__XORD_NAT && qlow__act_x8_bytes(kp) <= XMAP_MAX_BYTES;
}

/* Q parts of one 16-block chunk get their parameters transposed (see qlow__kpart.scale_t). */
static int part_has_ptab(const qlow__kpart *kp)
{
    return kp->format >= QLOW_FORMAT_Q8 && kp->format <= QLOW_FORMAT_Q2 && kp->nblk_pad == QLOW__LANES &&
           kp->rows < QLOW__NARROW_Q_MAX_ROWS;
}

static void fill_ptab(const qlow__kpart *kp, const uint16_t *plane, uint16_t *tab, int64_t rows_t)
{
    for (int64_t g = 0; g < kp->ngroups; g++)
        for (int64_t r = 0; r < rows_t; r++) {
            int64_t src = r < kp->rows ? r : kp->rows - 1;
            tab[g * rows_t + r] = plane[qlow__q_param_offset(kp, src) + (size_t)g];
        }
}

/* Carve (or count) and fill the transposed parameters of plan pl's parts. */
static void carve_ptabs(qlow__wksp *w, gemm_plan *pl)
{
    for (int k = 0; k < pl->nparts; k++) {
        qlow__kpart *kp = &pl->part[k];
        if (!part_has_ptab(kp)) continue;
        const int64_t rows_t = kp->rows + 15;
        const size_t n = (size_t)kp->ngroups * (size_t)rows_t * sizeof(uint16_t);
        uint16_t *st = (uint16_t *)qlow__wksp_take(w, n);
        uint16_t *zt = kp->zero ? (uint16_t *)qlow__wksp_take(w, n) : NULL;
        if (!st || (kp->zero && !zt)) continue;
        fill_ptab(kp, kp->scale, st, rows_t);
        if (zt) fill_ptab(kp, kp->zero, zt, rows_t);
        kp->scale_t = st;
        kp->zero_t = zt;
        kp->rows_t = rows_t;
    }
}

/* Carve (or count) and fill the activation-order maps of a plan: the 4-byte runs of the kernel order
 * whose source lies in the stored columns (cols_pad / 4 of them). */
static void carve_xmaps(qlow__wksp *w, gemm_plan *pl)
{
    for (int k = 0; k < pl->nparts; k++) {
        qlow__kpart *kp = &pl->part[k];
        if (!part_has_xmap(kp)) continue;
        const size_t nx = qlow__act_x8_bytes(kp), live = (size_t)kp->cols_pad;
        uint32_t *map = (uint32_t *)qlow__wksp_take(w, live / 4 * 2 * sizeof(uint32_t));
        if (!map) continue;
        int64_t runs = 0;
        for (size_t p = 0; p < nx; p += 4) {
            size_t src = qlow__xord_source(kp->xord, p);
            if (src >= live) continue;
            map[2 * runs] = (uint32_t)p;
            map[2 * runs + 1] = (uint32_t)src;
            runs++;
        }
        kp->xmap = map;
        kp->xmap_runs = runs;
    }
}

/* B1-kind parts get a row-tiled copy of their sign planes when this CPU runs a lookup kernel (lut.h,
 * any x86-64 with AVX2): one more bit per binary weight in the handle, for a batch-1 product about
 * twice as fast (4096 x 4096 B1, 1 thread, hot: AVX-512 100 -> 46 us, AVX2 210 -> 108 us). On CPUs
 * with AVX-512 VNNI and VBMI, M161's salient part gets a row-tiled copy of its codes too
 * (x86_avx512_q4tile.c). QLOW_NO_LUT_COPY builds keep handles small. cpu_isa is the CPU's best level,
 * read once per handle. */
static int lut_cpu(int cpu_isa)
{
#if defined(QLOW__HAVE_X86_KERNELS) && !defined(QLOW_NO_LUT_COPY)
    return qlow__isa_has_avx2(cpu_isa);
#else
    (void)cpu_isa;
    return 0;
#endif
}
static int q4t_cpu(int cpu_isa) { return lut_cpu(cpu_isa) && cpu_isa == QLOW_ISA_AVX512_VNNI; }
/* Q2 parts get a row-tiled copy of their bit planes and parameters on the same CPUs (lut.h,
 * x86_avx512_q2lut.c): 2 bits per weight more in the handle, for a faster batch-1 product (4096 x 4096
 * g128, Zen 4, 1 thread: hot 208 -> 164 us, cold 232-236 -> 210-217 us; see docs/kernels.md). */
static int q2t_cpu(int cpu_isa) { return q4t_cpu(cpu_isa); }

/* Carve (or count) and fill the row-tiled copies of plan pl's parts (binary parts, M161's salient part, Q2),
 * the binary ones in byte order `layout` (QLOW__LUT_AUTO: by row where the AVX-512 lookup kernel runs). */
static void carve_luts(qlow__wksp *w, gemm_plan *pl, int layout)
{
    const int cpu_isa = qlow__cpu_best_isa();
    const int by_row = layout == QLOW__LUT_AUTO ? cpu_isa == QLOW_ISA_AVX512_VNNI : layout == QLOW__LUT_ROWS;
    for (int k = 0; k < pl->nparts; k++) {
        qlow__kpart *kp = &pl->part[k];
        size_t q4b, q2planes, q2b;
        if (q4t_cpu(cpu_isa) && qlow__q4t_part_ok(kp) && qlow__q4t_bytes(kp, &q4b) == QLOW_OK) {
            uint8_t *q = (uint8_t *)qlow__wksp_take(w, q4b);
            if (q) {
                qlow__q4t_pack(kp, q);
                kp->q4t = q;
            }
            continue;
        }
        if (q2t_cpu(cpu_isa) && qlow__q2t_part_ok(kp) && qlow__q2t_bytes(kp, &q2planes, &q2b) == QLOW_OK) {
            uint8_t *q = (uint8_t *)qlow__wksp_take(w, q2b);
            if (q) {
                qlow__q2t_pack(kp, q);
                kp->q2t = q;
            }
            continue;
        }
        qlow__lut_geom g;
        if (!lut_cpu(cpu_isa) || !qlow__lut_part_ok(kp) || qlow__lut_geometry(kp, &g) != QLOW_OK) continue;
        uint8_t *a = (uint8_t *)qlow__wksp_take(w, g.plane_bytes);
        if (!a) continue;
        kp->lut_by_row = by_row;
        qlow__lut_pack(kp, &g, a);
        kp->lut = a;
    }
}

qlow_status qlow__gemm_prep_bytes(const qlow__packed *p, int perm_stored, size_t *bytes)
{
    qlow_qmatrix probe;
    memset(&probe, 0, sizeof(probe));
    probe.magic = QLOW__QMATRIX_MAGIC;
    probe.p = *p;
    gemm_plan pl;
    if (plan_parts(&probe, &pl, 0) != QLOW_OK) { /* the kernels report it on every call */
        *bytes = 0;
        return QLOW_OK;
    }
    pl.need_perm = pl.need_perm && !perm_stored;
    qlow__wksp w;
    qlow__wksp_init(&w, NULL, 0);
    (void)qlow__wksp_take(&w, prep_head_bytes());
    gemm_tables t;
    carve_tables(&w, &pl, &t);
    carve_ptabs(&w, &pl);
    for (int q = 0; q < QTRANS_LEVELS; q++) {
        gemm_plan pq;
        if (plan_parts(&probe, &pq, q) == QLOW_OK) carve_xmaps(&w, &pq);
    }
    carve_luts(&w, &pl, QLOW__LUT_AUTO); /* both byte orders take the same bytes */
    if (w.overflow) return QLOW_E_OVERFLOW;
    *bytes = w.used;
    return QLOW_OK;
}

const qlow__gemm_prep *qlow__gemm_prep_build(const qlow_qmatrix *qm, void *mem, size_t bytes)
{
    return qlow__gemm_prep_build_layout(qm, mem, bytes, QLOW__LUT_AUTO);
}

const qlow__gemm_prep *qlow__gemm_prep_build_layout(const qlow_qmatrix *qm, void *mem, size_t bytes, int lut_layout)
{
    if (!mem || bytes < prep_head_bytes()) return NULL;
    qlow__wksp w;
    qlow__wksp_init(&w, mem, bytes);
    qlow__gemm_prep *pr = (qlow__gemm_prep *)qlow__wksp_take(&w, prep_head_bytes());
    memset(pr, 0, sizeof(*pr));
    pr->owner = qm;
    pr->p = qm->p;
    pr->perm = qm->perm;
    gemm_tables t;
    for (int q = 0; q < QTRANS_LEVELS; q++)
        if (plan_parts(qm, &pr->plan[q], q) != QLOW_OK) return NULL;
    carve_tables(&w, &pr->plan[0], &t);
    if (w.overflow) return NULL;
    fill_tables(&pr->plan[0], &t);
    if (qm->perm) mark_mask_order(&pr->plan[0], qm->perm);
    carve_ptabs(&w, &pr->plan[0]);
    for (int q = 0; q < QTRANS_LEVELS; q++) carve_xmaps(&w, &pr->plan[q]);
    carve_luts(&w, &pr->plan[0], lut_layout);
    if (w.overflow) return NULL;
    for (int k = 0; k < pr->plan[0].nparts; k++)
        pr->plan[0].part[k].t158_codes_checked = t158_codes_below_243(&pr->plan[0].part[k]);
    /* The orders share every table; only the activation order of Q parts differs. */
    for (int q = 1; q < QTRANS_LEVELS; q++) {
        pr->plan[q].need_perm = 0;
        for (int k = 0; k < pr->plan[q].nparts; k++) {
            const qlow__kpart *k0 = &pr->plan[0].part[k];
            qlow__kpart *kp = &pr->plan[q].part[k];
            pr->plan[q].src[k] = pr->plan[0].src[k];
            kp->grel = k0->grel;
            kp->g0 = k0->g0;
            kp->scale_t = k0->scale_t;
            kp->zero_t = k0->zero_t;
            kp->rows_t = k0->rows_t;
            kp->lut = k0->lut;
            kp->lut_by_row = k0->lut_by_row;
            kp->q4t = k0->q4t;
            kp->q2t = k0->q2t;
            kp->t158_codes_checked = k0->t158_codes_checked;
        }
    }
    pr->plan[3] = pr->plan[2];
#if defined(QLOW__HAVE_X86_KERNELS)
    for (int k = 0; k < pr->plan[3].nparts; k++) {
        qlow__kpart *kp = &pr->plan[3].part[k];
        /* as the Q2 lookup kernel's tables, which are built from the natural order */
        if (qlow__narrow_q_ok(kp) || kp->q2t) {
            kp->xord = QLOW__XORD_NAT;
            kp->xmap = NULL;
            kp->xmap_runs = 0;
        }
    }
#endif
    /* The plans point at the handle's packed description, which is what the kernels read. */
    for (int q = 0; q < 4; q++) pr->plan[q].p = &qm->p;
    if (ws_bytes(&pr->plan[0], 0, 1, &pr->need1) != QLOW_OK) pr->need1 = 0;
    return pr;
}

/* Word-wise equality of two packed descriptions (firmware builds have no memcmp). */
static int same_packed(const qlow__packed *a, const qlow__packed *b)
{
    _Static_assert(sizeof(qlow__packed) % sizeof(uint64_t) == 0, "qlow__packed is compared in words");
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    uint64_t diff = 0;
    for (size_t i = 0; i < sizeof(*a); i += sizeof(uint64_t)) {
        uint64_t u, v;
        memcpy(&u, x + i, sizeof(u));
        memcpy(&v, y + i, sizeof(v));
        diff |= u ^ v;
    }
    return diff == 0;
}

/* The handle's tables, if they still describe it. */
static const qlow__gemm_prep *handle_prep(const qlow_qmatrix *qm)
{
    const qlow__gemm_prep *pr = qm->prep;
    if (!pr || pr->owner != qm || pr->perm != qm->perm || !same_packed(&pr->p, &qm->p)) return NULL;
    return pr;
}

int qlow__gemm_prep_t158_checked_parts(const qlow_qmatrix *qm)
{
    const qlow__gemm_prep *pr = qm ? handle_prep(qm) : NULL;
    int n = 0;
    for (int k = 0; pr && k < pr->plan[0].nparts; k++) n += pr->plan[0].part[k].t158_codes_checked != 0;
    return n;
}

int qlow__gemm_prep_lut_parts(const qlow_qmatrix *qm)
{
    const qlow__gemm_prep *pr = qm ? handle_prep(qm) : NULL;
    int n = 0;
    for (int k = 0; pr && k < pr->plan[0].nparts; k++) {
        const qlow__kpart *kp = &pr->plan[0].part[k];
        n += kp->lut || kp->q4t || kp->q2t;
    }
    return n;
}

/* ---- workspace ---------------------------------------------------------------------------------- */

typedef struct gemm_ws {
    qlow__xq *xq;      /* [nparts][batch] */
    qlow__xbuf *xbuf;  /* [nparts][batch] */
    qlow_status *tok_status;
} gemm_ws;

/* Whether part k needs the natural-order gather buffer v: interleaved parts gather into vb (the
 * portable preparation in block-major order, the narrow AVX-512 one in natural order, which fits). */
static int part_gathers(const gemm_plan *pl, int k)
{
    return !pl->part[k].interleave && (pl->p->format == QLOW_FORMAT_M161 || pl->src[k].colscale != NULL);
}

/* Carve (or, with w->base == NULL, only count) the per-token scratch of one call. */
static void carve_tokens(qlow__wksp *w, const gemm_plan *pl, int64_t batch, gemm_ws *ws)
{
    const size_t nb = (size_t)batch;
    ws->xq = (qlow__xq *)qlow__wksp_take(w, (size_t)pl->nparts * nb * sizeof(qlow__xq));
    ws->xbuf = (qlow__xbuf *)qlow__wksp_take(w, (size_t)pl->nparts * nb * sizeof(qlow__xbuf));
    ws->tok_status = (qlow_status *)qlow__wksp_take(w, (size_t)pl->nparts * nb * sizeof(qlow_status));
    for (int k = 0; k < pl->nparts; k++) {
        const qlow__kpart *kp = &pl->part[k];
        for (size_t t = 0; t < nb; t++) {
            qlow__xbuf b;
            b.x8 = (int8_t *)qlow__wksp_take(w, qlow__act_x8_bytes(kp));
            /* Q8 parts too: plan 0, which sizes the workspace, keeps them in natural order */
            b.x8p = kp->xord != QLOW__XORD_NAT || kp->interleave || kp->format == QLOW_FORMAT_Q8
                        ? (int8_t *)qlow__wksp_take(w, qlow__act_x8_bytes(kp))
                        : NULL;
            b.xs = (float *)qlow__wksp_take(w, qlow__act_f_bytes(kp));
            b.xsum = (float *)qlow__wksp_take(w, qlow__act_f_bytes(kp));
            b.xgsum = kp->interleave || qlow__q_zero_per_block(kp) ? NULL
                                                                 : (float *)qlow__wksp_take(w, qlow__act_f_bytes(kp));
            b.v = part_gathers(pl, k) ? (float *)qlow__wksp_take(w, (size_t)kp->cols * sizeof(float)) : NULL;
            b.vb = kp->interleave ? (float *)qlow__wksp_take(w, qlow__act_x8_bytes(kp) * sizeof(float)) : NULL;
            b.ltab = NULL;
            qlow__lut_geom g;
            if (batch == 1 && kp->lut && qlow__lut_geometry(kp, &g) == QLOW_OK)
                b.ltab = (uint8_t *)qlow__wksp_take(w, g.table_bytes);
            else if (batch == 1 && kp->q2t)
                b.ltab = (uint8_t *)qlow__wksp_take(w, qlow__q2t_table_bytes(kp));
            if (ws->xbuf) ws->xbuf[(size_t)k * nb + t] = b;
        }
    }
}

static qlow_status check_batch(int64_t batch)
{
    if (batch < 1) return QLOW_E_SHAPE;
    if ((uint64_t)batch > (uint64_t)1 << 40) return QLOW_E_OVERFLOW;
    return QLOW_OK;
}

/* Workspace bytes of a call: the tables unless the handle has them, then the per-token scratch. */
static qlow_status ws_bytes(const gemm_plan *pl, int with_tables, int64_t batch, size_t *bytes)
{
    size_t per_tok = 0;
    for (int k = 0; k < pl->nparts; k++) {
        size_t x8 = qlow__act_x8_bytes(&pl->part[k]), f = qlow__act_f_bytes(&pl->part[k]);
        per_tok += 6 * x8 + 3 * f + (size_t)pl->part[k].cols * sizeof(float) + 6 * 64;
    }
    /* Reject batches whose scratch cannot be addressed before counting it block by block. */
    size_t total;
    if (qlow__mul_size(per_tok, (size_t)batch, &total) != QLOW_OK) return QLOW_E_OVERFLOW;
    qlow__wksp w;
    qlow__wksp_init(&w, NULL, 0);
    gemm_tables t;
    if (with_tables) carve_tables(&w, pl, &t);
    gemm_ws ws;
    carve_tokens(&w, pl, batch, &ws);
    if (w.overflow) return QLOW_E_OVERFLOW;
    *bytes = w.used + 64;
    return QLOW_OK;
}

/* The plan of a call: the handle's own, or `local` planned now (then the tables come from the
 * workspace). */
static qlow_status call_plan(const qlow_qmatrix *qm, int qtrans, int narrow, gemm_plan *local, const gemm_plan **pl)
{
    const qlow__gemm_prep *pr = handle_prep(qm);
    if (pr) {
        *pl = &pr->plan[narrow ? 3 : qtrans];
        return QLOW_OK;
    }
    QLOW_TRY(plan_parts(qm, local, qtrans));
    *pl = local;
    return QLOW_OK;
}

qlow_status qlow_gemm_workspace_size(const qlow_qmatrix *qm, int64_t batch, int32_t flags, size_t *bytes)
{
    if (!qm || !bytes) return QLOW_E_NULL_POINTER;
    if (flags & ~(int32_t)QLOW_GEMM_ACT8) return QLOW_E_INVALID_ARG;
    QLOW_TRY(check_batch(batch));
    if (qm->magic != QLOW__QMATRIX_MAGIC) return QLOW_E_INVALID_ARG;
    gemm_plan local;
    const gemm_plan *pl;
    QLOW_TRY(call_plan(qm, 0, 0, &local, &pl)); /* the other orders need no more room */
    size_t n;
    QLOW_TRY(ws_bytes(pl, pl == &local, batch, &n));
    *bytes = n;
    return QLOW_OK;
}

/* ---- the computation ---------------------------------------------------------------------------- */

/* Below this much work (weights x tokens for the rows, activation bytes for the quantization) a call
 * runs on the calling thread: starting a parallel region costs more than it saves. The split never
 * changes results. */
#define PAR_MIN_ROW_WORK ((int64_t)1 << 18)
#define PAR_MIN_ACT_WORK ((int64_t)1 << 15)

/* Rows per task: enough work per task to amortize the thread start. */
static int64_t row_tasks(int64_t rows, int threads) { return threads > 1 && rows >= 2 * threads ? threads : 1; }

/* First row of task `task` of ntasks: an even split, rounded down to a multiple of `split`. */
static int64_t task_row(int64_t rows, int64_t task, int64_t ntasks, int64_t split)
{
    return task >= ntasks ? rows : rows * task / ntasks / split * split;
}

/* Batch-1 calls read the row-tiled copies (lut.h) of the parts that have one: binary parts through the
 * set's lookup kernel (x86_avx512_lut.c, x86_avx2_lut.c), on AVX-512 M161's salient part through
 * x86_avx512_q4tile.c and Q2 parts through x86_avx512_q2lut.c. */
static int lut_b(const qlow__kernel_set *ks, const qlow__kpart *kp, int64_t batch)
{
    return batch == 1 && kp->lut && ks->lut_rows && (!kp->lut_by_row || ks->lut_by_row);
}
/* A batch-1 call on the AVX-512 VNNI set: the calls that take plan 3, where parts with a Q2 copy have
 * the natural activation order. */
static int avx512_batch1(const qlow__kernel_set *ks, int64_t batch)
{
#if defined(QLOW__HAVE_X86_KERNELS)
    return batch == 1 && ks == &qlow__kernels_avx512;
#else
    (void)ks, (void)batch;
    return 0;
#endif
}
static int q4t_b(const qlow__kernel_set *ks, const qlow__kpart *kp, int64_t batch)
{
    return avx512_batch1(ks, batch) && kp->q4t;
}
static int q2t_b(const qlow__kernel_set *ks, const qlow__kpart *kp, int64_t batch)
{
    return avx512_batch1(ks, batch) && kp->q2t;
}

#if defined(QLOW__HAVE_X86_KERNELS)
/* Batch-1 B1/B2 parts of one chunk on AVX-512 run through x86_avx512_narrow.c. */
static int narrow_b(const qlow__kernel_set *ks, const qlow__kpart *kp, int64_t batch)
{
    return avx512_batch1(ks, batch) && qlow__narrow_b_ok(kp) && !kp->lut;
}
#endif

static void run_rows(const qlow__kernel_set *ks, const gemm_plan *pl, const gemm_ws *ws, int64_t batch, float *Y,
                     int64_t r0, int64_t r1)
{
    for (int k = 0; k < pl->nparts; k++) {
        const qlow__kpart *kp = &pl->part[k];
        const qlow__xq *xq = ws->xq + (size_t)k * (size_t)batch;
        qlow__rows_fn fn = ks->rows[kp->format] ? ks->rows[kp->format] : qlow__kernels_generic.rows[kp->format];
        int64_t r = r0;
#if defined(QLOW__HAVE_X86_KERNELS)
        if (q4t_b(ks, kp, batch)) r = qlow__q4t_rows_avx512(kp, xq, r0, r1, Y, k > 0);
        if (q2t_b(ks, kp, batch)) {
            r = qlow__q2t_rows_avx512(kp, xq, r0, r1, Y, k > 0);
            fn = qlow__kernels_generic.rows[kp->format]; /* the only other kernel that reads the natural order */
        }
        /* a narrow Q part's activations are in natural order, which only the narrow kernel reads */
        if (r < r1 && avx512_batch1(ks, batch) && qlow__narrow_q_ok(kp))
            r = qlow__narrow_q_rows_avx512(kp, xq, r, r1, Y, k > 0);
        else if (r < r1 && narrow_b(ks, kp, batch))
            r = qlow__narrow_b_rows_avx512(kp, xq, r, r1, Y, k > 0);
#endif
        if (r < r1 && lut_b(ks, kp, batch)) r = ks->lut_rows(kp, xq, r, r1, Y, k > 0);
        if (r < r1) fn(kp, xq, (int)batch, r, r1, Y, pl->p->rows, k > 0);
    }
}

static void quantize_job(const qlow__kernel_set *ks, const gemm_plan *pl, const gemm_ws *ws, const float *X,
                         int64_t ntok, int per_token, int64_t i)
{
    int k = (int)(i / ntok);
    int64_t t = i % ntok;
    const qlow__xbuf *b = &ws->xbuf[i];
    const int lut = lut_b(ks, &pl->part[k], ntok) && b->ltab, q2t = q2t_b(ks, &pl->part[k], ntok) && b->ltab;
#if defined(QLOW__HAVE_X86_KERNELS)
    /* batch-1 B parts on AVX-512 (lookup or narrow kernel) read only the natural-order preparation,
     * which this one makes in a few vector passes */
    if (narrow_b(ks, &pl->part[k], ntok) || (lut && ks == &qlow__kernels_avx512))
        ws->tok_status[i] = qlow__b_act_avx512(&pl->part[k], &pl->src[k], X + t * pl->p->cols, per_token, b->vb,
                                               b->x8p, lut ? b->x8 : NULL, b->xs, b->xsum, &ws->xq[i]);
    else
#endif
        ws->tok_status[i] = qlow__act_quantize(ks, &pl->part[k], &pl->src[k], X + t * pl->p->cols, per_token, b,
                                               &ws->xq[i]);
    ws->xq[i].ltab = NULL;
    if (ws->tok_status[i] == QLOW_OK && lut) {
        ks->lut_tables(&pl->part[k], ws->xq[i].x8, b->ltab);
        ws->xq[i].ltab = b->ltab;
    }
#if defined(QLOW__HAVE_X86_KERNELS)
    if (ws->tok_status[i] == QLOW_OK && q2t) {
        qlow__q2t_tables_avx512(&pl->part[k], ws->xq[i].x8, b->ltab);
        ws->xq[i].ltab = b->ltab;
    }
#else
    (void)q2t;
#endif
}

static qlow_status gemm_impl(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y,
                             void *wksp, size_t wksp_bytes, int per_token)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!qm || !X || !Y) return QLOW_E_NULL_POINTER;
    QLOW_TRY(check_batch(batch));
    if (batch > INT32_MAX) return QLOW_E_SHAPE;
    if (qm->magic != QLOW__QMATRIX_MAGIC) return QLOW_E_INVALID_ARG;
    const qlow__kernel_set *ks = qlow__kernels_for_isa(qlow__ctx_isa(ctx));
    gemm_plan local;
    const gemm_plan *pl;
    QLOW_TRY(call_plan(qm, ks->qtrans, avx512_batch1(ks, batch), &local, &pl));
    const int with_tables = pl == &local;
    size_t need = batch == 1 && !with_tables ? qm->prep->need1 : 0;
    if (!need) QLOW_TRY(ws_bytes(pl, with_tables, batch, &need));
    if (!wksp) return QLOW_E_NULL_POINTER;
    if (((uintptr_t)wksp & 63u) != 0) return QLOW_E_ALIGNMENT;
    if (wksp_bytes < need) return QLOW_E_WORKSPACE_TOO_SMALL;
    qlow__wksp w;
    qlow__wksp_init(&w, wksp, wksp_bytes);
    if (with_tables) {
        gemm_tables t;
        carve_tables(&w, &local, &t);
        if (w.overflow) return QLOW_E_WORKSPACE_TOO_SMALL;
        fill_tables(&local, &t);
    }
    gemm_ws ws;
    carve_tokens(&w, pl, batch, &ws);
    if (w.overflow) return QLOW_E_WORKSPACE_TOO_SMALL;

    const qlow__packed *p = pl->p;
    const int threads = qlow__ctx_threads(ctx);
    const int64_t ntok = batch;
    const int64_t njobs = (int64_t)pl->nparts * ntok;
    const int act_par = threads > 1 && njobs > 1 && batch * p->cols >= PAR_MIN_ACT_WORK;
    if (act_par) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
        for (int64_t i = 0; i < njobs; i++) quantize_job(ks, pl, &ws, X, ntok, per_token, i);
    } else {
        for (int64_t i = 0; i < njobs; i++) quantize_job(ks, pl, &ws, X, ntok, per_token, i);
    }
    for (int64_t i = 0; i < njobs; i++) {
        if (ws.tok_status[i] != QLOW_OK) return ws.tok_status[i];
        ws.xq[i].prefetch_l2 = qlow__ctx_prefetch_l2(ctx);
    }

    const int64_t rows = p->rows;
    const int row_par = rows * p->cols * batch >= PAR_MIN_ROW_WORK;
    const int64_t ntasks = row_par ? row_tasks(rows, threads) : 1;
    int64_t split = 1; /* the lookup kernel owns whole 64-row groups */
    for (int k = 0; k < pl->nparts; k++)
        if (lut_b(ks, &pl->part[k], batch) || q4t_b(ks, &pl->part[k], batch) || q2t_b(ks, &pl->part[k], batch))
            split = 64;
    if (ntasks > 1) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
        for (int64_t task = 0; task < ntasks; task++) {
            int64_t r0 = task_row(rows, task, ntasks, split), r1 = task_row(rows, task + 1, ntasks, split);
            run_rows(ks, pl, &ws, batch, Y, r0, r1);
        }
    } else {
        run_rows(ks, pl, &ws, batch, Y, 0, rows);
    }
    return QLOW_OK;
}

qlow_status qlow_gemm_ws(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y, void *wksp,
                         size_t wksp_bytes)
{
    return gemm_impl(ctx, qm, X, batch, Y, wksp, wksp_bytes, 0);
}

qlow_status qlow_gemm_act8_ws(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y,
                              void *wksp, size_t wksp_bytes)
{
    return gemm_impl(ctx, qm, X, batch, Y, wksp, wksp_bytes, 1);
}

qlow_status qlow_gemv_ws(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *x, float *y, void *wksp,
                         size_t wksp_bytes)
{
    return gemm_impl(ctx, qm, x, 1, y, wksp, wksp_bytes, 0);
}

static qlow_status gemm_alloc(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y,
                              int per_token)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    size_t bytes;
    QLOW_TRY(qlow_gemm_workspace_size(qm, batch, per_token ? QLOW_GEMM_ACT8 : 0, &bytes));
    if (!X || !Y) return QLOW_E_NULL_POINTER;
    const qlow_allocator *a = qlow__ctx_allocator(ctx);
    void *w = qlow__alloc(a, bytes, 64);
    if (!w) return QLOW_E_NO_MEMORY;
    qlow_status s = gemm_impl(ctx, qm, X, batch, Y, w, bytes, per_token);
    qlow__free(a, w);
    return s;
}

qlow_status qlow_gemm(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y)
{
    return gemm_alloc(ctx, qm, X, batch, Y, 0);
}

qlow_status qlow_gemm_act8(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y)
{
    return gemm_alloc(ctx, qm, X, batch, Y, 1);
}

qlow_status qlow_gemv(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *x, float *y)
{
    return gemm_alloc(ctx, qm, x, 1, y, 0);
}
