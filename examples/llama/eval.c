/* eval.c - perplexity, KL divergence and top-1 agreement over token sequences. */
#include "eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static int seqs_push(llm_seqs *s, int *tok, int len)
{
    int **nt = realloc(s->tok, (size_t)(s->n + 1) * sizeof *nt);
    if (!nt) return -1;
    s->tok = nt;
    int *nl = realloc(s->len, (size_t)(s->n + 1) * sizeof *nl);
    if (!nl) return -1;
    s->len = nl;
    s->tok[s->n] = tok;
    s->len[s->n] = len;
    s->n++;
    return 0;
}

void llm_seqs_free(llm_seqs *s)
{
    for (int i = 0; i < s->n; i++) free(s->tok[i]);
    free(s->tok);
    free(s->len);
    memset(s, 0, sizeof *s);
}

long llm_seqs_scored(const llm_seqs *s)
{
    long n = 0;
    for (int i = 0; i < s->n; i++) n += s->len[i] - 1;
    return n;
}

int llm_seqs_paragraphs(const llm_tokenizer *t, const char *text, size_t len, int max_items, int seq_len,
                        llm_seqs *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len && (max_items <= 0 || out->n < max_items)) {
        while (i < len && is_space((unsigned char)text[i])) i++;
        if (i >= len) break;
        size_t start = i, end = i; /* end: one past the last non-space byte of the paragraph */
        while (i < len) {
            if (!is_space((unsigned char)text[i])) {
                end = ++i;
                continue;
            }
            size_t j = i;
            int newlines = 0;
            while (j < len && is_space((unsigned char)text[j])) newlines += text[j++] == '\n';
            if (newlines >= 2 || j >= len) {
                i = j;
                break;
            }
            i = j;
        }
        int *tok;
        long n = llm_tokenizer_encode(t, text + start, end - start, 1, &tok);
        if (n < 0) goto oom;
        if (n > seq_len) n = seq_len;
        if (n < 2) {
            free(tok);
            continue;
        }
        if (seqs_push(out, tok, (int)n)) {
            free(tok);
            goto oom;
        }
    }
    return 0;
oom:
    llm_seqs_free(out);
    return -1;
}

int llm_seqs_windows(const llm_tokenizer *t, const char *text, size_t len, int window, int max_items,
                     int seq_len, llm_seqs *out)
{
    memset(out, 0, sizeof *out);
    if (window > seq_len) window = seq_len;
    if (window < 2) return -1;
    int *all;
    long n = llm_tokenizer_encode(t, text, len, 0, &all);
    if (n < 0) return -1;
    for (long p = 0; p + window - 1 <= n && (max_items <= 0 || out->n < max_items); p += window - 1) {
        int *w = malloc((size_t)window * sizeof *w);
        if (!w) goto oom;
        w[0] = 1;
        memcpy(w + 1, all + p, (size_t)(window - 1) * sizeof *w);
        if (seqs_push(out, w, window)) {
            free(w);
            goto oom;
        }
    }
    free(all);
    return 0;
oom:
    free(all);
    llm_seqs_free(out);
    return -1;
}

void llm_log_softmax(const float *logits, int n, double *lp)
{
    double mx = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    double s = 0.0;
    for (int i = 0; i < n; i++) s += exp((double)logits[i] - mx);
    double lse = mx + log(s);
    for (int i = 0; i < n; i++) lp[i] = (double)logits[i] - lse;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double llm_percentile(double *v, long n, double p)
{
    if (n <= 0) return 0.0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double idx = p / 100.0 * (double)(n - 1);
    long lo = (long)floor(idx);
    long hi = lo + 1 < n ? lo + 1 : lo;
    double f = idx - (double)lo;
    return v[lo] + (v[hi] - v[lo]) * f;
}

void llm_quality_free(llm_quality *q)
{
    free(q->kld);
    q->kld = NULL;
}

static void quality_finish(llm_quality *q)
{
    q->nll = q->n ? q->nll_sum / (double)q->n : 0.0;
    q->ppl = exp(q->nll);
    double s = 0.0;
    for (long i = 0; i < q->n; i++) s += q->kld[i];
    q->kld_mean = q->n ? s / (double)q->n : 0.0;
    q->top1_pct = q->n ? 100.0 * (double)q->top1_agree / (double)q->n : 0.0;
    double *tmp = malloc((size_t)(q->n ? q->n : 1) * sizeof *tmp);
    if (tmp) {
        memcpy(tmp, q->kld, (size_t)q->n * sizeof *tmp);
        q->kld_p99 = llm_percentile(tmp, q->n, 99.0);
        free(tmp);
    } else {
        q->kld_p99 = NAN;
    }
}

int llm_eval_quality(const llm_model *ref, const llm_model *const *models, int n_models, qlow_ctx *ctx,
                     const llm_seqs *seqs, llm_quality *out, void (*progress)(void *, int, int), void *pu,
                     char *err, size_t errn)
{
    const int V = ref->cfg.vocab_size;
    int maxlen = 2;
    for (int i = 0; i < seqs->n; i++)
        if (seqs->len[i] > maxlen) maxlen = seqs->len[i];
    long total = llm_seqs_scored(seqs);
    for (int k = 0; k < n_models; k++) {
        if (models[k]->cfg.vocab_size != V || models[k]->cfg.seq_len < maxlen) {
            snprintf(err, errn, "model %d does not match the reference model's vocabulary or context", k);
            return -1;
        }
    }
    float *ref_logits = malloc((size_t)maxlen * V * sizeof(float));
    float *logits = malloc((size_t)maxlen * V * sizeof(float));
    double *ref_lp = malloc((size_t)maxlen * V * sizeof(double));
    double *lp = malloc((size_t)V * sizeof(double));
    int *ref_top = malloc((size_t)maxlen * sizeof(int));
    llm_state rs = {0}, *st = calloc((size_t)(n_models ? n_models : 1), sizeof *st);
    int rc = -1;
    if (!ref_logits || !logits || !ref_lp || !lp || !ref_top || !st || llm_state_init(&rs, ref, ctx, maxlen)) {
        snprintf(err, errn, "out of memory");
        goto done;
    }
    for (int k = 0; k < n_models; k++) {
        memset(&out[k], 0, sizeof out[k]);
        out[k].kld = malloc((size_t)(total ? total : 1) * sizeof(double));
        if (!out[k].kld || llm_state_init(&st[k], models[k], ctx, maxlen)) {
            snprintf(err, errn, "out of memory");
            goto done;
        }
    }
    for (int si = 0; si < seqs->n; si++) {
        const int *tok = seqs->tok[si];
        const int n = seqs->len[si] - 1; /* scored positions: predict tok[1..n] from prefixes */
        qlow_status s = llm_forward(&rs, tok, n, 0, ref_logits, 1);
        if (s) {
            snprintf(err, errn, "reference forward failed: %s", qlow_status_string(s));
            goto done;
        }
        for (int t = 0; t < n; t++) {
            llm_log_softmax(ref_logits + (size_t)t * V, V, ref_lp + (size_t)t * V);
            ref_top[t] = llm_argmax(ref_logits + (size_t)t * V, V);
        }
        for (int k = 0; k < n_models; k++) {
            const float *lg = logits;
            if (models[k] == ref) {
                lg = ref_logits;
            } else if ((s = llm_forward(&st[k], tok, n, 0, logits, 1))) {
                snprintf(err, errn, "forward of model %d failed: %s", k, qlow_status_string(s));
                goto done;
            }
            llm_quality *q = &out[k];
            for (int t = 0; t < n; t++) {
                const double *rl = ref_lp + (size_t)t * V;
                llm_log_softmax(lg + (size_t)t * V, V, lp);
                q->nll_sum -= lp[tok[t + 1]];
                double kl = 0.0;
                for (int v = 0; v < V; v++) kl += exp(rl[v]) * (rl[v] - lp[v]);
                q->kld[q->n++] = kl > 0.0 ? kl : 0.0;
                q->top1_agree += llm_argmax(lg + (size_t)t * V, V) == ref_top[t];
            }
        }
        if (progress) progress(pu, si + 1, seqs->n);
    }
    for (int k = 0; k < n_models; k++) quality_finish(&out[k]);
    rc = 0;
done:
    if (rc)
        for (int k = 0; k < n_models; k++) llm_quality_free(&out[k]);
    for (int k = 0; k < n_models; k++) llm_state_free(&st[k]);
    llm_state_free(&rs);
    free(st);
    free(ref_logits);
    free(logits);
    free(ref_lp);
    free(lp);
    free(ref_top);
    return rc;
}
