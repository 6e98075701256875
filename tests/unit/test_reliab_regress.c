/* test_reliab_regress.c - replays every fuzz input kept in the repository through the fuzz targets,
 * without libFuzzer: tests/regress/<target>/ (reproducers of bugs the fuzzers found) and
 * tests/fuzz/corpus/<target>/ (seed corpora). Under `make check SAN=address,undefined` this is the
 * permanent regression test for every crash ever found; a violated property counts as a failure.
 * With arguments `TARGET DIR...` it replays those directories instead (used by `make fuzz-cov` to measure
 * the source coverage of a fuzzing corpus). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <setjmp.h>

#include "qtest.h"

static jmp_buf regress_jump;
static char regress_msg[512];

/* Record the first violated property of an input and abandon that input. */
#define FUZZ_FAIL(...)                                                                                 \
    do {                                                                                               \
        snprintf(regress_msg, sizeof regress_msg, __VA_ARGS__);                                        \
        longjmp(regress_jump, 1);                                                                      \
    } while (0)
#define QLOW_FUZZ_NO_ENTRY 1

#include "../fuzz/fuzz_params.c"
#include "../fuzz/fuzz_qmatrix.c"
#include "../fuzz/fuzz_llama2c.c"
#include "../fuzz/fuzz_safetensors.c"
#include "../fuzz/fuzz_qlow.c"
#include "../fuzz/fuzz_tokenizer.c"

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    fuzz_fn fn;
} targets[] = {
    {"params", fuzz_params},
    {"qmatrix", fuzz_qmatrix},
    {"llama2c", fuzz_llama2c},
    {"safetensors", fuzz_safetensors},
    {"qlow", fuzz_qlow},
    {"tokenizer", fuzz_tokenizer},
};

static fuzz_fn find_target(const char *name)
{
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
        if (strcmp(targets[t].name, name) == 0) return targets[t].fn;
    return NULL;
}

static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    unsigned char *buf = (unsigned char *)malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *nb = (unsigned char *)realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    *n = len;
    return buf;
}

/* Runs one input; returns 1 if it violated no property. Kept apart from the directory walk so that no
 * local of the caller lives across the setjmp. */
static int run_one(fuzz_fn fn, const unsigned char *buf, size_t n)
{
    regress_msg[0] = 0;
    if (setjmp(regress_jump) == 0) fn(buf, n);
    return regress_msg[0] == 0;
}

/* Replays every regular file of `dir`; returns the number of files replayed. */
static int replay_dir(const char *dir, fuzz_fn fn)
{
    char path[1024], root[512];
    if (dir[0] == '/') snprintf(root, sizeof root, "%s", dir);
    else qt_path(dir, root, sizeof root);
    DIR *d = opendir(root);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0) continue;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        size_t n = 0;
        unsigned char *buf = read_file(path, &n);
        if (!buf) continue;
        QT_CHECK(run_one(fn, buf, n), "%s: %s", path, regress_msg);
        free(buf);
        count++;
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv)
{
    if (argc >= 3) {
        fuzz_fn fn = find_target(argv[1]);
        QT_CHECK(fn != NULL, "unknown fuzz target %s", argv[1]);
        for (int i = 2; fn && i < argc; i++) printf("INFO replayed %d inputs of %s\n", replay_dir(argv[i], fn), argv[i]);
        return qt_finish();
    }
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", targets[t].name);
        int seeds = replay_dir(dir, targets[t].fn);
        snprintf(dir, sizeof dir, "tests/regress/%s", targets[t].name);
        int regress = replay_dir(dir, targets[t].fn);
        QT_CHECK(seeds > 0, "target %s has a seed corpus", targets[t].name);
        printf("INFO fuzz replay %-12s %3d corpus inputs, %3d regression inputs\n", targets[t].name, seeds, regress);
    }
    return qt_finish();
}
