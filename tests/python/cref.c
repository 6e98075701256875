/* cref.c - the C side of the Python bit-for-bit tests. Each mode runs one step of the user journey with
 * the C API on data from the same splitmix64 stream the Python tests use (tests/python/helpers.py),
 * and writes the raw little-endian results to stdout, which the Python test compares byte for byte
 * with what the wrapper produced.
 * usage: cref MODE ARGS...   (modes listed in main) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlow.h"

static uint64_t stream_state;

static uint64_t stream_u64(void)
{
    uint64_t z = (stream_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float *stream_floats(uint64_t seed, size_t n)
{
    float *v = (float *)malloc(n * sizeof(float) + 1);
    stream_state = seed;
    for (size_t i = 0; i < n && v; i++) v[i] = (float)((double)((int64_t)(stream_u64() >> 40) - (1 << 23)) / (double)(1 << 23));
    return v;
}

static int emit(const void *p, size_t n) { return fwrite(p, 1, n, stdout) == n ? 0 : 1; }

static int fail(const char *what, qlow_status s)
{
    fprintf(stderr, "cref: %s: %s\n", what, qlow_status_string(s));
    return 2;
}

/* fp16 SEED N: fp16 and bf16 bits of stream values spread over magnitudes 2^-20..2^19. */
static int mode_fp16(uint64_t seed, size_t n)
{
    float *v = stream_floats(seed, n);
    if (!v) return 2;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        float x = v[i] * (float)ldexp(1.0, (int)(i % 40) - 20);
        uint16_t h = qlow_fp32_to_fp16(x), b = qlow_fp32_to_bf16(x);
        float back = qlow_fp16_to_fp32(h);
        rc = emit(&h, 2) || emit(&b, 2) || emit(&back, 4);
    }
    free(v);
    return rc;
}

/* params KEY VALUE: the bounds of KEY and the value read back after setting it. */
static int mode_bounds(int32_t key)
{
    double lo, hi, def;
    int is_float;
    qlow_status s = qlow_param_bounds(key, &lo, &hi, &def, &is_float);
    if (s != QLOW_OK) return fail("bounds", s);
    return emit(&lo, 8) || emit(&hi, 8) || emit(&def, 8) || emit(&is_float, 4);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (qlow_abi_check(QLOW_ABI_VERSION, sizeof(qlow_view)) != QLOW_OK) return 3;
    const char *mode = argv[1];
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    if (!strcmp(mode, "fp16") && argc == 4) return mode_fp16(seed, strtoull(argv[3], NULL, 0));
    if (!strcmp(mode, "bounds") && argc == 3) return mode_bounds((int32_t)strtol(argv[2], NULL, 0));
    fprintf(stderr, "cref: unknown mode or arguments\n");
    return 2;
}
