/* cmd_run.c - `qlow run MODEL "prompt"`: generate text with the reference engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sampler.h"
#include "stats.h"

static void help(void)
{
    puts("usage: qlow run [options] MODEL [PROMPT]\n"
         "Generate text with MODEL (llama2.c .bin or .qlow). Without PROMPT, generation starts from BOS.\n"
         "  --steps N        tokens to generate (default 256, capped by the context)\n"
         "  --temp T         sampling temperature, 0 = greedy (default 0)\n"
         "  --top-p P        nucleus sampling threshold (default 0.9; used when T > 0)\n"
         "  --seed S         sampling seed (default 42)\n"
         "  --tokenizer F    tokenizer .bin (default: tok<vocab>.bin next to the model, or data/)\n"
         "  --threads N      kernel threads (default 1)\n"
         "  --stats          print tokens/s on stderr at the end");
}

int cmd_run(int argc, char **argv)
{
    const char *C = "run", *model_path = NULL, *prompt = NULL, *tok_path = NULL, *pos, *v;
    long steps = 256, seed = 42, threads = 1;
    double temp = 0.0, top_p = 0.9;
    int stats = 0, r;
    cli_args a;
    cli_args_init(&a, C, argc, argv);
    while ((r = cli_args_next(&a, &pos)) > 0) {
        if (r == 2) {
            if (!model_path) model_path = pos;
            else if (!prompt) prompt = pos;
            else {
                cli_error(C, "unexpected argument '%s' (quote the prompt)", pos);
                return CLI_USAGE;
            }
            continue;
        }
        if (!strcmp(a.name, "help") || !strcmp(a.name, "h")) {
            help();
            return CLI_OK;
        } else if (!strcmp(a.name, "stats")) {
            stats = 1;
            continue;
        }
        if (!(v = cli_args_value(&a))) return CLI_USAGE;
        if (!strcmp(a.name, "steps")) { if (cli_parse_int(C, a.name, v, 1, 1 << 20, &steps)) return CLI_USAGE; }
        else if (!strcmp(a.name, "temp")) { if (cli_parse_double(C, a.name, v, 0, 100, &temp)) return CLI_USAGE; }
        else if (!strcmp(a.name, "top-p")) { if (cli_parse_double(C, a.name, v, 0, 1, &top_p)) return CLI_USAGE; }
        else if (!strcmp(a.name, "seed")) { if (cli_parse_int(C, a.name, v, 0, 0x7fffffffL, &seed)) return CLI_USAGE; }
        else if (!strcmp(a.name, "threads")) { if (cli_parse_int(C, a.name, v, 1, 1024, &threads)) return CLI_USAGE; }
        else if (!strcmp(a.name, "tokenizer")) tok_path = v;
        else {
            cli_error(C, "unknown option --%s (try 'qlow run --help')", a.name);
            return CLI_USAGE;
        }
    }
    if (r < 0) return CLI_USAGE;
    if (!model_path) {
        cli_error(C, "missing MODEL (try 'qlow run --help')");
        return CLI_USAGE;
    }
    llm_model m;
    if (cli_model_open(C, model_path, &m)) return CLI_FAIL;
    int rc = CLI_FAIL;
    llm_tokenizer *t = cli_tokenizer_open(C, tok_path, model_path, m.cfg.vocab_size);
    qlow_ctx *ctx = NULL;
    int *ids = NULL;
    float *logits = malloc((size_t)m.cfg.vocab_size * sizeof(float));
    llm_state s = {0};
    if (!t || !logits) goto done;
    if (qlow_ctx_create(NULL, &ctx) || qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads)) {
        cli_error(C, "cannot create a libqlow context");
        goto done;
    }
    long n = llm_tokenizer_encode(t, prompt ? prompt : "", prompt ? strlen(prompt) : 0, 1, &ids);
    if (n < 0) {
        cli_error(C, "out of memory");
        goto done;
    }
    if (n >= m.cfg.seq_len) {
        cli_error(C, "prompt is %ld tokens; the model's context is %d", n, m.cfg.seq_len);
        goto done;
    }
    if (steps > m.cfg.seq_len - n) steps = m.cfg.seq_len - n;
    if (llm_state_init(&s, &m, ctx, (int)n)) {
        cli_error(C, "out of memory");
        goto done;
    }
    llm_sampler sm = {(float)temp, (float)top_p, (uint64_t)seed};
    size_t plen;
    for (long i = 1; i < n; i++) {
        const char *p = llm_tokenizer_piece(t, ids[i - 1], ids[i], &plen);
        fwrite(p, 1, plen, stdout);
    }
    double t0 = llm_seconds();
    qlow_status st = llm_forward(&s, ids, (int)n, 0, logits, 0);
    double t1 = llm_seconds();
    int prev = ids[n - 1];
    long made = 0;
    for (long g = 0; g < steps && !st; g++) {
        int next = llm_sample(&sm, logits, m.cfg.vocab_size);
        if (next == 1 || next == 2) break;
        const char *p = llm_tokenizer_piece(t, prev, next, &plen);
        fwrite(p, 1, plen, stdout);
        fflush(stdout);
        made++;
        prev = next;
        if (n + g < m.cfg.seq_len && g + 1 < steps) st = llm_forward(&s, &next, 1, (int)(n + g), logits, 0);
    }
    double t2 = llm_seconds();
    putchar('\n');
    if (st) {
        cli_error(C, "forward pass failed: %s", qlow_status_string(st));
        goto done;
    }
    if (stats)
        fprintf(stderr, "prompt %ld tokens %.1f tok/s, generated %ld tokens %.1f tok/s\n", n, n / (t1 - t0), made,
                made / (t2 - t1));
    rc = CLI_OK;
done:
    llm_state_free(&s);
    free(ids);
    free(logits);
    qlow_ctx_destroy(ctx);
    llm_tokenizer_free(t);
    llm_model_free(&m);
    return rc;
}
