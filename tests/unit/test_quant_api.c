/* test_quant_api.c - the public qlow_quantize API: every scheme end to end, error statuses, allocation
 * failures, caller-buffer variant, deterministic bytes and thread-count invariance. */
#include "qtest.h"

static float *random_matrix(int64_t rows, int64_t cols)
{
    float *w = (float *)malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t k = 0; k < rows * cols; k++) w[k] = (float)(0.08 * qt_rand_normal());
    return w;
}

typedef struct scheme_case {
    int scheme, bits, sym, group_cols, packing;
    int32_t want_format;
} scheme_case;

static const scheme_case cases[] = {
    {QLOW_SCHEME_RTN, 8, 0, 32, 7, QLOW_FORMAT_Q8},      {QLOW_SCHEME_RTN, 4, 0, 0, 7, QLOW_FORMAT_Q4},
    {QLOW_SCHEME_RTN, 3, 1, 64, 7, QLOW_FORMAT_Q3},      {QLOW_SCHEME_RTN, 2, 0, 32, 7, QLOW_FORMAT_Q2},
    {QLOW_SCHEME_BINARY, 4, 0, 0, 7, QLOW_FORMAT_B1},    {QLOW_SCHEME_BINARY_RESIDUAL, 4, 0, 0, 7, QLOW_FORMAT_B2},
    {QLOW_SCHEME_TERNARY, 4, 0, 0, 7, QLOW_FORMAT_T158}, {QLOW_SCHEME_TERNARY, 4, 0, 0, 8, QLOW_FORMAT_T2}};

static qlow_params *make_params(const scheme_case *c)
{
    qlow_params *p = NULL;
    qlow_params_create(NULL, &p);
    qlow_params_set_int(p, QLOW_P_SCHEME, c->scheme);
    qlow_params_set_int(p, QLOW_P_BITS, c->bits);
    qlow_params_set_int(p, QLOW_P_SYMMETRIC, c->sym);
    qlow_params_set_int(p, QLOW_P_GROUP_COLS, c->group_cols);
    qlow_params_set_int(p, QLOW_P_TERNARY_PACKING, c->packing);
    return p;
}

static void serialize(const qlow_qmatrix *qm, unsigned char **buf, size_t *n)
{
    *n = 0;
    qlow_qmatrix_serialized_size(qm, n);
    *buf = (unsigned char *)malloc(*n);
    qlow_qmatrix_serialize(qm, *buf, *n);
}

static void test_schemes(void)
{
    const int64_t rows = 37, cols = 172;
    float *w = random_matrix(rows, cols);
    float *imp = (float *)malloc((size_t)cols * sizeof(float));
    for (int64_t j = 0; j < cols; j++) imp[j] = (float)(0.2 + qt_rand_uniform());
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, w);
    qlow_ctx *c1 = NULL, *c2 = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &c1));
    QT_CHECK_OK(qlow_ctx_create(NULL, &c2));
    QT_CHECK_OK(qlow_ctx_set_int(c2, QLOW_CTX_NUM_THREADS, 2));
    float *deq = (float *)malloc((size_t)(rows * cols) * sizeof(float));
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        qlow_params *p = make_params(&cases[k]);
        qlow_qmatrix *a = NULL, *b = NULL, *again = NULL;
        QT_CHECK_OK(qlow_quantize(c1, p, &v, imp, &a));
        QT_CHECK_OK(qlow_quantize(c2, p, &v, imp, &b));
        QT_CHECK_OK(qlow_quantize(c1, p, &v, imp, &again));
        if (!a || !b || !again) continue;
        int32_t f = 0;
        qlow_qmatrix_format(a, &f);
        QT_CHECK(f == cases[k].want_format, "case %zu: format %d, want %d", k, f, cases[k].want_format);
        unsigned char *ba, *bb, *bc;
        size_t na, nb, nc;
        serialize(a, &ba, &na);
        serialize(b, &bb, &nb);
        serialize(again, &bc, &nc);
        QT_CHECK(na == nb && memcmp(ba, bb, na) == 0, "case %zu: 1 and 2 threads give identical bytes", k);
        QT_CHECK(na == nc && memcmp(ba, bc, na) == 0, "case %zu: deterministic bytes", k);
        /* the error is plausible: relative RMSE well below 1 */
        QT_CHECK_OK(qlow_qmatrix_dequantize(a, 0, rows, deq, (size_t)(rows * cols)));
        double e = 0, r = 0;
        for (int64_t i = 0; i < rows * cols; i++) {
            e += (w[i] - deq[i]) * (double)(w[i] - deq[i]);
            r += (double)w[i] * w[i];
        }
        QT_CHECK(sqrt(e / r) < (cases[k].scheme == QLOW_SCHEME_RTN && cases[k].bits == 8 ? 0.01 : 0.75),
                 "case %zu: rel. RMSE %.4f", k, sqrt(e / r));

        /* caller-buffer variant produces the same bytes and wraps in place */
        size_t wb = 0, ob = 0;
        QT_CHECK_OK(qlow_quantize_workspace_size(c1, p, rows, cols, &wb, &ob));
        QT_CHECK(ob == na, "case %zu: output size %zu == %zu", k, ob, na);
        void *wk = aligned_alloc(64, (wb + 63) / 64 * 64), *dst = aligned_alloc(64, (ob + 63) / 64 * 64);
        QT_CHECK_STATUS(qlow_quantize_to_buffer(c1, p, &v, imp, wk, wb - 1, dst, ob), QLOW_E_WORKSPACE_TOO_SMALL);
        QT_CHECK_STATUS(qlow_quantize_to_buffer(c1, p, &v, imp, wk, wb, dst, ob - 1), QLOW_E_BUFFER_TOO_SMALL);
        QT_CHECK_OK(qlow_quantize_to_buffer(c1, p, &v, imp, wk, wb, dst, ob));
        QT_CHECK(memcmp(dst, ba, na) == 0, "case %zu: to_buffer bytes == qlow_quantize bytes", k);
        qlow_qmatrix *wr = NULL;
        QT_CHECK_OK(qlow_qmatrix_wrap(c1, dst, ob, &wr));
        qlow_qmatrix_destroy(wr);
        free(wk);
        free(dst);
        free(ba);
        free(bb);
        free(bc);
        qlow_qmatrix_destroy(a);
        qlow_qmatrix_destroy(b);
        qlow_qmatrix_destroy(again);
        qlow_params_destroy(p);
    }
    free(deq);
    qlow_ctx_destroy(c1);
    qlow_ctx_destroy(c2);
    free(w);
    free(imp);
}

/* f16, bf16 and strided (transposed) views quantize the same values as the f32 matrix they hold. */
static void test_view_types(void)
{
    const int64_t rows = 5, cols = 70;
    float *w = random_matrix(rows, cols);
    uint16_t *h = (uint16_t *)malloc((size_t)(rows * cols) * 2);
    for (int64_t k = 0; k < rows * cols; k++) {
        h[k] = qlow_fp32_to_fp16(w[k]);
        w[k] = qlow_fp16_to_fp32(h[k]);
    }
    float *t = (float *)malloc((size_t)(rows * cols) * sizeof(float)); /* column-major copy */
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) t[j * rows + i] = w[i * cols + j];
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    qlow_view vf, vh, vt;
    qlow_view_init_2d(&vf, QLOW_DTYPE_F32, rows, cols, w);
    qlow_view_init_2d(&vh, QLOW_DTYPE_F16, rows, cols, h);
    qlow_view_init_2d(&vt, QLOW_DTYPE_F32, rows, cols, t);
    vt.stride_bytes[0] = 4;
    vt.stride_bytes[1] = 4 * rows;
    qlow_qmatrix *a = NULL, *b = NULL, *c = NULL;
    QT_CHECK_OK(qlow_quantize(ctx, NULL, &vf, NULL, &a));
    QT_CHECK_OK(qlow_quantize(ctx, NULL, &vh, NULL, &b));
    QT_CHECK_OK(qlow_quantize(ctx, NULL, &vt, NULL, &c));
    unsigned char *ba, *bb, *bc;
    size_t na, nb, nc;
    serialize(a, &ba, &na);
    serialize(b, &bb, &nb);
    serialize(c, &bc, &nc);
    QT_CHECK(na == nb && memcmp(ba, bb, na) == 0, "f16 view == f32 view");
    QT_CHECK(na == nc && memcmp(ba, bc, na) == 0, "strided view == contiguous view");
    /* bf16 */
    for (int64_t k = 0; k < rows * cols; k++) {
        h[k] = qlow_fp32_to_bf16(w[k]);
        w[k] = qlow_bf16_to_fp32(h[k]);
    }
    qlow_view_init_2d(&vh, QLOW_DTYPE_BF16, rows, cols, h);
    qlow_qmatrix *d = NULL, *e = NULL;
    QT_CHECK_OK(qlow_quantize(ctx, NULL, &vh, NULL, &d));
    QT_CHECK_OK(qlow_quantize(ctx, NULL, &vf, NULL, &e));
    unsigned char *bd, *be;
    size_t nd, ne;
    serialize(d, &bd, &nd);
    serialize(e, &be, &ne);
    QT_CHECK(nd == ne && memcmp(bd, be, nd) == 0, "bf16 view == f32 view");
    free(ba); free(bb); free(bc); free(bd); free(be);
    qlow_qmatrix_destroy(a); qlow_qmatrix_destroy(b); qlow_qmatrix_destroy(c);
    qlow_qmatrix_destroy(d); qlow_qmatrix_destroy(e);
    qlow_ctx_destroy(ctx);
    free(w); free(h); free(t);
}

static void test_errors(void)
{
    const int64_t rows = 4, cols = 40;
    float *w = random_matrix(rows, cols);
    float imp[40];
    for (int j = 0; j < 40; j++) imp[j] = 1.0f;
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, w);
    qlow_qmatrix *sentinel = (qlow_qmatrix *)(uintptr_t)0x1234, *out = sentinel;
    QT_CHECK_STATUS(qlow_quantize(NULL, NULL, &v, NULL, &out), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, NULL, NULL, &out), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &v, NULL, NULL), QLOW_E_NULL_POINTER);
    qlow_view bad = v;
    bad.struct_size = 8;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &bad, NULL, &out), QLOW_E_STRUCT_SIZE);
    bad = v;
    bad.dtype = QLOW_DTYPE_I8;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &bad, NULL, &out), QLOW_E_DTYPE);
    bad = v;
    bad.shape[0] = 0;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &bad, NULL, &out), QLOW_E_SHAPE);
    bad = v;
    bad.shape[1] = -3;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &bad, NULL, &out), QLOW_E_SHAPE);
    int64_t shape1[1] = {40};
    qlow_view_init(&bad, QLOW_DTYPE_F32, 1, shape1, w);
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &bad, NULL, &out), QLOW_E_SHAPE);
    bad = v;
    bad.shape[0] = INT64_MAX / 2;
    bad.shape[1] = INT64_MAX / 2;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &bad, NULL, &out), QLOW_E_OVERFLOW);
    w[17] = NAN;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &v, NULL, &out), QLOW_E_NONFINITE);
    w[17] = INFINITY;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &v, NULL, &out), QLOW_E_NONFINITE);
    w[17] = 20000.0f;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &v, NULL, &out), QLOW_E_NUMERIC);
    w[17] = 0.01f;
    imp[3] = NAN;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &v, imp, &out), QLOW_E_NONFINITE);
    imp[3] = -1.0f;
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &v, imp, &out), QLOW_E_INVALID_ARG);
    imp[3] = 1.0f;
    qlow_params *p = NULL;
    qlow_params_create(NULL, &p);
    QT_CHECK_STATUS(qlow_params_set_int(p, QLOW_P_BITS, 9), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_params_set_int(p, QLOW_P_SCHEME, 5), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_params_set_float(p, QLOW_P_RANGE_MIN_RATIO, 0.0), QLOW_E_PARAM);
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_GROUP_COLS, 48));
    QT_CHECK_STATUS(qlow_quantize(ctx, p, &v, imp, &out), QLOW_E_PARAM);
    qlow_params_reset(p);
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_BITS, 5));
    QT_CHECK_STATUS(qlow_quantize(ctx, p, &v, imp, &out), QLOW_E_UNSUPPORTED);
    QT_CHECK(out == sentinel, "out untouched on every failure");
    size_t wb, ob;
    QT_CHECK_STATUS(qlow_quantize_workspace_size(ctx, NULL, 0, 10, &wb, &ob), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_quantize_workspace_size(ctx, NULL, INT64_MAX, INT64_MAX, &wb, &ob), QLOW_E_OVERFLOW);
    QT_CHECK_STATUS(qlow_quantize_workspace_size(ctx, NULL, 4, 10, NULL, &ob), QLOW_E_NULL_POINTER);
    /* misaligned caller buffers */
    QT_CHECK_OK(qlow_quantize_workspace_size(ctx, NULL, rows, cols, &wb, &ob));
    unsigned char *wk = (unsigned char *)aligned_alloc(64, (wb + 127) / 64 * 64);
    unsigned char *dst = (unsigned char *)aligned_alloc(64, (ob + 127) / 64 * 64);
    QT_CHECK_STATUS(qlow_quantize_to_buffer(ctx, NULL, &v, NULL, wk + 8, wb, dst, ob), QLOW_E_ALIGNMENT);
    QT_CHECK_STATUS(qlow_quantize_to_buffer(ctx, NULL, &v, NULL, wk, wb, dst + 4, ob), QLOW_E_ALIGNMENT);
    free(wk);
    free(dst);
    /* a static context has no allocator: the allocating call fails cleanly */
    void *mem = aligned_alloc(64, (qlow_ctx_estimate_size() + 63) / 64 * 64);
    qlow_ctx *sc = NULL;
    QT_CHECK_OK(qlow_ctx_init_static(mem, qlow_ctx_estimate_size(), &sc));
    QT_CHECK_STATUS(qlow_quantize(sc, NULL, &v, NULL, &out), QLOW_E_NO_MEMORY);
    free(mem);
    qlow_params_destroy(p);
    qlow_ctx_destroy(ctx);
    free(w);
}

static void test_alloc_failures(void)
{
    const int64_t rows = 6, cols = 70;
    float *w = random_matrix(rows, cols);
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, w);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        qlow_params *p = make_params(&cases[k]);
        long points = 0;
        QT_ALLOC_FAIL_LOOP(&points,
                           {
                               qlow_ctx *c = NULL;
                               st = qlow_ctx_create(&qa, &c);
                               if (st == QLOW_OK) {
                                   qlow_qmatrix *sentinel = (qlow_qmatrix *)(uintptr_t)0x99;
                                   qlow_qmatrix *qm = sentinel;
                                   st = qlow_quantize(c, p, &v, NULL, &qm);
                                   if (st != QLOW_OK) QT_CHECK(qm == sentinel, "out untouched");
                                   else qlow_qmatrix_destroy(qm);
                                   qlow_ctx_destroy(c);
                               }
                           },
                           {});
        QT_CHECK(points == 4, "case %zu: ctx + workspace + image + handle = 4 failure points, got %ld", k, points);
        qlow_params_destroy(p);
    }
    free(w);
}

int main(void)
{
    test_schemes();
    test_view_types();
    test_errors();
    test_alloc_failures();
    return qt_finish();
}
