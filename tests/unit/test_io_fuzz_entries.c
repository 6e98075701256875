/* test_io_fuzz_entries.c - the loaders' fuzz entry points (src/io/io_fuzz.h) on the real seed files
 * and on deterministic mutations of them (byte flips, random bytes, truncations, splices). Every call
 * must return 0: the input was either accepted and fully read, or rejected with a documented status. */
#include "qtest.h"
#include "io_testutil.h"
#include "io/io_fuzz.h"

typedef int (*entry_fn)(const uint8_t *, size_t);

static uint64_t rng = 2026;
static uint64_t next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Mutate only the first `hot` bytes most of the time: that is where the parsers are. */
static void run(const char *label, entry_fn fn, const unsigned char *seed, size_t size, size_t hot, int rounds)
{
    long failures = fn(seed, size);
    unsigned char *m = (unsigned char *)malloc(size + 16);
    for (int r = 0; r < rounds; r++) {
        size_t n = size;
        memcpy(m, seed, size);
        switch (r % 4) {
        case 0: /* bit flips */
            for (int k = 0; k < 1 + (int)(next() % 4); k++) m[next() % (r % 8 ? hot : size)] ^= (unsigned char)(1u << (next() % 8));
            break;
        case 1: /* random bytes, including 0xff runs that make huge lengths */
            for (int k = 0; k < 1 + (int)(next() % 3); k++) {
                size_t at = next() % hot;
                for (size_t j = 0; j < 1 + next() % 8 && at + j < size; j++) m[at + j] = r % 3 ? (unsigned char)next() : 0xff;
            }
            break;
        case 2: /* truncation */
            n = next() % size;
            break;
        default: /* a region copied over another */
            {
                size_t a = next() % hot, b = next() % hot, len = 1 + next() % 32;
                if (a + len <= size && b + len <= size) memmove(m + a, m + b, len);
            }
        }
        failures += fn(m, n);
    }
    free(m);
    QT_CHECK(failures == 0, "%s: %ld invariant failures", label, failures);
    printf("INFO fuzz entry %s: %d mutated inputs, %ld invariant failures\n", label, rounds, failures);
}

int main(void)
{
    size_t ms, ts, qs;
    unsigned char *model = io_read_data("data/stories260K.bin", &ms);
    unsigned char *tok = io_read_data("data/tok512.bin", &ts);
    QT_CHECK(model && tok, "seed files");
    if (!model || !tok) return qt_finish();
    run("llama2c", qlow__fuzz_llama2c, model, ms, 28, 120);
    run("model", qlow__fuzz_model, model, ms, 64, 60);
    run("tokenizer", qlow__fuzz_tokenizer, tok, ts, ts, 400);

    /* A small safetensors seed. */
    static const char hdr[] = "{\"__metadata__\":{\"n_heads\":\"1\",\"x\":{\"y\":[1,2.5e3,true,null]}},"
                              "\"model.embed_tokens.weight\":{\"dtype\":\"BF16\",\"shape\":[4,2],\"data_offsets\":[0,16]},"
                              "\"model.layers.0.self_attn.q_proj.weight\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[16,24]},"
                              "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}";
    size_t hl = sizeof hdr - 1, ss = 8 + hl + 32;
    unsigned char *st = (unsigned char *)calloc(1, ss);
    for (int b = 0; b < 8; b++) st[b] = (unsigned char)((uint64_t)hl >> (8 * b));
    memcpy(st + 8, hdr, hl);
    for (size_t i = 0; i < 32; i++) st[8 + hl + i] = (unsigned char)(i * 37 + 1);
    QT_CHECK(qlow__fuzz_safetensors(st, ss) == 0, "safetensors seed");
    run("safetensors", qlow__fuzz_safetensors, st, ss, 8 + hl, 3000);

    /* A .qlow seed from the writer: one dense tensor, one real packed matrix, metadata. */
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    float w[8 * 32];
    for (int i = 0; i < 8 * 32; i++) w[i] = (float)qt_rand_normal();
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, 8, 32, w);
    qlow_qmatrix *qm = NULL;
    QT_CHECK_OK(qlow_quantize(ctx, NULL, &v, NULL, &qm));
    unsigned char *buf = (unsigned char *)aligned_alloc(64, 1 << 16);
    qlow_qfile_writer *wr = NULL;
    QT_CHECK_OK(qlow_qfile_writer_open_buffer(buf, 1 << 16, NULL, NULL, &wr));
    QT_CHECK_OK(qlow_qfile_writer_add_dense(wr, "norm", &v));
    QT_CHECK_OK(qlow_qfile_writer_add_qmatrix(wr, "layers.0.attention.wq", qm));
    QT_CHECK_OK(qlow_qfile_writer_set_string(wr, "qlow.method", "rtn"));
    QT_CHECK_OK(qlow_qfile_writer_set_int(wr, "model.dim", 32));
    QT_CHECK_OK(qlow_qfile_writer_finish(wr));
    uint64_t q64 = 0;
    qlow_qfile_writer_bytes(wr, &q64);
    qlow_qfile_writer_destroy(wr);
    qs = (size_t)q64;
    QT_CHECK(qlow__fuzz_qfile(buf, qs) == 0, "qfile seed");
    run("qfile", qlow__fuzz_qfile, buf, qs, qs, 1500);
    run("qfile_resealed", qlow__fuzz_qfile_resealed, buf, qs, qs, 3000);
    qlow_qmatrix_destroy(qm);
    qlow_ctx_destroy(ctx);
    free(buf);
    free(st);
    free(model);
    free(tok);
    return qt_finish();
}
