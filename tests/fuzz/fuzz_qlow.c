/* fuzz_qlow.c - libFuzzer target: the .qlow container reader (qlow_qfile_open_buffer) on arbitrary
 * bytes. Each input is opened as given (with tensor checksums verified) and once more after
 * recomputing the preamble, directory and footer CRCs and the file size (tensor checksums not verified),
 * so that mutations reach the directory parser. An accepted file must hand out only memory inside the
 * buffer: every tensor's data and dense view, every name, key and value are read in full (ASan checks
 * the ranges); lookups by name find their entries; packed tensors wrap as qmatrices or are rejected
 * with a status, and after a verifying open they match their directory entry; nothing leaks. */
#include "fuzz_common.h"

/* Container layout (docs/format.md). */
#define QF_PREAMBLE 64u
#define QF_FOOTER 64u
#define QF_P_CRC 60u
#define QF_F_DIRCRC 20u
#define QF_F_DIROFF 24u
#define QF_F_DIRBYTES 32u
#define QF_F_FILEBYTES 40u
#define QF_F_CRC 60u

uint32_t qlow__crc32c_update(uint32_t crc, const void *data, size_t size);
/* The io subsystem's own invariant checker (src/io/fuzz_entry.c), run on every input as well. */
int qlow__fuzz_qfile(const uint8_t *data, size_t size);

static void qlow_fix_checksums(unsigned char *d, size_t n)
{
    if (n < QF_PREAMBLE + QF_FOOTER) return;
    fuzz_put32(d + QF_P_CRC, qlow__crc32c_update(0, d, QF_P_CRC));
    unsigned char *ft = d + n - QF_FOOTER;
    fuzz_put64(ft + QF_F_FILEBYTES, n);
    uint64_t dir_off = fuzz_get64(ft + QF_F_DIROFF);
    if (dir_off <= n - QF_FOOTER) {
        fuzz_put64(ft + QF_F_DIRBYTES, n - QF_FOOTER - dir_off);
        fuzz_put32(ft + QF_F_DIRCRC, qlow__crc32c_update(0, d + dir_off, (size_t)(n - QF_FOOTER - dir_off)));
    }
    fuzz_put32(ft + QF_F_CRC, qlow__crc32c_update(0, ft, QF_F_CRC));
}

static int qlow_inside(const void *p, size_t len, const unsigned char *buf, size_t n)
{
    const unsigned char *c = (const unsigned char *)p;
    return len == 0 || (c >= buf && len <= n && (size_t)(c - buf) <= n - len);
}

static void qlow_check_tensor(const qlow_qfile *f, size_t i, const unsigned char *buf, size_t n, qlow_ctx *ctx,
                              int verified)
{
    const char *name = NULL;
    int32_t kind = 0, type = 0, bits = 0, ndim = 0;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    FUZZ_REQUIRE(qlow_qfile_tensor_info(f, i, &name, &kind, &type, &bits, &ndim, shape) == QLOW_OK && name, "info");
    /* Kinds >= 3 are reserved for 1.x extensions: listed, but refused as views and matrices. */
    FUZZ_REQUIRE(kind >= 1, "kind %d", (int)kind);
    FUZZ_REQUIRE(ndim >= 1 && ndim <= QLOW_VIEW_MAX_DIMS, "ndim %d", (int)ndim);
    size_t nl = strlen(name);
    fuzz_touch(name, nl + 1);
    size_t idx = (size_t)-1;
    FUZZ_REQUIRE(qlow_qfile_tensor_find(f, name, &idx) == QLOW_OK && idx == i, "find(%s) = %zu, want %zu", name, idx, i);
    const void *data = NULL;
    size_t size = 0;
    FUZZ_REQUIRE(qlow_qfile_tensor_data(f, i, &data, &size) == QLOW_OK, "data");
    FUZZ_REQUIRE(qlow_inside(data, size, buf, n), "tensor %s data outside the buffer", name);
    fuzz_touch(data, size);
    qlow_status vs = qlow_qfile_tensor_verify(f, i);
    FUZZ_REQUIRE(vs == QLOW_OK || vs == QLOW_E_CHECKSUM, "verify %d", (int)vs);
    qlow_view v;
    qlow_status s = qlow_qfile_tensor_view(f, i, &v);
    qlow_qmatrix *fq = (qlow_qmatrix *)&fq;
    qlow_qmatrix *const fq_untouched = fq;
    qlow_status fs = qlow_qfile_tensor_qmatrix(f, i, ctx, &fq);
    FUZZ_REQUIRE(fuzz_status_known(fs) && fs != QLOW_E_NO_MEMORY, "tensor_qmatrix %d", (int)fs);
    if (fs != QLOW_OK) FUZZ_REQUIRE(fq == fq_untouched, "failed tensor_qmatrix wrote its out-pointer");
    if (kind != QLOW_QFILE_PACKED) FUZZ_REQUIRE(fs != QLOW_OK, "tensor_qmatrix of a kind-%d tensor succeeded", (int)kind);
    if (fs == QLOW_OK) {
        int64_t r = 0, c = 0;
        int32_t fmt = 0;
        FUZZ_REQUIRE(qlow_qmatrix_shape(fq, &r, &c) == QLOW_OK && qlow_qmatrix_format(fq, &fmt) == QLOW_OK, "shape");
        FUZZ_REQUIRE(r == shape[0] && c == shape[1] && fmt == type, "tensor_qmatrix %s disagrees with its directory", name);
        float row[64];
        if (c <= 64) FUZZ_REQUIRE(qlow_qmatrix_dequantize(fq, r - 1, 1, row, 64) == QLOW_OK, "dequantize last row");
        qlow_qmatrix_destroy(fq);
    }
    if (kind == QLOW_QFILE_PACKED) {
        FUZZ_REQUIRE(s == QLOW_E_DTYPE, "view of a packed tensor: %d", (int)s);
        unsigned char *img = fuzz_copy_aligned((const uint8_t *)data, size);
        qlow_qmatrix *qm = NULL;
        qlow_status ws = img ? qlow_qmatrix_wrap(ctx, img, size, &qm) : QLOW_E_NO_MEMORY;
        FUZZ_REQUIRE(fuzz_status_known(ws), "wrap %d", (int)ws);
        if (ws == QLOW_OK) {
            int64_t r = 0, c = 0;
            int32_t fmt = 0;
            FUZZ_REQUIRE(qlow_qmatrix_shape(qm, &r, &c) == QLOW_OK && qlow_qmatrix_format(qm, &fmt) == QLOW_OK, "shape");
            /* An open with QLOW_PARAM_IO_VERIFY checks each image against its directory entry. */
            if (verified)
                FUZZ_REQUIRE(r == shape[0] && c == shape[1] && fmt == type,
                             "packed %s: directory says %lldx%lld format %d, image %lldx%lld format %d", name,
                             (long long)shape[0], (long long)shape[1], (int)type, (long long)r, (long long)c, (int)fmt);
            qlow_qmatrix_destroy(qm);
        }
        free(img);
        return;
    }
    if (kind != QLOW_QFILE_DENSE) {
        FUZZ_REQUIRE(s != QLOW_OK, "view of a kind-%d tensor succeeded", (int)kind);
        return;
    }
    FUZZ_REQUIRE(s == QLOW_OK || s == QLOW_E_ALIGNMENT, "dense view %d", (int)s);
    if (s == QLOW_OK) {
        size_t es = v.dtype == QLOW_DTYPE_F64 ? 8 : v.dtype == QLOW_DTYPE_F32 || v.dtype == QLOW_DTYPE_I32 ? 4
                    : v.dtype == QLOW_DTYPE_F16 || v.dtype == QLOW_DTYPE_BF16 ? 2 : 1;
        size_t bytes = es;
        for (int d = 0; d < v.ndim; d++) bytes *= (size_t)v.shape[d];
        FUZZ_REQUIRE(bytes <= size && qlow_inside(v.data, bytes, buf, n), "dense view %s outside its data", name);
        fuzz_touch(v.data, bytes);
    }
}

static void qlow_try(const unsigned char *buf, size_t n, int verify, qlow_ctx *ctx)
{
    fuzz_alloc_state as;
    qlow_allocator a = fuzz_allocator(&as, 0);
    qlow_params *p = NULL;
    if (qlow_params_create(NULL, &p) != QLOW_OK) return;
    FUZZ_REQUIRE(qlow_params_set_int(p, QLOW_PARAM_IO_VERIFY, verify) == QLOW_OK, "verify param");
    qlow_qfile *f = (qlow_qfile *)&f;
    qlow_qfile *const untouched = f;
    qlow_status s = qlow_qfile_open_buffer(buf, n, p, &a, &f);
    FUZZ_REQUIRE(fuzz_status_known(s), "open status %d", (int)s);
    if (s != QLOW_OK) {
        FUZZ_REQUIRE(f == untouched, "failed open wrote its out-pointer");
    } else {
        size_t nt = 0, nm = 0;
        FUZZ_REQUIRE(qlow_qfile_tensor_count(f, &nt) == QLOW_OK, "count");
        for (size_t i = 0; i < nt; i++) qlow_check_tensor(f, i, buf, n, ctx, verify);
        FUZZ_REQUIRE(qlow_qfile_tensor_info(f, nt, NULL, NULL, NULL, NULL, NULL, NULL) != QLOW_OK, "index past the end");
        FUZZ_REQUIRE(qlow_qfile_meta_count(f, &nm) == QLOW_OK, "meta count");
        for (size_t i = 0; i < nm; i++) {
            const char *key = NULL;
            int32_t type = 0;
            const void *val = NULL;
            size_t vlen = 0, idx = (size_t)-1;
            FUZZ_REQUIRE(qlow_qfile_meta_info(f, i, &key, &type, &val, &vlen) == QLOW_OK && key, "meta %zu", i);
            fuzz_touch(key, strlen(key) + 1);
            FUZZ_REQUIRE(qlow_inside(val, vlen, buf, n), "meta value outside the buffer");
            fuzz_touch(val, vlen);
            FUZZ_REQUIRE(qlow_qfile_meta_find(f, key, &idx) == QLOW_OK && idx == i, "meta find(%s)", key);
            const char *sv = NULL;
            int64_t iv = 0;
            double dv = 0;
            qlow_status gs = qlow_qfile_meta_get_string(f, key, &sv), gi = qlow_qfile_meta_get_int(f, key, &iv),
                        gf = qlow_qfile_meta_get_float(f, key, &dv);
            FUZZ_REQUIRE((gs == QLOW_OK) == (type == QLOW_META_STRING) && (gi == QLOW_OK) == (type == QLOW_META_INT) &&
                             (gf == QLOW_OK) == (type == QLOW_META_FLOAT),
                         "typed getters disagree with type %d", (int)type);
            if (sv) fuzz_touch(sv, strlen(sv) + 1);
        }
        qlow_qfile_close(f);
    }
    FUZZ_REQUIRE(as.live == 0, "%ld allocations leaked", as.live);
    qlow_params_destroy(p);
}

static int fuzz_qlow(const uint8_t *data, size_t size)
{
    qlow_ctx *ctx = NULL;
    if (qlow_ctx_create(NULL, &ctx) != QLOW_OK) return 0;
    FUZZ_REQUIRE(qlow__fuzz_qfile(data, size) == 0, "io invariant checker qlow__fuzz_qfile failed");
    unsigned char *buf = fuzz_copy_aligned(data, size);
    if (buf) {
        qlow_try(buf, size, 1, ctx);
        if (size >= QF_PREAMBLE + QF_FOOTER) {
            qlow_fix_checksums(buf, size);
            qlow_try(buf, size, 0, ctx);
        }
        free(buf);
    }
    qlow_ctx_destroy(ctx);
    return 0;
}

#ifndef QLOW_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_qlow(data, size); }
#endif
