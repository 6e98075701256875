/* test_ptq161_fitted.c - qlow_scaleopt_add_fitted(): a block-wise optimizer linear that starts from the
 * whole layer-wise pipeline. Its W^ must be exactly the one of qlow_ptq161_quantize_f32() with the same
 * params (so block-wise steps refine the layer-wise optimum, not the alpha init), its packed form must
 * dequantize to the same values, and it must start closer to the layer's outputs than
 * qlow_scaleopt_add_linear(). Argument errors leave the optimizer unchanged; allocation failures leak
 * nothing. */
#include "qtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 24, COLS = 40, T = 192 };

/* sum |X (W - Wh)^T|^2 / sum |X W^T|^2 in double. */
static double rel_out_err(const float *W, const float *Wh, const float *X)
{
    double e = 0, s = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < ROWS; i++) {
            double y = 0, z = 0;
            for (int j = 0; j < COLS; j++) {
                y += (double)W[i * COLS + j] * X[t * COLS + j];
                z += (double)Wh[i * COLS + j] * X[t * COLS + j];
            }
            e += (y - z) * (y - z);
            s += y * y;
        }
    return e / s;
}

int main(void)
{
    static float W[ROWS * COLS], X[T * COLS], Wref[ROWS * COLS], Wfit[ROWS * COLS], Wpk[ROWS * COLS],
        Wplain[ROWS * COLS];
    for (int k = 0; k < ROWS * COLS; k++) W[k] = (float)qt_rand_normal();
    /* A few loud input channels, as in real activations. */
    for (int t = 0; t < T; t++)
        for (int j = 0; j < COLS; j++) X[t * COLS + j] = (float)(qt_rand_normal() * (j % 7 == 0 ? 4.0 : 1.0));
    qlow_ctx *ctx = NULL;
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    QT_CHECK_OK(qlow_params_set_float(p, QLOW_MASK_RATIO, 0.2));
    QT_CHECK_OK(qlow_params_set_int(p, QLOW_PTQ161_GPTQ, 1));
    qlow_view wv, xv;
    QT_CHECK_OK(qlow_view_init_2d(&wv, QLOW_DTYPE_F32, ROWS, COLS, W));
    QT_CHECK_OK(qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, COLS, X));
    QT_CHECK_OK(qlow_ptq161_quantize_f32(ctx, p, &wv, &xv, NULL, Wref, NULL, NULL));

    qlow_scaleopt *opt = NULL;
    QT_CHECK_OK(qlow_scaleopt_create(ctx, p, &opt));
    int32_t id_fit = -1, id_plain = -1, id = -1;
    QT_CHECK_OK(qlow_scaleopt_add_fitted(opt, p, &wv, &xv, &id_fit));
    QT_CHECK(id_fit == 0, "first id %d", (int)id_fit);
    QT_CHECK_OK(qlow_scaleopt_weight(opt, id_fit, Wfit));
    QT_CHECK(memcmp(Wfit, Wref, sizeof Wref) == 0, "fitted start differs from qlow_ptq161_quantize_f32()");
    qlow_qmatrix *qm = NULL;
    QT_CHECK_OK(qlow_scaleopt_quantize(opt, id_fit, &qm));
    QT_CHECK_OK(qlow_qmatrix_dequantize(qm, 0, ROWS, Wpk, ROWS * COLS));
    QT_CHECK(memcmp(Wpk, Wref, sizeof Wref) == 0, "packed M161 does not reproduce the fitted weights");
    qlow_qmatrix_destroy(qm);

    /* The plain start (mask from the same statistic, alpha init) is worse on the layer output. */
    uint8_t mask[QLOW_MASK_BYTES(COLS)];
    qlow_actstats *as = NULL;
    QT_CHECK_OK(qlow_actstats_create(NULL, COLS, &as));
    QT_CHECK_OK(qlow_actstats_update(as, &xv));
    QT_CHECK_OK(qlow_actstats_mask(as, p, mask, NULL));
    qlow_actstats_destroy(as);
    QT_CHECK_OK(qlow_scaleopt_add_linear(opt, &wv, mask, &id_plain));
    QT_CHECK_OK(qlow_scaleopt_weight(opt, id_plain, Wplain));
    double e_fit = rel_out_err(W, Wfit, X), e_plain = rel_out_err(W, Wplain, X);
    printf("INFO scaleopt start on a %dx%d layer: rel output MSE alpha init %.4f, layer-wise fit %.4f\n", ROWS, COLS,
           e_plain, e_fit);
    QT_CHECK(e_fit < e_plain, "fitted start %.4f not better than alpha init %.4f", e_fit, e_plain);

    /* Errors leave the optimizer as it was: the next successful id is still 2. */
    QT_CHECK_STATUS(qlow_scaleopt_add_fitted(NULL, p, &wv, &xv, &id), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_scaleopt_add_fitted(opt, p, NULL, &xv, &id), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_scaleopt_add_fitted(opt, p, &wv, NULL, &id), QLOW_E_NULL_POINTER);
    QT_CHECK_STATUS(qlow_scaleopt_add_fitted(opt, p, &wv, &xv, NULL), QLOW_E_NULL_POINTER);
    qlow_view bad;
    QT_CHECK_OK(qlow_view_init_2d(&bad, QLOW_DTYPE_F32, T, COLS - 1, X));
    QT_CHECK_STATUS(qlow_scaleopt_add_fitted(opt, p, &wv, &bad, &id), QLOW_E_SHAPE);
    float saved = X[5];
    X[5] = NAN;
    QT_CHECK_STATUS(qlow_scaleopt_add_fitted(opt, p, &wv, &xv, &id), QLOW_E_NONFINITE);
    X[5] = saved;
    qlow_params *eq = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &eq));
    QT_CHECK_OK(qlow_params_set_int(eq, QLOW_PTQ161_EQUALIZE, 1));
    QT_CHECK_STATUS(qlow_scaleopt_add_fitted(opt, eq, &wv, &xv, &id), QLOW_E_INVALID_ARG);
    qlow_params_destroy(eq);
    QT_CHECK(id == -1, "id written on failure");
    QT_CHECK_OK(qlow_scaleopt_add_fitted(opt, NULL, &wv, &xv, &id));
    QT_CHECK(id == 2, "id after failed calls %d", (int)id);
    qlow_scaleopt_destroy(opt);

    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points,
                       {
                           qlow_ctx *c2 = NULL;
                           qlow_scaleopt *o2 = NULL;
                           int32_t i2 = -1;
                           st = qlow_ctx_create(&qa, &c2);
                           if (st == QLOW_OK) st = qlow_scaleopt_create(c2, p, &o2);
                           if (st == QLOW_OK) st = qlow_scaleopt_add_fitted(o2, p, &wv, &xv, &i2);
                           qlow_scaleopt_destroy(o2);
                           qlow_ctx_destroy(c2);
                       },
                       (void)0);
    QT_CHECK(points > 3, "allocation failure points %ld", points);

    qlow_params_destroy(p);
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
