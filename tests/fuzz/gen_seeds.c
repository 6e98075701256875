/* gen_seeds.c - writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from real
 * files made with the library's own writers, plus the bundled data files. `make fuzz-seeds` rebuilds
 * them; the output is deterministic, so regenerating gives byte-identical files.
 * usage: gen_seeds OUTDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlow.h"

static const char *outdir;
static int failures;

static void write_seed(const char *target, const char *name, const void *data, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        failures++;
    }
    if (f) fclose(f);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = len > 0 ? (unsigned char *)malloc((size_t)len) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = buf ? (size_t)len : 0;
    return buf;
}

static void check(qlow_status s, const char *what)
{
    if (s != QLOW_OK) {
        fprintf(stderr, "gen_seeds: %s: %s\n", what, qlow_status_string(s));
        failures++;
    }
}

/* A deterministic weight matrix with a few outliers. */
static void fill_weights(float *w, int64_t rows, int64_t cols, uint32_t seed)
{
    for (int64_t i = 0; i < rows * cols; i++) {
        seed = seed * 1664525u + 1013904223u;
        w[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.2f;
        if (i % 37 == 5) w[i] *= 8.0f;
    }
}

typedef struct quant_case {
    const char *name;
    int scheme, bits, group_cols, symmetric, ternary_packing;
    int64_t rows, cols;
} quant_case;

static const quant_case quant_cases[] = {
    {"q8_g32", QLOW_SCHEME_RTN, 8, 32, 0, 0, 3, 64},
    {"q4_row", QLOW_SCHEME_RTN, 4, 0, 0, 0, 4, 40},
    {"q4_sym_g32", QLOW_SCHEME_RTN, 4, 32, 1, 0, 2, 96},
    {"q3_g32", QLOW_SCHEME_RTN, 3, 32, 0, 0, 3, 70},
    {"q2_row", QLOW_SCHEME_RTN, 2, 0, 0, 0, 2, 33},
    {"q4_1x1", QLOW_SCHEME_RTN, 4, 0, 0, 0, 1, 1},
    {"b1", QLOW_SCHEME_BINARY, 0, 0, 0, 0, 3, 50},
    {"b2", QLOW_SCHEME_BINARY_RESIDUAL, 0, 0, 0, 0, 2, 64},
    {"t158", QLOW_SCHEME_TERNARY, 0, 0, 0, QLOW_FORMAT_T158, 3, 45},
    {"t2", QLOW_SCHEME_TERNARY, 0, 0, 0, QLOW_FORMAT_T2, 2, 32},
};

/* Quantizes case `c` and returns its serialized image (malloc'ed) and format. */
static unsigned char *make_qmatrix(qlow_ctx *ctx, const quant_case *c, size_t *n, int32_t *format, int32_t *bits)
{
    float *w = (float *)malloc((size_t)(c->rows * c->cols) * sizeof(float));
    qlow_params *p = NULL;
    qlow_qmatrix *qm = NULL;
    unsigned char *img = NULL;
    qlow_view v;
    fill_weights(w, c->rows, c->cols, (uint32_t)(c->rows * 131 + c->cols));
    check(qlow_params_create(NULL, &p), "params");
    check(qlow_params_set_int(p, QLOW_P_SCHEME, c->scheme), "scheme");
    if (c->bits) check(qlow_params_set_int(p, QLOW_P_BITS, c->bits), "bits");
    if (c->group_cols) check(qlow_params_set_int(p, QLOW_P_GROUP_COLS, c->group_cols), "group");
    if (c->symmetric) check(qlow_params_set_int(p, QLOW_P_SYMMETRIC, 1), "symmetric");
    if (c->ternary_packing) check(qlow_params_set_int(p, QLOW_P_TERNARY_PACKING, c->ternary_packing), "packing");
    check(qlow_view_init_2d(&v, QLOW_DTYPE_F32, c->rows, c->cols, w), "view");
    check(qlow_quantize(ctx, p, &v, NULL, &qm), c->name);
    if (qm) {
        check(qlow_qmatrix_serialized_size(qm, n), "serialized size");
        img = (unsigned char *)malloc(*n);
        check(qlow_qmatrix_serialize(qm, img, *n), "serialize");
        check(qlow_qmatrix_format(qm, format), "format");
        *bits = c->bits ? c->bits : (*format == QLOW_FORMAT_T2 ? 2 : *format == QLOW_FORMAT_T158 ? 0 : 1);
    }
    qlow_qmatrix_destroy(qm);
    qlow_params_destroy(p);
    free(w);
    return img;
}

static void qmatrix_and_qlow_seeds(void)
{
    qlow_ctx *ctx = NULL;
    check(qlow_ctx_create(NULL, &ctx), "ctx");
    if (!ctx) return;
    static unsigned char file[1 << 16];
    qlow_qfile_writer *w = NULL;
    check(qlow_qfile_writer_open_buffer(file, sizeof file, NULL, NULL, &w), "writer");
    for (size_t i = 0; i < sizeof quant_cases / sizeof quant_cases[0]; i++) {
        size_t n = 0;
        int32_t format = 0, bits = 0;
        unsigned char *img = make_qmatrix(ctx, &quant_cases[i], &n, &format, &bits);
        if (!img) continue;
        write_seed("qmatrix", quant_cases[i].name, img, n);
        if (w && (i % 3 == 0))
            check(qlow_qfile_writer_add_packed(w, quant_cases[i].name, format, bits, quant_cases[i].rows,
                                               quant_cases[i].cols, img, n), "add_packed");
        free(img);
    }
    /* A PTQ1.61 mixed-precision (M161) matrix. */
    {
        enum { R = 6, C = 72, TOK = 40 };
        static float mw[R * C], mx[TOK * C];
        fill_weights(mw, R, C, 11);
        fill_weights(mx, TOK, C, 12);
        qlow_view W, X;
        qlow_qmatrix *qm = NULL;
        check(qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, mw), "m161 view");
        check(qlow_view_init_2d(&X, QLOW_DTYPE_F32, TOK, C, mx), "m161 x");
        check(qlow_ptq161_quantize(ctx, NULL, &W, &X, NULL, &qm, NULL), "ptq161");
        size_t n = 0;
        if (qm && qlow_qmatrix_serialized_size(qm, &n) == QLOW_OK) {
            unsigned char *img = (unsigned char *)malloc(n);
            check(qlow_qmatrix_serialize(qm, img, n), "m161 serialize");
            write_seed("qmatrix", "m161", img, n);
            if (w) check(qlow_qfile_writer_add_qmatrix(w, "blk.1.ffn_down", qm), "add m161");
            free(img);
        }
        qlow_qmatrix_destroy(qm);
    }
    float dense[6 * 5];
    uint16_t half[7];
    fill_weights(dense, 6, 5, 7);
    for (int i = 0; i < 7; i++) half[i] = qlow_fp32_to_fp16((float)i - 3.5f);
    qlow_view v;
    int64_t shape3[3] = {2, 3, 5};
    check(qlow_view_init(&v, QLOW_DTYPE_F32, 3, shape3, dense), "view3");
    if (w) check(qlow_qfile_writer_add_dense(w, "blk.0.attn_norm", &v), "add_dense");
    check(qlow_view_init(&v, QLOW_DTYPE_F16, 1, (const int64_t[]){7}, half), "view1");
    if (w) {
        check(qlow_qfile_writer_add_dense(w, "output_norm.f16", &v), "add_dense f16");
        check(qlow_qfile_writer_set_string(w, "general.name", "fuzz seed"), "meta string");
        check(qlow_qfile_writer_set_int(w, "qlow.bits", -3), "meta int");
        check(qlow_qfile_writer_set_float(w, "qlow.ppl", 12.5), "meta float");
        check(qlow_qfile_writer_set_bytes(w, "qlow.digest", half, sizeof half), "meta bytes");
        check(qlow_qfile_writer_finish(w), "finish");
        uint64_t bytes = 0;
        check(qlow_qfile_writer_bytes(w, &bytes), "bytes");
        write_seed("qlow", "mixed", file, (size_t)bytes);
        qlow_qfile_writer_destroy(w);
    }
    /* The smallest valid file: no tensors, one metadata entry. */
    w = NULL;
    check(qlow_qfile_writer_open_buffer(file, sizeof file, NULL, NULL, &w), "writer2");
    if (w) {
        check(qlow_qfile_writer_set_int(w, "n", 1), "meta");
        check(qlow_qfile_writer_finish(w), "finish2");
        uint64_t bytes = 0;
        check(qlow_qfile_writer_bytes(w, &bytes), "bytes2");
        write_seed("qlow", "empty", file, (size_t)bytes);
        qlow_qfile_writer_destroy(w);
    }
    qlow_ctx_destroy(ctx);
}

static void put32(unsigned char *p, int32_t v)
{
    memcpy(p, &v, 4);
}

/* A tiny llama2.c checkpoint: header of 7 int32, then every float array in the legacy order. */
static void llama2c_seed(const char *name, int32_t vocab)
{
    const int32_t dim = 8, hidden = 16, layers = 2, heads = 2, kv = 1, seq = 8;
    const int32_t hd = dim / heads, kvdim = hd * kv, V = vocab < 0 ? -vocab : vocab;
    size_t floats = (size_t)V * dim + (size_t)layers * (dim + dim * dim + 2 * dim * kvdim + dim * dim + dim +
                                                        3 * hidden * dim) + dim + (size_t)seq * hd;
    if (vocab < 0) floats += (size_t)V * dim;
    size_t n = 28 + floats * 4;
    unsigned char *buf = (unsigned char *)calloc(1, n);
    const int32_t cfg[7] = {dim, hidden, layers, heads, kv, vocab, seq};
    for (int i = 0; i < 7; i++) put32(buf + 4 * i, cfg[i]);
    float *f = (float *)malloc(floats * sizeof(float));
    fill_weights(f, 1, (int64_t)floats, (uint32_t)V);
    memcpy(buf + 28, f, floats * 4);
    write_seed("llama2c", name, buf, n);
    free(f);
    free(buf);
}

static void safetensors_seed(const char *name, const char *json, const void *data, size_t data_bytes)
{
    size_t jl = strlen(json), n = 8 + jl + data_bytes;
    unsigned char *buf = (unsigned char *)malloc(n);
    uint64_t hl = jl;
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)(hl >> (8 * k));
    memcpy(buf + 8, json, jl);
    memcpy(buf + 8 + jl, data, data_bytes);
    write_seed("safetensors", name, buf, n);
    free(buf);
}

static void model_seeds(void)
{
    llama2c_seed("tiny_shared", 32);
    llama2c_seed("tiny_unshared", -24);
    size_t n = 0;
    unsigned char *stories = slurp("data/stories260K.bin", &n);
    if (stories && n > 4096) write_seed("llama2c", "stories260K_head", stories, 4096);
    else failures++;
    free(stories);

    float data[64];
    fill_weights(data, 1, 64, 3);
    safetensors_seed("hf_names",
                     "{\"__metadata__\":{\"format\":\"pt\",\"hidden_size\":\"4\"},"
                     "\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[8,4],\"data_offsets\":[0,128]},"
                     "\"model.layers.0.self_attn.q_proj.weight\":{\"dtype\":\"F16\",\"shape\":[4,4],\"data_offsets\":[128,160]},"
                     "\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[160,168]}}",
                     data, 168);
    safetensors_seed("plain", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                              "\"b\":{\"dtype\":\"I8\",\"shape\":[5],\"data_offsets\":[24,29]},"
                              "\"escaped \\\"name\\u00e9\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[32,40]}}   ",
                     data, 40);
    safetensors_seed("empty", "{}", NULL, 0);
}

static void tokenizer_seeds(void)
{
    size_t n = 0;
    unsigned char *tok = slurp("data/tok512.bin", &n);
    if (tok) write_seed("tokenizer", "tok512", tok, n);
    else failures++;
    free(tok);
    /* max_token_length 3, then tokens (score, length, bytes): <unk>, <s>, </s>, " a", "ab". */
    unsigned char small[64];
    size_t at = 0;
    const struct { float score; const char *s; } toks[] = {{0, "<unk>"}, {0, "<s>"}, {0, "</s>"}, {-1.5f, " a"}, {2.0f, "ab"}};
    put32(small, 5);
    at = 4;
    for (int i = 0; i < 5; i++) {
        int32_t len = (int32_t)strlen(toks[i].s);
        memcpy(small + at, &toks[i].score, 4);
        put32(small + at + 4, len);
        memcpy(small + at + 8, toks[i].s, (size_t)len);
        at += 8 + (size_t)len;
    }
    write_seed("tokenizer", "five_tokens", small, at);
}

int main(int argc, char **argv)
{
    outdir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    qmatrix_and_qlow_seeds();
    model_seeds();
    tokenizer_seeds();
    if (failures) fprintf(stderr, "gen_seeds: %d failures\n", failures);
    return failures ? 1 : 0;
}
