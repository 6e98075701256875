/* test_ptq161_stream.c - the scale optimizer streaming every calibration token (QLOW_SCALE_FIT_TOKENS = 0):
 * the loss it reports equals a double-precision reference over all tokens (strided view, permutation,
 * equalization fold), a change in one token changes the result, peak memory stays far below
 * tokens x cols, f16 views read the same values, and results are deterministic and thread-independent. */
#include "qtest.h"

#include "ptq161/ptq161.h"

#include <math.h>

/* qtest's counting allocator plus the peak of live bytes. */
typedef struct peak_alloc {
    qt_alloc_state qs;
    size_t peak;
} peak_alloc;

static void *peak_alloc_fn(void *user, size_t size, size_t align)
{
    peak_alloc *s = (peak_alloc *)user;
    void *p = qt_alloc_fn(&s->qs, size, align);
    if (s->qs.bytes_live > s->peak) s->peak = s->qs.bytes_live;
    return p;
}

static void peak_free_fn(void *user, void *ptr) { qt_free_fn(&((peak_alloc *)user)->qs, ptr); }

static qlow_ctx *make_ctx(const qlow_allocator *a, int threads)
{
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(a, &ctx);
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads);
    return ctx;
}

/* Tokens with outlier channels and a slowly drifting mean, so that no prefix looks like the whole. */
static void make_data(int rows, int cols, int T, int ld, float *W, float *X)
{
    for (int k = 0; k < rows * cols; k++) W[k] = (float)(0.05 * qt_rand_normal() + 0.01);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < ld; j++)
            X[(size_t)t * ld + j] = j >= cols ? NAN /* padding the view must skip */
                                              : (float)(qt_rand_normal() * (j % 7 == 0 ? 5.0 : 1.0) +
                                                        0.5 * sin(6.0 * t / T + j));
}

/* MSE + lambda * -log|mean_t cos| over every token, in double, from the original-order W, the
 * dequantized W_hat (original order, equalized frame) and the fold s: y = W x, yh = W_hat (x / s). */
static double ref_loss(const float *W, const float *Wh, const float *fold, const float *X, int rows, int cols, int T,
                       int ld, double lambda)
{
    double sq = 0.0, csum = 0.0;
    for (int t = 0; t < T; t++) {
        const float *x = X + (size_t)t * ld;
        double yy = 0, hh = 0, yh = 0;
        for (int i = 0; i < rows; i++) {
            double y = 0, h = 0;
            for (int j = 0; j < cols; j++) {
                y += (double)W[i * cols + j] * x[j];
                h += (double)Wh[i * cols + j] * ((double)x[j] / (fold ? fold[j] : 1.0f));
            }
            sq += (y - h) * (y - h);
            yy += y * y;
            hh += h * h;
            yh += y * h;
        }
        csum += yy > 0 && hh > 0 ? yh / sqrt(yy * hh) : 0.0;
    }
    const double c = fabs(csum / T) > 1e-30 ? fabs(csum / T) : 1e-30;
    return sq / ((double)rows * T) + lambda * -log(c);
}

/* qlow__layer_optimize() on a stream: the loss it reports is the one of its final state over all tokens. */
static void test_reported_loss(void)
{
    enum { R = 16, C = 24, T = 1500, LD = 27 };
    float *W = malloc(sizeof(float) * R * C), *X = malloc(sizeof(float) * T * LD);
    float *Wp = malloc(sizeof(float) * R * C), *Wh = malloc(sizeof(float) * R * C);
    float *Xp = malloc(sizeof(float) * C * C), *XpT = malloc(sizeof(float) * C * C), fold[C];
    make_data(R, C, T, LD, W, X);
    qlow_view xv;
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, C, X);
    xv.stride_bytes[0] = LD * (int64_t)sizeof(float);
    uint8_t mask[QLOW_MASK_BYTES(C)] = {0x21, 0x04, 0x80};
    qlow_ctx *ctx = make_ctx(NULL, 1);
    qlow_params *pr = NULL;
    qlow_params_create(NULL, &pr);
    qlow_params_set_int(pr, QLOW_SCALE_BATCH_TOKENS, 100); /* T is no multiple of it: a short last chunk */
    qlow__p161 *p = NULL;
    QT_CHECK_OK(qlow__p161_create(qlow__ctx_allocator(ctx), R, C, mask, &p));
    for (int j = 0; j < C; j++) fold[j] = (float)(0.5 + 0.1 * (j % 9));
    /* Equalized frame W' = W diag(s), permuted; the sweeps get the first C real tokens (any tokens do for
     * this property), the loss and Adam the whole stream. */
    for (int i = 0; i < R; i++)
        for (int a = 0; a < C; a++) Wp[i * C + a] = W[i * C + p->perm[a]] * fold[p->perm[a]];
    for (int t = 0; t < C; t++)
        for (int a = 0; a < C; a++) Xp[t * C + a] = XpT[a * C + t] = X[t * LD + p->perm[a]] / fold[p->perm[a]];
    qlow__stream stream = {&xv, p->perm, fold, 0};
    qlow__calib c = {Xp, XpT, C, &stream};
    qlow__layer_opt o;
    qlow__layer_opt_from_params(ctx, pr, &o);
    qlow__p161_init(ctx, p, Wp, 0, 0);
    double loss = 0.0, loss2 = 0.0;
    QT_CHECK_OK(qlow__layer_optimize(ctx, qlow__ctx_allocator(ctx), p, Wp, &c, &o, &loss));
    qlow__p161_materialize(ctx, p, Wh, 0);
    const double ref = ref_loss(W, Wh, fold, X, R, C, T, LD, o.lambda_cos);
    QT_CHECK(fabs(loss - ref) <= 1e-4 * ref, "reported loss %.9g vs all-token reference %.9g", loss, ref);
    QT_CHECK_OK(qlow__layer_loss(ctx, qlow__ctx_allocator(ctx), p, Wp, &c, o.lambda_cos, &loss2, NULL, NULL));
    QT_CHECK(fabs(loss2 - ref) <= 1e-4 * ref, "layer_loss %.9g vs reference %.9g", loss2, ref);
    /* Dropping the last chunk from the reference must make a visible difference (the test can fail). */
    const double ref_short = ref_loss(W, Wh, fold, X, R, C, T - 100, LD, o.lambda_cos);
    QT_CHECK(fabs(ref_short - ref) > 1e-3 * ref, "the last chunk matters: %.9g vs %.9g", ref_short, ref);
    /* With a token budget the final loss reads the evenly spread sample t_k = floor(k T / n). */
    enum { NS = 700 };
    float *Xs = malloc(sizeof(float) * NS * LD);
    for (int k = 0; k < NS; k++) memcpy(Xs + k * LD, X + (size_t)((int64_t)k * T / NS) * LD, sizeof(float) * LD);
    stream.eval_tokens = NS;
    QT_CHECK_OK(qlow__layer_loss(ctx, qlow__ctx_allocator(ctx), p, Wp, &c, o.lambda_cos, &loss2, NULL, NULL));
    const double ref_s = ref_loss(W, Wh, fold, Xs, R, C, NS, LD, o.lambda_cos);
    QT_CHECK(fabs(loss2 - ref_s) <= 1e-4 * ref_s, "sampled loss %.9g vs reference %.9g", loss2, ref_s);
    free(Xs);
    printf("INFO streamed loss over %d tokens %.6f, double reference %.6f\n", T, loss, ref);
    qlow__p161_destroy(p);
    qlow_params_destroy(pr);
    qlow_ctx_destroy(ctx);
    free(W), free(X), free(Wp), free(Wh), free(Xp), free(XpT);
}

static qlow_status run(qlow_ctx *ctx, qlow_params *pr, const qlow_view *wv, const qlow_view *xv, float *Wh)
{
    return qlow_ptq161_quantize_f32(ctx, pr, wv, xv, NULL, Wh, NULL, NULL);
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* The one-call pipeline (GPTQ on, as the CLI runs it) on many more tokens than columns. */
static void test_pipeline(void)
{
    enum { R = 24, C = 40, T = 20000, LD = 41 };
    float *W = malloc(sizeof(float) * R * C), *X = malloc(sizeof(float) * (size_t)T * LD);
    float *Wh[6];
    for (int k = 0; k < 6; k++) Wh[k] = malloc(sizeof(float) * R * C);
    make_data(R, C, T, LD, W, X);
    qlow_view wv, xv;
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, R, C, W);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, C, X);
    xv.stride_bytes[0] = LD * (int64_t)sizeof(float);
    qlow_params *pr = NULL;
    qlow_params_create(NULL, &pr);
    qlow_params_set_int(pr, QLOW_PTQ161_GPTQ, 1);
    int64_t fit = -1;
    QT_CHECK_OK(qlow_params_get_int(pr, QLOW_SCALE_FIT_TOKENS, &fit));
    QT_CHECK(fit >= C, "the default (QLOW_SCALE_FIT_TOKENS = %lld) streams this layer", (long long)fit);

    /* Peak memory through the ctx allocator: streamed on all T tokens, on the first T/4, with a 512-token
     * budget (still streamed: cols <= 512), and the copied subset of 30 (< cols) tokens. */
    size_t peak[4];
    const int64_t fits[4] = {0, 0, 512, 30};
    for (int k = 0; k < 4; k++) {
        peak_alloc pa;
        memset(&pa, 0, sizeof pa);
        qlow_allocator a = {peak_alloc_fn, peak_free_fn, &pa};
        qlow_ctx *ctx = make_ctx(&a, 1);
        qlow_params_set_int(pr, QLOW_SCALE_FIT_TOKENS, fits[k]);
        xv.shape[0] = k == 1 ? T / 4 : T;
        QT_CHECK_OK(run(ctx, pr, &wv, &xv, Wh[k]));
        peak[k] = pa.peak;
        qlow_ctx_destroy(ctx);
        QT_CHECK(pa.qs.live == 0 && pa.qs.bytes_live == 0, "fit %lld: %zu bytes leaked", (long long)fits[k],
                 pa.qs.bytes_live);
    }
    xv.shape[0] = T;
    const size_t xbytes = (size_t)T * C * sizeof(float);
    printf("INFO peak bytes, %d x %d layer, X %d x %d (%zu bytes as fp32): streamed %zu (%zu on %d tokens), "
           "512-token budget %zu, copied subset of 30 %zu\n",
           R, C, T, C, xbytes, peak[0], peak[1], T / 4, peak[2], peak[3]);
    QT_CHECK(peak[0] < xbytes / 8, "streamed peak %zu bytes is not O(batch x cols) (X is %zu bytes)", peak[0], xbytes);
    QT_CHECK(peak[0] == peak[1], "streamed peak independent of the token count: %zu vs %zu", peak[0], peak[1]);
    QT_CHECK(!same(Wh[0], Wh[1], R * C), "a quarter of the tokens gives another result");
    QT_CHECK(!same(Wh[0], Wh[3], R * C), "streaming all tokens differs from the 30-token subset");

    /* One token changed (the last, outside every prefix and the first Adam batches) changes the result. */
    qlow_params_set_int(pr, QLOW_SCALE_FIT_TOKENS, 0);
    qlow_ctx *ctx1 = make_ctx(NULL, 1), *ctx2 = make_ctx(NULL, 2);
    float *last = X + (size_t)(T - 1) * LD, saved[C];
    memcpy(saved, last, sizeof saved);
    for (int j = 0; j < C; j++) last[j] = (float)(8.0 * qt_rand_normal());
    QT_CHECK_OK(run(ctx1, pr, &wv, &xv, Wh[3]));
    memcpy(last, saved, sizeof saved);
    QT_CHECK(!same(Wh[0], Wh[3], R * C), "changing token %d alone changes W_hat", T - 1);

    /* Determinism (same call twice) and thread-count independence. */
    QT_CHECK_OK(run(ctx1, pr, &wv, &xv, Wh[3]));
    QT_CHECK_OK(run(ctx2, pr, &wv, &xv, Wh[4]));
    QT_CHECK(same(Wh[0], Wh[3], R * C), "deterministic for a fixed seed");
    QT_CHECK(same(Wh[0], Wh[4], R * C), "bit-identical at 1 and 2 threads");

    /* An f16 view reads the same values as the f32 view of the rounded tokens. */
    uint16_t *Xh = malloc(sizeof(uint16_t) * (size_t)T * C);
    float *Xr = malloc(sizeof(float) * (size_t)T * C);
    for (size_t t = 0; t < (size_t)T; t++)
        for (int j = 0; j < C; j++) {
            Xh[t * C + j] = qlow_fp32_to_fp16(X[t * LD + j]);
            Xr[t * C + j] = qlow_fp16_to_fp32(Xh[t * C + j]);
        }
    qlow_view hv, rv;
    qlow_view_init_2d(&hv, QLOW_DTYPE_F16, T, C, Xh);
    qlow_view_init_2d(&rv, QLOW_DTYPE_F32, T, C, Xr);
    QT_CHECK_OK(run(ctx2, pr, &wv, &hv, Wh[4]));
    QT_CHECK_OK(run(ctx1, pr, &wv, &rv, Wh[5]));
    QT_CHECK(same(Wh[4], Wh[5], R * C), "f16 view = f32 view of the same values");
    free(Xh), free(Xr);

    qlow_ctx_destroy(ctx1);
    qlow_ctx_destroy(ctx2);
    qlow_params_destroy(pr);
    for (int k = 0; k < 6; k++) free(Wh[k]);
    free(W), free(X);
}

/* Rank-deficient tokens (a dead column, a duplicated one) still give a positive definite Gram matrix for
 * the pseudo-tokens, and equalization + low rank run on them. */
static void test_degenerate(void)
{
    enum { R = 8, C = 16, T = 300 };
    float W[R * C], *X = malloc(sizeof(float) * T * C), Wh[R * C], fold[C];
    make_data(R, C, T, C, W, X);
    for (int t = 0; t < T; t++) {
        X[t * C + 3] = 0.0f;
        X[t * C + 9] = X[t * C + 4];
    }
    qlow_view wv, xv;
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, R, C, W);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, T, C, X);
    qlow_ctx *ctx = make_ctx(NULL, 1);
    qlow_params *pr = NULL;
    qlow_params_create(NULL, &pr);
    qlow_params_set_int(pr, QLOW_PTQ161_EQUALIZE, 1);
    qlow_params_set_int(pr, QLOW_PTQ161_LOWRANK, 2);
    qlow_params_set_int(pr, QLOW_PTQ161_GPTQ, 1);
    QT_CHECK_OK(qlow_ptq161_quantize_f32(ctx, pr, &wv, &xv, NULL, Wh, NULL, fold));
    int finite = 1;
    for (int k = 0; k < R * C; k++) finite &= isfinite(Wh[k]) != 0;
    QT_CHECK(finite, "finite W_hat on rank-deficient tokens");
    qlow_params_destroy(pr);
    qlow_ctx_destroy(ctx);
    free(X);
}

int main(void)
{
    test_degenerate();
    test_reported_loss();
    test_pipeline();
    return qt_finish();
}
