/* sweep.c - the GPTQ column sweep: per block of `block` columns, quantize column by column with rank-1
 * compensation inside the block (column-major block buffer), then one GEMM pushes the block's scaled
 * errors into every later column (lazy batch update). */
#include "gptq.h"
#include "hessian/dense.h"

struct qlow__gptq_cursor {
    const qlow__gptq_state *s;
    int64_t blk0, blk1; /* current block, sweep positions [blk0, blk1) */
};

qlow_status qlow__gptq_workspace_bytes(const qlow__gptq_plan *p, size_t *bytes)
{
    if (p->rows <= 0 || p->cols <= 0 || p->block <= 0) return QLOW_E_SHAPE;
    if (p->cols > INT32_MAX) return QLOW_E_OVERFLOW;
    size_t rc, cc, bc, br, t = 0, part;
    int64_t B = p->block < p->cols ? p->block : p->cols;
    QLOW_TRY(qlow__matrix_count(p->rows, p->cols, &rc));
    QLOW_TRY(qlow__matrix_count(p->cols, p->cols, &cc));
    QLOW_TRY(qlow__matrix_count(B, p->cols, &bc));
    QLOW_TRY(qlow__matrix_count(B, p->rows, &br));
    size_t parts[11] = {(size_t)p->cols * 4, (size_t)p->cols * 4, (size_t)p->cols, (size_t)p->cols * 4, 0, 0, 0,
                        0, 0, (size_t)p->rows * 4, 0};
    QLOW_TRY(qlow__mul_size(cc, sizeof(double), &parts[4]));
    QLOW_TRY(qlow__mul_size(bc, sizeof(float), &parts[5]));
    QLOW_TRY(qlow__mul_size(rc, sizeof(float), &parts[6]));
    QLOW_TRY(qlow__mul_size(br, sizeof(float), &parts[7]));
    parts[8] = parts[7];
    QLOW_TRY(qlow__mul_size(qlow__spd_scratch_doubles(p->cols), sizeof(double), &parts[10]));
    for (int i = 0; i < 11; i++) {
        QLOW_TRY(qlow__add_size(parts[i], 128, &part));
        QLOW_TRY(qlow__add_size(t, part, &t));
    }
    *bytes = t;
    return QLOW_OK;
}

qlow_status qlow__gptq_state_init(qlow__gptq_state *s, const qlow__gptq_plan *p, void *ws, size_t ws_bytes)
{
    size_t need;
    QLOW_TRY(qlow__gptq_workspace_bytes(p, &need));
    if (!ws) return QLOW_E_NULL_POINTER;
    if (ws_bytes < need) return QLOW_E_WORKSPACE_TOO_SMALL;
    memset(s, 0, sizeof(*s));
    s->plan = *p;
    if (s->plan.block > p->cols) s->plan.block = p->cols;
    const size_t B = (size_t)s->plan.block, n = (size_t)p->cols, r = (size_t)p->rows;
    qlow__wksp w;
    qlow__wksp_init(&w, ws, ws_bytes);
    s->order = (int32_t *)qlow__wksp_take(&w, n * 4);
    s->pos = (int32_t *)qlow__wksp_take(&w, n * 4);
    s->dead = (uint8_t *)qlow__wksp_take(&w, n);
    s->hdiag = (float *)qlow__wksp_take(&w, n * 4);
    s->U = (double *)qlow__wksp_take(&w, n * n * sizeof(double));
    s->Urow = (float *)qlow__wksp_take(&w, B * n * 4);
    s->Wwork = (float *)qlow__wksp_take(&w, r * n * 4);
    s->Wblock = (float *)qlow__wksp_take(&w, B * r * 4);
    s->Err = (float *)qlow__wksp_take(&w, B * r * 4);
    s->qcol = (float *)qlow__wksp_take(&w, r * 4);
    s->scratch = (double *)qlow__wksp_take(&w, qlow__spd_scratch_doubles(p->cols) * sizeof(double));
    if (!s->scratch) return QLOW_E_WORKSPACE_TOO_SMALL;
    return QLOW_OK;
}

/* Sweep order for act-order: descending diag(H), ties by index (heap sort, no scratch). */
static int later(const float *d, int32_t a, int32_t b) { return d[a] < d[b] || (d[a] == d[b] && a > b); }

static void sift(int32_t *h, int64_t n, int64_t i, const float *d)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && later(d, h[l], h[m])) m = l;
        if (r < n && later(d, h[r], h[m])) m = r;
        if (m == i) return;
        int32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Heap sort with "later in the sweep" as the larger key leaves the array in sweep order. */
static void order_by_diag(int32_t *order, int64_t n, const float *d)
{
    for (int64_t i = 0; i < n; i++) order[i] = (int32_t)i;
    for (int64_t i = n / 2 - 1; i >= 0; i--) sift(order, n, i, d);
    for (int64_t e = n - 1; e > 0; e--) {
        int32_t t = order[0];
        order[0] = order[e];
        order[e] = t;
        sift(order, e, 0, d);
    }
}

static inline double h_elem(const double *H, int64_t ldh, int64_t a, int64_t b)
{
    return a >= b ? H[a * ldh + b] : H[b * ldh + a];
}

qlow_status qlow__gptq_prepare(int isa, int threads, qlow__gptq_state *s, const double *H, int64_t ldh, double scale)
{
    const int64_t n = s->plan.cols;
    double mean = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double v = scale * H[j * ldh + j];
        if (!(v - v == 0.0)) return QLOW_E_NONFINITE;
        s->dead[j] = v == 0.0;
        s->hdiag[j] = (float)v;
        mean += s->dead[j] ? 1.0 : v;
    }
    mean /= (double)n;
    if (s->plan.act_order)
        order_by_diag(s->order, n, s->hdiag);
    else
        for (int64_t j = 0; j < n; j++) s->order[j] = (int32_t)j;
    for (int64_t j = 0; j < n; j++) s->pos[s->order[j]] = (int32_t)j;
    double damp = s->plan.damp;
    for (int32_t attempt = 0;; attempt++) {
        double lambda = damp * mean;
        for (int64_t i = 0; i < n; i++) {
            int64_t a = s->order[i];
            double *row = s->U + i * n;
            for (int64_t j = 0; j < i; j++) {
                int64_t b = s->order[j];
                double v = s->dead[a] || s->dead[b] ? 0.0 : scale * h_elem(H, ldh, a, b);
                row[j] = v;
                s->U[j * n + i] = v;
            }
            row[i] = (s->dead[a] ? 1.0 : scale * H[a * ldh + a]) + lambda;
        }
        qlow_status st = qlow__inverse_upper_factor(isa, threads, s->U, n, s->scratch);
        if (st == QLOW_OK) {
            s->damp_used = damp;
            return QLOW_OK;
        }
        if (st != QLOW_E_NUMERIC || attempt >= s->plan.retries) return st;
        damp = damp > 0.0 ? damp * 10.0 : 1e-6;
    }
}

void qlow__gptq_read_column(const qlow__gptq_cursor *c, int64_t col, float *out)
{
    const qlow__gptq_state *s = c->s;
    const int64_t rows = s->plan.rows, n = s->plan.cols, p = s->pos[col];
    if (p >= c->blk0 && p < c->blk1) {
        memcpy(out, s->Wblock + (p - c->blk0) * rows, (size_t)rows * sizeof(float));
        return;
    }
    for (int64_t r = 0; r < rows; r++) out[r] = s->Wwork[r * n + p];
}

qlow_status qlow__gptq_sweep(int isa, int threads, qlow__gptq_state *s, const float *W, int64_t ldw,
                             const qlow__gptq_quantizer *q, float *out, double *loss)
{
    const int64_t rows = s->plan.rows, n = s->plan.cols, B = s->plan.block;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t p = 0; p < n; p++) {
            int64_t c = s->order[p];
            s->Wwork[r * n + p] = s->dead[c] ? 0.0f : W[r * ldw + c];
        }
    double total = 0.0;
    qlow__gptq_cursor cur = {s, 0, 0};
    for (int64_t i1 = 0; i1 < n; i1 += B) {
        const int64_t i2 = n - i1 < B ? n : i1 + B, bw = i2 - i1;
        for (int64_t k = 0; k < bw; k++) {
            float *col = s->Wblock + k * rows;
            for (int64_t r = 0; r < rows; r++) col[r] = s->Wwork[r * n + i1 + k];
            const double *urow = s->U + (i1 + k) * n;
            float *frow = s->Urow + k * n;
            for (int64_t j = i1; j < n; j++) frow[j] = (float)urow[j];
        }
        cur.blk0 = i1;
        cur.blk1 = i2;
        for (int64_t k = 0; k < bw; k++) {
            const int64_t c = s->order[i1 + k];
            float *w = s->Wblock + k * rows;
            QLOW_TRY(q->quantize_column(q->user, c, w, s->qcol, rows, &cur));
            const float d = s->Urow[k * n + i1 + k];
            for (int64_t r = 0; r < rows; r++) {
                float diff = w[r] - s->qcol[r];
                float e = diff / d;
                total += (double)diff * diff / ((double)d * d) / 2.0;
                s->Err[r * B + k] = e;
                out[r * n + c] = s->qcol[r];
                w[r] = e; /* the column is done: keep its scaled error for the rank-1 updates */
            }
            for (int64_t j = k + 1; j < bw; j++) qlow__saxpy_sub(isa, rows, s->Urow[k * n + i1 + j], w, s->Wblock + j * rows);
        }
        if (i2 < n)
            qlow__sgemm_sub(isa, threads, rows, n - i2, bw, s->Err, B, s->Urow + i2, n, s->Wwork + i2, n);
    }
    if (loss) *loss = total;
    return QLOW_OK;
}
