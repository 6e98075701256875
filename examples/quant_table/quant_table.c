/* quant_table.c - quantize every weight matrix of the bundled stories260K model (wq wk wv wo w1 w2 w3 of
 * every layer) with each libqlow primitive and print bits/weight, relative weight error and relative output
 * error on real inputs.
 *
 * Usage: quant_table [model.bin [tokenizer.bin [text.txt [threads]]]]   (defaults: the bundled data/)
 *
 * Inputs: the first paragraphs of the TinyStories text (up to MAX_TOKENS tokens), tokenized greedily
 * (longest vocabulary match, one leading space per paragraph as llama2.c does, byte tokens as fallback).
 * For each layer, the rows of the token embedding of those tokens become layer inputs the way the model
 * would use them at layer 0: wq/wk/wv see RMSNorm(e) * rms_att, w1/w3 see RMSNorm(e) * rms_ffn, wo sees e
 * itself (stand-in for an attention output, which needs the full forward pass), w2 sees the fp32 SwiGLU
 * hidden state silu(w1 x) * (w3 x) of its own layer. The "+imp" rows pass the mean of x_j^2 over those
 * inputs as per-column importance (the diagonal of the layer Hessian estimate).
 *
 * Only the public API quantizes and dequantizes; the model reader below is this program's own, with every
 * size checked against the file length. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlow.h"

#define MAX_TOKENS 256
#define N_KINDS 7

typedef struct model {
    int dim, hidden, layers, heads, kv_heads, vocab, seq;
    float *data;
    size_t count;
    const float *emb, *rms_att, *rms_ffn, *w[N_KINDS];
} model;

static const char *const kind_names[N_KINDS] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};

static void *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    unsigned char *buf = (unsigned char *)malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *size = (size_t)n;
    return buf;
}

static int load_model(const char *path, model *m)
{
    size_t size;
    unsigned char *raw = (unsigned char *)read_file(path, &size);
    if (!raw || size < 28) return -1;
    int32_t h[7];
    memcpy(h, raw, 28);
    for (int k = 0; k < 7; k++)
        if (h[k] == 0 || h[k] > 1 << 20 || h[k] < -(1 << 20)) return -1;
    int *const fields[7] = {&m->dim, &m->hidden, &m->layers, &m->heads, &m->kv_heads, &m->vocab, &m->seq};
    for (int k = 0; k < 7; k++) *fields[k] = h[k] < 0 ? -h[k] : h[k]; /* negative vocab: unshared classifier */
    if (m->dim <= 0 || m->hidden <= 0 || m->layers <= 0 || m->heads <= 0 || m->kv_heads <= 0 ||
        m->dim % m->heads != 0)
        return -1;
    m->count = (size - 28) / 4;
    m->data = (float *)malloc(m->count * sizeof(float) + 1);
    if (!m->data) return -1;
    memcpy(m->data, raw + 28, m->count * sizeof(float));
    free(raw);
    const size_t d = (size_t)m->dim, hd = (size_t)m->hidden, L = (size_t)m->layers;
    const size_t kv = d * (size_t)m->kv_heads / (size_t)m->heads;
    const size_t sizes[] = {(size_t)m->vocab * d, L * d, L * d * d, L * kv * d, L * kv * d, L * d * d,
                            L * d, L * hd * d, L * d * hd, L * hd * d};
    const float **dst[] = {&m->emb, &m->rms_att, &m->w[0], &m->w[1], &m->w[2], &m->w[3],
                           &m->rms_ffn, &m->w[4], &m->w[5], &m->w[6]};
    size_t off = 0;
    for (int k = 0; k < 10; k++) {
        if (sizes[k] > m->count - off) return -1;
        *dst[k] = m->data + off;
        off += sizes[k];
    }
    return 0;
}

static void matrix_shape(const model *m, int kind, int *rows, int *cols)
{
    const int kv = m->dim * m->kv_heads / m->heads;
    static const int row_is[N_KINDS] = {0, 1, 1, 0, 2, 0, 2}; /* 0 dim, 1 kv, 2 hidden */
    *rows = row_is[kind] == 0 ? m->dim : row_is[kind] == 1 ? kv : m->hidden;
    *cols = kind == 5 ? m->hidden : m->dim;
}

static const float *matrix(const model *m, int kind, int layer)
{
    int rows, cols;
    matrix_shape(m, kind, &rows, &cols);
    return m->w[kind] + (size_t)layer * (size_t)rows * (size_t)cols;
}

/* ---- tokenizer: greedy longest match over the llama2.c vocabulary ---- */
typedef struct vocab {
    int n;
    char **str;
    int *len;
} vocab;

static int load_vocab(const char *path, int n, vocab *v)
{
    size_t size, off = 4;
    unsigned char *raw = (unsigned char *)read_file(path, &size);
    if (!raw || size < 4) return -1;
    v->n = n;
    v->str = (char **)calloc((size_t)n, sizeof(char *));
    v->len = (int *)calloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++) {
        int32_t len;
        if (size - off < 8) return -1;
        memcpy(&len, raw + off + 4, 4);
        off += 8;
        if (len < 0 || (size_t)len > size - off) return -1;
        v->str[i] = (char *)malloc((size_t)len + 1);
        memcpy(v->str[i], raw + off, (size_t)len);
        v->str[i][len] = 0;
        v->len[i] = len;
        off += (size_t)len;
    }
    free(raw);
    return 0;
}

static int tokenize(const vocab *v, const char *text, int *out, int max)
{
    int n = 0;
    size_t pos = 0, len = strlen(text);
    while (pos < len && n < max) {
        int best = -1, best_len = 0;
        for (int t = 3 + 256; t < v->n; t++) /* merged tokens; 0..2 special, 3..258 bytes */
            if (v->len[t] > best_len && (size_t)v->len[t] <= len - pos && memcmp(v->str[t], text + pos, (size_t)v->len[t]) == 0) {
                best = t;
                best_len = v->len[t];
            }
        if (best < 0) {
            best = 3 + (unsigned char)text[pos];
            best_len = 1;
        }
        out[n++] = best;
        pos += (size_t)best_len;
    }
    return n;
}

/* First paragraphs of the text, each with one leading space, until max tokens. */
static int text_tokens(const vocab *v, const char *path, int *tok, int max, int *paragraphs)
{
    size_t size;
    char *text = (char *)read_file(path, &size);
    if (!text) return -1;
    int n = 0;
    *paragraphs = 0;
    char *p = text;
    while (*p && n < max) {
        char *end = strstr(p, "\n\n");
        if (end) *end = 0;
        while (*p == '\n' || *p == ' ') p++;
        if (*p) {
            size_t l = strlen(p);
            char *para = (char *)malloc(l + 2);
            para[0] = ' ';
            memcpy(para + 1, p, l + 1);
            n += tokenize(v, para, tok + n, max - n);
            free(para);
            (*paragraphs)++;
        }
        if (!end) break;
        p = end + 2;
    }
    free(text);
    return n;
}

/* ---- inputs per (kind, layer) ---- */
static void rmsnorm(const float *x, const float *w, int n, float *out)
{
    double ss = 0;
    for (int j = 0; j < n; j++) ss += (double)x[j] * x[j];
    const float r = (float)(1.0 / sqrt(ss / n + 1e-5));
    for (int j = 0; j < n; j++) out[j] = x[j] * r * w[j];
}

static void matvec(const float *W, int rows, int cols, const float *x, double *y)
{
    for (int i = 0; i < rows; i++) {
        double s = 0;
        for (int j = 0; j < cols; j++) s += (double)W[(size_t)i * cols + j] * x[j];
        y[i] = s;
    }
}

/* X [ntok x cols] for matrix `kind` of `layer`. */
static void layer_inputs(const model *m, int kind, int layer, const int *tok, int ntok, float *X)
{
    const int d = m->dim, hd = m->hidden;
    float *xn = (float *)malloc((size_t)d * sizeof(float));
    double *h1 = (double *)malloc((size_t)hd * sizeof(double)), *h3 = (double *)malloc((size_t)hd * sizeof(double));
    for (int t = 0; t < ntok; t++) {
        const float *e = m->emb + (size_t)tok[t] * d;
        if (kind <= 2) {
            rmsnorm(e, m->rms_att + (size_t)layer * d, d, X + (size_t)t * d);
        } else if (kind == 3) {
            memcpy(X + (size_t)t * d, e, (size_t)d * sizeof(float));
        } else if (kind == 4 || kind == 6) {
            rmsnorm(e, m->rms_ffn + (size_t)layer * d, d, X + (size_t)t * d);
        } else {
            rmsnorm(e, m->rms_ffn + (size_t)layer * d, d, xn);
            matvec(matrix(m, 4, layer), hd, d, xn, h1);
            matvec(matrix(m, 6, layer), hd, d, xn, h3);
            for (int i = 0; i < hd; i++) X[(size_t)t * hd + i] = (float)(h1[i] / (1.0 + exp(-h1[i])) * h3[i]);
        }
    }
    free(xn);
    free(h1);
    free(h3);
}

/* ---- the table ---- */
typedef struct config {
    const char *label;
    int scheme, bits, sym, group_cols, search, packing, optimal, use_imp;
} config;

typedef struct totals {
    double bits, weights, werr, wref, oerr, oref;
} totals;

static int run_config(qlow_ctx *ctx, const model *m, const config *c, float *const *inputs, float *const *imps,
                      int ntok, totals *t)
{
    qlow_params *p = NULL;
    if (qlow_params_create(NULL, &p) != QLOW_OK) return -1;
    qlow_params_set_int(p, QLOW_P_SCHEME, c->scheme);
    qlow_params_set_int(p, QLOW_P_BITS, c->bits);
    qlow_params_set_int(p, QLOW_P_SYMMETRIC, c->sym);
    qlow_params_set_int(p, QLOW_P_GROUP_COLS, c->group_cols);
    qlow_params_set_int(p, QLOW_P_RANGE_SEARCH, c->search);
    qlow_params_set_int(p, QLOW_P_TERNARY_PACKING, c->packing);
    qlow_params_set_int(p, QLOW_P_BINARY_OPTIMAL, c->optimal);
    memset(t, 0, sizeof(*t));
    for (int layer = 0; layer < m->layers; layer++)
        for (int kind = 0; kind < N_KINDS; kind++) {
            int rows, cols;
            matrix_shape(m, kind, &rows, &cols);
            const float *W = matrix(m, kind, layer);
            qlow_view v;
            qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)W);
            qlow_qmatrix *qm = NULL;
            qlow_status st = qlow_quantize(ctx, p, &v, c->use_imp ? imps[layer * N_KINDS + kind] : NULL, &qm);
            if (st != QLOW_OK) {
                fprintf(stderr, "quantize %s.%d: %s\n", kind_names[kind], layer, qlow_status_string(st));
                qlow_params_destroy(p);
                return -1;
            }
            double bpw;
            qlow_qmatrix_bits_per_weight(qm, &bpw);
            float *D = (float *)malloc((size_t)rows * cols * sizeof(float));
            qlow_qmatrix_dequantize(qm, 0, rows, D, (size_t)rows * cols);
            t->bits += bpw * rows * cols;
            t->weights += (double)rows * cols;
            for (size_t k = 0; k < (size_t)rows * cols; k++) {
                t->werr += ((double)W[k] - D[k]) * ((double)W[k] - D[k]);
                t->wref += (double)W[k] * W[k];
            }
            double *y = (double *)malloc((size_t)rows * sizeof(double)), *yq = (double *)malloc((size_t)rows * sizeof(double));
            const float *X = inputs[layer * N_KINDS + kind];
            for (int tk = 0; tk < ntok; tk++) {
                matvec(W, rows, cols, X + (size_t)tk * cols, y);
                matvec(D, rows, cols, X + (size_t)tk * cols, yq);
                for (int i = 0; i < rows; i++) {
                    t->oerr += (y[i] - yq[i]) * (y[i] - yq[i]);
                    t->oref += y[i] * y[i];
                }
            }
            free(y);
            free(yq);
            free(D);
            qlow_qmatrix_destroy(qm);
        }
    qlow_params_destroy(p);
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_path = argc > 1 ? argv[1] : "data/stories260K.bin";
    const char *tok_path = argc > 2 ? argv[2] : "data/tok512.bin";
    const char *text_path = argc > 3 ? argv[3] : "data/tinystories_validation_head.txt";
    const int threads = argc > 4 ? atoi(argv[4]) : 1;
    model m;
    vocab v;
    if (load_model(model_path, &m) != 0) {
        fprintf(stderr, "cannot read model %s\n", model_path);
        return 1;
    }
    if (load_vocab(tok_path, m.vocab, &v) != 0) {
        fprintf(stderr, "cannot read tokenizer %s\n", tok_path);
        return 1;
    }
    int tok[MAX_TOKENS], paragraphs = 0;
    const int ntok = text_tokens(&v, text_path, tok, MAX_TOKENS, &paragraphs);
    if (ntok <= 0) {
        fprintf(stderr, "cannot read text %s\n", text_path);
        return 1;
    }
    float *inputs[64 * N_KINDS], *imps[64 * N_KINDS];
    if (m.layers > 64) return 1;
    for (int layer = 0; layer < m.layers; layer++)
        for (int kind = 0; kind < N_KINDS; kind++) {
            int rows, cols;
            matrix_shape(&m, kind, &rows, &cols);
            float *X = (float *)malloc((size_t)ntok * cols * sizeof(float));
            float *imp = (float *)calloc((size_t)cols, sizeof(float));
            layer_inputs(&m, kind, layer, tok, ntok, X);
            for (int t = 0; t < ntok; t++)
                for (int j = 0; j < cols; j++) imp[j] += X[(size_t)t * cols + j] * X[(size_t)t * cols + j] / ntok;
            inputs[layer * N_KINDS + kind] = X;
            imps[layer * N_KINDS + kind] = imp;
        }
    qlow_ctx *ctx = NULL;
    if (qlow_ctx_create(NULL, &ctx) != QLOW_OK) return 1;
    if (threads > 1) qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads);

    printf("libqlow %s primitives on %s: %d layers x 7 matrices (dim %d, hidden %d), inputs: %d tokens from "
           "the first %d TinyStories paragraphs\n\n",
           qlow_version_string(), model_path, m.layers, m.dim, m.hidden, ntok, paragraphs);
    printf("| scheme | format | bits/weight | rel. weight RMSE | rel. weight MSE | rel. output error |\n");
    printf("|---|---|---:|---:|---:|---:|\n");
    static const int bitsv[] = {8, 4, 3, 2};
    config cfgs[128];
    char labels[128][64];
    int nc = 0;
    for (int b = 0; b < 4; b++)
        for (int sym = 0; sym < 2; sym++)
            for (int g = 0; g <= 32; g += 32)
                for (int s = 0; s < 3; s++) {
                    snprintf(labels[nc], sizeof labels[nc], "RTN %s %d-bit G=%s %s", sym ? "sym" : "asym", bitsv[b],
                             g ? "32" : "row", s == 0 ? "min/max" : s == 1 ? "search" : "search+imp");
                    cfgs[nc] = (config){labels[nc], QLOW_SCHEME_RTN, bitsv[b], sym, g, s > 0, QLOW_FORMAT_T158, 1, s == 2};
                    nc++;
                }
    cfgs[nc++] = (config){"binary closed form", QLOW_SCHEME_BINARY, 4, 0, 0, 0, QLOW_FORMAT_T158, 0, 0};
    cfgs[nc++] = (config){"binary optimal split", QLOW_SCHEME_BINARY, 4, 0, 0, 0, QLOW_FORMAT_T158, 1, 0};
    cfgs[nc++] = (config){"binary optimal split+imp", QLOW_SCHEME_BINARY, 4, 0, 0, 0, QLOW_FORMAT_T158, 1, 1};
    cfgs[nc++] = (config){"residual binary (BiLLM o2)", QLOW_SCHEME_BINARY_RESIDUAL, 4, 0, 0, 0, QLOW_FORMAT_T158, 0, 0};
    cfgs[nc++] = (config){"residual binary+imp", QLOW_SCHEME_BINARY_RESIDUAL, 4, 0, 0, 0, QLOW_FORMAT_T158, 0, 1};
    cfgs[nc++] = (config){"ternary (5 trits/byte)", QLOW_SCHEME_TERNARY, 4, 0, 0, 0, QLOW_FORMAT_T158, 0, 0};
    cfgs[nc++] = (config){"ternary (2-bit codes)", QLOW_SCHEME_TERNARY, 4, 0, 0, 0, QLOW_FORMAT_T2, 0, 0};
    cfgs[nc++] = (config){"ternary (5 trits/byte)+imp", QLOW_SCHEME_TERNARY, 4, 0, 0, 0, QLOW_FORMAT_T158, 0, 1};
    double total_weights = 0;
    for (int k = 0; k < nc; k++) {
        totals t;
        if (run_config(ctx, &m, &cfgs[k], inputs, imps, ntok, &t) != 0) return 1;
        const char *fmt = cfgs[k].scheme == QLOW_SCHEME_RTN
                              ? (cfgs[k].bits == 8 ? "Q8" : cfgs[k].bits == 4 ? "Q4" : cfgs[k].bits == 3 ? "Q3" : "Q2")
                          : cfgs[k].scheme == QLOW_SCHEME_BINARY          ? "B1"
                          : cfgs[k].scheme == QLOW_SCHEME_BINARY_RESIDUAL ? "B2"
                                                                          : qlow_format_name(cfgs[k].packing);
        printf("| %s | %s | %.4f | %.4e | %.4e | %.4e |\n", cfgs[k].label, fmt, t.bits / t.weights,
               sqrt(t.werr / t.wref), t.werr / t.wref, sqrt(t.oerr / t.oref));
        total_weights = t.weights;
    }
    printf("\nbits/weight: exact stored bits of all planes (codes incl. row padding to 32, fp16 scales/zeros/"
           "alphas/mus) over all %.0f weights.\nrel. weight RMSE = sqrt(sum ||W-W^||^2 / sum ||W||^2); rel. output "
           "error = sqrt(sum_x ||Wx-W^x||^2 / sum_x ||Wx||^2) over all matrices and inputs.\n",
           total_weights);
    qlow_ctx_destroy(ctx);
    for (int k = 0; k < m.layers * N_KINDS; k++) {
        free(inputs[k]);
        free(imps[k]);
    }
    for (int i = 0; i < v.n; i++) free(v.str[i]);
    free(v.str);
    free(v.len);
    free(m.data);
    return 0;
}
