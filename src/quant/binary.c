/* binary.c - per-row binarization (closed form and exact two-means split) and BiLLM residual binarization. */
#include <math.h>

#include "quant/rowquant.h"

static double weight_of(const float *imp, int64_t j) { return imp ? (double)imp[j] : 1.0; }

/* Importance vectors that sum to zero carry no information: fall back to uniform weights. */
static const float *usable_importance(const float *imp, int64_t n)
{
    if (!imp) return NULL;
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) s += imp[j];
    return s > 0.0 ? imp : NULL;
}

void qlow__binary_closed_form(const float *w, int64_t n, const float *imp, double *alpha, double *mu)
{
    imp = usable_importance(imp, n);
    double sc = 0.0, sw = 0.0;
    for (int64_t j = 0; j < n; j++) {
        sc += weight_of(imp, j);
        sw += weight_of(imp, j) * w[j];
    }
    double m = sw / sc, sa = 0.0;
    for (int64_t j = 0; j < n; j++) sa += weight_of(imp, j) * fabs((double)w[j] - m);
    *mu = m;
    *alpha = sa / sc;
}

/* Codes for fp16 (alpha, mu) and the weighted error they give. */
static double binary_apply(const float *w, int64_t n, const float *imp, uint16_t ah, uint16_t mh, uint8_t *codes)
{
    float a = qlow_fp16_to_fp32(ah), m = qlow_fp16_to_fp32(mh);
    double e = 0.0;
    for (int64_t j = 0; j < n; j++) {
        int s = w[j] >= m;
        if (codes) codes[j] = (uint8_t)s;
        double d = (double)w[j] - (double)((s ? a : -a) + m);
        e += weight_of(imp, j) * d * d;
    }
    return e;
}

/* Exact weighted two-means split of the sorted row: the two level values are the weighted means of the
 * two sides, so the error is the total minus the between-side terms; maximize those. 0 if no split. */
static int best_split(const float *w, int64_t n, const float *imp, qlow__kv *kv, double *alpha, double *mu)
{
    for (int64_t j = 0; j < n; j++) {
        kv[j].key = w[j];
        kv[j].weight = imp ? imp[j] : 1.0f;
    }
    qlow__kv_sort(kv, n);
    double C = 0.0, S = 0.0;
    for (int64_t j = 0; j < n; j++) {
        C += kv[j].weight;
        S += (double)kv[j].weight * kv[j].key;
    }
    double ck = 0.0, sk = 0.0, best = -1.0;
    int found = 0;
    for (int64_t k = 1; k < n; k++) {
        ck += kv[k - 1].weight;
        sk += (double)kv[k - 1].weight * kv[k - 1].key;
        if (!(kv[k - 1].key < kv[k].key)) continue;
        double cr = C - ck;
        if (!(ck > 0.0) || !(cr > 0.0)) continue;
        double score = sk * sk / ck + (S - sk) * (S - sk) / cr;
        if (score > best) {
            best = score;
            double ml = sk / ck, mr = (S - sk) / cr;
            *alpha = 0.5 * (mr - ml);
            *mu = 0.5 * (mr + ml);
            found = 1;
        }
    }
    return found;
}

double qlow__binary_row(const float *w, int64_t n, const float *imp, int32_t optimal, void *scratch,
                        uint16_t *alpha_h, uint16_t *mu_h, uint8_t *codes)
{
    imp = usable_importance(imp, n);
    double a, m;
    qlow__binary_closed_form(w, n, imp, &a, &m);
    uint16_t ah = qlow_fp32_to_fp16((float)a), mh = qlow_fp32_to_fp16((float)m);
    double err = binary_apply(w, n, imp, ah, mh, NULL);
    if (optimal && best_split(w, n, imp, (qlow__kv *)scratch, &a, &m)) {
        uint16_t ah2 = qlow_fp32_to_fp16((float)a), mh2 = qlow_fp32_to_fp16((float)m);
        double e2 = binary_apply(w, n, imp, ah2, mh2, NULL);
        if (e2 < err) {
            err = e2;
            ah = ah2;
            mh = mh2;
        }
    }
    *alpha_h = ah;
    *mu_h = mh;
    return binary_apply(w, n, imp, ah, mh, codes);
}

/* ---- order-2 residual ---------------------------------------------------------------------------- */

typedef struct levels2 {
    uint16_t a1, a2, m;
} levels2;

static float level2(float a1, float a2, float m, int code)
{
    return ((code & 1 ? a1 : -a1) + (code & 2 ? a2 : -a2)) + m;
}

/* Nearest-level codes for fp16 levels and their weighted error. */
static double binary2_apply(const float *w, int64_t n, const float *imp, const levels2 *L, uint8_t *codes)
{
    float a1 = qlow_fp16_to_fp32(L->a1), a2 = qlow_fp16_to_fp32(L->a2), m = qlow_fp16_to_fp32(L->m);
    double e = 0.0;
    for (int64_t j = 0; j < n; j++) {
        int best = 0;
        double bd = INFINITY;
        for (int c = 0; c < 4; c++) {
            double d = fabs((double)w[j] - (double)level2(a1, a2, m, c));
            if (d < bd) {
                bd = d;
                best = c;
            }
        }
        codes[j] = (uint8_t)best;
        e += weight_of(imp, j) * bd * bd;
    }
    return e;
}

/* Solve the 3x3 system A x = b by Gaussian elimination with partial pivoting; 0 if singular. */
static int solve3(double A[3][3], double b[3], double x[3])
{
    for (int c = 0; c < 3; c++) {
        int p = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(A[r][c]) > fabs(A[p][c])) p = r;
        if (!(fabs(A[p][c]) > 1e-12 * (fabs(A[0][0]) + fabs(A[1][1]) + fabs(A[2][2])))) return 0;
        for (int k = 0; k < 3; k++) {
            double t = A[c][k];
            A[c][k] = A[p][k];
            A[p][k] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (int r = c + 1; r < 3; r++) {
            double f = A[r][c] / A[c][c];
            for (int k = c; k < 3; k++) A[r][k] -= f * A[c][k];
            b[r] -= f * b[c];
        }
    }
    for (int c = 2; c >= 0; c--) {
        double s = b[c];
        for (int k = c + 1; k < 3; k++) s -= A[c][k] * x[k];
        x[c] = s / A[c][c];
    }
    return 1;
}

/* Weighted least squares (a1, a2, m) for fixed sign codes. */
static int refit2(const float *w, int64_t n, const float *imp, const uint8_t *codes, levels2 *L)
{
    double A[3][3] = {{0}}, b[3] = {0}, x[3];
    for (int64_t j = 0; j < n; j++) {
        double c = weight_of(imp, j);
        double f[3] = {codes[j] & 1 ? 1.0 : -1.0, codes[j] & 2 ? 1.0 : -1.0, 1.0};
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 3; k++) A[r][k] += c * f[r] * f[k];
            b[r] += c * f[r] * w[j];
        }
    }
    if (!solve3(A, b, x)) return 0;
    /* Signs of the alphas are a labelling choice: keep them nonnegative by flipping the plane. */
    if (!(fabs(x[0]) <= 65504.0) || !(fabs(x[1]) <= 65504.0) || !(fabs(x[2]) <= 65504.0)) return 0;
    L->a1 = qlow_fp32_to_fp16((float)fabs(x[0]));
    L->a2 = qlow_fp32_to_fp16((float)fabs(x[1]));
    L->m = qlow_fp32_to_fp16((float)x[2]);
    return 1;
}

double qlow__binary2_row(const float *w, int64_t n, const float *imp, uint16_t *alpha_h, uint16_t *alpha2_h,
                         uint16_t *mu_h, uint8_t *codes)
{
    imp = usable_importance(imp, n);
    double a1, m1, sc = 0.0, sr = 0.0;
    qlow__binary_closed_form(w, n, imp, &a1, &m1);
    for (int64_t j = 0; j < n; j++) {
        double r = (double)w[j] - (w[j] >= m1 ? a1 : -a1) - m1;
        sc += weight_of(imp, j);
        sr += weight_of(imp, j) * r;
    }
    double m2 = sr / sc, sa = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double r = (double)w[j] - (w[j] >= m1 ? a1 : -a1) - m1;
        sa += weight_of(imp, j) * fabs(r - m2);
    }
    levels2 best = {qlow_fp32_to_fp16((float)a1), qlow_fp32_to_fp16((float)(sa / sc)),
                    qlow_fp32_to_fp16((float)(m1 + m2))};
    double err = binary2_apply(w, n, imp, &best, codes);
    for (int it = 0; it < 4; it++) {
        levels2 cand;
        if (!refit2(w, n, imp, codes, &cand)) break;
        /* codes is rewritten by the trial; restore it from `best` when the trial loses. */
        double e = binary2_apply(w, n, imp, &cand, codes);
        if (!(e < err)) {
            binary2_apply(w, n, imp, &best, codes);
            break;
        }
        err = e;
        best = cand;
    }
    *alpha_h = best.a1;
    *alpha2_h = best.a2;
    *mu_h = best.m;
    return err;
}
