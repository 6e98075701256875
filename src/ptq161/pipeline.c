/* pipeline.c - qlow_ptq161_quantize_f32(): mask, optional equalization and low-rank restoration,
 * quantization, scale optimization, optional GPTQ compensation, fp16 fold, dequantized output. */
#include "hessian/dense.h"
#include "hessian/hessian.h"
#include "ptq161/ptq161.h"
#include "mask/mask.h"

#include <math.h>

typedef struct pipe {
    qlow_ctx *ctx;
    const qlow_allocator *alloc;
    const qlow_params *params;
    int64_t rows, cols, T;
    float *W, *X;       /* original order, fp32 (equalized in place when chosen) */
    float *Wp, *Xp, *XpT; /* permuted */
    float *tmp;         /* rows x cols */
    float *absmean;     /* cols */
    uint8_t *mask;
    qlow__p161 *p;
    qlow__layer_opt opt;
    /* Streaming (more tokens than columns, and QLOW_SCALE_FIT_TOKENS = 0 or >= cols): X above holds cols
     * MSE-exact pseudo-tokens of the Gram matrix of every token, and the Adam minibatches and the final
     * loss read the caller's X in place. */
    int streaming, mse_only;
    qlow__stream stream;
    qlow_hessian *hess; /* X^T X over every token, kept from the pseudo-tokens for GPTQ */
} pipe;

static void permute(pipe *s)
{
    const int32_t *perm = s->p->perm;
    for (int64_t i = 0; i < s->rows; i++)
        for (int64_t j = 0; j < s->cols; j++) s->Wp[i * s->cols + j] = s->W[i * s->cols + perm[j]];
    for (int64_t t = 0; t < s->T; t++)
        for (int64_t j = 0; j < s->cols; j++) {
            float v = s->X[t * s->cols + perm[j]];
            s->Xp[t * s->cols + j] = v;
            s->XpT[j * s->T + t] = v;
        }
}

static qlow__calib calib_of(const pipe *s)
{
    qlow__calib c = {s->Xp, s->XpT, s->T, s->streaming && !s->mse_only ? &s->stream : NULL};
    return c;
}

/* Quantize Winit (permuted) and fit the scales to the outputs of s->Wp. */
static qlow_status fit(pipe *s, const float *Winit, const qlow__layer_opt *o, int optimize, double *loss)
{
    qlow__p161_init(s->ctx, s->p, Winit, (int)qlow__param_int(s->params, QLOW_PTQ161_SALIENT_RANGE),
                    (int)qlow__param_int(s->params, QLOW_PTQ161_ALPHA_INIT));
    qlow__calib c = calib_of(s);
    if (optimize && s->T > 0) return qlow__layer_optimize(s->ctx, s->alloc, s->p, s->Wp, &c, o, loss);
    if (loss && s->T > 0) return qlow__layer_loss(s->ctx, s->alloc, s->p, s->Wp, &c, o->lambda_cos, loss, NULL, NULL);
    return QLOW_OK;
}

/* Try exponents beta in [0, 1/2] with a cheap fit (one sweep, no Adam, on at most 256 of the tokens) and
 * keep the best on the output MSE; beta = 0 (identity) wins ties. */
static qlow_status equalize(pipe *s, float *fold)
{
    const int grid = (int)qlow__param_int(s->params, QLOW_PTQ161_EQUALIZE_GRID);
    qlow__layer_opt cheap = s->opt;
    cheap.als_iters = 1;
    cheap.cg_iters = 2;
    cheap.adam_steps = 0;
    cheap.lambda_cos = 0.0;
    double best = INFINITY, best_beta = 0.0;
    const size_t wc = (size_t)s->rows * (size_t)s->cols, xc = (size_t)s->T * (size_t)s->cols;
    float *W0 = s->tmp; /* the original W is parked in scratch while trying */
    memcpy(W0, s->W, wc * sizeof(float));
    float *Xsave = (float *)qlow__alloc(s->alloc, xc * sizeof(float), 64);
    if (!Xsave) return QLOW_E_NO_MEMORY;
    memcpy(Xsave, s->X, xc * sizeof(float));
    qlow_status st = QLOW_OK;
    const int64_t T_full = s->T;
    /* The trials see a prefix of the (already random) token subset; pseudo-tokens are not exchangeable,
     * so there they all stay, and the trials score the exact MSE on them. */
    if (s->T > 256 && !s->streaming) s->T = 256;
    s->mse_only = 1;
    for (int g = 0; g < grid && st == QLOW_OK; g++) {
        double beta = grid > 1 ? 0.5 * g / (grid - 1) : 0.0;
        qlow__equalize_scales(s->absmean, s->cols, beta, fold);
        for (size_t k = 0; k < wc; k++) s->W[k] = W0[k] * fold[k % (size_t)s->cols];
        for (size_t k = 0; k < xc; k++) s->X[k] = Xsave[k] / fold[k % (size_t)s->cols];
        permute(s);
        double loss = 0.0;
        st = fit(s, s->Wp, &cheap, 1, &loss);
        if (st == QLOW_OK && loss < best) {
            best = loss;
            best_beta = beta;
        }
        memcpy(s->W, W0, wc * sizeof(float));
    }
    s->T = T_full;
    s->mse_only = 0;
    if (st == QLOW_OK) {
        qlow__equalize_scales(s->absmean, s->cols, best_beta, fold);
        for (size_t k = 0; k < wc; k++) s->W[k] = W0[k] * fold[k % (size_t)s->cols];
        for (size_t k = 0; k < xc; k++) s->X[k] = Xsave[k] / fold[k % (size_t)s->cols];
    }
    qlow__free(s->alloc, Xsave);
    return st;
}

static void read_matrix(const qlow_view *v, float *dst)
{
    for (int64_t r = 0; r < v->shape[0]; r++) qlow__view_read_row_f32(v, r, dst + r * v->shape[1]);
}

/* Read a seeded uniform subset of `keep` rows of X in increasing order (Knuth's selection sampling). */
static void read_token_subset(const qlow_view *X, int64_t keep, uint64_t seed, float *dst)
{
    const int64_t T = X->shape[0], cols = X->shape[1];
    uint64_t st = seed ^ 0x5ab5e7u;
    int64_t taken = 0;
    for (int64_t t = 0; t < T && taken < keep; t++) {
        uint64_t r = qlow__splitmix64(&st) % (uint64_t)(T - t);
        if (r < (uint64_t)(keep - taken)) qlow__view_read_row_f32(X, t, dst + (taken++) * cols);
    }
}

/* GPTQ's H in permuted order. From every token of X when given (the optimizer's subset is too small for
 * a cols x cols second moment), through the Hessian accumulator; otherwise from the pseudo-tokens. Folded
 * equalization scales are applied (x' = x / s). */
static qlow_status gptq_hessian(pipe *s, const qlow_view *X, const float *fold, double *Hp)
{
    const int64_t m = s->cols;
    const int32_t *perm = s->p->perm;
    if (X) {
        qlow_hessian *h = s->hess;
        qlow_status st = QLOW_OK;
        if (!h) {
            QLOW_TRY(qlow_hessian_create(s->alloc, m, QLOW_HESSIAN_FULL, &h));
            st = qlow_hessian_add(s->ctx, h, X);
        }
        if (st == QLOW_OK) {
            for (int64_t a = 0; a < m; a++)
                for (int64_t b = 0; b < m; b++) {
                    const int64_t i = perm[a], j = perm[b];
                    const double v = i >= j ? h->S[i * m + j] : h->S[j * m + i];
                    Hp[a * m + b] = v / ((double)fold[i] * fold[j]);
                }
        }
        if (h != s->hess) qlow_hessian_destroy(h);
        return st;
    }
    float *Hf = (float *)qlow__alloc(s->alloc, (size_t)m * (size_t)m * sizeof(float), 64);
    if (!Hf) return QLOW_E_NO_MEMORY;
    qlow__sgemm_nn(s->ctx, m, m, s->T, s->XpT, s->T, s->Xp, m, Hf, m, 0);
    for (size_t k = 0; k < (size_t)m * (size_t)m; k++) Hp[k] = Hf[k];
    qlow__free(s->alloc, Hf);
    return QLOW_OK;
}

static qlow_status run(pipe *s, const qlow_view *X, const qlow_actstats *stats, float *fold)
{
    const int64_t rows = s->rows, cols = s->cols;
    /* Mask statistic: from the given accumulator, else from every token of X. */
    qlow_actstats *own = NULL;
    if (!stats) {
        QLOW_TRY(qlow_actstats_create(s->alloc, cols, &own));
        qlow_status st = qlow_actstats_update(own, X);
        if (st != QLOW_OK) {
            qlow_actstats_destroy(own);
            return st;
        }
        stats = own;
    }
    qlow_status st = qlow_actstats_mask(stats, s->params, s->mask, NULL);
    if (st == QLOW_OK) st = qlow_actstats_get(stats, QLOW_ACTSTAT_ABSMEAN, s->absmean, cols, NULL);
    qlow_actstats_destroy(own);
    QLOW_TRY(st);
    QLOW_TRY(qlow__p161_create(s->alloc, rows, cols, s->mask, &s->p));
    for (int64_t j = 0; j < cols; j++) fold[j] = 1.0f;
    const int optimize = (int)qlow__param_int(s->params, QLOW_PTQ161_OPTIMIZE);
    const int equalize_on = qlow__param_int(s->params, QLOW_PTQ161_EQUALIZE) && s->T > 0;
    s->stream.X = X;
    s->stream.perm = s->p->perm;
    s->stream.fold = equalize_on ? fold : NULL;
    if (equalize_on) QLOW_TRY(equalize(s, fold));
    permute(s);
    QLOW_TRY(fit(s, s->Wp, &s->opt, optimize, NULL));
    const int64_t rank = qlow__param_int(s->params, QLOW_PTQ161_LOWRANK);
    if (rank > 0 && s->T > 0) {
        /* Restorative pass: W' = Q(W) + L with L the best rank-r fix of the output error, then quantize W'
         * again against the original outputs (the closed-form analogue of the paper's LoRA round). */
        const size_t wc = (size_t)rows * (size_t)cols;
        float *Wq = (float *)qlow__alloc(s->alloc, wc * sizeof(float), 64);
        if (!Wq) return QLOW_E_NO_MEMORY;
        qlow__p161_materialize(s->ctx, s->p, Wq, 1);
        for (size_t k = 0; k < wc; k++) s->tmp[k] = s->Wp[k] - Wq[k];
        st = qlow__lowrank_correction(s->ctx, s->alloc, s->tmp, rows, cols, s->XpT, s->T, rank, s->opt.seed, s->tmp);
        if (st == QLOW_OK) {
            for (size_t k = 0; k < wc; k++) Wq[k] += s->tmp[k];
            st = fit(s, Wq, &s->opt, optimize, NULL);
        }
        qlow__free(s->alloc, Wq);
        QLOW_TRY(st);
    }
    if (qlow__param_int(s->params, QLOW_PTQ161_GPTQ) && s->T > 0) {
        size_t hb = 0;
        QLOW_TRY(qlow__mul_size((size_t)cols * (size_t)cols, sizeof(double), &hb));
        double *Hp = (double *)qlow__alloc(s->alloc, hb, 64);
        if (!Hp) return QLOW_E_NO_MEMORY;
        st = gptq_hessian(s, X, fold, Hp);
        if (st == QLOW_OK)
            st = qlow__ptq161_gptq(s->ctx, s->alloc, s->p, s->Wp, Hp,
                                   qlow__param_float(s->params, QLOW_PTQ161_GPTQ_DAMP), s->tmp);
        qlow__free(s->alloc, Hp);
        QLOW_TRY(st);
        /* Keep the compensated codes: salient codes and signs from the rounded weights, then refit the
         * scales (signs frozen) against the original outputs. */
        const int64_t ns = s->p->ns, nu = s->p->nu;
        for (int64_t i = 0; i < rows; i++) {
            const float *w = s->tmp + i * cols;
            for (int64_t j = 0; j < ns; j++) {
                float q = nearbyintf((w[j] - s->p->sal_min[i]) / s->p->sal_scale[i]);
                s->p->sal_q[i * ns + j] = (uint8_t)(q < 0.0f ? 0.0f : q > 15.0f ? 15.0f : q);
            }
            const float b = s->p->r1[i] * s->p->mu[i];
            for (int64_t u = 0; u < nu; u++) {
                float a = s->p->r1[i] * s->p->alpha[i];
                if (s->p->r2[u] == 0.0f) continue;
                float v = w[ns + u] / s->p->r2[u] - b;
                s->p->sign[i * nu + u] = (int8_t)((v >= 0.0f) == (a >= 0.0f) ? 1 : -1);
            }
        }
        if (optimize) {
            qlow__calib c2 = calib_of(s);
            QLOW_TRY(qlow__layer_optimize(s->ctx, s->alloc, s->p, s->Wp, &c2, &s->opt, NULL));
        }
    }
    qlow__p161_finalize(s->p);
    return qlow__p161_check_finite(s->p) ? QLOW_OK : QLOW_E_NUMERIC;
}

/* Pseudo-tokens from a Gram matrix: with H + eps I = L L^T, the cols rows of L^T satisfy
 * sum_t x_t x_t^T = H + eps I, so every output-MSE quantity computed on them is the one of the real
 * calibration set (the cosine term needs real tokens: the caller switches it off, or streams them).
 * H comes from the view Hv, or is accumulated over every token of the view Xv. */
static qlow_status pseudo_tokens(qlow_ctx *ctx, const qlow_allocator *alloc, const qlow_view *Hv,
                                 const qlow_view *Xv, int64_t m, float *X, qlow_hessian **keep)
{
    size_t mm = 0, bytes = 0, scratch = qlow__spd_scratch_doubles(m);
    QLOW_TRY(qlow__matrix_count(m, m, &mm));
    QLOW_TRY(qlow__add_size(mm, scratch, &bytes));
    QLOW_TRY(qlow__mul_size(bytes, sizeof(double), &bytes));
    double *A = (double *)qlow__alloc(alloc, bytes, 64);
    if (!A) return QLOW_E_NO_MEMORY;
    double mean_diag = 0.0;
    if (Xv) {
        qlow_hessian *h = NULL;
        qlow_status st = qlow_hessian_create(alloc, m, QLOW_HESSIAN_FULL, &h);
        if (st == QLOW_OK) st = qlow_hessian_add(ctx, h, Xv);
        if (st == QLOW_OK)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j <= i; j++) A[i * m + j] = A[j * m + i] = h->S[i * m + j];
        if (st == QLOW_OK && keep) *keep = h;
        else qlow_hessian_destroy(h);
        if (st != QLOW_OK) {
            qlow__free(alloc, A);
            return st;
        }
    } else {
        float *row = X; /* X doubles as the row buffer until the factor is written */
        for (int64_t i = 0; i < m; i++) {
            qlow__view_read_row_f32(Hv, i, row);
            for (int64_t j = 0; j < m; j++) A[i * m + j] = 0.5 * row[j];
        }
        for (int64_t i = 0; i < m; i++) /* symmetrize */
            for (int64_t j = 0; j < i; j++) {
                double v = A[i * m + j] + A[j * m + i];
                A[i * m + j] = A[j * m + i] = v;
            }
        for (int64_t i = 0; i < m; i++) A[i * m + i] *= 2.0;
    }
    for (int64_t i = 0; i < m; i++) mean_diag += A[i * m + i];
    mean_diag = mean_diag > 0.0 ? mean_diag / (double)m : 1.0;
    for (int64_t i = 0; i < m; i++) A[i * m + i] += 1e-6 * mean_diag + (A[i * m + i] <= 0.0 ? mean_diag * 1e-3 : 0.0);
    qlow_status st = qlow__cholesky_lower(qlow__ctx_isa(ctx), qlow__ctx_threads(ctx), A, m, A + mm);
    if (st == QLOW_OK)
        for (int64_t t = 0; t < m; t++)
            for (int64_t j = 0; j < m; j++) X[t * m + j] = (float)A[j * m + t];
    qlow__free(alloc, A);
    return st;
}

qlow_status qlow__ptq161_run(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W, const qlow_view *X,
                             const qlow_view *H, const qlow_actstats *stats, float *fold_scale, qlow__p161 **out)
{
    if (!ctx || !W) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__ctx_check(ctx));
    QLOW_TRY(qlow__view_check(W, QLOW__DT_FLOAT, 2));
    QLOW_TRY(qlow__view_check_finite(W));
    const int64_t rows = W->shape[0], cols = W->shape[1];
    if (rows < 1 || cols < 1 || cols > INT32_MAX) return QLOW_E_SHAPE;
    const int needs_x = qlow__param_int(params, QLOW_PTQ161_OPTIMIZE) || qlow__param_int(params, QLOW_PTQ161_EQUALIZE) ||
                        qlow__param_int(params, QLOW_PTQ161_LOWRANK) || qlow__param_int(params, QLOW_PTQ161_GPTQ);
    if (X && H) return QLOW_E_INVALID_ARG;
    if (H && !stats) return QLOW_E_NULL_POINTER;
    if (!X && !H && (!stats || needs_x)) return QLOW_E_NULL_POINTER;
    if (qlow__param_int(params, QLOW_PTQ161_EQUALIZE) && !fold_scale) return QLOW_E_NULL_POINTER;
    int64_t T = 0, fit_tokens = 0;
    int streaming = 0;
    if (X) {
        QLOW_TRY(qlow__view_check(X, QLOW__DT_FLOAT, 2));
        if (X->shape[1] != cols || X->shape[0] < 1) return QLOW_E_SHAPE;
        QLOW_TRY(qlow__view_check_finite(X));
        T = X->shape[0];
        /* Streaming whenever the cols pseudo-tokens cost no more than the token budget: the sweeps are
         * then exact over every token for the price of a subset. */
        fit_tokens = qlow__param_int(params, QLOW_SCALE_FIT_TOKENS);
        if (T > cols && (fit_tokens == 0 || cols <= fit_tokens)) {
            streaming = 1;
            T = cols;
        } else if (fit_tokens > 0 && T > fit_tokens) {
            T = fit_tokens;
        }
    }
    if (H) {
        QLOW_TRY(qlow__view_check(H, QLOW__DT_FLOAT, 2));
        if (H->shape[0] != cols || H->shape[1] != cols) return QLOW_E_SHAPE;
        QLOW_TRY(qlow__view_check_finite(H));
        T = cols;
    }
    if (stats && qlow__actstats_cols(stats) != cols) return QLOW_E_SHAPE;
    const qlow_allocator *alloc = qlow__ctx_allocator(ctx);
    size_t wc = 0, xc = 0, total = 0;
    QLOW_TRY(qlow__matrix_count(rows, cols, &wc));
    QLOW_TRY(qlow__matrix_count(T, cols, &xc));
    /* W, Wp, tmp (3 wc) + X, Xp, XpT (3 xc) + absmean, fold (2 cols) + mask. */
    size_t nflt = 0;
    QLOW_TRY(qlow__mul_size(wc, 3, &nflt));
    QLOW_TRY(qlow__add_size(nflt, 3 * xc, &nflt));
    QLOW_TRY(qlow__add_size(nflt, 2 * (size_t)cols, &nflt));
    QLOW_TRY(qlow__mul_size(nflt, sizeof(float), &total));
    QLOW_TRY(qlow__add_size(total, QLOW_MASK_BYTES(cols) + 64, &total));
    float *mem = (float *)qlow__alloc(alloc, total, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    pipe s;
    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.alloc = alloc;
    s.params = params;
    s.rows = rows;
    s.cols = cols;
    s.T = T;
    s.streaming = streaming;
    s.stream.eval_tokens = fit_tokens;
    s.W = mem;
    s.Wp = s.W + wc;
    s.tmp = s.Wp + wc;
    s.X = s.tmp + wc;
    s.Xp = s.X + xc;
    s.XpT = s.Xp + xc;
    s.absmean = s.XpT + xc;
    float *fold = s.absmean + cols;
    s.mask = (uint8_t *)(fold + cols);
    qlow__layer_opt_from_params(ctx, params, &s.opt);
    read_matrix(W, s.W);
    qlow_status st = QLOW_OK;
    if (streaming)
        st = pseudo_tokens(ctx, alloc, NULL, X, cols, s.X, qlow__param_int(params, QLOW_PTQ161_GPTQ) ? &s.hess : NULL);
    else if (X && T == X->shape[0]) read_matrix(X, s.X);
    else if (X) read_token_subset(X, T, s.opt.seed, s.X);
    if (H) {
        s.opt.lambda_cos = 0.0;
        st = pseudo_tokens(ctx, alloc, H, NULL, cols, s.X, NULL);
    }
    if (st == QLOW_OK) st = run(&s, X, stats, fold);
    if (st == QLOW_OK) {
        if (fold_scale) memcpy(fold_scale, fold, (size_t)cols * sizeof(float));
        *out = s.p;
    } else {
        qlow__p161_destroy(s.p);
    }
    qlow_hessian_destroy(s.hess);
    qlow__free(alloc, mem);
    return st;
}

/* Run on tokens X or on a Gram matrix H and hand back the dequantized result. */
static qlow_status quantize_f32(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W, const qlow_view *X,
                                const qlow_view *H, const qlow_actstats *stats, float *W_hat, uint8_t *mask,
                                float *fold_scale)
{
    if (!W_hat) return QLOW_E_NULL_POINTER;
    qlow__p161 *p = NULL;
    QLOW_TRY(qlow__ptq161_run(ctx, params, W, X, H, stats, fold_scale, &p));
    qlow__p161_materialize(ctx, p, W_hat, 0);
    if (mask) memcpy(mask, p->mask, QLOW_MASK_BYTES(p->cols));
    qlow__p161_destroy(p);
    return QLOW_OK;
}

qlow_status qlow_ptq161_quantize_f32(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W, const qlow_view *X,
                                     const qlow_actstats *stats, float *W_hat, uint8_t *mask, float *fold_scale)
{
    return quantize_f32(ctx, params, W, X, NULL, stats, W_hat, mask, fold_scale);
}

qlow_status qlow_ptq161_quantize_gram_f32(qlow_ctx *ctx, const qlow_params *params, const qlow_view *W,
                                          const qlow_view *H, const qlow_actstats *stats, float *W_hat, uint8_t *mask,
                                          float *fold_scale)
{
    if (!H) return QLOW_E_NULL_POINTER;
    return quantize_f32(ctx, params, W, NULL, H, stats, W_hat, mask, fold_scale);
}
