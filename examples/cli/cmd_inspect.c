/* cmd_inspect.c - `qlow inspect MODEL`: configuration and per-tensor format, shape and bits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stats.h"

static void help(void)
{
    puts("usage: qlow inspect [--json] MODEL\n"
         "Print the model's configuration and, for every weight matrix, its format, shape, exact\n"
         "bits/weight and bytes, then the totals.");
}

static void show(const char *name, const llm_linear *l, int json, int *first)
{
    char fmt[64];
    double bits = l->q ? llm_qlinear_bits(l) : 32.0 * (double)llm_linear_weights(l);
    llm_qlinear_describe(l, fmt, sizeof fmt);
    double bpw = bits / (double)llm_linear_weights(l);
    if (json) {
        printf("%s    {\"name\": \"%s\", \"format\": \"%s\", \"rows\": %lld, \"cols\": %lld, \"bpw\": %.6f, "
               "\"bytes\": %.0f}", *first ? "" : ",\n", name, fmt, (long long)l->rows, (long long)l->cols, bpw,
               bits / 8.0);
        *first = 0;
    } else {
        printf("%-18s %-12s %6lld x %-6lld %8.4f %10.0f\n", name, fmt, (long long)l->rows, (long long)l->cols, bpw,
               bits / 8.0);
    }
}

int cmd_inspect(int argc, char **argv)
{
    const char *C = "inspect", *path = NULL, *pos;
    int json = 0, r;
    cli_args a;
    cli_args_init(&a, C, argc, argv);
    while ((r = cli_args_next(&a, &pos)) > 0) {
        if (r == 2) {
            if (path) {
                cli_error(C, "unexpected argument '%s'", pos);
                return CLI_USAGE;
            }
            path = pos;
        } else if (!strcmp(a.name, "help") || !strcmp(a.name, "h")) {
            help();
            return CLI_OK;
        } else if (!strcmp(a.name, "json")) {
            json = 1;
        } else {
            cli_error(C, "unknown option --%s (try 'qlow inspect --help')", a.name);
            return CLI_USAGE;
        }
    }
    if (r < 0) return CLI_USAGE;
    if (!path) {
        cli_error(C, "missing MODEL (try 'qlow inspect --help')");
        return CLI_USAGE;
    }
    llm_model m;
    if (cli_model_open(C, path, &m)) return CLI_FAIL;
    const llm_config *c = &m.cfg;
    llm_size sz;
    llm_model_size(&m, &sz);
    int first = 1;
    if (json)
        printf("{\n  \"dim\": %d, \"hidden_dim\": %d, \"n_layers\": %d, \"n_heads\": %d, \"n_kv_heads\": %d, "
               "\"vocab_size\": %d, \"seq_len\": %d, \"shared_classifier\": %d,\n  \"tensors\": [\n",
               c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
               c->shared_classifier);
    else
        printf("%s: dim %d, hidden %d, %d layers, %d heads / %d kv heads, vocab %d, context %d, %s classifier\n"
               "%-18s %-12s %15s %8s %10s\n", path, c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
               c->vocab_size, c->seq_len, c->shared_classifier ? "shared" : "separate", "tensor", "format", "shape",
               "bpw", "bytes");
    char name[64];
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
            snprintf(name, sizeof name, "layers.%d.%s", l, llm_kind_names[k]);
            show(name, &m.layers[l].lin[k], json, &first);
        }
    show(c->shared_classifier ? "embedding/cls" : "cls", &m.cls, json, &first);
    if (json)
        printf("\n  ],\n  \"bpw_quantized\": %.6f, \"bpw_linear\": %.6f, \"bpw_model\": %.6f, \"bytes\": %.0f}\n",
               sz.bpw_quant, sz.bpw_linear, sz.bpw_model, sz.bytes);
    else
        printf("packed matrices: %lld weights at %.4f bits/weight; all linears %.4f; whole model %.4f bits/param,"
               " %.0f bytes\n", (long long)sz.quant_weights, sz.bpw_quant, sz.bpw_linear, sz.bpw_model, sz.bytes);
    llm_model_free(&m);
    return CLI_OK;
}
