/* test_plan_stories.c - Q-BERT style mixed precision on the real stories260K model: per-matrix layer
 * Hessians from TinyStories activations (top eigenvalue, trace, Omega over calibration subsets), GPTQ at
 * 2/3/4/8 bits, the planner at average budgets of 2.5 and 3 bits per weight, and the check that the
 * planned mixed assignment has a lower Hessian-weighted output error than uniform 3-bit at the same size
 * (on the calibration tokens and on held-out tokens), and is no worse than Q-BERT's sort-by-Omega rule. */
#include "qtest.h"
#include "stories_forward.h"

enum { NCAL = 1024, NHOLD = 512, NSUB = 4, NB = 4, NMAT = 35 };
static const int bit_choices[NB] = {2, 3, 4, 8};

int main(void)
{
    char path[512], tpath[512], kpath[512];
    stories m;
    if (stories_load(&m, qt_path("data/stories260K.bin", path, sizeof(path))) != 0) {
        QT_CHECK(0, "load stories260K");
        return qt_finish();
    }
    float *cal[5][ST_SITES], *hold[5][ST_SITES];
    for (int l = 0; l < m.layers; l++)
        for (int s = 0; s < ST_SITES; s++) {
            size_t w = (size_t)(s == ST_SITE_W2 ? m.hidden : m.dim);
            cal[l][s] = malloc(sizeof(float) * NCAL * w);
            hold[l][s] = malloc(sizeof(float) * NHOLD * w);
        }
    qt_path("data/tinystories_validation_head.txt", tpath, sizeof(tpath));
    qt_path("data/tok512.bin", kpath, sizeof(kpath));
    int64_t nc = stories_calibrate(&m, tpath, kpath, 0, 128, NCAL, cal);
    int64_t nh = stories_calibrate(&m, tpath, kpath, 200, 128, NHOLD, hold);
    QT_CHECK(nc == NCAL && nh == NHOLD, "tokens %lld / %lld", (long long)nc, (long long)nh);

    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    /* Matrices are tiny: one thread. */
    /* One accumulator per distinct layer input (q/k/v and w1/w3 share theirs), calibration and held-out. */
    qlow_hessian *hc[5][ST_SITES], *hh[5][ST_SITES];
    double top[5][ST_SITES], trace[5][ST_SITES], omega[5][ST_SITES];
    for (int l = 0; l < m.layers; l++)
        for (int s = 0; s < ST_SITES; s++) {
            int w = s == ST_SITE_W2 ? m.hidden : m.dim;
            qlow_view v;
            qlow_hessian_create(NULL, w, QLOW_HESSIAN_FULL, &hc[l][s]);
            qlow_hessian_create(NULL, w, QLOW_HESSIAN_FULL, &hh[l][s]);
            qlow_view_init_2d(&v, QLOW_DTYPE_F32, nc, w, cal[l][s]);
            QT_CHECK_OK(qlow_hessian_add(ctx, hc[l][s], &v));
            qlow_view_init_2d(&v, QLOW_DTYPE_F32, nh, w, hold[l][s]);
            QT_CHECK_OK(qlow_hessian_add(ctx, hh[l][s], &v));
            QT_CHECK_OK(qlow_hessian_top_eigen(ctx, hc[l][s], 1e-6, 1000, NULL, 0, &top[l][s], NULL));
            QT_CHECK_OK(qlow_hessian_trace(hc[l][s], &trace[l][s]));
            /* Omega over NSUB disjoint calibration subsets (Q-BERT's repeated 10% runs). */
            double lam[NSUB];
            for (int k = 0; k < NSUB; k++) {
                qlow_hessian *sub = NULL;
                qlow_hessian_create(NULL, w, QLOW_HESSIAN_FULL, &sub);
                qlow_view_init_2d(&v, QLOW_DTYPE_F32, nc / NSUB, w, cal[l][s] + (size_t)k * (nc / NSUB) * w);
                qlow_hessian_add(ctx, sub, &v);
                QT_CHECK_OK(qlow_hessian_top_eigen(ctx, sub, 1e-6, 1000, NULL, 0, &lam[k], NULL));
                qlow_hessian_destroy(sub);
            }
            QT_CHECK_OK(qlow_plan_qbert_omega(lam, NSUB, &omega[l][s]));
        }

    /* Per matrix and bit width: size (bits, metadata included) and GPTQ layer error tr(dW H dW^T). */
    double size[NMAT * NB], cost[NMAT * NB], hold_cost[NMAT * NB], weights_total = 0.0;
    int32_t tie[NMAT];
    double mat_omega[NMAT];
    float *deq[NMAT][NB];
    for (int l = 0; l < m.layers; l++)
        for (int k = 0; k < 7; k++) {
            int idx = l * 7 + k, R, C, site;
            const float *W = stories_matrix(&m, l, k, &R, &C, &site);
            qlow_view vw;
            qlow_view_init_2d(&vw, QLOW_DTYPE_F32, R, C, NULL);
            vw.data = (void *)(uintptr_t)W;
            tie[idx] = k == 4 || k == 6 ? l : -1; /* w1 and w3 of a layer share one width */
            mat_omega[idx] = omega[l][site];
            weights_total += (double)R * C;
            for (int b = 0; b < NB; b++) {
                float *Q = deq[idx][b] = malloc(sizeof(float) * R * C);
                qlow_params *p = NULL;
                qlow_params_create(NULL, &p);
                qlow_params_set_int(p, QLOW_P_BITS, bit_choices[b]);
                qlow_qmatrix *qm = NULL;
                QT_CHECK_OK(qlow_gptq_quantize(ctx, p, &vw, hc[l][site], &qm));
                double bpw = 0.0;
                qlow_qmatrix_bits_per_weight(qm, &bpw);
                qlow_qmatrix_dequantize(qm, 0, R, Q, (size_t)R * C);
                qlow_view vq;
                qlow_view_init_2d(&vq, QLOW_DTYPE_F32, R, C, Q);
                size[idx * NB + b] = bpw * R * C;
                QT_CHECK_OK(qlow_plan_layer_error(ctx, hc[l][site], &vw, &vq, NULL, 0, &cost[idx * NB + b]));
                QT_CHECK_OK(qlow_plan_layer_error(ctx, hh[l][site], &vw, &vq, NULL, 0, &hold_cost[idx * NB + b]));
                qlow_qmatrix_destroy(qm);
                qlow_params_destroy(p);
            }
        }
    double uni2 = 0, uni3 = 0, uni3_cost = 0, uni3_hold = 0;
    for (int i = 0; i < NMAT; i++) {
        uni2 += size[i * NB + 0];
        uni3 += size[i * NB + 1];
        uni3_cost += cost[i * NB + 1];
        uni3_hold += hold_cost[i * NB + 1];
    }
    const double budgets[2] = {0.5 * (uni2 + uni3), uni3}; /* nominal 2.5 and 3 bits per weight */
    int32_t choice[2][NMAT];
    double plan_cost[2], plan_size[2];
    qlow_params *pp = NULL;
    qlow_params_create(NULL, &pp);
    for (int bi = 0; bi < 2; bi++) {
        QT_CHECK_OK(qlow_plan_solve(NULL, pp, NMAT, NB, size, cost, tie, budgets[bi], choice[bi], &plan_cost[bi],
                                    &plan_size[bi]));
        QT_CHECK(plan_size[bi] <= budgets[bi], "budget %d kept: %.0f <= %.0f", bi, plan_size[bi], budgets[bi]);
        for (int l = 0; l < m.layers; l++) QT_CHECK(choice[bi][l * 7 + 4] == choice[bi][l * 7 + 6], "w1/w3 tied");
    }
    double hold_mixed = 0;
    for (int i = 0; i < NMAT; i++) hold_mixed += hold_cost[i * NB + choice[1][i]];
    /* Q-BERT's rule at the same size: the largest top-Omega fraction at 4 bits (rest 2) that fits. */
    double qb_cost = INFINITY, qb_frac = 0;
    for (int nhigh = NMAT; nhigh >= 0; nhigh--) {
        int32_t bits[NMAT];
        qlow_plan_qbert_rule(NMAT, mat_omega, (double)nhigh / NMAT, 2, 4, bits);
        double s = 0, c = 0;
        for (int i = 0; i < NMAT; i++) {
            int b = bits[i] == 4 ? 2 : 0;
            s += size[i * NB + b];
            c += cost[i * NB + b];
        }
        if (s <= budgets[1]) {
            qb_cost = c;
            qb_frac = (double)nhigh / NMAT;
            break;
        }
    }
    printf("INFO stories260K %lld calibration / %lld held-out tokens, %.0f weights; GPTQ per-row groups, candidates 2/3/4/8 bits\n",
           (long long)nc, (long long)nh, weights_total);
    for (int bi = 0; bi < 2; bi++) {
        char line[256];
        int o = 0;
        for (int l = 0; l < m.layers; l++) {
            o += snprintf(line + o, sizeof(line) - (size_t)o, "%sL%d:", l ? " " : "", l);
            for (int k = 0; k < 7; k++) o += snprintf(line + o, sizeof(line) - (size_t)o, "%d", bit_choices[choice[bi][l * 7 + k]] % 10);
        }
        printf("INFO plan budget %.1f nominal bits/weight (%.3f stored bits/weight): size %.3f bits/weight, summed layer error %.6g; bits (wq wk wv wo w1 w2 w3, 8 printed as 8) %s\n",
               bi ? 3.0 : 2.5, budgets[bi] / weights_total, plan_size[bi] / weights_total, plan_cost[bi], line);
    }
    printf("INFO uniform 3-bit: size %.3f bits/weight, summed layer error %.6g (held-out %.6g); mixed at the same size: %.6g (held-out %.6g), %.1f%% lower\n",
           uni3 / weights_total, uni3_cost, uni3_hold, plan_cost[1], hold_mixed, 100.0 * (1.0 - plan_cost[1] / uni3_cost));
    printf("INFO Q-BERT rule (top %.0f%% by Omega at 4 bits, rest 2) at the same size: summed layer error %.6g\n",
           100.0 * qb_frac, qb_cost);
    QT_CHECK(plan_cost[1] < uni3_cost, "mixed %.6g beats uniform 3-bit %.6g", plan_cost[1], uni3_cost);
    QT_CHECK(hold_mixed < uni3_hold, "mixed beats uniform 3-bit on held-out tokens too: %.6g vs %.6g", hold_mixed, uni3_hold);
    QT_CHECK(plan_cost[1] <= qb_cost, "planner no worse than Q-BERT's rule");
    /* End to end: next-token NLL of held-out text with every matrix replaced by its GPTQ version. */
    {
        int32_t uni3c[NMAT], qbc[NMAT], bits[NMAT];
        qlow_plan_qbert_rule(NMAT, mat_omega, qb_frac, 2, 4, bits);
        for (int i = 0; i < NMAT; i++) uni3c[i] = 1, qbc[i] = bits[i] == 4 ? 2 : 0;
        const int32_t *configs[4] = {NULL, uni3c, choice[1], qbc};
        const char *names[4] = {"fp32", "uniform 3-bit", "planned mixed (3.0 budget)", "Q-BERT rule"};
        /* the matrices are overwritten in place and the original weights restored after each run */
        const size_t nw = stories_floats(&m);
        float *orig = malloc(nw * sizeof(float));
        memcpy(orig, m.blob, nw * sizeof(float));
        for (int cfg = 0; cfg < 4; cfg++) {
            if (configs[cfg])
                for (int l = 0; l < m.layers; l++)
                    for (int k = 0; k < 7; k++) {
                        int R, C, site;
                        float *dst = (float *)(uintptr_t)stories_matrix(&m, l, k, &R, &C, &site);
                        memcpy(dst, deq[l * 7 + k][configs[cfg][l * 7 + k]], sizeof(float) * R * C);
                    }
            double nll = 0.0;
            int64_t scored = 0;
            stories_run(&m, tpath, kpath, 300, 0, 128, 2048, NULL, &nll, &scored);
            memcpy(m.blob, orig, nw * sizeof(float));
            printf("INFO held-out next-token NLL (%lld tokens, 1 BOS-led paragraph per sequence): %-28s %.4f nats (ppl %.3f)\n",
                   (long long)scored, names[cfg], nll / scored, exp(nll / scored));
        }
        free(orig);
    }
    for (int l = 0; l < m.layers; l++)
        for (int k = 0; k < 7; k++) {
            int R, C, site, idx = l * 7 + k;
            stories_matrix(&m, l, k, &R, &C, &site);
            printf("INFO L%d %-2s [%3dx%3d] top eig %9.4f trace %10.4f Omega %9.4f | layer error 2b %.4g 3b %.4g 4b %.4g 8b %.3g | plan 2.5: %d bits, 3.0: %d bits\n",
                   l, stories_matrix_names[k], R, C, top[l][site], trace[l][site], omega[l][site], cost[idx * NB],
                   cost[idx * NB + 1], cost[idx * NB + 2], cost[idx * NB + 3], bit_choices[choice[0][idx]],
                   bit_choices[choice[1][idx]]);
        }
    qlow_params_destroy(pp);
    for (int i = 0; i < NMAT; i++)
        for (int b = 0; b < NB; b++) free(deq[i][b]);
    for (int l = 0; l < m.layers; l++)
        for (int s = 0; s < ST_SITES; s++) {
            qlow_hessian_destroy(hc[l][s]);
            qlow_hessian_destroy(hh[l][s]);
            free(cal[l][s]);
            free(hold[l][s]);
        }
    stories_free(&m);
    qlow_ctx_destroy(ctx);
    return qt_finish();
}
