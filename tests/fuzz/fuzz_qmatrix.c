/* fuzz_qmatrix.c - libFuzzer target: qlow_qmatrix_wrap() / qlow_qmatrix_wrap_static() on arbitrary
 * bytes (a serialized packed matrix, docs/formats.md). Each input is tried as given and once more with
 * both header checksums recomputed, so that mutations reach the geometry and plane validation instead of
 * stopping at QLOW_E_CHECKSUM. Properties: pinned statuses; wrap and wrap_static agree; an accepted image
 * dequantizes to finite values only and re-serializes to exactly the bytes it was opened from; its
 * GEMV/GEMM results are bit-identical on the generic and SIMD paths and for 1 and 3 threads (as
 * documented) and finite; nothing leaks. */
#include "fuzz_common.h"

/* Header offsets (docs/formats.md, "Serialized packed matrix"). */
#define QM_HEADER 128u
#define QM_TOTAL_BYTES 72u
#define QM_PAYLOAD_SUM 80u
#define QM_HEADER_SUM 120u

/* The library's checksum of the image format: hidden, but linked statically into the fuzzer. */
uint64_t qlow__checksum64(const uint8_t *p, size_t n);

static void qmatrix_fix_checksums(unsigned char *img, size_t n)
{
    if (n < QM_HEADER) return;
    uint64_t total = fuzz_get64(img + QM_TOTAL_BYTES);
    if (total < QM_HEADER || total > n) total = n;
    fuzz_put64(img + QM_PAYLOAD_SUM, qlow__checksum64(img + QM_HEADER, (size_t)total - QM_HEADER));
    fuzz_put64(img + QM_HEADER_SUM, qlow__checksum64(img, QM_HEADER_SUM));
}

/* y = W x on the generic path and on the best ISA, and a 2-token GEMM with 3 threads on the AVX-VNNI
 * level: all identical. */
static void qmatrix_products(const qlow_qmatrix *qm, int64_t rows, int64_t cols)
{
    if (rows * cols > ((int64_t)1 << 18)) return;
    float *x = (float *)malloc((size_t)(2 * cols) * sizeof(float));
    float *y[3];
    for (int k = 0; k < 3; k++) y[k] = (float *)malloc((size_t)(2 * rows) * sizeof(float));
    qlow_ctx *ctx[3] = {NULL, NULL, NULL};
    FUZZ_REQUIRE(x && y[0] && y[1] && y[2], "oom");
    for (int64_t j = 0; j < 2 * cols; j++) x[j] = (float)((j * 7919) % 61 - 30) / 16.0f;
    for (int k = 0; k < 3; k++) FUZZ_REQUIRE(qlow_ctx_create(NULL, &ctx[k]) == QLOW_OK, "ctx");
    qlow_ctx_set_int(ctx[0], QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC);
    qlow_ctx_set_int(ctx[2], QLOW_CTX_NUM_THREADS, 3);
    qlow_ctx_set_int(ctx[2], QLOW_CTX_ISA_MAX, QLOW_ISA_AVX2_VNNI); /* the VNNI set, else AVX2's (or generic) */
    for (int act8 = 0; act8 < 2; act8++) {
        qlow_status s[3];
        for (int k = 0; k < 3; k++) {
            int64_t batch = k == 2 ? 2 : 1;
            if (k == 0) {
                s[k] = act8 ? qlow_gemm_act8(ctx[k], qm, x, batch, y[k]) : qlow_gemm(ctx[k], qm, x, batch, y[k]);
                continue;
            }
            /* The other paths get a workspace full of garbage: a kernel that reads scratch it did not
             * prepare gives results that differ from the generic ones (found: narrow B1 act8). */
            size_t wb = 0;
            s[k] = qlow_gemm_workspace_size(qm, batch, act8 ? QLOW_GEMM_ACT8 : 0, &wb);
            void *w = NULL;
            if (s[k] == QLOW_OK) {
                FUZZ_REQUIRE(posix_memalign(&w, 64, wb) == 0, "oom");
                memset(w, 0xa5, wb);
                s[k] = act8 ? qlow_gemm_act8_ws(ctx[k], qm, x, batch, y[k], w, wb)
                            : qlow_gemm_ws(ctx[k], qm, x, batch, y[k], w, wb);
            }
            free(w);
        }
        FUZZ_REQUIRE(s[0] == s[1] && s[1] == s[2], "gemm statuses differ: %d %d %d", (int)s[0], (int)s[1], (int)s[2]);
        FUZZ_REQUIRE(s[0] == QLOW_OK, "gemm of an accepted matrix: %d", (int)s[0]);
        FUZZ_REQUIRE(memcmp(y[0], y[1], (size_t)rows * sizeof(float)) == 0, "act8=%d: generic and SIMD differ", act8);
        FUZZ_REQUIRE(memcmp(y[0], y[2], (size_t)rows * sizeof(float)) == 0, "act8=%d: 3-thread GEMM differs", act8);
        for (int64_t i = 0; i < rows; i++) FUZZ_REQUIRE(y[0][i] - y[0][i] == 0.0f, "non-finite y[%lld]", (long long)i);
    }
    for (int k = 0; k < 3; k++) {
        qlow_ctx_destroy(ctx[k]);
        free(y[k]);
    }
    free(x);
}

static void qmatrix_use(const qlow_qmatrix *qm, const unsigned char *img, size_t n, const qlow_qmatrix *twin)
{
    int32_t format = 0;
    int64_t rows = 0, cols = 0;
    size_t bytes = 0, ser = 0;
    double bpw = 0;
    FUZZ_REQUIRE(qlow_qmatrix_format(qm, &format) == QLOW_OK && qlow_format_name(format) != NULL, "format");
    FUZZ_REQUIRE(qlow_qmatrix_shape(qm, &rows, &cols) == QLOW_OK && rows >= 1 && cols >= 1, "shape");
    FUZZ_REQUIRE(qlow_qmatrix_bytes(qm, &bytes) == QLOW_OK, "bytes");
    FUZZ_REQUIRE(qlow_qmatrix_bits_per_weight(qm, &bpw) == QLOW_OK && bpw > 0 && bpw < 1e12, "bits/weight %g", bpw);
    FUZZ_REQUIRE(qlow_qmatrix_serialized_size(qm, &ser) == QLOW_OK && ser <= n, "serialized size %zu of %zu", ser, n);
    unsigned char *again = (unsigned char *)malloc(ser ? ser : 1);
    FUZZ_REQUIRE(again && qlow_qmatrix_serialize(qm, again, ser) == QLOW_OK, "serialize");
    FUZZ_REQUIRE(memcmp(again, img, ser) == 0, "accepted image does not re-serialize to its own bytes");
    free(again);
    /* Dequantize a bounded number of rows (inputs can declare huge, valid matrices). */
    int64_t max_rows = (int64_t)((1u << 18) / (uint64_t)cols);
    int64_t nr = rows < max_rows ? rows : max_rows;
    if (nr < 1) return;
    size_t count = (size_t)(nr * cols);
    float *out = (float *)malloc(count * sizeof(float));
    float *out2 = (float *)malloc(count * sizeof(float));
    FUZZ_REQUIRE(out && out2, "oom");
    int64_t begin = rows - nr;
    FUZZ_REQUIRE(qlow_qmatrix_dequantize(qm, begin, nr, out, count) == QLOW_OK, "dequantize");
    for (size_t i = 0; i < count; i++)
        FUZZ_REQUIRE(out[i] == out[i] && out[i] - out[i] == 0.0f, "non-finite weight %g at %zu", (double)out[i], i);
    if (twin) {
        FUZZ_REQUIRE(qlow_qmatrix_dequantize(twin, begin, nr, out2, count) == QLOW_OK, "dequantize twin");
        FUZZ_REQUIRE(memcmp(out, out2, count * sizeof(float)) == 0, "wrap and wrap_static disagree");
    }
    FUZZ_REQUIRE(qlow_qmatrix_dequantize(qm, rows, 1, out, count) == QLOW_E_SHAPE, "row range past the end");
    free(out);
    free(out2);
    qmatrix_products(qm, rows, cols);
}

static void qmatrix_try(qlow_ctx *ctx, fuzz_alloc_state *as, const unsigned char *img, size_t n)
{
    long live_before = as->live;
    qlow_qmatrix *qm = (qlow_qmatrix *)&qm;
    qlow_qmatrix *const untouched = qm;
    qlow_status s = qlow_qmatrix_wrap(ctx, img, n, &qm);
    FUZZ_REQUIRE(fuzz_status_known(s) && s != QLOW_E_NO_MEMORY, "wrap status %d", (int)s);
    if (s != QLOW_OK) FUZZ_REQUIRE(qm == untouched, "failed wrap wrote its out-pointer");

    size_t hb = 0;
    qlow_status s2 = qlow_qmatrix_wrap_size(img, n, &hb);
    FUZZ_REQUIRE(s2 == s, "wrap_size status %d, wrap %d", (int)s2, (int)s);
    qlow_qmatrix *sq = NULL;
    void *mem = NULL;
    if (s2 == QLOW_OK) {
        FUZZ_REQUIRE(hb > 0 && hb < ((size_t)64 << 20), "handle bytes %zu", hb);
        FUZZ_REQUIRE(posix_memalign(&mem, 64, hb) == 0, "oom");
        qlow_status s3 = qlow_qmatrix_wrap_static(mem, hb - 1, img, n, &sq);
        FUZZ_REQUIRE(s3 == QLOW_E_WORKSPACE_TOO_SMALL && sq == NULL, "wrap_static one byte short: %d", (int)s3);
        s3 = qlow_qmatrix_wrap_static(mem, hb, img, n, &sq);
        FUZZ_REQUIRE(s3 == QLOW_OK && sq != NULL, "wrap_static status %d", (int)s3);
    }
    if (s == QLOW_OK) qmatrix_use(qm, img, n, sq);
    qlow_qmatrix_destroy(sq);
    free(mem);
    if (s == QLOW_OK) qlow_qmatrix_destroy(qm);
    FUZZ_REQUIRE(as->live == live_before, "%ld allocations leaked", as->live - live_before);
}

static int fuzz_qmatrix(const uint8_t *data, size_t size)
{
    fuzz_alloc_state as;
    qlow_allocator a = fuzz_allocator(&as, 0);
    qlow_ctx *ctx = NULL;
    if (qlow_ctx_create(&a, &ctx) != QLOW_OK) return 0;
    unsigned char *img = fuzz_copy_aligned(data, size);
    if (img) {
        qmatrix_try(ctx, &as, img, size);
        if (size >= QM_HEADER) {
            qmatrix_fix_checksums(img, size);
            qmatrix_try(ctx, &as, img, size);
        }
        if (size > 8) { /* misaligned and truncated by one */
            qlow_qmatrix *qm = NULL;
            FUZZ_REQUIRE(qlow_qmatrix_wrap(ctx, img + 1, size - 1, &qm) == QLOW_E_ALIGNMENT && !qm, "misaligned");
            qlow_status s = qlow_qmatrix_wrap(ctx, img, size - 1, &qm);
            if (s == QLOW_OK) qlow_qmatrix_destroy(qm);
        }
        free(img);
    }
    qlow_ctx_destroy(ctx);
    FUZZ_REQUIRE(as.live == 0, "%ld allocations leaked", as.live);
    return 0;
}

#ifndef QLOW_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_qmatrix(data, size); }
#endif
