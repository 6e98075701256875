/* test_formats_pack.c - packing every format: packed dequantization equals the qresult's exactly, closed-form
 * bit accounting, serialize -> wrap round trips, and wrap rejecting truncated or corrupted images. */
#include "qtest.h"

#include "formats/blob.h"
#include "formats/codes.h"
#include "formats/qmatrix_internal.h"
#include "formats/traits.h"
#include "quant/quantizers.h"

static int aligned64(void **p, size_t n)
{
    *p = aligned_alloc(64, (n + 63) / 64 * 64);
    return *p ? 0 : -1;
}

static float *random_matrix(int64_t rows, int64_t cols, double scale)
{
    float *w = (float *)malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t k = 0; k < rows * cols; k++) w[k] = (float)(scale * qt_rand_normal());
    return w;
}

/* Quantize through the internal path into an owned qresult. */
static qlow__qresult *quantize_qr(const qlow__qopts *o, const float *w, int64_t rows, int64_t cols, const float *imp)
{
    qlow_view v;
    qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)w);
    qlow__qresult g, *qr = NULL;
    if (qlow__qopts_geometry(o, rows, cols, &g) != QLOW_OK) return NULL;
    if (qlow__qresult_create(NULL, &g, &qr) != QLOW_OK) return NULL;
    size_t sb;
    qlow__quantize_scratch_bytes(qr, 1, &sb);
    void *scratch = NULL;
    if (aligned64(&scratch, sb ? sb : 64) != 0) return NULL;
    qlow__quantize_run(o, &v, imp, 1, qr, scratch);
    free(scratch);
    return qr;
}

static qlow__qopts opts(int kind, int bits, int sym, int64_t gc, int64_t gr)
{
    qlow__qopts o;
    QT_CHECK(qlow__qopts_from_params(NULL, &o) == QLOW_OK, "default opts");
    o.kind = kind;
    o.bits = bits;
    o.symmetric = sym;
    o.group_cols = gc;
    o.group_rows = gr;
    return o;
}

/* Closed-form bytes of every plane (docs/formats.md), independent of the plan code. */
static double closed_form_bits(int32_t format, int64_t rows, int64_t cols, int64_t gc, int64_t gr, int sym,
                               int col_scale, int64_t ns)
{
    int64_t cp = (cols + 31) / 32 * 32;
    double bytes = 0;
    switch (format) {
    case QLOW_FORMAT_Q8: case QLOW_FORMAT_Q4: case QLOW_FORMAT_Q3: case QLOW_FORMAT_Q2: {
        int bits = format == QLOW_FORMAT_Q8 ? 8 : format == QLOW_FORMAT_Q4 ? 4 : format == QLOW_FORMAT_Q3 ? 3 : 2;
        int64_t g = gc == 0 || gc > cp ? cp : gc;
        int64_t ngc = (cp + g - 1) / g, ngr = (rows + gr - 1) / gr;
        bytes = (double)rows * cp * bits / 8 + (double)ngc * ngr * 2 * (sym ? 1 : 2);
        break;
    }
    case QLOW_FORMAT_B1: bytes = rows * (cp / 8.0 + 4) + (col_scale ? 2.0 * cols : 0); break;
    case QLOW_FORMAT_B2: bytes = rows * (2 * cp / 8.0 + 6); break;
    case QLOW_FORMAT_T2: bytes = rows * (cp / 4.0 + 2); break;
    case QLOW_FORMAT_T158: bytes = rows * ((cp + 4) / 5 + 2.0); break;
    case QLOW_FORMAT_M161: {
        int64_t nu = cols - ns, cpu = (nu + 31) / 32 * 32, cps = (ns + 31) / 32 * 32;
        bytes = (double)((cols + 7) / 8) + rows * (cps / 2.0 + 4 + cpu / 8.0 + 4) + (col_scale ? 2.0 * nu : 0);
        break;
    }
    }
    return 8.0 * bytes / ((double)rows * cols);
}

/* Packs qr, checks the packed dequantization against the qresult's bit for bit, the bits per weight, the
 * serialize/wrap round trip, and returns the matrix. */
static void check_packing(const qlow__qresult *qr, const char *what)
{
    qlow_qmatrix *qm = NULL;
    QT_CHECK_OK(qlow__qmatrix_from_qresult(NULL, qr, &qm));
    if (!qm) return;
    const int64_t rows = qr->rows, cols = qr->cols;
    float *a = (float *)malloc((size_t)(rows * cols) * sizeof(float));
    float *b = (float *)malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t i = 0; i < rows; i++) qlow__qresult_dequantize_row(qr, i, a + i * cols);
    QT_CHECK_OK(qlow_qmatrix_dequantize(qm, 0, rows, b, (size_t)(rows * cols)));
    QT_CHECK(memcmp(a, b, (size_t)(rows * cols) * sizeof(float)) == 0, "%s: packed dequant == qresult dequant",
             what);
    int32_t fmt = 0;
    QT_CHECK_OK(qlow_qmatrix_format(qm, &fmt));
    double bpw = 0, want = closed_form_bits(fmt, rows, cols, qr->kind == QLOW__QK_RTN ? qr->group_cols : 0,
                                            qr->kind == QLOW__QK_RTN ? qr->group_rows : 1, qr->symmetric,
                                            qr->col_scale != NULL, qr->n_salient);
    QT_CHECK_OK(qlow_qmatrix_bits_per_weight(qm, &bpw));
    QT_CHECK(fabs(bpw - want) < 1e-12, "%s: bits/weight %.6f, closed form %.6f", what, bpw, want);
    double q = 0;
    QT_CHECK_OK(qlow_format_bits_per_weight(fmt, rows, cols, qr->kind == QLOW__QK_RTN ? qr->group_cols : 0,
                                            qr->kind == QLOW__QK_RTN ? qr->group_rows : 0,
                                            (qr->symmetric ? QLOW_FORMAT_FLAG_SYMMETRIC : 0) |
                                                (qr->col_scale ? QLOW_FORMAT_FLAG_COL_SCALE : 0),
                                            qr->n_salient, &q));
    QT_CHECK(q == bpw, "%s: format query %.6f == matrix %.6f", what, q, bpw);

    /* serialize -> wrap -> identical dequantization */
    size_t n = 0;
    QT_CHECK_OK(qlow_qmatrix_serialized_size(qm, &n));
    void *buf = NULL;
    QT_CHECK(aligned64(&buf, n) == 0, "alloc");
    QT_CHECK_STATUS(qlow_qmatrix_serialize(qm, buf, n - 1), QLOW_E_BUFFER_TOO_SMALL);
    QT_CHECK_OK(qlow_qmatrix_serialize(qm, buf, n));
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    qlow_qmatrix *w = NULL;
    QT_CHECK_OK(qlow_qmatrix_wrap(ctx, buf, n, &w));
    if (w) {
        memset(b, 0, (size_t)(rows * cols) * sizeof(float));
        QT_CHECK_OK(qlow_qmatrix_dequantize(w, 0, rows, b, (size_t)(rows * cols)));
        QT_CHECK(memcmp(a, b, (size_t)(rows * cols) * sizeof(float)) == 0, "%s: wrapped dequant", what);
        QT_CHECK(w->p.codes == NULL || ((const uint8_t *)w->p.codes >= (const uint8_t *)buf &&
                                        (const uint8_t *)w->p.codes < (const uint8_t *)buf + n),
                 "%s: wrap is zero-copy", what);
        if (fmt == QLOW_FORMAT_M161) {
            /* perm lists salient columns first, each part in increasing order */
            int64_t k = 0;
            int ok = 1;
            for (int64_t j = 0; j < cols; j++) if (qr->col_mask[j]) ok &= w->perm[k++] == j;
            for (int64_t j = 0; j < cols; j++) if (!qr->col_mask[j]) ok &= w->perm[k++] == j;
            QT_CHECK(ok, "%s: perm", what);
        }
        qlow_qmatrix_destroy(w);
    }
    /* static handle */
    size_t hb = 0;
    QT_CHECK_OK(qlow_qmatrix_wrap_size(buf, n, &hb));
    void *hmem = NULL;
    QT_CHECK(aligned64(&hmem, hb) == 0, "alloc");
    QT_CHECK_STATUS(qlow_qmatrix_wrap_static(hmem, hb - 1, buf, n, &w), QLOW_E_WORKSPACE_TOO_SMALL);
    w = NULL;
    QT_CHECK_OK(qlow_qmatrix_wrap_static(hmem, hb, buf, n, &w));
    if (w) {
        QT_CHECK_OK(qlow_qmatrix_dequantize(w, rows - 1, 1, b, (size_t)cols));
        QT_CHECK(memcmp(a + (rows - 1) * cols, b, (size_t)cols * sizeof(float)) == 0, "%s: static wrap", what);
        qlow_qmatrix_destroy(w);
    }
    free(hmem);
    qlow_ctx_destroy(ctx);
    free(buf);
    free(a);
    free(b);
    qlow_qmatrix_destroy(qm);
}

static void test_every_format(void)
{
    static const int64_t shapes[][2] = {{1, 1}, {3, 31}, {5, 64}, {7, 100}, {9, 172}, {4, 33}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1];
        float *w = random_matrix(rows, cols, 0.1);
        float *imp = (float *)malloc((size_t)cols * sizeof(float));
        for (int64_t j = 0; j < cols; j++) imp[j] = (float)(0.1 + qt_rand_uniform());
        char what[96];
        static const int bits[] = {2, 3, 4, 8};
        for (int bi = 0; bi < 4; bi++)
            for (int sym = 0; sym < 2; sym++)
                for (int gc = 0; gc <= 64; gc += 32)
                    for (int gr = 1; gr <= 3; gr += 2) {
                        qlow__qopts o = opts(QLOW__QK_RTN, bits[bi], sym, gc, gr);
                        qlow__qresult *qr = quantize_qr(&o, w, rows, cols, imp);
                        QT_CHECK(qr != NULL, "quantize");
                        if (!qr) continue;
                        snprintf(what, sizeof what, "RTN%d sym%d G%d R%d %lldx%lld", bits[bi], sym, gc, gr,
                                 (long long)rows, (long long)cols);
                        check_packing(qr, what);
                        qlow__qresult_destroy(qr);
                    }
        static const int kinds[] = {QLOW__QK_BINARY, QLOW__QK_BINARY2, QLOW__QK_TERNARY, QLOW__QK_TERNARY};
        for (int k = 0; k < 4; k++) {
            qlow__qopts o = opts(kinds[k], 4, 0, 0, 1);
            o.ternary_format = k == 3 ? QLOW_FORMAT_T2 : QLOW_FORMAT_T158;
            qlow__qresult *qr = quantize_qr(&o, w, rows, cols, imp);
            QT_CHECK(qr != NULL, "quantize");
            if (!qr) continue;
            snprintf(what, sizeof what, "kind%d fmt%d %lldx%lld", kinds[k], o.ternary_format, (long long)rows,
                     (long long)cols);
            check_packing(qr, what);
            qlow__qresult_destroy(qr);
        }
        /* B1 with a column scale (r2) */
        {
            qlow__qresult g, *qr = NULL;
            QT_CHECK_OK(qlow__qresult_init_rows(&g, QLOW__QK_BINARY, rows, cols));
            g.has_col_scale = 1;
            QT_CHECK_OK(qlow__qresult_create(NULL, &g, &qr));
            if (qr) {
                QT_CHECK(qr->col_scale != NULL, "col_scale plane");
                for (int64_t i = 0; i < rows; i++) {
                    qr->alpha[i] = qlow_fp32_to_fp16((float)qt_rand_uniform());
                    qr->mu[i] = qlow_fp32_to_fp16((float)qt_rand_normal() * 0.1f);
                    for (int64_t j = 0; j < cols; j++) qr->codes[i * cols + j] = (uint8_t)(qt_rand_u64() & 1);
                }
                for (int64_t j = 0; j < cols; j++) qr->col_scale[j] = qlow_fp32_to_fp16((float)(0.5 + qt_rand_uniform()));
                snprintf(what, sizeof what, "B1+r2 %lldx%lld", (long long)rows, (long long)cols);
                check_packing(qr, what);
                qlow__qresult_destroy(qr);
            }
        }
        /* M161 with several masks (none, some, all salient), with/without r2 */
        for (int variant = 0; variant < 6; variant++) {
            uint8_t *mask = (uint8_t *)calloc((size_t)cols, 1);
            float *r2 = (float *)malloc((size_t)cols * sizeof(float));
            for (int64_t j = 0; j < cols; j++) {
                mask[j] = variant / 2 == 0 ? 0 : variant / 2 == 2 ? 1 : (qt_rand_u64() % 5 == 0);
                r2[j] = (float)(0.5 + qt_rand_uniform());
            }
            qlow__qresult *qr = NULL;
            QT_CHECK_OK(qlow__qresult_create_m161(NULL, rows, cols, mask, variant & 1, &qr));
            if (qr) {
                float *scratch = (float *)malloc((size_t)(4 * cols) * sizeof(float));
                qlow_view v;
                qlow_view_init_2d(&v, QLOW_DTYPE_F32, rows, cols, w);
                qlow__range_opts ro = {20, 0.5f, 2};
                qlow__quantize_m161(&v, imp, r2, (variant & 2) ? &ro : NULL, 1, qr, scratch);
                free(scratch);
                snprintf(what, sizeof what, "M161 v%d %lldx%lld ns=%lld", variant, (long long)rows,
                         (long long)cols, (long long)qr->n_salient);
                check_packing(qr, what);
                qlow__qresult_destroy(qr);
            }
            free(mask);
            free(r2);
        }
        free(w);
        free(imp);
    }
}

/* Pinned code bit layouts (docs/formats.md), checked on raw bytes. */
static void test_bit_layouts(void)
{
    uint8_t row[32];
    memset(row, 0, sizeof row);
    qlow__q4_set(row, 3, 0xA);
    qlow__q4_set(row, 19, 0x5);
    qlow__q4_set(row, 32 + 0, 0xF);
    QT_CHECK(row[3] == 0x5A && row[16] == 0x0F, "q4 layout %02x %02x", row[3], row[16]);
    memset(row, 0, sizeof row);
    qlow__q2_set(row, 1, 1);
    qlow__q2_set(row, 9, 2);
    qlow__q2_set(row, 17, 3);
    qlow__q2_set(row, 25, 1);
    QT_CHECK(row[1] == (1 | 2 << 2 | 3 << 4 | 1 << 6), "q2 layout %02x", row[1]);
    memset(row, 0, sizeof row);
    qlow__bit_set(row, 9, 1);
    QT_CHECK(row[1] == 2, "bit layout");
    uint8_t t = (uint8_t)(2 + 0 * 3 + 1 * 9 + 2 * 27 + 0 * 81);
    QT_CHECK(qlow__t158_get(&t, 0) == 2 && qlow__t158_get(&t, 1) == 0 && qlow__t158_get(&t, 2) == 1 &&
                 qlow__t158_get(&t, 3) == 2 && qlow__t158_get(&t, 4) == 0,
             "t158 digits");
}

static qlow_qmatrix *small_matrix(int kind, int64_t rows, int64_t cols, void **buf, size_t *n)
{
    float *w = random_matrix(rows, cols, 0.2);
    qlow__qopts o = opts(kind, 3, 0, 32, 1);
    qlow__qresult *qr = quantize_qr(&o, w, rows, cols, NULL);
    qlow_qmatrix *qm = NULL;
    qlow__qmatrix_from_qresult(NULL, qr, &qm);
    qlow__qresult_destroy(qr);
    free(w);
    qlow_qmatrix_serialized_size(qm, n);
    QT_CHECK(aligned64(buf, *n) == 0, "alloc");
    qlow_qmatrix_serialize(qm, *buf, *n);
    return qm;
}

static void test_wrap_rejects(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    static const int kinds[] = {QLOW__QK_RTN, QLOW__QK_BINARY2, QLOW__QK_TERNARY};
    for (int k = 0; k < 3; k++) {
        void *buf;
        size_t n;
        qlow_qmatrix *qm = small_matrix(kinds[k], 3, 40, &buf, &n);
        qlow_qmatrix *w = NULL;
        int clean = 1;
        for (size_t len = 0; len < n; len++) {
            qlow_status st = qlow_qmatrix_wrap(ctx, buf, len, &w);
            clean &= st == QLOW_E_TRUNCATED && w == NULL;
        }
        QT_CHECK(clean, "kind %d: every truncation of %zu bytes gives QLOW_E_TRUNCATED", kinds[k], n);
        /* every single-bit flip anywhere in the image is caught (header fields, checksums, planes) */
        uint8_t *copy = (uint8_t *)buf;
        int caught = 1;
        for (size_t pos = 0; pos < n; pos++) {
            for (int bit = 0; bit < 8; bit += 3) {
                copy[pos] ^= (uint8_t)(1u << bit);
                qlow_status st = qlow_qmatrix_wrap(ctx, buf, n, &w);
                copy[pos] ^= (uint8_t)(1u << bit);
                if (st == QLOW_OK || w != NULL) caught = 0;
                if (st != QLOW_E_FORMAT && st != QLOW_E_CHECKSUM && st != QLOW_E_VERSION_MISMATCH &&
                    st != QLOW_E_TRUNCATED)
                    caught = 0;
            }
        }
        QT_CHECK(caught, "kind %d: every bit flip rejected with a clean status", kinds[k]);
        /* random byte garbage in the header */
        int rnd = 1;
        for (int trial = 0; trial < 2000; trial++) {
            size_t pos = (size_t)(qt_rand_u64() % 128);
            uint8_t old = copy[pos], nv = (uint8_t)qt_rand_u64();
            if (nv == old) continue;
            copy[pos] = nv;
            qlow_status st = qlow_qmatrix_wrap(ctx, buf, n, &w);
            copy[pos] = old;
            rnd &= st < 0 && w == NULL;
        }
        QT_CHECK(rnd, "random header bytes rejected");
        QT_CHECK_OK(qlow_qmatrix_wrap(ctx, buf, n, &w));
        qlow_qmatrix_destroy(w);
        w = NULL;
        /* misaligned buffer */
        uint8_t *mis = (uint8_t *)malloc(n + 8);
        memcpy(mis + 1, buf, n);
        QT_CHECK_STATUS(qlow_qmatrix_wrap(ctx, mis + 1, n, &w), QLOW_E_ALIGNMENT);
        free(mis);
        QT_CHECK_STATUS(qlow_qmatrix_wrap(ctx, NULL, n, &w), QLOW_E_NULL_POINTER);
        QT_CHECK_STATUS(qlow_qmatrix_wrap(ctx, buf, n, NULL), QLOW_E_NULL_POINTER);
        QT_CHECK_STATUS(qlow_qmatrix_wrap(NULL, buf, n, &w), QLOW_E_NULL_POINTER);
        free(buf);
        qlow_qmatrix_destroy(qm);
    }
    qlow_ctx_destroy(ctx);
}

/* Images that pass the checksums but carry invalid content: built by patching and re-sealing. */
static void reseal(uint8_t *blob)
{
    qlow__geom g;
    qlow__plan pl;
    /* Re-derive from the stored header fields with a fresh checksum. */
    int64_t rows, cols;
    memcpy(&rows, blob + 32, 8);
    memcpy(&cols, blob + 40, 8);
    int32_t fmt;
    memcpy(&fmt, blob + 16, 4);
    memset(&g, 0, sizeof g);
    g.format = fmt;
    g.rows = rows;
    g.cols = cols;
    memcpy(&g.n_salient, blob + 64, 8);
    memcpy(&g.group_cols, blob + 48, 8);
    memcpy(&g.group_rows, blob + 56, 8);
    memcpy(&g.symmetric, blob + 24, 4);
    uint32_t flags;
    memcpy(&flags, blob + 28, 4);
    g.has_col_scale = flags & 1;
    qlow__geom_canonical(&g);
    qlow__format_plan(&g, &pl);
    qlow__blob_write_header(blob, &g, &pl);
}

static void test_wrap_content(void)
{
    qlow_ctx *ctx = NULL;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));
    void *buf;
    size_t n;
    qlow_qmatrix *qm = small_matrix(QLOW__QK_TERNARY, 2, 40, &buf, &n);
    qlow_qmatrix *w = NULL;
    uint8_t *b = (uint8_t *)buf;
    const size_t codes = (size_t)(qm->p.codes - qm->blob);
    b[codes] = 250; /* not a valid group of five trits */
    reseal(b);
    QT_CHECK_STATUS(qlow_qmatrix_wrap(ctx, buf, n, &w), QLOW_E_FORMAT);
    free(buf);
    qlow_qmatrix_destroy(qm);

    qm = small_matrix(QLOW__QK_RTN, 2, 40, &buf, &n);
    b = (uint8_t *)buf;
    const size_t sc = (size_t)((const uint8_t *)qm->p.scale - qm->blob);
    b[sc + 1] = 0x7c; /* fp16 infinity */
    b[sc] = 0;
    reseal(b);
    QT_CHECK_STATUS(qlow_qmatrix_wrap(ctx, buf, n, &w), QLOW_E_FORMAT);
    free(buf);
    qlow_qmatrix_destroy(qm);
    qlow_ctx_destroy(ctx);
}

static void test_alloc_failures(void)
{
    float *w = random_matrix(6, 70, 0.1);
    qlow__qopts o = opts(QLOW__QK_RTN, 4, 0, 32, 1);
    qlow__qresult *qr = quantize_qr(&o, w, 6, 70, NULL);
    long points = 0;
    qlow_qmatrix *qm = NULL;
    QT_ALLOC_FAIL_LOOP(&points, { st = qlow__qmatrix_from_qresult(&qa, qr, &qm); }, { qlow_qmatrix_destroy(qm); });
    QT_CHECK(points == 2, "from_qresult has 2 allocation points, got %ld", points);
    size_t n;
    void *buf;
    qlow__qmatrix_from_qresult(NULL, qr, &qm);
    qlow_qmatrix_serialized_size(qm, &n);
    QT_CHECK(aligned64(&buf, n) == 0, "alloc");
    qlow_qmatrix_serialize(qm, buf, n);
    points = 0;
    qlow_qmatrix *wq = NULL;
    QT_ALLOC_FAIL_LOOP(&points,
                       {
                           qlow_ctx *c = NULL;
                           st = qlow_ctx_create(&qa, &c);
                           if (st == QLOW_OK) {
                               qlow_qmatrix *tmp = NULL;
                               st = qlow_qmatrix_wrap(c, buf, n, &tmp);
                               QT_CHECK(st == QLOW_OK || tmp == NULL, "out untouched");
                               wq = tmp;
                               if (st != QLOW_OK) qlow_ctx_destroy(c);
                               else {
                                   qlow_qmatrix_destroy(wq);
                                   qlow_ctx_destroy(c);
                               }
                           }
                       },
                       {});
    QT_CHECK(points == 2, "ctx + wrap: 2 allocation points, got %ld", points);
    free(buf);
    qlow_qmatrix_destroy(qm);
    qlow__qresult_destroy(qr);
    free(w);
}

static void test_queries(void)
{
    QT_CHECK(strcmp(qlow_format_name(QLOW_FORMAT_M161), "M161") == 0, "name");
    QT_CHECK(strcmp(qlow_format_name(QLOW_FORMAT_T158), "T158") == 0, "name");
    QT_CHECK(strcmp(qlow_format_name(0), "unknown") == 0 && strcmp(qlow_format_name(99), "unknown") == 0, "unknown");
    double b = 0;
    QT_CHECK_OK(qlow_format_bits_per_weight(QLOW_FORMAT_Q4, 4096, 4096, 32, 1, 0, 0, &b));
    QT_CHECK(fabs(b - 5.0) < 1e-12, "Q4 G32 asym = 5.0 bits, got %f", b);
    QT_CHECK_OK(qlow_format_bits_per_weight(QLOW_FORMAT_Q4, 4096, 4096, 128, 1, QLOW_FORMAT_FLAG_SYMMETRIC, 0, &b));
    QT_CHECK(fabs(b - 4.125) < 1e-12, "Q4 G128 sym = 4.125 bits, got %f", b);
    QT_CHECK_OK(qlow_format_bits_per_weight(QLOW_FORMAT_T158, 4096, 4095 + 1, 0, 0, 0, 0, &b));
    QT_CHECK(fabs(b - (8.0 * 820 + 16) / 4096) < 1e-12, "T158 %f", b);
    QT_CHECK_OK(qlow_format_bits_per_weight(QLOW_FORMAT_M161, 4096, 4096, 0, 0, QLOW_FORMAT_FLAG_COL_SCALE, 820, &b));
    double want = closed_form_bits(QLOW_FORMAT_M161, 4096, 4096, 0, 0, 0, 1, 820);
    QT_CHECK(fabs(b - want) < 1e-12 && b > 1.6 && b < 1.64, "M161 4096^2 20%%: %f bits", b);
    printf("INFO M161 4096x4096, 820 salient, r2: %.4f bits/weight; Q4 G32 asym 5.0; T158 %.4f\n", b,
           (8.0 * 820 + 16) / 4096);
    QT_CHECK_STATUS(qlow_format_bits_per_weight(QLOW_FORMAT_Q4, 4, 4, 48, 1, 0, 0, &b), QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_format_bits_per_weight(QLOW_FORMAT_Q4, 0, 4, 0, 1, 0, 0, &b), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_format_bits_per_weight(42, 4, 4, 0, 1, 0, 0, &b), QLOW_E_UNSUPPORTED);
    QT_CHECK_STATUS(qlow_format_bits_per_weight(QLOW_FORMAT_B2, 4, 4, 0, 0, QLOW_FORMAT_FLAG_COL_SCALE, 0, &b),
                    QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_format_bits_per_weight(QLOW_FORMAT_M161, 4, 4, 0, 0, 0, 5, &b), QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_format_bits_per_weight(QLOW_FORMAT_Q8, INT64_MAX, INT64_MAX, 0, 1, 0, 0, &b),
                    QLOW_E_OVERFLOW);
    QT_CHECK_STATUS(qlow_format_bits_per_weight(QLOW_FORMAT_Q8, (int64_t)1 << 39, (int64_t)1 << 39, 0, 1, 0, 0, &b),
                    QLOW_E_OVERFLOW);
    QT_CHECK_STATUS(qlow_format_bits_per_weight(QLOW_FORMAT_Q8, 4, 4, 0, 1, 0, 0, NULL), QLOW_E_NULL_POINTER);

    void *buf;
    size_t n;
    qlow_qmatrix *qm = small_matrix(QLOW__QK_RTN, 3, 40, &buf, &n);
    int64_t r = 0, c = 0;
    QT_CHECK_OK(qlow_qmatrix_shape(qm, &r, &c));
    QT_CHECK(r == 3 && c == 40, "shape");
    float out[120];
    QT_CHECK_STATUS(qlow_qmatrix_dequantize(qm, 2, 2, out, 120), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_qmatrix_dequantize(qm, -1, 1, out, 120), QLOW_E_SHAPE);
    QT_CHECK_STATUS(qlow_qmatrix_dequantize(qm, 0, 3, out, 119), QLOW_E_BUFFER_TOO_SMALL);
    QT_CHECK_STATUS(qlow_qmatrix_dequantize(qm, 0, 3, NULL, 120), QLOW_E_NULL_POINTER);
    QT_CHECK_OK(qlow_qmatrix_dequantize(qm, 3, 0, out, 0));
    QT_CHECK_STATUS(qlow_qmatrix_format(NULL, (int32_t *)&r), QLOW_E_NULL_POINTER);
    size_t bytes = 0;
    QT_CHECK_OK(qlow_qmatrix_bytes(qm, &bytes));
    QT_CHECK(bytes == n, "bytes == serialized size");
    qlow_qmatrix_destroy(NULL);
    free(buf);
    qlow_qmatrix_destroy(qm);
}

int main(void)
{
    test_bit_layouts();
    test_every_format();
    test_wrap_rejects();
    test_wrap_content();
    test_alloc_failures();
    test_queries();
    return qt_finish();
}
