/* cli_util.c - argument parsing, errors, progress, timing and file helpers for the qlow CLI. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "qlow%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_args_init(cli_args *a, const char *cmd, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->argc = argc;
    a->argv = argv;
    a->i = 1;
}

int cli_args_next(cli_args *a, const char **pos)
{
    if (a->i >= a->argc) return 0;
    const char *s = a->argv[a->i++];
    if (s[0] != '-' || s[1] == 0) {
        *pos = s;
        return 2;
    }
    const char *n = s + 1 + (s[1] == '-');
    const char *eq = strchr(n, '=');
    size_t len = eq ? (size_t)(eq - n) : strlen(n);
    if (len == 0 || len >= sizeof a->namebuf) {
        cli_error(a->cmd, "malformed option '%s' (try --help)", s);
        return -1;
    }
    memcpy(a->namebuf, n, len);
    a->namebuf[len] = 0;
    a->name = a->namebuf;
    a->inl = eq ? eq + 1 : NULL;
    return 1;
}

const char *cli_args_value(cli_args *a)
{
    if (a->inl) return a->inl;
    if (a->i >= a->argc) {
        cli_error(a->cmd, "option --%s needs a value", a->name);
        return NULL;
    }
    return a->argv[a->i++];
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error(cmd, "--%s expects an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        cli_error(cmd, "--%s expects a number in [%g, %g], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

char *cli_read_file(const char *cmd, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error(cmd, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        cli_error(cmd, "cannot read '%s'", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

void cli_progress_init(cli_progress *p, const char *label)
{
    p->on = isatty(STDERR_FILENO);
    p->label = label;
}

void cli_progress_cb(void *user, int done, int total)
{
    cli_progress *p = user;
    if (!p->on || total <= 0) return;
    int w = 30, fill = (int)((long)done * w / total);
    fprintf(stderr, "\r%-12s [", p->label);
    for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %d/%d", done, total);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->on) fprintf(stderr, "\r\033[K");
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long cli_peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kib = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
        fclose(f);
        if (kib > 0) return kib;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return ru.ru_maxrss;
    return -1;
}

llm_tokenizer *cli_tokenizer_open(const char *cmd, const char *path, const char *model_path, int vocab)
{
    char err[512], guess[4096];
    if (!path) {
        const char *slash = model_path ? strrchr(model_path, '/') : NULL;
        int dirlen = slash ? (int)(slash - model_path + 1) : 0;
        snprintf(guess, sizeof guess, "%.*stok%d.bin", dirlen, model_path ? model_path : "", vocab);
        FILE *f = fopen(guess, "rb");
        if (!f) {
            snprintf(guess, sizeof guess, "data/tok%d.bin", vocab);
            f = fopen(guess, "rb");
        }
        if (!f) {
            cli_error(cmd, "no tokenizer found next to the model (tok%d.bin); pass --tokenizer FILE", vocab);
            return NULL;
        }
        fclose(f);
        path = guess;
    }
    llm_tokenizer *t = llm_tokenizer_load(path, vocab, err, sizeof err);
    if (!t) cli_error(cmd, "%s", err);
    return t;
}
