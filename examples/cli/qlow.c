/* qlow.c - the qlow command-line tool: quantize, evaluate, run, inspect and benchmark models with
 * libqlow. Each subcommand lives in its own cmd_*.c file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"quantize", cmd_quantize, "quantize a model (rtn, gptq, qbert, ptq161, billm) into a .qlow file"},
    {"eval", cmd_eval, "perplexity, KL divergence, top-1 agreement, size and speed against fp32"},
    {"run", cmd_run, "generate text from a prompt"},
    {"inspect", cmd_inspect, "per-tensor format, shape and bits of a model"},
    {"bench", cmd_bench, "batch-1 prompt and decode tokens/s"},
    {"export", cmd_export, "fake-quant checkpoint or GGUF file for other tools"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: qlow <command> [options]   (libqlow %s)\n\ncommands:\n", qlow_version_string());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n'qlow <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (qlow_abi_check(QLOW_ABI_VERSION, sizeof(qlow_view)) != QLOW_OK) {
        cli_error(NULL, "libqlow ABI mismatch (built for ABI %d)", QLOW_ABI_VERSION);
        return CLI_FAIL;
    }
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("qlow %s\n", qlow_version_string());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    cli_error(NULL, "unknown command '%s' (try 'qlow --help')", argv[1]);
    return CLI_USAGE;
}
