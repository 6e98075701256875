/* The README's C example: quantize a matrix to 4 bits and multiply with it. */
#include <qlow.h>
#include <stdio.h>

int main(void)
{
    enum { ROWS = 256, COLS = 512 };
    static float W[ROWS * COLS], x[COLS], y[ROWS];
    for (int i = 0; i < ROWS * COLS; i++) W[i] = (float)((i * 7919 % 1000) - 500) / 500.0f;
    for (int j = 0; j < COLS; j++) x[j] = (float)(j % 17) / 17.0f;

    qlow_ctx *ctx = NULL;
    qlow_params *params = NULL;
    qlow_qmatrix *qm = NULL;
    qlow_view wv;
    double bpw = 0;
    qlow_status st = qlow_ctx_create(NULL, &ctx);
    if (st == QLOW_OK) st = qlow_params_create(NULL, &params);
    if (st == QLOW_OK) st = qlow_params_set_int(params, QLOW_P_BITS, 4);
    if (st == QLOW_OK) st = qlow_params_set_int(params, QLOW_P_GROUP_COLS, 64);
    if (st == QLOW_OK) st = qlow_view_init_2d(&wv, QLOW_DTYPE_F32, ROWS, COLS, W);
    if (st == QLOW_OK) st = qlow_quantize(ctx, params, &wv, NULL, &qm); /* importance: NULL = uniform */
    if (st == QLOW_OK) st = qlow_qmatrix_bits_per_weight(qm, &bpw);
    if (st == QLOW_OK) st = qlow_gemv(ctx, qm, x, y);                   /* y = W^ x, fused dequant */
    if (st == QLOW_OK) printf("%.3f bits/weight, y[0] = %.4f\n", bpw, y[0]);
    else fprintf(stderr, "libqlow: %s\n", qlow_status_string(st));
    qlow_qmatrix_destroy(qm);
    qlow_params_destroy(params);
    qlow_ctx_destroy(ctx);
    return st == QLOW_OK ? 0 : 1;
}
