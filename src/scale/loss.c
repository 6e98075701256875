/* loss.c - the PTQ1.61 layer objective MSE + lambda * -log|mean_t cos(y_t, yh_t)| and its gradient with
 * respect to the quantized output. Per-token sums are computed by one thread each in row order and the
 * token mean is taken serially, so the value does not depend on the thread count. */
#include "scale/scale.h"

#include <math.h>

void qlow__loss_sums(const qlow_ctx *ctx, const float *Y, const float *Yh, int64_t rows, int64_t T, int64_t ld,
                     double *sq_out, double *cos_out)
{
    const int64_t TB = 16, blocks = (T + TB - 1) / TB;
    double sq = 0.0, csum = 0.0;
    int nth = qlow__par_threads(ctx, (double)rows * (double)T);
    (void)nth;
    /* Per token block: squared error and cosine sums, reduced serially in block order. */
    double block_sq[256], block_cos[256];
    for (int64_t b0 = 0; b0 < blocks; b0 += 256) {
        const int64_t b1 = b0 + 256 < blocks ? b0 + 256 : blocks;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
        for (int64_t b = b0; b < b1; b++) {
            const int64_t t0 = b * TB, t1 = t0 + TB < T ? t0 + TB : T;
            double e2[16], yy[16], hh[16], yh[16];
            for (int k = 0; k < 16; k++) e2[k] = yy[k] = hh[k] = yh[k] = 0.0;
            for (int64_t i = 0; i < rows; i++) {
                const float *y = Y + i * ld, *h = Yh + i * ld;
                for (int64_t t = t0; t < t1; t++) {
                    double a = y[t], c = h[t], d = a - c;
                    e2[t - t0] += d * d;
                    yy[t - t0] += a * a;
                    hh[t - t0] += c * c;
                    yh[t - t0] += a * c;
                }
            }
            double bs = 0.0, bc = 0.0;
            for (int64_t t = t0; t < t1; t++) {
                int k = (int)(t - t0);
                double den = sqrt(yy[k] * hh[k]);
                double cs = den > 0.0 ? yh[k] / den : 0.0;
                bs += e2[k];
                bc += cs;
            }
            block_sq[b - b0] = bs;
            block_cos[b - b0] = bc;
        }
        for (int64_t b = b0; b < b1; b++) {
            sq += block_sq[b - b0];
            csum += block_cos[b - b0];
        }
    }
    *sq_out = sq;
    *cos_out = csum;
}

double qlow__loss_from_sums(double sq, double csum, int64_t rows, int64_t T, double lambda, double *mse, double *cosm)
{
    const double m = sq / ((double)rows * (double)T), c = csum / (double)T;
    const double ac = fabs(c) > 1e-30 ? fabs(c) : 1e-30;
    if (mse) *mse = m;
    if (cosm) *cosm = c;
    return m + lambda * -log(ac);
}

double qlow__loss_mse_nlc(const qlow_ctx *ctx, const float *Y, const float *Yh, int64_t rows, int64_t T,
                          int64_t ld, double lambda, float *dYh, double *mse, double *cosm)
{
    const int64_t TB = 16, blocks = (T + TB - 1) / TB;
    double sq = 0.0, csum = 0.0, c = 0.0;
    int nth = qlow__par_threads(ctx, (double)rows * (double)T);
    (void)nth;
    qlow__loss_sums(ctx, Y, Yh, rows, T, ld, &sq, &csum);
    const double n_el = (double)rows * (double)T;
    const double loss = qlow__loss_from_sums(sq, csum, rows, T, lambda, mse, &c);
    const double ac = fabs(c) > 1e-30 ? fabs(c) : 1e-30;
    if (cosm) *cosm = c;
    if (dYh) {
        /* d(-log|c|)/dyh_t = -sign(c)/|c| * (1/T) * (y/(|y||yh|) - cos * yh/|yh|^2). */
        const double kc = lambda * (c >= 0.0 ? -1.0 : 1.0) / ac / (double)T;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
#endif
        for (int64_t b = 0; b < blocks; b++) {
            const int64_t t0 = b * TB, t1 = t0 + TB < T ? t0 + TB : T;
            double yy[16], hh[16], yh[16];
            for (int k = 0; k < 16; k++) yy[k] = hh[k] = yh[k] = 0.0;
            for (int64_t i = 0; i < rows; i++) {
                const float *y = Y + i * ld, *h = Yh + i * ld;
                for (int64_t t = t0; t < t1; t++) {
                    yy[t - t0] += (double)y[t] * y[t];
                    hh[t - t0] += (double)h[t] * h[t];
                    yh[t - t0] += (double)y[t] * h[t];
                }
            }
            double ca[16], cb[16];
            for (int64_t t = t0; t < t1; t++) {
                int k = (int)(t - t0);
                double den = sqrt(yy[k] * hh[k]);
                ca[k] = den > 0.0 ? kc / den : 0.0;
                cb[k] = (den > 0.0 && hh[k] > 0.0) ? -kc * (yh[k] / den) / hh[k] : 0.0;
            }
            for (int64_t i = 0; i < rows; i++) {
                const float *y = Y + i * ld, *h = Yh + i * ld;
                float *d = dYh + i * ld;
                for (int64_t t = t0; t < t1; t++) {
                    int k = (int)(t - t0);
                    d[t] = (float)(-2.0 * ((double)y[t] - h[t]) / n_el + ca[k] * y[t] + cb[k] * h[t]);
                }
            }
        }
    }
    return loss;
}
