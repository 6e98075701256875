/* quant_choice.h - one way of quantizing one linear (scheme, bits, grouping, GPTQ or PTQ1.61), the
 * menus the mixed-precision methods choose from, and the per-job state shared by quantize.c. */
#ifndef LLM_QUANT_CHOICE_H
#define LLM_QUANT_CHOICE_H

#include "quantize.h"
#include "sens.h"

typedef struct qchoice {
    const char *name;
    int scheme;        /* qlow_scheme (ignored when ptq161) */
    int bits;          /* RTN bits */
    int group_cols;    /* 0 = whole rows */
    int group_rows;    /* rows sharing one scale (Q-BERT group-wise), >= 1 */
    int importance;    /* weight errors by the input's second moments (Hessian diagonal) */
    int gptq;          /* GPTQ error compensation with the full Hessian */
    int ptq161;        /* PTQ1.61 mixed format (salient ratio below) */
    double salient;    /* PTQ1.61 salient column fraction (< 0 = library default), or with
                        * salient_blocks the number of 32-column blocks of salient columns */
    int salient_blocks; /* PTQ1.61: `salient` counts whole 32-column blocks (the M161 padding unit) */
} qchoice;

/* The QLOW_MASK_RATIO that selects exactly n of cols columns under the mask's floor(r*cols)+1 rule
 * (ties aside): 0 for none, 1 for all. */
double qchoice_ratio_for_count(int64_t n, int64_t cols);
/* The QLOW_MASK_RATIO of a PTQ1.61 choice on a linear with `cols` columns (< 0 = library default). */
double qchoice_ratio(const qchoice *ch, int64_t cols);

#define QCHOICE_MAX 16

typedef struct qjob {
    const llm_model *src;
    const llm_quant_opts *o;
    const llm_calib *calib;
    qlow_ctx *ctx;
    qlow_params *params;
    qlow_hessian **hess; /* [n_layers * LLM_N_INPUTS], NULL without calibration */
    llm_sens *sens;      /* loss-aware sensitivities (mixed-precision methods) */
    char *err;
    size_t errn;
} qjob;

int qjob_fail(qjob *j, const char *what, const char *name, qlow_status s);
void qjob_set_linear(const qjob *j, llm_linear *l, qlow_qmatrix *q);
const qlow_hessian *qjob_hessian(const qjob *j, int layer, int kind);

/* The choices a mixed-precision method plans over; returns their count. */
int qchoice_menu(const llm_quant_opts *o, qchoice *out);

/* Quantizes linear l (layer, kind) with choice ch into a new packed matrix. 0 or -1 (message set). */
int qchoice_quantize(qjob *j, const llm_linear *l, int layer, int kind, const qchoice *ch, qlow_qmatrix **out);

/* The loss-aware cost (llm_sens_cost) of replacing the fp32 linear by the packed matrix. */
qlow_status qchoice_cost(qjob *j, const llm_linear *l, int layer, int kind, const qlow_qmatrix *q, double *cost);

#endif
