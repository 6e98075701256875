/* ptq161_data.h - real calibration data for the PTQ1.61 tests: the stories260K llama2.c checkpoint, its
 * tok512 tokenizer and TinyStories paragraphs, run through the tests' plain forward pass
 * (stories_forward.h) that records the input rows of every linear (wq/wk/wv share one, w1/w3 share
 * one); reference outputs, errors and a BiLLM-style baseline on top. Test-only code. */
#ifndef QLOW_TESTS_PTQ161_DATA_H
#define QLOW_TESTS_PTQ161_DATA_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qtest.h"
#include "stories_forward.h"

enum { PD_LINEARS = 7 };
static const char *const pd_linear_names[PD_LINEARS] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};

/* The model (stories_forward.h): its weights in m.blob, which callers may overwrite to evaluate a
 * quantized copy. */
typedef stories pd_model;

static inline int pd_load(pd_model *m)
{
    char path[512];
    return stories_load(m, qt_path("data/stories260K.bin", path, sizeof path));
}

/* Activations: for each layer and linear, a [tokens x in_features] matrix (row-major). The linears
 * that read the same input share one buffer (wq/wk/wv, w1/w3). */
typedef struct pd_acts {
    int tokens;
    float *x[8][PD_LINEARS]; /* [layer][linear] */
    float *site[8][ST_SITES];
} pd_acts;

/* Record `want` tokens of the bundled TinyStories text from (non-empty) paragraph `first` on, each
 * paragraph cut at the model's context. */
static inline int pd_collect(const pd_model *m, int first, int want, pd_acts *a)
{
    char tpath[512], kpath[512];
    const int site_of[PD_LINEARS] = {ST_SITE_ATTN, ST_SITE_ATTN, ST_SITE_ATTN, ST_SITE_WO,
                                     ST_SITE_FFN,  ST_SITE_W2,   ST_SITE_FFN};
    memset(a, 0, sizeof *a);
    if (m->layers > 8) return -1;
    for (int l = 0; l < m->layers; l++)
        for (int s = 0; s < ST_SITES; s++)
            a->site[l][s] = (float *)calloc((size_t)want * (s == ST_SITE_W2 ? m->hidden : m->dim), sizeof(float));
    const int64_t n = stories_calibrate(m, qt_path("data/tinystories_validation_head.txt", tpath, sizeof tpath),
                                        qt_path("data/tok512.bin", kpath, sizeof kpath), first, m->seq, want, a->site);
    for (int l = 0; l < m->layers; l++)
        for (int k = 0; k < PD_LINEARS; k++) a->x[l][k] = a->site[l][site_of[k]];
    a->tokens = n < 0 ? 0 : (int)n;
    return n == want ? 0 : -1;
}

static inline void pd_acts_free(pd_acts *a)
{
    for (int l = 0; l < 8; l++)
        for (int s = 0; s < ST_SITES; s++) free(a->site[l][s]);
}

/* Weight matrix of (layer, linear) and its shape. */
static inline const float *pd_weight(const pd_model *m, int l, int k, int *rows, int *cols)
{
    int site;
    return stories_matrix(m, l, k, rows, cols, &site);
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
