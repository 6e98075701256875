/* smoke.c - built twice by tests/checks/amalgamation.sh: once with dist/qlow.c alone, once against
 * libqlow.a. Both runs must print the same lines; the values printed are also checked here. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qlow.h"

static int failures;
#define EXPECT(cond)                                                                                   \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            printf("smoke check failed: %s (line %d)\n", #cond, __LINE__);                             \
            failures++;                                                                                \
        }                                                                                              \
    } while (0)

static void core(void)
{
    EXPECT(qlow_abi_check(QLOW_ABI_VERSION, sizeof(qlow_view)) == QLOW_OK);
    EXPECT(strcmp(qlow_version_string(), QLOW_VERSION_STRING) == 0);
    qlow_ctx *ctx = NULL;
    EXPECT(qlow_ctx_create(NULL, &ctx) == QLOW_OK);
    EXPECT(qlow_ctx_set_int(ctx, QLOW_CTX_SEED, 42) == QLOW_OK);
    int64_t seed = 0;
    EXPECT(qlow_ctx_get_int(ctx, QLOW_CTX_SEED, &seed) == QLOW_OK && seed == 42);
    qlow_ctx_destroy(ctx);
    unsigned long sum = 0;
    for (int i = -300; i <= 300; i++) {
        float x = (float)i * 0.37f;
        uint16_t h = qlow_fp32_to_fp16(x);
        EXPECT(fabsf(qlow_fp16_to_fp32(h) - x) <= fabsf(x) * 0x1p-11f);
        sum = sum * 31u + h;
    }
    printf("version %s fp16-hash %lu status(-7) %s\n", qlow_version_string(), sum,
           qlow_status_string(QLOW_E_WORKSPACE_TOO_SMALL));
}

static unsigned long hash_bytes(const void *p, size_t n, unsigned long h)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ul;
    return h;
}

/* Quantize one matrix per scheme, print a hash of the serialized bytes and of the dequantized (and,
 * when the kernels are present, GEMV) results, so the two builds can be compared line by line. */
static void quantize_all(void)
{
    enum { R = 16, C = 96 };
    static float w[R * C], x[C], y[R], dq[R * C];
    static unsigned char img[65536];
    for (int i = 0; i < R * C; i++) w[i] = (float)((i * 37 % 101) - 50) / 64.0f;
    for (int j = 0; j < C; j++) x[j] = (float)((j * 13 % 29) - 14) / 16.0f;
    static const int schemes[][3] = {{QLOW_SCHEME_RTN, 8, 32}, {QLOW_SCHEME_RTN, 4, 32}, {QLOW_SCHEME_RTN, 3, 0},
                                     {QLOW_SCHEME_RTN, 2, 32}, {QLOW_SCHEME_BINARY, 0, 0},
                                     {QLOW_SCHEME_BINARY_RESIDUAL, 0, 0}, {QLOW_SCHEME_TERNARY, 0, 0}};
    qlow_ctx *ctx = NULL;
    EXPECT(qlow_ctx_create(NULL, &ctx) == QLOW_OK);
    qlow_view v;
    EXPECT(qlow_view_init_2d(&v, QLOW_DTYPE_F32, R, C, w) == QLOW_OK);
    for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
        qlow_params *p = NULL;
        qlow_qmatrix *qm = NULL;
        size_t n = 0;
        EXPECT(qlow_params_create(NULL, &p) == QLOW_OK);
        EXPECT(qlow_params_set_int(p, QLOW_P_SCHEME, schemes[k][0]) == QLOW_OK);
        if (schemes[k][1]) {
            EXPECT(qlow_params_set_int(p, QLOW_P_BITS, schemes[k][1]) == QLOW_OK);
            EXPECT(qlow_params_set_int(p, QLOW_P_GROUP_COLS, schemes[k][2]) == QLOW_OK);
        }
        if (qlow_quantize(ctx, p, &v, NULL, &qm) != QLOW_OK) {
            EXPECT(0);
            qlow_params_destroy(p);
            continue;
        }
        EXPECT(qlow_qmatrix_serialized_size(qm, &n) == QLOW_OK && n <= sizeof(img));
        EXPECT(qlow_qmatrix_serialize(qm, img, n) == QLOW_OK);
        EXPECT(qlow_qmatrix_dequantize(qm, 0, R, dq, R * C) == QLOW_OK);
        double err = 0;
        for (int i = 0; i < R * C; i++) err += (double)(dq[i] - w[i]) * (double)(dq[i] - w[i]);
        EXPECT(err / (R * C) < 0.25);
        unsigned long h = hash_bytes(dq, sizeof(dq), hash_bytes(img, n, 1469598103934665603ul));
#ifdef QLOW_GEMM_ACT8
        EXPECT(qlow_gemv(ctx, qm, x, y) == QLOW_OK);
        h = hash_bytes(y, sizeof(y), h);
#endif
        int32_t fmt = 0;
        qlow_qmatrix_format(qm, &fmt);
        printf("%s: %zu bytes, mse %.6g, hash %lx\n", qlow_format_name(fmt), n, err / (R * C), h);
        qlow_qmatrix_destroy(qm);
        qlow_params_destroy(p);
    }
    qlow_ctx_destroy(ctx);
    (void)x;
    (void)y;
}

int main(void)
{
    core();
    quantize_all();
    printf("%s\n", failures ? "SMOKE FAILED" : "smoke ok");
    return failures != 0;
}
