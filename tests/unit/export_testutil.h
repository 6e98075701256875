/* export_testutil.h - shared by the export tests: an in-memory write sink, an independent GGUF v3
 * reader/validator, plain ggml block decoders written from the layout description, and ggml's
 * published round-to-nearest rules (the baselines libqlow's search must not lose to). */
#ifndef QLOW_TEST_EXPORT_TESTUTIL_H
#define QLOW_TEST_EXPORT_TESTUTIL_H

#include "qtest.h"

/* 1 for the canonical name of a block weight matrix (wq, wk, wv, wo, w1, w2, w3). */
static inline int tu_is_matrix(const char *name)
{
    static const char *k[7] = {"attention.wq", "attention.wk", "attention.wv", "attention.wo",
                               "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};
    const char *dot = strncmp(name, "layers.", 7) ? NULL : strchr(name + 7, '.');
    for (int i = 0; dot && i < 7; i++)
        if (!strcmp(dot + 1, k[i])) return 1;
    return 0;
}

/* ---- growable memory sink for the *_callback writers ---- */
typedef struct membuf {
    unsigned char *p;
    size_t n, cap;
    long fail_after; /* > 0: the n-th call fails */
    long calls;
} membuf;

static inline int membuf_write(void *user, const void *data, size_t size)
{
    membuf *m = (membuf *)user;
    if (m->fail_after > 0 && ++m->calls >= m->fail_after) return 1;
    if (m->n + size > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->n + size) cap *= 2;
        unsigned char *q = (unsigned char *)realloc(m->p, cap);
        if (!q) return 1;
        m->p = q, m->cap = cap;
    }
    memcpy(m->p + m->n, data, size);
    m->n += size;
    return 0;
}

/* ---- GGUF reader ---- */
#define GG_MAX 128
typedef struct gg_kv {
    char key[128];
    uint32_t type, atype;
    uint64_t alen;
    size_t vpos; /* value bytes (for arrays: the first element) */
} gg_kv;
typedef struct gg_tensor {
    char name[96];
    uint32_t ndim, type;
    uint64_t ne[4], off;
} gg_tensor;
typedef struct gg_file {
    const unsigned char *p;
    size_t n, pos;
    uint32_t version;
    uint64_t nt, nkv, align, data;
    gg_kv kv[GG_MAX];
    gg_tensor t[GG_MAX];
    const char *err;
} gg_file;

static uint64_t gg_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; k--) v = v << 8 | p[k];
    return v;
}
static int gg_take(gg_file *f, size_t n, const unsigned char **out)
{
    if (f->n - f->pos < n) return f->err = "truncated", 0;
    *out = f->p + f->pos;
    f->pos += n;
    return 1;
}
static int gg_u(gg_file *f, int bytes, uint64_t *v)
{
    const unsigned char *q;
    if (!gg_take(f, (size_t)bytes, &q)) return 0;
    *v = gg_le(q, bytes);
    return 1;
}
static int gg_str(gg_file *f, char *dst, size_t cap)
{
    uint64_t len;
    const unsigned char *q;
    if (!gg_u(f, 8, &len) || len > f->n || !gg_take(f, (size_t)len, &q)) return f->err = "bad string", 0;
    if (dst) {
        if (len >= cap) return f->err = "string too long", 0;
        memcpy(dst, q, (size_t)len);
        dst[len] = 0;
    }
    return 1;
}
static int gg_scalar_size(uint32_t type)
{
    static const int sz[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < 13 ? sz[type] : -1;
}
static int gg_value(gg_file *f, uint32_t type)
{
    if (type == 8) return gg_str(f, NULL, 0);
    int sz = gg_scalar_size(type);
    const unsigned char *q;
    if (sz <= 0) return f->err = "bad value type", 0;
    if (type == 7) { /* bool must be 0 or 1 */
        if (!gg_take(f, 1, &q)) return 0;
        return *q <= 1 ? 1 : (f->err = "bad bool", 0);
    }
    return gg_take(f, (size_t)sz, &q);
}
/* GGUF type sizes for the tensor types libqlow writes. */
static int gg_type_block(uint32_t type, int *block, int *bytes)
{
    static const struct { uint32_t t; int b, s; } tb[] = {{0, 1, 4}, {1, 1, 2}, {2, 32, 18}, {3, 32, 20},
        {6, 32, 22}, {7, 32, 24}, {8, 32, 34}, {20, 32, 18}, {34, 256, 54}, {35, 256, 66},
        {10, 256, 84}, {11, 256, 110}, {12, 256, 144}, {13, 256, 176}, {14, 256, 210}};
    for (size_t k = 0; k < sizeof tb / sizeof tb[0]; k++)
        if (tb[k].t == type) return *block = tb[k].b, *bytes = tb[k].s, 1;
    return 0;
}
static uint64_t gg_tensor_bytes(const gg_tensor *t)
{
    int block = 1, bytes = 0;
    gg_type_block(t->type, &block, &bytes);
    uint64_t rows = 1;
    for (uint32_t d = 1; d < t->ndim; d++) rows *= t->ne[d];
    return rows * (t->ne[0] / (uint64_t)block) * (uint64_t)bytes;
}

/* Parse and validate against the specification; 1 on success, else f->err says why. */
static inline int gg_parse(gg_file *f, const unsigned char *p, size_t n)
{
    memset(f, 0, sizeof *f);
    f->p = p, f->n = n, f->align = 32;
    const unsigned char *q;
    uint64_t v;
    if (!gg_take(f, 4, &q) || memcmp(q, "GGUF", 4) != 0) return f->err = "magic", 0;
    if (!gg_u(f, 4, &v) || v != 3) return f->err = "version", 0;
    f->version = (uint32_t)v;
    if (!gg_u(f, 8, &f->nt) || !gg_u(f, 8, &f->nkv)) return 0;
    if (f->nt > GG_MAX || f->nkv > GG_MAX) return f->err = "too many entries for the test reader", 0;
    for (uint64_t i = 0; i < f->nkv; i++) {
        gg_kv *kv = &f->kv[i];
        if (!gg_str(f, kv->key, sizeof kv->key) || !gg_u(f, 4, &v)) return 0;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(f->kv[j].key, kv->key)) return f->err = "duplicate key", 0;
        kv->type = (uint32_t)v;
        if (kv->type == 9) {
            if (!gg_u(f, 4, &v)) return 0;
            kv->atype = (uint32_t)v;
            if (kv->atype == 9 || !gg_u(f, 8, &kv->alen)) return f->err = "bad array", 0;
            kv->vpos = f->pos;
            for (uint64_t k = 0; k < kv->alen; k++)
                if (!gg_value(f, kv->atype)) return 0;
        } else {
            kv->vpos = f->pos;
            if (!gg_value(f, kv->type)) return 0;
        }
        if (!strcmp(kv->key, "general.alignment")) {
            if (kv->type != 4) return f->err = "general.alignment must be uint32", 0;
            f->align = gg_le(p + kv->vpos, 4);
            if (!f->align || (f->align & (f->align - 1)) || f->align % 8) return f->err = "bad alignment", 0;
        }
    }
    for (uint64_t i = 0; i < f->nt; i++) {
        gg_tensor *t = &f->t[i];
        if (!gg_str(f, t->name, sizeof t->name) || !gg_u(f, 4, &v)) return 0;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(f->t[j].name, t->name)) return f->err = "duplicate tensor name", 0;
        t->ndim = (uint32_t)v;
        if (t->ndim < 1 || t->ndim > 4) return f->err = "ndim", 0;
        for (uint32_t d = 0; d < t->ndim; d++)
            if (!gg_u(f, 8, &t->ne[d]) || t->ne[d] == 0) return f->err = "bad dim", 0;
        int block, bytes;
        if (!gg_u(f, 4, &v) || !gg_type_block((uint32_t)v, &block, &bytes)) return f->err = "tensor type", 0;
        t->type = (uint32_t)v;
        if (t->ne[0] % (uint64_t)block) return f->err = "row not a multiple of the block", 0;
        if (!gg_u(f, 8, &t->off) || t->off % f->align) return f->err = "tensor offset not aligned", 0;
    }
    f->data = (f->pos + f->align - 1) / f->align * f->align;
    for (size_t k = f->pos; k < f->data && k < n; k++)
        if (p[k]) return f->err = "padding before data is not zero", 0;
    for (uint64_t i = 0; i < f->nt; i++) {
        uint64_t a = f->t[i].off, b = a + gg_tensor_bytes(&f->t[i]);
        if (f->data + b > n) return f->err = "tensor data outside the file", 0;
        for (uint64_t j = 0; j < f->nt; j++) {
            uint64_t c = f->t[j].off, d = c + gg_tensor_bytes(&f->t[j]);
            if (j != i && a < d && c < b) return f->err = "tensors overlap", 0;
        }
    }
    return 1;
}
static inline const gg_kv *gg_find_kv(const gg_file *f, const char *key)
{
    for (uint64_t i = 0; i < f->nkv; i++)
        if (!strcmp(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}
static inline const gg_tensor *gg_find_tensor(const gg_file *f, const char *name)
{
    for (uint64_t i = 0; i < f->nt; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

/* ---- plain decoders, from the block layouts (all little-endian) ---- */
static float tu_half(const unsigned char *p) { return qlow_fp16_to_fp32((uint16_t)(p[0] | p[1] << 8)); }
static const int tu_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* k-quant super-blocks of 256, decoded element by element from the layout description:
 *   q4_K: half d, half dmin, 12 bytes of 6-bit (scale, min) pairs for 8 sub-blocks of 32, qs[128];
 *         chunk c of 64 values: low nibbles of qs[32c..] are sub-block 2c, high nibbles 2c+1.
 *   q5_K: as q4_K plus qh[32] before qs: bit 2c (2c+1) of qh[l] is the 5th bit of value l of sub-block
 *         2c (2c+1).
 *   scale/min j of the 12 bytes s: j < 4: s[j] & 63, s[j+4] & 63; else (s[j+4] & 15) | (s[j-4] >> 6) << 4,
 *         (s[j+4] >> 4) | (s[j] >> 6) << 4.  value = (d*sc)*q - dmin*m.
 *   q6_K: ql[128], qh[64], int8 scales[16], half d; half n (128 values): value 32k + l (k = 0..3) takes
 *         the low (k < 2) or high (k >= 2) nibble of ql[64n + 32(k%2) + l] and bits 2k of qh[32n + l];
 *         value = (d*sc[e/16]) * (q - 32).
 *   q2_K: 16 bytes (scale | min << 4), qs[64], half d, half dmin; value 128n + 32j + 16h + l uses bits
 *         2j of qs[32n + 16h + l]; value = (d*sc)*q - dmin*m.
 *   q3_K: hmask[32], qs[64], 12 bytes of 6-bit scales, half d; value 128n + 32j + 16h + l: low 2 bits
 *         from bits 2j of qs[32n + 16h + l], high bit = bit 4n + j of hmask[16h + l]; level = low +
 *         4*high - 4; the 6-bit scale i: low 4 bits = nibble (i / 8) of byte (i % 8), high 2 bits = bits
 *         2*(i / 4) of byte 8 + i % 4; value = (d*(scale - 32)) * level. */
static inline void tu_decode_kquant(uint32_t type, const unsigned char *b, float *y)
{
    for (int e = 0; e < 256; e++) {
        if (type == 12 || type == 13) {
            int sb = e / 32, c = sb / 2, l = e % 32, sc, mn;
            const unsigned char *s = b + 4;
            if (sb < 4) sc = s[sb] & 63, mn = s[sb + 4] & 63;
            else sc = (s[sb + 4] & 15) | (s[sb - 4] >> 6) << 4, mn = (s[sb + 4] >> 4) | (s[sb] >> 6) << 4;
            const unsigned char *qs = b + (type == 13 ? 48 : 16);
            int q = (sb % 2 ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 15);
            if (type == 13) q |= ((b[16 + l] >> sb) & 1) << 4;
            y[e] = tu_half(b) * (float)sc * (float)q - tu_half(b + 2) * (float)mn;
        } else if (type == 14) {
            int n = e / 128, k = (e % 128) / 32, l = e % 32;
            int byte = b[64 * n + 32 * (k % 2) + l];
            int q = (k < 2 ? byte & 15 : byte >> 4) | ((b[128 + 32 * n + l] >> (2 * k)) & 3) << 4;
            y[e] = tu_half(b + 208) * (float)(signed char)b[192 + e / 16] * (float)(q - 32);
        } else if (type == 10) {
            int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16, sm = b[e / 16];
            int q = (b[16 + 32 * n + 16 * h + l] >> (2 * j)) & 3;
            y[e] = tu_half(b + 80) * (float)(sm & 15) * (float)q - tu_half(b + 82) * (float)(sm >> 4);
        } else {
            int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16, i = e / 16;
            int low = (b[32 + 32 * n + 16 * h + l] >> (2 * j)) & 3, hi = (b[16 * h + l] >> (4 * n + j)) & 1;
            int scale = ((b[96 + i % 8] >> (4 * (i / 8))) & 15) | ((b[104 + i % 4] >> (2 * (i / 4))) & 3) << 4;
            y[e] = tu_half(b + 108) * (float)(scale - 32) * (float)(low + 4 * hi - 4);
        }
    }
}

/* Decodes one block of `type` into y; returns the block length. */
static inline int tu_decode_block(uint32_t type, const unsigned char *b, float *y)
{
    int i;
    switch (type) {
    case 2: /* q4_0: half d; 16 bytes, low nibbles = elements 0..15, high nibbles = 16..31 */
        for (i = 0; i < 32; i++) y[i] = (float)(((i < 16 ? b[2 + i] : b[2 + i - 16] >> 4) & 15) - 8) * tu_half(b);
        return 32;
    case 20: /* iq4_nl: as q4_0 but the nibble indexes the level table */
        for (i = 0; i < 32; i++) y[i] = tu_half(b) * (float)tu_iq4nl[(i < 16 ? b[2 + i] : b[2 + i - 16] >> 4) & 15];
        return 32;
    case 3: /* q4_1: half d, half m */
        for (i = 0; i < 32; i++) y[i] = (float)((i < 16 ? b[4 + i] : b[4 + i - 16] >> 4) & 15) * tu_half(b) + tu_half(b + 2);
        return 32;
    case 6: case 7: { /* q5_0 / q5_1: d (, m), 32 high bits (bit i = element i), nibbles */
        int o = type == 6 ? 2 : 4;
        uint32_t qh = (uint32_t)gg_le(b + o, 4);
        for (i = 0; i < 32; i++) {
            int q = ((i < 16 ? b[o + 4 + i] : b[o + 4 + i - 16] >> 4) & 15) | (int)((qh >> i) & 1) << 4;
            y[i] = type == 6 ? (float)(q - 16) * tu_half(b) : (float)q * tu_half(b) + tu_half(b + 2);
        }
        return 32;
    }
    case 8: /* q8_0: half d, 32 int8 */
        for (i = 0; i < 32; i++) y[i] = (float)(signed char)b[2 + i] * tu_half(b);
        return 32;
    case 35: /* tq2_0: 64 bytes of 2-bit codes, then half d; element 128j + 32l + m in bits 2l of byte 32j + m */
        for (i = 0; i < 256; i++) {
            int j = i / 128, l = (i % 128) / 32, m = i % 32;
            y[i] = (float)(((b[32 * j + m] >> (2 * l)) & 3) - 1) * tu_half(b + 64);
        }
        return 256;
    case 34: { /* tq1_0: 48 bytes of 5 trits, 4 bytes of 4 trits, half d; a byte holds ceil(v*256/243)
                  of the base-3 number v whose most significant digit is the first element */
        for (i = 0; i < 256; i++) {
            int byte, digit;
            if (i < 160) byte = i % 32, digit = i / 32;
            else if (i < 240) byte = 32 + (i - 160) % 16, digit = (i - 160) / 16;
            else byte = 48 + (i - 240) % 4, digit = (i - 240) / 4;
            /* recover v exactly: the largest v with ceil(v*256/243) <= stored byte */
            int stored = b[byte], val = 0;
            for (int cand = 0; cand < 243; cand++)
                if ((cand * 256 + 242) / 243 == stored) val = cand;
            int t = val;
            for (int k = 0; k < 4 - digit; k++) t /= 3;
            y[i] = (float)(t % 3 - 1) * tu_half(b + 52);
        }
        return 256;
    }
    case 10: case 11: case 12: case 13: case 14: tu_decode_kquant(type, b, y); return 256;
    case 1: y[0] = tu_half(b); return 1;
    case 0: { uint32_t u = (uint32_t)gg_le(b, 4); memcpy(y, &u, 4); return 1; }
    }
    return 0;
}


/* ---- ggml's published RTN rules for one block, dequantized ---- */
static float tu_h(float v) { return qlow_fp16_to_fp32(qlow_fp32_to_fp16(v)); }
static inline void tu_rtn_block(uint32_t type, const float *x, int n, float *y)
{
    float amax = 0, max = 0, mn = x[0], mx = x[0];
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        mn = x[j] < mn ? x[j] : mn, mx = x[j] > mx ? x[j] : mx;
    }
    if (type == 2 || type == 6) { /* d = max / -8 (-16), q = round(x/d + 8 (16)) clamped */
        float c = type == 2 ? 8.0f : 16.0f, d = max / -c, id = d ? 1.0f / d : 0.0f;
        for (int j = 0; j < n; j++) {
            int q = (int)floorf(x[j] * id + c + 0.5f);
            q = q > 2 * (int)c - 1 ? 2 * (int)c - 1 : q;
            y[j] = (float)(q - (int)c) * tu_h(d);
        }
    } else if (type == 3 || type == 7) { /* d = (max - min) / 15 (31), m = min */
        int qm = type == 3 ? 15 : 31;
        float d = (mx - mn) / (float)qm, id = d ? 1.0f / d : 0.0f;
        for (int j = 0; j < n; j++) {
            int q = (int)floorf((x[j] - mn) * id + 0.5f);
            q = q > qm ? qm : q;
            y[j] = (float)q * tu_h(d) + tu_h(mn);
        }
    } else if (type == 8) { /* d = absmax / 127, q = round(x / d) */
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        for (int j = 0; j < n; j++) y[j] = (float)(int)roundf(x[j] * id) * tu_h(d);
    } else if (type == 34 || type == 35) { /* d = absmax, q = round(x / d) in {-1, 0, 1} */
        float id = amax ? 1.0f / amax : 0.0f;
        for (int j = 0; j < n; j++) y[j] = (float)lroundf(x[j] * id) * tu_h(amax);
    } else if (type == 20) { /* iq4_nl: x^2-weighted least-squares scale over trials id = (t - 127)/max,
                                t = -7..7, starting from d = max/127; values rounded to the nearest level */
        float d = 0.0f;
        if (amax > 0) {
            double best = 0;
            d = -max / -127.0f;
            for (int t = -8; t <= 7; t++) {
                float id = t < -7 ? 1.0f / d : ((float)t - 127.0f) / max;
                double sqx = 0, sqq = 0;
                for (int j = 0; j < n; j++) {
                    int c = 0;
                    for (int k = 1; k < 16; k++)
                        if (fabsf(id * x[j] - (float)tu_iq4nl[k]) < fabsf(id * x[j] - (float)tu_iq4nl[c])) c = k;
                    double w = (double)x[j] * x[j];
                    sqx += w * tu_iq4nl[c] * x[j], sqq += w * tu_iq4nl[c] * tu_iq4nl[c];
                }
                if (sqq > 0 && (t < -7 || sqx * sqx > best * sqq)) d = (float)(sqx / sqq), best = (float)(d * sqx);
            }
        }
        float dh = tu_h(d);
        for (int j = 0; j < n; j++) {
            int c = 0;
            for (int k = 1; k < 16; k++)
                if (fabsf(x[j] - dh * (float)tu_iq4nl[k]) < fabsf(x[j] - dh * (float)tu_iq4nl[c])) c = k;
            y[j] = dh * (float)tu_iq4nl[c];
        }
    } else if (type == 1) {
        for (int j = 0; j < n; j++) y[j] = tu_h(x[j]);
    } else {
        for (int j = 0; j < n; j++) y[j] = x[j];
    }
}

#endif
