/* cli_model.c - opening model files for the CLI: llama2.c checkpoints and .qlow containers. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_model_open(const char *cmd, const char *path, llm_model *m)
{
    char err[512];
    if (llm_model_load_llama2c(path, m, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    return 0;
}
