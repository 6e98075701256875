/* cmd_bench.c - `qlow bench`: batch-1 prompt and decode throughput of models side by side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static void help(void)
{
    puts("usage: qlow bench [options] MODEL...\n"
         "Batch-1 speed of each MODEL: the prompt runs as one batched forward (prefill), then greedy\n"
         "decoding one token at a time. The first fp32 model (or --ref) is the baseline of 'vs fp32'.\n"
         "  --ref FILE           fp32 baseline model\n"
         "  --prompt-tokens N    prompt length (default 128)\n"
         "  --gen-tokens N       generated tokens (default 256)\n"
         "  --reps N             best of N runs (default 5)\n"
         "  --act-bits 8         also time every packed model with int8 activations\n"
         "  --threads N          kernel threads (default 1)\n"
         "  --text FILE          where the prompt comes from (default data/tinystories_validation_head.txt)\n"
         "  --tokenizer FILE     tokenizer .bin\n"
         "  --json | --csv       machine-readable output");
}

int cmd_bench(int argc, char **argv)
{
    const char *C = "bench", *pos, *v;
    report_job job;
    memset(&job, 0, sizeof job);
    job.cmd = C;
    job.text_path = "data/tinystories_validation_head.txt";
    job.speed = 1;
    job.prompt_tokens = 128;
    job.gen_tokens = 256;
    job.reps = 5;
    job.threads = 1;
    job.paths = calloc((size_t)argc + 1, sizeof *job.paths);
    if (!job.paths) return CLI_FAIL;
    int r, rc = CLI_USAGE;
    long x;
    cli_args a;
    cli_args_init(&a, C, argc, argv);
    while ((r = cli_args_next(&a, &pos)) > 0) {
        if (r == 2) {
            job.paths[job.n_paths++] = pos;
            continue;
        }
        if (!strcmp(a.name, "help") || !strcmp(a.name, "h")) {
            help();
            rc = CLI_OK;
            goto out;
        }
        if (!strcmp(a.name, "json")) { job.format = REPORT_JSON; continue; }
        if (!strcmp(a.name, "csv")) { job.format = REPORT_CSV; continue; }
        if (!(v = cli_args_value(&a))) goto out;
        if (!strcmp(a.name, "ref")) job.ref_path = v;
        else if (!strcmp(a.name, "text")) job.text_path = v;
        else if (!strcmp(a.name, "tokenizer")) job.tok_path = v;
        else if (!strcmp(a.name, "prompt-tokens")) { if (cli_parse_int(C, a.name, v, 1, 1 << 20, &x)) goto out; job.prompt_tokens = (int)x; }
        else if (!strcmp(a.name, "gen-tokens")) { if (cli_parse_int(C, a.name, v, 0, 1 << 20, &x)) goto out; job.gen_tokens = (int)x; }
        else if (!strcmp(a.name, "reps")) { if (cli_parse_int(C, a.name, v, 1, 1000, &x)) goto out; job.reps = (int)x; }
        else if (!strcmp(a.name, "threads")) { if (cli_parse_int(C, a.name, v, 1, 1024, &x)) goto out; job.threads = (int)x; }
        else if (!strcmp(a.name, "act-bits")) { if (cli_parse_int(C, a.name, v, 8, 8, &x)) goto out; job.act_bits = (int)x; }
        else {
            cli_error(C, "unknown option --%s (try 'qlow bench --help')", a.name);
            goto out;
        }
    }
    if (r < 0) goto out;
    if (!job.n_paths && !job.ref_path) {
        cli_error(C, "missing MODEL (try 'qlow bench --help')");
        goto out;
    }
    rc = report_run(&job);
out:
    free(job.paths);
    return rc;
}
