/* act.c - int8 activation quantization and the kernel-order permutations. Done once per call and per
 * token, in plain C, so every ISA's kernels see exactly the same integers. */
#include "kernels/act.h"

static float src_value(const qlow__xsrc *src, const float *x, int64_t j)
{
    float v = x[src->perm ? src->perm[j] : j];
    if (src->colscale) v = v * qlow__h2f(src->colscale[j]);
    return v;
}

static int8_t quantize_one(float v, float inv)
{
    float q = v * inv;
    int r = (int)(q + (q < 0.0f ? -0.5f : 0.5f));
    if (r > 127) r = 127;
    if (r < -127) r = -127;
    return (int8_t)r;
}

/* Position in the natural buffer of kernel-order position p. */
static size_t xord_source(int xord, size_t p)
{
    switch (xord) {
    case QLOW__XORD_Q4: {
        size_t c = p / 128, q = p % 128, h = q / 64, b = (q % 64) / 16, i = q % 16;
        return c * 128 + b * 32 + h * 16 + i;
    }
    case QLOW__XORD_Q2: {
        size_t c = p / 256, q = p % 256, k = q / 64, b = (q % 64) / 8, i = q % 8;
        return c * 256 + b * 32 + k * 8 + i;
    }
    case QLOW__XORD_T158: {
        size_t c = p / 320, q = p % 320, k = q / 64, i = q % 64;
        return c * 320 + 5 * i + k;
    }
    default: return p;
    }
}

qlow_status qlow__act_quantize(const qlow__kpart *kp, const qlow__xsrc *src, const float *x, int per_token,
                               const qlow__xbuf *buf, qlow__xq *xq)
{
    const int64_t n = kp->cols, ab = kp->ablock;
    const size_t nx = qlow__act_x8_bytes(kp);
    float tok_inv = 0.0f, tok_scale = 0.0f;
    if (per_token) {
        float amax = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            float a = src_value(src, x, j);
            a = a < 0.0f ? -a : a;
            if (!(a <= 3.402823466e38f)) return QLOW_E_NONFINITE;
            if (a > amax) amax = a;
        }
        if (amax > 0.0f) {
            tok_scale = amax / 127.0f;
            tok_inv = 127.0f / amax;
        }
    }
    memset(buf->x8, 0, nx);
    float tot = 0.0f;
    for (int64_t b = 0; b < kp->nblk_pad; b++) {
        int64_t j0 = b * ab, j1 = j0 + ab < n ? j0 + ab : n;
        float scale = tok_scale, inv = tok_inv;
        if (!per_token) {
            float amax = 0.0f;
            for (int64_t j = j0; j < j1; j++) {
                float a = src_value(src, x, j);
                a = a < 0.0f ? -a : a;
                if (!(a <= 3.402823466e38f)) return QLOW_E_NONFINITE;
                if (a > amax) amax = a;
            }
            scale = amax > 0.0f ? amax / 127.0f : 0.0f;
            inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        }
        int32_t s = 0;
        for (int64_t j = j0; j < j1; j++) {
            int8_t q = quantize_one(src_value(src, x, j), inv);
            buf->x8[j] = q;
            s += q;
        }
        buf->xs[b] = j0 < n ? scale : 0.0f;
        buf->xsum[b] = buf->xs[b] * (float)s;
        tot = tot + buf->xsum[b];
    }
    if (kp->xord != QLOW__XORD_NAT)
        for (size_t p = 0; p < nx; p++) buf->x8p[p] = buf->x8[xord_source(kp->xord, p)];
    xq->x8 = buf->x8;
    xq->x8p = kp->xord != QLOW__XORD_NAT ? buf->x8p : buf->x8;
    xq->xs = buf->xs;
    xq->xsum = buf->xsum;
    xq->xtot = tot;
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
