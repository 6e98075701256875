/* report.c - runs an evaluation job and prints the result as a table, CSV or JSON. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval.h"
#include "stats.h"

typedef struct row {
    char name[64];
    const char *path;
    llm_model model;     /* owned unless borrowed_from >= 0 */
    int borrowed_from;   /* act8 variants share the packed matrices of another row */
    llm_size size;
    llm_quality q;
    llm_speed sp;
} row;

static void row_label(const char *path, const char *suffix, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    int len = dot && dot != b ? (int)(dot - b) : (int)strlen(b);
    snprintf(out, n, "%.*s%s", len, b, suffix);
}

static void print_table(const report_job *job, row *rows, int n, long scored, int n_seq, long rss)
{
    if (job->quality)
        printf("quality: %s, %d %s, %ld scored positions (%s)\n",
               job->paragraphs ? "paragraphs" : "windows", n_seq, job->paragraphs ? "paragraphs" : "windows",
               scored, job->text_path);
    if (job->quality && !job->paragraphs) printf("         W=%d, [BOS] + W-1 stream tokens each\n", job->window);
    if (job->speed)
        printf("speed:   batch 1, prompt %d tokens (one batched forward), %d greedy decode steps, best of %d, "
               "%d thread%s\n", job->prompt_tokens, job->gen_tokens, job->reps, job->threads,
               job->threads > 1 ? "s" : "");
    printf("%-16s %7s %7s %10s", "model", "bpw(q)", "bpw(all)", "bytes");
    if (job->quality) printf(" %9s %7s %9s %8s %7s", "ppl", "NLL", "KLD mean", "KLD p99", "top-1%");
    if (job->speed) printf(" %10s %10s %7s", "prompt t/s", "decode t/s", "vs fp32");
    putchar('\n');
    for (int i = 0; i < n; i++) {
        row *r = &rows[i];
        printf("%-16s %7.3f %7.3f %10.0f", r->name, r->size.bpw_quant, r->size.bpw_model, r->size.bytes);
        if (job->quality)
            printf(" %9.4f %7.4f %9.5f %8.4f %7.2f", r->q.ppl, r->q.nll, r->q.kld_mean, r->q.kld_p99, r->q.top1_pct);
        if (job->speed)
            printf(" %10.0f %10.0f %6.2fx", r->sp.prompt_tps, r->sp.decode_tps,
                   rows[0].sp.decode_tps > 0 ? r->sp.decode_tps / rows[0].sp.decode_tps : 0.0);
        putchar('\n');
    }
    printf("bpw(q): exact bits/weight over the packed matrices only (32 = none packed); bpw(all): over every\n"
           "parameter of the model (fp32 embedding and norms included). Peak RSS of this process: %ld KiB\n", rss);
}

static void print_csv(const report_job *job, row *rows, int n)
{
    printf("model,bpw_quantized,bpw_model,bytes,ppl,nll,kld_mean,kld_p99,top1_pct,positions,prompt_tps,decode_tps\n");
    for (int i = 0; i < n; i++) {
        row *r = &rows[i];
        printf("%s,%.6f,%.6f,%.0f", r->name, r->size.bpw_quant, r->size.bpw_model, r->size.bytes);
        if (job->quality)
            printf(",%.6f,%.6f,%.6g,%.6g,%.4f,%ld", r->q.ppl, r->q.nll, r->q.kld_mean, r->q.kld_p99, r->q.top1_pct,
                   r->q.n);
        else
            printf(",,,,,,");
        if (job->speed) printf(",%.1f,%.1f\n", r->sp.prompt_tps, r->sp.decode_tps);
        else printf(",,\n");
    }
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static void print_json(const report_job *job, row *rows, int n, long scored, int n_seq, long rss)
{
    printf("{\n  \"protocol\": ");
    json_str(job->paragraphs ? "paragraphs" : "windows");
    printf(", \"window\": %d, \"sequences\": %d, \"positions\": %ld, \"text\": ", job->paragraphs ? 0 : job->window,
           job->quality ? n_seq : 0, job->quality ? scored : 0);
    json_str(job->text_path);
    printf(",\n  \"prompt_tokens\": %d, \"gen_tokens\": %d, \"threads\": %d, \"peak_rss_kib\": %ld,\n  \"models\": [\n",
           job->prompt_tokens, job->gen_tokens, job->threads, rss);
    for (int i = 0; i < n; i++) {
        row *r = &rows[i];
        printf("    {\"name\": ");
        json_str(r->name);
        printf(", \"path\": ");
        json_str(r->path);
        printf(", \"bpw_quantized\": %.6f, \"bpw_linear\": %.6f, \"bpw_model\": %.6f, \"bytes\": %.0f, "
               "\"quantized_weights\": %lld",
               r->size.bpw_quant, r->size.bpw_linear, r->size.bpw_model, r->size.bytes,
               (long long)r->size.quant_weights);
        if (job->quality)
            printf(", \"ppl\": %.6f, \"nll\": %.6f, \"kld_mean\": %.6g, \"kld_p99\": %.6g, \"top1_pct\": %.4f", r->q.ppl,
                   r->q.nll, r->q.kld_mean, r->q.kld_p99, r->q.top1_pct);
        if (job->speed)
            printf(", \"prompt_tps\": %.1f, \"decode_tps\": %.1f", r->sp.prompt_tps, r->sp.decode_tps);
        printf("}%s\n", i + 1 < n ? "," : "");
    }
    printf("  ]\n}\n");
}

static int load_rows(const report_job *job, row *rows, int *n_rows)
{
    int n = 0;
    const char *ref = job->ref_path;
    int ref_in_paths = -1;
    if (!ref) {
        for (int i = 0; i < job->n_paths && ref_in_paths < 0; i++) {
            llm_model m;
            if (cli_model_open(job->cmd, job->paths[i], &m)) return -1;
            llm_size sz;
            llm_model_size(&m, &sz);
            llm_model_free(&m);
            if (sz.quant_weights == 0) ref_in_paths = i;
        }
        if (ref_in_paths < 0) {
            cli_error(job->cmd, "no fp32 reference among the models; pass --ref FP32_MODEL");
            return -1;
        }
        ref = job->paths[ref_in_paths];
    }
    rows[n].path = ref;
    rows[n].borrowed_from = -1;
    row_label(ref, "", rows[n].name, sizeof rows[n].name);
    if (cli_model_open(job->cmd, ref, &rows[n].model)) return -1;
    n++;
    for (int i = 0; i < job->n_paths; i++) {
        if (i == ref_in_paths) continue;
        row *r = &rows[n];
        r->path = job->paths[i];
        r->borrowed_from = -1;
        row_label(r->path, "", r->name, sizeof r->name);
        if (cli_model_open(job->cmd, r->path, &r->model)) {
            *n_rows = n;
            return -1;
        }
        n++;
        if (job->act_bits) {
            llm_size sz;
            llm_model_size(&r->model, &sz);
            if (sz.quant_weights == 0) continue;
            row *a8 = &rows[n];
            a8->path = r->path;
            a8->borrowed_from = n - 1;
            row_label(r->path, "+a8", a8->name, sizeof a8->name);
            if (llm_model_act_variant(&r->model, job->act_bits, &a8->model)) {
                cli_error(job->cmd, "out of memory");
                *n_rows = n;
                return -1;
            }
            n++;
        }
    }
    *n_rows = n;
    return 0;
}

int report_run(const report_job *job)
{
    const char *C = job->cmd;
    int rc = CLI_FAIL, n = 0;
    row *rows = calloc((size_t)job->n_paths * 2 + 2, sizeof *rows);
    char *text = NULL;
    llm_tokenizer *tok = NULL;
    qlow_ctx *ctx = NULL;
    llm_seqs seqs = {0};
    int *stream = NULL;
    const llm_model **models = NULL;
    if (!rows) return CLI_FAIL;
    if (load_rows(job, rows, &n)) goto done;
    const llm_config *c = &rows[0].model.cfg;
    for (int i = 1; i < n; i++) {
        const llm_config *o = &rows[i].model.cfg;
        if (o->vocab_size != c->vocab_size || o->dim != c->dim || o->n_layers != c->n_layers) {
            cli_error(C, "'%s' is not a version of the reference model '%s'", rows[i].path, rows[0].path);
            goto done;
        }
    }
    size_t text_len = 0;
    if (!(text = cli_read_file(C, job->text_path, &text_len))) goto done;
    if (!(tok = cli_tokenizer_open(C, job->tok_path, rows[0].path, c->vocab_size))) goto done;
    if (qlow_ctx_create(NULL, &ctx) || qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, job->threads)) {
        cli_error(C, "cannot create a libqlow context");
        goto done;
    }
    for (int i = 0; i < n; i++) llm_model_size(&rows[i].model, &rows[i].size);

    if (job->quality) {
        int e = job->paragraphs
                    ? llm_seqs_paragraphs(tok, text, text_len, job->max_items, c->seq_len, &seqs)
                    : llm_seqs_windows(tok, text, text_len, job->window, job->max_items, c->seq_len, &seqs);
        if (e || seqs.n == 0) {
            cli_error(C, e ? "out of memory" : "'%s' holds no complete %s", job->text_path,
                      job->paragraphs ? "paragraph" : "window");
            goto done;
        }
        models = calloc((size_t)n, sizeof *models);
        llm_quality *q = calloc((size_t)n, sizeof *q);
        if (!models || !q) {
            free(q);
            cli_error(C, "out of memory");
            goto done;
        }
        for (int i = 0; i < n; i++) models[i] = &rows[i].model;
        cli_progress pr;
        cli_progress_init(&pr, "evaluating");
        char err[256];
        int e2 = llm_eval_quality(&rows[0].model, models, n, ctx, &seqs, q, cli_progress_cb, &pr, err, sizeof err);
        cli_progress_end(&pr);
        if (e2) {
            free(q);
            cli_error(C, "%s", err);
            goto done;
        }
        for (int i = 0; i < n; i++) rows[i].q = q[i];
        free(q);
    }
    if (job->speed) {
        if (job->prompt_tokens + job->gen_tokens > c->seq_len) {
            cli_error(C, "--prompt-tokens + --gen-tokens must fit the context of %d tokens", c->seq_len);
            goto done;
        }
        long ns = llm_tokenizer_encode(tok, text, text_len, 1, &stream);
        if (ns < job->prompt_tokens) {
            cli_error(C, "'%s' is shorter than the %d prompt tokens", job->text_path, job->prompt_tokens);
            goto done;
        }
        for (int i = 0; i < n; i++) {
            qlow_status s = llm_measure_speed(&rows[i].model, ctx, stream, job->prompt_tokens, job->gen_tokens,
                                              job->reps, &rows[i].sp);
            if (s) {
                cli_error(C, "timing '%s' failed: %s", rows[i].name, qlow_status_string(s));
                goto done;
            }
        }
    }
    long rss = cli_peak_rss_kib();
    long scored = llm_seqs_scored(&seqs);
    if (job->format == REPORT_JSON) print_json(job, rows, n, scored, seqs.n, rss);
    else if (job->format == REPORT_CSV) print_csv(job, rows, n);
    else print_table(job, rows, n, scored, seqs.n, rss);
    rc = CLI_OK;
done:
    for (int i = n - 1; i >= 0; i--) {
        llm_quality_free(&rows[i].q);
        if (rows[i].borrowed_from >= 0) llm_model_free_variant(&rows[i].model);
        else llm_model_free(&rows[i].model);
    }
    free(rows);
    free(models);
    free(stream);
    llm_seqs_free(&seqs);
    qlow_ctx_destroy(ctx);
    llm_tokenizer_free(tok);
    free(text);
    return rc;
}
