/* test_engine_forward.c - the fp32 reference engine against the model's known behaviour and a plain
 * double-precision forward pass written here: greedy output from BOS, per-position loss on a window of
 * the bundled text, prefill/decode agreement, the reference paragraphs NLL and the window counts.
 * (The tokenizer itself is libqlow's qlow_tokenizer, tested by the io tests.) */
#include "qtest.h"

#include "../../examples/llama/eval.c"
#include "../../examples/llama/llama.c"
#include "../../examples/llama/model_io.c"
#include "../../examples/llama/qlinear.c"
#include "../../examples/llama/sampler.c"
#include "../../examples/llama/tokenizer.c"

static const char *known_greedy =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, "
    "she saw a big, red ball. She wanted to play with it, but it was too high.";

/* ---- plain double-precision forward over a whole sequence (no cache, no batching tricks) ---------- */
static void dmatvec(const float *w, const double *x, double *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = 0.0;
        for (int c = 0; c < cols; c++) s += (double)w[(size_t)r * cols + c] * x[c];
        y[r] = s;
    }
}

static void drmsnorm(double *o, const double *x, const float *w, int n)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    ss = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++) o[i] = (double)w[i] * x[i] * ss;
}

static void drope(double *v, int n, int hs, int pos)
{
    for (int i = 0; i < n; i += 2) {
        double f = pow(10000.0, -(double)(i % hs) / hs), a = pos * f;
        double v0 = v[i], v1 = v[i + 1];
        v[i] = v0 * cos(a) - v1 * sin(a);
        v[i + 1] = v0 * sin(a) + v1 * cos(a);
    }
}

/* NLL of tok[t+1] given tok[0..t] for t < n-1, from the raw weights of `m`. */
static void double_nll(const llm_model *m, const int *tok, int n, double *nll)
{
    const llm_config *c = &m->cfg;
    const int D = c->dim, H = c->hidden_dim, hs = D / c->n_heads, kvd = D * c->n_kv_heads / c->n_heads;
    const int rep = c->n_heads / c->n_kv_heads, V = c->vocab_size;
    double *x = calloc((size_t)n * D, sizeof(double)), *xb = malloc(D * sizeof(double));
    double *K = malloc((size_t)c->n_layers * n * kvd * sizeof(double));
    double *Vc = malloc((size_t)c->n_layers * n * kvd * sizeof(double));
    double *q = malloc(D * sizeof(double)), *o = malloc(D * sizeof(double)), *t2 = malloc(D * sizeof(double));
    double *h1 = malloc(H * sizeof(double)), *h3 = malloc(H * sizeof(double)), *lg = malloc(V * sizeof(double));
    double *att = malloc((size_t)n * sizeof(double));
    for (int t = 0; t < n; t++)
        for (int i = 0; i < D; i++) x[(size_t)t * D + i] = m->tok_embedding[(size_t)tok[t] * D + i];
    for (int l = 0; l < c->n_layers; l++) {
        const llm_layer *L = &m->layers[l];
        double *Kl = K + (size_t)l * n * kvd, *Vl = Vc + (size_t)l * n * kvd;
        for (int t = 0; t < n; t++) {
            drmsnorm(xb, x + (size_t)t * D, L->rms_att, D);
            dmatvec(L->lin[LLM_WK].w, xb, Kl + (size_t)t * kvd, kvd, D);
            dmatvec(L->lin[LLM_WV].w, xb, Vl + (size_t)t * kvd, kvd, D);
            drope(Kl + (size_t)t * kvd, kvd, hs, t);
        }
        for (int t = 0; t < n; t++) {
            double *xt = x + (size_t)t * D;
            drmsnorm(xb, xt, L->rms_att, D);
            dmatvec(L->lin[LLM_WQ].w, xb, q, D, D);
            drope(q, D, hs, t);
            for (int h = 0; h < c->n_heads; h++) {
                int kh = h / rep;
                double mx = -1e300, sum = 0.0;
                for (int p = 0; p <= t; p++) {
                    double s = 0.0;
                    for (int i = 0; i < hs; i++) s += q[h * hs + i] * Kl[(size_t)p * kvd + kh * hs + i];
                    att[p] = s / sqrt((double)hs);
                    if (att[p] > mx) mx = att[p];
                }
                for (int p = 0; p <= t; p++) sum += (att[p] = exp(att[p] - mx));
                for (int i = 0; i < hs; i++) {
                    double acc = 0.0;
                    for (int p = 0; p <= t; p++) acc += att[p] / sum * Vl[(size_t)p * kvd + kh * hs + i];
                    o[h * hs + i] = acc;
                }
            }
            dmatvec(L->lin[LLM_WO].w, o, t2, D, D);
            /* Row t's attention output must not feed later rows' keys of this layer (already computed). */
            for (int i = 0; i < D; i++) xt[i] += t2[i];
            drmsnorm(xb, xt, L->rms_ffn, D);
            dmatvec(L->lin[LLM_W1].w, xb, h1, H, D);
            dmatvec(L->lin[LLM_W3].w, xb, h3, H, D);
            for (int i = 0; i < H; i++) h1[i] = h1[i] / (1.0 + exp(-h1[i])) * h3[i];
            dmatvec(L->lin[LLM_W2].w, h1, t2, D, H);
            for (int i = 0; i < D; i++) xt[i] += t2[i];
        }
    }
    for (int t = 0; t + 1 < n; t++) {
        drmsnorm(xb, x + (size_t)t * D, m->rms_final, D);
        dmatvec(m->cls.w, xb, lg, V, D);
        double mx = lg[0], s = 0.0;
        for (int v = 1; v < V; v++)
            if (lg[v] > mx) mx = lg[v];
        for (int v = 0; v < V; v++) s += exp(lg[v] - mx);
        nll[t] = mx + log(s) - lg[tok[t + 1]];
    }
    free(x); free(xb); free(K); free(Vc); free(q); free(o); free(t2); free(h1); free(h3); free(lg); free(att);
}

int main(void)
{
    char p1[512], p2[512], p3[512], err[256];
    llm_model m;
    int ok = llm_model_load_checkpoint(qt_path("data/stories260K.bin", p1, sizeof p1), &m, err, sizeof err) == 0;
    QT_CHECK(ok, "load: %s", err);
    llm_tokenizer *t = llm_tokenizer_load(qt_path("data/tok512.bin", p2, sizeof p2), 512, err, sizeof err);
    QT_CHECK(t != NULL, "tokenizer: %s", err);
    FILE *f = fopen(qt_path("data/tinystories_validation_head.txt", p3, sizeof p3), "rb");
    QT_CHECK(f != NULL, "text");
    if (!ok || !t || !f) return qt_finish();
    char *text = malloc(1 << 20);
    size_t tlen = fread(text, 1, 1 << 20, f);
    fclose(f);
    qlow_ctx *ctx;
    QT_CHECK_OK(qlow_ctx_create(NULL, &ctx));

    /* 1. Greedy from BOS reproduces the known sample. */
    {
        llm_state s;
        QT_CHECK(llm_state_init(&s, &m, ctx, 1) == 0, "state");
        float logits[512];
        char out[1024];
        size_t used = 0, pl;
        int tok = 1;
        for (int pos = 0; pos < 70 && used < sizeof out - 16; pos++) {
            QT_CHECK_OK(llm_forward(&s, &tok, 1, pos, logits, 0));
            int next = llm_argmax(logits, 512);
            const char *p = llm_tokenizer_piece(t, tok, next, &pl);
            memcpy(out + used, p, pl);
            used += pl;
            tok = next;
        }
        out[used] = 0;
        QT_CHECK(strncmp(out, known_greedy, strlen(known_greedy)) == 0, "greedy output: \"%s\"", out);
        llm_state_free(&s);
    }

    /* 2. A window of the bundled text: engine NLL vs the double reference; prefill vs decode logits. */
    {
        llm_seqs w;
        QT_CHECK(llm_seqs_windows(t, text, tlen, 96, 3, 512, &w) == 0 && w.n == 3, "windows");
        const int *tok = w.tok[2];
        const int n = w.len[2];
        double *ref = malloc((size_t)n * sizeof(double)), *lp = malloc(512 * sizeof(double));
        float *lg = malloc((size_t)n * 512 * sizeof(float)), one[512];
        double_nll(&m, tok, n, ref);
        llm_state s;
        QT_CHECK(llm_state_init(&s, &m, ctx, n) == 0, "state");
        QT_CHECK_OK(llm_forward(&s, tok, n - 1, 0, lg, 1));
        double max_err = 0.0, sum_e = 0.0, sum_r = 0.0, max_dec = 0.0;
        for (int i = 0; i + 1 < n; i++) {
            llm_log_softmax(lg + (size_t)i * 512, 512, lp);
            double e = -lp[tok[i + 1]];
            sum_e += e;
            sum_r += ref[i];
            if (fabs(e - ref[i]) > max_err) max_err = fabs(e - ref[i]);
        }
        llm_state s1;
        QT_CHECK(llm_state_init(&s1, &m, ctx, 1) == 0, "state");
        for (int i = 0; i + 1 < n; i++) {
            QT_CHECK_OK(llm_forward(&s1, &tok[i], 1, i, one, 0));
            for (int v = 0; v < 512; v++) {
                double d = fabs((double)one[v] - (double)lg[(size_t)i * 512 + v]);
                if (d > max_dec) max_dec = d;
            }
        }
        printf("INFO window of %d: mean NLL engine %.6f, double %.6f, max |diff| %.2e; decode vs prefill logits %.2e\n",
               n - 1, sum_e / (n - 1), sum_r / (n - 1), max_err, max_dec);
        QT_CHECK(max_err < 2e-4, "per-position NLL differs from the double reference by %g", max_err);
        QT_CHECK(fabs(sum_e - sum_r) / (n - 1) < 2e-5, "mean NLL differs by %g", fabs(sum_e - sum_r) / (n - 1));
        QT_CHECK(max_dec < 1e-4, "decode path differs from prefill by %g", max_dec);
        llm_state_free(&s);
        llm_state_free(&s1);
        free(ref);
        free(lp);
        free(lg);
        llm_seqs_free(&w);
    }

    /* 3. The paragraphs protocol over the 400 reference paragraphs: 38,675 tokens, NLL 1.441412. */
    {
        llm_seqs p;
        QT_CHECK(llm_seqs_paragraphs(t, text, tlen, 400, 512, &p) == 0, "paragraphs");
        QT_CHECK(p.n == 400 && llm_seqs_scored(&p) == 38675, "%d paragraphs, %ld tokens", p.n, llm_seqs_scored(&p));
        const llm_model *ms[1] = {&m};
        llm_quality q;
        QT_CHECK(llm_eval_quality(&m, ms, 1, ctx, &p, &q, NULL, NULL, err, sizeof err) == 0, "eval: %s", err);
        printf("INFO paragraphs: NLL %.6f ppl %.4f over %ld tokens (reference 1.441412 / 4.2267)\n", q.nll, q.ppl, q.n);
        QT_CHECK(fabs(q.nll - 1.441412) < 1e-4, "paragraphs NLL %.6f", q.nll);
        QT_CHECK(q.kld_mean == 0.0 && q.top1_pct == 100.0, "self KLD %g top1 %g", q.kld_mean, q.top1_pct);
        llm_quality_free(&q);
        llm_seqs_free(&p);
    }

    /* 4. Window protocol bookkeeping: 1,541 windows of W=256, 392,955 scored positions. */
    {
        llm_seqs w;
        QT_CHECK(llm_seqs_windows(t, text, tlen, 256, 0, 512, &w) == 0, "windows");
        QT_CHECK(w.n == 1541 && llm_seqs_scored(&w) == 392955, "%d windows, %ld positions", w.n, llm_seqs_scored(&w));
        QT_CHECK(w.tok[0][0] == 1 && w.tok[1][0] == 1, "windows start with BOS");
        llm_seqs_free(&w);
    }

    /* 5. np.percentile(v, 99) with linear interpolation. */
    {
        double v[5] = {4.0, 1.0, 3.0, 2.0, 10.0};
        QT_CHECK(fabs(llm_percentile(v, 5, 99.0) - 9.76) < 1e-12, "p99 %.6f", llm_percentile(v, 5, 99.0));
        double one = 7.0;
        QT_CHECK(llm_percentile(&one, 1, 99.0) == 7.0, "single");
    }

    qlow_ctx_destroy(ctx);
    llm_tokenizer_free(t);
    llm_model_free(&m);
    free(text);
    return qt_finish();
}
