/* ptq161_data.h - real calibration data for the PTQ1.61 tests: the stories260K llama2.c checkpoint, its
 * tok512 tokenizer and TinyStories paragraphs, run through a plain llama forward pass that records the
 * input rows of every linear (wq/wk/wv share one, w1/w3 share one). Test-only code. */
#ifndef QLOW_TESTS_PTQ161_DATA_H
#define QLOW_TESTS_PTQ161_DATA_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtest.h"

enum { PD_LINEARS = 7 };
static const char *const pd_linear_names[PD_LINEARS] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};

typedef struct pd_model {
    int dim, hidden, layers, heads, kv_heads, vocab, seq_len;
    float *mem;
    float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3;
    char **tok;
    float *score;
} pd_model;

static inline int pd_load(pd_model *m)
{
    char path[512];
    FILE *f = fopen(qt_path("data/stories260K.bin", path, sizeof path), "rb");
    if (!f) return -1;
    int hdr[7];
    if (fread(hdr, 4, 7, f) != 7) { fclose(f); return -1; }
    m->dim = hdr[0]; m->hidden = hdr[1]; m->layers = hdr[2]; m->heads = hdr[3]; m->kv_heads = hdr[4];
    m->vocab = hdr[5] < 0 ? -hdr[5] : hdr[5]; m->seq_len = hdr[6];
    long n = 264128;
    m->mem = (float *)malloc((size_t)n * 4);
    if (!m->mem || fread(m->mem, 4, (size_t)n, f) != (size_t)n) { fclose(f); return -1; }
    fclose(f);
    int d = m->dim, kvd = d * m->kv_heads / m->heads, h = m->hidden, L = m->layers;
    float *p = m->mem;
    m->emb = p; p += m->vocab * d;
    m->rms_att = p; p += L * d;
    m->wq = p; p += L * d * d;
    m->wk = p; p += L * kvd * d;
    m->wv = p; p += L * kvd * d;
    m->wo = p; p += L * d * d;
    m->rms_ffn = p; p += L * d;
    m->w1 = p; p += L * h * d;
    m->w2 = p; p += L * d * h;
    m->w3 = p; p += L * h * d;
    f = fopen(qt_path("data/tok512.bin", path, sizeof path), "rb");
    if (!f) return -1;
    int maxlen;
    if (fread(&maxlen, 4, 1, f) != 1) { fclose(f); return -1; }
    m->tok = (char **)calloc((size_t)m->vocab, sizeof(char *));
    m->score = (float *)calloc((size_t)m->vocab, sizeof(float));
    for (int i = 0; i < m->vocab; i++) {
        int len;
        if (fread(&m->score[i], 4, 1, f) != 1 || fread(&len, 4, 1, f) != 1) { fclose(f); return -1; }
        m->tok[i] = (char *)calloc((size_t)len + 1, 1);
        if (fread(m->tok[i], 1, (size_t)len, f) != (size_t)len) { fclose(f); return -1; }
    }
    fclose(f);
    return 0;
}

static inline void pd_free(pd_model *m)
{
    for (int i = 0; m->tok && i < m->vocab; i++) free(m->tok[i]);
    free(m->tok);
    free(m->score);
    free(m->mem);
}

static inline int pd_lookup(const pd_model *m, const char *s, size_t n)
{
    for (int i = 0; i < m->vocab; i++)
        if (strlen(m->tok[i]) == n && memcmp(m->tok[i], s, n) == 0) return i;
    return -1;
}

/* llama2.c-style encoding: BOS, dummy-prefix space, UTF-8 characters (byte fallback +3), greedy merges. */
static inline int pd_encode(const pd_model *m, const char *text, int *out, int cap)
{
    int n = 0;
    out[n++] = 1;
    size_t tl = strlen(text);
    char *buf = (char *)malloc(tl + 2);
    buf[0] = ' ';
    memcpy(buf + 1, text, tl + 1);
    for (size_t i = 0; buf[i] && n < cap;) {
        size_t len = 1;
        while ((buf[i + len] & 0xC0) == 0x80 && len < 4) len++;
        int id = pd_lookup(m, buf + i, len);
        if (id >= 0) out[n++] = id;
        else
            for (size_t k = 0; k < len && n < cap; k++) out[n++] = (unsigned char)buf[i + k] + 3;
        i += len;
    }
    free(buf);
    char tmp[64];
    for (;;) {
        float best = -1e30f;
        int bi = -1, bid = -1;
        for (int i = 1; i + 1 < n; i++) {
            size_t a = strlen(m->tok[out[i]]), b = strlen(m->tok[out[i + 1]]);
            if (a + b >= sizeof tmp) continue;
            memcpy(tmp, m->tok[out[i]], a);
            memcpy(tmp + a, m->tok[out[i + 1]], b);
            int id = pd_lookup(m, tmp, a + b);
            if (id >= 0 && m->score[id] > best) { best = m->score[id]; bi = i; bid = id; }
        }
        if (bi < 0) break;
        out[bi] = bid;
        memmove(out + bi + 1, out + bi + 2, (size_t)(n - bi - 2) * sizeof(int));
        n--;
    }
    return n;
}

static inline void pd_rmsnorm(float *o, const float *x, const float *w, int d)
{
    double ss = 0;
    for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
    float s = (float)(1.0 / sqrt(ss / d + 1e-5));
    for (int i = 0; i < d; i++) o[i] = w[i] * (s * x[i]);
}

static inline void pd_matvec(float *o, const float *x, const float *w, int n, int d)
{
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)w[i * d + j] * x[j];
        o[i] = (float)s;
    }
}

/* Activations: for each layer and linear, a [tokens x in_features] matrix (row-major). */
typedef struct pd_acts {
    int tokens;
    float *x[8][PD_LINEARS]; /* [layer][linear] */
} pd_acts;

/* The bundled TinyStories text (malloc'd, NUL-terminated) or NULL. Paragraphs are separated by blank lines. */
static inline char *pd_read_text(void)
{
    char path[512];
    FILE *f = fopen(qt_path("data/tinystories_validation_head.txt", path, sizeof path), "rb");
    if (!f) return NULL;
    char *text = (char *)malloc(1 << 20);
    size_t len = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (text) text[len] = 0;
    return text;
}

/* Next non-empty paragraph at *cursor (cut in place), or NULL at the end. */
static inline char *pd_next_paragraph(char **cursor)
{
    while (**cursor) {
        char *p = *cursor, *e = strstr(p, "\n\n");
        if (e) {
            *e = 0;
            *cursor = e + 2;
        } else {
            *cursor = p + strlen(p);
        }
        if (*p) return p;
    }
    return NULL;
}

/* One token at position `pos` through every layer (kc, vc: [layers x seq_len x kv_dim] caches). x[dim] is
 * the residual stream on return. With `a`, the inputs of every linear are stored in row t of a->x. */
static inline void pd_token(const pd_model *m, float *kc, float *vc, int tok, int pos, float *x, pd_acts *a, int t)
{
    const int d = m->dim, kvd = d * m->kv_heads / m->heads, h = m->hidden, hs = d / m->heads, L = m->layers;
    float xb[64], q[64], att[512], xo[64], hb[256], hb2[256];
    memcpy(x, m->emb + tok * d, (size_t)d * 4);
    for (int l = 0; l < L; l++) {
        pd_rmsnorm(xb, x, m->rms_att + l * d, d);
        if (a)
            for (int k = 0; k < 3; k++) memcpy(a->x[l][k] + (size_t)t * d, xb, (size_t)d * 4);
        float *kr = kc + ((size_t)l * m->seq_len + pos) * kvd, *vr = vc + ((size_t)l * m->seq_len + pos) * kvd;
        pd_matvec(q, xb, m->wq + (size_t)l * d * d, d, d);
        pd_matvec(kr, xb, m->wk + (size_t)l * kvd * d, kvd, d);
        pd_matvec(vr, xb, m->wv + (size_t)l * kvd * d, kvd, d);
        for (int i = 0; i < d; i += 2) {
            float fr = 1.0f / powf(10000.0f, (float)(i % hs) / (float)hs), val = pos * fr;
            float c = cosf(val), sn = sinf(val);
            float q0 = q[i], q1 = q[i + 1];
            q[i] = q0 * c - q1 * sn;
            q[i + 1] = q0 * sn + q1 * c;
            if (i < kvd) {
                float k0 = kr[i], k1 = kr[i + 1];
                kr[i] = k0 * c - k1 * sn;
                kr[i + 1] = k0 * sn + k1 * c;
            }
        }
        for (int hh = 0; hh < m->heads; hh++) {
            int kvh = hh / (m->heads / m->kv_heads);
            float mx = -1e30f;
            for (int p2 = 0; p2 <= pos; p2++) {
                const float *kk = kc + ((size_t)l * m->seq_len + p2) * kvd + kvh * hs;
                float sc = 0;
                for (int i = 0; i < hs; i++) sc += q[hh * hs + i] * kk[i];
                att[p2] = sc / sqrtf((float)hs);
                if (att[p2] > mx) mx = att[p2];
            }
            float sum = 0;
            for (int p2 = 0; p2 <= pos; p2++) {
                att[p2] = expf(att[p2] - mx);
                sum += att[p2];
            }
            for (int i = 0; i < hs; i++) {
                float acc = 0;
                for (int p2 = 0; p2 <= pos; p2++)
                    acc += att[p2] / sum * vc[((size_t)l * m->seq_len + p2) * kvd + kvh * hs + i];
                xb[hh * hs + i] = acc;
            }
        }
        if (a) memcpy(a->x[l][3] + (size_t)t * d, xb, (size_t)d * 4);
        pd_matvec(xo, xb, m->wo + (size_t)l * d * d, d, d);
        for (int i = 0; i < d; i++) x[i] += xo[i];
        pd_rmsnorm(xb, x, m->rms_ffn + l * d, d);
        if (a) {
            memcpy(a->x[l][4] + (size_t)t * d, xb, (size_t)d * 4);
            memcpy(a->x[l][6] + (size_t)t * d, xb, (size_t)d * 4);
        }
        pd_matvec(hb, xb, m->w1 + (size_t)l * h * d, h, d);
        pd_matvec(hb2, xb, m->w3 + (size_t)l * h * d, h, d);
        for (int i = 0; i < h; i++) hb[i] = hb[i] / (1.0f + expf(-hb[i])) * hb2[i];
        if (a) memcpy(a->x[l][5] + (size_t)t * h, hb, (size_t)h * 4);
        pd_matvec(xo, hb, m->w2 + (size_t)l * d * h, d, h);
        for (int i = 0; i < d; i++) x[i] += xo[i];
    }
}

/* Run paragraphs starting at paragraph `first` until `want` tokens are recorded. */
static inline int pd_collect(const pd_model *m, int first, int want, pd_acts *a)
{
    char *text = pd_read_text();
    if (!text) return -1;
    const int d = m->dim, kvd = d * m->kv_heads / m->heads, h = m->hidden, L = m->layers;
    const int in_dim[PD_LINEARS] = {d, d, d, d, d, h, d};
    memset(a, 0, sizeof *a);
    for (int l = 0; l < L; l++)
        for (int k = 0; k < PD_LINEARS; k++) a->x[l][k] = (float *)calloc((size_t)want * in_dim[k], 4);
    float *kc = (float *)calloc((size_t)L * m->seq_len * kvd, 4), *vc = (float *)calloc((size_t)L * m->seq_len * kvd, 4);
    float x[64];
    int *toks = (int *)malloc(4096 * sizeof(int));
    int t = 0, para = 0;
    char *cursor = text, *p;
    while (t < want && (p = pd_next_paragraph(&cursor)) != NULL) {
        if (para++ < first) continue;
        int n = pd_encode(m, p, toks, 4096);
        if (n > m->seq_len) n = m->seq_len;
        for (int pos = 0; pos < n && t < want; pos++, t++) pd_token(m, kc, vc, toks[pos], pos, x, a, t);
    }
    free(toks);
    free(kc);
    free(vc);
    free(text);
    a->tokens = t;
    return t == want ? 0 : -1;
}

static inline void pd_acts_free(pd_acts *a)
{
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < PD_LINEARS; k++) free(a->x[l][k]);
}

/* Weight matrix of (layer, linear) and its shape. */
static const float *pd_weight(const pd_model *m, int l, int k, int *rows, int *cols)
{
    int d = m->dim, kvd = d * m->kv_heads / m->heads, h = m->hidden;
    switch (k) {
    case 0: *rows = d; *cols = d; return m->wq + (size_t)l * d * d;
    case 1: *rows = kvd; *cols = d; return m->wk + (size_t)l * kvd * d;
    case 2: *rows = kvd; *cols = d; return m->wv + (size_t)l * kvd * d;
    case 3: *rows = d; *cols = d; return m->wo + (size_t)l * d * d;
    case 4: *rows = h; *cols = d; return m->w1 + (size_t)l * h * d;
    case 5: *rows = d; *cols = h; return m->w2 + (size_t)l * d * h;
    default: *rows = h; *cols = d; return m->w3 + (size_t)l * h * d;
    }
}

/* Reference outputs Y [T x rows] = X W^T in double. */
static inline double *pd_outputs(const float *W, int rows, int cols, const float *X, int T)
{
    double *Y = (double *)malloc((size_t)T * rows * sizeof(double));
    for (int t = 0; t < T; t++)
        for (int i = 0; i < rows; i++) {
            double y = 0;
            for (int j = 0; j < cols; j++) y += (double)W[i * cols + j] * X[(size_t)t * cols + j];
            Y[(size_t)t * rows + i] = y;
        }
    return Y;
}

/* Relative output error sum|Y - Yh|^2 / sum|Y|^2 and mean token cosine of W_hat (fed x / fold) against
 * the reference outputs Y from pd_outputs(). */
static inline void pd_output_error(const double *Y, const float *Wh, const float *fold, int rows, int cols, const float *X,
                            int T, double *rel_mse, double *mean_cos)
{
    double e2 = 0, y2 = 0, cs = 0;
    float *xs = (float *)malloc((size_t)cols * sizeof(float));
    for (int t = 0; t < T; t++) {
        const float *x = X + (size_t)t * cols;
        for (int j = 0; j < cols; j++) xs[j] = fold ? x[j] / fold[j] : x[j];
        double yy = 0, hh = 0, yh = 0;
        for (int i = 0; i < rows; i++) {
            double y = Y[(size_t)t * rows + i], z = 0;
            for (int j = 0; j < cols; j++) z += (double)Wh[i * cols + j] * xs[j];
            e2 += (y - z) * (y - z);
            y2 += y * y;
            yy += y * y;
            hh += z * z;
            yh += y * z;
        }
        cs += (yy > 0 && hh > 0) ? yh / sqrt(yy * hh) : 0;
    }
    free(xs);
    *rel_mse = y2 > 0 ? e2 / y2 : 0;
    *mean_cos = cs / T;
}

/* BiLLM-style baseline per row (no Hessian compensation): top 10% columns by sum_i w^2 * H_jj get
 * order-2 residual binarization; the rest is split at the |w| percentile (10..90%) that minimizes the
 * row's squared error, each group binarized with its own mean and scale. */
static inline void pd_binarize_group(const float *w, const unsigned char *in, int n, float *out)
{
    double mu = 0, cnt = 0, a = 0;
    for (int j = 0; j < n; j++)
        if (in[j]) { mu += w[j]; cnt++; }
    if (cnt == 0) return;
    mu /= cnt;
    for (int j = 0; j < n; j++)
        if (in[j]) a += fabs(w[j] - mu);
    a /= cnt;
    for (int j = 0; j < n; j++)
        if (in[j]) out[j] = (float)(w[j] >= mu ? mu + a : mu - a);
}

static inline void pd_billm_style(const float *W, int rows, int cols, const float *X, int T, float *Wh)
{
    double *hd = (double *)calloc((size_t)cols, sizeof(double)), *score = (double *)calloc((size_t)cols, sizeof(double));
    for (int t = 0; t < T; t++)
        for (int j = 0; j < cols; j++) hd[j] += (double)X[(size_t)t * cols + j] * X[(size_t)t * cols + j];
    for (int j = 0; j < cols; j++)
        for (int i = 0; i < rows; i++) score[j] += (double)W[i * cols + j] * W[i * cols + j] * hd[j];
    unsigned char *sal = (unsigned char *)calloc((size_t)cols, 1), *grp = (unsigned char *)calloc((size_t)cols, 1);
    int ks = cols / 10;
    for (int k = 0; k < ks; k++) {
        int best = -1;
        for (int j = 0; j < cols; j++)
            if (!sal[j] && (best < 0 || score[j] > score[best])) best = j;
        sal[best] = 1;
    }
    float *tmp = (float *)malloc((size_t)cols * 4), *res = (float *)malloc((size_t)cols * 4), *best_row = (float *)malloc((size_t)cols * 4);
    float *absv = (float *)malloc((size_t)cols * 4);
    for (int i = 0; i < rows; i++) {
        const float *w = W + i * cols;
        float *o = Wh + i * cols;
        pd_binarize_group(w, sal, cols, o);
        for (int j = 0; j < cols; j++) res[j] = sal[j] ? w[j] - o[j] : 0;
        pd_binarize_group(res, sal, cols, tmp);
        for (int j = 0; j < cols; j++)
            if (sal[j]) o[j] += tmp[j];
        int nn = 0;
        for (int j = 0; j < cols; j++)
            if (!sal[j]) absv[nn++] = fabsf(w[j]);
        for (int a = 1; a < nn; a++)
            for (int b = a; b > 0 && absv[b - 1] > absv[b]; b--) { float x = absv[b]; absv[b] = absv[b - 1]; absv[b - 1] = x; }
        double best_err = 1e300;
        for (int pc = 10; pc <= 90; pc += 10) {
            float thr = absv[nn * pc / 100];
            for (int j = 0; j < cols; j++) grp[j] = !sal[j] && fabsf(w[j]) < thr;
            for (int j = 0; j < cols; j++) tmp[j] = o[j];
            pd_binarize_group(w, grp, cols, tmp);
            for (int j = 0; j < cols; j++) grp[j] = !sal[j] && fabsf(w[j]) >= thr;
            pd_binarize_group(w, grp, cols, tmp);
            double err = 0;
            for (int j = 0; j < cols; j++)
                if (!sal[j]) err += (double)(w[j] - tmp[j]) * (w[j] - tmp[j]);
            if (err < best_err) { best_err = err; memcpy(best_row, tmp, (size_t)cols * 4); }
        }
        memcpy(o, best_row, (size_t)cols * 4);
    }
    free(hd); free(score); free(sal); free(grp); free(tmp); free(res); free(best_row); free(absv);
}

#endif
