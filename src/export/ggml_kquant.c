/* ggml_kquant.c - the k-quant super-blocks (256 values): Q2_K, Q3_K, Q4_K, Q5_K (asymmetric or signed
 * sub-blocks with integer sub-scales under fp16 super-scales) and Q6_K. A value is (d * sc) * q - dmin * m
 * (asymmetric) or (d * sc) * level (symmetric), exactly as ggml's decoders evaluate it. */
#include <math.h>
#include <string.h>

#include "export/ggml_blocks.h"
#include "export/ggml_search.h"

typedef struct kspec {
    int32_t type;
    int nsub, sub;      /* sub-blocks x length */
    int asym, qmax;     /* asymmetric codes 0..qmax */
    int lo, hi;         /* symmetric levels lo..hi */
    int sc_lo, sc_hi;   /* integer sub-scale range */
    int mn_hi;          /* integer sub-min range 0..mn_hi (asymmetric) */
} kspec;

static const kspec specs[] = {
    {QLOW_GGML_Q2_K, 16, 16, 1, 3, 0, 0, 0, 15, 15},    {QLOW_GGML_Q3_K, 16, 16, 0, 0, -4, 3, -32, 31, 0},
    {QLOW_GGML_Q4_K, 8, 32, 1, 15, 0, 0, 0, 63, 63},    {QLOW_GGML_Q5_K, 8, 32, 1, 31, 0, 0, 0, 63, 63},
    {QLOW_GGML_Q6_K, 16, 16, 0, 0, -32, 31, -128, 127, 0}};

static const kspec *spec_of(int32_t type)
{
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (specs[i].type == type) return &specs[i];
    return NULL;
}

static void grid_of(const kspec *k, qlow__lgrid *g)
{
    memset(g, 0, sizeof *g);
    g->asym = k->asym;
    g->lo = k->asym ? 0 : k->lo;
    g->hi = k->asym ? k->qmax : k->hi;
}

typedef struct kblock {
    float d, dmin;       /* fp16-exact */
    int sc[16], mn[16];
    uint8_t code[256];   /* asym: q; sym: level - lo */
    double err;
} kblock;

static int clampi(double v, int lo, int hi)
{
    double r = floor(v + 0.5);
    return r < lo ? lo : r > hi ? hi : (int)r;
}

/* Error of sub-block i at integer (sc, mn) under (d, dmin), codes into code. */
static double sub_error(const kspec *k, const qlow__lgrid *g, float d, float dmin, int sc, int mn, const float *x,
                        const float *w, uint8_t *code, double bound)
{
    float ds = d * (float)sc, mm = dmin * (float)mn;
    return qlow__lgrid_round_bounded(g, ds, -mm, x, w, k->sub, code, bound);
}

/* Encode with super-scales (d, dmin) from real per-sub-block (s, z); local search of each integer pair
 * over its neighbours when `local`. */
static void encode_with(const kspec *k, const qlow__lgrid *g, float d, float dmin, const float *s, const float *z,
                        const float *x, const float *w, int local, kblock *out)
{
    uint8_t tmp[32];
    out->d = d, out->dmin = dmin, out->err = 0;
    for (int i = 0; i < k->nsub; i++) {
        const float *xi = x + i * k->sub, *wi = w ? w + i * k->sub : NULL;
        int sc0 = d != 0.0f ? clampi((double)s[i] / d, k->sc_lo, k->sc_hi) : 0;
        int mn0 = k->asym && dmin != 0.0f ? clampi(-(double)z[i] / dmin, 0, k->mn_hi) : 0;
        int r = local ? 1 : 0, rm = local && k->asym ? 1 : 0;
        double best = INFINITY;
        for (int a = -r; a <= r; a++)
            for (int b = -rm; b <= rm; b++) {
                int sc = sc0 + a, mn = mn0 + b;
                if (sc < k->sc_lo || sc > k->sc_hi || mn < 0 || mn > (k->asym ? k->mn_hi : 0)) continue;
                double e = sub_error(k, g, d, dmin, sc, mn, xi, wi, tmp, best);
                if (e < best) {
                    best = e;
                    out->sc[i] = sc, out->mn[i] = mn;
                    memcpy(out->code + i * k->sub, tmp, (size_t)k->sub);
                }
            }
        out->err += best;
    }
}

static float h16(float v) { return qlow_fp16_to_fp32(qlow_fp32_to_fp16(v)); }

/* Super-scales covering the real sub-block parameters, shrunk by ratio r. */
static void super_scales(const kspec *k, const float *s, const float *z, float r, float *d, float *dmin)
{
    float smax = 0.0f, zmax = 0.0f;
    for (int i = 0; i < k->nsub; i++) {
        smax = fabsf(s[i]) > smax ? fabsf(s[i]) : smax;
        zmax = -z[i] > zmax ? -z[i] : zmax;
    }
    *d = h16(r * smax / (float)k->sc_hi);
    *dmin = k->asym ? h16(zmax / (float)k->mn_hi) : 0.0f;
}

/* Plain per-sub-block min/max (asymmetric, minimum clamped to <= 0 as the format's non-negative sub-mins
 * require) or largest-magnitude (symmetric) parameters: the RTN rule at both levels. */
static void minmax_params(const kspec *k, const float *x, float *s, float *z)
{
    for (int i = 0; i < k->nsub; i++) {
        const float *xi = x + i * k->sub;
        float lo = xi[0], hi = xi[0], xm = xi[0];
        for (int j = 1; j < k->sub; j++) {
            lo = xi[j] < lo ? xi[j] : lo, hi = xi[j] > hi ? xi[j] : hi;
            xm = fabsf(xi[j]) > fabsf(xm) ? xi[j] : xm;
        }
        if (k->asym) {
            lo = lo > 0.0f ? 0.0f : lo;
            s[i] = (hi - lo) / (float)k->qmax, z[i] = lo;
        } else {
            s[i] = xm / (float)k->lo, z[i] = 0.0f;
        }
    }
}

static void st16(uint8_t *p, float v)
{
    uint16_t h = qlow_fp32_to_fp16(v);
    p[0] = (uint8_t)(h & 0xff), p[1] = (uint8_t)(h >> 8);
}
static float ld16(const uint8_t *p) { return qlow_fp16_to_fp32((uint16_t)(p[0] | (unsigned)p[1] << 8)); }

/* The 12-byte 6-bit scale/min packing of Q4_K and Q5_K. */
static void pack_scales_k4(uint8_t *s, const int *sc, const int *mn)
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}
static void scale_min_k4(int j, const uint8_t *q, int *sc, int *mn)
{
    if (j < 4) {
        *sc = q[j] & 63, *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4;
        *mn = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
    }
}

static void pack(const kspec *k, const kblock *b, uint8_t *dst)
{
    const uint8_t *q = b->code;
    switch (k->type) {
    case QLOW_GGML_Q4_K:
    case QLOW_GGML_Q5_K: {
        int q5 = k->type == QLOW_GGML_Q5_K;
        st16(dst, b->d), st16(dst + 2, b->dmin);
        pack_scales_k4(dst + 4, b->sc, b->mn);
        uint8_t *qh = dst + 16, *qs = dst + 16 + (q5 ? 32 : 0);
        if (q5) memset(qh, 0, 32);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int a = q[64 * c + l], h = q[64 * c + 32 + l];
                qs[32 * c + l] = (uint8_t)((a & 15) | (h & 15) << 4);
                if (q5) qh[l] |= (uint8_t)(((a >> 4) & 1) << (2 * c) | ((h >> 4) & 1) << (2 * c + 1));
            }
        break;
    }
    case QLOW_GGML_Q6_K: {
        uint8_t *ql = dst, *qh = dst + 128;
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                int q1 = q[128 * n + l], q2 = q[128 * n + 32 + l], q3 = q[128 * n + 64 + l], q4 = q[128 * n + 96 + l];
                ql[64 * n + l] = (uint8_t)((q1 & 15) | (q3 & 15) << 4);
                ql[64 * n + 32 + l] = (uint8_t)((q2 & 15) | (q4 & 15) << 4);
                qh[32 * n + l] = (uint8_t)((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
            }
        for (int i = 0; i < 16; i++) dst[192 + i] = (uint8_t)(int8_t)b->sc[i];
        st16(dst + 208, b->d);
        break;
    }
    case QLOW_GGML_Q2_K: {
        for (int i = 0; i < 16; i++) dst[i] = (uint8_t)(b->sc[i] | b->mn[i] << 4);
        uint8_t *qs = dst + 16;
        memset(qs, 0, 64);
        for (int e = 0; e < 256; e++) {
            int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16;
            qs[32 * n + 16 * h + l] |= (uint8_t)(q[e] << (2 * j));
        }
        st16(dst + 80, b->d), st16(dst + 82, b->dmin);
        break;
    }
    default: { /* Q3_K: codes are level + 4 in 0..7 */
        uint8_t *hm = dst, *qs = dst + 32, *s = dst + 96;
        memset(hm, 0, 32), memset(qs, 0, 64);
        for (int e = 0; e < 256; e++) {
            int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16;
            qs[32 * n + 16 * h + l] |= (uint8_t)((q[e] & 3) << (2 * j));
            hm[16 * h + l] |= (uint8_t)((q[e] >> 2) << (4 * n + j));
        }
        int u[16];
        for (int i = 0; i < 16; i++) u[i] = b->sc[i] + 32;
        for (int j = 0; j < 4; j++) {
            s[j] = (uint8_t)((u[j] & 15) | (u[8 + j] & 15) << 4);
            s[4 + j] = (uint8_t)((u[4 + j] & 15) | (u[12 + j] & 15) << 4);
            s[8 + j] = (uint8_t)((u[j] >> 4) | (u[4 + j] >> 4) << 2 | (u[8 + j] >> 4) << 4 | (u[12 + j] >> 4) << 6);
        }
        st16(dst + 108, b->d);
        break;
    }
    }
}

double qlow__ggml_kquant_block(int32_t type, const float *x, const float *imp, int32_t search, int32_t steps,
                               uint8_t *dst, float *deq)
{
    const kspec *k = spec_of(type);
    qlow__lgrid g;
    grid_of(k, &g);
    float s[2][16] = {{0}}, z[2][16] = {{0}};
    kblock best, cand;
    minmax_params(k, x, s[0], z[0]);
    float d, dmin;
    super_scales(k, s[0], z[0], 1.0f, &d, &dmin);
    encode_with(k, &g, d, dmin, s[0], z[0], x, imp, 0, &best);
    if (search) {
        /* real-valued best parameters per sub-block, then super-scales over a few shrink ratios */
        for (int i = 0; i < k->nsub; i++) {
            uint8_t idx[32];
            qlow__lfit fit = {s[0][i], k->asym ? z[0][i] : 0.0f, INFINITY};
            qlow__lgrid_search(&g, s[0][i], z[0][i], x + i * k->sub, imp ? imp + i * k->sub : NULL, k->sub,
                               steps / 4 < 4 ? 4 : steps / 4, 0.4f, &fit, idx);
            s[1][i] = fit.d;
            z[1][i] = k->asym && fit.m > 0.0f ? 0.0f : fit.m;
        }
        /* the min/max parameters with the local search, then the searched ones over shrink ratios */
        static const float ratios[5] = {1.0f, 1.0f, 0.96f, 0.91f, 0.85f};
        for (int r = 0; r < 5; r++) {
            int set = r > 0;
            super_scales(k, s[set], z[set], ratios[r], &d, &dmin);
            encode_with(k, &g, d, dmin, s[set], z[set], x, imp, 1, &cand);
            if (cand.err < best.err) best = cand;
        }
    }
    pack(k, &best, dst);
    if (deq) qlow__ggml_kquant_decode(type, dst, deq);
    return best.err;
}

void qlow__ggml_kquant_decode(int32_t type, const uint8_t *b, float *y)
{
    switch (type) {
    case QLOW_GGML_Q4_K:
    case QLOW_GGML_Q5_K: {
        int q5 = type == QLOW_GGML_Q5_K;
        float d = ld16(b), dmin = ld16(b + 2);
        const uint8_t *qh = b + 16, *qs = b + 16 + (q5 ? 32 : 0);
        for (int c = 0; c < 4; c++) {
            int sc, mn;
            scale_min_k4(2 * c, b + 4, &sc, &mn);
            float d1 = d * (float)sc, m1 = dmin * (float)mn;
            scale_min_k4(2 * c + 1, b + 4, &sc, &mn);
            float d2 = d * (float)sc, m2 = dmin * (float)mn;
            for (int l = 0; l < 32; l++) {
                int lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
                if (q5) lo += ((qh[l] >> (2 * c)) & 1) << 4, hi += ((qh[l] >> (2 * c + 1)) & 1) << 4;
                y[64 * c + l] = d1 * (float)lo - m1;
                y[64 * c + 32 + l] = d2 * (float)hi - m2;
            }
        }
        break;
    }
    case QLOW_GGML_Q6_K: {
        float d = ld16(b + 208);
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int n = 0; n < 2; n++)
            for (int l = 0; l < 32; l++) {
                int is = 8 * n + l / 16;
                int q1 = ((ql[64 * n + l] & 15) | ((qh[32 * n + l] >> 0) & 3) << 4) - 32;
                int q2 = ((ql[64 * n + 32 + l] & 15) | ((qh[32 * n + l] >> 2) & 3) << 4) - 32;
                int q3 = ((ql[64 * n + l] >> 4) | ((qh[32 * n + l] >> 4) & 3) << 4) - 32;
                int q4 = ((ql[64 * n + 32 + l] >> 4) | ((qh[32 * n + l] >> 6) & 3) << 4) - 32;
                y[128 * n + l] = d * (float)sc[is] * (float)q1;
                y[128 * n + 32 + l] = d * (float)sc[is + 2] * (float)q2;
                y[128 * n + 64 + l] = d * (float)sc[is + 4] * (float)q3;
                y[128 * n + 96 + l] = d * (float)sc[is + 6] * (float)q4;
            }
        break;
    }
    case QLOW_GGML_Q2_K: {
        float d = ld16(b + 80), dmin = ld16(b + 82);
        for (int e = 0; e < 256; e++) {
            int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16, sc = b[e / 16];
            float dl = d * (float)(sc & 15), ml = dmin * (float)(sc >> 4);
            y[e] = dl * (float)((b[16 + 32 * n + 16 * h + l] >> (2 * j)) & 3) - ml;
        }
        break;
    }
    default: { /* Q3_K */
        float d = ld16(b + 108);
        const uint8_t *s = b + 96;
        int u[16];
        for (int j = 0; j < 4; j++) {
            u[j] = (s[j] & 15) | (s[8 + j] & 3) << 4;
            u[4 + j] = (s[4 + j] & 15) | ((s[8 + j] >> 2) & 3) << 4;
            u[8 + j] = (s[j] >> 4) | ((s[8 + j] >> 4) & 3) << 4;
            u[12 + j] = (s[4 + j] >> 4) | ((s[8 + j] >> 6) & 3) << 4;
        }
        for (int e = 0; e < 256; e++) {
            int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16;
            float dl = d * (float)(u[e / 16] - 32);
            int q2 = (b[32 + 32 * n + 16 * h + l] >> (2 * j)) & 3, hb = (b[16 * h + l] >> (4 * n + j)) & 1;
            y[e] = dl * (float)(q2 - (hb ? 0 : 4));
        }
        break;
    }
    }
}
