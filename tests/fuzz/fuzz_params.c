/* fuzz_params.c - libFuzzer target: a byte-driven sequence of context, parameter-set, view and fp16
 * calls, checked against a shadow model (what was set must read back, rejected sets change nothing,
 * statuses are pinned codes, nothing leaks). Keys come from src/core/param_keys.def, so every key a
 * subsystem adds is fuzzed without editing this file. */
#include "fuzz_common.h"
#include "core/internal.h"

typedef struct params_key_def {
    int32_t key;
    int is_float;
    double lo, hi, def;
} params_key_def;

#define QLOW_PARAM_INT(key, lo, hi, def) {key, 0, (double)(lo), (double)(hi), (double)(def)},
#define QLOW_PARAM_FLOAT(key, lo, hi, def) {key, 1, (double)(lo), (double)(hi), (double)(def)},
static const params_key_def params_known_keys[] = {
#include "core/param_keys.def"
    {0, 0, 0, 0, 0}};
#undef QLOW_PARAM_INT
#undef QLOW_PARAM_FLOAT
/* A function rather than a constant: the table is empty until subsystems add keys. */
static size_t params_nkeys(void) { return sizeof(params_known_keys) / sizeof(params_known_keys[0]) - 1; }

typedef struct params_model_entry {
    int32_t key;
    int64_t ival;
    double fval;
} params_model_entry;

typedef struct params_model {
    params_model_entry e[QLOW_PARAMS_MAX_ENTRIES];
    int n;
} params_model;

static const params_key_def *params_find(int32_t key)
{
    for (size_t i = 0; i < params_nkeys(); i++)
        if (params_known_keys[i].key == key) return &params_known_keys[i];
    return NULL;
}

static int params_model_index(const params_model *m, int32_t key)
{
    for (int i = 0; i < m->n; i++)
        if (m->e[i].key == key) return i;
    return -1;
}

/* A key: mostly a known one (when any exist), sometimes an arbitrary int32 (unknown, negative, a ctx key). */
static int32_t params_pick_key(fuzz_reader *r)
{
    uint8_t sel = fuzz_u8(r);
    size_t n = params_nkeys();
    if (n > 0 && sel < 192) return params_known_keys[sel % n].key;
    if (sel < 224) return (int32_t)(sel % 16) - 2;
    return (int32_t)fuzz_u32(r);
}

/* Values near the bounds of `d` are the interesting ones. */
static double params_pick_value(fuzz_reader *r, const params_key_def *d)
{
    uint8_t sel = fuzz_u8(r);
    double lo = d ? d->lo : 0.0, hi = d ? d->hi : 1.0;
    switch (sel % 8) {
    case 0: return lo;
    case 1: return hi;
    case 2: return lo - 1.0;
    case 3: return hi + 1.0;
    case 4: return d ? d->def : 0.0;
    case 5: return lo + (hi - lo) * ((double)fuzz_u8(r) / 255.0);
    default: return fuzz_f64(r);
    }
}

static void params_check_set(qlow_params *p, params_model *m, fuzz_reader *r, int as_float)
{
    int32_t key = params_pick_key(r);
    const params_key_def *d = params_find(key);
    double v = params_pick_value(r, d);
    int64_t iv = 0;
    if (!as_float) {
        /* Clamp into int64 range before converting: the conversion of an out-of-range double is UB. */
        if (v != v) v = 0.0;
        if (v >= 9.2e18) iv = INT64_MAX;
        else if (v <= -9.2e18) iv = INT64_MIN;
        else iv = (int64_t)v;
    }
    qlow_status s = as_float ? qlow_params_set_float(p, key, v) : qlow_params_set_int(p, key, iv);
    int idx = params_model_index(m, key);
    int want_ok = d && d->is_float == as_float && (as_float ? (v >= d->lo && v <= d->hi)
                                                           : ((double)iv >= d->lo && (double)iv <= d->hi)) &&
                  (idx >= 0 || m->n < QLOW_PARAMS_MAX_ENTRIES);
    if (!want_ok) {
        FUZZ_REQUIRE(s == QLOW_E_PARAM, "set key %d float=%d: status %d, want QLOW_E_PARAM", (int)key, as_float,
                     (int)s);
        return;
    }
    FUZZ_REQUIRE(s == QLOW_OK, "set key %d float=%d value %g: status %d", (int)key, as_float, v, (int)s);
    if (idx < 0) idx = m->n++;
    m->e[idx].key = key;
    m->e[idx].ival = iv;
    m->e[idx].fval = as_float ? v : (double)iv;
}

static void params_check_get(const qlow_params *p, const params_model *m, fuzz_reader *r)
{
    int32_t key = params_pick_key(r);
    const params_key_def *d = params_find(key);
    int64_t iv = 0x1234;
    double fv = 1234.5;
    qlow_status si = qlow_params_get_int(p, key, &iv);
    qlow_status sf = qlow_params_get_float(p, key, &fv);
    if (!d) {
        FUZZ_REQUIRE(si == QLOW_E_PARAM && sf == QLOW_E_PARAM, "unknown key %d: %d %d", (int)key, (int)si, (int)sf);
        FUZZ_REQUIRE(iv == 0x1234 && fv == 1234.5, "failed get wrote its output");
        return;
    }
    int idx = params_model_index(m, key);
    if (d->is_float) {
        FUZZ_REQUIRE(si == QLOW_E_PARAM && sf == QLOW_OK, "float key %d: %d %d", (int)key, (int)si, (int)sf);
        double want = idx >= 0 ? m->e[idx].fval : d->def;
        FUZZ_REQUIRE(fv == want, "float key %d reads %g, want %g", (int)key, fv, want);
    } else {
        FUZZ_REQUIRE(si == QLOW_OK && sf == QLOW_E_PARAM, "int key %d: %d %d", (int)key, (int)si, (int)sf);
        int64_t want = idx >= 0 ? m->e[idx].ival : (int64_t)d->def;
        FUZZ_REQUIRE(iv == want, "int key %d reads %lld, want %lld", (int)key, (long long)iv, (long long)want);
    }
}

static void params_check_bounds(fuzz_reader *r)
{
    int32_t key = params_pick_key(r);
    const params_key_def *d = params_find(key);
    double lo = -7, hi = -7, def = -7;
    int is_float = -7;
    qlow_status s = qlow_param_bounds(key, &lo, &hi, &def, &is_float);
    if (!d) {
        FUZZ_REQUIRE(s == QLOW_E_PARAM && lo == -7 && is_float == -7, "bounds of unknown key %d", (int)key);
        return;
    }
    FUZZ_REQUIRE(s == QLOW_OK && lo == d->lo && hi == d->hi && def == d->def && is_float == d->is_float,
                 "bounds of key %d", (int)key);
    FUZZ_REQUIRE(lo <= def && def <= hi, "default of key %d outside its bounds", (int)key);
    FUZZ_REQUIRE(qlow_param_bounds(key, NULL, NULL, NULL, NULL) == QLOW_OK, "bounds with NULL outputs");
}

/* Levels by rank (documented at QLOW_CTX_ISA_MAX): qlow__isa_rank, -1 for values that are no level. */
static int params_isa_rank(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX ? qlow__isa_rank((int)v) : -1; }
static int params_isa_valid(int64_t v) { return params_isa_rank(v) >= 0; }

static void params_check_ctx_set(qlow_ctx *ctx, fuzz_reader *r)
{
    uint8_t ksel = fuzz_u8(r);
    int32_t key = ksel < 240 ? (int32_t)(ksel % 6) : (int32_t)fuzz_u32(r);
    uint8_t vsel = fuzz_u8(r);
    int64_t value = vsel < 128 ? (int64_t)(vsel % 20) - 2 : (int64_t)fuzz_u64(r);
    int64_t before[4];
    for (int k = 0; k < 4; k++) FUZZ_REQUIRE(qlow_ctx_get_int(ctx, k + 1, &before[k]) == QLOW_OK, "ctx get %d", k + 1);
    qlow_status s = qlow_ctx_set_int(ctx, key, value);
    int want_ok = (key == QLOW_CTX_NUM_THREADS && value >= 1 && value <= 1024) || key == QLOW_CTX_SEED ||
                  (key == QLOW_CTX_ISA_MAX && params_isa_valid(value));
    if (!want_ok) {
        FUZZ_REQUIRE(s == QLOW_E_PARAM, "ctx set key %d value %lld: status %d", (int)key, (long long)value, (int)s);
        for (int k = 0; k < 4; k++) {
            int64_t now;
            FUZZ_REQUIRE(qlow_ctx_get_int(ctx, k + 1, &now) == QLOW_OK && now == before[k],
                         "rejected ctx set changed key %d", k + 1);
        }
        return;
    }
    FUZZ_REQUIRE(s == QLOW_OK, "ctx set key %d value %lld: status %d", (int)key, (long long)value, (int)s);
    int64_t got = 0;
    FUZZ_REQUIRE(qlow_ctx_get_int(ctx, key, &got) == QLOW_OK, "ctx get after set");
    if (key == QLOW_CTX_ISA_MAX) {
        const int64_t det = before[QLOW_CTX_ISA_DETECTED - 1];
        int64_t want = params_isa_rank(value) < params_isa_rank(det) ? value : det;
        if (want == QLOW_ISA_AVX2_VNNI && !qlow_has_feature(QLOW_FEATURE_AVX_VNNI)) want = QLOW_ISA_AVX2;
        FUZZ_REQUIRE(got == want, "ISA_MAX reads %lld, want %lld", (long long)got, (long long)want);
    } else {
        FUZZ_REQUIRE(got == value, "ctx key %d reads %lld, want %lld", (int)key, (long long)got, (long long)value);
    }
}

static void params_check_view(fuzz_reader *r)
{
    int32_t dtype = (int32_t)(fuzz_u8(r) % 9) - 1;
    int32_t ndim = (int32_t)(fuzz_u8(r) % 7) - 1;
    int64_t shape[QLOW_VIEW_MAX_DIMS + 2];
    for (int d = 0; d < QLOW_VIEW_MAX_DIMS + 2; d++) {
        uint8_t sel = fuzz_u8(r);
        shape[d] = sel < 200 ? (int64_t)(sel % 9) - 1 : (int64_t)fuzz_u64(r);
    }
    static float backing[1];
    qlow_view v;
    memset(&v, 0xa5, sizeof v);
    qlow_status s = qlow_view_init(&v, (qlow_dtype)dtype, ndim, shape, backing);
    FUZZ_REQUIRE(fuzz_status_known(s), "view_init status %d", (int)s);
    if (s != QLOW_OK) {
        FUZZ_REQUIRE(((const unsigned char *)&v)[0] == 0xa5, "failed view_init wrote its output");
        return;
    }
    FUZZ_REQUIRE(v.struct_size == sizeof(qlow_view) && v.ndim == ndim && v.dtype == dtype, "view header");
    /* Row-major strides: innermost is the element size, each outer one the product of the inner extents. */
    int64_t expect = (int64_t)v.stride_bytes[ndim - 1];
    FUZZ_REQUIRE(expect >= 1 && expect <= 8, "element stride %lld", (long long)expect);
    for (int d = ndim - 1; d > 0; d--) {
        FUZZ_REQUIRE(v.shape[d] == shape[d], "extent %d", d);
        unsigned __int128 want = (unsigned __int128)(uint64_t)v.stride_bytes[d] * (uint64_t)shape[d];
        FUZZ_REQUIRE((unsigned __int128)(uint64_t)v.stride_bytes[d - 1] == want, "stride %d", d - 1);
    }
    for (int d = ndim; d < QLOW_VIEW_MAX_DIMS; d++)
        FUZZ_REQUIRE(v.shape[d] == 1 && v.stride_bytes[d] == 0, "unused dim %d", d);
}

static void params_check_fp16(fuzz_reader *r)
{
    uint16_t h = (uint16_t)fuzz_u32(r);
    float f = qlow_fp16_to_fp32(h);
    uint16_t back = qlow_fp32_to_fp16(f);
    int is_nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
    if (is_nan)
        FUZZ_REQUIRE((back & 0x7c00u) == 0x7c00u && (back & 0x3ffu), "fp16 NaN %04x lost", h);
    else
        FUZZ_REQUIRE(back == h, "fp16 %04x -> %g -> %04x", h, (double)f, back);
    float b = qlow_bf16_to_fp32(h);
    uint16_t bback = qlow_fp32_to_bf16(b);
    if ((h & 0x7f80u) == 0x7f80u && (h & 0x7fu))
        FUZZ_REQUIRE((bback & 0x7f80u) == 0x7f80u && (bback & 0x7fu), "bf16 NaN %04x lost", h);
    else
        FUZZ_REQUIRE(bback == h, "bf16 %04x round trip gives %04x", h, bback);
    float any = fuzz_f32(r);
    float rounded = qlow_fp16_to_fp32(qlow_fp32_to_fp16(any));
    if (any == any && any > -65504.0f && any < 65504.0f) {
        float err = rounded > any ? rounded - any : any - rounded;
        float mag = any < 0 ? -any : any;
        FUZZ_REQUIRE(err <= mag * (1.0f / 2048.0f) + 3.0e-8f, "fp16 rounding of %g gives %g", (double)any,
                     (double)rounded);
    }
}

static int fuzz_params(const uint8_t *data, size_t size)
{
    fuzz_reader r;
    fuzz_reader_init(&r, data, size);
    fuzz_alloc_state as;
    qlow_allocator a = fuzz_allocator(&as, 0);
    qlow_ctx *ctx = NULL;
    qlow_params *p = NULL;
    params_model model;
    model.n = 0;
    _Alignas(64) unsigned char static_mem[512];

    for (int steps = 0; fuzz_more(&r) && steps < 4096; steps++) {
        uint8_t op = fuzz_u8(&r);
        switch (op % 14) {
        case 0: { /* (re)create the context, possibly with a failing allocator */
            qlow_ctx_destroy(ctx);
            ctx = NULL;
            as.fail_at = (fuzz_u8(&r) & 1) ? as.attempts + 1 : 0;
            qlow_status s = qlow_ctx_create(&a, &ctx);
            FUZZ_REQUIRE(s == (as.fail_at ? QLOW_E_NO_MEMORY : QLOW_OK), "ctx_create status %d", (int)s);
            FUZZ_REQUIRE((s == QLOW_OK) == (ctx != NULL), "ctx out-pointer on status %d", (int)s);
            as.fail_at = 0;
            break;
        }
        case 1:
            if (ctx) params_check_ctx_set(ctx, &r);
            else FUZZ_REQUIRE(qlow_ctx_set_int(NULL, QLOW_CTX_SEED, 1) == QLOW_E_NULL_POINTER, "ctx NULL");
            break;
        case 2: { /* static placement at an arbitrary offset and size */
            size_t off = fuzz_u8(&r) % 16, n = fuzz_u32(&r) % (sizeof static_mem - 16);
            qlow_ctx *sc = NULL;
            qlow_status s = qlow_ctx_init_static(static_mem + off, n, &sc);
            qlow_status want = (off % 8) ? QLOW_E_ALIGNMENT
                               : n < qlow_ctx_estimate_size() ? QLOW_E_WORKSPACE_TOO_SMALL : QLOW_OK;
            FUZZ_REQUIRE(s == want, "ctx_init_static(off %zu, %zu) = %d, want %d", off, n, (int)s, (int)want);
            FUZZ_REQUIRE((s == QLOW_OK) == (sc != NULL), "static ctx out-pointer");
            if (sc) {
                params_check_ctx_set(sc, &r);
                qlow_ctx_destroy(sc); /* documented as a no-op for static contexts */
            }
            break;
        }
        case 3: /* (re)create the parameter set */
            qlow_params_destroy(p);
            p = NULL;
            model.n = 0;
            as.fail_at = (fuzz_u8(&r) & 1) ? as.attempts + 1 : 0;
            {
                qlow_status s = qlow_params_create(&a, &p);
                FUZZ_REQUIRE(s == (as.fail_at ? QLOW_E_NO_MEMORY : QLOW_OK), "params_create status %d", (int)s);
                FUZZ_REQUIRE((s == QLOW_OK) == (p != NULL), "params out-pointer");
            }
            as.fail_at = 0;
            break;
        case 4:
            qlow_params_reset(p);
            model.n = 0;
            break;
        case 5:
        case 6:
            if (p) params_check_set(p, &model, &r, op % 14 == 6);
            else FUZZ_REQUIRE(qlow_params_set_int(NULL, 1, 0) == QLOW_E_NULL_POINTER, "params NULL");
            break;
        case 7:
            if (p) params_check_get(p, &model, &r);
            break;
        case 8: params_check_bounds(&r); break;
        case 9: params_check_view(&r); break;
        case 10: params_check_fp16(&r); break;
        case 11: {
            const char *s = qlow_status_string((qlow_status)fuzz_u32(&r));
            FUZZ_REQUIRE(s && *s, "status string");
            break;
        }
        case 12: {
            unsigned abi = fuzz_u8(&r);
            size_t vs = fuzz_u8(&r);
            qlow_status s = qlow_abi_check(abi, vs);
            int match = abi == QLOW_ABI_VERSION && vs == sizeof(qlow_view);
            FUZZ_REQUIRE(s == (match ? QLOW_OK : QLOW_E_VERSION_MISMATCH), "abi_check");
            break;
        }
        default:
            if (ctx) {
                int64_t v = 0;
                qlow_status s = qlow_ctx_get_int(ctx, (int32_t)fuzz_u32(&r), &v);
                FUZZ_REQUIRE(s == QLOW_OK || s == QLOW_E_PARAM, "ctx get status %d", (int)s);
            }
            break;
        }
    }
    qlow_ctx_destroy(ctx);
    qlow_params_destroy(p);
    FUZZ_REQUIRE(as.live == 0, "%ld allocations leaked", as.live);
    return 0;
}

#ifndef QLOW_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_params(data, size); }
#endif
