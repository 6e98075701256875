/* test_reliab_alloc.c - SQLite-style allocation-failure sweep over every public function that allocates:
 * the allocator hook fails at the 1st, 2nd, ... N-th attempt until the call succeeds. Each failing call
 * must return QLOW_E_NO_MEMORY, leave its out-pointers and output buffers untouched and leak nothing
 * (counting allocator); the successful call must have allocated through the hook only, and its destroy
 * must free everything. Functions taking a `const qlow_allocator*` get the failing hook directly;
 * functions allocating through their ctx (or tokenizer) get an object whose hook starts failing only
 * after it was created. Prints the number of failure points tested. */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "qtest.h"

static long points_total;
static int sweeps;
static int sentinel_;
#define SENTINEL ((void *)&sentinel_)

static void report(const char *name, long pts, int ok)
{
    QT_CHECK(ok, "%s: sweep incomplete", name);
    printf("INFO   %-34s %4ld failure points\n", name, pts);
    points_total += pts;
    sweeps++;
}

/* Object constructors: `make` creates *out with allocator `qa`, `destroy` frees it. Checks that the
 * successful run needed exactly as many allocations as there were failure points. */
#define SWEEP_MAKE(name, T, make, destroy)                                                             \
    do {                                                                                               \
        long pts_ = 0, total_ok_ = -1;                                                                 \
        QT_ALLOC_FAIL_LOOP(&pts_,                                                                      \
            {                                                                                          \
                T *out = (T *)SENTINEL;                                                                \
                st = (make);                                                                           \
                if (st != QLOW_OK) {                                                                   \
                    QT_CHECK(out == (T *)SENTINEL, "%s: out-pointer written on failure %d", name, (int)st); \
                } else {                                                                               \
                    total_ok_ = qt_as_.total;                                                          \
                    destroy;                                                                           \
                }                                                                                      \
            },                                                                                         \
            (void)0);                                                                                  \
        report(name, pts_, pts_ >= 1 && total_ok_ == pts_);                                            \
    } while (0)

/* Calls allocating through an object made with the same hook before the sweep starts: `setup` creates
 * it from `qa` (must succeed), `call` is the call under test (sets st), `undo` frees what a successful
 * call made, `teardown` frees the object. `untouched` must hold after every failing call. */
#define SWEEP_OBJ(name, setup, call, untouched, undo, teardown)                                        \
    do {                                                                                               \
        long pts_ = 0;                                                                                 \
        int done_ = 0;                                                                                 \
        for (long n_ = 1; n_ < 100000 && !done_; n_++) {                                               \
            qt_alloc_state qt_as_ = {0, 0, 0, 0};                                                      \
            qlow_allocator qa = qt_allocator(&qt_as_);                                                 \
            qlow_status st = QLOW_OK;                                                                  \
            setup;                                                                                     \
            long base_live_ = qt_as_.live;                                                             \
            qt_as_.fail_at = qt_as_.total + n_;                                                        \
            call;                                                                                      \
            qt_as_.fail_at = 0;                                                                        \
            if (st == QLOW_OK) {                                                                       \
                undo;                                                                                  \
                done_ = 1;                                                                             \
            } else {                                                                                   \
                pts_++;                                                                                \
                QT_CHECK(st == QLOW_E_NO_MEMORY, "%s: fail at %ld: status %d", name, n_, (int)st);      \
                QT_CHECK(untouched, "%s: fail at %ld: output written", name, n_);                     \
            }                                                                                          \
            QT_CHECK(qt_as_.live == base_live_, "%s: fail at %ld: %ld allocations leaked", name, n_,   \
                     qt_as_.live - base_live_);                                                        \
            teardown;                                                                                  \
            QT_CHECK(qt_as_.live == 0, "%s: teardown leaves %ld allocations", name, qt_as_.live);     \
        }                                                                                              \
        report(name, pts_, done_);                                                                     \
    } while (0)

static unsigned char *slurp(const char *rel, size_t *n)
{
    char path[512];
    FILE *f = fopen(qt_path(rel, path, sizeof path), "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = (unsigned char *)aligned_alloc(64, ((size_t)len + 63) / 64 * 64);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void core_objects(void)
{
    SWEEP_MAKE("qlow_ctx_create", qlow_ctx, qlow_ctx_create(&qa, &out), qlow_ctx_destroy(out));
    SWEEP_MAKE("qlow_params_create", qlow_params, qlow_params_create(&qa, &out), qlow_params_destroy(out));
}

static float wdata[24 * 80];

static void quant_and_qmatrix(void)
{
    for (int i = 0; i < 24 * 80; i++) wdata[i] = (float)qt_rand_normal() * (i % 29 == 3 ? 10.0f : 1.0f);
    qlow_view W;
    QT_CHECK_OK(qlow_view_init_2d(&W, QLOW_DTYPE_F32, 24, 80, wdata));
    static const struct { const char *name; int scheme, bits, group; } cases[] = {
        {"qlow_quantize RTN q4 g32", QLOW_SCHEME_RTN, 4, 32},
        {"qlow_quantize RTN q3 row", QLOW_SCHEME_RTN, 3, 0},
        {"qlow_quantize BINARY", QLOW_SCHEME_BINARY, 0, 0},
        {"qlow_quantize BINARY_RESIDUAL", QLOW_SCHEME_BINARY_RESIDUAL, 0, 0},
        {"qlow_quantize TERNARY", QLOW_SCHEME_TERNARY, 0, 0},
    };
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    unsigned char *image = NULL;
    size_t image_bytes = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        qlow_params_reset(p);
        QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_SCHEME, cases[c].scheme));
        if (cases[c].bits) QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_BITS, cases[c].bits));
        if (cases[c].group) QT_CHECK_OK(qlow_params_set_int(p, QLOW_P_GROUP_COLS, cases[c].group));
        qlow_ctx *ctx = NULL;
        qlow_qmatrix *qm = NULL;
        SWEEP_OBJ(cases[c].name, { QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)); qm = (qlow_qmatrix *)SENTINEL; },
                  st = qlow_quantize(ctx, p, &W, NULL, &qm), qm == (qlow_qmatrix *)SENTINEL,
                  {
                      if (!image) { /* keep one image for the wrap sweep */
                          qlow_qmatrix_serialized_size(qm, &image_bytes);
                          image = (unsigned char *)aligned_alloc(64, (image_bytes + 63) / 64 * 64);
                          QT_CHECK_OK(qlow_qmatrix_serialize(qm, image, image_bytes));
                      }
                      qlow_qmatrix_destroy(qm);
                  },
                  qlow_ctx_destroy(ctx));
    }
    qlow_params_destroy(p);
    if (!image) return;
    qlow_ctx *ctx = NULL;
    qlow_qmatrix *qm = NULL;
    SWEEP_OBJ("qlow_qmatrix_wrap", { QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)); qm = (qlow_qmatrix *)SENTINEL; },
              st = qlow_qmatrix_wrap(ctx, image, image_bytes, &qm), qm == (qlow_qmatrix *)SENTINEL,
              qlow_qmatrix_destroy(qm), qlow_ctx_destroy(ctx));

    /* The allocating kernel wrappers, with 1 and 2 threads. */
    qlow_ctx *c0 = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &c0));
    QT_CHECK_OK(qlow_qmatrix_wrap(c0, image, image_bytes, &qm));
    static float x[3 * 80], y[3 * 24];
    for (int i = 0; i < 3 * 80; i++) x[i] = (float)qt_rand_normal();
    for (int threads = 1; qm && threads <= 2; threads++) {
        const char *names[3][2] = {{"qlow_gemv", "qlow_gemv (2 threads)"}, {"qlow_gemm", "qlow_gemm (2 threads)"},
                                   {"qlow_gemm_act8", "qlow_gemm_act8 (2 threads)"}};
        for (int mode = 0; mode < 3; mode++) {
            SWEEP_OBJ(names[mode][threads - 1],
                      {
                          QT_CHECK_OK(qlow_ctx_create(&qa, &ctx));
                          qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads);
                          for (int i = 0; i < 3 * 24; i++) y[i] = -777.0f;
                      },
                      st = mode == 0 ? qlow_gemv(ctx, qm, x, y) : mode == 1 ? qlow_gemm(ctx, qm, x, 3, y)
                                                                         : qlow_gemm_act8(ctx, qm, x, 3, y),
                      y[0] == -777.0f && y[3 * 24 - 1] == -777.0f, (void)0, qlow_ctx_destroy(ctx));
        }
    }
    qlow_qmatrix_destroy(qm);
    qlow_ctx_destroy(c0);
    free(image);
}

static void tokenizer(void)
{
    size_t n = 0;
    unsigned char *tok = slurp("data/tok512.bin", &n);
    QT_CHECK(tok != NULL, "data/tok512.bin");
    if (!tok) return;
    char path[512];
    qt_path("data/tok512.bin", path, sizeof path);
    SWEEP_MAKE("qlow_tokenizer_open_buffer", qlow_tokenizer, qlow_tokenizer_open_buffer(tok, n, 0, &qa, &out),
               qlow_tokenizer_close(out));
    SWEEP_MAKE("qlow_tokenizer_open", qlow_tokenizer, qlow_tokenizer_open(path, 512, &qa, &out), qlow_tokenizer_close(out));
    static const char text[] = "Once upon a time there was a little dog. \xc3\xa9\xe2\x82\xac";
    int32_t ids[sizeof text + 3];
    size_t nt = 12345;
    qlow_tokenizer *t = NULL;
    SWEEP_OBJ("qlow_tokenizer_encode", { QT_CHECK_OK(qlow_tokenizer_open_buffer(tok, n, 0, &qa, &t)); nt = 12345; },
              st = qlow_tokenizer_encode(t, text, sizeof text - 1, 1, 1, ids, sizeof ids / sizeof ids[0], &nt),
              nt == 12345, (void)0, qlow_tokenizer_close(t));
    free(tok);
}

static void models(void)
{
    static const struct { const char *name, *file; } cases[] = {
        {"qlow_model_open_buffer llama2c", "tests/fuzz/corpus/llama2c/tiny_unshared"},
        {"qlow_model_open_buffer safetensors", "tests/fuzz/corpus/safetensors/hf_names"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = 0;
        unsigned char *buf = slurp(cases[c].file, &n);
        QT_CHECK(buf != NULL, "%s", cases[c].file);
        if (!buf) continue;
        SWEEP_MAKE(cases[c].name, qlow_model, qlow_model_open_buffer(buf, n, NULL, &qa, &out), qlow_model_close(out));
        free(buf);
    }
    char path[512];
    qt_path("data/stories260K.bin", path, sizeof path);
    SWEEP_MAKE("qlow_model_open stories260K", qlow_model, qlow_model_open(path, NULL, &qa, &out), qlow_model_close(out));
}

/* The writer allocates as it grows: the whole sequence open .. finish is swept, and whichever call meets
 * the failing allocation must report QLOW_E_NO_MEMORY. */
static qlow_qmatrix *sample_qm;

static qlow_status write_sample(const qlow_allocator *a, void *buf, size_t cap, const char *path, uint64_t *bytes)
{
    qlow_qfile_writer *w = (qlow_qfile_writer *)SENTINEL;
    qlow_status st = path ? qlow_qfile_writer_open(path, NULL, a, &w) : qlow_qfile_writer_open_buffer(buf, cap, NULL, a, &w);
    if (st != QLOW_OK) {
        QT_CHECK(w == (qlow_qfile_writer *)SENTINEL, "writer out-pointer written on failure");
        return st;
    }
    qlow_view v;
    float dense[4 * 8];
    for (int i = 0; i < 32; i++) dense[i] = (float)i * 0.25f;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, 4, 8, dense);
    if (st == QLOW_OK) st = qlow_qfile_writer_add_dense(w, "tok_embeddings", &v);
    if (st == QLOW_OK) st = qlow_qfile_writer_add_dense(w, "blk.0.attn_norm", &v);
    if (st == QLOW_OK && sample_qm) st = qlow_qfile_writer_add_qmatrix(w, "blk.0.attn_q", sample_qm);
    if (st == QLOW_OK) st = qlow_qfile_writer_set_string(w, "general.name", "alloc sweep");
    if (st == QLOW_OK) st = qlow_qfile_writer_set_int(w, "general.layers", 1);
    if (st == QLOW_OK) st = qlow_qfile_writer_set_float(w, "general.eps", 1e-5);
    if (st == QLOW_OK) st = qlow_qfile_writer_set_bytes(w, "general.digest", dense, 32);
    if (st == QLOW_OK) st = qlow_qfile_writer_finish(w);
    if (st == QLOW_OK && bytes) st = qlow_qfile_writer_bytes(w, bytes);
    qlow_qfile_writer_destroy(w);
    return st;
}

static void qfiles(void)
{
    static unsigned char _Alignas(64) file[1 << 14];
    qlow_ctx *qctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &qctx));
    qlow_view wv;
    QT_CHECK_OK(qlow_view_init_2d(&wv, QLOW_DTYPE_F32, 4, 80, wdata));
    QT_CHECK_OK(qlow_quantize(qctx, NULL, &wv, NULL, &sample_qm));
    qlow_ctx_destroy(qctx);
    long pts = 0;
    QT_ALLOC_FAIL_LOOP(&pts, st = write_sample(&qa, file, sizeof file, NULL, NULL), (void)0);
    report("qlow_qfile_writer (buffer) sequence", pts, pts >= 1);
    char path[] = "/tmp/qlow_reliab_alloc_XXXXXX";
    int fd = mkstemp(path);
    QT_CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) close(fd);
    pts = 0;
    QT_ALLOC_FAIL_LOOP(&pts, st = write_sample(&qa, NULL, 0, path, NULL), (void)0);
    report("qlow_qfile_writer (path) sequence", pts, pts >= 1);

    uint64_t bytes = 0;
    QT_CHECK_OK(write_sample(NULL, file, sizeof file, NULL, &bytes));
    qlow_qfile *probe = NULL;
    qlow_status ps = qlow_qfile_open_buffer(file, (size_t)bytes, NULL, NULL, &probe);
    qlow_qfile_close(probe);
    if (ps != QLOW_OK) {
        /* The main-branch writer of this build cannot produce a readable file: reported, not swept. */
        printf("NOTE .qlow written by qlow_qfile_writer does not open: %s; open sweeps skipped\n", qlow_status_string(ps));
        QT_CHECK(0, "writer output must open with qlow_qfile_open_buffer (status %d)", (int)ps);
    } else {
        SWEEP_MAKE("qlow_qfile_open_buffer", qlow_qfile, qlow_qfile_open_buffer(file, (size_t)bytes, NULL, &qa, &out),
                   qlow_qfile_close(out));
        SWEEP_MAKE("qlow_qfile_open", qlow_qfile, qlow_qfile_open(path, NULL, &qa, &out), qlow_qfile_close(out));
        qlow_qfile *qf = NULL;
        QT_CHECK_OK(qlow_qfile_open_buffer(file, (size_t)bytes, NULL, NULL, &qf));
        size_t idx = 0;
        QT_CHECK_OK(qlow_qfile_tensor_find(qf, "blk.0.attn_q", &idx));
        qlow_ctx *ctx = NULL;
        qlow_qmatrix *tq = NULL;
        SWEEP_OBJ("qlow_qfile_tensor_qmatrix", { QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)); tq = (qlow_qmatrix *)SENTINEL; },
                  st = qlow_qfile_tensor_qmatrix(qf, idx, ctx, &tq), tq == (qlow_qmatrix *)SENTINEL,
                  qlow_qmatrix_destroy(tq), qlow_ctx_destroy(ctx));
        qlow_qfile_close(qf);
    }
    qlow_qmatrix_destroy(sample_qm);
    unlink(path);
}

static int diag_hvp(void *user, const float *v_in, float *v_out, int64_t n)
{
    (void)user;
    for (int64_t i = 0; i < n; i++) v_out[i] = (float)(i + 1) * v_in[i];
    return 0;
}
static int quad_grad(void *user, const float *theta, float *grad, int64_t n)
{
    (void)user;
    for (int64_t i = 0; i < n; i++) grad[i] = (float)(i + 1) * theta[i];
    return 0;
}

static void hessian_and_plan(void)
{
    enum { COLS = 24, TOK = 64 };
    static float X[TOK * COLS];
    for (int i = 0; i < TOK * COLS; i++) X[i] = (float)qt_rand_normal();
    qlow_view xv;
    QT_CHECK_OK(qlow_view_init_2d(&xv, QLOW_DTYPE_F32, TOK, COLS, X));
    SWEEP_MAKE("qlow_hessian_create FULL", qlow_hessian, qlow_hessian_create(&qa, COLS, QLOW_HESSIAN_FULL, &out),
               qlow_hessian_destroy(out));
    SWEEP_MAKE("qlow_hessian_create DIAG", qlow_hessian, qlow_hessian_create(&qa, COLS, QLOW_HESSIAN_DIAG, &out),
               qlow_hessian_destroy(out));

    qlow_ctx *c0 = NULL;
    qlow_hessian *h = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &c0));
    QT_CHECK_OK(qlow_hessian_create(NULL, COLS, QLOW_HESSIAN_FULL, &h));
    QT_CHECK_OK(qlow_hessian_add(c0, h, &xv));
    size_t sb = 0;
    QT_CHECK_OK(qlow_hessian_save_size(h, &sb));
    unsigned char *saved = (unsigned char *)aligned_alloc(64, (sb + 63) / 64 * 64);
    QT_CHECK_OK(qlow_hessian_save(h, saved, sb, NULL));
    SWEEP_MAKE("qlow_hessian_load", qlow_hessian, qlow_hessian_load(&qa, saved, sb, &out), qlow_hessian_destroy(out));
    free(saved);

    qlow_ctx *ctx = NULL;
    static double factor[COLS * COLS];
    const double mark = -12345.0;
    double lambda = mark, eigs[4] = {mark, mark, mark, mark}, trace = mark, se = mark, err = mark;
    int32_t iters = -7;
    for (int i = 0; i < COLS * COLS; i++) factor[i] = mark;
    SWEEP_OBJ("qlow_hessian_cholesky", QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)),
              st = qlow_hessian_cholesky(ctx, h, QLOW_HESSIAN_FACTOR_HINV, 0.01, factor, COLS * COLS),
              factor[0] == mark && factor[COLS * COLS - 1] == mark, (void)0, qlow_ctx_destroy(ctx));
    SWEEP_OBJ("qlow_hessian_top_eigen", QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)),
              st = qlow_hessian_top_eigen(ctx, h, 1e-6, 200, NULL, 0, &lambda, &iters), lambda == mark && iters == -7,
              (void)0, qlow_ctx_destroy(ctx));
    SWEEP_OBJ("qlow_hessian_lanczos", QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)),
              st = qlow_hessian_lanczos(ctx, h, 12, 4, NULL, 0, eigs), eigs[0] == mark && eigs[3] == mark, (void)0,
              qlow_ctx_destroy(ctx));
    lambda = mark;
    iters = -7;
    SWEEP_OBJ("qlow_hvp_top_eigen", QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)),
              st = qlow_hvp_top_eigen(ctx, diag_hvp, NULL, 40, 1e-6, 300, NULL, 0, &lambda, &iters),
              lambda == mark && iters == -7, (void)0, qlow_ctx_destroy(ctx));
    for (int i = 0; i < 4; i++) eigs[i] = mark;
    SWEEP_OBJ("qlow_hvp_lanczos", QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)),
              st = qlow_hvp_lanczos(ctx, diag_hvp, NULL, 40, 12, 3, NULL, 0, eigs), eigs[0] == mark, (void)0,
              qlow_ctx_destroy(ctx));
    SWEEP_OBJ("qlow_hvp_trace", QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)),
              st = qlow_hvp_trace(ctx, diag_hvp, NULL, 40, 16, 0.0, NULL, 0, &trace, &se, NULL),
              trace == mark && se == mark, (void)0, qlow_ctx_destroy(ctx));
    float theta[16];
    for (int i = 0; i < 16; i++) theta[i] = 0.1f * (float)i;
    SWEEP_MAKE("qlow_fd_hvp_create", qlow_fd_hvp, qlow_fd_hvp_create(&qa, quad_grad, NULL, theta, 16, 0.0, &out),
               qlow_fd_hvp_destroy(out));

    static float wq[4 * COLS];
    qlow_view W, Wq;
    for (int i = 0; i < 4 * COLS; i++) wq[i] = X[i] + 0.01f;
    QT_CHECK_OK(qlow_view_init_2d(&W, QLOW_DTYPE_F32, 4, COLS, X));
    QT_CHECK_OK(qlow_view_init_2d(&Wq, QLOW_DTYPE_F32, 4, COLS, wq));
    SWEEP_OBJ("qlow_plan_layer_error", QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)),
              st = qlow_plan_layer_error(ctx, h, &W, &Wq, NULL, 0, &err), err == mark, (void)0, qlow_ctx_destroy(ctx));

    qlow_params *gp = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &gp));
    qlow_params_set_int(gp, QLOW_P_BITS, 3);
    qlow_params_set_int(gp, QLOW_GPTQ_BLOCK, 8);
    qlow_qmatrix *gq = NULL;
    SWEEP_OBJ("qlow_gptq_quantize", { QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)); gq = (qlow_qmatrix *)SENTINEL; },
              st = qlow_gptq_quantize(ctx, gp, &W, h, &gq), gq == (qlow_qmatrix *)SENTINEL, qlow_qmatrix_destroy(gq),
              qlow_ctx_destroy(ctx));
    qlow_params_set_int(gp, QLOW_GPTQ_ACT_ORDER, 1);
    SWEEP_OBJ("qlow_gptq_quantize act-order", { QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)); gq = (qlow_qmatrix *)SENTINEL; },
              st = qlow_gptq_quantize(ctx, gp, &W, h, &gq), gq == (qlow_qmatrix *)SENTINEL, qlow_qmatrix_destroy(gq),
              qlow_ctx_destroy(ctx));
    qlow_params_destroy(gp);

    const double size[6] = {4, 2, 1, 4, 2, 1}, cost[6] = {0.1, 0.5, 2.0, 0.2, 0.4, 3.0};
    int32_t choice[2] = {-9, -9};
    long pts = 0;
    QT_ALLOC_FAIL_LOOP(&pts,
        {
            choice[0] = choice[1] = -9;
            st = qlow_plan_solve(&qa, NULL, 2, 3, size, cost, NULL, 5.0, choice, NULL, NULL);
            if (st != QLOW_OK) QT_CHECK(choice[0] == -9 && choice[1] == -9, "plan_solve wrote choice on failure");
        },
        (void)0);
    report("qlow_plan_solve", pts, pts >= 1);
    qlow_hessian_destroy(h);
    qlow_ctx_destroy(c0);
}

/* PTQ1.61: the one-call pipeline (with and without the scale optimizer) and the statistics object. */
static void ptq161(void)
{
    enum { R = 12, C = 64, TOK = 48 };
    static float w[R * C], x[TOK * C];
    for (int i = 0; i < R * C; i++) w[i] = (float)qt_rand_normal();
    for (int i = 0; i < TOK * C; i++) x[i] = (float)qt_rand_normal() * (i % C < 6 ? 8.0f : 1.0f);
    qlow_view W, X;
    QT_CHECK_OK(qlow_view_init_2d(&W, QLOW_DTYPE_F32, R, C, w));
    QT_CHECK_OK(qlow_view_init_2d(&X, QLOW_DTYPE_F32, TOK, C, x));
    SWEEP_MAKE("qlow_actstats_create", qlow_actstats, qlow_actstats_create(&qa, C, &out), qlow_actstats_destroy(out));
    qlow_params *p = NULL;
    QT_CHECK_OK(qlow_params_create(NULL, &p));
    for (int optimize = 0; optimize <= 1; optimize++) {
        qlow_params_set_int(p, QLOW_PTQ161_OPTIMIZE, optimize);
        qlow_ctx *ctx = NULL;
        qlow_qmatrix *qm = NULL;
        SWEEP_OBJ(optimize ? "qlow_ptq161_quantize (optimized)" : "qlow_ptq161_quantize (mask only)",
                  { QT_CHECK_OK(qlow_ctx_create(&qa, &ctx)); qm = (qlow_qmatrix *)SENTINEL; },
                  st = qlow_ptq161_quantize(ctx, p, &W, &X, NULL, &qm, NULL), qm == (qlow_qmatrix *)SENTINEL,
                  qlow_qmatrix_destroy(qm), qlow_ctx_destroy(ctx));
    }
    qlow_params_destroy(p);
}

/* A static context has no allocator: calls that would allocate through it must report
 * QLOW_E_NO_MEMORY rather than fall back to libc. */
static void static_ctx_never_allocates(void)
{
    _Alignas(64) unsigned char mem[1024];
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_init_static(mem, sizeof mem, &ctx));
    if (!ctx) return;
    float w[2 * 32];
    for (int i = 0; i < 64; i++) w[i] = (float)i;
    qlow_view W;
    qlow_qmatrix *qm = (qlow_qmatrix *)SENTINEL;
    QT_CHECK_OK(qlow_view_init_2d(&W, QLOW_DTYPE_F32, 2, 32, w));
    QT_CHECK_STATUS(qlow_quantize(ctx, NULL, &W, NULL, &qm), QLOW_E_NO_MEMORY);
    QT_CHECK(qm == (qlow_qmatrix *)SENTINEL, "static ctx: out untouched");
    double lambda = 0;
    QT_CHECK_STATUS(qlow_hvp_top_eigen(ctx, diag_hvp, NULL, 8, 1e-3, 10, NULL, 0, &lambda, NULL), QLOW_E_NO_MEMORY);
}

int main(void)
{
    core_objects();
    quant_and_qmatrix();
    tokenizer();
    models();
    qfiles();
    hessian_and_plan();
    ptq161();
    static_ctx_never_allocates();
    printf("INFO alloc-failure sweeps: %d functions or sequences\n", sweeps);
    printf("INFO alloc-failure points tested: %ld\n", points_total);
    return qt_finish();
}
