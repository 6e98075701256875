/* qt_stories.h - tests' own reader of the bundled llama2.c checkpoint data/stories260K.bin: 7 int32 header
 * fields, then fp32 tensors token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, ... */
#ifndef QLOW_QT_STORIES_H
#define QLOW_QT_STORIES_H

#include "qtest.h"

typedef struct qt_stories {
    int dim, hidden, layers, heads, kv_heads, vocab, seq;
    float *data;
    size_t count;
    const float *emb, *wq, *wk, *wv, *wo, *w1, *w2, *w3;
} qt_stories;

typedef struct qt_matrix {
    const char *name;
    int layer;
    int rows, cols;
    const float *w;
} qt_matrix;

static inline int qt_stories_load(qt_stories *m)
{
    char path[512];
    FILE *f = fopen(qt_path("data/stories260K.bin", path, sizeof path), "rb");
    if (!f) return -1;
    int32_t h[7];
    if (fread(h, 4, 7, f) != 7) {
        fclose(f);
        return -1;
    }
    m->dim = h[0];
    m->hidden = h[1];
    m->layers = h[2];
    m->heads = h[3];
    m->kv_heads = h[4];
    m->vocab = h[5] < 0 ? -h[5] : h[5];
    m->seq = h[6];
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f) - 28;
    fseek(f, 28, SEEK_SET);
    m->count = (size_t)bytes / 4;
    m->data = (float *)malloc((size_t)bytes);
    if (!m->data || fread(m->data, 4, m->count, f) != m->count) {
        fclose(f);
        return -1;
    }
    fclose(f);
    size_t d = (size_t)m->dim, hd = (size_t)m->hidden, L = (size_t)m->layers;
    size_t kv = d * (size_t)m->kv_heads / (size_t)m->heads;
    size_t off = 0;
    m->emb = m->data + off;
    off += (size_t)m->vocab * d;
    off += L * d; /* rms_att */
    m->wq = m->data + off;
    off += L * d * d;
    m->wk = m->data + off;
    off += L * d * kv;
    m->wv = m->data + off;
    off += L * d * kv;
    m->wo = m->data + off;
    off += L * d * d;
    off += L * d; /* rms_ffn */
    m->w1 = m->data + off;
    off += L * hd * d;
    m->w2 = m->data + off;
    off += L * d * hd;
    m->w3 = m->data + off;
    off += L * hd * d;
    return off <= m->count ? 0 : -1;
}

/* The 35 weight matrices (7 kinds x layers), in a fixed order. Returns the count written (<= max). */
static inline int qt_stories_matrices(const qt_stories *m, qt_matrix *out, int max)
{
    int n = 0, d = m->dim, hd = m->hidden, kv = m->dim * m->kv_heads / m->heads;
    for (int l = 0; l < m->layers; l++) {
        const qt_matrix list[7] = {
            {"wq", l, d, d, m->wq + (size_t)l * d * d},    {"wk", l, kv, d, m->wk + (size_t)l * kv * d},
            {"wv", l, kv, d, m->wv + (size_t)l * kv * d},  {"wo", l, d, d, m->wo + (size_t)l * d * d},
            {"w1", l, hd, d, m->w1 + (size_t)l * hd * d},  {"w2", l, d, hd, m->w2 + (size_t)l * d * hd},
            {"w3", l, hd, d, m->w3 + (size_t)l * hd * d}};
        for (int k = 0; k < 7 && n < max; k++) out[n++] = list[k];
    }
    return n;
}

#endif
