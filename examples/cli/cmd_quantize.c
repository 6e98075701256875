/* cmd_quantize.c - `qlow quantize`. */
#include "cli.h"

int cmd_quantize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("quantize", "no quantization backend in this build yet");
    return CLI_FAIL;
}
