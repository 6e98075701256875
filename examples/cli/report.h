/* report.h - the evaluation job shared by `qlow eval` and `qlow bench`: load the models, score them in
 * lockstep against the reference, time them, print a table, CSV or JSON. */
#ifndef QLOW_CLI_REPORT_H
#define QLOW_CLI_REPORT_H

typedef enum report_format { REPORT_TABLE, REPORT_JSON, REPORT_CSV } report_format;

typedef struct report_job {
    const char *cmd;
    const char *ref_path;
    const char **paths;
    int n_paths;
    const char *text_path, *tok_path;
    int paragraphs, window, max_items;
    int quality; /* 0: speed only (bench) */
    int speed, prompt_tokens, gen_tokens, reps, threads, act_bits;
    report_format format;
} report_job;

/* Returns a CLI exit code. */
int report_run(const report_job *job);

#endif
