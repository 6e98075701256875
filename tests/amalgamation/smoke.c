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

int main(void)
{
    core();
    printf("%s\n", failures ? "SMOKE FAILED" : "smoke ok");
    return failures != 0;
}
