/* test_engine_block.c - the block forward/backward used by block-wise reconstruction: gradients
 * dL/dW = dY^T X of every linear against central finite differences of the loss, on layer 1 of the
 * bundled model with perturbed weights and real token inputs. */
#include "qtest.h"

#include "../../examples/llama/block_grad.c"
#include "../../examples/llama/model_grad.c"
#include "../../examples/llama/llama.c"
#include "../../examples/llama/model_io.c"
#include "../../examples/llama/qlinear.c"

typedef struct grads {
    double *g[LLM_N_BLOCK_KINDS];
    int64_t rows[LLM_N_BLOCK_KINDS], cols[LLM_N_BLOCK_KINDS];
} grads;

static int collect(void *user, int kind, const float *dY, const float *X, int T, int64_t rows, int64_t cols)
{
    grads *g = user;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            double s = 0.0;
            for (int t = 0; t < T; t++) s += (double)dY[t * rows + r] * X[t * cols + c];
            g->g[kind][r * cols + c] += s;
        }
    return 0;
}

typedef struct layer0_grads {
    grads *g;
    int layer;
} layer0_grads;

static int collect_layer0(void *user, int layer, int kind, const float *dY, const float *X, int T, int64_t rows,
                          int64_t cols)
{
    layer0_grads *lg = user;
    if (layer != lg->layer) return 0;
    return collect(lg->g, kind, dY, X, T, rows, cols);
}

int main(void)
{
    char p[512], err[256];
    llm_model m;
    int ok = llm_model_load_checkpoint(qt_path("data/stories260K.bin", p, sizeof p), &m, err, sizeof err) == 0;
    QT_CHECK(ok, "load: %s", err);
    if (!ok) return qt_finish();
    const llm_config *c = &m.cfg;
    const int T = 12, D = c->dim;
    const int toks[12] = {1, 403, 407, 261, 378, 432, 383, 286, 300, 290, 270, 265};
    float *x = malloc((size_t)T * D * sizeof(float)), *target = malloc((size_t)T * D * sizeof(float));
    for (int t = 0; t < T; t++) memcpy(x + t * D, m.tok_embedding + (size_t)toks[t] * D, D * sizeof(float));
    const llm_layer *L = &m.layers[1];
    llm_block_weights bw = {{0}, L->rms_att, L->rms_ffn};
    float *pert[LLM_N_BLOCK_KINDS];
    grads g;
    uint64_t rng = 99;
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
        int64_t n = L->lin[k].rows * L->lin[k].cols;
        bw.w[k] = L->lin[k].w;
        pert[k] = malloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            double noise = ((double)(rng >> 11) / 9007199254740992.0 - 0.5) * 0.05;
            pert[k][i] = L->lin[k].w[i] * (float)(1.0 + noise);
        }
        g.g[k] = calloc((size_t)n, sizeof(double));
        g.rows[k] = L->lin[k].rows;
        g.cols[k] = L->lin[k].cols;
    }
    double loss0;
    memset(target, 0, (size_t)T * D * sizeof(float));
    QT_CHECK(llm_block_loss_grad(c, &bw, x, target, T, 0.0, &loss0, target, NULL, NULL) == 0, "forward");
    /* The target is the exact block's output; now move to the perturbed weights. */
    QT_CHECK(llm_block_loss_grad(c, &bw, x, target, T, 1.0, &loss0, NULL, NULL, NULL) == 0, "self loss");
    QT_CHECK(fabs(loss0) < 1e-9, "loss against its own output %g", loss0);
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) bw.w[k] = pert[k];
    double loss;
    QT_CHECK(llm_block_loss_grad(c, &bw, x, target, T, 1.0, &loss, NULL, collect, &g) == 0, "grad");
    QT_CHECK(loss > 1e-6, "perturbed loss %g", loss);
    double worst = 0.0;
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
        for (int trial = 0; trial < 6; trial++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            int64_t i = (int64_t)((rng >> 20) % (uint64_t)(g.rows[k] * g.cols[k]));
            float w0 = pert[k][i];
            float hp = w0 + 1e-3f, hm = w0 - 1e-3f;
            double lp = 0.0, lm = 0.0;
            pert[k][i] = hp;
            llm_block_loss_grad(c, &bw, x, target, T, 1.0, &lp, NULL, NULL, NULL);
            pert[k][i] = hm;
            llm_block_loss_grad(c, &bw, x, target, T, 1.0, &lm, NULL, NULL, NULL);
            pert[k][i] = w0;
            double fd = (lp - lm) / ((double)hp - (double)hm), an = g.g[k][i];
            double rel = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-7);
            if (rel > worst) worst = rel;
            QT_CHECK(rel < 1e-3, "%s[%lld]: analytic %.8g, finite difference %.8g", llm_kind_names[k], (long long)i,
                     an, fd);
        }
    }
    /* Whole-model cross-entropy gradients (through every block's dX) against finite differences. */
    {
        grads mg;
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
            mg.rows[k] = L->lin[k].rows;
            mg.cols[k] = L->lin[k].cols;
            mg.g[k] = calloc((size_t)(mg.rows[k] * mg.cols[k]), sizeof(double));
        }
        layer0_grads lg0 = {&mg, 0};
        double base;
        QT_CHECK(llm_model_grads(&m, toks, T, &base, collect_layer0, &lg0) == 0, "model grads");
        QT_CHECK(base > 0.5 && base < 10.0, "cross-entropy %g", base);
        double mworst = 0.0;
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++)
            for (int trial = 0; trial < 3; trial++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                int64_t i = (int64_t)((rng >> 20) % (uint64_t)(mg.rows[k] * mg.cols[k]));
                float *w = (float *)(uintptr_t)m.layers[0].lin[k].w;
                float w0 = w[i], hp = w0 + 2e-2f, hm = w0 - 2e-2f;
                double lp = 0.0, lm = 0.0;
                w[i] = hp;
                llm_model_grads(&m, toks, T, &lp, NULL, NULL);
                w[i] = hm;
                llm_model_grads(&m, toks, T, &lm, NULL, NULL);
                w[i] = w0;
                double fd = (lp - lm) / ((double)hp - (double)hm), an = mg.g[k][i];
                double rel = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-6);
                if (rel > mworst) mworst = rel;
                QT_CHECK(rel < 2e-3, "model grad %s[%lld]: analytic %.8g, finite difference %.8g", llm_kind_names[k],
                         (long long)i, an, fd);
            }
        printf("INFO model cross-entropy gradient (layer 0) vs finite differences: worst relative error %.2e\n", mworst);
        for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) free(mg.g[k]);
    }
    printf("INFO block gradient vs finite differences: worst relative error %.2e (loss %.6g)\n", worst, loss);
    for (int k = 0; k < LLM_N_BLOCK_KINDS; k++) {
        free(pert[k]);
        free(g.g[k]);
    }
    free(x);
    free(target);
    llm_model_free(&m);
    return qt_finish();
}
