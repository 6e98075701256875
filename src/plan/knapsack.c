/* knapsack.c - exact multiple-choice knapsack for bit allocation: one choice per layer (tied layers
 * share one), minimizing the summed sensitivity cost under a size budget, by dynamic programming on a
 * discretized budget.
 *
 * Discretization: the budget is cut into U = QLOW_PLAN_BUDGET_UNITS units of u = budget / U (u nudged
 * down until U * u <= budget), and every size is rounded UP to k = ceil(size / u) units (checked so that
 * k * u >= size). A plan whose units fit (sum k <= U) therefore has sum size <= sum k u <= U u <= budget:
 * the budget is never exceeded. When every size is a multiple of u the rounding is exact and the DP
 * returns the true optimum; otherwise it is optimal among plans whose rounded sizes fit, and can only
 * leave less than (number of items) * u of the budget unused. */
#include "core/internal.h"

#include <math.h>

typedef struct item_tables {
    int32_t items;
    int32_t *item_of;   /* layer -> item */
    int64_t *units;     /* items x choices */
    double *cost;       /* items x choices, +inf = unavailable */
} item_tables;

static qlow_status ws_layout(int32_t L, int32_t C, int64_t U, size_t *sizes /* 6 */)
{
    size_t lc, b1, tab;
    QLOW_TRY(qlow__mul_size((size_t)L, (size_t)C, &lc));
    QLOW_TRY(qlow__add_size((size_t)U, 1, &b1));
    sizes[0] = (size_t)L * sizeof(int32_t);              /* item_of */
    QLOW_TRY(qlow__mul_size(lc, sizeof(int64_t), &sizes[1])); /* units */
    QLOW_TRY(qlow__mul_size(lc, sizeof(double), &sizes[2]));  /* cost */
    QLOW_TRY(qlow__mul_size(b1, sizeof(double), &sizes[3]));  /* dp */
    sizes[4] = sizes[3];                                       /* dp next */
    QLOW_TRY(qlow__mul_size((size_t)L, b1, &tab));             /* choice table, one byte per cell */
    sizes[5] = tab;
    return QLOW_OK;
}

qlow_status qlow_plan_solve_workspace_size(int32_t n_layers, int32_t n_choices, const qlow_params *params,
                                           size_t *bytes)
{
    if (!bytes) return QLOW_E_NULL_POINTER;
    if (n_layers < 1 || n_choices < 1 || n_choices > 255) return QLOW_E_SHAPE;
    int64_t U = qlow__param_int(params, QLOW_PLAN_BUDGET_UNITS);
    size_t s[6], total = 0;
    QLOW_TRY(ws_layout(n_layers, n_choices, U, s));
    for (int i = 0; i < 6; i++) {
        QLOW_TRY(qlow__add_size(total, qlow__align_up(s[i], 64), &total));
    }
    *bytes = total + 64;
    return QLOW_OK;
}

static int64_t units_up(double size, double u)
{
    double k = ceil(size / u);
    int64_t ki = (int64_t)k;
    while ((double)ki * u < size) ki++;
    return ki;
}

qlow_status qlow_plan_solve_ws(const qlow_params *params, int32_t n_layers, int32_t n_choices, const double *size,
                               const double *cost, const int32_t *tie, double budget, int32_t *choice,
                               double *total_cost, double *total_size, void *workspace, size_t workspace_bytes)
{
    if (!size || !cost || !choice || !workspace) return QLOW_E_NULL_POINTER;
    if (n_layers < 1 || n_choices < 1 || n_choices > 255) return QLOW_E_SHAPE;
    if (!(budget > 0.0) || budget - budget != 0.0) return QLOW_E_INVALID_ARG;
    const int32_t L = n_layers, C = n_choices;
    for (int64_t i = 0; i < (int64_t)L * C; i++) {
        if (!(size[i] >= 0.0) || size[i] - size[i] != 0.0) return size[i] != size[i] ? QLOW_E_NONFINITE : QLOW_E_INVALID_ARG;
        if (cost[i] != cost[i] || cost[i] == -INFINITY) return QLOW_E_NONFINITE;
    }
    if (tie)
        for (int32_t l = 0; l < L; l++)
            if (tie[l] < -1) return QLOW_E_INVALID_ARG;
    size_t need;
    QLOW_TRY(qlow_plan_solve_workspace_size(L, C, params, &need));
    if (workspace_bytes < need) return QLOW_E_WORKSPACE_TOO_SMALL;
    if (((uintptr_t)workspace & 7u) != 0) return QLOW_E_ALIGNMENT;
    int64_t U = qlow__param_int(params, QLOW_PLAN_BUDGET_UNITS);
    size_t s[6];
    QLOW_TRY(ws_layout(L, C, U, s));
    qlow__wksp w;
    qlow__wksp_init(&w, workspace, workspace_bytes);
    item_tables t;
    t.item_of = (int32_t *)qlow__wksp_take(&w, s[0]);
    t.units = (int64_t *)qlow__wksp_take(&w, s[1]);
    t.cost = (double *)qlow__wksp_take(&w, s[2]);
    double *dp = (double *)qlow__wksp_take(&w, s[3]);
    double *nx = (double *)qlow__wksp_take(&w, s[4]);
    uint8_t *tab = (uint8_t *)qlow__wksp_take(&w, s[5]);
    if (!tab) return QLOW_E_WORKSPACE_TOO_SMALL;

    /* Tied layers become one item: the first layer of a tie id opens it. */
    t.items = 0;
    for (int32_t l = 0; l < L; l++) {
        int32_t it = -1;
        if (tie && tie[l] >= 0)
            for (int32_t p = 0; p < l; p++)
                if (tie[p] == tie[l]) {
                    it = t.item_of[p];
                    break;
                }
        if (it < 0) it = t.items++;
        t.item_of[l] = it;
    }
    double u = budget / (double)U;
    while ((double)U * u > budget) u = nextafter(u, 0.0);
    for (int32_t it = 0; it < t.items; it++)
        for (int32_t c = 0; c < C; c++) t.cost[it * C + c] = 0.0;
    /* Item sizes summed in double, then rounded up once. */
    for (int32_t it = 0; it < t.items; it++)
        for (int32_t c = 0; c < C; c++) {
            double sz = 0.0;
            for (int32_t l = 0; l < L; l++)
                if (t.item_of[l] == it) {
                    sz += size[l * C + c];
                    t.cost[it * C + c] += cost[l * C + c];
                }
            double k = ceil(sz / u);
            t.units[it * C + c] = k > (double)U ? U + 1 : units_up(sz, u);
        }

    for (int64_t b = 0; b <= U; b++) dp[b] = 0.0;
    for (int32_t it = 0; it < t.items; it++) {
        uint8_t *row = tab + (size_t)it * (size_t)(U + 1);
        for (int64_t b = 0; b <= U; b++) {
            double best = INFINITY;
            uint8_t arg = 255;
            for (int32_t c = 0; c < C; c++) {
                int64_t k = t.units[it * C + c];
                double cc = t.cost[it * C + c];
                if (k > b || cc == INFINITY) continue;
                double v = dp[b - k] + cc;
                if (v < best) {
                    best = v;
                    arg = (uint8_t)c;
                }
            }
            nx[b] = best;
            row[b] = arg;
        }
        double *tmp = dp;
        dp = nx;
        nx = tmp;
    }
    if (dp[U] == INFINITY) return QLOW_E_NOT_FOUND;
    /* Walk back from the full budget; item choices decide the tied layers. */
    int64_t b = U;
    for (int32_t it = t.items - 1; it >= 0; it--) {
        uint8_t c = tab[(size_t)it * (size_t)(U + 1) + (size_t)b];
        for (int32_t l = 0; l < L; l++)
            if (t.item_of[l] == it) choice[l] = c;
        b -= t.units[it * C + c];
    }
    double tc = 0.0, ts = 0.0;
    for (int32_t l = 0; l < L; l++) {
        tc += cost[l * C + choice[l]];
        ts += size[l * C + choice[l]];
    }
    if (total_cost) *total_cost = tc;
    if (total_size) *total_size = ts;
    return QLOW_OK;
}

qlow_status qlow_plan_solve(const qlow_allocator *alloc, const qlow_params *params, int32_t n_layers,
                            int32_t n_choices, const double *size, const double *cost, const int32_t *tie,
                            double budget, int32_t *choice, double *total_cost, double *total_size)
{
    size_t need;
    QLOW_TRY(qlow_plan_solve_workspace_size(n_layers, n_choices, params, &need));
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    void *ws = qlow__alloc(&a, need, 64);
    if (!ws) return QLOW_E_NO_MEMORY;
    qlow_status st = qlow_plan_solve_ws(params, n_layers, n_choices, size, cost, tie, budget, choice, total_cost,
                                        total_size, ws, need);
    qlow__free(&a, ws);
    return st;
}
