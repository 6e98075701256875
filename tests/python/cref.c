/* cref.c - the C side of the Python bit-for-bit tests. Each mode runs one step of the user journey with
 * the C API on data from the same splitmix64 stream the Python tests use (tests/python/helpers.py),
 * and writes the raw little-endian results to stdout, which the Python test compares byte for byte
 * with what the wrapper produced.
 * usage: cref MODE ARGS...   (modes listed in main) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlow.h"

static uint64_t stream_state;

static uint64_t stream_u64(void)
{
    uint64_t z = (stream_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float *stream_floats(uint64_t seed, size_t n)
{
    float *v = (float *)malloc(n * sizeof(float) + 1);
    stream_state = seed;
    for (size_t i = 0; i < n && v; i++) v[i] = (float)((double)((int64_t)(stream_u64() >> 40) - (1 << 23)) / (double)(1 << 23));
    return v;
}

static int emit(const void *p, size_t n) { return fwrite(p, 1, n, stdout) == n ? 0 : 1; }

static int fail(const char *what, qlow_status s)
{
    fprintf(stderr, "cref: %s: %s\n", what, qlow_status_string(s));
    return 2;
}

/* fp16 SEED N: fp16 and bf16 bits of stream values spread over magnitudes 2^-20..2^19. */
static int mode_fp16(uint64_t seed, size_t n)
{
    float *v = stream_floats(seed, n);
    if (!v) return 2;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        float x = v[i] * (float)ldexp(1.0, (int)(i % 40) - 20);
        uint16_t h = qlow_fp32_to_fp16(x), b = qlow_fp32_to_bf16(x);
        float back = qlow_fp16_to_fp32(h);
        rc = emit(&h, 2) || emit(&b, 2) || emit(&back, 4);
    }
    free(v);
    return rc;
}

/* params KEY VALUE: the bounds of KEY and the value read back after setting it. */
static int mode_bounds(int32_t key)
{
    double lo, hi, def;
    int is_float;
    qlow_status s = qlow_param_bounds(key, &lo, &hi, &def, &is_float);
    if (s != QLOW_OK) return fail("bounds", s);
    return emit(&lo, 8) || emit(&hi, 8) || emit(&def, 8) || emit(&is_float, 4);
}


static float *stream_abs(uint64_t seed, size_t n)
{
    float *v = stream_floats(seed, n);
    for (size_t i = 0; v && i < n; i++) v[i] = v[i] < 0 ? -v[i] : v[i];
    return v;
}

/* The serialized matrix, then its dequantized rows (fp32). */
static int emit_qmatrix(const qlow_qmatrix *qm, int64_t rows, int64_t cols)
{
    size_t n = 0;
    qlow_qmatrix_serialized_size(qm, &n);
    unsigned char *buf = malloc(n);
    float *dq = malloc((size_t)(rows * cols) * 4);
    qlow_status s;
    int rc = !buf || !dq;
    if (!rc && ((s = qlow_qmatrix_serialize(qm, buf, n)) ||
                (s = qlow_qmatrix_dequantize(qm, 0, rows, dq, (size_t)(rows * cols)))))
        rc = fail("serialize", s);
    if (!rc) rc = emit(buf, n) || emit(dq, (size_t)(rows * cols) * 4);
    free(buf), free(dq);
    return rc;
}

/* quantize SEED ROWS COLS SCHEME BITS GROUP_COLS SYMMETRIC PACKING WITH_IMPORTANCE:
 * serialized matrix, then the dequantized matrix (fp32). */
static int mode_quantize(char **a)
{
    uint64_t seed = strtoull(a[0], NULL, 0);
    int64_t rows = atoll(a[1]), cols = atoll(a[2]);
    float *W = stream_floats(seed, (size_t)(rows * cols));
    float *imp = atoi(a[8]) ? stream_abs(seed + 1, (size_t)cols) : NULL;
    qlow_ctx *ctx = NULL;
    qlow_params *p = NULL;
    qlow_qmatrix *qm = NULL;
    qlow_view v;
    qlow_status s;
    if ((s = qlow_ctx_create(NULL, &ctx)) || (s = qlow_params_create(NULL, &p))) return fail("create", s);
    if ((s = qlow_params_set_int(p, QLOW_P_SCHEME, atoi(a[3])))) return fail("scheme", s);
    if (atoi(a[3]) == QLOW_SCHEME_RTN && ((s = qlow_params_set_int(p, QLOW_P_BITS, atoi(a[4]))) ||
                                          (s = qlow_params_set_int(p, QLOW_P_GROUP_COLS, atoi(a[5]))) ||
                                          (s = qlow_params_set_int(p, QLOW_P_SYMMETRIC, atoi(a[6])))))
        return fail("rtn params", s);
    if (atoi(a[7]) && (s = qlow_params_set_int(p, QLOW_P_TERNARY_PACKING, atoi(a[7])))) return fail("packing", s);
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, W);
    if ((s = qlow_quantize(ctx, p, &v, imp, &qm))) return fail("quantize", s);
    int rc = emit_qmatrix(qm, rows, cols);
    qlow_qmatrix_destroy(qm), qlow_params_destroy(p), qlow_ctx_destroy(ctx);
    free(W), free(imp);
    return rc;
}

#ifdef QLOW_GEMM_ACT8
/* gemm SEED ROWS COLS BATCH THREADS: for every scheme of the quantize list, quantize stream W and emit
 * gemv(X[0]), gemm(X), gemm_act8(X) (fp32) for stream X [BATCH x COLS], with THREADS threads. */
static int mode_gemm(char **a)
{
    uint64_t seed = strtoull(a[0], NULL, 0);
    int64_t rows = atoll(a[1]), cols = atoll(a[2]), batch = atoll(a[3]);
    float *W = stream_floats(seed, (size_t)(rows * cols)), *X = stream_floats(seed + 3, (size_t)(batch * cols));
    float *Y = malloc((size_t)(batch * rows) * 4);
    static const int schemes[][4] = {{QLOW_SCHEME_RTN, 8, 32, 0}, {QLOW_SCHEME_RTN, 4, 32, 0}, {QLOW_SCHEME_RTN, 3, 32, 0},
                                     {QLOW_SCHEME_RTN, 2, 64, 0}, {QLOW_SCHEME_BINARY, 0, 0, 0},
                                     {QLOW_SCHEME_BINARY_RESIDUAL, 0, 0, 0}, {QLOW_SCHEME_TERNARY, 0, 0, QLOW_FORMAT_T158},
                                     {QLOW_SCHEME_TERNARY, 0, 0, QLOW_FORMAT_T2}};
    qlow_ctx *ctx = NULL;
    qlow_status s;
    qlow_view v;
    if ((s = qlow_ctx_create(NULL, &ctx)) || (s = qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, atoi(a[4]))))
        return fail("ctx", s);
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, W);
    int rc = 0;
    for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]) && !rc; k++) {
        qlow_params *p = NULL;
        qlow_qmatrix *qm = NULL;
        if ((s = qlow_params_create(NULL, &p)) || (s = qlow_params_set_int(p, QLOW_P_SCHEME, schemes[k][0])))
            return fail("params", s);
        if (schemes[k][1] && ((s = qlow_params_set_int(p, QLOW_P_BITS, schemes[k][1])) ||
                              (s = qlow_params_set_int(p, QLOW_P_GROUP_COLS, schemes[k][2]))))
            return fail("params", s);
        if (schemes[k][3] && (s = qlow_params_set_int(p, QLOW_P_TERNARY_PACKING, schemes[k][3]))) return fail("params", s);
        if ((s = qlow_quantize(ctx, p, &v, NULL, &qm))) return fail("quantize", s);
        if ((s = qlow_gemv(ctx, qm, X, Y))) return fail("gemv", s);
        rc = emit(Y, (size_t)rows * 4);
        if (!rc && (s = qlow_gemm(ctx, qm, X, batch, Y))) return fail("gemm", s);
        if (!rc) rc = emit(Y, (size_t)(batch * rows) * 4);
        if (!rc && (s = qlow_gemm_act8(ctx, qm, X, batch, Y))) return fail("gemm_act8", s);
        if (!rc) rc = emit(Y, (size_t)(batch * rows) * 4);
        qlow_qmatrix_destroy(qm), qlow_params_destroy(p);
    }
    qlow_ctx_destroy(ctx);
    free(W), free(X), free(Y);
    return rc;
}
#endif

/* gptq SEED ROWS COLS TOKENS BITS GROUP ACT_ORDER: GPTQ with the Hessian of stream activations;
 * serialized matrix, then the dequantized matrix. */
static int mode_gptq(char **a)
{
    uint64_t seed = strtoull(a[0], NULL, 0);
    int64_t rows = atoll(a[1]), cols = atoll(a[2]), tokens = atoll(a[3]);
    float *W = stream_floats(seed, (size_t)(rows * cols)), *X = stream_floats(seed + 2, (size_t)(tokens * cols));
    qlow_ctx *ctx = NULL;
    qlow_params *p = NULL;
    qlow_hessian *h = NULL;
    qlow_qmatrix *qm = NULL;
    qlow_view wv, xv;
    qlow_status s;
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, rows, cols, W);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, tokens, cols, X);
    if ((s = qlow_ctx_create(NULL, &ctx)) || (s = qlow_params_create(NULL, &p)) ||
        (s = qlow_hessian_create(NULL, cols, QLOW_HESSIAN_FULL, &h)) || (s = qlow_hessian_add(ctx, h, &xv)))
        return fail("setup", s);
    if ((s = qlow_params_set_int(p, QLOW_P_BITS, atoi(a[4]))) || (s = qlow_params_set_int(p, QLOW_P_GROUP_COLS, atoi(a[5]))) ||
        (s = qlow_params_set_int(p, QLOW_GPTQ_ACT_ORDER, atoi(a[6]))) || (s = qlow_gptq_quantize(ctx, p, &wv, h, &qm)))
        return fail("gptq", s);
    int rc = emit_qmatrix(qm, rows, cols);
    qlow_qmatrix_destroy(qm), qlow_hessian_destroy(h), qlow_params_destroy(p), qlow_ctx_destroy(ctx);
    free(W), free(X);
    return rc;
}

/* ptq161 SEED ROWS COLS TOKENS: PTQ1.61 of stream W with stream calibration X (default parameters);
 * the packed M161 matrix (serialized, dequantized), then its GEMV of X[0]. */
static int mode_ptq161(char **a)
{
    uint64_t seed = strtoull(a[0], NULL, 0);
    int64_t rows = atoll(a[1]), cols = atoll(a[2]), tokens = atoll(a[3]);
    float *W = stream_floats(seed, (size_t)(rows * cols)), *X = stream_floats(seed + 5, (size_t)(tokens * cols));
    float *y = malloc((size_t)rows * 4), *fold = malloc((size_t)cols * 4);
    qlow_ctx *ctx = NULL;
    qlow_qmatrix *qm = NULL;
    qlow_view wv, xv;
    qlow_status s;
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, rows, cols, W);
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, tokens, cols, X);
    if ((s = qlow_ctx_create(NULL, &ctx)) || (s = qlow_ptq161_quantize(ctx, NULL, &wv, &xv, NULL, &qm, fold)))
        return fail("ptq161", s);
    int rc = emit_qmatrix(qm, rows, cols);
#ifdef QLOW_GEMM_ACT8
    if (!rc && (s = qlow_gemv(ctx, qm, X, y))) return fail("gemv", s);
    if (!rc) rc = emit(y, (size_t)rows * 4);
#endif
    qlow_qmatrix_destroy(qm), qlow_ctx_destroy(ctx);
    free(W), free(X), free(y), free(fold);
    return rc;
}

/* hessian SEED TOKENS COLS SPLIT: activations added in two batches; diag, col_mean, trace, damped matrix,
 * HINV Cholesky, top eigenvalue (+iterations), 3 Lanczos eigenvalues, saved bytes. */
static int mode_hessian(char **a)
{
    uint64_t seed = strtoull(a[0], NULL, 0);
    int64_t tokens = atoll(a[1]), cols = atoll(a[2]), split = atoll(a[3]);
    float *X = stream_floats(seed, (size_t)(tokens * cols));
    qlow_ctx *ctx = NULL;
    qlow_hessian *h = NULL;
    qlow_status s;
    qlow_view v1, v2;
    if ((s = qlow_ctx_create(NULL, &ctx)) || (s = qlow_hessian_create(NULL, cols, QLOW_HESSIAN_FULL, &h)))
        return fail("create", s);
    qlow_view_init_2d(&v1, QLOW_DTYPE_F32, split, cols, X);
    qlow_view_init_2d(&v2, QLOW_DTYPE_F32, tokens - split, cols, X + split * cols);
    if ((s = qlow_hessian_add(ctx, h, &v1)) || (s = qlow_hessian_add(ctx, h, &v2))) return fail("add", s);
    float *d = malloc((size_t)cols * 4), *m = malloc((size_t)cols * 4);
    double *M = malloc((size_t)(cols * cols) * 8), *U = malloc((size_t)(cols * cols) * 8), tr, lam, eig[3];
    int32_t it = 0;
    if ((s = qlow_hessian_diag(h, d, cols)) || (s = qlow_hessian_col_mean(h, m, cols)) ||
        (s = qlow_hessian_trace(h, &tr)) || (s = qlow_hessian_matrix(h, 0.01, M, cols * cols)) ||
        (s = qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_HINV, 0.01, U, cols * cols)) ||
        (s = qlow_hessian_top_eigen(ctx, h, 1e-6, 500, NULL, 0, &lam, &it)) ||
        (s = qlow_hessian_lanczos(ctx, h, 9, 3, NULL, 0, eig)))
        return fail("hessian queries", s);
    size_t n = 0, w = 0;
    qlow_hessian_save_size(h, &n);
    unsigned char *buf = malloc(n);
    if ((s = qlow_hessian_save(h, buf, n, &w))) return fail("save", s);
    int rc = emit(d, (size_t)cols * 4) || emit(m, (size_t)cols * 4) || emit(&tr, 8) || emit(M, (size_t)(cols * cols) * 8) ||
             emit(U, (size_t)(cols * cols) * 8) || emit(&lam, 8) || emit(&it, 4) || emit(eig, 24) || emit(buf, w);
    qlow_hessian_destroy(h), qlow_ctx_destroy(ctx);
    free(X), free(d), free(m), free(M), free(U), free(buf);
    return rc;
}

static float *hvp_diag;
static int diag_hvp(void *user, const float *vin, float *vout, int64_t n)
{
    (void)user;
    for (int64_t i = 0; i < n; i++) vout[i] = hvp_diag[i] * vin[i];
    return 0;
}

/* hvp SEED N: Hessian diag(d), d = 1.5 + stream; power iteration, Lanczos (k 3, 12 steps), Hutchinson
 * (30 probes), then the same three through a finite-difference HVP of the gradient g = d * theta. */
static int mode_hvp(char **a)
{
    uint64_t seed = strtoull(a[0], NULL, 0);
    int64_t n = atoll(a[1]);
    hvp_diag = stream_floats(seed, (size_t)n);
    float *theta = stream_floats(seed + 7, (size_t)n);
    for (int64_t i = 0; i < n; i++) hvp_diag[i] += 1.5f;
    qlow_ctx *ctx = NULL;
    qlow_status s;
    double lam, eig[3], tr, se;
    int32_t it, probes;
    if ((s = qlow_ctx_create(NULL, &ctx))) return fail("ctx", s);
    int rc = 0;
    qlow_fd_hvp *fd = NULL;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        qlow_hvp_fn fn = diag_hvp;
        void *user = NULL;
        if (pass == 1) {
            if ((s = qlow_fd_hvp_create(NULL, diag_hvp, NULL, theta, n, 0.0, &fd))) return fail("fd", s);
            fn = qlow_fd_hvp_apply;
            user = fd;
        }
        if ((s = qlow_hvp_top_eigen(ctx, fn, user, n, 1e-6, 200, NULL, 0, &lam, &it)) ||
            (s = qlow_hvp_lanczos(ctx, fn, user, n, 12, 3, NULL, 0, eig)) ||
            (s = qlow_hvp_trace(ctx, fn, user, n, 30, 0.0, NULL, 0, &tr, &se, &probes)))
            return fail("hvp", s);
        rc = emit(&lam, 8) || emit(&it, 4) || emit(eig, 24) || emit(&tr, 8) || emit(&se, 8) || emit(&probes, 4);
    }
    qlow_fd_hvp_destroy(fd), qlow_ctx_destroy(ctx);
    free(hvp_diag), free(theta);
    return rc;
}

/* plan SEED LAYERS CHOICES: knapsack over stream sizes/costs with budget = 60% of the largest plan;
 * choices, totals; Q-BERT rule on stream Omegas; Omega of the first 5 costs. */
static int mode_plan(char **a)
{
    uint64_t seed = strtoull(a[0], NULL, 0);
    int32_t L = atoi(a[1]), K = atoi(a[2]);
    float *sz = stream_abs(seed, (size_t)(L * K)), *co = stream_abs(seed + 1, (size_t)(L * K));
    double *size = malloc((size_t)(L * K) * 8), *cost = malloc((size_t)(L * K) * 8), budget = 0, tc, ts, om;
    int32_t *choice = malloc((size_t)L * 4), *bits = malloc((size_t)L * 4);
    for (int32_t l = 0; l < L; l++) {
        double mx = 0;
        for (int32_t k = 0; k < K; k++) {
            size[l * K + k] = 1.0 + k + sz[l * K + k];
            cost[l * K + k] = co[l * K + k] * (double)(K - k);
            if (size[l * K + k] > mx) mx = size[l * K + k];
        }
        budget += mx;
    }
    budget *= 0.6;
    qlow_status s;
    if ((s = qlow_plan_solve(NULL, NULL, L, K, size, cost, NULL, budget, choice, &tc, &ts))) return fail("solve", s);
    if ((s = qlow_plan_qbert_rule(L, cost, 0.25, 2, 4, bits))) return fail("rule", s);
    if ((s = qlow_plan_qbert_omega(cost, 5, &om))) return fail("omega", s);
    int rc = emit(choice, (size_t)L * 4) || emit(&tc, 8) || emit(&ts, 8) || emit(bits, (size_t)L * 4) || emit(&om, 8);
    free(sz), free(co), free(size), free(cost), free(choice), free(bits);
    return rc;
}

/* tokens NBYTES: token ids (int32) of the first NBYTES bytes of the bundled TinyStories text, BOS first. */
static int mode_tokens(char **a)
{
    size_t nbytes = (size_t)atoll(a[0]);
    FILE *f = fopen("data/tinystories_validation_head.txt", "rb");
    char *text = malloc(nbytes);
    if (!f || !text || fread(text, 1, nbytes, f) != nbytes) return 2;
    fclose(f);
    qlow_tokenizer *tok = NULL;
    qlow_status s;
    if ((s = qlow_tokenizer_open("data/tok512.bin", 0, NULL, &tok))) return fail("tokenizer", s);
    int32_t *ids = malloc((nbytes + 3) * 4);
    size_t n = 0;
    if ((s = qlow_tokenizer_encode(tok, text, nbytes, 1, 0, ids, nbytes + 3, &n))) return fail("encode", s);
    int rc = emit(ids, n * 4);
    qlow_tokenizer_close(tok);
    free(text), free(ids);
    return rc;
}

/* journey CALIB_ROWS: the whole user path on the bundled model. Calibration activations = the first
 * CALIB_ROWS token embeddings; importance = their Hessian diagonal; layer 0 wq quantized to Q4/g32
 * with it; a .qlow image (packed wq, dense norm, metadata, model config) written to memory. Emits the
 * serialized matrix, then the .qlow bytes. */
static int mode_journey(char **a)
{
    int64_t calib = atoll(a[0]);
    qlow_model *m = NULL;
    qlow_ctx *ctx = NULL;
    qlow_hessian *h = NULL;
    qlow_params *p = NULL;
    qlow_qmatrix *qm = NULL;
    qlow_qfile_writer *w = NULL;
    qlow_status s;
    size_t iwq, iemb, inorm;
    int64_t shape[4];
    if ((s = qlow_model_open("data/stories260K.bin", NULL, NULL, &m)) || (s = qlow_ctx_create(NULL, &ctx)))
        return fail("open", s);
    if ((s = qlow_model_tensor_find(m, "layers.0.attention.wq", &iwq)) ||
        (s = qlow_model_tensor_find(m, "tok_embeddings", &iemb)) || (s = qlow_model_tensor_find(m, "norm", &inorm)))
        return fail("find", s);
    qlow_model_tensor_info(m, iwq, NULL, NULL, NULL, shape);
    int64_t rows = shape[0], cols = shape[1];
    float *W = malloc((size_t)(rows * cols) * 4), *E = malloc((size_t)(512 * cols) * 4), *d = malloc((size_t)cols * 4);
    float norm[64];
    if ((s = qlow_model_tensor_read_f32(m, iwq, W, (size_t)(rows * cols))) ||
        (s = qlow_model_tensor_read_f32(m, iemb, E, (size_t)(512 * cols))) ||
        (s = qlow_model_tensor_read_f32(m, inorm, norm, 64)))
        return fail("read", s);
    qlow_view xv, wv, nv;
    qlow_view_init_2d(&xv, QLOW_DTYPE_F32, calib, cols, E);
    qlow_view_init_2d(&wv, QLOW_DTYPE_F32, rows, cols, W);
    int64_t nshape[1] = {64};
    qlow_view_init(&nv, QLOW_DTYPE_F32, 1, nshape, norm);
    if ((s = qlow_hessian_create(NULL, cols, QLOW_HESSIAN_DIAG, &h)) || (s = qlow_hessian_add(ctx, h, &xv)) ||
        (s = qlow_hessian_diag(h, d, cols)))
        return fail("hessian", s);
    if ((s = qlow_params_create(NULL, &p)) || (s = qlow_params_set_int(p, QLOW_P_BITS, 4)) ||
        (s = qlow_params_set_int(p, QLOW_P_GROUP_COLS, 32)) || (s = qlow_quantize(ctx, p, &wv, d, &qm)))
        return fail("quantize", s);
    size_t n = 0;
    qlow_qmatrix_serialized_size(qm, &n);
    unsigned char *img = malloc(n), *file = malloc(1 << 20);
    if ((s = qlow_qmatrix_serialize(qm, img, n))) return fail("serialize", s);
    uint64_t fbytes = 0;
    if ((s = qlow_qfile_writer_open_buffer(file, 1 << 20, NULL, NULL, &w)) ||
        (s = qlow_qfile_writer_add_packed(w, "layers.0.attention.wq", QLOW_FORMAT_Q4, 4, rows, cols, img, n)) ||
        (s = qlow_qfile_writer_add_dense(w, "norm", &nv)) ||
        (s = qlow_qfile_writer_set_string(w, "general.name", "stories260K")) ||
        (s = qlow_qfile_writer_set_int(w, "quant.bits", 4)) || (s = qlow_qfile_writer_set_float(w, "quant.damp", 0.01)) ||
        (s = qlow_qfile_writer_set_model(w, m)) || (s = qlow_qfile_writer_finish(w)) ||
        (s = qlow_qfile_writer_bytes(w, &fbytes)))
        return fail("qfile", s);
    int rc = emit(img, n) || emit(file, (size_t)fbytes);
    qlow_qfile_writer_destroy(w), qlow_qmatrix_destroy(qm), qlow_params_destroy(p), qlow_hessian_destroy(h);
    qlow_ctx_destroy(ctx), qlow_model_close(m);
    free(W), free(E), free(d), free(img), free(file);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (qlow_abi_check(QLOW_ABI_VERSION, sizeof(qlow_view)) != QLOW_OK) return 3;
    const char *mode = argv[1];
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    if (!strcmp(mode, "fp16") && argc == 4) return mode_fp16(seed, strtoull(argv[3], NULL, 0));
    if (!strcmp(mode, "bounds") && argc == 3) return mode_bounds((int32_t)strtol(argv[2], NULL, 0));
    if (!strcmp(mode, "quantize") && argc == 11) return mode_quantize(argv + 2);
#ifdef QLOW_GEMM_ACT8
    if (!strcmp(mode, "gemm") && argc == 7) return mode_gemm(argv + 2);
#endif
    if (!strcmp(mode, "gptq") && argc == 9) return mode_gptq(argv + 2);
    if (!strcmp(mode, "ptq161") && argc == 6) return mode_ptq161(argv + 2);
    if (!strcmp(mode, "hessian") && argc == 6) return mode_hessian(argv + 2);
    if (!strcmp(mode, "hvp") && argc == 4) return mode_hvp(argv + 2);
    if (!strcmp(mode, "plan") && argc == 5) return mode_plan(argv + 2);
    if (!strcmp(mode, "tokens") && argc == 3) return mode_tokens(argv + 2);
    if (!strcmp(mode, "journey") && argc == 3) return mode_journey(argv + 2);
    fprintf(stderr, "cref: unknown mode or arguments\n");
    return 2;
}
