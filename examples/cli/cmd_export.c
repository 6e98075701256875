/* cmd_export.c - `qlow export`: a fake-quant checkpoint (dequantized weights in the source checkpoint's
 * format, for external evaluators) or a GGUF file for llama.cpp whose block values libqlow chooses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "cli.h"

static void help(void)
{
    puts("usage: qlow export --dequant MODEL.qlow --source CHECKPOINT -o OUT [--format F]\n"
         "       qlow export --gguf TYPE MODEL -o OUT.gguf [options]\n"
         "\n"
         "--dequant: write the .qlow's dequantized weights back into its source checkpoint's format; every\n"
         "tensor that was not quantized (header, norms, RoPE tables, fp32 embedding) is copied byte for byte.\n"
         "  --source FILE       the llama2.c .bin or safetensors file the .qlow was made from (its SHA-256\n"
         "                      must match the one the .qlow records, unless --force)\n"
         "  --format F          source (default), llama2c, safetensors (F32) or safetensors-f16\n"
         "\n"
         "--gguf TYPE: GGUF v3 for llama.cpp. TYPE: q8_0 q6_k q5_1 q5_0 q5_k q4_1 q4_0 q4_k iq4_nl q3_k q2_k\n"
         "tq2_0 tq1_0 f16 f32 (k-quants and tq need rows of 256).\n"
         "MODEL is a checkpoint or a .qlow (its packed matrices are dequantized first, so libqlow's GPTQ /\n"
         "mixed-precision values are what gets stored). Matrices whose rows fit no block of TYPE fall back\n"
         "as llama.cpp does (TQ -> Q4_0, Q2_K/Q3_K -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0;\n"
         "then F16 when no 32-block fits).\n"
         "  --calib FILE        calibration text: importance (mean x^2 per input column) for the search\n"
         "  --calib-tokens N    calibration positions (default 4096)\n"
         "  --calib-window W    calibration window length (default 256)\n"
         "  --tokenizer FILE    tokenizer .bin (default: next to the model, or data/)\n"
         "  --rtn               ggml's own round-to-nearest rule instead of libqlow's search\n"
         "  --embed-type T      type of token_embd / output (default f32)\n"
         "  --threads N         threads (default 1)");
}

static int is_qlow(const char *path)
{
    unsigned char head[5] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    return got == sizeof head && !memcmp(head, "\x89QLOW", 5);
}

static int fail(const char *cmd, const char *what, const char *path, qlow_status s)
{
    cli_error(cmd, "%s '%s': %s", what, path, qlow_status_string(s));
    return CLI_FAIL;
}

static int source_matches(const qlow_qfile *qf, const qlow_model *src)
{
    size_t idx, size;
    int32_t type;
    const void *value;
    uint8_t digest[32];
    if (qlow_qfile_meta_find(qf, "source.sha256", &idx) != QLOW_OK) return 1; /* nothing recorded */
    if (qlow_qfile_meta_info(qf, idx, NULL, &type, &value, &size) || type != QLOW_META_BYTES || size != 32) return 0;
    return qlow_model_sha256(src, digest) == QLOW_OK && !memcmp(digest, value, 32);
}

static int run_dequant(const char *C, const char *in, const char *src_path, const char *out, int format, int force,
                       qlow_ctx *ctx)
{
    qlow_qfile *qf = NULL;
    qlow_model *src = NULL;
    qlow_params *p = NULL;
    qlow_status s;
    int rc = CLI_FAIL;
    if ((s = qlow_qfile_open(in, NULL, NULL, &qf))) return fail(C, "cannot open", in, s);
    if ((s = qlow_model_open(src_path, NULL, NULL, &src))) {
        rc = fail(C, "cannot open", src_path, s);
        goto done;
    }
    if (!force && !source_matches(qf, src)) {
        cli_error(C, "'%s' is not the checkpoint '%s' was made from (SHA-256 differs; --force to override)", src_path, in);
        goto done;
    }
    if ((s = qlow_params_create(NULL, &p)) || (s = qlow_params_set_int(p, QLOW_PARAM_EXPORT_FORMAT, format)) ||
        (s = qlow_export_dequant(ctx, p, qf, src, out))) {
        rc = fail(C, "cannot export to", out, s);
        goto done;
    }
    printf("wrote %s (dequantized weights of %s in the format of %s)\n", out, in, src_path);
    rc = CLI_OK;
done:
    qlow_params_destroy(p);
    qlow_model_close(src);
    qlow_qfile_close(qf);
    return rc;
}

/* Importance from calibration activations: mean x^2 per input column of each weight matrix. */
typedef struct imp_ctx {
    const llm_calib *calib;
} imp_ctx;

static int importance_from_calib(void *user, const char *name, int64_t cols, float *out)
{
    const imp_ctx *ic = (const imp_ctx *)user;
    int layer, pos = 0;
    if (sscanf(name, "layers.%d.%n", &layer, &pos) != 1 || !pos) return 0;
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
        char want[64];
        static const char *canon[7] = {"attention.wq", "attention.wk", "attention.wv", "attention.wo",
                                       "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"};
        snprintf(want, sizeof want, "%s", canon[k]);
        if (strcmp(name + pos, want)) continue;
        int64_t rows, c;
        const float *x = llm_calib_input(ic->calib, layer, k, &rows, &c);
        if (!x || c != cols || rows < 1) return 0;
        for (int64_t j = 0; j < cols; j++) {
            double s = 0;
            for (int64_t r = 0; r < rows; r++) s += (double)x[r * cols + j] * x[r * cols + j];
            out[j] = (float)(s / (double)rows);
        }
        return 1;
    }
    return 0;
}

int cmd_export(int argc, char **argv)
{
    const char *C = "export", *in = NULL, *out = NULL, *src_path = NULL, *gguf_type = NULL, *tok_path = NULL;
    const char *calib_path = NULL, *embed = "f32", *fmt = "source", *pos;
    int dequant = 0, rtn = 0, force = 0, r;
    long threads = 1, calib_tokens = 4096, calib_window = 256;
    cli_args a;
    cli_args_init(&a, C, argc, argv);
    while ((r = cli_args_next(&a, &pos)) > 0) {
        if (r == 2) {
            if (in) {
                cli_error(C, "unexpected argument '%s'", pos);
                return CLI_USAGE;
            }
            in = pos;
            continue;
        }
        if (!strcmp(a.name, "help") || !strcmp(a.name, "h")) {
            help();
            return CLI_OK;
        }
        if (!strcmp(a.name, "dequant")) { dequant = 1; continue; }
        if (!strcmp(a.name, "rtn")) { rtn = 1; continue; }
        if (!strcmp(a.name, "force")) { force = 1; continue; }
        const char *v = cli_args_value(&a);
        if (!v) return CLI_USAGE;
        if (!strcmp(a.name, "o") || !strcmp(a.name, "output")) out = v;
        else if (!strcmp(a.name, "gguf")) gguf_type = v;
        else if (!strcmp(a.name, "source")) src_path = v;
        else if (!strcmp(a.name, "format")) fmt = v;
        else if (!strcmp(a.name, "calib")) calib_path = v;
        else if (!strcmp(a.name, "tokenizer")) tok_path = v;
        else if (!strcmp(a.name, "embed-type")) embed = v;
        else if (!strcmp(a.name, "threads")) { if (cli_parse_int(C, a.name, v, 1, 1024, &threads)) return CLI_USAGE; }
        else if (!strcmp(a.name, "calib-tokens")) { if (cli_parse_int(C, a.name, v, 1, 1L << 24, &calib_tokens)) return CLI_USAGE; }
        else if (!strcmp(a.name, "calib-window")) { if (cli_parse_int(C, a.name, v, 2, 1 << 20, &calib_window)) return CLI_USAGE; }
        else {
            cli_error(C, "unknown option --%s (try 'qlow export --help')", a.name);
            return CLI_USAGE;
        }
    }
    if (r < 0) return CLI_USAGE;
    if (dequant == !!gguf_type || !in || !out) {
        cli_error(C, "give exactly one of --dequant / --gguf TYPE, a MODEL and -o OUT (try 'qlow export --help')");
        return CLI_USAGE;
    }
    qlow_ctx *ctx = NULL;
    if (qlow_ctx_create(NULL, &ctx) || qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, threads)) {
        qlow_ctx_destroy(ctx);
        cli_error(C, "cannot create a context");
        return CLI_FAIL;
    }
    int rc = CLI_FAIL;
    if (dequant) {
        static const char *formats[4] = {"source", "llama2c", "safetensors", "safetensors-f16"};
        int f = -1;
        for (int k = 0; k < 4; k++)
            if (!strcmp(fmt, formats[k])) f = k;
        if (f < 0 || !src_path) {
            cli_error(C, f < 0 ? "unknown --format '%s'" : "--dequant needs --source CHECKPOINT%s", f < 0 ? fmt : "");
            rc = CLI_USAGE;
        } else {
            rc = run_dequant(C, in, src_path, out, f, force, ctx);
        }
        qlow_ctx_destroy(ctx);
        return rc;
    }

    int32_t type, etype;
    if (qlow_ggml_type_from_name(gguf_type, &type) || qlow_ggml_type_from_name(embed, &etype)) {
        cli_error(C, "unknown ggml type '%s' (try 'qlow export --help')", qlow_ggml_type_from_name(gguf_type, &type) ? gguf_type : embed);
        qlow_ctx_destroy(ctx);
        return CLI_USAGE;
    }
    qlow_model *model = NULL;
    qlow_qfile *qf = NULL;
    qlow_tokenizer *tok = NULL;
    qlow_params *p = NULL;
    llm_model em;
    llm_calib calib;
    memset(&em, 0, sizeof em);
    memset(&calib, 0, sizeof calib);
    imp_ctx ic = {&calib};
    char *text = NULL;
    qlow_status s;
    int64_t vocab = 0;
    int qlow_in = is_qlow(in);
    s = qlow_in ? qlow_qfile_open(in, NULL, NULL, &qf) : qlow_model_open(in, NULL, NULL, &model);
    if (s) {
        rc = fail(C, "cannot open", in, s);
        goto done;
    }
    if (qf ? qlow_qfile_meta_get_int(qf, "model.vocab_size", &vocab) : qlow_model_get_int(model, QLOW_MODEL_VOCAB_SIZE, &vocab)) {
        cli_error(C, "'%s' does not say its vocabulary size", in);
        goto done;
    }
    if (!(tok = cli_tokenizer_open(C, tok_path, in, (int)vocab))) goto done;
    if (calib_path) {
        size_t len;
        char err[512];
        cli_progress pr;
        if (!(text = cli_read_file(C, calib_path, &len)) || cli_model_open(C, in, &em)) goto done;
        cli_progress_init(&pr, "calibrating");
        int e = llm_calib_run(&em, ctx, tok, text, len, (int)calib_window, calib_tokens, &calib, cli_progress_cb, &pr,
                              err, sizeof err);
        cli_progress_end(&pr);
        if (e) {
            cli_error(C, "%s", err);
            goto done;
        }
    }
    if ((s = qlow_params_create(NULL, &p)) || (s = qlow_params_set_int(p, QLOW_PARAM_EXPORT_GGUF_SEARCH, !rtn)) ||
        (s = qlow_params_set_int(p, QLOW_PARAM_EXPORT_GGUF_EMBED_TYPE, etype)) ||
        (s = qlow_export_gguf(ctx, p, model, qf, tok, type, calib_path ? importance_from_calib : NULL, &ic, out))) {
        rc = fail(C, "cannot export to", out, s);
        goto done;
    }
    printf("wrote %s (%s%s%s)\n", out, qlow_ggml_type_name(type), rtn ? ", ggml RTN rule" : ", libqlow search",
           calib_path ? ", calibrated importance" : "");
    rc = CLI_OK;
done:
    free(text);
    llm_calib_free(&calib);
    llm_model_free(&em);
    qlow_params_destroy(p);
    qlow_tokenizer_close(tok);
    qlow_qfile_close(qf);
    qlow_model_close(model);
    qlow_ctx_destroy(ctx);
    return rc;
}
