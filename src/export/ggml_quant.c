/* ggml_quant.c - per-block quantizers of the 32-element ggml types and the ternary 256-element types:
 * ggml's published rule and libqlow's weighted search (which tries the rule's own scale first, so it is
 * never worse on the weighted error), and the byte packing of each block. */
#include <math.h>
#include <string.h>

#include "export/ggml_blocks.h"
#include "export/ggml_search.h"

const int8_t qlow__iq4nl_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static const float iq4nl_tab[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static void st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}
static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }

static void grid_of(int32_t type, qlow__lgrid *g)
{
    memset(g, 0, sizeof *g);
    g->fp16 = 1;
    switch (type) {
    case QLOW_GGML_Q4_0: g->lo = -8, g->hi = 7; break;
    case QLOW_GGML_Q5_0: g->lo = -16, g->hi = 15; break;
    case QLOW_GGML_Q8_0: g->lo = -128, g->hi = 127; break;
    case QLOW_GGML_Q4_1: g->asym = 1, g->hi = 15; break;
    case QLOW_GGML_Q5_1: g->asym = 1, g->hi = 31; break;
    case QLOW_GGML_IQ4_NL: g->tab = iq4nl_tab, g->ntab = 16; break;
    default: g->lo = -1, g->hi = 1; break; /* TQ1_0, TQ2_0 */
    }
}

static void extremes(const float *x, int n, float *lo, float *hi, float *xm)
{
    *lo = *hi = *xm = x[0];
    for (int j = 1; j < n; j++) {
        *lo = x[j] < *lo ? x[j] : *lo;
        *hi = x[j] > *hi ? x[j] : *hi;
        *xm = fabsf(x[j]) > fabsf(*xm) ? x[j] : *xm;
    }
}

/* ggml's IQ4_NL scale rule: x^2-weighted least squares over 15 trial scales around max / 127. */
static float iq4nl_rule_scale(const float *x, int n)
{
    float lo, hi, xm;
    extremes(x, n, &lo, &hi, &xm);
    if (xm == 0.0f) return 0.0f;
    float d = -xm / iq4nl_tab[0], best = 0.0f;
    for (int itry = -8; itry <= 7; itry++) {
        float id = itry < -7 ? 1.0f / d : ((float)itry + iq4nl_tab[0]) / xm;
        double sqx = 0, sqq = 0;
        for (int j = 0; j < n; j++) {
            float t = id * x[j];
            int c = 0;
            for (int k = 1; k < 16; k++)
                if (fabsf(t - iq4nl_tab[k]) < fabsf(t - iq4nl_tab[c])) c = k;
            double w = (double)x[j] * x[j], q = iq4nl_tab[c];
            sqx += w * q * x[j], sqq += w * q * q;
        }
        if (sqq > 0 && (itry < -7 || sqx * sqx > (double)best * sqq)) {
            d = (float)(sqx / sqq);
            best = (float)(d * sqx);
        }
    }
    return d;
}

/* ggml's rule, including its code choice where it differs from nearest rounding on the fp16 scale
 * (codes from the fp32 scale, round half up). */
static double rule_block(int32_t type, const qlow__lgrid *g, const float *x, const float *w, int n,
                         uint8_t *idx, float *dq, float *dm)
{
    float lo, hi, xm;
    extremes(x, n, &lo, &hi, &xm);
    float d = 0.0f, m = 0.0f;
    switch (type) {
    case QLOW_GGML_Q4_0:
    case QLOW_GGML_Q5_0: {
        float c = type == QLOW_GGML_Q4_0 ? 8.0f : 16.0f;
        d = xm / -c;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < n; j++) {
            int q = (int)(int8_t)(x[j] * id + c + 0.5f);
            idx[j] = (uint8_t)(q > 2 * (int)c - 1 ? 2 * (int)c - 1 : q);
        }
        break;
    }
    case QLOW_GGML_Q4_1:
    case QLOW_GGML_Q5_1: {
        int qmax = type == QLOW_GGML_Q4_1 ? 15 : 31;
        d = (hi - lo) / (float)qmax;
        m = lo;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < n; j++) {
            int q = (int)(int8_t)((x[j] - lo) * id + 0.5f);
            idx[j] = (uint8_t)(q > qmax ? qmax : q);
        }
        break;
    }
    case QLOW_GGML_Q8_0: {
        d = fabsf(xm) / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < n; j++) idx[j] = (uint8_t)((int)roundf(x[j] * id) + 128);
        break;
    }
    case QLOW_GGML_IQ4_NL: {
        d = qlow_fp16_to_fp32(qlow_fp32_to_fp16(iq4nl_rule_scale(x, n)));
        qlow__lgrid_round(g, d, 0.0f, x, NULL, n, idx, NULL);
        break;
    }
    default: { /* TQ1_0 / TQ2_0: d = absmax, codes round(x / d) */
        d = fabsf(xm);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < n; j++) idx[j] = (uint8_t)((int)lroundf(x[j] * id) + 1);
        break;
    }
    }
    *dq = qlow_fp16_to_fp32(qlow_fp32_to_fp16(d));
    *dm = qlow_fp16_to_fp32(qlow_fp32_to_fp16(m));
    double err = 0;
    for (int j = 0; j < n; j++) {
        float v = g->asym ? *dq * (float)idx[j] + *dm : *dq * qlow__lgrid_level(g, idx[j]);
        double diff = (double)x[j] - v;
        err += (w ? (double)w[j] : 1.0) * diff * diff;
    }
    return err;
}

static void pack_nibbles(uint8_t *qs, const uint8_t *idx)
{
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((idx[j] & 15) | (idx[j + 16] & 15) << 4);
}

static void pack_qh(uint8_t *qh, const uint8_t *idx)
{
    uint32_t h = 0;
    for (int j = 0; j < 32; j++) h |= (uint32_t)((idx[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(h >> (8 * k));
}

static uint8_t trits_byte(const uint8_t *t, int count, int stride)
{
    unsigned q = 0;
    for (int k = 0; k < count; k++) q = q * 3 + t[k * stride];
    for (int k = count; k < 5; k++) q *= 3;
    return (uint8_t)((q * 256 + 242) / 243);
}

static void pack(int32_t type, const uint8_t *idx, uint16_t dh, uint16_t mh, uint8_t *dst)
{
    switch (type) {
    case QLOW_GGML_Q4_0:
    case QLOW_GGML_IQ4_NL: st16(dst, dh), pack_nibbles(dst + 2, idx); break;
    case QLOW_GGML_Q4_1: st16(dst, dh), st16(dst + 2, mh), pack_nibbles(dst + 4, idx); break;
    case QLOW_GGML_Q5_0: st16(dst, dh), pack_qh(dst + 2, idx), pack_nibbles(dst + 6, idx); break;
    case QLOW_GGML_Q5_1:
        st16(dst, dh), st16(dst + 2, mh), pack_qh(dst + 4, idx), pack_nibbles(dst + 8, idx);
        break;
    case QLOW_GGML_Q8_0:
        st16(dst, dh);
        for (int j = 0; j < 32; j++) dst[2 + j] = (uint8_t)(idx[j] - 128); /* int8 two's complement */
        break;
    case QLOW_GGML_TQ2_0:
        memset(dst, 0, 64);
        for (int j = 0; j < 2; j++)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++) dst[j * 32 + m] |= (uint8_t)(idx[j * 128 + l * 32 + m] << (2 * l));
        st16(dst + 64, dh);
        break;
    default: /* TQ1_0 */
        for (int m = 0; m < 32; m++) dst[m] = trits_byte(idx + m, 5, 32);
        for (int m = 0; m < 16; m++) dst[32 + m] = trits_byte(idx + 160 + m, 5, 16);
        for (int j = 0; j < 4; j++) dst[48 + j] = trits_byte(idx + 240 + j, 4, 4);
        st16(dst + 52, dh);
        break;
    }
}

double qlow__ggml_quantize_block(const qlow__ggml_traits *t, const float *x, const float *imp, int32_t search,
                                 int32_t steps, uint8_t *dst, float *deq)
{
    if (t->block == 256 && t->type != QLOW_GGML_TQ1_0 && t->type != QLOW_GGML_TQ2_0)
        return qlow__ggml_kquant_block(t->type, x, imp, search, steps, dst, deq);
    qlow__lgrid g;
    grid_of(t->type, &g);
    int n = t->block;
    uint8_t idx[QLOW__GGML_MAX_BLOCK];
    float d, m;
    double err = rule_block(t->type, &g, x, imp, n, idx, &d, &m);
    if (search) {
        qlow__lfit best = {d, m, err};
        int ternary = t->block == 256;
        qlow__lgrid_search(&g, d, m, x, imp, n, steps, ternary ? 0.2f : 0.4f, &best, idx);
        d = best.d, m = best.m, err = best.err;
    }
    pack(t->type, idx, qlow_fp32_to_fp16(d), qlow_fp32_to_fp16(m), dst);
    if (deq) qlow__ggml_decode_block(t, dst, deq);
    return err;
}

static void decode_nibbles(const uint8_t *qs, int *q)
{
    for (int j = 0; j < 16; j++) q[j] = qs[j] & 15, q[j + 16] = qs[j] >> 4;
}

static void add_qh(const uint8_t *qh, int *q)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    for (int j = 0; j < 32; j++) q[j] |= (int)((h >> j) & 1) << 4;
}

static int trit(uint8_t byte, int k)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t q = (uint8_t)(byte * pow3[k]);
    return (int)(((unsigned)q * 3) >> 8);
}

void qlow__ggml_decode_block(const qlow__ggml_traits *t, const uint8_t *src, float *out)
{
    int q[32];
    switch (t->type) {
    case QLOW_GGML_Q4_0: {
        float d = qlow_fp16_to_fp32(ld16(src));
        decode_nibbles(src + 2, q);
        for (int j = 0; j < 32; j++) out[j] = (float)(q[j] - 8) * d;
        break;
    }
    case QLOW_GGML_IQ4_NL: {
        float d = qlow_fp16_to_fp32(ld16(src));
        decode_nibbles(src + 2, q);
        for (int j = 0; j < 32; j++) out[j] = d * (float)qlow__iq4nl_levels[q[j]];
        break;
    }
    case QLOW_GGML_Q4_1: {
        float d = qlow_fp16_to_fp32(ld16(src)), m = qlow_fp16_to_fp32(ld16(src + 2));
        decode_nibbles(src + 4, q);
        for (int j = 0; j < 32; j++) out[j] = (float)q[j] * d + m;
        break;
    }
    case QLOW_GGML_Q5_0: {
        float d = qlow_fp16_to_fp32(ld16(src));
        decode_nibbles(src + 6, q);
        add_qh(src + 2, q);
        for (int j = 0; j < 32; j++) out[j] = (float)(q[j] - 16) * d;
        break;
    }
    case QLOW_GGML_Q5_1: {
        float d = qlow_fp16_to_fp32(ld16(src)), m = qlow_fp16_to_fp32(ld16(src + 2));
        decode_nibbles(src + 8, q);
        add_qh(src + 4, q);
        for (int j = 0; j < 32; j++) out[j] = (float)q[j] * d + m;
        break;
    }
    case QLOW_GGML_Q8_0: {
        float d = qlow_fp16_to_fp32(ld16(src));
        for (int j = 0; j < 32; j++) out[j] = (float)(int8_t)src[2 + j] * d;
        break;
    }
    case QLOW_GGML_Q2_K:
    case QLOW_GGML_Q3_K:
    case QLOW_GGML_Q4_K:
    case QLOW_GGML_Q5_K:
    case QLOW_GGML_Q6_K: qlow__ggml_kquant_decode(t->type, src, out); break;
    case QLOW_GGML_TQ2_0: {
        float d = qlow_fp16_to_fp32(ld16(src + 64));
        for (int j = 0; j < 2; j++)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++)
                    out[j * 128 + l * 32 + m] = (float)(((src[j * 32 + m] >> (2 * l)) & 3) - 1) * d;
        break;
    }
    default: { /* TQ1_0 */
        float d = qlow_fp16_to_fp32(ld16(src + 52));
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 32; m++) out[k * 32 + m] = (float)(trit(src[m], k) - 1) * d;
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 16; m++) out[160 + k * 16 + m] = (float)(trit(src[32 + m], k) - 1) * d;
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++) out[240 + k * 4 + j] = (float)(trit(src[48 + j], k) - 1) * d;
        break;
    }
    }
}
