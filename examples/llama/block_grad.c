/* block_grad.c - one LLaMA block (RMSNorm, RoPE, GQA causal attention, SwiGLU) forward and backward in
 * double precision, for block-wise reconstruction losses. */
#include "block_grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* y[T x R] = x[T x C] W^T */
static void mm_nt(const double *x, const float *w, double *y, int T, int64_t R, int64_t C)
{
    for (int t = 0; t < T; t++)
        for (int64_t r = 0; r < R; r++) {
            double s = 0.0;
            for (int64_t c = 0; c < C; c++) s += x[t * C + c] * (double)w[r * C + c];
            y[t * R + r] = s;
        }
}

/* dx[T x C] += dy[T x R] W */
static void mm_nn_acc(const double *dy, const float *w, double *dx, int T, int64_t R, int64_t C)
{
    for (int t = 0; t < T; t++)
        for (int64_t r = 0; r < R; r++) {
            double g = dy[t * R + r];
            if (g == 0.0) continue;
            for (int64_t c = 0; c < C; c++) dx[t * C + c] += g * (double)w[r * C + c];
        }
}

static void rms_fwd(const double *x, const float *g, double *y, double *rinv, int T, int D)
{
    for (int t = 0; t < T; t++) {
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += x[t * D + i] * x[t * D + i];
        double r = 1.0 / sqrt(ss / D + 1e-5);
        rinv[t] = r;
        for (int i = 0; i < D; i++) y[t * D + i] = (double)g[i] * x[t * D + i] * r;
    }
}

/* dx += d/dx of rmsnorm given dy. */
static void rms_bwd(const double *x, const float *g, const double *rinv, const double *dy, double *dx, int T, int D)
{
    for (int t = 0; t < T; t++) {
        double r = rinv[t], dot = 0.0;
        for (int i = 0; i < D; i++) dot += dy[t * D + i] * (double)g[i] * x[t * D + i];
        for (int i = 0; i < D; i++)
            dx[t * D + i] += r * (double)g[i] * dy[t * D + i] - x[t * D + i] * r * r * r * dot / D;
    }
}

static void rope_apply(double *v, int T, int n, int hs, int inverse)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i += 2) {
            double f = 1.0 / pow(10000.0, (double)(i % hs) / hs), a = t * f;
            double c = cos(a), s = inverse ? -sin(a) : sin(a);
            double v0 = v[t * n + i], v1 = v[t * n + i + 1];
            v[t * n + i] = v0 * c - v1 * s;
            v[t * n + i + 1] = v0 * s + v1 * c;
        }
}

static int skip_grad(void *user, int kind, const float *dY, const float *X, int T, int64_t rows, int64_t cols)
{
    (void)user, (void)kind, (void)dY, (void)X, (void)T, (void)rows, (void)cols;
    return 0;
}

static int emit(llm_grad_fn grad, void *user, int kind, const double *dY, const double *X, int T, int64_t R,
                int64_t C, float *fy, float *fx)
{
    for (int64_t i = 0; i < T * R; i++) fy[i] = (float)dY[i];
    for (int64_t i = 0; i < T * C; i++) fx[i] = (float)X[i];
    return grad(user, kind, fy, fx, T, R, C);
}

int llm_block_run(const llm_config *c, const llm_block_weights *bw, const float *xin, int T, float *out,
                  llm_dout_fn dout, void *dout_user, float *dx_out, llm_grad_fn grad, void *user)
{
    const int D = c->dim, H = c->hidden_dim, nh = c->n_heads, hs = D / nh, kvd = D * c->n_kv_heads / nh;
    const int rep = nh / c->n_kv_heads;
    const double sc = 1.0 / sqrt((double)hs);
    size_t TD = (size_t)T * D, TK = (size_t)T * kvd, TH = (size_t)T * H;
    /* One arena for every activation and gradient. */
    size_t total = TD * 13 + TK * 4 + TH * 6 + (size_t)nh * T * T + 3 * (size_t)T;
    double *arena = calloc(total, sizeof(double));
    int64_t maxrc = (int64_t)(H > D ? H : D);
    float *fy = malloc((size_t)T * maxrc * sizeof(float)), *fx = malloc((size_t)T * maxrc * sizeof(float));
    if (!arena || !fy || !fx) {
        free(arena);
        free(fy);
        free(fx);
        return -1;
    }
    double *p = arena;
#define TAKE(n) (p += (n), p - (n))
    double *x = TAKE(TD), *a = TAKE(TD), *q = TAKE(TD), *o = TAKE(TD), *x1 = TAKE(TD), *b = TAKE(TD);
    double *y = TAKE(TD), *dy = TAKE(TD), *dx1 = TAKE(TD), *db = TAKE(TD), *dq = TAKE(TD), *dob = TAKE(TD);
    double *da = TAKE(TD);
    double *k = TAKE(TK), *v = TAKE(TK), *dk = TAKE(TK), *dv = TAKE(TK);
    double *g1 = TAKE(TH), *u = TAKE(TH), *hsw = TAKE(TH), *dh = TAKE(TH), *dg = TAKE(TH), *du = TAKE(TH);
    double *P = TAKE((size_t)nh * T * T), *r_att = TAKE((size_t)T), *r_ffn = TAKE((size_t)T);
    double *dp = TAKE((size_t)T);
#undef TAKE
    for (size_t i = 0; i < TD; i++) x[i] = xin[i];

    /* ---- forward ---- */
    rms_fwd(x, bw->rms_att, a, r_att, T, D);
    mm_nt(a, bw->w[LLM_WQ], q, T, D, D);
    mm_nt(a, bw->w[LLM_WK], k, T, kvd, D);
    mm_nt(a, bw->w[LLM_WV], v, T, kvd, D);
    rope_apply(q, T, D, hs, 0);
    rope_apply(k, T, kvd, hs, 0);
    for (int h = 0; h < nh; h++) {
        int kh = h / rep;
        double *Ph = P + (size_t)h * T * T;
        for (int t = 0; t < T; t++) {
            double mx = -1e300, sum = 0.0;
            for (int s = 0; s <= t; s++) {
                double d = 0.0;
                for (int i = 0; i < hs; i++) d += q[t * D + h * hs + i] * k[s * kvd + kh * hs + i];
                Ph[t * T + s] = d * sc;
                if (Ph[t * T + s] > mx) mx = Ph[t * T + s];
            }
            for (int s = 0; s <= t; s++) sum += (Ph[t * T + s] = exp(Ph[t * T + s] - mx));
            for (int s = 0; s <= t; s++) Ph[t * T + s] /= sum;
            for (int i = 0; i < hs; i++) {
                double acc = 0.0;
                for (int s = 0; s <= t; s++) acc += Ph[t * T + s] * v[s * kvd + kh * hs + i];
                o[t * D + h * hs + i] = acc;
            }
        }
    }
    mm_nt(o, bw->w[LLM_WO], x1, T, D, D);
    for (size_t i = 0; i < TD; i++) x1[i] += x[i];
    rms_fwd(x1, bw->rms_ffn, b, r_ffn, T, D);
    mm_nt(b, bw->w[LLM_W1], g1, T, H, D);
    mm_nt(b, bw->w[LLM_W3], u, T, H, D);
    for (size_t i = 0; i < TH; i++) hsw[i] = g1[i] / (1.0 + exp(-g1[i])) * u[i];
    mm_nt(hsw, bw->w[LLM_W2], y, T, D, H);
    for (size_t i = 0; i < TD; i++) y[i] += x1[i];
    if (out)
        for (size_t i = 0; i < TD; i++) out[i] = (float)y[i];

    if (!dout) {
        free(arena);
        free(fy);
        free(fx);
        return 0;
    }

    /* ---- backward ---- */
    dout(dout_user, y, dy, T, D);
    int rc;
    if (!grad) grad = skip_grad;
    /* FFN */
    if ((rc = emit(grad, user, LLM_W2, dy, hsw, T, D, H, fy, fx))) goto done;
    mm_nn_acc(dy, bw->w[LLM_W2], dh, T, D, H);
    for (size_t i = 0; i < TH; i++) {
        double sg = 1.0 / (1.0 + exp(-g1[i])), silu = g1[i] * sg;
        du[i] = dh[i] * silu;
        dg[i] = dh[i] * u[i] * sg * (1.0 + g1[i] * (1.0 - sg));
    }
    if ((rc = emit(grad, user, LLM_W1, dg, b, T, H, D, fy, fx))) goto done;
    if ((rc = emit(grad, user, LLM_W3, du, b, T, H, D, fy, fx))) goto done;
    mm_nn_acc(dg, bw->w[LLM_W1], db, T, H, D);
    mm_nn_acc(du, bw->w[LLM_W3], db, T, H, D);
    memcpy(dx1, dy, TD * sizeof(double));
    rms_bwd(x1, bw->rms_ffn, r_ffn, db, dx1, T, D);
    /* attention */
    if ((rc = emit(grad, user, LLM_WO, dx1, o, T, D, D, fy, fx))) goto done;
    mm_nn_acc(dx1, bw->w[LLM_WO], dob, T, D, D);
    for (int h = 0; h < nh; h++) {
        int kh = h / rep;
        const double *Ph = P + (size_t)h * T * T;
        for (int t = 0; t < T; t++) {
            const double *dot_ = dob + t * D + h * hs;
            double wsum = 0.0;
            for (int s = 0; s <= t; s++) {
                double d = 0.0;
                for (int i = 0; i < hs; i++) d += dot_[i] * v[s * kvd + kh * hs + i];
                dp[s] = d;
                wsum += Ph[t * T + s] * d;
                for (int i = 0; i < hs; i++) dv[s * kvd + kh * hs + i] += Ph[t * T + s] * dot_[i];
            }
            for (int s = 0; s <= t; s++) {
                double dS = Ph[t * T + s] * (dp[s] - wsum) * sc;
                for (int i = 0; i < hs; i++) {
                    dq[t * D + h * hs + i] += dS * k[s * kvd + kh * hs + i];
                    dk[s * kvd + kh * hs + i] += dS * q[t * D + h * hs + i];
                }
            }
        }
    }
    rope_apply(dq, T, D, hs, 1);
    rope_apply(dk, T, kvd, hs, 1);
    if ((rc = emit(grad, user, LLM_WQ, dq, a, T, D, D, fy, fx))) goto done;
    if ((rc = emit(grad, user, LLM_WK, dk, a, T, kvd, D, fy, fx))) goto done;
    if ((rc = emit(grad, user, LLM_WV, dv, a, T, kvd, D, fy, fx))) goto done;
    if (dx_out) {
        mm_nn_acc(dq, bw->w[LLM_WQ], da, T, D, D);
        mm_nn_acc(dk, bw->w[LLM_WK], da, T, kvd, D);
        mm_nn_acc(dv, bw->w[LLM_WV], da, T, kvd, D);
        rms_bwd(x, bw->rms_att, r_att, da, dx1, T, D);
        for (size_t i = 0; i < TD; i++) dx_out[i] = (float)dx1[i];
    }
    rc = 0;
done:
    free(arena);
    free(fy);
    free(fx);
    return rc;
}

typedef struct recon_loss {
    const float *target;
    double lambda_cos, loss;
} recon_loss;

/* Loss = mean((y - target)^2) + lambda_cos * -log(mean_t cos(y_t, target_t)) and its gradient. */
static void recon_dout(void *user, const double *y, double *dy, int T, int D)
{
    recon_loss *r = user;
    const float *target = r->target;
    size_t TD = (size_t)T * D;
    double mse = 0.0, mean_cos = 0.0;
    for (size_t i = 0; i < TD; i++) {
        double d = y[i] - target[i];
        mse += d * d;
        dy[i] = 2.0 * d / (double)TD;
    }
    mse /= (double)TD;
    if (r->lambda_cos <= 0) {
        r->loss = mse;
        return;
    }
    for (int t = 0; t < T; t++) {
        double dot = 0.0, nn = 0.0, tt = 0.0;
        for (int i = 0; i < D; i++) {
            dot += y[t * D + i] * target[t * D + i];
            nn += y[t * D + i] * y[t * D + i];
            tt += (double)target[t * D + i] * target[t * D + i];
        }
        mean_cos += dot / (sqrt(nn * tt) + 1e-30) / T;
    }
    r->loss = mse - r->lambda_cos * log(mean_cos);
    for (int t = 0; t < T; t++) {
        double dot = 0.0, nn = 0.0, tt = 0.0;
        for (int i = 0; i < D; i++) {
            dot += y[t * D + i] * target[t * D + i];
            nn += y[t * D + i] * y[t * D + i];
            tt += (double)target[t * D + i] * target[t * D + i];
        }
        double ny = sqrt(nn), nt = sqrt(tt), f = -r->lambda_cos / (mean_cos * T);
        if (ny == 0.0 || nt == 0.0) continue;
        double cs = dot / (ny * nt);
        for (int i = 0; i < D; i++) dy[t * D + i] += f * ((double)target[t * D + i] / (ny * nt) - cs * y[t * D + i] / nn);
    }
}

int llm_block_loss_grad(const llm_config *c, const llm_block_weights *bw, const float *x, const float *target,
                        int T, double lambda_cos, double *loss, float *out, llm_grad_fn grad, void *user)
{
    recon_loss r = {target, lambda_cos, 0.0};
    /* The loss needs the forward output, so the callback always runs; without grad nothing is emitted. */
    int rc = llm_block_run(c, bw, x, T, out, recon_dout, &r, NULL, grad, user);
    if (!rc) *loss = r.loss;
    return rc;
}
