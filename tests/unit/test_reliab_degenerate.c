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

int main(void)
{
    views();
    fp16_specials();
    param_values();
    printf("INFO degenerate cases: %d\n", cases);
    return qt_finish();
}
