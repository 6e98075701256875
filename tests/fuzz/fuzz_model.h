/* fuzz_model.h - the body shared by fuzz_llama2c.c and fuzz_safetensors.c: open arbitrary bytes with
 * qlow_model_open_buffer() forced to one source format, then use everything an accepted model hands out
 * (config keys, every tensor's info, lookup by name, zero-copy view covering exactly its bytes, fp32
 * conversion, metadata, SHA-256) and check that nothing leaks. */
#ifndef QLOW_FUZZ_MODEL_H
#define QLOW_FUZZ_MODEL_H

#include "fuzz_common.h"

/* The io subsystem's own invariant checkers (src/io/fuzz_entry.c), run on every input as well. */
int qlow__fuzz_llama2c(const uint8_t *data, size_t size);
int qlow__fuzz_safetensors(const uint8_t *data, size_t size);
int qlow__fuzz_model(const uint8_t *data, size_t size);

static void model_check_tensor(const qlow_model *m, size_t i, const unsigned char *buf, size_t size)
{
    const char *name = NULL;
    int32_t dtype = -1, ndim = -1;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    FUZZ_REQUIRE(qlow_model_tensor_info(m, i, &name, &dtype, &ndim, shape) == QLOW_OK && name, "info %zu", i);
    FUZZ_REQUIRE(ndim >= 0 && ndim <= QLOW_VIEW_MAX_DIMS, "ndim %d", (int)ndim);
    size_t idx = (size_t)-1;
    fuzz_touch(name, strlen(name) + 1);
    /* Names are unique up to duplicates, which must resolve to some tensor of the same name. */
    if (qlow_model_tensor_find(m, name, &idx) == QLOW_OK) {
        const char *other = NULL;
        FUZZ_REQUIRE(qlow_model_tensor_info(m, idx, &other, NULL, NULL, NULL) == QLOW_OK && strcmp(other, name) == 0,
                     "find(%s) gives a tensor named differently", name);
    } else {
        FUZZ_FAIL("tensor %zu (%s) not found by its own name", i, name);
    }
    qlow_view v;
    qlow_status s = qlow_model_tensor_view(m, i, &v);
    FUZZ_REQUIRE(fuzz_status_known(s), "view status %d", (int)s);
    uint64_t elems = 1;
    for (int d = 0; d < ndim; d++) elems *= (uint64_t)shape[d];
    if (s == QLOW_OK) {
        /* The view must address only bytes inside the caller's buffer. */
        size_t es = v.dtype == QLOW_DTYPE_F64 ? 8 : v.dtype == QLOW_DTYPE_F32 || v.dtype == QLOW_DTYPE_I32 ? 4
                    : v.dtype == QLOW_DTYPE_F16 || v.dtype == QLOW_DTYPE_BF16 ? 2 : 1;
        size_t bytes = elems ? (size_t)elems * es : 0;
        const unsigned char *p = (const unsigned char *)v.data;
        if (bytes) {
            FUZZ_REQUIRE(p >= buf && bytes <= size && (size_t)(p - buf) <= size - bytes,
                         "view of %s outside the buffer", name);
            fuzz_touch(p, bytes);
        }
    }
    if (elems <= ((uint64_t)1 << 20) && (dtype == QLOW_DTYPE_F32 || dtype == QLOW_DTYPE_F16 || dtype == QLOW_DTYPE_BF16)) {
        size_t n = (size_t)elems;
        float *dst = (float *)malloc((n ? n : 1) * sizeof(float));
        FUZZ_REQUIRE(dst, "oom");
        FUZZ_REQUIRE(qlow_model_tensor_read_f32(m, i, dst, n) == QLOW_OK, "read_f32 %s", name);
        FUZZ_REQUIRE(qlow_model_tensor_release(m, i) == QLOW_OK, "release %s", name);
        if (n) FUZZ_REQUIRE(qlow_model_tensor_read_f32(m, i, dst, n - 1) == QLOW_E_BUFFER_TOO_SMALL, "short read");
        free(dst);
    }
}

static void fuzz_model_exercise(const uint8_t *data, size_t size, int source)
{
    int (*io_check)(const uint8_t *, size_t) =
        source == QLOW_MODEL_SOURCE_LLAMA2C ? qlow__fuzz_llama2c : qlow__fuzz_safetensors;
    FUZZ_REQUIRE(io_check(data, size) == 0, "io invariant checker for source %d failed", source);
    FUZZ_REQUIRE(qlow__fuzz_model(data, size) == 0, "io invariant checker (detected format) failed");
    fuzz_alloc_state as;
    qlow_allocator a = fuzz_allocator(&as, 0);
    qlow_params *p = NULL;
    if (qlow_params_create(NULL, &p) != QLOW_OK) return;
    FUZZ_REQUIRE(qlow_params_set_int(p, QLOW_PARAM_IO_MODEL_FORMAT, source) == QLOW_OK, "format param");
    unsigned char *buf = fuzz_copy_aligned(data, size);
    qlow_model *m = (qlow_model *)&m;
    qlow_model *const untouched = m;
    qlow_status s = buf ? qlow_model_open_buffer(buf, size, p, &a, &m) : QLOW_E_NO_MEMORY;
    FUZZ_REQUIRE(fuzz_status_known(s), "open status %d", (int)s);
    if (s != QLOW_OK) {
        FUZZ_REQUIRE(m == untouched, "failed open wrote its out-pointer");
    } else {
        int64_t iv;
        double fv;
        for (int32_t k = 0; k <= 16; k++) {
            qlow_status si = qlow_model_get_int(m, k, &iv), sf = qlow_model_get_float(m, k, &fv);
            FUZZ_REQUIRE(fuzz_status_known(si) && fuzz_status_known(sf), "get key %d", (int)k);
        }
        FUZZ_REQUIRE(qlow_model_get_int(m, QLOW_MODEL_SOURCE, &iv) == QLOW_OK && iv == source, "source %lld", (long long)iv);
        size_t count = 0, nmeta = 0;
        FUZZ_REQUIRE(qlow_model_tensor_count(m, &count) == QLOW_OK, "count");
        for (size_t i = 0; i < count; i++) model_check_tensor(m, i, buf, size);
        FUZZ_REQUIRE(qlow_model_tensor_info(m, count, NULL, NULL, NULL, NULL) == QLOW_E_INVALID_ARG, "index past the end");
        FUZZ_REQUIRE(qlow_model_meta_count(m, &nmeta) == QLOW_OK, "meta count");
        for (size_t i = 0; i < nmeta; i++) {
            const char *key = NULL, *value = NULL;
            FUZZ_REQUIRE(qlow_model_meta_get(m, i, &key, &value) == QLOW_OK && key && value, "meta %zu", i);
            fuzz_touch(key, strlen(key) + 1);
            fuzz_touch(value, strlen(value) + 1);
        }
        uint8_t digest[32];
        FUZZ_REQUIRE(qlow_model_sha256(m, digest) == QLOW_OK, "sha256");
        qlow_model_close(m);
    }
    FUZZ_REQUIRE(as.live == 0, "%ld allocations leaked", as.live);
    free(buf);
    qlow_params_destroy(p);
}

#endif
