/* scaleopt.c - engine-driven PTQ1.61 scale optimization: the engine owns the block forward/backward
 * (the paper's block-wise variant, ptq161.md §2.5), hands dL/dW^ of each linear to the library, and the
 * library keeps the parameterization and the Adam state. */
#include "ptq161/ptq161.h"

struct qlow_scaleopt {
    qlow_ctx ctx; /* a copy: threads, ISA level, seed */
    qlow_allocator alloc;
    qlow__adam_hp hp;
    int full_row_range, alpha_mean_abs;
    int32_t count, capacity;
    qlow__p161 **linears;
};

qlow_status qlow_scaleopt_create(qlow_ctx *ctx, const qlow_params *params, qlow_scaleopt **out)
{
    if (!ctx || !out) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__ctx_check(ctx));
    const qlow_allocator *a = qlow__ctx_allocator(ctx);
    qlow_scaleopt *o = (qlow_scaleopt *)qlow__calloc(a, sizeof(*o), 64);
    if (!o) return QLOW_E_NO_MEMORY;
    o->ctx = *ctx;
    o->ctx.owns_memory = 0;
    o->alloc = *a;
    qlow__adam_hp_from_params(params, &o->hp);
    o->full_row_range = (int)qlow__param_int(params, QLOW_PTQ161_SALIENT_RANGE);
    o->alpha_mean_abs = (int)qlow__param_int(params, QLOW_PTQ161_ALPHA_INIT);
    *out = o;
    return QLOW_OK;
}

void qlow_scaleopt_destroy(qlow_scaleopt *opt)
{
    if (!opt) return;
    for (int32_t k = 0; k < opt->count; k++) qlow__p161_destroy(opt->linears[k]);
    qlow__free(&opt->alloc, opt->linears);
    qlow__free(&opt->alloc, opt);
}

/* Room for one more linear. */
static qlow_status reserve(qlow_scaleopt *opt)
{
    if (opt->count == INT32_MAX) return QLOW_E_OVERFLOW;
    if (opt->count == opt->capacity) {
        int32_t cap = opt->capacity ? (opt->capacity < INT32_MAX / 2 ? opt->capacity * 2 : INT32_MAX) : 8;
        qlow__p161 **grown = (qlow__p161 **)qlow__alloc(&opt->alloc, (size_t)cap * sizeof(*grown), 16);
        if (!grown) return QLOW_E_NO_MEMORY;
        if (opt->count) memcpy(grown, opt->linears, (size_t)opt->count * sizeof(*grown));
        qlow__free(&opt->alloc, opt->linears);
        opt->linears = grown;
        opt->capacity = cap;
    }
    return QLOW_OK;
}

qlow_status qlow_scaleopt_add_fitted(qlow_scaleopt *opt, const qlow_params *params, const qlow_view *W,
                                     const qlow_view *X, int32_t *linear_id)
{
    if (!opt || !W || !X || !linear_id) return QLOW_E_NULL_POINTER;
    if (qlow__param_int(params, QLOW_PTQ161_EQUALIZE)) return QLOW_E_INVALID_ARG;
    QLOW_TRY(reserve(opt));
    qlow__p161 *p = NULL;
    /* The pipeline allocates through the ctx allocator, which is the optimizer's. */
    QLOW_TRY(qlow__ptq161_run(&opt->ctx, params, W, X, NULL, NULL, NULL, &p));
    opt->linears[opt->count] = p;
    *linear_id = opt->count++;
    return QLOW_OK;
}

qlow_status qlow_scaleopt_add_linear(qlow_scaleopt *opt, const qlow_view *W, const uint8_t *mask, int32_t *linear_id)
{
    if (!opt || !W || !mask || !linear_id) return QLOW_E_NULL_POINTER;
    QLOW_TRY(qlow__view_check(W, QLOW__DT_FLOAT, 2));
    QLOW_TRY(qlow__view_check_finite(W));
    const int64_t rows = W->shape[0], cols = W->shape[1];
    if (rows < 1 || cols < 1 || cols > INT32_MAX) return QLOW_E_SHAPE;
    QLOW_TRY(reserve(opt));
    qlow__p161 *p = NULL;
    QLOW_TRY(qlow__p161_create(&opt->alloc, rows, cols, mask, &p));
    size_t wc = 0;
    qlow_status st = qlow__matrix_count(rows + 1, cols, &wc);
    float *Wp = st == QLOW_OK ? (float *)qlow__alloc(&opt->alloc, wc * sizeof(float), 64) : NULL;
    if (!Wp) {
        qlow__p161_destroy(p);
        return st == QLOW_OK ? QLOW_E_NO_MEMORY : st;
    }
    float *row = Wp + rows * cols;
    for (int64_t i = 0; i < rows; i++) {
        qlow__view_read_row_f32(W, i, row);
        for (int64_t j = 0; j < cols; j++) Wp[i * cols + j] = row[p->perm[j]];
    }
    qlow__p161_init(&opt->ctx, p, Wp, opt->full_row_range, opt->alpha_mean_abs);
    qlow__free(&opt->alloc, Wp);
    opt->linears[opt->count] = p;
    *linear_id = opt->count++;
    return QLOW_OK;
}

static qlow__p161 *linear_of(const qlow_scaleopt *opt, int32_t id)
{
    return (id >= 0 && id < opt->count) ? opt->linears[id] : NULL;
}

qlow_status qlow_scaleopt_weight(const qlow_scaleopt *opt, int32_t linear_id, float *W_hat)
{
    if (!opt || !W_hat) return QLOW_E_NULL_POINTER;
    const qlow__p161 *p = linear_of(opt, linear_id);
    if (!p) return QLOW_E_INVALID_ARG;
    qlow__p161_materialize(&opt->ctx, p, W_hat, 0);
    return QLOW_OK;
}

qlow_status qlow_scaleopt_grad(qlow_scaleopt *opt, int32_t linear_id, const qlow_view *dW_hat)
{
    if (!opt || !dW_hat) return QLOW_E_NULL_POINTER;
    qlow__p161 *p = linear_of(opt, linear_id);
    if (!p) return QLOW_E_INVALID_ARG;
    QLOW_TRY(qlow__view_check(dW_hat, QLOW__DT(QLOW_DTYPE_F32), 2));
    if (dW_hat->shape[0] != p->rows || dW_hat->shape[1] != p->cols) return QLOW_E_SHAPE;
    if (dW_hat->stride_bytes[1] != 4 || dW_hat->stride_bytes[0] % 4 != 0) return QLOW_E_ALIGNMENT;
    QLOW_TRY(qlow__view_check_finite(dW_hat));
    qlow__p161_accumulate_grad(&opt->ctx, p, (const float *)dW_hat->data, dW_hat->stride_bytes[0] / 4, 0);
    return QLOW_OK;
}

qlow_status qlow_scaleopt_grad_dy(qlow_scaleopt *opt, int32_t linear_id, const qlow_view *dY, const qlow_view *X)
{
    if (!opt || !dY || !X) return QLOW_E_NULL_POINTER;
    qlow__p161 *p = linear_of(opt, linear_id);
    if (!p) return QLOW_E_INVALID_ARG;
    QLOW_TRY(qlow__view_check(dY, QLOW__DT_FLOAT, 2));
    QLOW_TRY(qlow__view_check(X, QLOW__DT_FLOAT, 2));
    const int64_t T = dY->shape[0];
    if (dY->shape[1] != p->rows || X->shape[0] != T || X->shape[1] != p->cols) return QLOW_E_SHAPE;
    QLOW_TRY(qlow__view_check_finite(dY));
    QLOW_TRY(qlow__view_check_finite(X));
    size_t a = 0, b = 0, g = 0, total = 0;
    QLOW_TRY(qlow__matrix_count(p->rows, T, &a));
    QLOW_TRY(qlow__matrix_count(p->cols, T, &b));
    QLOW_TRY(qlow__matrix_count(p->rows, p->cols, &g));
    QLOW_TRY(qlow__add_size(a, b, &total));
    QLOW_TRY(qlow__add_size(total, g, &total));
    QLOW_TRY(qlow__add_size(total, (size_t)(p->rows > p->cols ? p->rows : p->cols), &total));
    QLOW_TRY(qlow__mul_size(total, sizeof(float), &total));
    float *mem = (float *)qlow__alloc(&opt->alloc, total, 64);
    if (!mem) return QLOW_E_NO_MEMORY;
    float *dYT = mem, *Xc = mem + a, *G = Xc + b, *row = G + g;
    for (int64_t t = 0; t < T; t++) {
        qlow__view_read_row_f32(dY, t, row);
        for (int64_t i = 0; i < p->rows; i++) dYT[i * T + t] = row[i];
        qlow__view_read_row_f32(X, t, Xc + t * p->cols);
    }
    qlow__sgemm_nn(&opt->ctx, p->rows, p->cols, T, dYT, T, Xc, p->cols, G, p->cols, 0);
    qlow__p161_accumulate_grad(&opt->ctx, p, G, p->cols, 0);
    qlow__free(&opt->alloc, mem);
    return QLOW_OK;
}

qlow_status qlow_scaleopt_step(qlow_scaleopt *opt)
{
    if (!opt) return QLOW_E_NULL_POINTER;
    for (int32_t k = 0; k < opt->count; k++) qlow__p161_adam_step(opt->linears[k], &opt->hp);
    return QLOW_OK;
}

qlow_status qlow_scaleopt_scales(const qlow_scaleopt *opt, int32_t linear_id, float *alpha, float *r1, float *mu,
                                 float *r2)
{
    if (!opt) return QLOW_E_NULL_POINTER;
    const qlow__p161 *p = linear_of(opt, linear_id);
    if (!p) return QLOW_E_INVALID_ARG;
    const size_t nr = (size_t)p->rows * sizeof(float);
    if (alpha) memcpy(alpha, p->alpha, nr);
    if (r1) memcpy(r1, p->r1, nr);
    if (mu) memcpy(mu, p->mu, nr);
    if (r2) {
        for (int64_t j = 0; j < p->ns; j++) r2[p->perm[j]] = 1.0f;
        for (int64_t u = 0; u < p->nu; u++) r2[p->perm[p->ns + u]] = p->r2[u];
    }
    return QLOW_OK;
}

qlow_status qlow_scaleopt_quantize(const qlow_scaleopt *opt, int32_t linear_id, qlow_qmatrix **out)
{
    if (!opt || !out) return QLOW_E_NULL_POINTER;
    const qlow__p161 *p = linear_of(opt, linear_id);
    if (!p) return QLOW_E_INVALID_ARG;
    for (int64_t i = 0; i < p->rows; i++) {
        float a = qlow_fp16_to_fp32(qlow_fp32_to_fp16(p->r1[i] * p->alpha[i]));
        float m = qlow_fp16_to_fp32(qlow_fp32_to_fp16(p->r1[i] * p->mu[i]));
        if (!qlow__is_finite_f32(a) || !qlow__is_finite_f32(m)) return QLOW_E_NUMERIC;
    }
    for (int64_t u = 0; u < p->nu; u++)
        if (!qlow__is_finite_f32(qlow_fp16_to_fp32(qlow_fp32_to_fp16(p->r2[u])))) return QLOW_E_NUMERIC;
    return qlow__p161_to_qmatrix(p, &opt->alloc, out);
}
