/* ggml_types.c - the ggml types libqlow writes: names, block geometry, llama.cpp's fallback chain. */
#include <string.h>

#include "export/ggml_blocks.h"

static const qlow__ggml_traits traits[] = {
    {QLOW_GGML_F32, "f32", 1, 4},       {QLOW_GGML_F16, "f16", 1, 2},
    {QLOW_GGML_Q4_0, "q4_0", 32, 18},   {QLOW_GGML_Q4_1, "q4_1", 32, 20},
    {QLOW_GGML_Q5_0, "q5_0", 32, 22},   {QLOW_GGML_Q5_1, "q5_1", 32, 24},
    {QLOW_GGML_Q8_0, "q8_0", 32, 34},   {QLOW_GGML_Q2_K, "q2_K", 256, 84},
    {QLOW_GGML_Q3_K, "q3_K", 256, 110}, {QLOW_GGML_Q4_K, "q4_K", 256, 144},
    {QLOW_GGML_Q5_K, "q5_K", 256, 176}, {QLOW_GGML_Q6_K, "q6_K", 256, 210},
    {QLOW_GGML_IQ4_NL, "iq4_nl", 32, 18}, {QLOW_GGML_TQ1_0, "tq1_0", 256, 54},
    {QLOW_GGML_TQ2_0, "tq2_0", 256, 66},
};

const qlow__ggml_traits *qlow__ggml_traits_find(int32_t type)
{
    for (size_t i = 0; i < sizeof traits / sizeof traits[0]; i++)
        if (traits[i].type == type) return &traits[i];
    return NULL;
}

size_t qlow__ggml_row_bytes(const qlow__ggml_traits *t, int64_t n)
{
    return (size_t)(n / t->block) * (size_t)t->bytes;
}

const char *qlow_ggml_type_name(int32_t type)
{
    const qlow__ggml_traits *t = qlow__ggml_traits_find(type);
    return t ? t->name : "unknown";
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

qlow_status qlow_ggml_type_from_name(const char *name, int32_t *type)
{
    if (!name || !type) return QLOW_E_NULL_POINTER;
    for (size_t i = 0; i < sizeof traits / sizeof traits[0]; i++) {
        const char *a = traits[i].name, *b = name;
        while (*a && *b && lower((unsigned char)*a) == lower((unsigned char)*b)) a++, b++;
        if (!*a && !*b) {
            *type = traits[i].type;
            return QLOW_OK;
        }
    }
    return QLOW_E_NOT_FOUND;
}

qlow_status qlow_ggml_type_block(int32_t type, int64_t *block_elems, size_t *block_bytes)
{
    const qlow__ggml_traits *t = qlow__ggml_traits_find(type);
    if (!t) return QLOW_E_UNSUPPORTED;
    if (block_elems) *block_elems = t->block;
    if (block_bytes) *block_bytes = (size_t)t->bytes;
    return QLOW_OK;
}

/* llama.cpp's quantizer replaces a type whose block does not divide the row by a 32-block type of
 * similar quality; we then end at F16 where even 32 does not divide (llama.cpp would refuse). */
static int32_t next_fallback(int32_t type)
{
    switch (type) {
    case QLOW_GGML_TQ1_0:
    case QLOW_GGML_TQ2_0: return QLOW_GGML_Q4_0;
    case QLOW_GGML_Q2_K:
    case QLOW_GGML_Q3_K: return QLOW_GGML_IQ4_NL;
    case QLOW_GGML_Q4_K: return QLOW_GGML_Q5_0;
    case QLOW_GGML_Q5_K: return QLOW_GGML_Q5_1;
    case QLOW_GGML_Q6_K: return QLOW_GGML_Q8_0;
    default: return QLOW_GGML_F16;
    }
}

qlow_status qlow_ggml_fallback_type(int32_t requested, int64_t cols, int32_t *type)
{
    if (!type) return QLOW_E_NULL_POINTER;
    const qlow__ggml_traits *t = qlow__ggml_traits_find(requested);
    if (!t) return QLOW_E_UNSUPPORTED;
    if (cols < 1) return QLOW_E_SHAPE;
    while (cols % t->block != 0) t = qlow__ggml_traits_find(next_fallback(t->type));
    *type = t->type;
    return QLOW_OK;
}
