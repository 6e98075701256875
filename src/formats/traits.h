/* traits.h - the format registry: geometry, the plane plan (sizes and offsets of every stored plane; the
 * one place where bits per weight are counted), and per-format pack / dequantize-row / validate. */
#ifndef QLOW_FORMATS_TRAITS_H
#define QLOW_FORMATS_TRAITS_H

#include "formats/layout.h"
#include "quant/qresult.h"

/* Planes in their order inside a serialized matrix. Absent planes have size 0. */
enum {
    QLOW__PL_COL_MASK,
    QLOW__PL_CODES,
    QLOW__PL_CODES_HI,
    QLOW__PL_CODES2,
    QLOW__PL_SCALE,
    QLOW__PL_ZERO,
    QLOW__PL_SAL_CODES,
    QLOW__PL_SAL_SCALE,
    QLOW__PL_SAL_ZERO,
    QLOW__PL_ALPHA,
    QLOW__PL_ALPHA2,
    QLOW__PL_MU,
    QLOW__PL_COL_SCALE,
    QLOW__PL_COUNT
};

/* Serialized header size; planes start after it, each at a 64-byte aligned offset. */
#define QLOW__QM_HEADER_BYTES 128u
#define QLOW__QM_PLANE_ALIGN 64u

/* Everything that determines a packed matrix's layout. Canonical values: non-Q formats have
 * group_cols = group_rows = 0 and symmetric = 0; a Q format's whole-row group is group_cols = cols_pad. */
typedef struct qlow__geom {
    int32_t format;
    int32_t bits;
    int32_t symmetric;
    int32_t has_col_scale;
    int64_t rows, cols;
    int64_t group_cols, group_rows;
    int64_t n_salient;
} qlow__geom;

typedef struct qlow__plan {
    size_t offset[QLOW__PL_COUNT]; /* from the start of the serialized matrix */
    size_t size[QLOW__PL_COUNT];
    size_t payload_bytes;          /* sum of plane sizes: what bits per weight counts */
    size_t total_bytes;            /* header + planes + alignment gaps */
    int64_t cols_pad;              /* M161: of the binary part */
    size_t row_bytes, sal_row_bytes;
    int64_t n_row_groups, n_col_groups;
} qlow__plan;

typedef struct qlow__format_traits {
    const char *name;
    int32_t code_bits;   /* bits of one code (T158: 0, five trits per byte; M161: 0, mixed) */
    int32_t block_cols;  /* columns per code block (QLOW__BLOCK) */
    int32_t block_bytes; /* code bytes per row and block in the main plane(s) (0: see the plan) */
    int32_t grouped;     /* 1 for Q formats: fp16 scale (and zero) per group */
    void (*pack)(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob);
    void (*dequant_row)(const qlow__packed *p, int64_t row, float *out);
    qlow_status (*validate)(const qlow__packed *p);
} qlow__format_traits;

/* NULL for unknown formats. */
QLOW_HIDDEN const qlow__format_traits *qlow__format_traits_get(int32_t format);

/* Validate and canonicalize a geometry (fills bits from the format; group_cols 0 or >= cols_pad becomes
 * cols_pad; group_rows > rows becomes rows). QLOW_E_INVALID_ARG / QLOW_E_SHAPE / QLOW_E_OVERFLOW /
 * QLOW_E_UNSUPPORTED (unknown format). */
QLOW_HIDDEN qlow_status qlow__geom_canonical(qlow__geom *g);
/* Plane sizes and offsets of a canonical geometry; QLOW_E_OVERFLOW if any size overflows. */
QLOW_HIDDEN qlow_status qlow__format_plan(const qlow__geom *g, qlow__plan *pl);
/* Geometry of the matrix a qresult packs into. */
QLOW_HIDDEN qlow_status qlow__geom_from_qresult(const qlow__qresult *qr, qlow__geom *g);
/* Point p's planes into a serialized image laid out by pl. */
QLOW_HIDDEN void qlow__packed_bind(const qlow__geom *g, const qlow__plan *pl, const uint8_t *blob, qlow__packed *p);
/* Exact bits per weight of a plan: 8 * payload_bytes / (rows * cols). */
QLOW_HIDDEN double qlow__plan_bits_per_weight(const qlow__geom *g, const qlow__plan *pl);

/* Per-format functions (pack.c, unpack.c). */
QLOW_HIDDEN void qlow__pack_q(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob);
QLOW_HIDDEN void qlow__pack_b1(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob);
QLOW_HIDDEN void qlow__pack_b2(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob);
QLOW_HIDDEN void qlow__pack_t2(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob);
QLOW_HIDDEN void qlow__pack_t158(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob);
QLOW_HIDDEN void qlow__pack_m161(const qlow__qresult *qr, const qlow__plan *pl, uint8_t *blob);
QLOW_HIDDEN void qlow__dequant_row_q(const qlow__packed *p, int64_t row, float *out);
QLOW_HIDDEN void qlow__dequant_row_b1(const qlow__packed *p, int64_t row, float *out);
QLOW_HIDDEN void qlow__dequant_row_b2(const qlow__packed *p, int64_t row, float *out);
QLOW_HIDDEN void qlow__dequant_row_t2(const qlow__packed *p, int64_t row, float *out);
QLOW_HIDDEN void qlow__dequant_row_t158(const qlow__packed *p, int64_t row, float *out);
QLOW_HIDDEN void qlow__dequant_row_m161(const qlow__packed *p, int64_t row, float *out);
QLOW_HIDDEN qlow_status qlow__validate_q(const qlow__packed *p);
QLOW_HIDDEN qlow_status qlow__validate_b(const qlow__packed *p);
QLOW_HIDDEN qlow_status qlow__validate_t2(const qlow__packed *p);
QLOW_HIDDEN qlow_status qlow__validate_t158(const qlow__packed *p);
QLOW_HIDDEN qlow_status qlow__validate_m161(const qlow__packed *p);

#endif
