/* layer.c - layer-wise PTQ1.61 scale optimization on calibration inputs. The binary part's output is
 * linear in (a_i, b_i) = (r1_i alpha_i, r1_i mu_i) for fixed r2 and linear in r2 for fixed (a, b), so
 * alternating exact least-squares sweeps (a 2x2 solve per row, preconditioned conjugate gradients for
 * r2) reach the MSE optimum in a few passes; minibatch Adam at the paper's learning rates then adds the
 * cosine term. Every product is one sgemm_nt call, so cost is a handful of rows x cols x tokens passes. */
#include "scale/scale.h"

#include <math.h>

void qlow__layer_opt_from_params(const qlow_ctx *ctx, const qlow_params *params, qlow__layer_opt *o)
{
    qlow__adam_hp_from_params(params, &o->hp);
    o->lambda_cos = qlow__param_float(params, QLOW_SCALE_LAMBDA_COS);
    o->als_iters = (int)qlow__param_int(params, QLOW_SCALE_ALS_ITERS);
    o->cg_iters = (int)qlow__param_int(params, QLOW_SCALE_CG_ITERS);
    o->adam_steps = qlow__param_int(params, QLOW_SCALE_ADAM_STEPS);
    o->batch_tokens = qlow__param_int(params, QLOW_SCALE_BATCH_TOKENS);
    o->seed = (uint64_t)ctx->seed;
}

/* Scratch of one optimization run; every array is carved from one allocation. */
typedef struct work {
    float *Y;     /* rows x T: W x (target) */
    float *Q;     /* rows x T: target of the binary part, W x - W^_S x_S */
    float *P;     /* rows x T */
    float *R;     /* rows x T: residual */
    float *Md;    /* rows x T: output change of the accumulated r2 step */
    float *Mp;    /* rows x T */
    float *A;     /* rows x cols: matrices fed to sgemm (signs * r2, C, C diag(p), W^) */
    float *G;     /* rows x cols: products back onto the columns */
    float *C;     /* rows x nu */
    double *hd;   /* nu: sum_t x_tu^2 */
    double *vec;  /* 6 * nu: rn, z, p, Ap, delta, D */
    float *v;     /* T */
    float *fv;    /* nu */
    float *best;  /* 2 rows + nu */
} work;

static size_t carve(work *w, unsigned char *base, int64_t rows, int64_t cols, int64_t nu, int64_t T)
{
    size_t off = 0;
    size_t rt = (size_t)rows * (size_t)T, rc = (size_t)rows * (size_t)cols;
#define TAKE(field, type, count)                                                                       \
    do {                                                                                               \
        if (base) w->field = (type *)(base + off);                                                     \
        off += qlow__align_up((size_t)(count) * sizeof(type), 64);                                     \
    } while (0)
    TAKE(Y, float, rt);
    TAKE(Q, float, rt);
    TAKE(P, float, rt);
    TAKE(R, float, rt);
    TAKE(Md, float, rt);
    TAKE(Mp, float, rt);
    TAKE(A, float, rc);
    TAKE(G, float, rc);
    TAKE(C, float, (size_t)rows * (size_t)nu);
    TAKE(hd, double, nu);
    TAKE(vec, double, 6 * (size_t)nu);
    TAKE(v, float, T);
    TAKE(fv, float, nu);
    TAKE(best, float, 2 * (size_t)rows + (size_t)nu);
#undef TAKE
    return off;
}

/* col[u] = sum_i M[i,u] * N[i,u] over rows in fixed order (one thread per column block). */
static void colsum_prod(const qlow_ctx *ctx, const float *M, const float *N, int64_t rows, int64_t n, int64_t ld,
                        double *col)
{
    const int64_t CB = 64, blocks = (n + CB - 1) / CB;
    int nth = qlow__par_threads(ctx, (double)rows * (double)n);
    (void)nth;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t u0 = b * CB, u1 = u0 + CB < n ? u0 + CB : n;
        for (int64_t u = u0; u < u1; u++) col[u] = 0.0;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t u = u0; u < u1; u++) col[u] += (double)M[i * ld + u] * N[i * ld + u];
    }
}

static double dot_d(const double *a, const double *b, int64_t n)
{
    double s = 0.0;
    for (int64_t k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

/* Exact (a_i, b_i) per row for the current r2; r1 and alpha are recovered with mu frozen. Leaves the
 * binary part's residual in w->R. */
static void solve_rows(const qlow_ctx *ctx, qlow__p161 *p, work *w, const qlow__calib *c)
{
    const int64_t rows = p->rows, nu = p->nu, ns = p->ns, T = c->T;
    for (int64_t i = 0; i < rows; i++) {
        const int8_t *s = p->sign + i * nu;
        for (int64_t u = 0; u < nu; u++) w->A[i * nu + u] = (float)s[u] * p->r2[u];
    }
    qlow__sgemm_nn(ctx, rows, T, nu, w->A, nu, c->XT + ns * T, T, w->P, T, 0);
    qlow__sgemm_nn(ctx, 1, T, nu, p->r2, nu, c->XT + ns * T, T, w->v, T, 0);
    double vv = 0.0;
    for (int64_t t = 0; t < T; t++) vv += (double)w->v[t] * w->v[t];
    int nth = qlow__par_threads(ctx, (double)rows * (double)T);
    (void)nth;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
    for (int64_t i = 0; i < rows; i++) {
        const float *pi = w->P + i * T, *qi = w->Q + i * T;
        double pp = 0, pv = 0, pq = 0, vq = 0;
        for (int64_t t = 0; t < T; t++) {
            pp += (double)pi[t] * pi[t];
            pv += (double)pi[t] * w->v[t];
            pq += (double)pi[t] * qi[t];
            vq += (double)w->v[t] * qi[t];
        }
        double r1 = p->r1[i], a = r1 * p->alpha[i], b = r1 * p->mu[i];
        double det = pp * vv - pv * pv;
        int solved = 0;
        if (det > 1e-9 * pp * vv && fabs(p->mu[i]) > 0.0) {
            double a2 = (pq * vv - vq * pv) / det, b2 = (pp * vq - pv * pq) / det;
            double r1n = b2 / p->mu[i];
            if (fabs(r1n) >= 1e-3 && fabs(r1n) <= 1e3 && isfinite(a2)) {
                a = a2;
                b = b2;
                r1 = r1n;
                solved = 1;
            }
        }
        if (!solved && pp > 0.0) a = (pq - b * pv) / pp; /* keep r1 (and so b) fixed */
        p->r1[i] = (float)r1;
        p->alpha[i] = (float)(a / r1);
        a = (double)p->r1[i] * p->alpha[i];
        b = (double)p->r1[i] * p->mu[i];
        float *ri = w->R + i * T;
        for (int64_t t = 0; t < T; t++) ri[t] = (float)(qi[t] - a * pi[t] - b * w->v[t]);
    }
}

/* Preconditioned conjugate gradients on r2 for fixed (a, b): minimizes |R - (C diag(d)) X_U^T|^2. */
static void solve_r2(const qlow_ctx *ctx, qlow__p161 *p, work *w, const qlow__calib *c, int iters)
{
    const int64_t rows = p->rows, nu = p->nu, ns = p->ns, T = c->T;
    if (nu == 0) return;
    double *rn = w->vec, *z = rn + nu, *pd = z + nu, *Ap = pd + nu, *delta = Ap + nu, *D = delta + nu;
    for (int64_t i = 0; i < rows; i++) {
        const double a = (double)p->r1[i] * p->alpha[i], b = (double)p->r1[i] * p->mu[i];
        const int8_t *s = p->sign + i * nu;
        for (int64_t u = 0; u < nu; u++) w->C[i * nu + u] = (float)(a * s[u] + b);
    }
    colsum_prod(ctx, w->C, w->C, rows, nu, nu, D);
    for (int64_t u = 0; u < nu; u++) D[u] = D[u] * w->hd[u] + 1e-30;
    /* rn = M*(R): G = R X_U, rn_u = sum_i C_iu G_iu. */
    qlow__sgemm_nn(ctx, rows, nu, T, w->R, T, c->X + ns, p->cols, w->G, nu, 0);
    colsum_prod(ctx, w->C, w->G, rows, nu, nu, rn);
    for (int64_t u = 0; u < nu; u++) {
        z[u] = rn[u] / D[u];
        pd[u] = z[u];
        delta[u] = 0.0;
    }
    double rz = dot_d(rn, z, nu);
    memset(w->Md, 0, (size_t)rows * (size_t)T * sizeof(float));
    for (int it = 0; it < iters && rz > 0.0; it++) {
        for (int64_t i = 0; i < rows; i++)
            for (int64_t u = 0; u < nu; u++) w->A[i * nu + u] = w->C[i * nu + u] * (float)pd[u];
        qlow__sgemm_nn(ctx, rows, T, nu, w->A, nu, c->XT + ns * T, T, w->Mp, T, 0);
        qlow__sgemm_nn(ctx, rows, nu, T, w->Mp, T, c->X + ns, p->cols, w->G, nu, 0);
        colsum_prod(ctx, w->C, w->G, rows, nu, nu, Ap);
        double pap = dot_d(pd, Ap, nu);
        if (!(pap > 0.0)) break;
        double step = rz / pap;
        for (int64_t u = 0; u < nu; u++) {
            delta[u] += step * pd[u];
            rn[u] -= step * Ap[u];
            z[u] = rn[u] / D[u];
        }
        const size_t rt = (size_t)rows * (size_t)T;
        for (size_t k = 0; k < rt; k++) w->Md[k] += (float)step * w->Mp[k];
        double rz2 = dot_d(rn, z, nu);
        double beta = rz2 / rz;
        rz = rz2;
        for (int64_t u = 0; u < nu; u++) pd[u] = z[u] + beta * pd[u];
    }
    for (int64_t u = 0; u < nu; u++) p->r2[u] = (float)(p->r2[u] + delta[u]);
    const size_t rt = (size_t)rows * (size_t)T;
    for (size_t k = 0; k < rt; k++) w->R[k] -= w->Md[k];
}

/* Minibatch buffers: tokens (both layouts), their indices, targets, outputs and output gradients. */
typedef struct batch {
    int64_t B;
    float *Xb, *XbT, *row; /* B x cols, cols x B, cols */
    float *Yb, *Yhb, *dY;  /* rows x B */
    int64_t *idx;          /* B */
    int32_t *order;        /* T (in-memory tokens only) */
} batch;

/* Tokens idx[0..n) into the batch and their targets Yb = Wp x: read from the stream, or gathered from
 * the in-memory tokens (whose targets w->Y are known). */
static void load_batch(const qlow_ctx *ctx, const qlow__p161 *p, const float *Wp, const work *w, const qlow__calib *c,
                       batch *b, int64_t n)
{
    const int64_t rows = p->rows, cols = p->cols, T = c->T;
    if (c->stream) {
        qlow__stream_read(c->stream, cols, b->idx, n, b->row, b->Xb, b->XbT);
        qlow__sgemm_nn(ctx, rows, n, cols, Wp, cols, b->XbT, n, b->Yb, n, 0);
        return;
    }
    for (int64_t k = 0; k < n; k++) memcpy(b->Xb + k * cols, c->X + b->idx[k] * cols, (size_t)cols * sizeof(float));
    for (int64_t j = 0; j < cols; j++)
        for (int64_t k = 0; k < n; k++) b->XbT[j * n + k] = c->XT[j * T + b->idx[k]];
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < n; k++) b->Yb[i * n + k] = w->Y[i * T + b->idx[k]];
}

/* Loss of the current p over every token. In-memory tokens: one product. Stream: chunks of B tokens in
 * order (all, or the evenly spread sample of eval_tokens), their sums added serially, so memory stays
 * O(B x cols) and the value is thread-independent. */
static double full_loss(const qlow_ctx *ctx, const qlow__p161 *p, const float *Wp, work *w, const qlow__calib *c,
                        batch *b, double lambda, double *mse, double *cosm)
{
    const int64_t rows = p->rows, cols = p->cols;
    qlow__p161_materialize(ctx, p, w->A, 1);
    if (!c->stream) {
        qlow__sgemm_nn(ctx, rows, c->T, cols, w->A, cols, c->XT, c->T, w->P, c->T, 0);
        return qlow__loss_mse_nlc(ctx, w->Y, w->P, rows, c->T, c->T, lambda, NULL, mse, cosm);
    }
    const int64_t T_all = c->stream->X->shape[0], ev = c->stream->eval_tokens;
    const int64_t T = ev > 0 && ev < T_all ? ev : T_all;
    double sq = 0.0, csum = 0.0;
    for (int64_t t0 = 0; t0 < T; t0 += b->B) {
        const int64_t n = t0 + b->B < T ? b->B : T - t0;
        /* Token k of an evenly spread sample is floor(k T_all / T) (k itself when all are read). */
        for (int64_t k = 0; k < n; k++)
            b->idx[k] = T == T_all ? t0 + k : (int64_t)(((double)(t0 + k) * (double)T_all) / (double)T);
        load_batch(ctx, p, Wp, w, c, b, n);
        qlow__sgemm_nn(ctx, rows, n, cols, w->A, cols, b->XbT, n, b->Yhb, n, 0);
        double s1 = 0.0, s2 = 0.0;
        qlow__loss_sums(ctx, b->Yb, b->Yhb, rows, n, n, &s1, &s2);
        sq += s1;
        csum += s2;
    }
    return qlow__loss_from_sums(sq, csum, rows, T, lambda, mse, cosm);
}

/* Minibatch Adam over a seeded token order, batches cycled. In-memory tokens: a seeded shuffle. Stream:
 * the walk t -> t + g mod T from a seeded start with a seeded g coprime to T, which visits every token
 * once per T draws and spreads each batch over the whole set with no O(T) state. */
static void adam_phase(const qlow_ctx *ctx, qlow__p161 *p, const float *Wp, work *w, const qlow__calib *c,
                       const qlow__layer_opt *o, batch *b)
{
    const int64_t rows = p->rows, cols = p->cols;
    const int64_t T = c->stream ? c->stream->X->shape[0] : c->T, B = b->B, nb = T / B;
    uint64_t st = o->seed ^ 0xada3u;
    int64_t walk = 0, g = 1;
    if (c->stream) {
        walk = (int64_t)(qlow__splitmix64(&st) % (uint64_t)T);
        g = T > 1 ? 1 + (int64_t)(qlow__splitmix64(&st) % (uint64_t)(T - 1)) : 1;
        for (;;) { /* smallest g' >= g coprime to T (g' = 1 always is) */
            int64_t x = g, y = T;
            while (y) {
                int64_t r = x % y;
                x = y;
                y = r;
            }
            if (x == 1) break;
            g = g + 1 < T ? g + 1 : 1;
        }
    } else {
        for (int64_t t = 0; t < T; t++) b->order[t] = (int32_t)t;
        for (int64_t t = T - 1; t > 0; t--) {
            int64_t k = (int64_t)(qlow__splitmix64(&st) % (uint64_t)(t + 1));
            int32_t tmp = b->order[t];
            b->order[t] = b->order[k];
            b->order[k] = tmp;
        }
    }
    for (int64_t step = 0; step < o->adam_steps; step++) {
        for (int64_t k = 0; k < B; k++) {
            if (c->stream) {
                b->idx[k] = walk;
                walk = walk + g < T ? walk + g : walk + g - T;
            } else {
                b->idx[k] = b->order[(step % nb) * B + k];
            }
        }
        load_batch(ctx, p, Wp, w, c, b, B);
        qlow__p161_materialize(ctx, p, w->A, 1);
        qlow__sgemm_nn(ctx, rows, B, cols, w->A, cols, b->XbT, B, b->Yhb, B, 0);
        qlow__loss_mse_nlc(ctx, b->Yb, b->Yhb, rows, B, B, o->lambda_cos, b->dY, NULL, NULL);
        qlow__sgemm_nn(ctx, rows, cols, B, b->dY, B, b->Xb, cols, w->G, cols, 0);
        qlow__p161_accumulate_grad(ctx, p, w->G, cols, 1);
        qlow__p161_adam_step(p, &o->hp);
    }
}

/* Bytes of the batch buffers (base NULL) or carve them from base. */
static size_t carve_batch(batch *b, unsigned char *base, int64_t rows, int64_t cols, int64_t B, int64_t T_order)
{
    size_t off = 0;
#define TAKE(field, type, count)                                                                       \
    do {                                                                                               \
        if (base) b->field = (type *)(base + off);                                                     \
        off += qlow__align_up((size_t)(count) * sizeof(type), 64);                                     \
    } while (0)
    TAKE(Xb, float, (size_t)B * (size_t)cols);
    TAKE(XbT, float, (size_t)B * (size_t)cols);
    TAKE(row, float, cols);
    TAKE(Yb, float, (size_t)rows * (size_t)B);
    TAKE(Yhb, float, (size_t)rows * (size_t)B);
    TAKE(dY, float, (size_t)rows * (size_t)B);
    TAKE(idx, int64_t, B);
    TAKE(order, int32_t, T_order);
#undef TAKE
    b->B = B;
    return off;
}

/* Bytes of the work and batch buffers, with the products carve() and carve_batch() form unchecked
 * verified first. */
static qlow_status scratch_bytes(int64_t rows, int64_t cols, int64_t nu, int64_t T, int64_t B, int64_t T_order,
                                 size_t *bytes)
{
    size_t a = 0, b = 0;
    QLOW_TRY(qlow__mul_size((size_t)rows, (size_t)(T > cols ? T : cols), &a));
    QLOW_TRY(qlow__mul_size(a, 8 * sizeof(double), &a));
    QLOW_TRY(qlow__mul_size((size_t)B, 3 * (size_t)rows + 2 * (size_t)cols + 2, &b));
    QLOW_TRY(qlow__mul_size(b, sizeof(double), &b));
    QLOW_TRY(qlow__add_size(a, b, &a));
    work w;
    batch bt;
    *bytes = carve(&w, NULL, rows, cols, nu, T) + carve_batch(&bt, NULL, rows, cols, B, T_order);
    return QLOW_OK;
}

qlow_status qlow__layer_optimize(const qlow_ctx *ctx, const qlow_allocator *alloc, qlow__p161 *p, const float *Wp,
                                 const qlow__calib *c, const qlow__layer_opt *o, double *loss_out)
{
    const int64_t rows = p->rows, cols = p->cols, ns = p->ns, nu = p->nu, T = c->T;
    if (T < 1) return QLOW_E_SHAPE;
    const int64_t T_all = c->stream ? c->stream->X->shape[0] : T;
    const int64_t B = o->batch_tokens < T_all ? o->batch_tokens : T_all;
    work w;
    batch bt;
    memset(&w, 0, sizeof(w));
    memset(&bt, 0, sizeof(bt));
    size_t bytes = 0;
    QLOW_TRY(scratch_bytes(rows, cols, nu, T, B, c->stream ? 0 : T, &bytes));
    unsigned char *mem = (unsigned char *)qlow__alloc(alloc, bytes, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    size_t off = carve(&w, mem, rows, cols, nu, T);
    carve_batch(&bt, mem + off, rows, cols, B, c->stream ? 0 : T);

    qlow__sgemm_nn(ctx, rows, T, cols, Wp, cols, c->XT, T, w.Y, T, 0);
    if (ns > 0) {
        qlow__p161_materialize(ctx, p, w.A, 1);
        qlow__sgemm_nn(ctx, rows, T, ns, w.A, cols, c->XT, T, w.Q, T, 0);
        for (size_t k = 0; k < (size_t)rows * (size_t)T; k++) w.Q[k] = w.Y[k] - w.Q[k];
    } else {
        memcpy(w.Q, w.Y, (size_t)rows * (size_t)T * sizeof(float));
    }
    for (int64_t u = 0; u < nu; u++) {
        double s = 0.0;
        const float *xr = c->XT + (ns + u) * T;
        for (int64_t t = 0; t < T; t++) s += (double)xr[t] * xr[t];
        w.hd[u] = s;
    }
    if (nu > 0) {
        for (int it = 0; it < o->als_iters; it++) {
            solve_rows(ctx, p, &w, c);
            solve_r2(ctx, p, &w, c, o->cg_iters);
        }
    }
    double best = full_loss(ctx, p, Wp, &w, c, &bt, o->lambda_cos, NULL, NULL);
    if (o->adam_steps > 0 && nu > 0) {
        qlow__p161_save(p, w.best);
        adam_phase(ctx, p, Wp, &w, c, o, &bt);
        double after = full_loss(ctx, p, Wp, &w, c, &bt, o->lambda_cos, NULL, NULL);
        if (!(after <= best)) qlow__p161_load(p, w.best);
        else best = after;
    }
    qlow__free(alloc, mem);
    if (loss_out) *loss_out = best;
    return isfinite(best) ? QLOW_OK : QLOW_E_NUMERIC;
}

qlow_status qlow__layer_loss(const qlow_ctx *ctx, const qlow_allocator *alloc, const qlow__p161 *p, const float *Wp,
                             const qlow__calib *c, double lambda, double *loss, double *mse, double *cosm)
{
    const int64_t rows = p->rows, cols = p->cols, T = c->T;
    if (T < 1) return QLOW_E_SHAPE;
    const int64_t T_all = c->stream ? c->stream->X->shape[0] : T;
    const int64_t B = T_all < 128 ? T_all : 128;
    work w;
    batch bt;
    memset(&w, 0, sizeof(w));
    memset(&bt, 0, sizeof(bt));
    size_t bytes = 0;
    QLOW_TRY(scratch_bytes(rows, cols, p->nu, T, B, 0, &bytes));
    unsigned char *mem = (unsigned char *)qlow__alloc(alloc, bytes, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    size_t off = carve(&w, mem, rows, cols, p->nu, T);
    carve_batch(&bt, mem + off, rows, cols, B, 0);
    if (!c->stream) qlow__sgemm_nn(ctx, rows, T, cols, Wp, cols, c->XT, T, w.Y, T, 0);
    double l = full_loss(ctx, p, Wp, &w, c, &bt, lambda, mse, cosm);
    qlow__free(alloc, mem);
    if (loss) *loss = l;
    return QLOW_OK;
}
