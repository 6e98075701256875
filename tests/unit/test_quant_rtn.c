/* test_quant_rtn.c - uniform RTN against a plain double-precision reference, round-trip bounds, grouping
 * along columns and rows, and the weighted range search (never worse than min/max; better on the bundled
 * model's weights). */
#include "qt_stories.h"

#include "quant/quantizers.h"

static qlow__qresult *run(const qlow__qopts *o, const float *w, int64_t rows, int64_t cols, const float *imp)
{
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)w);
    qlow__qresult g, *qr = NULL;
    if (qlow__qopts_geometry(o, rows, cols, &g) != QLOW_OK) return NULL;
    if (qlow__qresult_create(NULL, &g, &qr) != QLOW_OK) return NULL;
    size_t sb;
    qlow__quantize_scratch_bytes(qr, 1, &sb);
    void *scratch = aligned_alloc(64, (sb + 64) / 64 * 64);
    qlow__quantize_run(o, &v, imp, 1, qr, scratch);
    free(scratch);
    return qr;
}

static qlow__qopts rtn_opts(int bits, int sym, int64_t gc, int64_t gr, int search)
{
    qlow__qopts o;
    qlow__qopts_from_params(NULL, &o);
    o.kind = QLOW__QK_RTN;
    o.bits = bits;
    o.symmetric = sym;
    o.group_cols = gc;
    o.group_rows = gr;
    o.range_search = search;
    return o;
}

/* Half a unit in the last place of x as fp16 (normal range), or of the subnormal spacing. */
static double fp16_half_ulp(double x)
{
    x = fabs(x);
    if (x < 6.103515625e-05) return 0.5 * 5.960464477539063e-08;
    int e;
    frexp(x, &e); /* x = m * 2^e, m in [0.5, 1) */
    return 0.5 * ldexp(1.0, e - 11);
}

static double weighted_error(const qlow__qresult *qr, const float *w, const float *imp)
{
    float *row = (float *)malloc((size_t)qr->cols * sizeof(float));
    double e = 0;
    for (int64_t i = 0; i < qr->rows; i++) {
        qlow__qresult_dequantize_row(qr, i, row);
        for (int64_t j = 0; j < qr->cols; j++) {
            double d = (double)w[i * qr->cols + j] - row[j];
            e += (imp ? imp[j] : 1.0) * d * d;
        }
    }
    free(row);
    return e;
}

/* Min/max RTN: scales/zeros, codes and values against a double reference written here. */
static void test_minmax_reference(void)
{
    static const int bitsv[] = {2, 3, 4, 5, 8};
    static const int64_t shapes[][4] = {/* rows, cols, group_cols, group_rows */
                                        {4, 64, 0, 1}, {6, 100, 32, 1}, {8, 172, 32, 2}, {5, 70, 64, 3},
                                        {9, 40, 0, 4}, {3, 31, 32, 5}};
    int code_ok = 1, scale_ok = 1, bound_ok = 1, value_ok = 1, checked = 0, ties = 0;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], gc = shapes[s][2], gr = shapes[s][3];
        float *w = (float *)malloc((size_t)(rows * cols) * sizeof(float));
        for (int64_t k = 0; k < rows * cols; k++) w[k] = (float)(0.05 * qt_rand_normal() + (k % 7 == 0 ? 0.02 : 0));
        for (int b = 0; b < 5; b++)
            for (int sym = 0; sym < 2; sym++) {
                qlow__qopts o = rtn_opts(bitsv[b], sym, gc, gr, 0);
                qlow__qresult *qr = run(&o, w, rows, cols, NULL);
                QT_CHECK(qr != NULL, "quantize");
                if (!qr) continue;
                const int64_t G = gc == 0 ? (cols + 31) / 32 * 32 : gc;
                const int qmax = (1 << bitsv[b]) - 1, half = (1 << (bitsv[b] - 1)) - 1;
                for (int64_t rg = 0; rg * gr < rows; rg++)
                    for (int64_t cg = 0; cg * G < cols; cg++) {
                        double lo = INFINITY, hi = -INFINITY;
                        for (int64_t i = rg * gr; i < rows && i < (rg + 1) * gr; i++)
                            for (int64_t j = cg * G; j < cols && j < (cg + 1) * G; j++) {
                                lo = fmin(lo, w[i * cols + j]);
                                hi = fmax(hi, w[i * cols + j]);
                            }
                        const int64_t gi = rg * qr->n_col_groups + cg;
                        const double s_lib = qlow_fp16_to_fp32(qr->scale[gi]);
                        const double z_lib = sym ? 0.0 : qlow_fp16_to_fp32(qr->zero[gi]);
                        const double s_ref = sym ? fmax(fabs(lo), fabs(hi)) / half : (hi - lo) / qmax;
                        scale_ok &= fabs(s_lib - s_ref) <= fp16_half_ulp(s_ref) * 1.0001;
                        if (!sym) scale_ok &= fabs(z_lib - lo) <= fp16_half_ulp(lo) * 1.0001;
                        for (int64_t i = rg * gr; i < rows && i < (rg + 1) * gr; i++)
                            for (int64_t j = cg * G; j < cols && j < (cg + 1) * G; j++) {
                                const double x = w[i * cols + j];
                                double t = sym ? x / s_lib : (x - z_lib) / s_lib;
                                double r = floor(t + 0.5);
                                if (fabs(t - floor(t) - 0.5) < 1e-5) {
                                    ties++;
                                    continue;
                                }
                                if (sym) r = fmin(fmax(r, -half), half) + (1 << (bitsv[b] - 1));
                                else r = fmin(fmax(r, 0), qmax);
                                const int q = qr->codes[i * cols + j];
                                code_ok &= q == (int)r;
                                const double v = sym ? s_lib * (q - (1 << (bitsv[b] - 1))) : s_lib * q + z_lib;
                                float row[256];
                                qlow__qresult_dequantize_row(qr, i, row);
                                value_ok &= fabs(row[j] - v) <= 1e-6 * (fabs(v) + 1e-3);
                                /* inside the clip range the error is at most half a step */
                                const double top = sym ? s_lib * half : z_lib + s_lib * qmax;
                                const double bot = sym ? -s_lib * half : z_lib;
                                if (x >= bot && x <= top) bound_ok &= fabs(x - v) <= 0.5 * s_lib * (1 + 1e-5);
                                checked++;
                            }
                    }
                qlow__qresult_destroy(qr);
            }
        free(w);
    }
    QT_CHECK(scale_ok, "fp16 scale/zero within half an fp16 ulp of the double reference");
    QT_CHECK(code_ok, "codes equal the double reference");
    QT_CHECK(value_ok, "dequantized values equal scale*q+zero");
    QT_CHECK(bound_ok, "|w - deq| <= scale/2 inside the clip range");
    QT_CHECK(checked > 10000 && ties < checked / 1000, "checked %d values (%d near ties skipped)", checked, ties);
}

/* Range search: the result never has a larger weighted error than min/max, matrix by matrix and group by
 * group (random weights with outliers, random importance). */
static void test_search_never_worse(void)
{
    int never_worse = 1, strictly_better = 0, cases = 0;
    double worst_ratio = 0;
    for (int trial = 0; trial < 60; trial++) {
        const int64_t rows = 1 + (int64_t)(qt_rand_u64() % 6), cols = 1 + (int64_t)(qt_rand_u64() % 150);
        float *w = (float *)malloc((size_t)(rows * cols) * sizeof(float));
        float *imp = (float *)malloc((size_t)cols * sizeof(float));
        for (int64_t k = 0; k < rows * cols; k++)
            w[k] = (float)(qt_rand_normal() * (qt_rand_u64() % 20 == 0 ? 6.0 : 1.0) * 0.03);
        for (int64_t j = 0; j < cols; j++) imp[j] = (float)(qt_rand_uniform() * qt_rand_uniform() * 4);
        for (int b = 2; b <= 8; b++)
            for (int sym = 0; sym < 2; sym++) {
                const int64_t gc = (trial % 3) * 32;
                qlow__qopts a = rtn_opts(b, sym, gc, 1 + trial % 2, 0), s = rtn_opts(b, sym, gc, 1 + trial % 2, 1);
                const float *im = trial % 4 == 0 ? NULL : imp;
                qlow__qresult *qa = run(&a, w, rows, cols, im), *qs = run(&s, w, rows, cols, im);
                double ea = weighted_error(qa, w, im), es = weighted_error(qs, w, im);
                never_worse &= es <= ea * (1 + 1e-12);
                strictly_better += es < ea;
                if (ea > 0 && es / ea > worst_ratio) worst_ratio = es / ea;
                cases++;
                qlow__qresult_destroy(qa);
                qlow__qresult_destroy(qs);
            }
        free(w);
        free(imp);
    }
    QT_CHECK(never_worse, "range search never worse than min/max (worst ratio %.6f)", worst_ratio);
    QT_CHECK(strictly_better > cases / 2, "range search strictly better in %d of %d cases", strictly_better, cases);

    /* Per group, through the group-level helpers that GPTQ uses. */
    int group_ok = 1;
    for (int trial = 0; trial < 500; trial++) {
        float g[64], imp[64];
        const int n = 1 + (int)(qt_rand_u64() % 64);
        for (int j = 0; j < n; j++) {
            g[j] = (float)qt_rand_normal();
            imp[j] = (float)qt_rand_uniform();
        }
        qlow__qgrid mm, best;
        qlow__range_opts ro = {50, 0.2f, 4};
        const int bits = 2 + trial % 7, sym = trial % 2;
        qlow__rtn_grid_minmax(g, 1, n, n, bits, sym, &mm);
        double e;
        qlow__rtn_grid_search(g, 1, n, n, imp, bits, sym, &ro, &best, &e);
        group_ok &= e <= qlow__rtn_group_error(&mm, g, 1, n, n, imp);
        group_ok &= e == qlow__rtn_group_error(&best, g, 1, n, n, imp);
    }
    QT_CHECK(group_ok, "group search <= min/max and reports its own error");
}

/* Q-BERT row groups: one (scale, zero) shared by group_rows consecutive rows over whole rows. */
static void test_row_groups(void)
{
    const int64_t rows = 24, cols = 64;
    float *w = (float *)malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t k = 0; k < rows * cols; k++) w[k] = (float)(0.1 * qt_rand_normal());
    qlow__qopts o = rtn_opts(4, 0, 0, 6, 0);
    qlow__qresult *qr = run(&o, w, rows, cols, NULL);
    QT_CHECK(qr && qr->n_row_groups == 4 && qr->n_col_groups == 1, "4 row groups of 6 rows");
    o.row_groups = 5; /* ceil(24/5) = 5 rows per group -> 5 groups */
    qlow__qresult *q5 = run(&o, w, rows, cols, NULL);
    QT_CHECK(q5 && q5->group_rows == 5 && q5->n_row_groups == 5, "QLOW_P_ROW_GROUPS count");
    /* the shared range covers all rows of the group: codes 0 and 15 each appear in every row group */
    int ok = 1;
    for (int64_t rg = 0; rg < 4; rg++) {
        int has0 = 0, has15 = 0;
        for (int64_t k = rg * 6 * cols; k < (rg + 1) * 6 * cols; k++) {
            has0 |= qr->codes[k] == 0;
            has15 |= qr->codes[k] == 15;
        }
        ok &= has0 && has15;
    }
    QT_CHECK(ok, "row group range spans its rows");
    qlow__qresult_destroy(qr);
    qlow__qresult_destroy(q5);
    free(w);
}

/* The bundled model: range search lowers the weight MSE of every configuration (printed per config). */
static void test_stories_improvement(void)
{
    qt_stories m;
    if (qt_stories_load(&m) != 0) {
        QT_CHECK(0, "cannot read data/stories260K.bin");
        return;
    }
    qt_matrix mats[64];
    const int nm = qt_stories_matrices(&m, mats, 64);
    QT_CHECK(nm == 35, "35 weight matrices");
    static const int bitsv[] = {2, 3, 4, 8};
    for (int b = 0; b < 4; b++)
        for (int sym = 0; sym < 2; sym++)
            for (int gc = 0; gc <= 32; gc += 32) {
                double e0 = 0, e1 = 0, ref = 0;
                int never_worse = 1;
                for (int k = 0; k < nm; k++) {
                    qlow__qopts a = rtn_opts(bitsv[b], sym, gc, 1, 0), s = rtn_opts(bitsv[b], sym, gc, 1, 1);
                    qlow__qresult *qa = run(&a, mats[k].w, mats[k].rows, mats[k].cols, NULL);
                    qlow__qresult *qs = run(&s, mats[k].w, mats[k].rows, mats[k].cols, NULL);
                    double ea = weighted_error(qa, mats[k].w, NULL), es = weighted_error(qs, mats[k].w, NULL);
                    never_worse &= es <= ea;
                    e0 += ea;
                    e1 += es;
                    for (int64_t j = 0; j < (int64_t)mats[k].rows * mats[k].cols; j++) ref += (double)mats[k].w[j] * mats[k].w[j];
                    qlow__qresult_destroy(qa);
                    qlow__qresult_destroy(qs);
                }
                QT_CHECK(never_worse, "never worse on every matrix");
                QT_CHECK(e1 < e0 * (bitsv[b] == 8 ? 0.999 : 0.95), "%d-bit %s G=%d: search %.4g < minmax %.4g",
                         bitsv[b], sym ? "sym" : "asym", gc, e1 / ref, e0 / ref);
                printf("INFO stories260K RTN %d-bit %-4s G=%-3s rel. weight MSE: min/max %.4e, range search %.4e "
                       "(%.1f%% lower)\n",
                       bitsv[b], sym ? "sym" : "asym", gc ? "32" : "row", e0 / ref, e1 / ref, 100.0 * (1 - e1 / e0));
            }
    stories_free(&m.m);
}

int main(void)
{
    test_minmax_reference();
    test_search_never_worse();
    test_row_groups();
    test_stories_improvement();
    return qt_finish();
}
