/* ptq161_ppl.c - end-to-end check of the PTQ1.61 ablation on stories260K: every linear of the model is
 * quantized layer-wise (inputs from the full-precision model on 2048 TinyStories calibration tokens), then
 * the mean next-token NLL / perplexity is measured on 100 held-out paragraphs (400..499).
 * Usage: ptq161_ppl (from the repository root). Takes about half a minute of CPU. */
#include "ptq161_data.h"

/* NLL per token of held-out paragraphs [first, first + npara) with the weights currently in m->blob. */
static double nll_eval(const pd_model *m, int first, int npara, long *ntok)
{
    char tpath[512], kpath[512];
    double nll = 0;
    int64_t n = 0;
    stories_run(m, qt_path("data/tinystories_validation_head.txt", tpath, sizeof tpath),
                qt_path("data/tok512.bin", kpath, sizeof kpath), first, npara, m->seq, INT64_MAX, NULL, &nll, &n);
    *ntok = (long)n;
    return n > 0 ? nll / (double)n : NAN;
}

int main(void)
{
    (void)qt_check_; /* qtest.h comes in with the data helpers; its harness is unused here */
    pd_model m;
    memset(&m, 0, sizeof m);
    if (pd_load(&m) != 0) {
        fprintf(stderr, "cannot load data/stories260K.bin\n");
        return 1;
    }
    pd_acts cal;
    pd_collect(&m, 0, 2048, &cal);
    const size_t nw = stories_floats(&m);
    float *orig = malloc(nw * sizeof(float));
    memcpy(orig, m.blob, nw * sizeof(float));
    long nt;
    double base = nll_eval(&m, 400, 100, &nt);
    printf("FP: nll %.4f ppl %.3f (%ld tokens)\n", base, exp(base), nt);
    qlow_ctx *ctx;
    qlow_ctx_create(NULL, &ctx);
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 1);
    qlow_params *pr;
    qlow_params_create(NULL, &pr);
    const char *names[] = {"RTN binarize all", "mask only",           "mask + scales",
                           "+ rank-8 restoration", "+ GPTQ", "BiLLM-style baseline"};
    for (int st = 0; st < 6; st++) {
        memcpy(m.blob, orig, nw * sizeof(float));
        for (int l = 0; l < m.layers; l++)
            for (int k = 0; k < PD_LINEARS; k++) {
                int rows, cols;
                const float *W = pd_weight(&m, l, k, &rows, &cols);
                qlow_params_reset(pr);
                if (st == 0)
                    qlow_params_set_float(pr, QLOW_MASK_RATIO, 0.0);
                if (st <= 1)
                    qlow_params_set_int(pr, QLOW_PTQ161_OPTIMIZE, 0);
                if (st == 3 || st == 4)
                    qlow_params_set_int(pr, QLOW_PTQ161_LOWRANK, 8);
                if (st == 4)
                    qlow_params_set_int(pr, QLOW_PTQ161_GPTQ, 1);
                qlow_view wv, xv;
                qlow_view_init_2d(&wv, QLOW_DTYPE_F32, rows, cols, (void *)(uintptr_t)W);
                qlow_view_init_2d(&xv, QLOW_DTYPE_F32, 2048, cols, cal.x[l][k]);
                float *Wh = malloc((size_t)rows * cols * 4);
                if (st == 5) {
                    pd_billm_style(W, rows, cols, cal.x[l][k], 2048, Wh);
                } else {
                    qlow_status s = qlow_ptq161_quantize_f32(ctx, pr, &wv, &xv, NULL, Wh, NULL, NULL);
                    if (s)
                        printf("fail %d\n", s);
                }
                memcpy((float *)(uintptr_t)W, Wh, (size_t)rows * cols * 4);
                free(Wh);
            }
        double v = nll_eval(&m, 400, 100, &nt);
        printf("%-24s nll %.4f ppl %.3f\n", names[st], v, exp(v));
    }
    qlow_params_destroy(pr);
    qlow_ctx_destroy(ctx);
    free(orig);
    pd_acts_free(&cal);
    stories_free(&m);
    return 0;
}
