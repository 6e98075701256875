/* dispatch.c - the public GEMV/GEMM entry points: validation, workspace carving, activation
 * preparation, and the row split over threads. The kernel set is picked per call from the context's
 * ISA level (qlow__ctx_isa), so QLOW_CTX_ISA_MAX takes effect immediately. */
#include "kernels/act.h"

#ifdef _OPENMP
#include <omp.h>
#endif

const qlow__kernel_set *qlow__kernels_for_isa(int isa)
{
#if defined(QLOW__HAVE_X86_KERNELS)
    if (isa >= QLOW_ISA_AVX512_VNNI && isa < QLOW_ISA_NEON) return &qlow__kernels_avx512;
    if (isa >= QLOW_ISA_AVX2 && isa < QLOW_ISA_NEON) return &qlow__kernels_avx2;
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
    qlow__xsrc src[2];
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
        kp->xord = QLOW__XORD_NAT;
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

/* ---- workspace ---------------------------------------------------------------------------------- */

typedef struct gemm_ws {
    int32_t *perm;
    qlow__xq *xq;      /* [nparts][batch] */
    qlow__xbuf *xbuf;  /* [nparts][batch] */
    qlow_status *tok_status;
    float *colscale_f32[2];
} gemm_ws;

/* Whether part k gathers or scales its activations (M161 always gathers). */
static int part_gathers(const gemm_plan *pl, int k)
{
    return pl->p->format == QLOW_FORMAT_M161 || pl->src[k].colscale != NULL;
}

/* Carve (or, with w->base == NULL, only count) the scratch of one call. */
static void carve(qlow__wksp *w, gemm_plan *pl, int64_t batch, gemm_ws *ws)
{
    const size_t nb = (size_t)batch;
    ws->perm = pl->need_perm ? (int32_t *)qlow__wksp_take(w, (size_t)pl->p->cols * sizeof(int32_t)) : NULL;
    ws->xq = (qlow__xq *)qlow__wksp_take(w, (size_t)pl->nparts * nb * sizeof(qlow__xq));
    ws->xbuf = (qlow__xbuf *)qlow__wksp_take(w, (size_t)pl->nparts * nb * sizeof(qlow__xbuf));
    ws->tok_status = (qlow_status *)qlow__wksp_take(w, (size_t)pl->nparts * nb * sizeof(qlow_status));
    for (int k = 0; k < pl->nparts; k++) {
        qlow__kpart *kp = &pl->part[k];
        ws->colscale_f32[k] =
            pl->src[k].colscale ? (float *)qlow__wksp_take(w, (size_t)kp->cols * sizeof(float)) : NULL;
        if (kp->format >= QLOW_FORMAT_Q8 && kp->format <= QLOW_FORMAT_Q2) {
            kp->grel = (const uint16_t *)qlow__wksp_take(w, (size_t)kp->nblk_pad * sizeof(uint16_t));
            kp->g0 = (const int32_t *)qlow__wksp_take(w, (size_t)kp->nblk_pad / QLOW__LANES * sizeof(int32_t));
        }
        for (size_t t = 0; t < nb; t++) {
            qlow__xbuf b;
            b.x8 = (int8_t *)qlow__wksp_take(w, qlow__act_x8_bytes(kp));
            b.x8p = kp->xord != QLOW__XORD_NAT || kp->interleave ? (int8_t *)qlow__wksp_take(w, qlow__act_x8_bytes(kp))
                                                                 : NULL;
            b.xs = (float *)qlow__wksp_take(w, qlow__act_f_bytes(kp));
            b.xsum = (float *)qlow__wksp_take(w, qlow__act_f_bytes(kp));
            b.v = part_gathers(pl, k) ? (float *)qlow__wksp_take(w, (size_t)kp->cols * sizeof(float)) : NULL;
            b.vb = kp->interleave ? (float *)qlow__wksp_take(w, qlow__act_x8_bytes(kp) * sizeof(float)) : NULL;
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

static qlow_status ws_bytes(gemm_plan *pl, int64_t batch, size_t *bytes)
{
    size_t per_tok = 0;
    for (int k = 0; k < pl->nparts; k++) {
        size_t x8 = qlow__act_x8_bytes(&pl->part[k]), f = qlow__act_f_bytes(&pl->part[k]);
        per_tok += 6 * x8 + 2 * f + (size_t)pl->part[k].cols * sizeof(float) + 6 * 64;
    }
    /* Reject batches whose scratch cannot be addressed before counting it block by block. */
    size_t total;
    if (qlow__mul_size(per_tok, (size_t)batch, &total) != QLOW_OK) return QLOW_E_OVERFLOW;
    qlow__wksp w;
    qlow__wksp_init(&w, NULL, 0);
    gemm_ws ws;
    carve(&w, pl, batch, &ws);
    if (w.overflow) return QLOW_E_OVERFLOW;
    *bytes = w.used + 64;
    return QLOW_OK;
}

qlow_status qlow_gemm_workspace_size(const qlow_qmatrix *qm, int64_t batch, int32_t flags, size_t *bytes)
{
    if (!qm || !bytes) return QLOW_E_NULL_POINTER;
    if (flags & ~(int32_t)QLOW_GEMM_ACT8) return QLOW_E_INVALID_ARG;
    QLOW_TRY(check_batch(batch));
    gemm_plan pl;
    QLOW_TRY(plan_parts(qm, &pl, 0)); /* the activation order does not change any size */
    size_t n;
    QLOW_TRY(ws_bytes(&pl, batch, &n));
    *bytes = n;
    return QLOW_OK;
}

/* ---- the computation ---------------------------------------------------------------------------- */

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

/* Rows per task: enough work per task to amortize the thread start. */
static int64_t row_tasks(int64_t rows, int threads) { return threads > 1 && rows >= 2 * threads ? threads : 1; }

static void run_rows(const qlow__kernel_set *ks, const gemm_plan *pl, const gemm_ws *ws, int64_t batch, float *Y,
                     int64_t r0, int64_t r1)
{
    for (int k = 0; k < pl->nparts; k++) {
        const qlow__kpart *kp = &pl->part[k];
        qlow__rows_fn fn = ks->rows[kp->format] ? ks->rows[kp->format] : qlow__kernels_generic.rows[kp->format];
        fn(kp, ws->xq + (size_t)k * (size_t)batch, (int)batch, r0, r1, Y, pl->p->rows, k > 0);
    }
}

static qlow_status gemm_impl(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *X, int64_t batch, float *Y,
                             void *wksp, size_t wksp_bytes, int per_token)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!qm || !X || !Y) return QLOW_E_NULL_POINTER;
    QLOW_TRY(check_batch(batch));
    if (batch > INT32_MAX) return QLOW_E_SHAPE;
    const qlow__kernel_set *ks = qlow__kernels_for_isa(qlow__ctx_isa(ctx));
    gemm_plan pl;
    QLOW_TRY(plan_parts(qm, &pl, ks->qtrans));
    size_t need;
    QLOW_TRY(ws_bytes(&pl, batch, &need));
    if (!wksp) return QLOW_E_NULL_POINTER;
    if (((uintptr_t)wksp & 63u) != 0) return QLOW_E_ALIGNMENT;
    if (wksp_bytes < need) return QLOW_E_WORKSPACE_TOO_SMALL;
    qlow__wksp w;
    qlow__wksp_init(&w, wksp, wksp_bytes);
    gemm_ws ws;
    carve(&w, &pl, batch, &ws);
    if (w.overflow) return QLOW_E_WORKSPACE_TOO_SMALL;

    const qlow__packed *p = pl.p;
    if (pl.need_perm) {
        derive_perm(p, ws.perm);
        int k = 0;
        if (p->n_salient > 0) pl.src[k++].perm = ws.perm;
        if (p->cols - p->n_salient > 0) pl.src[k].perm = ws.perm + p->n_salient;
    }
    for (int k = 0; k < pl.nparts; k++) {
        qlow__kpart *kp = &pl.part[k];
        if (ws.colscale_f32[k]) {
            for (int64_t j = 0; j < kp->cols; j++) ws.colscale_f32[k][j] = qlow__h2f(pl.src[k].colscale[j]);
            pl.src[k].colscale_f32 = ws.colscale_f32[k];
        }
        if (kp->grel) {
            int64_t gc = p->format == QLOW_FORMAT_M161 ? kp->cols_pad : p->group_cols;
            qlow__q_group_maps(kp->nblk, kp->nblk_pad, gc, kp->ngroups, (uint16_t *)(uintptr_t)kp->grel,
                               (int32_t *)(uintptr_t)kp->g0);
        }
    }

    const int threads = qlow__ctx_threads(ctx);
    const int64_t ntok = batch;
    const int64_t njobs = (int64_t)pl.nparts * ntok;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && njobs > 1)
#endif
    for (int64_t i = 0; i < njobs; i++) {
        int k = (int)(i / ntok);
        int64_t t = i % ntok;
        ws.tok_status[i] = qlow__act_quantize(ks, &pl.part[k], &pl.src[k], X + t * p->cols, per_token,
                                              &ws.xbuf[i], &ws.xq[i]);
    }
    for (int64_t i = 0; i < njobs; i++)
        if (ws.tok_status[i] != QLOW_OK) return ws.tok_status[i];

    const int64_t rows = p->rows, ntasks = row_tasks(rows, threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (ntasks > 1)
#endif
    for (int64_t task = 0; task < ntasks; task++) {
        int64_t r0 = rows * task / ntasks, r1 = rows * (task + 1) / ntasks;
        run_rows(ks, &pl, &ws, batch, Y, r0, r1);
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
