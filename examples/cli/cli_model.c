/* cli_model.c - opening and saving model files for the CLI. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model_io.h"
#include "quantize.h"

int cli_model_open(const char *cmd, const char *path, llm_model *m)
{
    char err[512];
    if (llm_model_load(path, m, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    return 0;
}

int cli_model_save(const char *cmd, const llm_model *m, const llm_quant_opts *o, const char *src_path,
                   const char *path)
{
    char err[512];
    llm_save_meta meta = {llm_method_names[o->method], o->bits ? (double)o->bits : o->budget, o->act_bits,
                          o->embed_bits, o->group};
    if (llm_model_save_qlow(m, src_path, &meta, path, err, sizeof err)) {
        cli_error(cmd, "%s", err);
        return -1;
    }
    return 0;
}
