/* test_reliab_degenerate.c - hostile and degenerate input across the public API: NaN, +-Inf, denormals,
 * zeros, extreme shapes (1x1, 1xN, Nx1, empty), size products that overflow size_t, out-of-range
 * parameters. Each case must give its documented status or a correct result (and, under
 * SAN=address,undefined, no undefined behaviour). Prints the number of cases. */
#include "qtest.h"

static int cases;
#define CASE(cond, ...)                                                                                \
    do {                                                                                               \
        cases++;                                                                                       \
        QT_CHECK(cond, __VA_ARGS__);                                                                   \
    } while (0)

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void views(void)
{
    qlow_view v;
    float one = 1.0f;
    const int64_t big = (int64_t)1 << 40;
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F32, big, big, &one) == QLOW_E_OVERFLOW, "2^40 x 2^40 overflows");
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F32, INT64_MAX, 2, &one) == QLOW_E_OVERFLOW, "INT64_MAX rows");
    int64_t shape4[4] = {1 << 16, 1 << 16, 1 << 16, 1 << 16};
    CASE(qlow_view_init(&v, QLOW_DTYPE_F64, 4, shape4, &one) == QLOW_E_OVERFLOW, "4-D product overflows");
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F32, -1, 4, &one) == QLOW_E_SHAPE, "negative rows");
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F32, 4, INT64_MIN, &one) == QLOW_E_SHAPE, "INT64_MIN cols");
    CASE(qlow_view_init_2d(&v, (qlow_dtype)99, 1, 1, &one) == QLOW_E_DTYPE, "unknown dtype");
    CASE(qlow_view_init(&v, QLOW_DTYPE_F32, 0, shape4, &one) == QLOW_E_SHAPE, "ndim 0");
    CASE(qlow_view_init(&v, QLOW_DTYPE_F32, 5, shape4, &one) == QLOW_E_SHAPE, "ndim 5");
    /* Empty tensors are valid and may have a NULL data pointer. */
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F32, 0, 7, NULL) == QLOW_OK && v.stride_bytes[0] == 28, "0 x 7");
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F32, 7, 0, NULL) == QLOW_OK && v.stride_bytes[1] == 4, "7 x 0");
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F16, 1, 1, &one) == QLOW_OK && v.stride_bytes[0] == 2 &&
             v.stride_bytes[1] == 2, "1 x 1");
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F32, 1, 1000, &one) == QLOW_OK && v.stride_bytes[0] == 4000, "1 x N");
    CASE(qlow_view_init_2d(&v, QLOW_DTYPE_F32, 1000, 1, &one) == QLOW_OK && v.stride_bytes[0] == 4, "N x 1");
}

static void fp16_specials(void)
{
    CASE(isnan(qlow_fp16_to_fp32(qlow_fp32_to_fp16(NAN))), "NaN stays NaN");
    CASE((qlow_fp32_to_fp16(f32_from_bits(0x7f800001u)) & 0x7fffu) > 0x7c00u, "signalling NaN stays NaN");
    CASE(qlow_fp32_to_fp16(INFINITY) == 0x7c00 && qlow_fp32_to_fp16(-INFINITY) == 0xfc00, "+-Inf");
    CASE(qlow_fp32_to_fp16(1e30f) == 0x7c00 && qlow_fp32_to_fp16(-65520.0f) == 0xfc00, "overflow to Inf");
    CASE(qlow_fp32_to_fp16(65519.0f) == 0x7bff, "largest value rounding to 65504");
    CASE(qlow_fp32_to_fp16(f32_from_bits(0x00000001u)) == 0 && qlow_fp32_to_fp16(-1e-30f) == 0x8000,
         "float denormal and tiny values flush to signed zero");
    CASE(qlow_fp32_to_fp16(5.9604645e-8f) == 0x0001 && qlow_fp16_to_fp32(0x0001) == 5.9604645e-8f,
         "smallest fp16 denormal");
    CASE(qlow_fp32_to_fp16(2.98023224e-8f) == 0x0000, "half of the smallest denormal ties to even zero");
    CASE(qlow_fp32_to_fp16(-0.0f) == 0x8000 && signbit(qlow_fp16_to_fp32(0x8000)), "-0 preserved");
    CASE(isnan(qlow_bf16_to_fp32(qlow_fp32_to_bf16(NAN))) && qlow_fp32_to_bf16(INFINITY) == 0x7f80, "bf16 NaN, Inf");
    CASE(qlow_fp32_to_bf16(f32_from_bits(0x7f7fffffu)) == 0x7f80, "bf16 FLT_MAX rounds to Inf");
    CASE(qlow_bf16_to_fp32(qlow_fp32_to_bf16(f32_from_bits(0x00010000u))) == f32_from_bits(0x00010000u),
         "bf16 keeps float denormals");
}

/* Every registered key, found through the public bounds query, rejects non-finite and out-of-range
 * values and keeps its previous value; extends itself as subsystems add keys. */
static void param_values(void)
{
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    if (!p) return;
    int keys = 0;
    for (int32_t key = 0; key < 20000; key++) {
        double lo, hi, def;
        int is_float;
        if (qlow_param_bounds(key, &lo, &hi, &def, &is_float) != QLOW_OK) continue;
        keys++;
        if (is_float) {
            const double bad[] = {NAN, -NAN, INFINITY, -INFINITY};
            for (int i = 0; i < 4; i++)
                if (!(bad[i] >= lo && bad[i] <= hi))
                    CASE(qlow_params_set_float(p, key, bad[i]) == QLOW_E_PARAM, "key %d rejects %g", (int)key, bad[i]);
            double got = 0;
            CASE(qlow_params_get_float(p, key, &got) == QLOW_OK && got == def, "key %d keeps its default", (int)key);
            CASE(qlow_params_set_int(p, key, 0) == QLOW_E_PARAM, "float key %d rejects an int", (int)key);
        } else {
            if ((double)INT64_MAX > hi)
                CASE(qlow_params_set_int(p, key, INT64_MAX) == QLOW_E_PARAM, "key %d rejects INT64_MAX", (int)key);
            if ((double)INT64_MIN < lo)
                CASE(qlow_params_set_int(p, key, INT64_MIN) == QLOW_E_PARAM, "key %d rejects INT64_MIN", (int)key);
            int64_t got = 0;
            CASE(qlow_params_get_int(p, key, &got) == QLOW_OK && got == (int64_t)def, "key %d default", (int)key);
            CASE(qlow_params_set_float(p, key, NAN) == QLOW_E_PARAM, "int key %d rejects a float", (int)key);
        }
    }
    printf("INFO parameter keys registered: %d\n", keys);
    qlow_params_destroy(p);

    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    if (!ctx) return;
    CASE(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, INT64_MAX) == QLOW_E_PARAM, "threads INT64_MAX");
    CASE(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, INT64_MIN) == QLOW_E_PARAM, "threads INT64_MIN");
    CASE(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, -1) == QLOW_E_PARAM, "isa -1");
    CASE(qlow_ctx_set_int(ctx, QLOW_CTX_SEED, INT64_MIN) == QLOW_OK, "any seed, even INT64_MIN");
    qlow_ctx_destroy(ctx);
}

/* ---- quantization ---------------------------------------------------------------------------- */

typedef struct scheme_case {
    const char *name;
    int scheme, bits, group_cols, symmetric;
} scheme_case;

static const scheme_case schemes[] = {
    {"q8", QLOW_SCHEME_RTN, 8, 0, 0},     {"q4 g32", QLOW_SCHEME_RTN, 4, 32, 0},
    {"q4 sym", QLOW_SCHEME_RTN, 4, 0, 1}, {"q3", QLOW_SCHEME_RTN, 3, 0, 0},
    {"q2 g32", QLOW_SCHEME_RTN, 2, 32, 0}, {"binary", QLOW_SCHEME_BINARY, 0, 0, 0},
    {"binary residual", QLOW_SCHEME_BINARY_RESIDUAL, 0, 0, 0}, {"ternary", QLOW_SCHEME_TERNARY, 0, 0, 0},
};
#define NSCHEMES (sizeof schemes / sizeof schemes[0])

static qlow_params *scheme_params(const scheme_case *c)
{
    qlow_params *p = NULL;
    if (qlow_params_create(NULL, &p) != QLOW_OK) return NULL;
    qlow_params_set_int(p, QLOW_P_SCHEME, c->scheme);
    if (c->bits) qlow_params_set_int(p, QLOW_P_BITS, c->bits);
    if (c->group_cols) qlow_params_set_int(p, QLOW_P_GROUP_COLS, c->group_cols);
    if (c->symmetric) qlow_params_set_int(p, QLOW_P_SYMMETRIC, 1);
    return p;
}

/* Quantizes w[rows x cols] and dequantizes it into deq (rows*cols floats); returns the status. */
static qlow_status quant_roundtrip(qlow_ctx *ctx, const qlow_params *p, const float *w, int64_t rows, int64_t cols,
                                   float *deq)
{
    qlow_view W;
    qlow_qmatrix *qm = NULL;
    qlow_status st = qlow_view_init_2d(&W, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)w);
    if (st == QLOW_OK) st = qlow_quantize(ctx, p, &W, NULL, &qm);
    if (st == QLOW_OK) {
        int64_t r = 0, c = 0;
        qlow_qmatrix_shape(qm, &r, &c);
        if (r != rows || c != cols) st = QLOW_E_INTERNAL;
        else st = qlow_qmatrix_dequantize(qm, 0, rows, deq, (size_t)(rows * cols));
    }
    qlow_qmatrix_destroy(qm);
    return st;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static void quantize_hostile(qlow_ctx *ctx)
{
    enum { R = 4, C = 72 };
    static float w[R * C], deq[R * C];
    for (size_t s = 0; s < NSCHEMES; s++) {
        qlow_params *p = scheme_params(&schemes[s]);
        const char *nm = schemes[s].name;
        /* Non-finite and out-of-range weights are rejected, and *out stays untouched. */
        const float bad[] = {NAN, INFINITY, -INFINITY, 20000.0f};
        const qlow_status want[] = {QLOW_E_NONFINITE, QLOW_E_NONFINITE, QLOW_E_NONFINITE, QLOW_E_NUMERIC};
        for (int b = 0; b < 4; b++) {
            for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
            w[(b * 37) % (R * C)] = bad[b];
            qlow_view W;
            qlow_qmatrix *qm = (qlow_qmatrix *)&qm;
            qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w);
            qlow_status st = qlow_quantize(ctx, p, &W, NULL, &qm);
            CASE(st == want[b] && qm == (qlow_qmatrix *)&qm, "%s: weight %g -> %d, want %d", nm, (double)bad[b], (int)st,
                 (int)want[b]);
        }
        /* NaN or negative importance. */
        {
            float imp[C];
            for (int j = 0; j < C; j++) imp[j] = 1.0f;
            for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
            qlow_view W;
            qlow_qmatrix *qm = NULL;
            qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w);
            imp[5] = NAN;
            CASE(qlow_quantize(ctx, p, &W, imp, &qm) == QLOW_E_NONFINITE && !qm, "%s: NaN importance", nm);
            imp[5] = -1.0f;
            CASE(qlow_quantize(ctx, p, &W, imp, &qm) == QLOW_E_INVALID_ARG && !qm, "%s: negative importance", nm);
            for (int j = 0; j < C; j++) imp[j] = 0.0f;
            qlow_status st = qlow_quantize(ctx, p, &W, imp, &qm);
            CASE(st == QLOW_OK || st == QLOW_E_INVALID_ARG, "%s: all-zero importance -> %d", nm, (int)st);
            qlow_qmatrix_destroy(qm);
        }
        /* All zeros reconstruct exactly. */
        memset(w, 0, sizeof w);
        CASE(quant_roundtrip(ctx, p, w, R, C, deq) == QLOW_OK, "%s: zeros", nm);
        int exact = 1;
        for (int i = 0; i < R * C; i++) exact &= deq[i] == 0.0f;
        CASE(exact, "%s: zeros reconstruct to zeros", nm);
        /* Constant rows (a different constant per row) reconstruct to within fp16 rounding. */
        for (int r = 0; r < R; r++)
            for (int j = 0; j < C; j++) w[r * C + j] = 0.37f * (float)(r + 1) * (r % 2 ? -1.0f : 1.0f);
        CASE(quant_roundtrip(ctx, p, w, R, C, deq) == QLOW_OK, "%s: constant rows", nm);
        double worst = 0;
        for (int i = 0; i < R * C; i++) worst = fmax(worst, fabs((double)deq[i] - w[i]) / fabs((double)w[i]));
        CASE(worst <= 2e-3, "%s: constant rows reconstruct within fp16 precision (rel err %g)", nm, worst);
        /* Denormal inputs: accepted, output finite and essentially zero. */
        for (int i = 0; i < R * C; i++) w[i] = (i % 3 ? 1e-40f : -3e-39f);
        CASE(quant_roundtrip(ctx, p, w, R, C, deq) == QLOW_OK && all_finite(deq, R * C), "%s: denormals", nm);
        worst = 0;
        for (int i = 0; i < R * C; i++) worst = fmax(worst, fabs((double)deq[i]));
        CASE(worst <= 1e-7, "%s: denormal weights dequantize to ~0 (max %g)", nm, worst);
        /* One huge outlier per matrix (within the accepted range): finite, and the outlier survives for
         * the multi-bit formats. */
        for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal() * 0.01f;
        w[C + 17] = 8000.0f;
        CASE(quant_roundtrip(ctx, p, w, R, C, deq) == QLOW_OK && all_finite(deq, R * C), "%s: outlier", nm);
        if (schemes[s].scheme == QLOW_SCHEME_RTN && schemes[s].bits >= 3)
            CASE(fabs(deq[C + 17] - 8000.0) <= 8000.0 / ((1 << schemes[s].bits) - 1), "%s: outlier kept (%g)", nm,
                 (double)deq[C + 17]);
        qlow_params_destroy(p);
    }
}

/* 1x1, 1xN, Nx1 and K that is not a multiple of any block size, for every scheme: the result must
 * match a plain reconstruction bound (each weight within its group's step of the original). */
static void quantize_shapes(qlow_ctx *ctx)
{
    static const int64_t shapes[][2] = {{1, 1}, {1, 200}, {130, 1}, {3, 33}, {2, 7}, {5, 65}, {1, 31}, {2, 97}};
    static float w[200 * 2], deq[200 * 2];
    for (size_t s = 0; s < NSCHEMES; s++) {
        qlow_params *p = scheme_params(&schemes[s]);
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            int64_t r = shapes[k][0], c = shapes[k][1];
            for (int64_t i = 0; i < r * c; i++) w[i] = (float)qt_rand_normal();
            qlow_status st = quant_roundtrip(ctx, p, w, r, c, deq);
            CASE(st == QLOW_OK && all_finite(deq, (size_t)(r * c)), "%s %lldx%lld -> %d", schemes[s].name, (long long)r,
                 (long long)c, (int)st);
            if (st != QLOW_OK || schemes[s].scheme != QLOW_SCHEME_RTN) continue;
            /* RTN: per row, |w - deq| <= one grid step, (max - min) / (2^bits - 1) for the asymmetric grid and
             * 2 max|w| / (2^bits - 1) for the symmetric one (half a step of rounding plus clipping slack). */
            double worst = 0;
            for (int64_t i = 0; i < r; i++) {
                double lo = 1e30, hi = -1e30;
                for (int64_t j = 0; j < c; j++) lo = fmin(lo, w[i * c + j]), hi = fmax(hi, w[i * c + j]);
                double span = fmax(hi - lo, fmax(fabs(hi), fabs(lo)));
                for (int64_t j = 0; j < c; j++)
                    worst = fmax(worst, fabs((double)deq[i * c + j] - w[i * c + j]) / (span + 1e-30));
            }
            CASE(worst <= (schemes[s].symmetric ? 2.0 : 1.0) / ((1 << schemes[s].bits) - 1) + 1e-3,
                 "%s %lldx%lld: error %g of the row span",
                 schemes[s].name, (long long)r, (long long)c, worst);
        }
        qlow_params_destroy(p);
    }
    /* A group wider than the row. */
    qlow_params *p = NULL;
    qlow_params_create(NULL, &p);
    qlow_params_set_int(p, QLOW_P_BITS, 4);
    qlow_params_set_int(p, QLOW_P_GROUP_COLS, 256);
    for (int i = 0; i < 2 * 40; i++) w[i] = (float)qt_rand_normal();
    qlow_status st = quant_roundtrip(ctx, p, w, 2, 40, deq);
    CASE(st == QLOW_OK || st == QLOW_E_PARAM, "group 256 > 40 columns -> %d", (int)st);
    if (st == QLOW_OK) {
        float ref[2 * 40];
        qlow_params_set_int(p, QLOW_P_GROUP_COLS, 0);
        CASE(quant_roundtrip(ctx, p, w, 2, 40, ref) == QLOW_OK && memcmp(ref, deq, sizeof ref) == 0,
             "a group wider than the row equals whole-row groups");
    }
    CASE(qlow_params_set_int(p, QLOW_P_GROUP_COLS, 48) == QLOW_E_PARAM ||
             quant_roundtrip(ctx, p, w, 2, 40, deq) == QLOW_E_PARAM, "group 48 (not a multiple of 32) rejected");
    /* Size products that overflow size_t. */
    size_t wb = 0, ob = 0;
    qlow_params_reset(p);
    CASE(qlow_quantize_workspace_size(ctx, p, INT64_MAX, INT64_MAX, &wb, &ob) == QLOW_E_OVERFLOW,
         "workspace size of INT64_MAX^2");
    CASE(qlow_quantize_workspace_size(ctx, p, (int64_t)1 << 40, (int64_t)1 << 40, &wb, &ob) == QLOW_E_OVERFLOW,
         "workspace size of 2^80 weights");
    CASE(qlow_quantize_workspace_size(ctx, p, 0, 5, &wb, &ob) == QLOW_E_SHAPE, "0 rows");
    CASE(qlow_quantize_workspace_size(ctx, p, 5, -1, &wb, &ob) == QLOW_E_SHAPE, "negative cols");
    /* A view claiming 2^62 x 2^62 elements is rejected before any allocation. */
    qlow_view W;
    memset(&W, 0, sizeof W);
    W.struct_size = sizeof W;
    W.dtype = QLOW_DTYPE_F32;
    W.ndim = 2;
    W.data = w;
    W.shape[0] = W.shape[1] = (int64_t)1 << 62;
    W.shape[2] = W.shape[3] = 1;
    W.stride_bytes[0] = 4;
    W.stride_bytes[1] = 4;
    qlow_qmatrix *qm = NULL;
    CASE(qlow_quantize(ctx, p, &W, NULL, &qm) == QLOW_E_OVERFLOW && !qm, "quantize of a 2^124-element view");
    qlow_params_destroy(p);
}

/* GEMV/GEMM: non-finite activations are refused with Y untouched; tiny shapes and K off every block
 * size match a double-precision product with the dequantized weights within the documented bound. */
static void kernels_hostile(qlow_ctx *ctx)
{
    static const int64_t shapes[][2] = {{1, 1}, {1, 200}, {130, 1}, {3, 33}, {2, 7}, {5, 65}, {4, 97}};
    static float w[200 * 130], deq[200 * 130], x[2 * 200], y[2 * 200];
    for (size_t s = 0; s < NSCHEMES; s++) {
        qlow_params *p = scheme_params(&schemes[s]);
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            int64_t r = shapes[k][0], c = shapes[k][1];
            for (int64_t i = 0; i < r * c; i++) w[i] = (float)qt_rand_normal();
            for (int64_t j = 0; j < 2 * c; j++) x[j] = (float)qt_rand_normal();
            qlow_view W;
            qlow_qmatrix *qm = NULL;
            qlow_view_init_2d(&W, QLOW_DTYPE_F32, r, c, w);
            if (qlow_quantize(ctx, p, &W, NULL, &qm) != QLOW_OK) {
                CASE(0, "%s %lldx%lld quantize", schemes[s].name, (long long)r, (long long)c);
                continue;
            }
            qlow_qmatrix_dequantize(qm, 0, r, deq, (size_t)(r * c));
            CASE(qlow_gemm(ctx, qm, x, 2, y) == QLOW_OK, "%s %lldx%lld gemm", schemes[s].name, (long long)r, (long long)c);
            /* Bound: activations are quantized per block to 8 bits, so |y - W x| <= sum |w| |x|max / 254 + fp32. */
            double worst = 0;
            for (int t = 0; t < 2; t++)
                for (int64_t i = 0; i < r; i++) {
                    double ref = 0, mag = 0, xmax = 0;
                    for (int64_t j = 0; j < c; j++) xmax = fmax(xmax, fabs(x[t * c + j]));
                    for (int64_t j = 0; j < c; j++) ref += (double)deq[i * c + j] * x[t * c + j], mag += fabs(deq[i * c + j]);
                    double bound = mag * xmax / 254.0 + 1e-5 * (mag * xmax + 1e-30);
                    worst = fmax(worst, fabs(y[t * r + i] - ref) / (bound + 1e-30));
                }
            CASE(worst <= 1.0, "%s %lldx%lld: gemm error %.3g of the bound", schemes[s].name, (long long)r, (long long)c, worst);
            qlow_qmatrix_destroy(qm);
        }
        qlow_params_destroy(p);
    }
    qlow_params *p = scheme_params(&schemes[1]);
    qlow_view W;
    qlow_qmatrix *qm = NULL;
    for (int i = 0; i < 8 * 64; i++) w[i] = (float)qt_rand_normal();
    qlow_view_init_2d(&W, QLOW_DTYPE_F32, 8, 64, w);
    QT_CHECK_OK(qlow_quantize(ctx, p, &W, NULL, &qm));
    qlow_params_destroy(p);
    if (!qm) return;
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++) {
        for (int j = 0; j < 128; j++) x[j] = 1.0f;
        x[70] = bad[b];
        for (int i = 0; i < 16; i++) y[i] = -5.0f;
        CASE(qlow_gemm(ctx, qm, x, 2, y) == QLOW_E_NONFINITE && y[0] == -5.0f && y[15] == -5.0f, "gemm x=%g", (double)bad[b]);
        CASE(qlow_gemm_act8(ctx, qm, x, 2, y) == QLOW_E_NONFINITE && y[0] == -5.0f, "gemm_act8 x=%g", (double)bad[b]);
    }
    for (int j = 0; j < 64; j++) x[j] = 1e-40f;
    CASE(qlow_gemv(ctx, qm, x, y) == QLOW_OK && all_finite(y, 8) && fabsf(y[0]) < 1e-30f, "denormal activations");
    for (int j = 0; j < 64; j++) x[j] = j == 5 ? 3e38f : 0.0f;
    CASE(qlow_gemv(ctx, qm, x, y) == QLOW_OK, "one activation near FLT_MAX");
    for (int j = 0; j < 64; j++) x[j] = 0.0f;
    int zero = qlow_gemv(ctx, qm, x, y) == QLOW_OK;
    for (int i = 0; i < 8; i++) zero &= y[i] == 0.0f;
    CASE(zero, "zero activations give exactly zero");
    size_t wb = 0;
    CASE(qlow_gemm(ctx, qm, x, 0, y) == QLOW_E_SHAPE, "batch 0");
    CASE(qlow_gemm_workspace_size(qm, INT64_MAX, 0, &wb) == QLOW_E_OVERFLOW, "workspace of INT64_MAX tokens");
    CASE(qlow_gemm_workspace_size(qm, 1, 99, &wb) == QLOW_E_INVALID_ARG, "unknown gemm flags");
    qlow_qmatrix_destroy(qm);
}

/* ---- Hessian, spectral estimates and planning ---------------------------------------------------- */

static int fail_hvp(void *user, const float *v_in, float *v_out, int64_t n)
{
    (void)user, (void)v_in, (void)v_out, (void)n;
    return 1;
}
static int nan_hvp(void *user, const float *v_in, float *v_out, int64_t n)
{
    (void)user;
    for (int64_t i = 0; i < n; i++) v_out[i] = i == 3 ? NAN : v_in[i];
    return 0;
}

static void hessian_hostile(qlow_ctx *ctx)
{
    enum { COLS = 16, TOK = 40 };
    static float X[TOK * COLS];
    static double out[COLS * COLS];
    qlow_hessian *h = NULL;
    QT_CHECK_OK(qlow_hessian_create(NULL, COLS, QLOW_HESSIAN_FULL, &h));
    if (!h) return;
    qlow_view xv;
    for (int i = 0; i < TOK * COLS; i++) X[i] = (float)qt_rand_normal();
    X[77] = NAN;
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, TOK, COLS, X);
    int64_t tokens = -1;
    CASE(qlow_hessian_add(ctx, h, &xv) == QLOW_E_NONFINITE, "hessian_add NaN");
    X[77] = INFINITY;
    CASE(qlow_hessian_add(ctx, h, &xv) == QLOW_E_NONFINITE, "hessian_add Inf");
    CASE(qlow_hessian_info(h, NULL, NULL, &tokens) == QLOW_OK && tokens == 0, "rejected batches leave H empty");
    /* Exactly singular: column 1 duplicates column 0, so H has a zero eigenvalue; without damping the
     * factorization must fail cleanly (issue 8: QLOW_E_NUMERIC, not a factor with a ~1e-8 pivot). */
    for (int t = 0; t < TOK; t++) {
        for (int j = 0; j < COLS; j++) X[t * COLS + j] = (float)qt_rand_normal();
        X[t * COLS + 1] = X[t * COLS + 0];
    }
    QT_CHECK_OK(qlow_hessian_add(ctx, h, &xv));
    for (int i = 0; i < COLS * COLS; i++) out[i] = -7.0;
    qlow_status st = qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_H, 0.0, out, COLS * COLS);
    CASE(st == QLOW_E_NUMERIC && out[0] == -7.0, "singular H, no damping -> %d (out untouched %d)", (int)st, out[0] == -7.0);
    st = qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_HINV, 0.0, out, COLS * COLS);
    CASE(st == QLOW_E_NUMERIC, "singular H, inverse factor, no damping -> %d", (int)st);
    st = qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_HINV, 0.01, out, COLS * COLS);
    CASE(st == QLOW_OK && isfinite(out[0]) && isfinite(out[COLS * COLS - 1]), "damping makes it PD -> %d", (int)st);
    CASE(qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_H, NAN, out, COLS * COLS) == QLOW_E_INVALID_ARG, "NaN damping");
    CASE(qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_H, -1.0, out, COLS * COLS) == QLOW_E_INVALID_ARG,
         "negative damping");
    CASE(qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_H, 0.01, out, COLS * COLS - 1) == QLOW_E_BUFFER_TOO_SMALL,
         "short output");
    /* Fewer tokens than columns: rank-deficient H. */
    qlow_hessian_reset(h);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, 3, COLS, X);
    QT_CHECK_OK(qlow_hessian_add(ctx, h, &xv));
    st = qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_H, 0.0, out, COLS * COLS);
    CASE(st == QLOW_E_NUMERIC, "rank-3 H of 16 columns, no damping -> %d", (int)st);
    /* An empty accumulator. */
    qlow_hessian_reset(h);
    double lambda = 0;
    st = qlow_hessian_top_eigen(ctx, h, 1e-3, 50, NULL, 0, &lambda, NULL);
    CASE(st == QLOW_E_STATE || (st == QLOW_OK && lambda == 0.0), "top eigenvalue of an empty H -> %d", (int)st);
    qlow_hessian_destroy(h);
    /* Corrupt saved Hessians and hostile callbacks. */
    unsigned char junk[64] = {0};
    qlow_hessian *h2 = NULL;
    st = qlow_hessian_load(NULL, junk, sizeof junk, &h2);
    CASE((st == QLOW_E_FORMAT || st == QLOW_E_TRUNCATED) && !h2, "load of zeros -> %d", (int)st);
    CASE(qlow_hvp_top_eigen(ctx, fail_hvp, NULL, 8, 1e-3, 10, NULL, 0, &lambda, NULL) == QLOW_E_CALLBACK, "failing HVP");
    CASE(qlow_hvp_top_eigen(ctx, nan_hvp, NULL, 8, 1e-3, 10, NULL, 0, &lambda, NULL) == QLOW_E_NONFINITE, "NaN HVP");
    double tr = 0, se = 0;
    CASE(qlow_hvp_trace(ctx, nan_hvp, NULL, 8, 8, 0.0, NULL, 0, &tr, &se, NULL) == QLOW_E_NONFINITE, "NaN HVP trace");
    CASE(qlow_hvp_top_eigen(ctx, fail_hvp, NULL, 0, 1e-3, 10, NULL, 0, &lambda, NULL) != QLOW_OK, "n = 0");
}

/* GPTQ: the same hostile inputs, plus a Hessian that is singular without damping. */
static void gptq_hostile(qlow_ctx *ctx)
{
    enum { R = 6, C = 40, TOK = 64 };
    static float X[TOK * C], w[R * C], deq[R * C];
    for (int i = 0; i < TOK * C; i++) X[i] = (float)qt_rand_normal();
    for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
    qlow_hessian *h = NULL, *hd = NULL, *he = NULL;
    QT_CHECK_OK(qlow_hessian_create(NULL, C, QLOW_HESSIAN_FULL, &h));
    QT_CHECK_OK(qlow_hessian_create(NULL, C, QLOW_HESSIAN_DIAG, &hd));
    QT_CHECK_OK(qlow_hessian_create(NULL, C, QLOW_HESSIAN_FULL, &he));
    if (!h || !hd || !he) return;
    /* Columns 3 and 4 are identical and column 7 is never active ("dead"). */
    for (int t = 0; t < TOK; t++) X[t * C + 4] = X[t * C + 3], X[t * C + 7] = 0.0f;
    qlow_view xv, W;
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, TOK, C, X);
    QT_CHECK_OK(qlow_hessian_add(ctx, h, &xv));
    QT_CHECK_OK(qlow_hessian_add(ctx, hd, &xv));
    qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w);
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    qlow_params_set_int(p, QLOW_P_BITS, 4);
    qlow_qmatrix *qm = (qlow_qmatrix *)&qm;
    qlow_qmatrix *const untouched = qm;
    CASE(qlow_gptq_quantize(ctx, p, &W, hd, &qm) == QLOW_E_STATE && qm == untouched, "GPTQ with a DIAG Hessian");
    CASE(qlow_gptq_quantize(ctx, p, &W, he, &qm) == QLOW_E_STATE && qm == untouched, "GPTQ with an empty Hessian");
    qlow_view W2;
    qlow_view_init_2d(&W2, QLOW_DTYPE_F32, R, C - 1, w);
    CASE(qlow_gptq_quantize(ctx, p, &W2, h, &qm) == QLOW_E_SHAPE && qm == untouched, "GPTQ cols mismatch");
    w[11] = NAN;
    CASE(qlow_gptq_quantize(ctx, p, &W, h, &qm) == QLOW_E_NONFINITE && qm == untouched, "GPTQ NaN weight");
    w[11] = 20000.0f;
    CASE(qlow_gptq_quantize(ctx, p, &W, h, &qm) == QLOW_E_NUMERIC && qm == untouched, "GPTQ |w| > 16384");
    w[11] = 0.5f;
    qlow_params_set_int(p, QLOW_P_SCHEME, QLOW_SCHEME_BINARY);
    CASE(qlow_gptq_quantize(ctx, p, &W, h, &qm) == QLOW_E_UNSUPPORTED && qm == untouched, "GPTQ of a binary scheme");
    qlow_params_set_int(p, QLOW_P_SCHEME, QLOW_SCHEME_RTN);
    /* Singular without damping (duplicate columns): QLOW_E_NUMERIC, not garbage. */
    qlow_params_set_float(p, QLOW_GPTQ_DAMP, 0.0);
    qlow_status st = qlow_gptq_quantize(ctx, p, &W, h, &qm);
    CASE(st == QLOW_E_NUMERIC && qm == untouched, "GPTQ, singular H, damp 0 -> %d", (int)st);
    if (st == QLOW_OK) qlow_qmatrix_destroy(qm), qm = untouched;
    /* With retries the damping grows until the factorization succeeds. */
    qlow_params_set_int(p, QLOW_GPTQ_DAMP_RETRIES, 3);
    qlow_params_set_float(p, QLOW_GPTQ_DAMP, 1e-9);
    st = qlow_gptq_quantize(ctx, p, &W, h, &qm);
    CASE(st == QLOW_OK || st == QLOW_E_NUMERIC, "GPTQ singular H with retries -> %d", (int)st);
    if (st == QLOW_OK) qlow_qmatrix_destroy(qm), qm = untouched;
    /* Default damping: succeeds; the dead column quantizes to zero; everything finite. */
    qlow_params_reset(p);
    qlow_params_set_int(p, QLOW_P_BITS, 4);
    st = qlow_gptq_quantize(ctx, p, &W, h, &qm);
    CASE(st == QLOW_OK, "GPTQ with default damping -> %d", (int)st);
    if (st == QLOW_OK) {
        CASE(qlow_qmatrix_dequantize(qm, 0, R, deq, R * C) == QLOW_OK && all_finite(deq, R * C), "GPTQ output finite");
        /* The dead column is quantized as 0: within half a grid step of 0 (step = row range / 15). */
        int dead_zero = 1;
        for (int r = 0; r < R; r++) {
            float lo = 0, hi = 0;
            for (int j = 0; j < C; j++) lo = fminf(lo, w[r * C + j]), hi = fmaxf(hi, w[r * C + j]);
            if (!(fabsf(deq[r * C + 7]) <= 0.5f * (hi - lo) / 15.0f + 1e-6f)) {
                dead_zero = 0;
                printf("NOTE row %d dead column: w %g -> %g (half step %g)\n", r, (double)w[r * C + 7],
                       (double)deq[r * C + 7], 0.5 * (hi - lo) / 15.0);
            }
        }
        CASE(dead_zero, "GPTQ dead column becomes 0 up to grid rounding");
        qlow_qmatrix_destroy(qm);
    }
    /* 1 x N and N x 1 layers, and an all-zero layer. */
    for (int i = 0; i < R * C; i++) w[i] = 0.0f;
    qm = untouched;
    st = qlow_gptq_quantize(ctx, p, &W, h, &qm);
    CASE(st == QLOW_OK, "GPTQ of zeros -> %d", (int)st);
    if (st == QLOW_OK) {
        int zeros = qlow_qmatrix_dequantize(qm, 0, R, deq, R * C) == QLOW_OK;
        for (int i = 0; i < R * C; i++) zeros &= deq[i] == 0.0f;
        CASE(zeros, "GPTQ of zeros gives zeros");
        qlow_qmatrix_destroy(qm);
    }
    for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
    qlow_view_init_2d(&W2, QLOW_DTYPE_F32, 1, C, w);
    qm = untouched;
    st = qlow_gptq_quantize(ctx, p, &W2, h, &qm);
    CASE(st == QLOW_OK, "GPTQ 1 x %d -> %d", C, (int)st);
    if (st == QLOW_OK) qlow_qmatrix_destroy(qm);
    qlow_hessian *h1 = NULL;
    QT_CHECK_OK(qlow_hessian_create(NULL, 1, QLOW_HESSIAN_FULL, &h1));
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, TOK, 1, X);
    if (h1) QT_CHECK_OK(qlow_hessian_add(ctx, h1, &xv));
    qlow_view_init_2d(&W2, QLOW_DTYPE_F32, R, 1, w);
    qm = untouched;
    st = qlow_gptq_quantize(ctx, p, &W2, h1, &qm);
    CASE(st == QLOW_OK, "GPTQ %d x 1 -> %d", R, (int)st);
    if (st == QLOW_OK) qlow_qmatrix_destroy(qm);
    size_t wb = 0;
    CASE(qlow_gptq_workspace_size(p, INT64_MAX, INT64_MAX, &wb) == QLOW_E_OVERFLOW, "GPTQ workspace of INT64_MAX^2");
    CASE(qlow_gptq_workspace_size(p, (int64_t)1 << 33, (int64_t)1 << 33, &wb) == QLOW_E_OVERFLOW, "GPTQ workspace 2^66");
    qlow_hessian_destroy(h1);
    qlow_params_destroy(p);
    qlow_hessian_destroy(h);
    qlow_hessian_destroy(hd);
    qlow_hessian_destroy(he);
}

/* PTQ1.61: mask ratio 0 and 1, non-finite scores and calibration data, tiny layers. */
static void ptq161_hostile(qlow_ctx *ctx)
{
    enum { R = 5, C = 40, TOK = 32 };
    static float w[R * C], x[TOK * C], score[C], deq[R * C];
    uint8_t mask[QLOW_MASK_BYTES(C)];
    int64_t ns = -1;
    for (int j = 0; j < C; j++) score[j] = (float)qt_rand_normal();
    CASE(qlow_mask_select(score, C, 0.0, mask, &ns) == QLOW_OK && ns == 0, "mask ratio 0 selects nothing (%lld)", (long long)ns);
    CASE(qlow_mask_select(score, C, 1.0, mask, &ns) == QLOW_OK && ns == C, "mask ratio 1 selects all (%lld)", (long long)ns);
    CASE(qlow_mask_select(score, C, 1.5, mask, &ns) == QLOW_E_INVALID_ARG, "mask ratio 1.5");
    CASE(qlow_mask_select(score, C, NAN, mask, &ns) == QLOW_E_INVALID_ARG, "mask ratio NaN");
    score[3] = NAN;
    CASE(qlow_mask_select(score, C, 0.2, mask, &ns) == QLOW_E_NONFINITE, "NaN score");
    score[3] = 1.0f;
    for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
    for (int i = 0; i < TOK * C; i++) x[i] = (float)qt_rand_normal();
    qlow_view W, X;
    qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w);
    qlow_view_init_2d(&X, QLOW_DTYPE_F32, TOK, C, x);
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    const double ratios[] = {0.0, 1.0, 0.025};
    for (int k = 0; k < 3; k++) {
        qlow_params_set_float(p, QLOW_MASK_RATIO, ratios[k]);
        qlow_qmatrix *qm = NULL;
        qlow_status st = qlow_ptq161_quantize(ctx, p, &W, &X, NULL, &qm, NULL);
        CASE(st == QLOW_OK, "ptq161 mask ratio %g -> %d", ratios[k], (int)st);
        if (st == QLOW_OK)
            CASE(qlow_qmatrix_dequantize(qm, 0, R, deq, R * C) == QLOW_OK && all_finite(deq, R * C), "ratio %g finite", ratios[k]);
        qlow_qmatrix_destroy(qm);
    }
    qlow_params_reset(p);
    qlow_qmatrix *qm = (qlow_qmatrix *)&qm;
    qlow_qmatrix *const untouched = qm;
    x[17] = NAN;
    CASE(qlow_ptq161_quantize(ctx, p, &W, &X, NULL, &qm, NULL) == QLOW_E_NONFINITE && qm == untouched, "ptq161 NaN input");
    x[17] = 0.0f;
    w[9] = INFINITY;
    CASE(qlow_ptq161_quantize(ctx, p, &W, &X, NULL, &qm, NULL) == QLOW_E_NONFINITE && qm == untouched, "ptq161 Inf weight");
    w[9] = 0.0f;
    memset(w, 0, sizeof w);
    qlow_status st = qlow_ptq161_quantize(ctx, p, &W, &X, NULL, &qm, NULL);
    CASE(st == QLOW_OK || st == QLOW_E_NUMERIC, "ptq161 all-zero layer -> %d", (int)st);
    if (st == QLOW_OK) {
        int zero = qlow_qmatrix_dequantize(qm, 0, R, deq, R * C) == QLOW_OK;
        for (int i = 0; i < R * C; i++) zero &= deq[i] == 0.0f;
        CASE(zero, "ptq161 of zeros gives zeros");
        qlow_qmatrix_destroy(qm);
    }
    qlow_view W1;
    for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
    qlow_view_init_2d(&W1, QLOW_DTYPE_F32, 1, C, w);
    qm = untouched;
    st = qlow_ptq161_quantize(ctx, p, &W1, &X, NULL, &qm, NULL);
    CASE(st == QLOW_OK, "ptq161 1 x %d -> %d", C, (int)st);
    if (st == QLOW_OK) qlow_qmatrix_destroy(qm);
    qlow_view_init_2d(&W1, QLOW_DTYPE_F32, R, 1, w);
    qlow_view X1;
    qlow_view_init_2d(&X1, QLOW_DTYPE_F32, TOK, 1, x);
    qm = untouched;
    st = qlow_ptq161_quantize(ctx, p, &W1, &X1, NULL, &qm, NULL);
    CASE(st == QLOW_OK || st == QLOW_E_SHAPE, "ptq161 %d x 1 -> %d", R, (int)st);
    if (st == QLOW_OK) qlow_qmatrix_destroy(qm);
    qlow_params_destroy(p);
}

static void plan_hostile(void)
{
    const double size[4] = {2, 1, 2, 1};
    double cost[4] = {0.1, 1.0, 0.2, 2.0};
    int32_t choice[2] = {-9, -9};
    CASE(qlow_plan_solve(NULL, NULL, 2, 2, size, cost, NULL, 1.0, choice, NULL, NULL) == QLOW_E_NOT_FOUND &&
             choice[0] == -9, "budget below the smallest plan");
    CASE(qlow_plan_solve(NULL, NULL, 2, 2, size, cost, NULL, 0.0, choice, NULL, NULL) == QLOW_E_INVALID_ARG, "budget 0");
    CASE(qlow_plan_solve(NULL, NULL, 2, 2, size, cost, NULL, NAN, choice, NULL, NULL) != QLOW_OK, "budget NaN");
    cost[1] = NAN;
    CASE(qlow_plan_solve(NULL, NULL, 2, 2, size, cost, NULL, 4.0, choice, NULL, NULL) == QLOW_E_NONFINITE, "NaN cost");
    cost[0] = cost[1] = INFINITY;
    CASE(qlow_plan_solve(NULL, NULL, 2, 2, size, cost, NULL, 4.0, choice, NULL, NULL) == QLOW_E_NOT_FOUND,
         "every choice of a layer unavailable");
    cost[0] = 0.1, cost[1] = 1.0;
    CASE(qlow_plan_solve(NULL, NULL, 2, 0, size, cost, NULL, 4.0, choice, NULL, NULL) == QLOW_E_SHAPE, "0 choices");
    CASE(qlow_plan_solve(NULL, NULL, 1, 1, size, cost, NULL, 1e300, choice, NULL, NULL) == QLOW_OK && choice[0] == 0,
         "huge budget");
}

int main(void)
{
    views();
    fp16_specials();
    param_values();
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    if (ctx) {
        quantize_hostile(ctx);
        quantize_shapes(ctx);
        hessian_hostile(ctx);
        gptq_hostile(ctx);
        kernels_hostile(ctx);
        ptq161_hostile(ctx);
    }
    qlow_ctx_destroy(ctx);
    plan_hostile();
    printf("INFO degenerate cases: %d\n", cases);
    return qt_finish();
}
