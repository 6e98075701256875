/* hvp.c - public spectral estimates: over a caller's fp32 Hessian-vector product callback (Q-BERT's
 * full-model path) and over a filled accumulator (the layer-wise proxy), plus the finite-difference HVP
 * built from a gradient callback. */
#include "hessian.h"
#include "spectrum.h"

#include <math.h>

/* ---- caller callback adapter: double vectors in the algorithms, fp32 at the callback ---------- */
typedef struct hvp_adapter {
    qlow_hvp_fn fn;
    void *user;
    float *in, *out;
} hvp_adapter;

static qlow_status adapter_apply(void *u, const double *x, double *y, int64_t n)
{
    hvp_adapter *a = (hvp_adapter *)u;
    for (int64_t i = 0; i < n; i++) a->in[i] = (float)x[i];
    if (a->fn(a->user, a->in, a->out, n) != 0) return QLOW_E_CALLBACK;
    for (int64_t i = 0; i < n; i++) y[i] = (double)a->out[i];
    return QLOW_OK;
}

/* ---- accumulator matvec: y = (2/N) S x with S symmetric, stored in the lower triangle ---------- */
typedef struct acc_matvec {
    const qlow_hessian *h;
    int threads;
} acc_matvec;

static qlow_status acc_apply(void *u, const double *x, double *y, int64_t n)
{
    const acc_matvec *m = (const acc_matvec *)u;
    const qlow_hessian *h = m->h;
    const double *S = h->S;
    double scale = 2.0 / (double)h->tokens;
    (void)m->threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(m->threads) if (m->threads > 1 && n >= 512)
#endif
    for (int64_t j = 0; j < n; j++) {
        double s = 0.0;
        const double *row = S + j * n;
        for (int64_t i = 0; i <= j; i++) s += row[i] * x[i];
        for (int64_t i = j + 1; i < n; i++) s += S[i * n + j] * x[i];
        y[j] = scale * s;
    }
    return QLOW_OK;
}

typedef enum { SPEC_POWER, SPEC_LANCZOS, SPEC_HUTCH } spec_kind;

static size_t spec_doubles(spec_kind kind, int64_t n, int32_t steps)
{
    if (kind == SPEC_LANCZOS) return qlow__lanczos_scratch(n, steps);
    return kind == SPEC_POWER ? QLOW__POWER_SCRATCH(n) : QLOW__HUTCH_SCRATCH(n);
}

qlow_status qlow_spectral_workspace_size(int64_t n, int32_t lanczos_steps, size_t *bytes)
{
    if (!bytes) return QLOW_E_NULL_POINTER;
    if (n <= 0 || lanczos_steps < 0) return QLOW_E_SHAPE;
    size_t d = spec_doubles(SPEC_POWER, n, 0);
    if (lanczos_steps > 0) {
        size_t l = spec_doubles(SPEC_LANCZOS, n, lanczos_steps);
        if (l > d) d = l;
    }
    size_t total, f;
    QLOW_TRY(qlow__mul_size(d, sizeof(double), &total));
    /* fp32 in/out buffers for a caller callback */
    QLOW_TRY(qlow__mul_size((size_t)n, 2 * sizeof(float), &f));
    QLOW_TRY(qlow__add_size(total, f, &total));
    *bytes = total + 128;
    return QLOW_OK;
}

typedef struct spec_args {
    spec_kind kind;
    double tol;
    int32_t max_iter;  /* power: products; hutchinson: probes */
    int32_t steps, k;  /* lanczos */
    double *out1, *out2;
    int32_t *count;
} spec_args;

/* Shared driver: carve scratch from the caller's workspace or from the ctx allocator, then run. */
static qlow_status run_spectral(qlow_ctx *ctx, qlow__matvec_fn f, void *user, hvp_adapter *adapter, int64_t n,
                                const spec_args *a, void *workspace, size_t workspace_bytes)
{
    size_t need;
    QLOW_TRY(qlow_spectral_workspace_size(n, a->kind == SPEC_LANCZOS ? a->steps : 0, &need));
    const qlow_allocator *al = qlow__ctx_allocator(ctx);
    void *mem = workspace;
    if (!mem) {
        mem = qlow__alloc(al, need, 64);
        if (!mem) return QLOW_E_NO_MEMORY;
    } else {
        if (((uintptr_t)mem & 7u) != 0) return QLOW_E_ALIGNMENT;
        if (workspace_bytes < need) return QLOW_E_WORKSPACE_TOO_SMALL;
    }
    qlow__wksp w;
    qlow__wksp_init(&w, mem, need);
    double *scratch = (double *)qlow__wksp_take(&w, spec_doubles(a->kind, n, a->steps) * sizeof(double));
    if (adapter) {
        adapter->in = (float *)qlow__wksp_take(&w, (size_t)n * sizeof(float));
        adapter->out = (float *)qlow__wksp_take(&w, (size_t)n * sizeof(float));
    }
    uint64_t seed = (uint64_t)ctx->seed;
    qlow_status st = QLOW_E_INTERNAL;
    double r1 = 0.0, r2 = 0.0;
    int32_t cnt = 0;
    if (scratch) {
        switch (a->kind) {
        case SPEC_POWER: st = qlow__power_iteration(f, user, n, seed, a->tol, a->max_iter, scratch, &r1, &cnt); break;
        case SPEC_LANCZOS: st = qlow__lanczos(f, user, n, seed, a->steps, a->k, scratch, a->out1); break;
        case SPEC_HUTCH:
            st = qlow__hutchinson(f, user, n, seed, a->max_iter, a->tol, scratch, &r1, &r2, &cnt);
            break;
        }
    }
    if (!workspace) qlow__free(al, mem);
    if (st != QLOW_OK) return st;
    if (a->kind != SPEC_LANCZOS) *a->out1 = r1;
    if (a->out2) *a->out2 = r2;
    if (a->count) *a->count = cnt;
    return QLOW_OK;
}

static qlow_status check_power_args(double tol, int32_t max_iter, const double *lambda)
{
    if (!lambda) return QLOW_E_NULL_POINTER;
    if (!(tol >= 0.0) || tol > 1.0 || max_iter < 1) return QLOW_E_INVALID_ARG;
    return QLOW_OK;
}

static qlow_status check_lanczos_args(int64_t n, int32_t steps, int32_t k, const double *eigs)
{
    if (!eigs) return QLOW_E_NULL_POINTER;
    if (steps < 1 || k < 1 || k > steps || (int64_t)k > n) return QLOW_E_INVALID_ARG;
    return QLOW_OK;
}

/* ---- caller HVP entry points ------------------------------------------------------------------- */
qlow_status qlow_hvp_top_eigen(qlow_ctx *ctx, qlow_hvp_fn hvp, void *user, int64_t n, double tol, int32_t max_iter,
                               void *workspace, size_t workspace_bytes, double *lambda, int32_t *iters)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!hvp) return QLOW_E_NULL_POINTER;
    if (n <= 0) return QLOW_E_SHAPE;
    QLOW_TRY(check_power_args(tol, max_iter, lambda));
    hvp_adapter ad = {hvp, user, NULL, NULL};
    spec_args a = {SPEC_POWER, tol, max_iter, 0, 0, lambda, NULL, iters};
    return run_spectral(ctx, adapter_apply, &ad, &ad, n, &a, workspace, workspace_bytes);
}

qlow_status qlow_hvp_lanczos(qlow_ctx *ctx, qlow_hvp_fn hvp, void *user, int64_t n, int32_t steps, int32_t k,
                             void *workspace, size_t workspace_bytes, double *eigs)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!hvp) return QLOW_E_NULL_POINTER;
    if (n <= 0) return QLOW_E_SHAPE;
    QLOW_TRY(check_lanczos_args(n, steps, k, eigs));
    hvp_adapter ad = {hvp, user, NULL, NULL};
    spec_args a = {SPEC_LANCZOS, 0.0, 0, steps, k, eigs, NULL, NULL};
    return run_spectral(ctx, adapter_apply, &ad, &ad, n, &a, workspace, workspace_bytes);
}

qlow_status qlow_hvp_trace(qlow_ctx *ctx, qlow_hvp_fn hvp, void *user, int64_t n, int32_t max_probes,
                           double rel_tol, void *workspace, size_t workspace_bytes, double *trace,
                           double *std_error, int32_t *probes_used)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    if (!hvp || !trace) return QLOW_E_NULL_POINTER;
    if (n <= 0) return QLOW_E_SHAPE;
    if (max_probes < 1 || !(rel_tol >= 0.0) || rel_tol > 1.0) return QLOW_E_INVALID_ARG;
    hvp_adapter ad = {hvp, user, NULL, NULL};
    spec_args a = {SPEC_HUTCH, rel_tol, max_probes, 0, 0, trace, std_error, probes_used};
    return run_spectral(ctx, adapter_apply, &ad, &ad, n, &a, workspace, workspace_bytes);
}

/* ---- accumulator entry points ------------------------------------------------------------------ */
static qlow_status check_full(const qlow_hessian *h)
{
    QLOW_TRY(qlow__hessian_check(h));
    if (h->mode != QLOW_HESSIAN_FULL || h->tokens <= 0) return QLOW_E_STATE;
    return QLOW_OK;
}

qlow_status qlow_hessian_top_eigen(qlow_ctx *ctx, const qlow_hessian *h, double tol, int32_t max_iter,
                                   void *workspace, size_t workspace_bytes, double *lambda, int32_t *iters)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(check_full(h));
    QLOW_TRY(check_power_args(tol, max_iter, lambda));
    acc_matvec m = {h, qlow__ctx_threads(ctx)};
    spec_args a = {SPEC_POWER, tol, max_iter, 0, 0, lambda, NULL, iters};
    return run_spectral(ctx, acc_apply, &m, NULL, h->cols, &a, workspace, workspace_bytes);
}

qlow_status qlow_hessian_lanczos(qlow_ctx *ctx, const qlow_hessian *h, int32_t steps, int32_t k, void *workspace,
                                 size_t workspace_bytes, double *eigs)
{
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(check_full(h));
    QLOW_TRY(check_lanczos_args(h->cols, steps, k, eigs));
    acc_matvec m = {h, qlow__ctx_threads(ctx)};
    spec_args a = {SPEC_LANCZOS, 0.0, 0, steps, k, eigs, NULL, NULL};
    return run_spectral(ctx, acc_apply, &m, NULL, h->cols, &a, workspace, workspace_bytes);
}

/* ---- finite-difference HVP from a gradient callback ------------------------------------------- */
struct qlow_fd_hvp {
    uint32_t magic;
    qlow_allocator alloc;
    qlow_grad_fn grad;
    void *user;
    int64_t n;
    double step_scale;    /* 0 = automatic */
    const float *theta;   /* caller-owned, must outlive the object */
    float *plus, *gplus, *gminus;
};
#define FD_MAGIC 0x71666468u

qlow_status qlow_fd_hvp_create(const qlow_allocator *alloc, qlow_grad_fn grad, void *user, const float *theta,
                               int64_t n, double step, qlow_fd_hvp **out)
{
    if (!out || !grad || !theta) return QLOW_E_NULL_POINTER;
    if (n <= 0) return QLOW_E_SHAPE;
    if (!(step >= 0.0) || step > 1.0) return QLOW_E_INVALID_ARG;
    for (int64_t i = 0; i < n; i++)
        if (!qlow__is_finite_f32(theta[i])) return QLOW_E_NONFINITE;
    size_t vec, total;
    QLOW_TRY(qlow__mul_size((size_t)n, sizeof(float), &vec));
    vec = qlow__align_up(vec, 64);
    QLOW_TRY(qlow__mul_size(vec, 3, &total));
    QLOW_TRY(qlow__add_size(total, qlow__align_up(sizeof(qlow_fd_hvp), 64), &total));
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    unsigned char *mem = (unsigned char *)qlow__alloc(&a, total, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    qlow_fd_hvp *fd = (qlow_fd_hvp *)mem;
    memset(fd, 0, sizeof(*fd));
    fd->magic = FD_MAGIC;
    fd->alloc = a;
    fd->grad = grad;
    fd->user = user;
    fd->n = n;
    fd->step_scale = step;
    fd->theta = theta;
    unsigned char *p = mem + qlow__align_up(sizeof(qlow_fd_hvp), 64);
    fd->plus = (float *)p;
    fd->gplus = (float *)(p + vec);
    fd->gminus = (float *)(p + 2 * vec);
    *out = fd;
    return QLOW_OK;
}

void qlow_fd_hvp_destroy(qlow_fd_hvp *fd)
{
    if (!fd || fd->magic != FD_MAGIC) return;
    qlow_allocator a = fd->alloc;
    fd->magic = 0;
    qlow__free(&a, fd);
}

int qlow_fd_hvp_apply(void *fd_hvp, const float *v_in, float *v_out, int64_t n)
{
    qlow_fd_hvp *fd = (qlow_fd_hvp *)fd_hvp;
    if (!fd || fd->magic != FD_MAGIC || !v_in || !v_out || n != fd->n) return 1;
    double vnorm = 0.0, tmax = 0.0;
    for (int64_t i = 0; i < n; i++) {
        vnorm += (double)v_in[i] * v_in[i];
        double t = fabs((double)fd->theta[i]);
        if (t > tmax) tmax = t;
    }
    vnorm = sqrt(vnorm);
    if (!(vnorm > 0.0)) {
        for (int64_t i = 0; i < n; i++) v_out[i] = 0.0f;
        return 0;
    }
    /* Central differences: truncation error ~ eps^2 |g'''|, rounding ~ u |g| / eps with u = 2^-23,
     * balanced at eps ~ u^(1/3) = 4.9e-3 relative to the parameter scale. */
    double base = fd->step_scale > 0.0 ? fd->step_scale : 4.921566601151848e-3;
    double eps = base * (1.0 + tmax) / vnorm;
    for (int pass = 0; pass < 2; pass++) {
        double sgn = pass == 0 ? 1.0 : -1.0;
        for (int64_t i = 0; i < n; i++) fd->plus[i] = (float)((double)fd->theta[i] + sgn * eps * v_in[i]);
        if (fd->grad(fd->user, fd->plus, pass == 0 ? fd->gplus : fd->gminus, n) != 0) return 1;
    }
    for (int64_t i = 0; i < n; i++) v_out[i] = (float)(((double)fd->gplus[i] - fd->gminus[i]) / (2.0 * eps));
    return 0;
}
