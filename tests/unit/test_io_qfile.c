/* test_io_qfile.c - the .qlow container: bit-exact round trips through every sink and every open path,
 * byte-identical output across sinks, alignment, metadata of every type, every single-bit corruption
 * detected, every truncation rejected, crafted hostile directories, writer misuse, allocation failure,
 * and the CRC-32C / SHA-256 test vectors. */
#include "qtest.h"
#include "io_testutil.h"
#include "io/io_internal.h"
#include "io/io_fuzz.h"

static void test_vectors(void)
{
    QT_CHECK(qlow__crc32c_update(0, "123456789", 9) == 0xE3069283u, "crc32c check value");
    uint32_t c = qlow__crc32c_update(0, "1234", 4);
    QT_CHECK(qlow__crc32c_update(c, "56789", 5) == 0xE3069283u, "crc32c streaming");
    unsigned char zeros[32] = {0};
    QT_CHECK(qlow__crc32c_update(0, zeros, 32) == 0x8A9136AAu, "crc32c of 32 zero bytes (RFC 3720)");
    static const struct {
        const char *msg;
        const char *hex;
    } sha[] = {{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
               {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
               {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"}};
    for (size_t i = 0; i < sizeof sha / sizeof sha[0]; i++) {
        qlow__sha256 s;
        unsigned char d[32];
        char hex[65];
        qlow__sha256_init(&s);
        /* Feed byte by byte to exercise the buffering. */
        for (size_t k = 0; sha[i].msg[k]; k++) qlow__sha256_update(&s, sha[i].msg + k, 1);
        qlow__sha256_final(&s, d);
        for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
        QT_CHECK(strcmp(hex, sha[i].hex) == 0, "sha256 vector %zu: %s", i, hex);
    }
    /* One million 'a' (FIPS 180-2 appendix B.3). */
    qlow__sha256 s;
    unsigned char d[32], chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    qlow__sha256_init(&s);
    for (int i = 0; i < 1000; i++) qlow__sha256_update(&s, chunk, sizeof chunk);
    qlow__sha256_final(&s, d);
    QT_CHECK(d[0] == 0xcd && d[1] == 0xc7 && d[31] == 0xd0, "sha256 of a million a");
}

/* ---- the content written in every round trip ---- */
#define R 13
#define C 37
static float w32[R * C], w3d[2 * 3 * 5];
static uint16_t w16[R * C];
static unsigned char packed[777];
static qlow_ctx *ctx;
static qlow_qmatrix *qm4, *qmb; /* real packed matrices: RTN 4-bit 24x64 and binary 5x40 */
static unsigned char *img_b;
static size_t img_b_size;

static qlow_qmatrix *quantize(int scheme, int rows, int cols)
{
    float *w = (float *)malloc(sizeof(float) * (size_t)(rows * cols));
    for (int i = 0; i < rows * cols; i++) w[i] = (float)qt_rand_normal();
    qlow_params *p = NULL;
    qlow_params_create(NULL, &p);
    qlow_params_set_int(p, QLOW_P_SCHEME, scheme);
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, w);
    qlow_qmatrix *qm = NULL;
    QT_CHECK_OK(qlow_quantize(ctx, p, &v, NULL, &qm));
    qlow_params_destroy(p);
    free(w);
    return qm;
}

static void make_content(void)
{
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    qm4 = quantize(QLOW_SCHEME_RTN, 24, 64);
    qmb = quantize(QLOW_SCHEME_BINARY, 5, 40);
    QT_CHECK_OK(qlow_qmatrix_serialized_size(qmb, &img_b_size));
    img_b = (unsigned char *)aligned_alloc(64, (img_b_size + 63) / 64 * 64);
    QT_CHECK_OK(qlow_qmatrix_serialize(qmb, img_b, img_b_size));
    for (int i = 0; i < R * C; i++) {
        w32[i] = (float)qt_rand_normal();
        w16[i] = qlow_fp32_to_fp16((float)qt_rand_normal());
    }
    w32[5] = NAN; /* stored bit-exactly, not judged */
    for (int i = 0; i < 30; i++) w3d[i] = (float)i - 7.5f;
    for (size_t i = 0; i < sizeof packed; i++) packed[i] = (unsigned char)qt_rand_u64();
}

static qlow_status write_all(qlow_qfile_writer *w, int with_model)
{
    qlow_view v;
    QLOW_TRY(qlow_view_init_2d(&v, QLOW_DTYPE_F32, R, C, w32));
    QLOW_TRY(qlow_qfile_writer_add_dense(w, "layers.0.attention_norm", &v));
    QLOW_TRY(qlow_qfile_writer_add_qmatrix(w, "layers.0.attention.wq", qm4));
    /* A strided view: every second column of w32 (stored contiguous). */
    QLOW_TRY(qlow_view_init_2d(&v, QLOW_DTYPE_F32, R, (C + 1) / 2, w32));
    v.stride_bytes[0] = C * 4;
    v.stride_bytes[1] = 8;
    QLOW_TRY(qlow_qfile_writer_add_dense(w, "strided", &v));
    QLOW_TRY(qlow_view_init_2d(&v, QLOW_DTYPE_F16, R, C, w16));
    QLOW_TRY(qlow_qfile_writer_add_dense(w, "half", &v));
    int64_t shape3[3] = {2, 3, 5};
    QLOW_TRY(qlow_view_init(&v, QLOW_DTYPE_F32, 3, shape3, w3d));
    QLOW_TRY(qlow_qfile_writer_add_dense(w, "cube", &v));
    QLOW_TRY(qlow_view_init_2d(&v, QLOW_DTYPE_F32, 0, 4, NULL));
    QLOW_TRY(qlow_qfile_writer_add_dense(w, "empty", &v));
    QLOW_TRY(qlow_qfile_writer_add_packed(w, "layers.0.attention.wk", QLOW_FORMAT_B1, 1, 5, 40, img_b, img_b_size));
    QLOW_TRY(qlow_qfile_writer_set_string(w, "qlow.method", "rtn"));
    QLOW_TRY(qlow_qfile_writer_set_int(w, "qlow.bits", -4));
    QLOW_TRY(qlow_qfile_writer_set_float(w, "qlow.budget", 2.5));
    QLOW_TRY(qlow_qfile_writer_set_bytes(w, "blob", packed, 5));
    if (with_model) {
        qlow_model *m = NULL;
        char path[512];
        QLOW_TRY(qlow_model_open(qt_path("data/stories260K.bin", path, sizeof path), NULL, NULL, &m));
        qlow_status st = qlow_qfile_writer_set_model(w, m);
        qlow_model_close(m);
        QLOW_TRY(st);
    }
    return qlow_qfile_writer_finish(w);
}

static void check_file(const qlow_qfile *f, const unsigned char *base, int with_model, size_t align)
{
    size_t n = 0, idx;
    QT_CHECK_OK(qlow_qfile_tensor_count(f, &n));
    QT_CHECK(n == 7, "tensor count %zu", n);
    qlow_view v;
    const char *name;
    int32_t kind, type, bits, ndim;
    int64_t shape[4];
    QT_CHECK_OK(qlow_qfile_tensor_find(f, "layers.0.attention_norm", &idx));
    QT_CHECK(idx == 0, "first tensor index");
    QT_CHECK_OK(qlow_qfile_tensor_view(f, idx, &v));
    QT_CHECK(v.dtype == QLOW_DTYPE_F32 && v.shape[0] == R && v.shape[1] == C && memcmp(v.data, w32, sizeof w32) == 0,
             "dense f32 bit-exact");
    QT_CHECK(((size_t)((const unsigned char *)v.data - base)) % align == 0, "data aligned to %zu", align);
    const void *p;
    size_t bytes;
    QT_CHECK_OK(qlow_qfile_tensor_find(f, "layers.0.attention.wq", &idx));
    QT_CHECK_OK(qlow_qfile_tensor_info(f, idx, &name, &kind, &type, &bits, &ndim, shape));
    QT_CHECK(kind == QLOW_QFILE_PACKED && type == QLOW_FORMAT_Q4 && bits == 4 && ndim == 2 && shape[0] == 24 &&
                 shape[1] == 64 && strcmp(name, "layers.0.attention.wq") == 0,
             "packed info");
    QT_CHECK_OK(qlow_qfile_tensor_data(f, idx, &p, &bytes));
    size_t img4 = 0;
    qlow_qmatrix_serialized_size(qm4, &img4);
    unsigned char *want = (unsigned char *)aligned_alloc(64, (img4 + 63) / 64 * 64);
    qlow_qmatrix_serialize(qm4, want, img4);
    QT_CHECK(bytes == img4 && memcmp(p, want, bytes) == 0, "packed bytes = serialized qmatrix");
    free(want);
    QT_CHECK(((size_t)((const unsigned char *)p - base)) % align == 0, "packed aligned");
    QT_CHECK_STATUS(qlow_qfile_tensor_view(f, idx, &v), QLOW_E_DTYPE);
    /* Zero-copy wrap: the same weights as the original matrix, bit for bit. */
    for (int which = 0; which < 2; which++) {
        qlow_qmatrix *orig = which ? qmb : qm4, *got = NULL;
        QT_CHECK_OK(qlow_qfile_tensor_find(f, which ? "layers.0.attention.wk" : "layers.0.attention.wq", &idx));
        QT_CHECK_OK(qlow_qfile_tensor_qmatrix(f, idx, ctx, &got));
        if (!got) continue;
        int64_t rows, cols;
        qlow_qmatrix_shape(orig, &rows, &cols);
        float *a = (float *)malloc(sizeof(float) * (size_t)(rows * cols));
        float *b = (float *)malloc(sizeof(float) * (size_t)(rows * cols));
        QT_CHECK_OK(qlow_qmatrix_dequantize(orig, 0, rows, a, (size_t)(rows * cols)));
        QT_CHECK_OK(qlow_qmatrix_dequantize(got, 0, rows, b, (size_t)(rows * cols)));
        QT_CHECK(memcmp(a, b, sizeof(float) * (size_t)(rows * cols)) == 0, "wrapped qmatrix %d bit-exact", which);
        free(a);
        free(b);
        qlow_qmatrix_destroy(got);
    }
    QT_CHECK_OK(qlow_qfile_tensor_find(f, "layers.0.attention.wk", &idx));
    QT_CHECK_OK(qlow_qfile_tensor_info(f, idx, NULL, &kind, &type, &bits, NULL, shape));
    QT_CHECK(kind == QLOW_QFILE_PACKED && type == QLOW_FORMAT_B1 && bits == 1 && shape[1] == 40, "binary info");
    qlow_qmatrix *none = NULL;
    QT_CHECK_STATUS(qlow_qfile_tensor_qmatrix(f, 0, ctx, &none), QLOW_E_DTYPE);
    QT_CHECK_OK(qlow_qfile_tensor_find(f, "strided", &idx));
    QT_CHECK_OK(qlow_qfile_tensor_view(f, idx, &v));
    int ok = v.shape[1] == (C + 1) / 2;
    for (int r = 0; ok && r < R; r++)
        for (int c = 0; c < (C + 1) / 2; c++)
            ok &= memcmp(&((const float *)v.data)[r * ((C + 1) / 2) + c], &w32[r * C + 2 * c], 4) == 0;
    QT_CHECK(ok, "strided view stored contiguous");
    QT_CHECK_OK(qlow_qfile_tensor_find(f, "half", &idx));
    QT_CHECK_OK(qlow_qfile_tensor_view(f, idx, &v));
    QT_CHECK(v.dtype == QLOW_DTYPE_F16 && memcmp(v.data, w16, sizeof w16) == 0, "f16 tensor");
    QT_CHECK_OK(qlow_qfile_tensor_find(f, "cube", &idx));
    QT_CHECK_OK(qlow_qfile_tensor_info(f, idx, NULL, NULL, NULL, NULL, &ndim, shape));
    QT_CHECK(ndim == 3 && shape[0] == 2 && shape[1] == 3 && shape[2] == 5 && shape[3] == 1, "3-d shape");
    QT_CHECK_OK(qlow_qfile_tensor_find(f, "empty", &idx));
    QT_CHECK_OK(qlow_qfile_tensor_data(f, idx, &p, &bytes));
    QT_CHECK(bytes == 0, "empty tensor");
    QT_CHECK_STATUS(qlow_qfile_tensor_find(f, "nope", &idx), QLOW_E_NOT_FOUND);
    QT_CHECK_STATUS(qlow_qfile_tensor_info(f, 7, NULL, NULL, NULL, NULL, NULL, NULL), QLOW_E_INVALID_ARG);
    for (size_t i = 0; i < n; i++) QT_CHECK_OK(qlow_qfile_tensor_verify(f, i));

    const char *s;
    int64_t iv;
    double fv;
    QT_CHECK_OK(qlow_qfile_meta_get_string(f, "qlow.method", &s));
    QT_CHECK(strcmp(s, "rtn") == 0, "string meta");
    QT_CHECK_OK(qlow_qfile_meta_get_int(f, "qlow.bits", &iv));
    QT_CHECK(iv == -4, "int meta");
    QT_CHECK_OK(qlow_qfile_meta_get_float(f, "qlow.budget", &fv));
    QT_CHECK(fv == 2.5, "float meta");
    QT_CHECK_STATUS(qlow_qfile_meta_get_int(f, "qlow.method", &iv), QLOW_E_DTYPE);
    QT_CHECK_STATUS(qlow_qfile_meta_get_int(f, "missing", &iv), QLOW_E_NOT_FOUND);
    QT_CHECK_OK(qlow_qfile_meta_find(f, "blob", &idx));
    int32_t mt;
    QT_CHECK_OK(qlow_qfile_meta_info(f, idx, NULL, &mt, &p, &bytes));
    QT_CHECK(mt == QLOW_META_BYTES && bytes == 5 && memcmp(p, packed, 5) == 0, "bytes meta");
    if (with_model) {
        QT_CHECK_OK(qlow_qfile_meta_get_int(f, "model.n_kv_heads", &iv));
        QT_CHECK(iv == 4, "model.n_kv_heads");
        QT_CHECK_OK(qlow_qfile_meta_get_float(f, "model.norm_eps", &fv));
        QT_CHECK(fv == 1e-5, "model.norm_eps");
        QT_CHECK_OK(qlow_qfile_meta_find(f, "source.sha256", &idx));
        QT_CHECK_OK(qlow_qfile_meta_info(f, idx, NULL, &mt, &p, &bytes));
        QT_CHECK(bytes == 32 && ((const unsigned char *)p)[0] == 0xb0 && ((const unsigned char *)p)[31] == 0x96,
                 "source hash = sha256 of stories260K.bin");
    }
}

typedef struct membuf {
    unsigned char *p;
    size_t n, cap;
    int fail_after;
} membuf;

static int mem_write(void *user, const void *data, size_t size)
{
    membuf *m = (membuf *)user;
    if (m->fail_after >= 0 && m->n + size > (size_t)m->fail_after) return 1;
    if (m->n + size > m->cap) {
        m->cap = (m->n + size) * 2;
        m->p = (unsigned char *)realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, data, size);
    m->n += size;
    return 0;
}

/* Recompute the directory and footer checksums after a deliberate edit of a directory field. */
static void reseal(unsigned char *f, size_t size)
{
    unsigned char *ft = f + size - 64;
    uint64_t dir_off = qlow__ld64(ft + 24), dir_bytes = qlow__ld64(ft + 32);
    if (dir_off <= size - 64 && dir_bytes <= size - 64 - dir_off)
        qlow__st32(ft + 20, qlow__crc32c_update(0, f + dir_off, (size_t)dir_bytes));
    qlow__st32(ft + 60, qlow__crc32c_update(0, ft, 60));
    qlow__st32(f + 60, qlow__crc32c_update(0, f, 60));
}

static void test_roundtrip(void)
{
    char path[512];
    snprintf(path, sizeof path, "/tmp/qlow_test_io_%ld.qlow", (long)qt_rand_u64() % 100000);
    qlow_qfile_writer *w = NULL;
    QT_CHECK_OK(qlow_qfile_writer_open(path, NULL, NULL, &w));
    QT_CHECK_OK(write_all(w, 1));
    uint64_t written = 0;
    QT_CHECK_OK(qlow_qfile_writer_bytes(w, &written));
    QT_CHECK_STATUS(qlow_qfile_writer_finish(w), QLOW_E_STATE);
    qlow_qfile_writer_destroy(w);
    size_t size = 0;
    unsigned char *bytes = io_read_path(path, &size);
    QT_CHECK(bytes && size == written && size % 8 == 0, "file size %zu", size);
    if (!bytes) return;
    printf("INFO .qlow test file: %zu bytes, 7 tensors, 17 metadata entries\n", size);

    qlow_qfile *f = NULL;
    QT_CHECK_OK(qlow_qfile_open(path, NULL, NULL, &f));
    if (f) {
        const void *p0;
        size_t b0;
        qlow_qfile_tensor_data(f, 0, &p0, &b0);
        check_file(f, (const unsigned char *)p0 - 64, 1, 64);
        qlow_qfile_close(f);
    }
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PARAM_IO_USE_MMAP, 0));
    f = NULL;
    QT_CHECK_OK(qlow_qfile_open(path, p, NULL, &f));
    qlow_qfile_close(f);
    f = NULL;
    QT_CHECK_OK(qlow_qfile_open_buffer(bytes, size, NULL, NULL, &f));
    if (f) {
        check_file(f, bytes, 1, 64);
        qlow_qfile_close(f);
    }

    /* The callback and buffer sinks produce the very same bytes (deterministic output). */
    membuf mb = {NULL, 0, 0, -1};
    QT_CHECK_OK(qlow_qfile_writer_open_callback(mem_write, &mb, NULL, NULL, &w));
    QT_CHECK_OK(write_all(w, 1));
    qlow_qfile_writer_destroy(w);
    QT_CHECK(mb.n == size && memcmp(mb.p, bytes, size) == 0, "callback sink identical");
    unsigned char *buf = (unsigned char *)malloc(size);
    QT_CHECK_OK(qlow_qfile_writer_open_buffer(buf, size, NULL, NULL, &w));
    QT_CHECK_OK(write_all(w, 1));
    qlow_qfile_writer_destroy(w);
    QT_CHECK(memcmp(buf, bytes, size) == 0, "buffer sink identical");
    QT_CHECK_OK(qlow_qfile_writer_open_buffer(buf, size - 1, NULL, NULL, &w));
    QT_CHECK_STATUS(write_all(w, 1), QLOW_E_BUFFER_TOO_SMALL);
    QT_CHECK_STATUS(qlow_qfile_writer_set_int(w, "late", 1), QLOW_E_STATE);
    qlow_qfile_writer_destroy(w);
    membuf bad = {NULL, 0, 0, 3000};
    QT_CHECK_OK(qlow_qfile_writer_open_callback(mem_write, &bad, NULL, NULL, &w));
    QT_CHECK_STATUS(write_all(w, 0), QLOW_E_CALLBACK);
    qlow_qfile_writer_destroy(w);
    free(bad.p);

    /* Page alignment: data offsets are multiples of 4096. */
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PARAM_IO_ALIGNMENT, 4096));
    mb.n = 0;
    QT_CHECK_OK(qlow_qfile_writer_open_callback(mem_write, &mb, p, NULL, &w));
    QT_CHECK_OK(write_all(w, 0));
    qlow_qfile_writer_destroy(w);
    unsigned char *aligned = (unsigned char *)aligned_alloc(4096, (mb.n + 4095) / 4096 * 4096);
    memcpy(aligned, mb.p, mb.n);
    f = NULL;
    QT_CHECK_OK(qlow_qfile_open_buffer(aligned, mb.n, NULL, NULL, &f));
    if (f) {
        check_file(f, aligned, 0, 4096);
        qlow_qfile_close(f);
    }
    free(aligned);
    QT_CHECK_STATUS(qlow_params_set_int(p, QLOW_PARAM_IO_ALIGNMENT, 32), QLOW_E_PARAM);
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PARAM_IO_ALIGNMENT, 100));
    QT_CHECK_STATUS(qlow_qfile_writer_open_callback(mem_write, &mb, p, NULL, &w), QLOW_E_PARAM);
    qlow_params_destroy(p);

    /* An empty container is valid: preamble, padding, empty directory, footer. */
    mb.n = 0;
    QT_CHECK_OK(qlow_qfile_writer_open_callback(mem_write, &mb, NULL, NULL, &w));
    QT_CHECK_OK(qlow_qfile_writer_finish(w));
    qlow_qfile_writer_destroy(w);
    QT_CHECK(mb.n == 64 + 64, "empty file is %zu bytes", mb.n);
    f = NULL;
    QT_CHECK_OK(qlow_qfile_open_buffer(mb.p, mb.n, NULL, NULL, &f));
    size_t zero = 1, zm = 1;
    qlow_qfile_tensor_count(f, &zero);
    qlow_qfile_meta_count(f, &zm);
    QT_CHECK(zero == 0 && zm == 0, "empty file lists nothing");
    qlow_qfile_close(f);

    /* Writer misuse. */
    mb.n = 0;
    QT_CHECK_OK(qlow_qfile_writer_open_callback(mem_write, &mb, NULL, NULL, &w));
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, 2, 2, w32);
    QT_CHECK_OK(qlow_qfile_writer_add_dense(w, "a", &v));
    QT_CHECK_STATUS(qlow_qfile_writer_add_dense(w, "a", &v), QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_qfile_writer_add_dense(w, "", &v), QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_qfile_writer_add_packed(w, "p", QLOW_FORMAT_Q4, 4, 0, 3, packed, 3), QLOW_E_SHAPE);
    /* Packed bytes must be a valid image of the stated format and shape. */
    unsigned char *junk = (unsigned char *)aligned_alloc(64, 832);
    memcpy(junk, packed, sizeof packed);
    qlow_status js = qlow_qfile_writer_add_packed(w, "p", QLOW_FORMAT_Q4, 4, 24, 64, junk, sizeof packed);
    QT_CHECK(js == QLOW_E_FORMAT || js == QLOW_E_CHECKSUM || js == QLOW_E_VERSION_MISMATCH || js == QLOW_E_TRUNCATED,
             "random bytes as an image -> %d", (int)js);
    free(junk);
    QT_CHECK_STATUS(qlow_qfile_writer_add_packed(w, "p", QLOW_FORMAT_B1, 1, 5, 41, img_b, img_b_size), QLOW_E_FORMAT);
    QT_CHECK_STATUS(qlow_qfile_writer_add_packed(w, "p", QLOW_FORMAT_Q4, 1, 5, 40, img_b, img_b_size), QLOW_E_FORMAT);
    QT_CHECK_STATUS(qlow_qfile_writer_add_packed(w, "p", QLOW_FORMAT_B1, 1, 5, 40, img_b + 4, img_b_size - 4),
                    QLOW_E_ALIGNMENT);
    QT_CHECK_OK(qlow_qfile_writer_set_int(w, "k", 1));
    QT_CHECK_STATUS(qlow_qfile_writer_set_float(w, "k", 1.0), QLOW_E_INVALID_ARG);
    v.struct_size = 3;
    QT_CHECK_STATUS(qlow_qfile_writer_add_dense(w, "b", &v), QLOW_E_STRUCT_SIZE);
    QT_CHECK_OK(qlow_qfile_writer_finish(w));
    QT_CHECK_STATUS(qlow_qfile_writer_set_int(w, "late", 1), QLOW_E_STATE);
    qlow_qfile_writer_destroy(w);
    /* An unfinished path writer removes its partial file. */
    QT_CHECK_OK(qlow_qfile_writer_open(path, NULL, NULL, &w));
    qlow_qfile_writer_destroy(w);
    FILE *gone = fopen(path, "rb");
    QT_CHECK(gone == NULL, "partial file removed");
    if (gone) fclose(gone);
    QT_CHECK_STATUS(qlow_qfile_writer_open("/nonexistent-dir/x.qlow", NULL, NULL, &w), QLOW_E_IO);
    QT_CHECK_STATUS(qlow_qfile_open(path, NULL, NULL, &f), QLOW_E_IO);

    /* Every single-bit corruption anywhere in the file is detected. */
    unsigned char *copy = (unsigned char *)malloc(size);
    long undetected = 0, by_status[32] = {0};
    for (size_t i = 0; i < size; i++) {
        memcpy(copy, bytes, size);
        copy[i] ^= (unsigned char)(1u << (i % 8));
        f = NULL;
        qlow_status st = qlow_qfile_open_buffer(copy, size, NULL, NULL, &f);
        undetected += st == QLOW_OK || f != NULL;
        by_status[-st & 31]++;
        qlow_qfile_close(f);
    }
    QT_CHECK(undetected == 0, "%ld of %zu bit flips undetected", undetected, size);
    printf("INFO .qlow bit flips: %zu positions, checksum %ld, format %ld, truncated %ld, version %ld\n", size,
           by_status[19], by_status[17], by_status[18], by_status[15]);
    /* Without verification, a flipped tensor byte opens but qlow_qfile_tensor_verify reports it. */
    memcpy(copy, bytes, size);
    copy[64 + 3] ^= 1;
    qlow_params *nv = NULL;
    qlow_params_create(NULL, &nv);
    qlow_params_set_int(nv, QLOW_PARAM_IO_VERIFY, 0);
    f = NULL;
    QT_CHECK_OK(qlow_qfile_open_buffer(copy, size, nv, NULL, &f));
    if (f) {
        QT_CHECK_STATUS(qlow_qfile_tensor_verify(f, 0), QLOW_E_CHECKSUM);
        QT_CHECK_OK(qlow_qfile_tensor_verify(f, 1));
        qlow_qfile_close(f);
    }
    qlow_params_destroy(nv);

    /* Every truncation length. */
    long misreported = 0;
    for (size_t n = 0; n < size; n++) {
        f = NULL;
        qlow_status st = qlow_qfile_open_buffer(bytes, n, NULL, NULL, &f);
        misreported += st != QLOW_E_TRUNCATED || f != NULL;
    }
    QT_CHECK(misreported == 0, "%ld truncations misreported", misreported);

    /* Crafted directories, resealed so that only the structural checks can catch them. */
    uint64_t dir_off = qlow__ld64(bytes + size - 64 + 24);
    struct {
        size_t at;      /* offset inside the directory (or the file with from_file) */
        int from_file;
        int width;
        uint64_t value;
        qlow_status want;
    } edits[] = {
        {64, 0, 8, 65, QLOW_E_FORMAT},                         /* tensor 0 data offset misaligned */
        {64, 0, 8, 0, QLOW_E_FORMAT},                          /* data offset inside the preamble */
        {96 + 64, 0, 8, 64, QLOW_E_FORMAT},                    /* tensor 1 overlaps tensor 0 */
        {72, 0, 8, UINT64_MAX, QLOW_E_FORMAT},                 /* size overflows */
        {64, 0, 8, UINT64_MAX - 63, QLOW_E_FORMAT},            /* offset far beyond the file */
        {32, 0, 8, (uint64_t)1 << 62, QLOW_E_OVERFLOW},        /* shape product overflows */
        {32, 0, 8, 12, QLOW_E_FORMAT},                         /* shape disagrees with the size */
        {24, 0, 4, 5, QLOW_E_FORMAT},                          /* ndim 5 */
        {16, 0, 4, 99, QLOW_E_FORMAT},                         /* unknown dtype */
        {12, 0, 4, 0, QLOW_E_FORMAT},                          /* kind 0 */
        {8, 0, 4, 0, QLOW_E_FORMAT},                           /* empty name */
        {0, 0, 8, UINT64_MAX, QLOW_E_FORMAT},                  /* name outside the string table */
        {96 + 0, 0, 8, 0, QLOW_E_FORMAT},                      /* name offset shifted: no NUL after it */
        {84, 0, 4, 1, QLOW_E_FORMAT},                          /* reserved field set */
        {8, 1, 2, 2, QLOW_E_VERSION_MISMATCH},                 /* major version 2 (preamble) */
        {12, 1, 4, 48, QLOW_E_FORMAT},                         /* alignment not a power of two >= 64 */
        {16, 1, 4, 1, QLOW_E_FORMAT},                          /* unknown flags */
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        memcpy(copy, bytes, size);
        unsigned char *at = copy + (edits[e].from_file ? 0 : dir_off) + edits[e].at;
        for (int b = 0; b < edits[e].width; b++) at[b] = (unsigned char)(edits[e].value >> (8 * b));
        reseal(copy, size);
        f = NULL;
        qlow_status st = qlow_qfile_open_buffer(copy, size, NULL, NULL, &f);
        QT_CHECK(st == edits[e].want && f == NULL, "edit %zu -> %d want %d", e, (int)st, (int)edits[e].want);
    }
    /* Two tensors with the same name. */
    memcpy(copy, bytes, size);
    memcpy(copy + dir_off + 96, copy + dir_off, 12);
    reseal(copy, size);
    QT_CHECK_STATUS(qlow_qfile_open_buffer(copy, size, NULL, NULL, &f), QLOW_E_FORMAT);
    /* The tensor count exceeding the directory. */
    memcpy(copy, bytes, size);
    qlow__st32(copy + size - 64 + 12, 0xffffffffu);
    reseal(copy, size);
    QT_CHECK_STATUS(qlow_qfile_open_buffer(copy, size, NULL, NULL, &f), QLOW_E_FORMAT);

    /* Fuzz entry points accept the valid file and survive random multi-byte damage. */
    int fz = qlow__fuzz_qfile(bytes, size);
    uint64_t seed = 99;
    for (int r = 0; r < 300; r++) {
        memcpy(copy, bytes, size);
        for (int k = 0; k < 3; k++) {
            uint64_t x = (seed += 0x9e3779b97f4a7c15ull);
            x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
            copy[(x >> 8) % size] = (unsigned char)x;
        }
        reseal(copy, size);
        fz |= qlow__fuzz_qfile(copy, size);
    }
    QT_CHECK(fz == 0, "qfile fuzz entry invariants");
    free(copy);

    /* Allocation failure at every point: writer (open, adds, metadata, finish) and reader. */
    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points, {
        w = NULL;
        st = qlow_qfile_writer_open_buffer(buf, size, NULL, &qa, &w);
        if (st == QLOW_OK) st = write_all(w, 0);
        qlow_qfile_writer_destroy(w);
    }, {});
    QT_ALLOC_FAIL_LOOP(&points, { st = qlow_qfile_open_buffer(bytes, size, NULL, &qa, &f); }, { qlow_qfile_close(f); });
    printf("INFO .qlow writer+reader: %ld allocation-failure points\n", points);
    free(buf);
    free(mb.p);
    free(bytes);
}

int main(void)
{
    test_vectors();
    make_content();
    test_roundtrip();
    qlow_qmatrix_destroy(qm4);
    qlow_qmatrix_destroy(qmb);
    qlow_ctx_destroy(ctx);
    free(img_b);
    return qt_finish();
}
