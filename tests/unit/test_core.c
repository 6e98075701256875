/* test_core.c - versions, status strings, context, params, views, allocator hooks. */
#include "qtest.h"
#include "qtest_isa.h"

static void test_versions(void)
{
    QT_CHECK(qlow_version_number() == QLOW_VERSION_NUMBER, "version number");
    QT_CHECK(strcmp(qlow_version_string(), QLOW_VERSION_STRING) == 0, "version string");
    QT_CHECK(qlow_abi_version() == QLOW_ABI_VERSION, "abi version");
    QT_CHECK_OK(qlow_abi_check(QLOW_ABI_VERSION, sizeof(qlow_view)));
    QT_CHECK_STATUS(qlow_abi_check(QLOW_ABI_VERSION + 1, sizeof(qlow_view)), QLOW_E_VERSION_MISMATCH);
    QT_CHECK_STATUS(qlow_abi_check(QLOW_ABI_VERSION, sizeof(qlow_view) - 8), QLOW_E_VERSION_MISMATCH);
    QT_CHECK(qlow_sizeof_view() == sizeof(qlow_view), "sizeof view");
    QT_CHECK(sizeof(qlow_view) == 104, "qlow_view is frozen at 104 bytes on LP64, got %zu", sizeof(qlow_view));
}

static void test_status_strings(void)
{
    /* Pinned values: changing any of these is an ABI break. */
    static const struct { int code; int value; } pinned[] = {
        {QLOW_OK, 0}, {QLOW_E_INVALID_ARG, -1}, {QLOW_E_NULL_POINTER, -2}, {QLOW_E_SHAPE, -3},
        {QLOW_E_DTYPE, -4}, {QLOW_E_STRUCT_SIZE, -5}, {QLOW_E_ALIGNMENT, -6},
        {QLOW_E_WORKSPACE_TOO_SMALL, -7}, {QLOW_E_BUFFER_TOO_SMALL, -8}, {QLOW_E_NO_MEMORY, -9},
        {QLOW_E_OVERFLOW, -10}, {QLOW_E_NONFINITE, -11}, {QLOW_E_NUMERIC, -12}, {QLOW_E_UNSUPPORTED, -13},
        {QLOW_E_PARAM, -14}, {QLOW_E_VERSION_MISMATCH, -15}, {QLOW_E_IO, -16}, {QLOW_E_FORMAT, -17},
        {QLOW_E_TRUNCATED, -18}, {QLOW_E_CHECKSUM, -19}, {QLOW_E_NOT_FOUND, -20}, {QLOW_E_STATE, -21},
        {QLOW_E_CALLBACK, -22}, {QLOW_E_INTERNAL, -23}};
    for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++)
        QT_CHECK(pinned[i].code == pinned[i].value, "code %zu pinned", i);
    /* Every code has its own non-empty string, distinct from the unknown one. */
    const char *unknown = qlow_status_string(-98);
    QT_CHECK(strcmp(unknown, "unknown status") == 0, "unknown string");
    for (int c = 0; c >= -23; c--) {
        const char *s = qlow_status_string(c);
        QT_CHECK(s && *s && strcmp(s, unknown) != 0, "string for %d", c);
        for (int d = c - 1; d >= -23; d--) QT_CHECK(strcmp(s, qlow_status_string(d)) != 0, "distinct %d %d", c, d);
    }
    QT_CHECK(strcmp(qlow_status_string(1), unknown) == 0, "positive is unknown");
}

/* The ISA levels by rank (QLOW_ISA_AVX2_VNNI = 5 ranks between AVX2 and AVX512) and the clamping of
 * QLOW_CTX_ISA_MAX against the detected level, including AVX2_VNNI on a CPU without AVX-VNNI. */
static void isa_ladder(qlow_ctx *ctx, int64_t det)
{
    static const int order[] = {QLOW_ISA_GENERIC, QLOW_ISA_AVX2, QLOW_ISA_AVX2_VNNI, QLOW_ISA_AVX512,
                                QLOW_ISA_AVX512_VNNI, QLOW_ISA_NEON};
    for (int i = 0; i + 1 < 6; i++)
        QT_CHECK(qlow__isa_rank(order[i]) >= 0 && qlow__isa_rank(order[i]) < qlow__isa_rank(order[i + 1]),
                 "isa %d ranks below isa %d", order[i], order[i + 1]);
    QT_CHECK(qlow__isa_rank(4) < 0 && qlow__isa_rank(6) < 0 && qlow__isa_rank(-1) < 0, "non-levels have no rank");
    QT_CHECK(qlow__isa_has_avx2(QLOW_ISA_AVX2_VNNI) && !qlow__isa_has_avx512(QLOW_ISA_AVX2_VNNI) &&
                 qlow__isa_has_avx512(QLOW_ISA_AVX512) && qlow__isa_has_avx2(QLOW_ISA_AVX512_VNNI) &&
                 !qlow__isa_has_avx2(QLOW_ISA_NEON) && !qlow__isa_has_avx2(QLOW_ISA_GENERIC),
             "isa predicates");
    /* {isa_max, detected, avx_vnni, expected} */
    static const int cases[][4] = {
        {QLOW_ISA_AVX2_VNNI, QLOW_ISA_AVX512_VNNI, 1, QLOW_ISA_AVX2_VNNI}, /* Zen 4/5, Sapphire Rapids */
        {QLOW_ISA_AVX2_VNNI, QLOW_ISA_AVX512_VNNI, 0, QLOW_ISA_AVX2},      /* Ice Lake: no VEX VNNI */
        {QLOW_ISA_AVX2_VNNI, QLOW_ISA_AVX512, 0, QLOW_ISA_AVX2},           /* Skylake-X */
        {QLOW_ISA_AVX512, QLOW_ISA_AVX2_VNNI, 1, QLOW_ISA_AVX2_VNNI},      /* Alder Lake */
        {QLOW_ISA_AVX512_VNNI, QLOW_ISA_AVX2_VNNI, 1, QLOW_ISA_AVX2_VNNI},
        {QLOW_ISA_AVX2, QLOW_ISA_AVX2_VNNI, 1, QLOW_ISA_AVX2},
        {QLOW_ISA_AVX2_VNNI, QLOW_ISA_AVX2, 0, QLOW_ISA_AVX2},
        {QLOW_ISA_AVX2_VNNI, QLOW_ISA_GENERIC, 0, QLOW_ISA_GENERIC},
        {QLOW_ISA_NEON, QLOW_ISA_AVX2_VNNI, 1, QLOW_ISA_AVX2_VNNI},        /* NEON: no limit on x86 */
        {QLOW_ISA_AVX2_VNNI, QLOW_ISA_NEON, 0, QLOW_ISA_AVX2},             /* ARM: runs generic kernels */
        {QLOW_ISA_GENERIC, QLOW_ISA_AVX2_VNNI, 1, QLOW_ISA_GENERIC},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const int *c = cases[i];
        QT_CHECK(qlow__isa_clamp(c[0], c[1], c[2]) == c[3], "clamp(%d, %d, vnni %d) = %d, want %d", c[0], c[1], c[2],
                 qlow__isa_clamp(c[0], c[1], c[2]), c[3]);
        /* the same through a context whose detection says so */
        const int32_t keep_det = ctx->isa_detected, keep_vnni = ctx->avx_vnni;
        ctx->isa_detected = c[1];
        ctx->avx_vnni = c[2];
        int64_t v = -1;
        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, c[0]));
        QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_MAX, &v));
        QT_CHECK(v == c[3], "ctx: ISA_MAX %d on detected %d (vnni %d) reads %lld, want %d", c[0], c[1], c[2],
                 (long long)v, c[3]);
        ctx->isa_detected = keep_det;
        ctx->avx_vnni = keep_vnni;
    }
    /* this CPU */
    const int vnni = qlow_has_feature(QLOW_FEATURE_AVX_VNNI);
    int64_t v = -1;
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_AVX2_VNNI));
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_MAX, &v));
    const int64_t want = qlow__isa_rank((int)det) < qlow__isa_rank(QLOW_ISA_AVX2_VNNI) ? det
                         : vnni                                                       ? QLOW_ISA_AVX2_VNNI
                                                                                      : QLOW_ISA_AVX2;
    QT_CHECK(v == want, "ISA_MAX AVX2_VNNI reads %lld on this CPU (detected %lld, AVX-VNNI %d), want %lld",
             (long long)v, (long long)det, vnni, (long long)want);
    QT_CHECK(ctx->avx_vnni == vnni || !qlow__isa_has_avx2((int)det), "ctx records AVX-VNNI as has_feature reports it");
    QT_CHECK(det != QLOW_ISA_AVX2_VNNI || (vnni && !qlow_has_feature(QLOW_FEATURE_AVX512)),
             "detected AVX2_VNNI means AVX-VNNI without AVX-512");
    QT_CHECK(!vnni || qlow_has_feature(QLOW_FEATURE_AVX2), "AVX-VNNI implies AVX2");
    QT_CHECK_STATUS(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, 4), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, 6), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, (int64_t)1 << 32 | QLOW_ISA_AVX2), QLOW_E_PARAM);
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, det));
    printf("INFO isa: detected %lld, AVX-VNNI %d, AVX2_VNNI reads %lld\n", (long long)det, vnni, (long long)v);
}


static void test_ctx(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_STATUS(qlow_ctx_create(NULL, NULL), QLOW_E_NULL_POINTER);
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    int64_t v = -1;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_NUM_THREADS, &v));
    QT_CHECK(v == 1, "default threads 1");
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 2));
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_NUM_THREADS, &v));
    QT_CHECK(v == 2, "threads 2");
    QT_CHECK_STATUS(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 0), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 5000), QLOW_E_PARAM);
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_NUM_THREADS, &v));
    QT_CHECK(v == 2, "rejected set leaves value");
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_SEED, -12345));
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_SEED, &v));
    QT_CHECK(v == -12345, "seed");
    QT_CHECK_STATUS(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_DETECTED, 0), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_ctx_set_int(ctx, 999, 0), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, 7), QLOW_E_PARAM);
    int64_t det = -1;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &det));
    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC));
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_MAX, &v));
    QT_CHECK(v == QLOW_ISA_GENERIC, "isa override to generic");
    QT_CHECK(qlow__isa_has_avx2((int)det) == (qlow_has_feature(QLOW_FEATURE_AVX2) != 0),
             "detected isa agrees with has_feature");
    isa_ladder(ctx, det);
    qlow_ctx_destroy(ctx);
    qlow_ctx_destroy(NULL);

    /* Static placement: no allocator at all. */
    _Alignas(64) unsigned char mem[1024];
    qlow_ctx *sctx = NULL;
    QT_CHECK(qlow_ctx_estimate_size() <= sizeof(mem), "estimate fits");
    QT_CHECK_STATUS(qlow_ctx_init_static(mem, 4, &sctx), QLOW_E_WORKSPACE_TOO_SMALL);
    QT_CHECK_STATUS(qlow_ctx_init_static(mem + 1, sizeof(mem) - 1, &sctx), QLOW_E_ALIGNMENT);
    QT_CHECK(sctx == NULL, "failed init leaves out untouched");
    QT_CHECK_OK(qlow_ctx_init_static(mem, sizeof(mem), &sctx));
    QT_CHECK((void *)sctx == (void *)mem, "static ctx lives in caller memory");
    QT_CHECK_OK(qlow_ctx_set_int(sctx, QLOW_CTX_NUM_THREADS, 1));
}

static void test_alloc_hooks(void)
{
    qt_alloc_state s = {0, 0, 0, 0};
    qlow_allocator a = qt_allocator(&s);
    qlow_ctx *ctx = NULL;
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_ctx_create(&a, &ctx));
    QT_CHECK_OK(qlow_params_create(&a, &p));
    QT_CHECK(s.live == 2, "two live allocations, got %ld", s.live);
    qlow_params_destroy(p);
    qlow_ctx_destroy(ctx);
    QT_CHECK(s.live == 0 && s.bytes_live == 0, "everything freed");

    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points, { ctx = NULL; st = qlow_ctx_create(&qa, &ctx); if (st) QT_CHECK(ctx == NULL, "out untouched"); },
                       qlow_ctx_destroy(ctx));
    QT_ALLOC_FAIL_LOOP(&points, { p = NULL; st = qlow_params_create(&qa, &p); if (st) QT_CHECK(p == NULL, "out untouched"); },
                       qlow_params_destroy(p));
    QT_CHECK(points == 2, "two allocation points, got %ld", points);
}

static void test_params(void)
{
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    QT_CHECK_STATUS(qlow_params_set_int(p, 99999, 1), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_params_set_float(p, 99999, 1.0), QLOW_E_PARAM);
    int64_t iv;
    QT_CHECK_STATUS(qlow_params_get_int(p, 99999, &iv), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_param_bounds(99999, NULL, NULL, NULL, NULL), QLOW_E_PARAM);
    QT_CHECK_STATUS(qlow_params_set_int(NULL, 1, 1), QLOW_E_NULL_POINTER);
    qlow_params_reset(p);
    qlow_params_destroy(p);
    qlow_params_destroy(NULL);
}

static void test_views(void)
{
    float buf[12];
    qlow_view v;
    QT_CHECK_OK(qlow_view_init_2d(&v, QLOW_DTYPE_F32, 3, 4, buf));
    QT_CHECK(v.struct_size == sizeof(qlow_view) && v.ndim == 2, "init header");
    QT_CHECK(v.stride_bytes[0] == 16 && v.stride_bytes[1] == 4, "row-major strides");
    QT_CHECK(v.shape[2] == 1 && v.shape[3] == 1, "unused dims are 1");
    QT_CHECK_STATUS(qlow_view_init_2d(&v, QLOW_DTYPE_F32, -1, 4, buf), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_view_init_2d(&v, (qlow_dtype)42, 1, 4, buf), QLOW_E_DTYPE);
    QT_CHECK_STATUS(qlow_view_init_2d(&v, QLOW_DTYPE_F32, INT64_MAX, INT64_MAX, buf), QLOW_E_OVERFLOW);
    int64_t shape5[5] = {1, 1, 1, 1, 1};
    QT_CHECK_STATUS(qlow_view_init(&v, QLOW_DTYPE_F32, 5, shape5, buf), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_view_init(NULL, QLOW_DTYPE_F32, 1, shape5, buf), QLOW_E_NULL_POINTER);
}

int main(void)
{
    test_versions();
    test_status_strings();
    test_ctx();
    test_alloc_hooks();
    test_params();
    test_views();
    return qt_finish();
}
