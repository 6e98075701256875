/* test_kernels_codebytes.c - the T2 and T158 SIMD row kernels decode every code byte as the generic
 * kernel does, byte for byte, including the bytes no packer writes (T158 bytes 243..255, T2 code 3):
 * kernels.h defines the digits of all 256 values, the AVX2 T158 decoder takes a shortcut for the top
 * range, and the AVX-512 one decodes one token's chunks fast and redoes a chunk exactly when it holds
 * such bytes. T158 rows get them in one chunk only, so that chunk alone takes the exact decode while
 * its neighbours take the fast one. The shapes and batches cover the paths the kernels split into:
 * one token, a tile of tokens and the tokens left over, rows of several 16-step chunks with a partial
 * last step, and every byte at every position of a step. Thread counts 1 and 2 give the same bytes.
 * Each matrix also runs as a handle with kernel tables: those look at a T158 handle's bytes once, and
 * when all are below 243 its batch-1 AVX-512 kernel leaves the check out (kp->t158_codes_checked), so
 * that look must find every byte of 243 or more. */
#include "qtest.h"
#include "kernels_testpack.h"
#include "qtest_isa.h"

static qlow_status run(qlow_ctx *ctx, const tp_matrix *m, const float *X, int64_t batch, float *Y)
{
    size_t bytes = 0;
    qlow_status s = qlow_gemm_workspace_size(&m->qm, batch, 0, &bytes);
    if (s != QLOW_OK) return s;
    void *w = aligned_alloc(64, (bytes + 63) / 64 * 64);
    s = qlow_gemm_ws(ctx, &m->qm, X, batch, Y, w, bytes);
    free(w);
    return s;
}

/* Code patterns written over the packer's codes. */
enum { PAT_PACKED, PAT_HIGH_IN_ONE_CHUNK, PAT_ALL_BYTES, PAT_COUNT };

static int fill(int pattern, int format, uint8_t *codes, size_t rb, int64_t rows, uint64_t *seed)
{
    int high = 0;
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = codes + (size_t)r * rb;
        for (size_t i = 0; i < rb; i++) {
            if (pattern == PAT_ALL_BYTES) row[i] = (uint8_t)(i * 7 + (size_t)r * 13);
            else if (pattern == PAT_HIGH_IN_ONE_CHUNK && format == QLOW_FORMAT_T2) row[i] = (uint8_t)(tp_next(seed) >> 56);
        }
        /* T158: a few bytes >= 243 in the second chunk (bytes 1024..2047) of every other row */
        if (pattern == PAT_HIGH_IN_ONE_CHUNK && format == QLOW_FORMAT_T158 && r % 2 == 1 && rb > 1024)
            for (int k = 0; k < 3; k++) {
                size_t i = 1024 + (size_t)(tp_next(seed) % (uint64_t)(rb - 1024 < 1024 ? rb - 1024 : 1024));
                row[i] = (uint8_t)(243 + tp_next(seed) % 13u);
            }
        for (size_t i = 0; i < rb; i++) high += format == QLOW_FORMAT_T158 && row[i] >= 243;
    }
    return high;
}

int main(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    int64_t detected = 0;
    QT_CHECK_OK(qlow_ctx_get_int(ctx, QLOW_CTX_ISA_DETECTED, &detected));
    const int formats[] = {QLOW_FORMAT_T158, QLOW_FORMAT_T2};
    /* columns: T158 chunks are 5120 columns (1024 bytes), T2 chunks 4096; 10300 and 8200 give three
     * chunks with a partial last step, 5120 exactly one T158 chunk, 4096 the bench shape */
    const int64_t shapes[][2] = {{7, 10300}, {9, 8200}, {2, 5120}, {5, 4096}, {5, 1300}, {2, 330}, {1, 640}, {6, 100}};
    const int64_t batches[] = {1, 3, 4, 5, 9};
    int compared = 0, high_total = 0;
    uint64_t seed = 4242;
    for (size_t fi = 0; fi < sizeof(formats) / sizeof(formats[0]); fi++)
        for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++)
            for (int pat = 0; pat < PAT_COUNT; pat++) {
                tp_opts o;
                memset(&o, 0, sizeof(o));
                o.format = formats[fi];
                o.rows = shapes[si][0];
                o.cols = shapes[si][1];
                o.no_dequant = 1;
                o.seed = 700 + fi * 100 + si * 10 + (uint64_t)pat;
                tp_matrix m;
                tp_make(&m, &o);
                const int high = fill(pat, o.format, (uint8_t *)(uintptr_t)m.qm.p.codes, m.qm.p.row_bytes, o.rows, &seed);
                high_total += high;
                tp_matrix prepped = m; /* the same planes, with kernel tables built after fill */
                prepped.nblk = 0;
                QT_CHECK(tp_attach_prep(&prepped), "no kernel tables");
                if (o.format == QLOW_FORMAT_T158)
                    QT_CHECK(qlow__gemm_prep_t158_checked_parts(&prepped.qm) == (high == 0),
                             "R%lld C%lld pattern %d: %d bytes >= 243, handle marked %s", (long long)o.rows,
                             (long long)o.cols, pat, high, high ? "checked" : "unchecked");
                const int64_t bmax = 9;
                size_t nx = (size_t)(bmax * o.cols), ny = (size_t)(bmax * o.rows);
                float *X = (float *)malloc(nx * sizeof(float));
                float *Yg = (float *)malloc(ny * sizeof(float)), *Ys = (float *)malloc(ny * sizeof(float));
                for (size_t i = 0; i < nx; i++)
                    X[i] = (float)cos(0.37 * (double)i + 0.1 * (double)pat) * (i % 61 == 5 ? 40.0f : 1.0f);
                for (size_t bi = 0; bi < sizeof(batches) / sizeof(batches[0]); bi++) {
                    const int64_t b = batches[bi];
                    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 1));
                    QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, QLOW_ISA_GENERIC));
                    QT_CHECK_OK(run(ctx, &m, X, b, Yg));
                    for (int k = 0; k < QT_ISA_LEVELS; k++) {
                        if (!qt_isa_runs(qt_isa_levels[k], detected)) continue;
                        QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_ISA_MAX, qt_isa_levels[k]));
                        for (int th = 1; th <= 2; th++)
                            for (int h = 0; h < 2; h++) {
                                QT_CHECK_OK(qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, th));
                                memset(Ys, 0xcd, ny * sizeof(float));
                                QT_CHECK_OK(run(ctx, h ? &prepped : &m, X, b, Ys));
                                QT_CHECK(memcmp(Yg, Ys, (size_t)(b * o.rows) * sizeof(float)) == 0,
                                         "format %d R%lld C%lld pattern %d batch %lld threads %d %s: isa %d differs from "
                                         "generic",
                                         o.format, (long long)o.rows, (long long)o.cols, pat, (long long)b, th,
                                         h ? "with tables" : "plain", qt_isa_levels[k]);
                                compared++;
                            }
                    }
                }
                free(X);
                free(Yg);
                free(Ys);
                for (int i = 0; i < prepped.nblk; i++) free(prepped.blk[i]);
                tp_free(&m);
            }
    printf("INFO %d SIMD-vs-generic comparisons over all code bytes (%d T158 bytes >= 243), detected isa %lld\n", compared,
           high_total, (long long)detected);
    QT_CHECK(high_total > 0, "some T158 rows hold bytes 243..255");
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
