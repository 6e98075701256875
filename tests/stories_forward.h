/* stories_forward.h - a plain fp32 forward pass of the bundled stories260K (llama2.c format) that
 * records the input of every linear layer, for tests that need real activations. Llama-2: RMSNorm
 * (eps 1e-5), RoPE (theta 10000, interleaved pairs), GQA attention, SwiGLU FFN. */
#ifndef QLOW_TEST_STORIES_FORWARD_H
#define QLOW_TEST_STORIES_FORWARD_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlow.h"

enum { ST_SITE_ATTN = 0, ST_SITE_WO = 1, ST_SITE_FFN = 2, ST_SITE_W2 = 3, ST_SITES = 4 };

typedef struct stories {
    int dim, hidden, layers, heads, kv_heads, vocab, seq;
    float *blob;
    float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final;
} stories;

static inline int stories_load(stories *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int hdr[7];
    if (fread(hdr, sizeof(int), 7, f) != 7) return fclose(f), -1;
    m->dim = hdr[0], m->hidden = hdr[1], m->layers = hdr[2], m->heads = hdr[3], m->kv_heads = hdr[4];
    m->vocab = hdr[5] < 0 ? -hdr[5] : hdr[5], m->seq = hdr[6];
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f) - 28;
    fseek(f, 28, SEEK_SET);
    m->blob = bytes > 0 ? malloc((size_t)bytes) : NULL;
    if (!m->blob || fread(m->blob, 1, (size_t)bytes, f) != (size_t)bytes) {
        free(m->blob);
        m->blob = NULL;
        return fclose(f), -1;
    }
    fclose(f);
    int d = m->dim, hd = d / m->heads, kvd = m->kv_heads * hd, L = m->layers;
    float *p = m->blob;
    m->emb = p, p += (size_t)m->vocab * d;
    m->rms_att = p, p += (size_t)L * d;
    m->wq = p, p += (size_t)L * d * d;
    m->wk = p, p += (size_t)L * kvd * d;
    m->wv = p, p += (size_t)L * kvd * d;
    m->wo = p, p += (size_t)L * d * d;
    m->rms_ffn = p, p += (size_t)L * d;
    m->w1 = p, p += (size_t)L * m->hidden * d;
    m->w2 = p, p += (size_t)L * d * m->hidden;
    m->w3 = p, p += (size_t)L * m->hidden * d;
    m->rms_final = p;
    return 0;
}

/* Floats of the blob that hold the model's tensors, emb through rms_final: what a caller saves to
 * restore weights it overwrites in place. */
static inline size_t stories_floats(const stories *m) { return (size_t)(m->rms_final - m->blob) + (size_t)m->dim; }

/* Release what stories_load allocated (the weight blob). */
static inline void stories_free(stories *m) { free(m->blob); }

/* The weight matrix `k` (0 wq, 1 wk, 2 wv, 3 wo, 4 w1, 5 w2, 6 w3) of layer l, its shape and the
 * recording site of its input. */
static inline const float *stories_matrix(const stories *m, int l, int k, int *rows, int *cols, int *site)
{
    int d = m->dim, hd = d / m->heads, kvd = m->kv_heads * hd, h = m->hidden;
    switch (k) {
    case 0: *rows = d, *cols = d, *site = ST_SITE_ATTN; return m->wq + (size_t)l * d * d;
    case 1: *rows = kvd, *cols = d, *site = ST_SITE_ATTN; return m->wk + (size_t)l * kvd * d;
    case 2: *rows = kvd, *cols = d, *site = ST_SITE_ATTN; return m->wv + (size_t)l * kvd * d;
    case 3: *rows = d, *cols = d, *site = ST_SITE_WO; return m->wo + (size_t)l * d * d;
    case 4: *rows = h, *cols = d, *site = ST_SITE_FFN; return m->w1 + (size_t)l * h * d;
    case 5: *rows = d, *cols = h, *site = ST_SITE_W2; return m->w2 + (size_t)l * d * h;
    default: *rows = h, *cols = d, *site = ST_SITE_FFN; return m->w3 + (size_t)l * h * d;
    }
}
static const char *const stories_matrix_names[7] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};

static inline void st_matvec(const float *W, const float *x, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = 0.0;
        for (int c = 0; c < cols; c++) s += (double)W[(size_t)r * cols + c] * x[c];
        y[r] = (float)s;
    }
}

static inline void st_rmsnorm(float *out, const float *x, const float *w, int n)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / n + 1e-5));
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * inv);
}

/* Run tokens[0..n) as one sequence; rec[l][site] (if non-NULL) receives row `row0 + pos` of the inputs
 * of layer l at that site (widths dim, dim, dim, hidden). With nll non-NULL, adds the negative
 * log-likelihood of every next token (n - 1 of them) to *nll. */
static inline void stories_forward_nll(const stories *m, const int32_t *tokens, int n, float *(*rec)[ST_SITES],
                                       int64_t row0, double *nll)
{
    int d = m->dim, hd = d / m->heads, kvd = m->kv_heads * hd, H = m->hidden, L = m->layers;
    float *x = malloc(sizeof(float) * d), *xb = malloc(sizeof(float) * d), *q = malloc(sizeof(float) * d);
    float *att_out = malloc(sizeof(float) * d), *tmp = malloc(sizeof(float) * d);
    float *hb = malloc(sizeof(float) * H), *hb2 = malloc(sizeof(float) * H), *att = malloc(sizeof(float) * n);
    float *kc = malloc(sizeof(float) * (size_t)L * n * kvd), *vc = malloc(sizeof(float) * (size_t)L * n * kvd);
    for (int pos = 0; pos < n; pos++) {
        memcpy(x, m->emb + (size_t)tokens[pos] * d, sizeof(float) * d);
        for (int l = 0; l < L; l++) {
            st_rmsnorm(xb, x, m->rms_att + (size_t)l * d, d);
            if (rec) memcpy(rec[l][ST_SITE_ATTN] + (row0 + pos) * d, xb, sizeof(float) * d);
            float *k = kc + ((size_t)l * n + pos) * kvd, *v = vc + ((size_t)l * n + pos) * kvd;
            st_matvec(m->wq + (size_t)l * d * d, xb, q, d, d);
            st_matvec(m->wk + (size_t)l * kvd * d, xb, k, kvd, d);
            st_matvec(m->wv + (size_t)l * kvd * d, xb, v, kvd, d);
            for (int i = 0; i < d; i += 2) {
                float freq = 1.0f / powf(10000.0f, (float)(i % hd) / (float)hd);
                float c = cosf(pos * freq), s = sinf(pos * freq);
                float a = q[i], b = q[i + 1];
                q[i] = a * c - b * s, q[i + 1] = a * s + b * c;
                if (i < kvd) {
                    a = k[i], b = k[i + 1];
                    k[i] = a * c - b * s, k[i + 1] = a * s + b * c;
                }
            }
            for (int h = 0; h < m->heads; h++) {
                int kvh = h / (m->heads / m->kv_heads);
                float mx = -1e30f;
                for (int t = 0; t <= pos; t++) {
                    const float *kt = kc + ((size_t)l * n + t) * kvd + kvh * hd;
                    float s = 0.0f;
                    for (int i = 0; i < hd; i++) s += q[h * hd + i] * kt[i];
                    att[t] = s / sqrtf((float)hd);
                    if (att[t] > mx) mx = att[t];
                }
                float sum = 0.0f;
                for (int t = 0; t <= pos; t++) sum += (att[t] = expf(att[t] - mx));
                for (int i = 0; i < hd; i++) att_out[h * hd + i] = 0.0f;
                for (int t = 0; t <= pos; t++) {
                    const float *vt = vc + ((size_t)l * n + t) * kvd + kvh * hd;
                    for (int i = 0; i < hd; i++) att_out[h * hd + i] += att[t] / sum * vt[i];
                }
            }
            if (rec) memcpy(rec[l][ST_SITE_WO] + (row0 + pos) * d, att_out, sizeof(float) * d);
            st_matvec(m->wo + (size_t)l * d * d, att_out, tmp, d, d);
            for (int i = 0; i < d; i++) x[i] += tmp[i];
            st_rmsnorm(xb, x, m->rms_ffn + (size_t)l * d, d);
            if (rec) memcpy(rec[l][ST_SITE_FFN] + (row0 + pos) * d, xb, sizeof(float) * d);
            st_matvec(m->w1 + (size_t)l * H * d, xb, hb, H, d);
            st_matvec(m->w3 + (size_t)l * H * d, xb, hb2, H, d);
            for (int i = 0; i < H; i++) hb[i] = hb[i] / (1.0f + expf(-hb[i])) * hb2[i];
            if (rec) memcpy(rec[l][ST_SITE_W2] + (row0 + pos) * H, hb, sizeof(float) * H);
            st_matvec(m->w2 + (size_t)l * d * H, hb, tmp, d, H);
            for (int i = 0; i < d; i++) x[i] += tmp[i];
        }
        if (nll && pos + 1 < n) {
            st_rmsnorm(xb, x, m->rms_final, d);
            double mx = -1e300, sum = 0.0, target = 0.0;
            for (int v = 0; v < m->vocab; v++) {
                double z = 0.0;
                for (int i = 0; i < d; i++) z += (double)m->emb[(size_t)v * d + i] * xb[i];
                if (v == tokens[pos + 1]) target = z;
                if (z > mx) {
                    sum = sum * exp(mx - z) + 1.0;
                    mx = z;
                } else {
                    sum += exp(z - mx);
                }
            }
            *nll += mx + log(sum) - target;
        }
    }
    free(x), free(xb), free(q), free(att_out), free(tmp), free(hb), free(hb2), free(att), free(kc), free(vc);
}

static inline void stories_forward(const stories *m, const int32_t *tokens, int n, float *(*rec)[ST_SITES],
                                   int64_t row0)
{
    stories_forward_nll(m, tokens, n, rec, row0, NULL);
}

/* Tokenize the non-empty paragraphs of the bundled TinyStories text after the first skip_paragraphs
 * (at most max_paragraphs of them, 0: no limit) (BOS + up to max_len tokens each) and run up to
 * max_tokens tokens: rec (if non-NULL) records their layer inputs, nll (if non-NULL) adds their
 * next-token NLL and scored the count of scored tokens. Returns the number of tokens run. rec[l][s] must
 * hold max_tokens rows. */
static inline int64_t stories_run(const stories *m, const char *text_path, const char *tok_path,
                                  int64_t skip_paragraphs, int64_t max_paragraphs, int max_len, int64_t max_tokens,
                                  float *(*rec)[ST_SITES], double *nll, int64_t *scored)
{
    FILE *f = fopen(text_path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    if (fread(text, 1, (size_t)n, f) != (size_t)n) return fclose(f), free(text), -1;
    fclose(f);
    text[n] = 0;
    qlow_tokenizer *tok = NULL;
    if (qlow_tokenizer_open(tok_path, m->vocab, NULL, &tok) != QLOW_OK) return free(text), -1;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(n + 3));
    int64_t rows = 0, para = 0;
    char *p = text;
    while (*p && rows < max_tokens && (max_paragraphs <= 0 || para < skip_paragraphs + max_paragraphs)) {
        char *end = strstr(p, "\n\n");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && para++ >= skip_paragraphs) {
            size_t cnt = 0;
            if (qlow_tokenizer_encode(tok, p, len, 1, 0, ids, len + 3, &cnt) == QLOW_OK && cnt > 1) {
                int use = (int)cnt < max_len ? (int)cnt : max_len;
                if (rows + use > max_tokens) use = (int)(max_tokens - rows);
                stories_forward_nll(m, ids, use, rec, rows, nll);
                if (scored) *scored += use - 1;
                rows += use;
            }
        }
        if (!end) break;
        p = end + 2;
    }
    free(ids);
    free(text);
    qlow_tokenizer_close(tok);
    return rows;
}

static inline int64_t stories_calibrate(const stories *m, const char *text_path, const char *tok_path,
                                        int64_t skip_paragraphs, int max_len, int64_t max_tokens,
                                        float *(*rec)[ST_SITES])
{
    return stories_run(m, text_path, tok_path, skip_paragraphs, 0, max_len, max_tokens, rec, NULL, NULL);
}
#endif
