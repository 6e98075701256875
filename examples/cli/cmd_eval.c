/* cmd_eval.c - `qlow eval`: quality against the fp32 reference (perplexity, KLD mean/p99, top-1) and
 * efficiency (bytes, exact bits/weight, peak RSS, batch-1 prompt and decode tokens/s), as a terminal
 * table or JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval.h"
#include "report.h"
#include "stats.h"

static void help(void)
{
    puts("usage: qlow eval [options] [--ref FP32_MODEL] MODEL...\n"
         "Evaluate each MODEL against the fp32 reference (default: the first MODEL that is not quantized)\n"
         "on a text file; the reference itself is the first row.\n"
         "  --text FILE          evaluation text (default data/tinystories_validation_head.txt)\n"
         "  --protocol P         windows (default) or paragraphs (docs/reference_numbers.md)\n"
         "  --window W           window length for the windows protocol (default 256)\n"
         "  --max N              first N windows / paragraphs (default: 0 = all windows, 400 paragraphs)\n"
         "  --prompt-tokens N    speed: prompt length, batch 1 (default 128)\n"
         "  --gen-tokens N       speed: greedy tokens generated after the prompt (default 256)\n"
         "  --reps N             speed: best of N runs (default 3)\n"
         "  --no-speed           skip the speed measurement\n"
         "  --act-bits 8         also evaluate every packed model with int8 activations\n"
         "  --threads N          kernel threads (default 1)\n"
         "  --tokenizer FILE     tokenizer .bin (default: next to the reference model, or data/)\n"
         "  --json               print JSON instead of the table\n"
         "  --csv                print CSV instead of the table");
}

int cmd_eval(int argc, char **argv)
{
    const char *C = "eval", *ref_path = NULL, *text_path = "data/tinystories_validation_head.txt";
    const char *tok_path = NULL, *protocol = "windows", *pos, *v;
    long window = 256, max_items = -1, prompt_tokens = 128, gen_tokens = 256, reps = 3, threads = 1, act_bits = 0;
    int speed = 1, r;
    report_format fmt = REPORT_TABLE;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    int n_paths = 0;
    if (!paths) return CLI_FAIL;
    cli_args a;
    cli_args_init(&a, C, argc, argv);
    int rc = CLI_USAGE;
    while ((r = cli_args_next(&a, &pos)) > 0) {
        if (r == 2) {
            paths[n_paths++] = pos;
            continue;
        }
        if (!strcmp(a.name, "help") || !strcmp(a.name, "h")) {
            help();
            free(paths);
            return CLI_OK;
        }
        if (!strcmp(a.name, "json")) { fmt = REPORT_JSON; continue; }
        if (!strcmp(a.name, "csv")) { fmt = REPORT_CSV; continue; }
        if (!strcmp(a.name, "no-speed")) { speed = 0; continue; }
        if (!(v = cli_args_value(&a))) goto out;
        if (!strcmp(a.name, "ref")) ref_path = v;
        else if (!strcmp(a.name, "text")) text_path = v;
        else if (!strcmp(a.name, "tokenizer")) tok_path = v;
        else if (!strcmp(a.name, "protocol")) {
            if (strcmp(v, "windows") && strcmp(v, "paragraphs")) {
                cli_error(C, "--protocol must be 'windows' or 'paragraphs', got '%s'", v);
                goto out;
            }
            protocol = v;
        }
        else if (!strcmp(a.name, "window")) { if (cli_parse_int(C, a.name, v, 2, 1 << 20, &window)) goto out; }
        else if (!strcmp(a.name, "max")) { if (cli_parse_int(C, a.name, v, 0, 1L << 30, &max_items)) goto out; }
        else if (!strcmp(a.name, "prompt-tokens")) { if (cli_parse_int(C, a.name, v, 1, 1 << 20, &prompt_tokens)) goto out; }
        else if (!strcmp(a.name, "gen-tokens")) { if (cli_parse_int(C, a.name, v, 0, 1 << 20, &gen_tokens)) goto out; }
        else if (!strcmp(a.name, "reps")) { if (cli_parse_int(C, a.name, v, 1, 1000, &reps)) goto out; }
        else if (!strcmp(a.name, "threads")) { if (cli_parse_int(C, a.name, v, 1, 1024, &threads)) goto out; }
        else if (!strcmp(a.name, "act-bits")) {
            if (cli_parse_int(C, a.name, v, 8, 8, &act_bits)) goto out;
        } else {
            cli_error(C, "unknown option --%s (try 'qlow eval --help')", a.name);
            goto out;
        }
    }
    if (r < 0) goto out;
    if (!n_paths && !ref_path) {
        cli_error(C, "missing MODEL (try 'qlow eval --help')");
        goto out;
    }
    report_job job;
    memset(&job, 0, sizeof job);
    job.cmd = C;
    job.ref_path = ref_path;
    job.paths = paths;
    job.n_paths = n_paths;
    job.text_path = text_path;
    job.tok_path = tok_path;
    job.paragraphs = !strcmp(protocol, "paragraphs");
    job.window = (int)window;
    job.max_items = max_items < 0 ? (job.paragraphs ? 400 : 0) : (int)max_items;
    job.quality = 1;
    job.speed = speed;
    job.prompt_tokens = (int)prompt_tokens;
    job.gen_tokens = (int)gen_tokens;
    job.reps = (int)reps;
    job.threads = (int)threads;
    job.act_bits = (int)act_bits;
    job.format = fmt;
    rc = report_run(&job);
out:
    free(paths);
    return rc;
}
