/* kernels_testpack.h - a test-side packer for the kernel tests and the bench, written from the layout
 * spec in src/formats/layout.h (independently of src/formats/pack*): random codes and fp16 parameters
 * -> planes -> a qlow_qmatrix wrapping them (owns_buffer 0), plus the dequantized matrix in double. */
#ifndef QLOW_KERNELS_TESTPACK_H
#define QLOW_KERNELS_TESTPACK_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/layout.h"
#include "kernels/kernels.h"

typedef struct tp_opts {
    int format;
    int64_t rows, cols;
    int symmetric;        /* Q formats */
    int64_t group_cols;   /* Q formats: 0 = whole row */
    int64_t group_rows;   /* Q formats: >= 1 */
    int col_scale;        /* B1 / M161: store r2 */
    int64_t n_salient;    /* M161 */
    int store_perm;       /* M161: fill qm->perm (else kernels derive it from col_mask) */
    int no_dequant;       /* bench: skip the double matrix */
    uint64_t seed;
} tp_opts;

typedef struct tp_matrix {
    qlow_qmatrix qm;
    void *blk[16];
    int nblk;
    double *W;       /* rows x cols dequantized weights (NULL with no_dequant) */
    int *part;       /* per column: 0 = main / salient, 1 = M161 binary */
    int64_t *pos;    /* per column: index inside its part */
    double *r2;      /* per column: the column scale applied to x (1 when none) */
    size_t bytes;    /* bytes of every plane */
} tp_matrix;

static uint64_t tp_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double tp_unif(uint64_t *s) { return (double)(tp_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static void *tp_zalloc(tp_matrix *m, size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    m->blk[m->nblk++] = p;
    m->bytes += n;
    return p;
}

static uint16_t *tp_halves(tp_matrix *m, uint64_t *s, size_t n, double lo, double hi)
{
    uint16_t *h = (uint16_t *)tp_zalloc(m, n * 2);
    for (size_t i = 0; i < n; i++) h[i] = qlow_fp32_to_fp16((float)(lo + (hi - lo) * tp_unif(s)));
    return h;
}
static double tp_h(uint16_t h) { return (double)qlow_fp16_to_fp32(h); }

static void tp_set_q4(uint8_t *row, int64_t j, unsigned c)
{
    uint8_t *b = row + (j / 32) * 16 + (j % 16);
    *b = (j % 32) < 16 ? (uint8_t)((*b & 0xf0) | c) : (uint8_t)((*b & 0x0f) | (c << 4));
}
static void tp_set_q2(uint8_t *row, int64_t j, unsigned c)
{
    int64_t b = j / 32, i = j % 32;
    uint8_t *p = row + b * 8 + (i % 8);
    *p = (uint8_t)(*p | (c << (2 * (i / 8))));
}
static void tp_set_bit(uint8_t *row, int64_t j) { row[j / 8] = (uint8_t)(row[j / 8] | (1u << (j % 8))); }

static int64_t tp_pad(int64_t n) { return (n + 31) / 32 * 32; }

/* Build a random matrix of the requested format. */
static void tp_make(tp_matrix *m, const tp_opts *o)
{
    memset(m, 0, sizeof(*m));
    uint64_t s = o->seed ? o->seed : 1;
    const int64_t R = o->rows, C = o->cols, CP = tp_pad(C);
    qlow__packed *p = &m->qm.p;
    m->qm.magic = QLOW__QMATRIX_MAGIC;
    m->qm.owns_buffer = 0;
    p->format = o->format;
    p->rows = R;
    p->cols = C;
    p->cols_pad = CP;
    if (!o->no_dequant) m->W = (double *)calloc((size_t)(R * C), sizeof(double));
    m->part = (int *)calloc((size_t)C, sizeof(int));
    m->pos = (int64_t *)calloc((size_t)C, sizeof(int64_t));
    m->r2 = (double *)calloc((size_t)C, sizeof(double));
    for (int64_t j = 0; j < C; j++) {
        m->pos[j] = j;
        m->r2[j] = 1.0;
    }
    double *W = m->W;
    switch (o->format) {
    case QLOW_FORMAT_Q8:
    case QLOW_FORMAT_Q4:
    case QLOW_FORMAT_Q3:
    case QLOW_FORMAT_Q2: {
        int bits = o->format == QLOW_FORMAT_Q8 ? 8 : o->format == QLOW_FORMAT_Q4 ? 4 : o->format == QLOW_FORMAT_Q3 ? 3 : 2;
        int64_t gc = o->group_cols ? o->group_cols : CP, gr = o->group_rows ? o->group_rows : 1;
        int64_t ng = (CP + gc - 1) / gc, nrg = (R + gr - 1) / gr;
        p->bits = bits;
        p->symmetric = o->symmetric;
        p->group_cols = gc;
        p->group_rows = gr;
        size_t rb = o->format == QLOW_FORMAT_Q8 ? (size_t)CP : o->format == QLOW_FORMAT_Q4 ? (size_t)CP / 2 : (size_t)CP / 4;
        p->row_bytes = rb;
        uint8_t *codes = (uint8_t *)tp_zalloc(m, (size_t)R * rb);
        uint8_t *hi = o->format == QLOW_FORMAT_Q3 ? (uint8_t *)tp_zalloc(m, (size_t)R * (size_t)CP / 8) : NULL;
        uint16_t *sc = tp_halves(m, &s, (size_t)(nrg * ng), -0.05, 0.1);
        uint16_t *zr = o->symmetric ? NULL : tp_halves(m, &s, (size_t)(nrg * ng), -0.5, 0.5);
        for (int64_t r = 0; r < R; r++) {
            uint8_t *row = codes + (size_t)r * rb;
            for (int64_t j = 0; j < C; j++) {
                unsigned c = (unsigned)(tp_next(&s) >> 56) & ((1u << bits) - 1u);
                if (o->format == QLOW_FORMAT_Q8) row[j] = (uint8_t)c;
                else if (o->format == QLOW_FORMAT_Q4) tp_set_q4(row, j, c);
                else {
                    tp_set_q2(row, j, c & 3u);
                    if (hi && (c & 4u)) tp_set_bit(hi + (size_t)r * (size_t)CP / 8, j);
                }
                size_t gi = (size_t)((r / gr) * ng + j / gc);
                double d = tp_h(sc[gi]);
                double w = o->symmetric ? d * ((double)c - (double)(1 << (bits - 1))) : d * (double)c + tp_h(zr[gi]);
                if (W) W[r * C + j] = w;
            }
        }
        p->codes = codes;
        p->codes_hi = hi;
        p->scale = sc;
        p->zero = zr;
        break;
    }
    case QLOW_FORMAT_B1:
    case QLOW_FORMAT_B2: {
        int two = o->format == QLOW_FORMAT_B2;
        p->bits = 1;
        p->row_bytes = (size_t)CP / 8;
        uint8_t *c1 = (uint8_t *)tp_zalloc(m, (size_t)R * p->row_bytes);
        uint8_t *c2 = two ? (uint8_t *)tp_zalloc(m, (size_t)R * p->row_bytes) : NULL;
        uint16_t *al = tp_halves(m, &s, (size_t)R, 0.01, 0.2);
        uint16_t *al2 = two ? tp_halves(m, &s, (size_t)R, 0.005, 0.1) : NULL;
        uint16_t *mu = tp_halves(m, &s, (size_t)R, -0.05, 0.05);
        uint16_t *cs = (!two && o->col_scale) ? tp_halves(m, &s, (size_t)C, 0.25, 4.0) : NULL;
        for (int64_t j = 0; cs && j < C; j++) m->r2[j] = tp_h(cs[j]);
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = 0; j < C; j++) {
                int b1 = (int)(tp_next(&s) >> 63), b2 = two ? (int)(tp_next(&s) >> 63) : 0;
                if (b1) tp_set_bit(c1 + (size_t)r * p->row_bytes, j);
                if (b2) tp_set_bit(c2 + (size_t)r * p->row_bytes, j);
                double w = tp_h(al[r]) * (b1 ? 1.0 : -1.0) + tp_h(mu[r]);
                if (two) w += tp_h(al2[r]) * (b2 ? 1.0 : -1.0);
                if (W) W[r * C + j] = w * m->r2[j];
            }
        p->codes = c1;
        p->codes2 = c2;
        p->alpha = al;
        p->alpha2 = al2;
        p->mu = mu;
        p->col_scale = cs;
        break;
    }
    case QLOW_FORMAT_T2:
    case QLOW_FORMAT_T158: {
        int t158 = o->format == QLOW_FORMAT_T158;
        p->bits = t158 ? 0 : 2;
        p->row_bytes = t158 ? (size_t)(CP + 4) / 5 : (size_t)CP / 4;
        uint8_t *codes = (uint8_t *)tp_zalloc(m, (size_t)R * p->row_bytes);
        uint16_t *al = tp_halves(m, &s, (size_t)R, 0.01, 0.2);
        int *tr = (int *)calloc((size_t)CP, sizeof(int));
        for (int64_t r = 0; r < R; r++) {
            uint8_t *row = codes + (size_t)r * p->row_bytes;
            for (int64_t j = 0; j < CP; j++) tr[j] = j < C ? (int)(tp_next(&s) % 3u) - 1 : -1;
            for (int64_t j = 0; j < C; j++)
                if (W) W[r * C + j] = tp_h(al[r]) * tr[j];
            if (t158) {
                for (size_t i = 0; i < p->row_bytes; i++) {
                    unsigned b = 0, pw = 1;
                    for (int k = 0; k < 5; k++, pw *= 3) {
                        int64_t j = (int64_t)i * 5 + k;
                        b += (unsigned)((j < CP ? tr[j] : -1) + 1) * pw;
                    }
                    row[i] = (uint8_t)b;
                }
            } else {
                for (int64_t j = 0; j < CP; j++) tp_set_q2(row, j, (unsigned)(tr[j] + 1));
            }
        }
        free(tr);
        p->codes = codes;
        p->alpha = al;
        break;
    }
    case QLOW_FORMAT_M161: {
        int64_t ns = o->n_salient, nu = C - ns, cps = tp_pad(ns), cpu = tp_pad(nu);
        p->bits = 1;
        p->cols_pad = cpu;
        p->n_salient = ns;
        uint8_t *mask = (uint8_t *)tp_zalloc(m, (size_t)(C + 7) / 8);
        /* Choose ns salient columns at random. */
        int64_t chosen = 0;
        while (chosen < ns) {
            int64_t j = (int64_t)(tp_next(&s) % (uint64_t)C);
            if (!((mask[j / 8] >> (j % 8)) & 1)) {
                tp_set_bit(mask, j);
                chosen++;
            }
        }
        int32_t *perm = o->store_perm ? (int32_t *)tp_zalloc(m, (size_t)C * 4) : NULL;
        int64_t si = 0, ui = 0;
        for (int64_t j = 0; j < C; j++) {
            int sal = (mask[j / 8] >> (j % 8)) & 1;
            m->part[j] = sal ? 0 : 1;
            m->pos[j] = sal ? si++ : ui++;
            if (perm) perm[sal ? m->pos[j] : ns + m->pos[j]] = (int32_t)j;
        }
        p->sal_row_bytes = (size_t)cps / 2;
        p->row_bytes = (size_t)cpu / 8;
        uint8_t *sal = (uint8_t *)tp_zalloc(m, (size_t)R * p->sal_row_bytes);
        uint8_t *bits = (uint8_t *)tp_zalloc(m, (size_t)R * p->row_bytes);
        uint16_t *ss = tp_halves(m, &s, (size_t)R, 0.01, 0.1), *sz = tp_halves(m, &s, (size_t)R, -0.4, 0.0);
        uint16_t *al = tp_halves(m, &s, (size_t)R, 0.01, 0.2), *mu = tp_halves(m, &s, (size_t)R, -0.05, 0.05);
        uint16_t *cs = o->col_scale ? tp_halves(m, &s, (size_t)nu, 0.25, 4.0) : NULL;
        for (int64_t j = 0; j < C; j++)
            if (m->part[j] == 1 && cs) m->r2[j] = tp_h(cs[m->pos[j]]);
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = 0; j < C; j++) {
                double w;
                if (m->part[j] == 0) {
                    unsigned c = (unsigned)(tp_next(&s) >> 60);
                    tp_set_q4(sal + (size_t)r * p->sal_row_bytes, m->pos[j], c);
                    w = tp_h(ss[r]) * c + tp_h(sz[r]);
                } else {
                    int b = (int)(tp_next(&s) >> 63);
                    if (b) tp_set_bit(bits + (size_t)r * p->row_bytes, m->pos[j]);
                    w = (tp_h(al[r]) * (b ? 1.0 : -1.0) + tp_h(mu[r])) * m->r2[j];
                }
                if (W) W[r * C + j] = w;
            }
        p->col_mask = mask;
        p->sal_codes = sal;
        p->sal_scale = ss;
        p->sal_zero = sz;
        p->codes = bits;
        p->alpha = al;
        p->mu = mu;
        p->col_scale = cs;
        m->qm.perm = perm;
        break;
    }
    default: break;
    }
}

/* A Q part as the kernels describe it (kernels.h), with the fields every Q kind has: 32-column
 * activation blocks over cols logical columns; the caller sets the parameters and group layout. */
static inline qlow__kpart tp_q_kpart(int format, int64_t rows, int64_t cols, size_t row_bytes, const uint8_t *codes)
{
    qlow__kpart kp;
    memset(&kp, 0, sizeof(kp));
    kp.format = format;
    kp.ablock = 32;
    kp.rows = rows;
    kp.cols = cols;
    kp.cols_pad = tp_pad(cols);
    kp.nblk = kp.cols_pad / 32;
    kp.nblk_pad = (kp.nblk + 15) / 16 * 16;
    kp.row_bytes = row_bytes;
    kp.codes = codes;
    return kp;
}

/* Build the per-matrix kernel tables a real handle has (qlow__gemm_prep), as qlow_qmatrix_wrap does.
 * Their memory is not counted in m->bytes (the weights). Returns 0 if they could not be built. */
static inline int tp_attach_prep(tp_matrix *m)
{
    size_t n = 0;
    if (qlow__gemm_prep_bytes(&m->qm.p, m->qm.perm != NULL, &n) != QLOW_OK || n == 0) return 0;
    void *mem = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!mem) return 0;
    m->blk[m->nblk++] = mem;
    m->qm.prep = qlow__gemm_prep_build(&m->qm, mem, n);
    return m->qm.prep != NULL;
}

static void tp_free(tp_matrix *m)
{
    for (int i = 0; i < m->nblk; i++) free(m->blk[i]);
    free(m->W);
    free(m->part);
    free(m->pos);
    free(m->r2);
    memset(m, 0, sizeof(*m));
}

#endif
