/* test_quant_binary.c - binarization (closed form and exact split), BiLLM residual binarization and ternary,
 * against double-precision references and brute force over every sign/support pattern. */
#include "qt_stories.h"

#include "quant/quantizers.h"
#include "quant/rowquant.h"

static double row_error(const float *w, const float *deq, const float *imp, int n)
{
    double e = 0;
    for (int j = 0; j < n; j++) e += (imp ? imp[j] : 1.0) * ((double)w[j] - deq[j]) * ((double)w[j] - deq[j]);
    return e;
}

/* Best weighted error of a*s + m over every sign pattern s (a, m by least squares): brute force. */
static double brute_binary(const float *w, const float *imp, int n)
{
    double best = INFINITY;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        double A00 = 0, A01 = 0, A11 = 0, b0 = 0, b1 = 0, e = 0;
        for (int j = 0; j < n; j++) {
            double c = imp ? imp[j] : 1.0, s = (mask >> j) & 1 ? 1.0 : -1.0;
            A00 += c; A01 += c * s; A11 += c; b0 += c * w[j]; b1 += c * s * w[j];
        }
        double det = A00 * A11 - A01 * A01, m, a;
        if (fabs(det) < 1e-15) { m = b0 / A00; a = 0; }
        else { m = (A11 * b0 - A01 * b1) / det; a = (A00 * b1 - A01 * b0) / det; }
        for (int j = 0; j < n; j++) {
            double s = (mask >> j) & 1 ? 1.0 : -1.0, d = w[j] - (a * s + m);
            e += (imp ? imp[j] : 1.0) * d * d;
        }
        if (e < best) best = e;
    }
    return best;
}

/* Best weighted error of a*t over every support set (t = sign(w) on the support, a by least squares). */
static double brute_ternary(const float *w, const float *imp, int n)
{
    double best = INFINITY;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        double s1 = 0, s0 = 0, e = 0;
        for (int j = 0; j < n; j++)
            if ((mask >> j) & 1) { s1 += (imp ? imp[j] : 1.0) * fabs(w[j]); s0 += imp ? imp[j] : 1.0; }
        double a = s0 > 0 ? s1 / s0 : 0;
        for (int j = 0; j < n; j++) {
            double v = (mask >> j) & 1 ? (w[j] > 0 ? a : -a) : 0, d = w[j] - v;
            e += (imp ? imp[j] : 1.0) * d * d;
        }
        if (e < best) best = e;
    }
    return best;
}

static void dequant_binary(uint16_t ah, uint16_t mh, const uint8_t *codes, int n, float *out)
{
    float a = qlow_fp16_to_fp32(ah), m = qlow_fp16_to_fp32(mh);
    for (int j = 0; j < n; j++) out[j] = (codes[j] ? a : -a) + m;
}

static void test_binary(void)
{
    int closed_ok = 1, optimal_ok = 1, brute_ok = 1, never_worse = 1;
    float scratch[64];
    for (int trial = 0; trial < 300; trial++) {
        float w[14], imp[14], deq[14];
        uint8_t codes[14];
        const int n = 2 + trial % 13;
        for (int j = 0; j < n; j++) {
            w[j] = (float)(qt_rand_normal() + (trial % 3 == 0 ? 0.7 : 0.0));
            imp[j] = (float)(0.05 + qt_rand_uniform());
        }
        const float *im = trial % 2 ? imp : NULL;
        /* closed form against the double reference: mu = weighted mean, alpha = weighted mean |w - mu| */
        double c = 0, sw = 0, sa = 0;
        for (int j = 0; j < n; j++) { c += im ? im[j] : 1.0; sw += (im ? im[j] : 1.0) * w[j]; }
        const double mu = sw / c;
        for (int j = 0; j < n; j++) sa += (im ? im[j] : 1.0) * fabs(w[j] - mu);
        uint16_t ah, mh;
        double e_closed = qlow__binary_row(w, n, im, 0, scratch, &ah, &mh, codes);
        closed_ok &= ah == qlow_fp32_to_fp16((float)(sa / c)) && mh == qlow_fp32_to_fp16((float)mu);
        dequant_binary(ah, mh, codes, n, deq);
        closed_ok &= fabs(row_error(w, deq, im, n) - e_closed) <= 1e-9 * (1 + e_closed);
        for (int j = 0; j < n; j++) closed_ok &= codes[j] == (w[j] >= qlow_fp16_to_fp32(mh));
        /* exact split: never worse than closed form, equals brute force up to fp16 rounding */
        double e_opt = qlow__binary_row(w, n, im, 1, scratch, &ah, &mh, codes);
        dequant_binary(ah, mh, codes, n, deq);
        optimal_ok &= fabs(row_error(w, deq, im, n) - e_opt) <= 1e-9 * (1 + e_opt);
        never_worse &= e_opt <= e_closed;
        const double bf = brute_binary(w, im, n);
        /* fp16 rounding of alpha and mu moves each level by at most 2^-11 relative */
        brute_ok &= e_opt <= bf + 4e-3 * (bf + 1e-6) + 1e-6 && e_opt >= bf - 1e-9;
        if (!(e_opt <= bf + 4e-3 * (bf + 1e-6) + 1e-6)) printf("INFO n=%d opt %.8g brute %.8g\n", n, e_opt, bf);
    }
    QT_CHECK(closed_ok, "closed-form binarization equals the double reference");
    QT_CHECK(optimal_ok, "optimal binarization reports its error");
    QT_CHECK(never_worse, "optimal split never worse than the closed form");
    QT_CHECK(brute_ok, "optimal split matches brute force over all 2^n sign patterns");
}

static void test_ternary(void)
{
    int ok = 1, err_ok = 1;
    float scratch[64];
    for (int trial = 0; trial < 300; trial++) {
        float w[14], imp[14], deq[14];
        uint8_t codes[14];
        const int n = 1 + trial % 14;
        for (int j = 0; j < n; j++) {
            w[j] = (float)(qt_rand_normal() * (trial % 5 == 0 ? 3.0 : 1.0));
            imp[j] = (float)(0.05 + qt_rand_uniform());
        }
        const float *im = trial % 2 ? imp : NULL;
        uint16_t ah;
        double e = qlow__ternary_row(w, n, im, scratch, &ah, codes);
        const float a = qlow_fp16_to_fp32(ah);
        for (int j = 0; j < n; j++) deq[j] = a * (float)((int)codes[j] - 1);
        err_ok &= fabs(row_error(w, deq, im, n) - e) <= 1e-9 * (1 + e);
        const double bf = brute_ternary(w, im, n);
        double energy = 0;
        for (int j = 0; j < n; j++) energy += (im ? im[j] : 1.0) * w[j] * w[j];
        /* storing alpha as fp16 moves it by at most 2^-11 relative: error grows by at most ~1e-6 energy */
        const int good = e <= bf * (1 + 2e-3) + 2e-6 * energy && e >= bf * (1 - 1e-9) - 1e-12;
        if (!good) printf("INFO ternary n=%d ours %.9g brute %.9g\n", n, e, bf);
        ok &= good;
    }
    QT_CHECK(err_ok, "ternary reports its error");
    QT_CHECK(ok, "ternary threshold optimal: equals brute force over all 2^n supports (up to fp16 alpha)");
}

/* BiLLM order-2 reference: mu1 = mean, a1 = mean|w-mu1|, r = w - (a1 s1 + mu1), mu2 = mean r,
 * a2 = mean|r - mu2|, w ~ a1 s1 + a2 s2 + mu1 + mu2. Ours refines it and must not be worse. */
static void test_binary_residual(void)
{
    int ok = 1, better = 0, trials = 0;
    for (int trial = 0; trial < 200; trial++) {
        float w[100], deq[100];
        uint8_t codes[100];
        const int n = 8 + trial % 90;
        for (int j = 0; j < n; j++) w[j] = (float)(qt_rand_normal() * 0.1 + (trial % 4 == 0 ? 0.05 : 0));
        double mu1 = 0, a1 = 0, mu2 = 0, a2 = 0, e_ref = 0;
        for (int j = 0; j < n; j++) mu1 += w[j] / (double)n;
        for (int j = 0; j < n; j++) a1 += fabs(w[j] - mu1) / n;
        double r[100];
        for (int j = 0; j < n; j++) { r[j] = w[j] - ((w[j] >= mu1 ? a1 : -a1) + mu1); mu2 += r[j] / n; }
        for (int j = 0; j < n; j++) a2 += fabs(r[j] - mu2) / n;
        for (int j = 0; j < n; j++) {
            double v = (w[j] >= mu1 ? a1 : -a1) + (r[j] >= mu2 ? a2 : -a2) + mu1 + mu2;
            e_ref += (w[j] - v) * (w[j] - v);
        }
        uint16_t ah, a2h, mh;
        double e = qlow__binary2_row(w, n, NULL, &ah, &a2h, &mh, codes);
        const float fa = qlow_fp16_to_fp32(ah), fa2 = qlow_fp16_to_fp32(a2h), fm = qlow_fp16_to_fp32(mh);
        for (int j = 0; j < n; j++) deq[j] = ((codes[j] & 1 ? fa : -fa) + (codes[j] & 2 ? fa2 : -fa2)) + fm;
        ok &= fabs(row_error(w, deq, NULL, n) - e) <= 1e-9 * (1 + e);
        /* fp16 storage of the reference's three values may cost up to ~1e-3 relative */
        ok &= e <= e_ref * (1 + 2e-3);
        better += e < e_ref * 0.99;
        trials++;
    }
    QT_CHECK(ok, "residual binarization never worse than the BiLLM closed-form reference");
    QT_CHECK(better > trials / 2, "least-squares refit improves on BiLLM in %d of %d rows", better, trials);
}

/* On the bundled model: binary (closed form / optimal), residual and ternary relative weight MSE. */
static void test_stories(void)
{
    qt_stories m;
    if (qt_stories_load(&m) != 0) {
        QT_CHECK(0, "cannot read data/stories260K.bin");
        return;
    }
    qt_matrix mats[64];
    const int nm = qt_stories_matrices(&m, mats, 64);
    double ref = 0, e[4] = {0, 0, 0, 0}, e_sign = 0;
    float scratch[512];
    for (int k = 0; k < nm; k++)
        for (int i = 0; i < mats[k].rows; i++) {
            const float *w = mats[k].w + (size_t)i * mats[k].cols;
            const int n = mats[k].cols;
            uint8_t codes[256];
            uint16_t a, a2, mu;
            for (int j = 0; j < n; j++) ref += (double)w[j] * w[j];
            e[0] += qlow__binary_row(w, n, NULL, 0, scratch, &a, &mu, codes);
            e[1] += qlow__binary_row(w, n, NULL, 1, scratch, &a, &mu, codes);
            e[2] += qlow__binary2_row(w, n, NULL, &a, &a2, &mu, codes);
            e[3] += qlow__ternary_row(w, n, NULL, scratch, &a, codes);
            /* naive "sign" reference in double: mu = mean, alpha = mean |w - mu| */
            double mm = 0, aa = 0;
            for (int j = 0; j < n; j++) mm += w[j] / (double)n;
            for (int j = 0; j < n; j++) aa += fabs(w[j] - mm) / n;
            for (int j = 0; j < n; j++) {
                double d = w[j] - ((w[j] >= mm ? aa : -aa) + mm);
                e_sign += d * d;
            }
        }
    QT_CHECK(fabs(e_sign / ref - 3.43e-1) < 0.005, "naive sign reproduces reference_numbers.md 3.43e-1: %.4e",
             e_sign / ref);
    QT_CHECK(fabs(e[0] - e_sign) <= 2e-3 * e_sign, "closed form == naive sign up to fp16");
    QT_CHECK(e[1] < e[0], "optimal split better than closed form");
    QT_CHECK(e[2] < e[1] && e[3] < e[0], "residual < binary, ternary < binary");
    printf("INFO stories260K rel. weight MSE: binary closed form %.4e, binary optimal %.4e, residual (B2) %.4e, "
           "ternary %.4e\n",
           e[0] / ref, e[1] / ref, e[2] / ref, e[3] / ref);
    stories_free(&m.m);
}

/* M161 reference construction against a double reference: per-row 4-bit min/max over the salient columns,
 * closed-form binary of w / r2 with weights r2^2 over the others. */
static void test_m161(void)
{
    const int64_t rows = 6, cols = 90;
    float w[6 * 90], r2[90];
    uint8_t mask[90];
    for (int64_t k = 0; k < rows * cols; k++) w[k] = (float)(0.1 * qt_rand_normal());
    for (int64_t j = 0; j < cols; j++) {
        mask[j] = (uint8_t)(qt_rand_u64() % 4 == 0);
        r2[j] = (float)(0.5 + qt_rand_uniform());
    }
    qlow__qresult *qr = NULL;
    QT_CHECK_OK(qlow__qresult_create_m161(NULL, rows, cols, mask, 1, &qr));
    if (!qr) return;
    float scratch[4 * 90];
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, w);
    qlow__quantize_m161(&v, NULL, r2, NULL, 0, qr, scratch);
    int ok = 1;
    for (int64_t i = 0; i < rows; i++) {
        const float *x = w + i * cols;
        double lo = INFINITY, hi = -INFINITY, sc = 0, sv = 0, sa = 0;
        for (int64_t j = 0; j < cols; j++)
            if (mask[j]) { lo = fmin(lo, x[j]); hi = fmax(hi, x[j]); }
        ok &= qr->sal_scale[i] == qlow_fp32_to_fp16((float)((hi - lo) / 15)) || fabs(qlow_fp16_to_fp32(qr->sal_scale[i]) - (hi - lo) / 15) < 1e-3 * (hi - lo) / 15;
        ok &= qr->sal_zero[i] == qlow_fp32_to_fp16((float)lo);
        for (int64_t j = 0, u = 0; j < cols; j++) {
            if (mask[j]) continue;
            const double r = qlow_fp16_to_fp32(qr->col_scale[u++]);
            ok &= r == qlow_fp16_to_fp32(qlow_fp32_to_fp16(r2[j]));
            sc += r * r;
            sv += r * r * (x[j] / r);
        }
        const double mu = sv / sc;
        for (int64_t j = 0, u = 0; j < cols; j++) {
            if (mask[j]) continue;
            const double r = qlow_fp16_to_fp32(qr->col_scale[u++]);
            sa += r * r * fabs(x[j] / r - mu);
        }
        ok &= fabs(qlow_fp16_to_fp32(qr->mu[i]) - mu) <= 1e-3 * fabs(mu) + 1e-7;
        ok &= fabs(qlow_fp16_to_fp32(qr->alpha[i]) - sa / sc) <= 1e-3 * (sa / sc) + 1e-7;
    }
    QT_CHECK(ok, "M161 salient min/max and weighted binary of w/r2 match the double reference");
    QT_CHECK(qr->n_salient > 0 && qr->code_cols == cols - qr->n_salient, "M161 geometry");
    qlow__qresult_destroy(qr);
}

int main(void)
{
    test_binary();
    test_ternary();
    test_binary_residual();
    test_m161();
    test_stories();
    return qt_finish();
}
