/* ptq161_ppl.c - end-to-end check of the PTQ1.61 ablation on stories260K: every linear of the model is
 * quantized layer-wise (inputs from the full-precision model on 2048 TinyStories calibration tokens), then
 * the mean next-token NLL / perplexity is measured on 100 held-out paragraphs (400..499).
 * Usage: ptq161_ppl (from the repository root). Takes about half a minute of CPU. */
#include "ptq161_data.h"

/* NLL per token of held-out paragraphs with the model's weights as currently in m->mem. */
static double nll_eval(const pd_model *m, int first, int npara, long *ntok)
{
    char path[512];
    FILE *f = fopen(qt_path("data/tinystories_validation_head.txt", path, sizeof path), "rb");
    if (!f)
        return NAN;
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    const int d = m->dim, kvd = d * m->kv_heads / m->heads, h = m->hidden, hs = d / m->heads, L = m->layers;
    float *kc = calloc((size_t)L * m->seq_len * kvd, 4), *vc = calloc((size_t)L * m->seq_len * kvd, 4);
    float x[64], xb[64], q[64], att[512], xo[64], hb[256], hb2[256], logits[512];
    int *toks = malloc(4096 * sizeof(int));
    const float *rms_final = m->w3 + (size_t)L * h * d;
    double nll = 0;
    long n = 0;
    int para = 0;
    char *s = text;
    while (*s && para < first + npara) {
        char *e = strstr(s, "\n\n");
        if (e)
            *e = 0;
        if (para++ >= first && strlen(s) > 0) {
            int nt = pd_encode(m, s, toks, 4096);
            if (nt > m->seq_len)
                nt = m->seq_len;
            for (int pos = 0; pos + 1 < nt; pos++) {
                memcpy(x, m->emb + toks[pos] * d, (size_t)d * 4);
                for (int l = 0; l < L; l++) {
                    pd_rmsnorm(xb, x, m->rms_att + l * d, d);
                    float *kr = kc + ((size_t)l * m->seq_len + pos) * kvd,
                          *vr = vc + ((size_t)l * m->seq_len + pos) * kvd;
                    pd_matvec(q, xb, m->wq + (size_t)l * d * d, d, d);
                    pd_matvec(kr, xb, m->wk + (size_t)l * kvd * d, kvd, d);
                    pd_matvec(vr, xb, m->wv + (size_t)l * kvd * d, kvd, d);
                    for (int i = 0; i < d; i += 2) {
                        float fr = 1.0f / powf(10000.0f, (float)(i % hs) / (float)hs), val = pos * fr, c = cosf(val),
                              sn = sinf(val);
                        float q0 = q[i], q1 = q[i + 1];
                        q[i] = q0 * c - q1 * sn;
                        q[i + 1] = q0 * sn + q1 * c;
                        if (i < kvd) {
                            float k0 = kr[i], k1 = kr[i + 1];
                            kr[i] = k0 * c - k1 * sn;
                            kr[i + 1] = k0 * sn + k1 * c;
                        }
                    }
                    for (int hh = 0; hh < m->heads; hh++) {
                        int kvh = hh / (m->heads / m->kv_heads);
                        float mx = -1e30f;
                        for (int p2 = 0; p2 <= pos; p2++) {
                            const float *kk = kc + ((size_t)l * m->seq_len + p2) * kvd + kvh * hs;
                            float sc = 0;
                            for (int i = 0; i < hs; i++)
                                sc += q[hh * hs + i] * kk[i];
                            att[p2] = sc / sqrtf((float)hs);
                            if (att[p2] > mx)
                                mx = att[p2];
                        }
                        float sum = 0;
                        for (int p2 = 0; p2 <= pos; p2++) {
                            att[p2] = expf(att[p2] - mx);
                            sum += att[p2];
                        }
                        for (int i = 0; i < hs; i++) {
                            float acc = 0;
                            for (int p2 = 0; p2 <= pos; p2++)
                                acc += att[p2] / sum * vc[((size_t)l * m->seq_len + p2) * kvd + kvh * hs + i];
                            xb[hh * hs + i] = acc;
                        }
                    }
                    pd_matvec(xo, xb, m->wo + (size_t)l * d * d, d, d);
                    for (int i = 0; i < d; i++)
                        x[i] += xo[i];
                    pd_rmsnorm(xb, x, m->rms_ffn + l * d, d);
                    pd_matvec(hb, xb, m->w1 + (size_t)l * h * d, h, d);
                    pd_matvec(hb2, xb, m->w3 + (size_t)l * h * d, h, d);
                    for (int i = 0; i < h; i++)
                        hb[i] = hb[i] / (1.0f + expf(-hb[i])) * hb2[i];
                    pd_matvec(xo, hb, m->w2 + (size_t)l * d * h, d, h);
                    for (int i = 0; i < d; i++)
                        x[i] += xo[i];
                }
                pd_rmsnorm(xb, x, rms_final, d);
                pd_matvec(logits, xb, m->emb, m->vocab, d);
                float mx = -1e30f;
                for (int v = 0; v < m->vocab; v++)
                    if (logits[v] > mx)
                        mx = logits[v];
                double se = 0;
                for (int v = 0; v < m->vocab; v++)
                    se += exp(logits[v] - mx);
                nll += -(logits[toks[pos + 1]] - mx - log(se));
                n++;
            }
        }
        if (!e)
            break;
        s = e + 2;
    }
    free(kc);
    free(vc);
    free(toks);
    *ntok = n;
    return nll / n;
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
    float *orig = malloc(264128 * 4);
    memcpy(orig, m.mem, 264128 * 4);
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
        memcpy(m.mem, orig, 264128 * 4);
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
    pd_free(&m);
    return 0;
}
