/* test_plan.c - the bit-allocation planner against brute force (exact optimum on the grid, never over
 * budget off the grid, tied layers), Q-BERT's rule and Omega, and the sensitivity measures against
 * double references. */
#include "qtest.h"
#include "hessian_ref.h"

/* Best feasible cost by enumeration; returns INFINITY when nothing fits. */
static double brute(int L, int C, const double *size, const double *cost, const int32_t *tie, double budget)
{
    int total = 1;
    for (int l = 0; l < L; l++) total *= C;
    double best = INFINITY;
    for (int code = 0; code < total; code++) {
        int ch[8], x = code, ok = 1;
        for (int l = 0; l < L; l++) ch[l] = x % C, x /= C;
        for (int l = 0; l < L && ok; l++)
            for (int m = 0; m < l; m++)
                if (tie && tie[l] >= 0 && tie[l] == tie[m] && ch[l] != ch[m]) ok = 0;
        if (!ok) continue;
        double s = 0, c = 0;
        for (int l = 0; l < L; l++) s += size[l * C + ch[l]], c += cost[l * C + ch[l]];
        if (s <= budget && c < best) best = c;
    }
    return best;
}

static void test_planner_vs_brute_force(void)
{
    qlow_params *p = NULL;
    qlow_params_create(NULL, &p);
    int exact_ok = 0, exact_n = 0, over = 0, offgrid_n = 0, worse = 0, infeasible_ok = 0;
    for (int trial = 0; trial < 300; trial++) {
        int L = 2 + trial % 5, C = 2 + (trial / 5) % 3;
        double size[8 * 4], cost[8 * 4];
        int32_t tie[8], choice[8];
        int use_tie = trial % 3 == 0;
        for (int l = 0; l < L; l++) tie[l] = use_tie ? (int32_t)(ref_uniform() * 3) - 1 : -1;
        int on_grid = trial % 2 == 0;
        for (int l = 0; l < L; l++)
            for (int c = 0; c < C; c++) {
                /* larger choices cost more size and less sensitivity, like more bits */
                double bits = 2 + c + (on_grid ? 0 : ref_uniform() * 0.7);
                double n = on_grid ? (double)(1 + (int)(ref_uniform() * 4)) : 1.0 + ref_uniform() * 3;
                size[l * C + c] = on_grid ? bits * n : bits * n;
                cost[l * C + c] = ref_uniform() * 10.0 / (1 << c) + (c == 0 ? ref_uniform() : 0.0);
            }
        double lo = 0, hi = 0;
        for (int l = 0; l < L; l++) lo += size[l * C], hi += size[l * C + C - 1];
        double budget = on_grid ? floor(lo + (hi - lo) * ref_uniform()) : lo + (hi - lo) * ref_uniform();
        if (trial % 37 == 0) budget = lo * 0.5; /* infeasible */
        if (on_grid) qlow_params_set_int(p, QLOW_PLAN_BUDGET_UNITS, (int64_t)budget);
        else qlow_params_set_int(p, QLOW_PLAN_BUDGET_UNITS, 10000);
        double tc = 0, ts = 0, ref = brute(L, C, size, cost, use_tie ? tie : NULL, budget);
        for (int l = 0; l < L; l++) choice[l] = -5;
        qlow_status st = qlow_plan_solve(NULL, p, L, C, size, cost, use_tie ? tie : NULL, budget, choice, &tc, &ts);
        if (ref == INFINITY) {
            infeasible_ok += st == QLOW_E_NOT_FOUND && choice[0] == -5;
            if (!(st == QLOW_E_NOT_FOUND)) QT_CHECK(0, "trial %d: expected infeasible, got %d", trial, st);
            continue;
        }
        if (st != QLOW_OK) {
            if (on_grid) QT_CHECK(0, "trial %d on grid: status %d", trial, st);
            continue; /* off the grid rounding may make a tight budget infeasible */
        }
        double s = 0, c = 0;
        for (int l = 0; l < L; l++) s += size[l * C + choice[l]], c += cost[l * C + choice[l]];
        for (int l = 0; l < L; l++)
            for (int m = 0; m < l; m++)
                if (use_tie && tie[l] >= 0 && tie[l] == tie[m] && choice[l] != choice[m]) over++;
        if (s > budget) over++;
        QT_CHECK(fabs(s - ts) < 1e-9 && fabs(c - tc) < 1e-9, "reported totals");
        if (on_grid) {
            exact_n++;
            exact_ok += fabs(c - ref) < 1e-9;
            if (fabs(c - ref) >= 1e-9) QT_CHECK(0, "trial %d: cost %.12g vs brute force %.12g", trial, c, ref);
        } else {
            offgrid_n++;
            worse += c < ref - 1e-9; /* better than the optimum would be a bug */
        }
    }
    QT_CHECK(over == 0, "never over budget, ties kept (%d violations)", over);
    QT_CHECK(worse == 0, "never below the true optimum");
    QT_CHECK(exact_n > 100 && exact_ok == exact_n, "exact optimum on the grid: %d/%d", exact_ok, exact_n);
    QT_CHECK(infeasible_ok >= 1, "infeasible budgets reported");
    printf("INFO planner: %d/%d on-grid instances optimal, %d off-grid within budget\n", exact_ok, exact_n, offgrid_n);
    /* Errors. */
    double sz[2] = {1, 2}, co[2] = {1, NAN};
    int32_t ch[1];
    QT_CHECK_STATUS(qlow_plan_solve(NULL, p, 1, 2, sz, co, NULL, 5.0, ch, NULL, NULL), QLOW_E_NONFINITE);
    co[1] = 0.5;
    QT_CHECK_STATUS(qlow_plan_solve(NULL, p, 1, 2, sz, co, NULL, 0.0, ch, NULL, NULL), QLOW_E_INVALID_ARG);
    QT_CHECK_STATUS(qlow_plan_solve(NULL, p, 1, 0, sz, co, NULL, 5.0, ch, NULL, NULL), QLOW_E_SHAPE);
    co[1] = INFINITY; /* unavailable choice */
    QT_CHECK_OK(qlow_plan_solve(NULL, p, 1, 2, sz, co, NULL, 5.0, ch, NULL, NULL));
    QT_CHECK(ch[0] == 0, "unavailable choice skipped");
    size_t wsn = 0;
    QT_CHECK_OK(qlow_plan_solve_workspace_size(1, 2, p, &wsn));
    void *ws = malloc(wsn);
    QT_CHECK_STATUS(qlow_plan_solve_ws(p, 1, 2, sz, co, NULL, 5.0, ch, NULL, NULL, ws, wsn - 1),
                    QLOW_E_WORKSPACE_TOO_SMALL);
    free(ws);
    QT_CHECK_STATUS(qlow_params_set_int(p, QLOW_PLAN_BUDGET_UNITS, 0), QLOW_E_PARAM);
    qlow_params_destroy(p);
}

static void test_qbert_rule_and_omega(void)
{
    double lam[4] = {1.0, 3.0, 2.0, 2.0}, om = 0;
    QT_CHECK_OK(qlow_plan_qbert_omega(lam, 4, &om));
    QT_CHECK(fabs(om - (2.0 + sqrt(0.5))) < 1e-12, "omega %.12g", om);
    double neg[2] = {-4.0, -2.0};
    QT_CHECK_OK(qlow_plan_qbert_omega(neg, 2, &om));
    QT_CHECK(fabs(om - 4.0) < 1e-12, "omega of negative eigenvalues uses |mean|");
    double omega[5] = {0.5, 3.0, 1.0, 3.0, 0.1};
    int32_t bits[5];
    QT_CHECK_OK(qlow_plan_qbert_rule(5, omega, 0.4, 2, 3, bits));
    QT_CHECK(bits[1] == 3 && bits[3] == 3 && bits[0] == 2 && bits[2] == 2 && bits[4] == 2, "top 40%% get 3 bits");
    QT_CHECK_OK(qlow_plan_qbert_rule(5, omega, 0.6, 2, 4, bits));
    QT_CHECK(bits[2] == 4 && bits[0] == 2, "third by omega");
    QT_CHECK_STATUS(qlow_plan_qbert_rule(5, omega, 1.5, 2, 4, bits), QLOW_E_INVALID_ARG);
}

static void test_sensitivities(void)
{
    enum { N = 90, D = 24, R = 10 };
    float X[N * D], W[R * D], Wq[R * D];
    for (int i = 0; i < N * D; i++) X[i] = (float)ref_gauss();
    for (int i = 0; i < R * D; i++) W[i] = (float)ref_gauss(), Wq[i] = W[i] + (float)(0.1 * ref_gauss());
    qlow_ctx *ctx = NULL;
    qlow_ctx_create(NULL, &ctx);
    qlow_ctx_set_int(ctx, QLOW_CTX_NUM_THREADS, 2);
    qlow_hessian *h = NULL;
    qlow_hessian_create(NULL, D, QLOW_HESSIAN_FULL, &h);
    qlow_view vx, vw, vq;
    qlow_view_init_2d(&vx, QLOW_DTYPE_F32, N, D, X);
    qlow_view_init_2d(&vw, QLOW_DTYPE_F32, R, D, W);
    qlow_view_init_2d(&vq, QLOW_DTYPE_F32, R, D, Wq);
    qlow_hessian_add(ctx, h, &vx);
    /* Reference: 2/N ||(Wq - W) X^T||^2, sum_j H_jj ||dW_j||^2, trace/n * ||dW||^2. */
    double out_err = 0.0, dwsq = 0.0, diag_ref = 0.0, H[D * D];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < N; t++) {
            double s = 0.0;
            for (int j = 0; j < D; j++) s += ((double)Wq[r * D + j] - W[r * D + j]) * X[t * D + j];
            out_err += s * s;
        }
    ref_hessian(X, N, D, H);
    double tr = 0.0;
    for (int j = 0; j < D; j++) {
        double c = 0.0;
        for (int r = 0; r < R; r++) c += ((double)Wq[r * D + j] - W[r * D + j]) * ((double)Wq[r * D + j] - W[r * D + j]);
        diag_ref += H[j * D + j] * c;
        dwsq += c;
        tr += H[j * D + j];
    }
    double e = 0.0, dg = 0.0, hw = 0.0;
    float hd[D];
    QT_CHECK_OK(qlow_plan_layer_error(ctx, h, &vw, &vq, NULL, 0, &e));
    QT_CHECK(fabs(e - 2.0 * out_err / N) < 1e-5 * e, "layer error %.9g vs %.9g", e, 2.0 * out_err / N);
    size_t wsn = 0;
    QT_CHECK_OK(qlow_plan_layer_error_workspace_size(ctx, R, D, &wsn));
    double *ws = malloc(wsn), e2 = -1.0;
    QT_CHECK_STATUS(qlow_plan_layer_error(ctx, h, &vw, &vq, ws, wsn - 8, &e2), QLOW_E_WORKSPACE_TOO_SMALL);
    QT_CHECK(e2 == -1.0, "untouched");
    QT_CHECK_OK(qlow_plan_layer_error(ctx, h, &vw, &vq, ws, wsn, &e2));
    QT_CHECK(e2 == e, "caller workspace gives the same error");
    free(ws);
    qlow_hessian_diag(h, hd, D);
    QT_CHECK_OK(qlow_plan_diag_weighted(hd, D, &vw, &vq, &dg));
    QT_CHECK(fabs(dg - diag_ref) < 1e-5 * dg, "diag weighted %.9g vs %.9g", dg, diag_ref);
    QT_CHECK_OK(qlow_plan_hawq_v2(tr, R * D, &vw, &vq, &hw));
    QT_CHECK(fabs(hw - tr / (R * D) * dwsq) < 1e-9 * hw, "hawq v2");
    QT_CHECK_STATUS(qlow_plan_diag_weighted(hd, D - 1, &vw, &vq, &dg), QLOW_E_SHAPE);
    qlow_hessian_destroy(h);
    qlow_ctx_destroy(ctx);
}

int main(void)
{
    test_planner_vs_brute_force();
    test_qbert_rule_and_omega();
    test_sensitivities();
    return qt_finish();
}
