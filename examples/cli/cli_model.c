/* cli_model.c - opening model files for the CLI: llama2.c checkpoints and .qlow containers. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "quantize.h"

int cli_model_open(const char *cmd, const char *path, llm_model *m)
{
    char err[512];
    if (llm_model_load_llama2c(path, m, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    return 0;
}

int cli_model_save(const char *cmd, const llm_model *m, const llm_quant_opts *o, const char *src_path,
                   const char *path)
{
    (void)m, (void)o, (void)src_path, (void)path;
    cli_error(cmd, ".qlow output needs the io subsystem");
    return -1;
}
