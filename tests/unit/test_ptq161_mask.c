/* test_ptq161_mask.c - activation statistics (streaming, merge, dtypes, errors), the salient mask rule and
 * its permutation, and the PTQ1.61 bit accounting (paper ~1.61 and the exact M161 storage). */
#include "qtest.h"

#include "mask/mask.h"

static void test_actstats(void)
{
    enum { T = 37, M = 13 };
    float X[T * M];
    for (int k = 0; k < T * M; k++) X[k] = (float)(qt_rand_normal() * (1 + k % M));
    qlow_actstats *a = NULL, *b = NULL, *c = NULL;
    QT_CHECK_OK(qlow_actstats_create(NULL, M, &a));
    QT_CHECK_OK(qlow_actstats_create(NULL, M, &b));
    QT_CHECK_OK(qlow_actstats_create(NULL, M, &c));
    qlow_view all, part1, part2;
    qlow_view_init_2d(&all, QLOW_DTYPE_F32, T, M, X);
    qlow_view_init_2d(&part1, QLOW_DTYPE_F32, 20, M, X);
    qlow_view_init_2d(&part2, QLOW_DTYPE_F32, T - 20, M, X + 20 * M);
    QT_CHECK_OK(qlow_actstats_update(a, &all));
    QT_CHECK_OK(qlow_actstats_update(b, &part1));
    QT_CHECK_OK(qlow_actstats_update(b, &part2));
    QT_CHECK_OK(qlow_actstats_update(c, &part2));
    qlow_actstats *d = NULL;
    QT_CHECK_OK(qlow_actstats_create(NULL, M, &d));
    QT_CHECK_OK(qlow_actstats_update(d, &part1));
    QT_CHECK_OK(qlow_actstats_merge(d, c));
    for (int w = 0; w < 3; w++) {
        float va[M], vb[M], vd[M];
        int64_t ta = 0, tb = 0, td = 0;
        QT_CHECK_OK(qlow_actstats_get(a, w, va, M, &ta));
        QT_CHECK_OK(qlow_actstats_get(b, w, vb, M, &tb));
        QT_CHECK_OK(qlow_actstats_get(d, w, vd, M, &td));
        QT_CHECK(ta == T && tb == T && td == T, "token counts");
        QT_CHECK(memcmp(va, vb, sizeof va) == 0, "chunked stream equals one call (stat %d)", w);
        QT_CHECK(memcmp(va, vd, sizeof va) == 0, "merge equals one call (stat %d)", w);
        for (int j = 0; j < M; j++) {
            double r = 0;
            for (int t = 0; t < T; t++) {
                double x = X[t * M + j];
                if (w == 0) r = fabs(x) > r ? fabs(x) : r;
                else r += (w == 1 ? fabs(x) : x * x) / T;
            }
            QT_CHECK(fabs(va[j] - r) <= 1e-6 * (1 + r), "stat %d col %d: %g vs %g", w, j, va[j], r);
        }
    }
    /* f16 input gives the statistics of the converted values. */
    uint16_t h[T * M];
    float back[T * M];
    for (int k = 0; k < T * M; k++) {
        h[k] = qlow_fp32_to_fp16(X[k]);
        back[k] = qlow_fp16_to_fp32(h[k]);
    }
    qlow_actstats *e = NULL, *f = NULL;
    qlow_view hv, bv;
    qlow_view_init_2d(&hv, QLOW_DTYPE_F16, T, M, h);
    qlow_view_init_2d(&bv, QLOW_DTYPE_F32, T, M, back);
    QT_CHECK_OK(qlow_actstats_create(NULL, M, &e));
    QT_CHECK_OK(qlow_actstats_create(NULL, M, &f));
    QT_CHECK_OK(qlow_actstats_update(e, &hv));
    QT_CHECK_OK(qlow_actstats_update(f, &bv));
    float ve[M], vf[M];
    qlow_actstats_get(e, QLOW_ACTSTAT_SQMEAN, ve, M, NULL);
    qlow_actstats_get(f, QLOW_ACTSTAT_SQMEAN, vf, M, NULL);
    QT_CHECK(memcmp(ve, vf, sizeof ve) == 0, "f16 view");
    /* Errors leave the accumulator unchanged. */
    X[5] = NAN;
    QT_CHECK_STATUS(qlow_actstats_update(a, &all), QLOW_E_NONFINITE);
    int64_t ta = 0;
    qlow_actstats_get(a, 0, ve, M, &ta);
    QT_CHECK(ta == T, "unchanged after NaN");
    qlow_view wrong;
    qlow_view_init_2d(&wrong, QLOW_DTYPE_F32, 2, M - 1, back);
    QT_CHECK_STATUS(qlow_actstats_update(a, &wrong), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_actstats_get(a, 7, ve, M, NULL), QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_actstats_get(a, 0, ve, M + 1, NULL), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_actstats_create(NULL, 0, &e), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_actstats_merge(a, NULL), QLOW_E_NULL_POINTER);
    uint8_t mk[2];
    qlow_actstats *empty = NULL;
    QT_CHECK_OK(qlow_actstats_create(NULL, M, &empty));
    QT_CHECK_STATUS(qlow_actstats_mask(empty, NULL, mk, NULL), QLOW_E_STATE);
    int points = 0;
    QT_ALLOC_FAIL_LOOP(&points, { qlow_actstats *z = NULL; st = qlow_actstats_create(&qa, M, &z); qlow_actstats_destroy(z); }, {});
    QT_CHECK(points == 1, "one allocation point");
    qlow_actstats_destroy(a);
    qlow_actstats_destroy(b);
    qlow_actstats_destroy(c);
    qlow_actstats_destroy(d);
    qlow_actstats_destroy(e);
    qlow_actstats_destroy(f);
    qlow_actstats_destroy(empty);
    qlow_actstats_destroy(NULL);
}

static int64_t popcount_mask(const uint8_t *mk, int64_t m)
{
    int64_t n = 0;
    for (int64_t j = 0; j < m; j++) n += (mk[j >> 3] >> (j & 7)) & 1;
    return n;
}

static void test_mask(void)
{
    static float score[11008];
    static uint8_t mk[QLOW_MASK_BYTES(11008)];
    static int32_t perm[11008];
    const int64_t sizes[3] = {4096, 11008, 77};
    const int64_t want[3] = {820, 2202, 16};
    for (int k = 0; k < 3; k++) {
        int64_t m = sizes[k], n = -1;
        for (int64_t j = 0; j < m; j++) score[j] = (float)(qt_rand_uniform() * 10 + 1e-3);
        QT_CHECK_OK(qlow_mask_select(score, m, 0.2, mk, &n));
        QT_CHECK(n == want[k] && popcount_mask(mk, m) == n, "m=%lld: %lld salient, want floor(0.2m)+1 = %lld",
                 (long long)m, (long long)n, (long long)want[k]);
        /* Every salient score >= every other score (the threshold rule). */
        float min_s = 1e30f, max_u = -1e30f;
        for (int64_t j = 0; j < m; j++) {
            int s = (mk[j >> 3] >> (j & 7)) & 1;
            if (s && score[j] < min_s) min_s = score[j];
            if (!s && score[j] > max_u) max_u = score[j];
        }
        QT_CHECK(min_s >= max_u, "salient scores dominate");
        QT_CHECK(m % 8 == 0 || (mk[m >> 3] >> (m & 7)) == 0, "padding bits clear");
        int64_t ns = 0;
        QT_CHECK_OK(qlow_mask_permutation(mk, m, perm, &ns));
        int ok = ns == n;
        for (int64_t j = 0; j < m; j++) {
            int s = (mk[perm[j] >> 3] >> (perm[j] & 7)) & 1;
            ok &= (j < ns) == s;
            if (j > 0 && j != ns) ok &= perm[j] > perm[j - 1];
        }
        QT_CHECK(ok, "permutation: salient first, each part increasing");
    }
    int64_t n = -1;
    QT_CHECK_OK(qlow_mask_select(score, 100, 0.0, mk, &n));
    QT_CHECK(n == 0 && popcount_mask(mk, 100) == 0, "ratio 0 selects none");
    QT_CHECK_OK(qlow_mask_select(score, 100, 1.0, mk, &n));
    QT_CHECK(n == 100, "ratio 1 selects all");
    for (int j = 0; j < 10; j++) score[j] = 1.0f;
    score[3] = 2.0f;
    QT_CHECK_OK(qlow_mask_select(score, 10, 0.2, mk, &n));
    QT_CHECK(n == 10, "ties at the threshold are all selected (%lld)", (long long)n);
    QT_CHECK_STATUS(qlow_mask_select(score, 10, 1.5, mk, &n), QLOW_E_INVALID_ARG);
    score[2] = INFINITY;
    QT_CHECK_STATUS(qlow_mask_select(score, 10, 0.2, mk, &n), QLOW_E_NONFINITE);
    QT_CHECK_STATUS(qlow_mask_select(NULL, 10, 0.2, mk, &n), QLOW_E_NULL_POINTER);
}

static void test_bits(void)
{
    double b[QLOW_BITS_COUNT];
    QT_CHECK_OK(qlow_ptq161_bits(4096, 4096, 820, b));
    printf("INFO PTQ1.61 bits 4096x4096, 820 salient: paper %.4f (weights %.4f + mask %.5f + scales %.5f), "
           "stored M161 %.4f bits/weight (%.0f bytes)\n",
           b[QLOW_BITS_PAPER_TOTAL], b[QLOW_BITS_PAPER_WEIGHT], b[QLOW_BITS_PAPER_MASK], b[QLOW_BITS_PAPER_SCALES],
           b[QLOW_BITS_STORED_TOTAL], b[QLOW_BITS_STORED_BYTES]);
    QT_CHECK(fabs(b[QLOW_BITS_PAPER_TOTAL] - 1.61) < 0.005, "paper total %.4f ~ 1.61", b[QLOW_BITS_PAPER_TOTAL]);
    QT_CHECK(fabs(b[QLOW_BITS_PAPER_MASK] - 4096.0 / (4096.0 * (3276 + 4 * 820))) < 1e-12, "mask bits");
    /* Exact M161 planes: mask, 4-bit codes padded to 32 columns, fp16 scale+min per row, sign plane padded
     * to 32, fp16 alpha+mu per row, fp16 r2 per binary column. */
    double bytes = 4096 / 8 + 4096.0 * (832 / 2) + 4096.0 * 4 + 4096.0 * (3296 / 8) + 4096.0 * 4 + 3276.0 * 2;
    QT_CHECK(b[QLOW_BITS_STORED_BYTES] == bytes, "stored bytes %.0f vs %.0f", b[QLOW_BITS_STORED_BYTES], bytes);
    QT_CHECK(fabs(b[QLOW_BITS_STORED_TOTAL] - 8 * bytes / (4096.0 * 4096.0)) < 1e-12, "stored bits");
    QT_CHECK_STATUS(qlow_ptq161_bits(4096, 4096, 5000, b), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_ptq161_bits(4096, 4096, 10, NULL), QLOW_E_NULL_POINTER);
}

int main(void)
{
    test_actstats();
    test_mask();
    test_bits();
    return qt_finish();
}
