/* cmd_quantize.c - `qlow quantize`: calibrate on text, quantize with a method at fixed bits or a
 * budget, and write a .qlow file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "quantize.h"

static void help(void)
{
    puts("usage: qlow quantize --method M (--bits N | --budget B) [options] -o OUT.qlow MODEL\n"
         "Quantize the linear layers of MODEL (llama2.c .bin) and write a .qlow file.\n"
         "  --method M          rtn | gptq | qbert | ptq161 | billm\n"
         "                        rtn     round-to-nearest, group-wise (no calibration)\n"
         "                        gptq    GPTQ error compensation with the calibration Hessian\n"
         "                        qbert   Q-BERT: Hessian sensitivities -> per-layer bits at --budget\n"
         "                        ptq161  PTQ1.61: salient-channel mask, 4-bit salient + binary rest\n"
         "                        billm   BiLLM-style residual binarization\n"
         "  --bits N            bits per weight (1..8) for every linear\n"
         "  --budget B          average bits/weight target (qbert; also accepted by ptq161/billm)\n"
         "  --group G           group size along the input dimension (default: the library's)\n"
         "  --calib FILE        calibration text (needed by gptq, qbert, ptq161, billm)\n"
         "  --calib-tokens N    calibration positions (default 4096)\n"
         "  --calib-window W    calibration window length (default 256)\n"
         "  --salient R         ptq161: fraction of salient (4-bit) columns, 0..1 (default 0.2; both parts\n"
         "                      are padded to 32 columns, so small models pay for whole blocks)\n"
         "  --blockwise-steps N ptq161: refine each block's layer-wise result (at --salient, or the\n"
         "                      --budget plan's salient counts) with N block-wise optimizer steps\n"
         "                      (default 0: layer-wise only)\n"
         "  --embed-bits N      also quantize the token embedding / shared classifier to N bits\n"
         "  --act-bits 8        mark the model for int8 activations (the kernels' integer path)\n"
         "  --threads N         threads (default 1)\n"
         "  --seed S            seed of randomized steps (default 24301)\n"
         "  --tokenizer FILE    tokenizer .bin (default: next to the model, or data/)\n"
         "  --verbose           print each linear's chosen format to stderr\n"
         "  -o, --output FILE   output .qlow file");
}

int cmd_quantize(int argc, char **argv)
{
    const char *C = "quantize", *model_path = NULL, *out_path = NULL, *calib_path = NULL, *tok_path = NULL;
    const char *pos, *v, *method = NULL;
    long bits = 0, group = 0, embed_bits = 0, act_bits = 0, threads = 1, seed = 24301;
    long calib_tokens = 4096, calib_window = 256;
    double budget = 0.0, salient = -1.0;
    long blockwise = 0;
    int r, verbose = 0;
    cli_args a;
    cli_args_init(&a, C, argc, argv);
    while ((r = cli_args_next(&a, &pos)) > 0) {
        if (r == 2) {
            if (model_path) {
                cli_error(C, "unexpected argument '%s'", pos);
                return CLI_USAGE;
            }
            model_path = pos;
            continue;
        }
        if (!strcmp(a.name, "help") || !strcmp(a.name, "h")) {
            help();
            return CLI_OK;
        }
        if (!strcmp(a.name, "verbose")) {
            verbose = 1;
            continue;
        }
        if (!(v = cli_args_value(&a))) return CLI_USAGE;
        if (!strcmp(a.name, "method")) method = v;
        else if (!strcmp(a.name, "o") || !strcmp(a.name, "output")) out_path = v;
        else if (!strcmp(a.name, "calib")) calib_path = v;
        else if (!strcmp(a.name, "tokenizer")) tok_path = v;
        else if (!strcmp(a.name, "bits")) { if (cli_parse_int(C, a.name, v, 1, 8, &bits)) return CLI_USAGE; }
        else if (!strcmp(a.name, "budget")) { if (cli_parse_double(C, a.name, v, 1.0, 8.0, &budget)) return CLI_USAGE; }
        else if (!strcmp(a.name, "salient")) { if (cli_parse_double(C, a.name, v, 0.0, 1.0, &salient)) return CLI_USAGE; }
        else if (!strcmp(a.name, "blockwise-steps")) { if (cli_parse_int(C, a.name, v, 0, 100000, &blockwise)) return CLI_USAGE; }
        else if (!strcmp(a.name, "group")) { if (cli_parse_int(C, a.name, v, 0, 1 << 20, &group)) return CLI_USAGE; }
        else if (!strcmp(a.name, "embed-bits")) { if (cli_parse_int(C, a.name, v, 2, 8, &embed_bits)) return CLI_USAGE; }
        else if (!strcmp(a.name, "act-bits")) { if (cli_parse_int(C, a.name, v, 8, 8, &act_bits)) return CLI_USAGE; }
        else if (!strcmp(a.name, "threads")) { if (cli_parse_int(C, a.name, v, 1, 1024, &threads)) return CLI_USAGE; }
        else if (!strcmp(a.name, "seed")) { if (cli_parse_int(C, a.name, v, 0, 0x7fffffffL, &seed)) return CLI_USAGE; }
        else if (!strcmp(a.name, "calib-tokens")) { if (cli_parse_int(C, a.name, v, 1, 1L << 24, &calib_tokens)) return CLI_USAGE; }
        else if (!strcmp(a.name, "calib-window")) { if (cli_parse_int(C, a.name, v, 2, 1 << 20, &calib_window)) return CLI_USAGE; }
        else {
            cli_error(C, "unknown option --%s (try 'qlow quantize --help')", a.name);
            return CLI_USAGE;
        }
    }
    if (r < 0) return CLI_USAGE;
    llm_quant_opts o;
    memset(&o, 0, sizeof o);
    int mi = -1;
    for (int i = 0; method && i < 5; i++)
        if (!strcmp(method, llm_method_names[i])) mi = i;
    if (!method || mi < 0) {
        cli_error(C, method ? "unknown --method '%s' (rtn, gptq, qbert, ptq161, billm)" : "missing --method%s",
                  method ? method : " (rtn, gptq, qbert, ptq161, billm)");
        return CLI_USAGE;
    }
    o.method = (llm_method)mi;
    if (!model_path || !out_path) {
        cli_error(C, "missing %s (try 'qlow quantize --help')", !model_path ? "MODEL" : "-o OUT.qlow");
        return CLI_USAGE;
    }
    if (o.method == LLM_QBERT && budget <= 0.0) {
        cli_error(C, "--method qbert needs --budget B (average bits/weight)");
        return CLI_USAGE;
    }
    if (o.method == LLM_PTQ161 && bits) {
        cli_error(C, "--method ptq161 takes --budget B or --salient R, not --bits");
        return CLI_USAGE;
    }
    if ((o.method == LLM_RTN || o.method == LLM_GPTQ) && !bits) {
        cli_error(C, "--method %s needs --bits N", method);
        return CLI_USAGE;
    }
    if (llm_method_needs_calib(o.method) && !calib_path) {
        cli_error(C, "--method %s needs --calib FILE (calibration text)", method);
        return CLI_USAGE;
    }
    o.bits = (int)bits;
    o.budget = budget;
    o.group = (int)group;
    o.salient = salient;
    o.blockwise_steps = (int)blockwise;
    o.embed_bits = (int)embed_bits;
    o.act_bits = (int)act_bits;
    o.threads = (int)threads;
    o.seed = (uint64_t)seed;
    o.verbose = verbose;

    int rc = CLI_FAIL;
    char err[512];
    llm_model src, dst;
    memset(&dst, 0, sizeof dst);
    llm_calib calib;
    memset(&calib, 0, sizeof calib);
    llm_tokenizer *tok = NULL;
    char *text = NULL;
    qlow_ctx *ctx = NULL;
    if (cli_model_open(C, model_path, &src)) return CLI_FAIL;
    if (qlow_ctx_create(NULL, &ctx) || qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads) ||
        qlow_ctx_set_int(ctx, QLOW_CTX_SEED, seed)) {
        cli_error(C, "cannot create a libqlow context");
        goto done;
    }
    if (calib_path && llm_method_needs_calib(o.method)) {
        size_t len;
        if (!(text = cli_read_file(C, calib_path, &len))) goto done;
        if (!(tok = cli_tokenizer_open(C, tok_path, model_path, src.cfg.vocab_size))) goto done;
        cli_progress pr;
        cli_progress_init(&pr, "calibrating");
        int e = llm_calib_run(&src, ctx, tok, text, len, (int)calib_window, calib_tokens, &calib, cli_progress_cb, &pr,
                              err, sizeof err);
        cli_progress_end(&pr);
        if (e) {
            cli_error(C, "%s", err);
            goto done;
        }
    }
    cli_progress pq;
    cli_progress_init(&pq, "quantizing");
    int e = llm_quantize_model(&src, &o, calib.x ? &calib : NULL, ctx, &dst, cli_progress_cb, &pq, err, sizeof err);
    cli_progress_end(&pq);
    if (e) {
        cli_error(C, "%s", err);
        goto done;
    }
    if (cli_model_save(C, &dst, &o, model_path, out_path)) goto done;
    rc = CLI_OK;
done:
    llm_model_free(&dst);
    llm_model_free(&src);
    llm_calib_free(&calib);
    llm_tokenizer_free(tok);
    free(text);
    qlow_ctx_destroy(ctx);
    return rc;
}
