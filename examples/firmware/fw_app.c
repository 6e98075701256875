/* fw_app.c - the firmware example proper. Everything lives in static memory: the context
 * (qlow_ctx_init_static), the matrix handles (qlow_qmatrix_wrap_static over images in flash), the GEMV
 * workspace and the outputs. No malloc, no stdio; text goes through the port's write function.
 * Each packed matrix is multiplied with its input (qlow_gemv_ws) and one row is dequantized; both must
 * equal, bit for bit, what the hosted library computed when fw_gen made the images. */
#include <stdint.h>
#include <string.h>

#include "fw_app.h"
#include "fw_model.h"
#include "fw_model_config.h" /* generated: FW_MAX_ROWS, FW_MAX_COLS, FW_HANDLE_BYTES, FW_WKSP_BYTES */
#include "qlow.h"

static _Alignas(64) unsigned char ctx_mem[512];
static _Alignas(64) unsigned char handle_mem[FW_HANDLE_BYTES];
static _Alignas(64) unsigned char workspace[FW_WKSP_BYTES];
static float y[FW_MAX_ROWS];
static float row0[FW_MAX_COLS];

typedef struct out_line {
    char buf[160];
    unsigned n;
} out_line;

static void put(out_line *o, const char *s)
{
    while (*s && o->n + 1 < sizeof(o->buf)) o->buf[o->n++] = *s++;
    o->buf[o->n] = 0;
}

static void put_uint(out_line *o, uint32_t v)
{
    char t[11];
    int i = 10;
    t[i] = 0;
    do {
        t[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    put(o, t + i);
}

static void put_hex(out_line *o, uint32_t v)
{
    char t[9];
    for (int i = 7; i >= 0; i--, v >>= 4) t[i] = "0123456789abcdef"[v & 15u];
    t[8] = 0;
    put(o, t);
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* FNV-1a over the fp32 bits: one number to compare across host, QEMU and hardware logs. */
static uint32_t fnv_bits(const float *v, int32_t n)
{
    uint32_t h = 2166136261u;
    for (int32_t i = 0; i < n; i++) {
        uint32_t b = bits_of(v[i]);
        for (int k = 0; k < 4; k++, b >>= 8) h = (h ^ (b & 0xffu)) * 16777619u;
    }
    return h;
}

static int32_t count_mismatches(const float *got, const uint32_t *want, int32_t n)
{
    int32_t bad = 0;
    for (int32_t i = 0; i < n; i++) bad += bits_of(got[i]) != want[i];
    return bad;
}

static int run_one(qlow_ctx *ctx, const fw_matrix *m, fw_write_fn write, void *user)
{
    out_line o = {{0}, 0};
    qlow_qmatrix *qm = NULL;
    size_t ws = 0;
    qlow_status s = qlow_qmatrix_wrap_static(handle_mem, sizeof(handle_mem), m->image, m->image_bytes, &qm);
    if (s == QLOW_OK) s = qlow_gemm_workspace_size(qm, 1, 0, &ws);
    if (s == QLOW_OK && ws > sizeof(workspace)) s = QLOW_E_WORKSPACE_TOO_SMALL;
    if (s == QLOW_OK) s = qlow_gemv_ws(ctx, qm, m->x, y, workspace, sizeof(workspace));
    if (s == QLOW_OK) s = qlow_qmatrix_dequantize(qm, 0, 1, row0, FW_MAX_COLS);
    put(&o, m->name);
    if (s != QLOW_OK) {
        put(&o, ": error ");
        put(&o, qlow_status_string(s));
        put(&o, "\n");
        write(o.buf, user);
        return 1;
    }
    int32_t bad_y = count_mismatches(y, m->expected_y, m->rows);
    int32_t bad_d = count_mismatches(row0, m->expected_row0, m->cols);
    put(&o, " ");
    put_uint(&o, (uint32_t)m->rows);
    put(&o, "x");
    put_uint(&o, (uint32_t)m->cols);
    put(&o, " flash ");
    put_uint(&o, m->image_bytes);
    put(&o, " B, workspace ");
    put_uint(&o, (uint32_t)ws);
    put(&o, " B: y fnv ");
    put_hex(&o, fnv_bits(y, m->rows));
    put(&o, (bad_y || bad_d) ? " MISMATCH\n" : " equal to hosted\n");
    write(o.buf, user);
    return bad_y || bad_d;
}

int fw_app_run(fw_write_fn write, void *user)
{
    qlow_ctx *ctx = NULL;
    if (qlow_ctx_estimate_size() > sizeof(ctx_mem) ||
        qlow_ctx_init_static(ctx_mem, sizeof(ctx_mem), &ctx) != QLOW_OK) {
        write("cannot place the context\n", user);
        return 1;
    }
    int failures = 0;
    for (uint32_t i = 0; i < fw_matrix_count; i++) failures += run_one(ctx, &fw_matrices[i], write, user);
    write(failures ? "firmware example: FAILED\n" : "firmware example: all results equal the hosted library\n",
          user);
    return failures != 0;
}
