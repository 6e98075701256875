/* kernels_testrun.h - batch-1 products of test handles against the generic kernel, for the tests of the
 * kernels that read row-tiled copies (test_kernels_lut.c, test_kernels_q2lut.c). */
#ifndef QLOW_KERNELS_TESTRUN_H
#define QLOW_KERNELS_TESTRUN_H

#include <stdlib.h>
#include <string.h>

#include "qtest.h"

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
                             "%s %s isa %lld %d threads %s: differs from the generic kernel (row 0: %.9g vs %.9g)", name,
                             per_token ? "act8" : "block", (long long)isas[ii], th, labels[h], (double)y[0],
                             (double)yg[0]);
                }
            }
        }
    }
    free(y);
    free(yg);
}

#endif
