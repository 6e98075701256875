/* cli.h - shared pieces of the qlow command-line tool: argument parsing, errors, progress, files. */
#ifndef QLOW_CLI_H
#define QLOW_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "llama.h"
#include "tokenizer.h"

/* Exit codes: 0 success, 1 runtime failure (I/O, library error), 2 usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "qlow <cmd>: <message>" as one line on stderr. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void cli_error(const char *cmd, const char *fmt, ...);

/* Option parsing over argv[1..argc): options come as "--name value" or "--name=value"; anything not
 * starting with "--" (or a lone "-") is positional. */
typedef struct cli_args {
    const char *cmd;
    int argc;
    char **argv;
    int i;               /* next argv index */
    const char *name;    /* current option name without dashes */
    const char *inl;     /* value given inline after '=', or NULL */
    char namebuf[64];
} cli_args;

void cli_args_init(cli_args *a, const char *cmd, int argc, char **argv);
/* Next item: returns 1 and sets a->name for an option, 2 for a positional (in *pos), 0 at the end,
 * -1 on a malformed option. */
int cli_args_next(cli_args *a, const char **pos);
/* Value of the current option; reports an error and returns NULL when missing. */
const char *cli_args_value(cli_args *a);
int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);

/* Whole file into memory (NUL-terminated); NULL + error line on failure. */
char *cli_read_file(const char *cmd, const char *path, size_t *len);

/* Progress on stderr only when stderr is a terminal. */
typedef struct cli_progress {
    int on;
    const char *label;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
void cli_progress_cb(void *user, int done, int total);
void cli_progress_end(cli_progress *p);

double cli_now(void);
long cli_peak_rss_kib(void);

/* Opens a model file (llama2.c .bin or a .qlow container) as an engine model. */
int cli_model_open(const char *cmd, const char *path, llm_model *m);
struct llm_quant_opts;
/* Writes a quantized model as .qlow (src_path: the checkpoint it came from). */
int cli_model_save(const char *cmd, const llm_model *m, const struct llm_quant_opts *o, const char *src_path,
                   const char *path);
/* Loads the tokenizer from `path` or, when NULL, from tok<vocab>.bin next to the model or in data/. */
llm_tokenizer *cli_tokenizer_open(const char *cmd, const char *path, const char *model_path, int vocab);

/* Subcommands. */
int cmd_quantize(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
