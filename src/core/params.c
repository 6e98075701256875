/* params.c - typed key/value parameter sets with bounds from param_keys.def. */
#include "internal.h"

#define QLOW_PARAM_INT(key, lo, hi, def) {key, 0, (double)(lo), (double)(hi), (double)(def), #key},
#define QLOW_PARAM_FLOAT(key, lo, hi, def) {key, 1, (double)(lo), (double)(hi), (double)(def), #key},
static const qlow__param_def param_table[] = {
#include "param_keys.def"
    {0, 0, 0, 0, 0, NULL}};
#undef QLOW_PARAM_INT
#undef QLOW_PARAM_FLOAT


typedef struct param_entry {
    int32_t key;
    int32_t is_float;
    int64_t ival;
    double fval;
} param_entry;

struct qlow_params {
    qlow_allocator alloc;
    int32_t count;
    param_entry entries[QLOW_PARAMS_MAX_ENTRIES];
};

const qlow__param_def *qlow__param_find(int32_t key)
{
    for (const qlow__param_def *d = param_table; d->name; d++)
        if (d->key == key) return d;
    return NULL;
}

qlow_status qlow_param_bounds(int32_t key, double *min_value, double *max_value, double *default_value,
                              int *is_float)
{
    const qlow__param_def *d = qlow__param_find(key);
    if (!d) return QLOW_E_PARAM;
    if (min_value) *min_value = d->min_value;
    if (max_value) *max_value = d->max_value;
    if (default_value) *default_value = d->default_value;
    if (is_float) *is_float = d->is_float;
    return QLOW_OK;
}

qlow_status qlow_params_create(const qlow_allocator *alloc, qlow_params **out)
{
    if (!out) return QLOW_E_NULL_POINTER;
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow_params *p = (qlow_params *)qlow__calloc(&a, sizeof(*p), 16);
    if (!p) return QLOW_E_NO_MEMORY;
    p->alloc = a;
    *out = p;
    return QLOW_OK;
}

void qlow_params_destroy(qlow_params *params)
{
    if (!params) return;
    qlow_allocator a = params->alloc;
    qlow__free(&a, params);
}

void qlow_params_reset(qlow_params *params)
{
    if (params) params->count = 0;
}

static int32_t find_index(const qlow_params *p, int32_t key)
{
    for (int32_t i = 0; i < p->count; i++)
        if (p->entries[i].key == key) return i;
    return -1;
}

static qlow_status set_entry(qlow_params *p, const qlow__param_def *d, int64_t iv, double fv)
{
    int32_t i = find_index(p, d->key);
    if (i < 0) {
        if (p->count >= QLOW_PARAMS_MAX_ENTRIES) return QLOW_E_PARAM;
        i = p->count++;
        p->entries[i].key = d->key;
    }
    param_entry *e = &p->entries[i];
    e->is_float = d->is_float;
    e->ival = iv;
    e->fval = fv;
    return QLOW_OK;
}

qlow_status qlow_params_set_int(qlow_params *params, int32_t key, int64_t value)
{
    if (!params) return QLOW_E_NULL_POINTER;
    const qlow__param_def *d = qlow__param_find(key);
    if (!d || d->is_float) return QLOW_E_PARAM;
    if ((double)value < d->min_value || (double)value > d->max_value) return QLOW_E_PARAM;
    return set_entry(params, d, value, (double)value);
}

qlow_status qlow_params_set_float(qlow_params *params, int32_t key, double value)
{
    if (!params) return QLOW_E_NULL_POINTER;
    const qlow__param_def *d = qlow__param_find(key);
    if (!d || !d->is_float) return QLOW_E_PARAM;
    /* The negated comparison also rejects NaN. */
    if (!(value >= d->min_value && value <= d->max_value)) return QLOW_E_PARAM;
    return set_entry(params, d, 0, value);
}

qlow_status qlow_params_get_int(const qlow_params *params, int32_t key, int64_t *value)
{
    if (!params || !value) return QLOW_E_NULL_POINTER;
    const qlow__param_def *d = qlow__param_find(key);
    if (!d || d->is_float) return QLOW_E_PARAM;
    *value = qlow__param_int(params, key);
    return QLOW_OK;
}

qlow_status qlow_params_get_float(const qlow_params *params, int32_t key, double *value)
{
    if (!params || !value) return QLOW_E_NULL_POINTER;
    const qlow__param_def *d = qlow__param_find(key);
    if (!d || !d->is_float) return QLOW_E_PARAM;
    *value = qlow__param_float(params, key);
    return QLOW_OK;
}

int64_t qlow__param_int(const qlow_params *p, int32_t key)
{
    int32_t i = p ? find_index(p, key) : -1;
    if (i >= 0) return p->entries[i].ival;
    const qlow__param_def *d = qlow__param_find(key);
    return d ? (int64_t)d->default_value : 0;
}

double qlow__param_float(const qlow_params *p, int32_t key)
{
    int32_t i = p ? find_index(p, key) : -1;
    if (i >= 0) return p->entries[i].fval;
    const qlow__param_def *d = qlow__param_find(key);
    return d ? d->default_value : 0.0;
}
