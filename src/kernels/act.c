/* act.c - int8 activation quantization and the kernel-order permutations. Done once per call and per
 * token; the per-block steps may run on SIMD (kernel set) but must match the portable ones here. */
#include "kernels/act.h"

float qlow__absmax_generic(const float *v, int64_t n)
{
    float amax = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        float a = v[j] < 0.0f ? -v[j] : v[j];
        if (!(a <= 3.402823466e38f)) return -1.0f;
        amax = a > amax ? a : amax;
    }
    return amax;
}

int32_t qlow__quantize_generic(const float *v, int64_t n, float inv, int8_t *q)
{
    int32_t s = 0;
    for (int64_t j = 0; j < n; j++) {
        float t = v[j] * inv;
        int r = (int)(t + (t < 0.0f ? -0.5f : 0.5f));
        r = r > 127 ? 127 : r < -127 ? -127 : r;
        q[j] = (int8_t)r;
        s += r;
    }
    return s;
}

/* Interleaved parts: kernel positions [0, live) can hold activations; the rest of the padded chunk
 * (a 64-column matrix fills 64 of a chunk's 4096 positions) is zero, and is left out of the work.
 * In natural order position p is column p (kept in runs of 64, one slot group of every block);
 * otherwise a kernel step covers ablock positions and the columns of the same ablock-wide range. */
static size_t live_positions(const qlow__kpart *kp)
{
    const size_t A = kp->xord == QLOW__XORD_NAT ? 64 : (size_t)kp->ablock;
    return ((size_t)kp->cols + A - 1) / A * A;
}

/* Live slots of each block of the chunk starting at kernel position base: slot group s of a block
 * (4 slots) is kernel position base + 64 s + 4 d. */
static size_t live_slots(const qlow__kpart *kp, size_t base, size_t live)
{
    const size_t A = (size_t)kp->ablock;
    if (live >= base + 16 * A) return A;
    return (live - base + 63) / 64 * 4;
}

/* Kernel order from block-major order: 4-byte runs (8- and 16-byte runs for the Q2 and Q4 orders)
 * moved by loops whose strides are the closed forms of qlow__xord_source and qlow__block_major (the
 * run-by-run calls divided by the runtime block size and were most of a small call's time). Small Q
 * parts carry a prepared copy map (xmap); interleaved parts copy only their live positions. */
static void to_kernel_order(const qlow__kpart *kp, const int8_t *x8, int8_t *x8p, size_t n)
{
    if (kp->xmap) {
        memset(x8p, 0, n);
        for (int64_t i = 0; i < kp->xmap_runs; i++) memcpy(x8p + kp->xmap[2 * i], x8 + kp->xmap[2 * i + 1], 4);
        return;
    }
    if (kp->interleave) { /* kernel position chunk + 64 s + 4 d <- block-major chunk + A d + 4 s */
        const size_t A = (size_t)kp->ablock, live = live_positions(kp) < n ? live_positions(kp) : n;
        for (size_t base = 0; base < live; base += 16 * A)
            for (size_t s = 0; s < A / 4 && base + 64 * s < live; s++)
                for (size_t d = 0; d < 16; d++) memcpy(x8p + base + 64 * s + 4 * d, x8 + base + d * A + 4 * s, 4);
        memset(x8p + live, 0, n - live);
        return;
    }
    switch (kp->xord) {
    case QLOW__XORD_Q4T: /* position c + 128 j + 64 h + 4 e <- c + 32 b(e) + 16 h + 4 j, b(e) = 4 (e % 4) + e / 4 */
        for (size_t c = 0; c < n; c += 512)
            for (size_t j = 0; j < 4; j++)
                for (size_t h = 0; h < 2; h++)
                    for (size_t e = 0; e < 16; e++)
                        memcpy(x8p + c + 128 * j + 64 * h + 4 * e, x8 + c + 32 * (4 * (e % 4) + e / 4) + 16 * h + 4 * j, 4);
        return;
    case QLOW__XORD_Q8T: /* position c + 64 j + 4 e <- c + 32 b(e) + 4 j, b(e) = 4 (e % 4) + e / 4 */
        for (size_t c = 0; c < n; c += 512)
            for (size_t j = 0; j < 8; j++)
                for (size_t e = 0; e < 16; e++)
                    memcpy(x8p + c + 64 * j + 4 * e, x8 + c + 32 * (4 * (e % 4) + e / 4) + 4 * j, 4);
        return;
    case QLOW__XORD_Q2T: /* position c + 256 j + 64 k + 4 b <- c + 32 b + 8 k + 4 j */
        for (size_t c = 0; c < n; c += 512)
            for (size_t j = 0; j < 2; j++)
                for (size_t k = 0; k < 4; k++)
                    for (size_t b = 0; b < 16; b++) memcpy(x8p + c + 256 * j + 64 * k + 4 * b, x8 + c + 32 * b + 8 * k + 4 * j, 4);
        return;
    default: {
        size_t run = kp->xord == QLOW__XORD_Q4 ? 16 : kp->xord == QLOW__XORD_Q2 ? 8 : 4;
        for (size_t p = 0; p < n; p += run) memcpy(x8p + p, x8 + qlow__xord_source(kp->xord, p), run);
    }
    }
}

#if defined(__GNUC__)
#define ACT_INLINE static inline __attribute__((always_inline))
#else
#define ACT_INLINE static inline
#endif

/* Column j of the part's source order: x through the part's permutation and column scale, if any. The
 * gather below calls it with constant NULLs, so each combination compiles to its own plain loop. */
ACT_INLINE float source_value(const float *x, const int32_t *perm, const float *cs, size_t j)
{
    const float v = perm ? x[perm[j]] : x[j];
    return cs ? v * cs[j] : v;
}

/* Block-major copy of the live activations of an interleaved part: the 4-byte run at kernel position p
 * holds source columns xord_source(p) + {0, 1, 2, 3} * step (step 5 for T158, else 1). The permutation
 * and column scale are applied on the way (one pass: as a separate pass, the three scalar loops were
 * most of a batch-1 B1 call's activation time). */
ACT_INLINE void gather_runs(const qlow__kpart *kp, const float *x, const int32_t *perm, const float *cs, int64_t n,
                            float *g, size_t nx, const size_t step)
{
    const size_t A = (size_t)kp->ablock, live = live_positions(kp);
    const int nat = kp->xord == QLOW__XORD_NAT;
    for (size_t base = 0; base < nx && base < live; base += 16 * A)
        for (size_t s = 0; s < live_slots(kp, base, live) / 4; s++)
            for (size_t d = 0; d < 16; d++) {
                const size_t p = base + s * 64 + 4 * d, j = nat ? p : qlow__xord_source(kp->xord, p);
                float *o = g + base + d * A + s * 4;
                if ((int64_t)(j + 3 * step) < n) { /* read all four before storing: no aliasing to fear */
                    const float t0 = source_value(x, perm, cs, j), t1 = source_value(x, perm, cs, j + step);
                    const float t2 = source_value(x, perm, cs, j + 2 * step), t3 = source_value(x, perm, cs, j + 3 * step);
                    o[0] = t0, o[1] = t1, o[2] = t2, o[3] = t3;
                } else {
                    for (size_t i = 0; i < 4; i++)
                        o[i] = (int64_t)(j + i * step) < n ? source_value(x, perm, cs, j + i * step) : 0.0f;
                }
            }
}

ACT_INLINE void gather_steps(const qlow__kpart *kp, const float *x, const int32_t *perm, const float *cs, int64_t n,
                             float *g, size_t nx)
{
    if (kp->xord == QLOW__XORD_T158)
        gather_runs(kp, x, perm, cs, n, g, nx, 5);
    else
        gather_runs(kp, x, perm, cs, n, g, nx, 1);
}

void qlow__act_gather(const float *x, const int32_t *perm, const float *cs, int64_t n, float *g)
{
    if (perm && cs)
        for (int64_t j = 0; j < n; j++) g[j] = x[perm[j]] * cs[j];
    else if (perm)
        for (int64_t j = 0; j < n; j++) g[j] = x[perm[j]];
    else if (cs)
        for (int64_t j = 0; j < n; j++) g[j] = x[j] * cs[j];
    else
        for (int64_t j = 0; j < n; j++) g[j] = x[j];
}

static void gather_block_major(const qlow__kpart *kp, const float *x, const qlow__act_src *src, int64_t n, float *g,
                               size_t nx)
{
    if (src->perm && src->colscale_f32)
        gather_steps(kp, x, src->perm, src->colscale_f32, n, g, nx);
    else if (src->perm)
        gather_steps(kp, x, src->perm, NULL, n, g, nx);
    else if (src->colscale_f32)
        gather_steps(kp, x, NULL, src->colscale_f32, n, g, nx);
    else
        gather_steps(kp, x, NULL, NULL, n, g, nx);
}

qlow_status qlow__act_quantize(const qlow__kernel_set *ks, const qlow__kpart *kp, const qlow__act_src *src,
                               const float *x, int per_token, const qlow__xbuf *buf, qlow__xq *xq)
{
    const int64_t n = kp->cols, ab = kp->ablock;
    const size_t nx = qlow__act_x8_bytes(kp);
    qlow__absmax_fn absmax = ks->absmax ? ks->absmax : qlow__absmax_generic;
    qlow__quantize_fn quantize = ks->quantize ? ks->quantize : qlow__quantize_generic;
    const float *v = x;
    int64_t nv = n; /* values of v that exist; the rest of each block is zero */
    const size_t live = kp->interleave ? live_positions(kp) : 0;
    if (kp->interleave) {
        gather_block_major(kp, x, src, n, buf->vb, nx);
        v = buf->vb;
        nv = (int64_t)nx;
    } else if (src->perm || src->colscale_f32) {
        qlow__act_gather(x, src->perm, src->colscale_f32, n, buf->v);
        v = buf->v;
    }
    /* Values of block b that exist: interleaved blocks hold live slots then zeros, which change
     * neither a maximum nor a sum, so only the live slots are read. */
#define BLOCK_LEN(b)                                                                                   \
    (kp->interleave ? (int64_t)live_slots(kp, (size_t)((b) / 16) * 16 * (size_t)ab, live)              \
                    : ((b) * ab < nv ? ((b) * ab + ab < nv ? ab : nv - (b) * ab) : 0))
    float tok_inv = 0.0f, tok_scale = 0.0f;
    if (per_token) {
        float amax = 0.0f;
        if (kp->interleave) {
            for (int64_t b = 0; b < kp->nblk_pad; b++) {
                float a = absmax(v + b * ab, BLOCK_LEN(b));
                if (a < 0.0f) return QLOW_E_NONFINITE;
                amax = a > amax ? a : amax;
            }
        } else {
            amax = absmax(v, nv);
        }
        if (amax < 0.0f) return QLOW_E_NONFINITE;
        if (amax > 0.0f) {
            tok_scale = amax / 127.0f;
            tok_inv = 127.0f / amax;
        }
    }
    if (!kp->interleave) memset(buf->x8 + nv, 0, nx - (size_t)nv);
    float tot = 0.0f;
    for (int64_t b = 0; b < kp->nblk_pad; b++) {
        int64_t j0 = b * ab, len = BLOCK_LEN(b);
        if (kp->interleave) memset(buf->x8 + j0 + len, 0, (size_t)(ab - len));
        float scale = tok_scale, inv = tok_inv;
        if (!per_token && len > 0) {
            float amax = absmax(v + j0, len);
            if (amax < 0.0f) return QLOW_E_NONFINITE;
            scale = amax > 0.0f ? amax / 127.0f : 0.0f;
            inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        }
        int32_t s = len > 0 ? quantize(v + j0, len, inv, buf->x8 + j0) : 0;
        buf->xs[b] = len > 0 ? scale : 0.0f;
        buf->xsum[b] = buf->xs[b] * (float)s;
        tot = tot + buf->xsum[b];
    }
#undef BLOCK_LEN
    const int reorder = kp->xord != QLOW__XORD_NAT || kp->interleave;
    if (reorder) to_kernel_order(kp, buf->x8, buf->x8p, nx);
    xq->x8 = buf->x8;
    xq->x8p = reorder ? buf->x8p : buf->x8;
    xq->xs = buf->xs;
    xq->xsum = buf->xsum;
    xq->xtot = tot;
    xq->xgsum = NULL;
    if (buf->xgsum) {
        memset(buf->xgsum, 0, qlow__act_f_bytes(kp));
        for (int64_t b = 0; b < kp->nblk; b++) {
            const int64_t g = kp->g0[b / QLOW__LANES] + kp->grel[b];
            buf->xgsum[g] = buf->xgsum[g] + buf->xsum[b];
        }
        xq->xgsum = buf->xgsum;
    }
    return QLOW_OK;
}

void qlow__q_group_maps(int64_t nblk, int64_t nblk_pad, int64_t group_cols, int64_t ngroups, uint16_t *grel,
                        int32_t *g0)
{
    for (int64_t c = 0; c < nblk_pad / QLOW__LANES; c++) {
        int64_t first = (c * QLOW__LANES * QLOW__BLOCK) / group_cols;
        if (first > ngroups - 1) first = ngroups - 1;
        g0[c] = (int32_t)first;
        for (int64_t i = 0; i < QLOW__LANES; i++) {
            int64_t b = c * QLOW__LANES + i;
            int64_t g = b < nblk ? (b * QLOW__BLOCK) / group_cols : first;
            grel[b] = (uint16_t)(g - first);
        }
    }
}
