/* fw_gen.c - hosted generator for the firmware example. Reads layer 0 of the bundled llama2.c model
 * (data/stories260K.bin), quantizes wq (64x64) and w2 (64x172, so rows carry padding) to every packed
 * format the quantizer produces, serializes each qlow_qmatrix, and writes:
 *   OUT.c                 const, 64-byte aligned images (flash), inputs and the hosted library's results
 *   fw_model_config.h     static buffer sizes for the firmware (next to OUT.c)
 *   fw_model_sizes.txt    image and workspace bytes per matrix and format (for the size table)
 * The expected results come from this hosted library on the portable kernels (QLOW_CTX_ISA_MAX =
 * generic), which is what a microcontroller build runs.
 * usage: fw_gen MODEL.bin OUT.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlow.h"

typedef struct fmt_spec {
    const char *tag;
    int32_t scheme, bits, group_cols, ternary_packing;
} fmt_spec;

static const fmt_spec formats[] = {
    {"Q8", QLOW_SCHEME_RTN, 8, 32, 0},     {"Q4", QLOW_SCHEME_RTN, 4, 32, 0},
    {"Q3", QLOW_SCHEME_RTN, 3, 32, 0},     {"Q2", QLOW_SCHEME_RTN, 2, 32, 0},
    {"B1", QLOW_SCHEME_BINARY, 0, 0, 0},   {"B2", QLOW_SCHEME_BINARY_RESIDUAL, 0, 0, 0},
    {"T158", QLOW_SCHEME_TERNARY, 0, 0, QLOW_FORMAT_T158}, {"T2", QLOW_SCHEME_TERNARY, 0, 0, QLOW_FORMAT_T2},
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

typedef struct model {
    int32_t dim, hidden, layers, heads, kv_heads, vocab, seq;
    float *data;
    size_t count;
} model;

static int die(const char *what, qlow_status s)
{
    fprintf(stderr, "fw_gen: %s: %s\n", what, s ? qlow_status_string(s) : "failed");
    exit(1);
}

static void load_model(const char *path, model *m)
{
    FILE *f = fopen(path, "rb");
    if (!f) die(path, 0);
    int32_t h[7];
    if (fread(h, 4, 7, f) != 7) die("header", 0);
    m->dim = h[0], m->hidden = h[1], m->layers = h[2], m->heads = h[3], m->kv_heads = h[4];
    m->vocab = abs(h[5]), m->seq = h[6];
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    fseek(f, 28, SEEK_SET);
    m->count = (size_t)(end - 28) / 4;
    m->data = malloc(m->count * 4);
    if (!m->data || fread(m->data, 4, m->count, f) != m->count) die("weights", 0);
    fclose(f);
}

/* Offsets (in floats) of layer 0's tensors in the llama2.c layout. */
static const float *tensor(const model *m, const char *name)
{
    size_t d = (size_t)m->dim, L = (size_t)m->layers, hd = (size_t)m->hidden;
    size_t kv = d * (size_t)m->kv_heads / (size_t)m->heads;
    size_t off = (size_t)m->vocab * d; /* token embedding */
    off += L * d;                      /* rms_att */
    if (!strcmp(name, "wq")) return m->data + off;
    off += L * d * d + 2 * L * kv * d + L * d * d + L * d; /* wq, wk, wv, wo, rms_ffn */
    if (!strcmp(name, "w1")) return m->data + off;
    off += L * hd * d;
    if (!strcmp(name, "w2")) return m->data + off;
    return NULL;
}

/* Separator before element i of an initializer printed `per_line` to a line. */
static const char *sep(int64_t i, int per_line)
{
    if (i == 0) return "\n    ";
    return i % per_line ? ", " : ",\n    ";
}

static void emit_floats(FILE *o, const char *name, const float *v, int64_t n)
{
    fprintf(o, "static const float %s[%lld] = {", name, (long long)n);
    for (int64_t i = 0; i < n; i++) fprintf(o, "%s%a", sep(i, 6), (double)v[i]);
    fprintf(o, "};\n");
}

static void emit_bits(FILE *o, const char *name, const float *v, int64_t n)
{
    fprintf(o, "static const uint32_t %s[%lld] = {", name, (long long)n);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        fprintf(o, "%s0x%08xu", sep(i, 8), u);
    }
    fprintf(o, "};\n");
}

typedef struct sizes {
    int64_t max_rows, max_cols;
    size_t handle, wksp;
    FILE *table; /* fw_model_sizes.txt: "<matrix> <format> <image bytes> <workspace bytes>" per line */
} sizes;

static void emit_matrix(FILE *o, qlow_ctx *ctx, const char *mname, const char *xname, const float *W,
                        const float *x, int64_t rows, int64_t cols, const fmt_spec *fs, int idx, sizes *sz)
{
    qlow_params *p = NULL;
    qlow_qmatrix *qm = NULL, *wrapped = NULL;
    qlow_view wv;
    qlow_status s;
    if ((s = qlow_params_create(NULL, &p)) || (s = qlow_params_set_int(p, QLOW_P_SCHEME, fs->scheme))) die("params", s);
    if (fs->bits && ((s = qlow_params_set_int(p, QLOW_P_BITS, fs->bits)) ||
                     (s = qlow_params_set_int(p, QLOW_P_GROUP_COLS, fs->group_cols))))
        die("params", s);
    if (fs->ternary_packing && (s = qlow_params_set_int(p, QLOW_P_TERNARY_PACKING, fs->ternary_packing)))
        die("params", s);
    if ((s = qlow_view_init_2d(&wv, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)W))) die("view", s);
    if ((s = qlow_quantize(ctx, p, &wv, NULL, &qm))) die("quantize", s);
    size_t bytes = 0, handle = 0, ws = 0;
    if ((s = qlow_qmatrix_serialized_size(qm, &bytes))) die("serialized size", s);
    unsigned char *img = malloc(bytes);
    float *y = malloc((size_t)rows * 4), *row0 = malloc((size_t)cols * 4);
    if (!img || !y || !row0) die("malloc", 0);
    if ((s = qlow_qmatrix_serialize(qm, img, bytes))) die("serialize", s);
    if ((s = qlow_qmatrix_wrap(ctx, img, bytes, &wrapped))) die("wrap", s);
    if ((s = qlow_qmatrix_wrap_size(img, bytes, &handle))) die("wrap size", s);
    if ((s = qlow_gemm_workspace_size(wrapped, 1, 0, &ws))) die("workspace size", s);
    if ((s = qlow_gemv(ctx, wrapped, x, y))) die("gemv", s);
    if ((s = qlow_qmatrix_dequantize(wrapped, 0, 1, row0, (size_t)cols))) die("dequantize", s);
    int32_t format = 0;
    qlow_qmatrix_format(wrapped, &format);

    fprintf(o, "\n/* layer0.%s as %s: %zu bytes */\n_Alignas(64) static const uint8_t img%d[%zu] = {", mname,
            fs->tag, bytes, idx, bytes);
    for (size_t i = 0; i < bytes; i++) fprintf(o, "%s0x%02x", sep((int64_t)i, 16), img[i]);
    fprintf(o, "};\n");
    char nm[32];
    snprintf(nm, sizeof nm, "y%d", idx);
    emit_bits(o, nm, y, rows);
    snprintf(nm, sizeof nm, "r%d", idx);
    emit_bits(o, nm, row0, cols);
    fprintf(o, "#define M%d {\"layer0.%s %s\", %d, %lld, %lld, img%d, %zu, %s, y%d, r%d}\n", idx, mname, fs->tag,
            (int)format, (long long)rows, (long long)cols, idx, bytes, xname, idx, idx);
    fprintf(sz->table, "%s %s %zu %zu\n", mname, fs->tag, bytes, ws);
    if (rows > sz->max_rows) sz->max_rows = rows;
    if (cols > sz->max_cols) sz->max_cols = cols;
    if (handle > sz->handle) sz->handle = handle;
    if (ws > sz->wksp) sz->wksp = ws;
    qlow_qmatrix_destroy(wrapped);
    qlow_qmatrix_destroy(qm);
    qlow_params_destroy(p);
    free(img), free(y), free(row0);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fw_gen MODEL.bin OUT.c\n");
        return 2;
    }
    model m;
    load_model(argv[1], &m);
    qlow_ctx *ctx = NULL;
    qlow_status s;
    if ((s = qlow_ctx_create(NULL, &ctx)) || (s = qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC)))
        die("ctx", s);
    const float *wq = tensor(&m, "wq"), *w1 = tensor(&m, "w1"), *w2 = tensor(&m, "w2");
    const float *emb = m.data + 400 * (size_t)m.dim; /* token 400's embedding as the input */
    float *h = malloc((size_t)m.hidden * 4);
    if (!h) die("malloc", 0);
    for (int32_t i = 0; i < m.hidden; i++) { /* w1 x: real hidden activations for w2's input */
        float acc = 0.0f;
        for (int32_t j = 0; j < m.dim; j++) acc += w1[(size_t)i * (size_t)m.dim + (size_t)j] * emb[j];
        h[i] = acc;
    }
    FILE *o = fopen(argv[2], "w");
    if (!o) die(argv[2], 0);
    fprintf(o, "/* Generated by examples/firmware/fw_gen.c from data/stories260K.bin; do not edit. */\n"
               "#include <stdint.h>\n#include \"fw_model.h\"\n\n");
    emit_floats(o, "x_wq", emb, m.dim);
    emit_floats(o, "x_w2", h, m.hidden);
    char path[4096];
    const char *slash = strrchr(argv[2], '/');
    int dirlen = slash ? (int)(slash - argv[2] + 1) : 0;
    snprintf(path, sizeof path, "%.*sfw_model_sizes.txt", dirlen, argv[2]);
    sizes sz = {0, 0, 0, 0, fopen(path, "w")};
    if (!sz.table) die(path, 0);
    int idx = 0;
    for (size_t f = 0; f < N_FORMATS; f++, idx++)
        emit_matrix(o, ctx, "wq", "x_wq", wq, emb, m.dim, m.dim, &formats[f], idx, &sz);
    for (size_t f = 0; f < N_FORMATS; f++, idx++)
        emit_matrix(o, ctx, "w2", "x_w2", w2, h, m.dim, m.hidden, &formats[f], idx, &sz);
    fprintf(o, "\nconst fw_matrix fw_matrices[] = {");
    for (int i = 0; i < idx; i++) fprintf(o, "%sM%d", i ? ", " : "", i);
    fprintf(o, "};\nconst uint32_t fw_matrix_count = %d;\n", idx);
    if (fclose(o) || fclose(sz.table)) die("write", 0);

    snprintf(path, sizeof path, "%.*sfw_model_config.h", dirlen, argv[2]);
    FILE *c = fopen(path, "w");
    if (!c) die(path, 0);
    /* Handle sizes grow with pointer width; the hosted (64-bit) sizes bound a 32-bit target's. */
    fprintf(c, "/* Generated by fw_gen: static buffer sizes for fw_app.c. */\n#define FW_MAX_ROWS %lld\n"
               "#define FW_MAX_COLS %lld\n#define FW_HANDLE_BYTES %zu\n#define FW_WKSP_BYTES %zu\n",
            (long long)sz.max_rows, (long long)sz.max_cols, sz.handle, sz.wksp ? sz.wksp : 64);
    if (fclose(c)) die("write config", 0);
    printf("fw_gen: %d matrices -> %s (+ fw_model_config.h, fw_model_sizes.txt)\n", idx, argv[2]);
    qlow_ctx_destroy(ctx);
    free(h);
    free(m.data);
    return 0;
}
