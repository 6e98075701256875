/* kernels_testrun.h - batch-1 products of test handles against the generic kernel, for the tests of the
 * kernels that read row-tiled copies (test_kernels_lut.c, test_kernels_q2lut.c). */
#ifndef QLOW_KERNELS_TESTRUN_H
#define QLOW_KERNELS_TESTRUN_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qtest.h"
#include "kernels_testpack.h"

/* Activations of n columns in [-2, 2), with every 13th column 7 times larger so that the activation
 * blocks' scales differ. */
static void tr_activations(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t j = 0; j < n; j++) x[j] = (float)(tp_unif(&s) * 4.0 - 2.0) * (j % 13 == 5 ? 7.0f : 1.0f);
}

/* n int8 activations taking every value the quantizer produces (-127..127), for the table checks. */
static void tr_all_int8(int8_t *x8, size_t n)
{
    for (size_t i = 0; i < n; i++) x8[i] = (int8_t)((int)((i * 37 + i / 255) % 255) - 127);
}

/* Entry 16 q + n of lookup table t of the unit of 32 activations at x (lut.h): the sum over the set
 * bits k of n of column 8 q + 4 (t & 1) + k's low part x - 16 floor(x / 16) (t < 2) or high part
 * floor(x / 16). */
static int tr_unit_entry(const int8_t *x, int t, int q, int n)
{
    int want = 0;
    for (int k = 0; k < 4; k++) {
        if (!((n >> k) & 1)) continue;
        const int v = x[8 * q + 4 * (t & 1) + k];
        const int xh = (int)floor(v / 16.0), xl = v - 16 * xh;
        want += t < 2 ? xl : xh;
    }
    return want;
}

/* One batch-1 product through a workspace filled with junk first: the kernels must not read scratch
 * they did not write. per_token: the act8 mode. */
static qlow_status tr_run(qlow_ctx *ctx, const qlow_qmatrix *qm, const float *x, float *y, int per_token)
{
    size_t wsb = 0;
    qlow_status st = qlow_gemm_workspace_size(qm, 1, per_token ? QLOW_GEMM_ACT8 : 0, &wsb);
    if (st != QLOW_OK) return st;
    void *ws = aligned_alloc(64, (wsb + 63) / 64 * 64);
    memset(ws, 0x5A, (wsb + 63) / 64 * 64);
    st = per_token ? qlow_gemm_act8_ws(ctx, qm, x, 1, y, ws, wsb) : qlow_gemv_ws(ctx, qm, x, y, ws, wsb);
    free(ws);
    return st;
}

/* In both activation modes, the product of each of the nh handles hs (labels[h] names it) at every
 * level of isas and at 1 .. max_threads threads equals, byte for byte, the generic kernel's product
 * of hs[0] at 1 thread. */
static void tr_check_levels(qlow_ctx *ctx, const qlow_qmatrix *const *hs, const char *const *labels, int nh,
                            const float *x, int64_t rows, const int64_t *isas, int nisa, int max_threads,
                            const char *name)
{
    float *yg = (float *)malloc((size_t)rows * sizeof(float)), *y = (float *)malloc((size_t)rows * sizeof(float));
    for (int per_token = 0; per_token < 2; per_token++) {
        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 1));
        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC));
        QT_CHECK_OK(tr_run(ctx, hs[0], x, yg, per_token));
        for (int ii = 0; ii < nisa; ii++) {
            QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, isas[ii]));
            for (int th = 1; th <= max_threads; th++) {
                QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, th));
                for (int h = 0; h < nh; h++) {
                    memset(y, 0xFF, (size_t)rows * sizeof(float));
                    QT_CHECK_OK(tr_run(ctx, hs[h], x, y, per_token));
                    QT_CHECK(memcmp(y, yg, (size_t)rows * sizeof(float)) == 0,
                             "%s %s isa %lld %d threads %s: differs from the generic kernel (row 0: %.9g vs %.9g)",
                             name, per_token ? "act8" : "block", (long long)isas[ii], th, labels[h], (double)y[0],
                             (double)yg[0]);
                }
            }
        }
    }
    free(y);
    free(yg);
}

#endif
