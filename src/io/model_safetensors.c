/* model_safetensors.c - safetensors: u64 header length N, N bytes of JSON, then the tensor data.
 * The header is parsed twice with the same code: once to count and size, once to fill, so the tables
 * are allocated exactly once. Offsets are checked against the data size with overflow-safe arithmetic
 * and tensors may not overlap. */
#include <math.h>

#include "io/json.h"
#include "io/model_internal.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20) /* the format's own limit */

typedef struct st_pass {
    int fill;
    size_t n_tensors, n_meta, name_bytes;
    char *scratch; /* fill pass: room for one unescaped string */
    size_t scratch_cap;
    int hf_names;
} st_pass;

int qlow__model_is_safetensors(const unsigned char *data, size_t size)
{
    if (size < 10) return 0;
    uint64_t n = qlow__ld64(data);
    return n >= 2 && n <= size - 8 && n <= ST_MAX_HEADER && data[8] == '{';
}

static qlow_status dtype_of(const char *s, size_t n, int32_t *dtype)
{
    static const struct {
        const char *name;
        int32_t dtype;
    } map[] = {{"F32", QLOW_DTYPE_F32}, {"F16", QLOW_DTYPE_F16}, {"BF16", QLOW_DTYPE_BF16},
               {"F64", QLOW_DTYPE_F64}, {"I8", QLOW_DTYPE_I8},   {"U8", QLOW_DTYPE_U8},
               {"I32", QLOW_DTYPE_I32}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].name) == n && memcmp(map[i].name, s, n) == 0) {
            *dtype = map[i].dtype;
            return QLOW_OK;
        }
    return QLOW_E_DTYPE;
}

static qlow_status u64_array(qlow__json *j, uint64_t *v, size_t max, size_t *n)
{
    size_t k = 0;
    QLOW_TRY(qlow__json_expect(j, '['));
    if (qlow__json_peek(j) == ']') {
        j->p++;
        *n = 0;
        return QLOW_OK;
    }
    for (;;) {
        if (k == max) return QLOW_E_UNSUPPORTED;
        QLOW_TRY(qlow__json_u64(j, &v[k++]));
        int c = qlow__json_peek(j);
        if (c < 0) return QLOW_E_TRUNCATED;
        j->p++;
        if (c == ']') break;
        if (c != ',') return QLOW_E_FORMAT;
    }
    *n = k;
    return QLOW_OK;
}

static qlow_status parse_tensor(qlow_model *m, st_pass *ps, qlow__json *j, const char *name, size_t name_len,
                                size_t data_start, size_t data_size)
{
    enum { HAVE_DTYPE = 1, HAVE_SHAPE = 2, HAVE_OFFSETS = 4 };
    unsigned have = 0;
    int32_t dtype = 0;
    uint64_t shape[QLOW_VIEW_MAX_DIMS], offs[2];
    size_t ndim = 0, noff = 0;
    QLOW_TRY(qlow__json_expect(j, '{'));
    if (qlow__json_peek(j) == '}') return QLOW_E_FORMAT;
    for (;;) {
        char key[16];
        size_t klen;
        qlow__json probe = *j;
        QLOW_TRY(qlow__json_string(&probe, NULL, 0, &klen));
        if (klen < sizeof key) {
            QLOW_TRY(qlow__json_string(j, key, sizeof key, &klen));
        } else {
            *j = probe;
            klen = 0;
        }
        QLOW_TRY(qlow__json_expect(j, ':'));
        if (klen == 5 && memcmp(key, "dtype", 5) == 0) {
            char dt[8];
            size_t dl;
            if (have & HAVE_DTYPE) return QLOW_E_FORMAT;
            probe = *j;
            QLOW_TRY(qlow__json_string(&probe, NULL, 0, &dl));
            if (dl >= sizeof dt) return QLOW_E_DTYPE;
            QLOW_TRY(qlow__json_string(j, dt, sizeof dt, &dl));
            QLOW_TRY(dtype_of(dt, dl, &dtype));
            have |= HAVE_DTYPE;
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            if (have & HAVE_SHAPE) return QLOW_E_FORMAT;
            QLOW_TRY(u64_array(j, shape, QLOW_VIEW_MAX_DIMS, &ndim));
            have |= HAVE_SHAPE;
        } else if (klen == 12 && memcmp(key, "data_offsets", 12) == 0) {
            if (have & HAVE_OFFSETS) return QLOW_E_FORMAT;
            QLOW_TRY(u64_array(j, offs, 2, &noff));
            if (noff != 2) return QLOW_E_FORMAT;
            have |= HAVE_OFFSETS;
        } else {
            QLOW_TRY(qlow__json_skip(j, 2));
        }
        int c = qlow__json_peek(j);
        if (c < 0) return QLOW_E_TRUNCATED;
        j->p++;
        if (c == '}') break;
        if (c != ',') return QLOW_E_FORMAT;
    }
    if (have != (HAVE_DTYPE | HAVE_SHAPE | HAVE_OFFSETS)) return QLOW_E_FORMAT;
    if (offs[0] > offs[1]) return QLOW_E_FORMAT;
    if (offs[1] > data_size) return offs[1] > (uint64_t)SIZE_MAX ? QLOW_E_OVERFLOW : QLOW_E_TRUNCATED;
    int64_t s64[QLOW_VIEW_MAX_DIMS] = {1, 1, 1, 1};
    for (size_t d = 0; d < ndim; d++) {
        if (shape[d] > (uint64_t)INT64_MAX) return QLOW_E_OVERFLOW;
        s64[d] = (int64_t)shape[d];
    }
    if (ndim == 0) ndim = 1; /* a scalar is a one-element vector */
    ps->n_tensors++;
    ps->name_bytes += name_len + 1;
    if (!ps->fill) return QLOW_OK;
    char canon[512];
    size_t cl = name_len < sizeof canon ? qlow__model_canonical_name(name, name_len, canon, sizeof canon) : 0;
    const char *nm = cl ? canon : name;
    if (!cl) cl = name_len;
    if (cl != name_len || memcmp(nm, name, cl) != 0)
        ps->hf_names |= (name_len > 6 && memcmp(name, "model.", 6) == 0) || (name_len > 7 && memcmp(name, "lm_head", 7) == 0);
    return qlow__model_add_tensor(m, nm, cl, dtype, (int32_t)ndim, s64, data_start + (size_t)offs[0],
                                  (size_t)(offs[1] - offs[0]));
}

static qlow_status parse_metadata(qlow_model *m, st_pass *ps, qlow__json *j)
{
    QLOW_TRY(qlow__json_expect(j, '{'));
    if (qlow__json_peek(j) == '}') {
        j->p++;
        return QLOW_OK;
    }
    for (;;) {
        size_t klen, vlen;
        qlow__json keypos = *j;
        QLOW_TRY(qlow__json_string(j, NULL, 0, &klen));
        QLOW_TRY(qlow__json_expect(j, ':'));
        int c = qlow__json_peek(j);
        qlow__json valpos = *j;
        const char *num = NULL;
        if (c == '"') {
            QLOW_TRY(qlow__json_string(j, NULL, 0, &vlen));
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            QLOW_TRY(qlow__json_number(j, &num, &vlen));
        } else {
            QLOW_TRY(qlow__json_skip(j, 2));
            c = 0;
        }
        if (c) {
            ps->n_meta++;
            ps->name_bytes += klen + vlen + 2;
            if (ps->fill) {
                if (m->n_meta >= m->cap_meta) return QLOW_E_INTERNAL;
                size_t k2, v2;
                QLOW_TRY(qlow__json_string(&keypos, ps->scratch, ps->scratch_cap, &k2));
                const char *key = qlow__model_str(m, ps->scratch, k2);
                if (c == '"') QLOW_TRY(qlow__json_string(&valpos, ps->scratch, ps->scratch_cap, &v2));
                const char *val = c == '"' ? qlow__model_str(m, ps->scratch, v2) : qlow__model_str(m, num, vlen);
                if (!key || !val) return QLOW_E_INTERNAL;
                m->meta[m->n_meta].key = key;
                m->meta[m->n_meta].value = val;
                m->n_meta++;
            }
        }
        c = qlow__json_peek(j);
        if (c < 0) return QLOW_E_TRUNCATED;
        j->p++;
        if (c == '}') return QLOW_OK;
        if (c != ',') return QLOW_E_FORMAT;
    }
}

static qlow_status parse_header(qlow_model *m, st_pass *ps, const unsigned char *json, size_t n)
{
    qlow__json j = {json, json + n};
    size_t data_start = 8 + n, data_size = m->map.size - data_start;
    int seen_meta = 0;
    QLOW_TRY(qlow__json_expect(&j, '{'));
    if (qlow__json_peek(&j) == '}') {
        j.p++;
    } else {
        for (;;) {
            size_t klen;
            if (qlow__json_peek(&j) != '"') return qlow__json_peek(&j) < 0 ? QLOW_E_TRUNCATED : QLOW_E_FORMAT;
            qlow__json keypos = j;
            QLOW_TRY(qlow__json_string(&j, NULL, 0, &klen));
            QLOW_TRY(qlow__json_expect(&j, ':'));
            if (klen == 12 && memcmp(keypos.p + 1, "__metadata__", 12) == 0) {
                if (seen_meta++) return QLOW_E_FORMAT;
                QLOW_TRY(parse_metadata(m, ps, &j));
            } else {
                const char *name = NULL;
                if (ps->fill) {
                    QLOW_TRY(qlow__json_string(&keypos, ps->scratch, ps->scratch_cap, &klen));
                    name = ps->scratch;
                }
                QLOW_TRY(parse_tensor(m, ps, &j, name, klen, data_start, data_size));
            }
            int c = qlow__json_peek(&j);
            if (c < 0) return QLOW_E_TRUNCATED;
            j.p++;
            if (c == '}') break;
            if (c != ',') return QLOW_E_FORMAT;
        }
    }
    if (qlow__json_peek(&j) >= 0) return QLOW_E_FORMAT;
    return QLOW_OK;
}

static int cmp_offset(const void *ctx, uint32_t a, uint32_t b)
{
    const qlow__mtensor *t = (const qlow__mtensor *)ctx;
    if (t[a].offset != t[b].offset) return t[a].offset < t[b].offset ? -1 : 1;
    if (t[a].bytes != t[b].bytes) return t[a].bytes < t[b].bytes ? -1 : 1;
    return a < b ? -1 : a > b;
}

static qlow_status check_overlaps(qlow_model *m)
{
    qlow__sort_indices(m->by_name, m->n_tensors, cmp_offset, m->tensors);
    size_t end = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const qlow__mtensor *t = &m->tensors[m->by_name[i]];
        if (t->bytes == 0) continue;
        if (t->offset < end) return QLOW_E_FORMAT;
        end = t->offset + t->bytes;
    }
    return QLOW_OK;
}

/* Decimal text (as found in metadata) to a number; 0 on any malformed text. */
static int parse_decimal(const char *s, double *out)
{
    double mant = 0.0;
    int exp10 = 0, digits = 0, neg = 0;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    for (; *s >= '0' && *s <= '9'; s++, digits++) mant = mant * 10.0 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, digits++, exp10--) mant = mant * 10.0 + (*s - '0');
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        int eneg = 0, e = 0, ed = 0;
        s++;
        if (*s == '-' || *s == '+') eneg = *s++ == '-';
        for (; *s >= '0' && *s <= '9' && ed < 4; s++, ed++) e = e * 10 + (*s - '0');
        if (!ed) return 0;
        exp10 += eneg ? -e : e;
    }
    if (*s) return 0;
    double v = mant * pow(10.0, exp10);
    *out = neg ? -v : v;
    return isfinite(v);
}

static const struct {
    const char *name;
    int32_t key;
} meta_keys[] = {{"n_heads", QLOW_MODEL_N_HEADS},
                 {"num_attention_heads", QLOW_MODEL_N_HEADS},
                 {"n_kv_heads", QLOW_MODEL_N_KV_HEADS},
                 {"num_key_value_heads", QLOW_MODEL_N_KV_HEADS},
                 {"seq_len", QLOW_MODEL_SEQ_LEN},
                 {"max_position_embeddings", QLOW_MODEL_SEQ_LEN},
                 {"norm_eps", QLOW_MODEL_NORM_EPS},
                 {"rms_norm_eps", QLOW_MODEL_NORM_EPS},
                 {"rope_theta", QLOW_MODEL_ROPE_THETA}};

static void derive_config(qlow_model *m, int hf_names)
{
    size_t i, n_layers = 0;
    if (qlow_model_tensor_find(m, "tok_embeddings", &i) == QLOW_OK && m->tensors[i].ndim == 2) {
        qlow__model_set(m, QLOW_MODEL_VOCAB_SIZE, m->tensors[i].shape[0], 0.0);
        qlow__model_set(m, QLOW_MODEL_DIM, m->tensors[i].shape[1], 0.0);
        qlow__model_set(m, QLOW_MODEL_SHARED_CLASSIFIER, qlow_model_tensor_find(m, "output", &i) != QLOW_OK, 0.0);
    }
    for (;; n_layers++) {
        char name[64];
        if (!qlow__layer_name(name, sizeof name, (int64_t)n_layers, "attention.wq") ||
            qlow_model_tensor_find(m, name, &i) != QLOW_OK)
            break;
    }
    if (n_layers) qlow__model_set(m, QLOW_MODEL_N_LAYERS, (int64_t)n_layers, 0.0);
    if (qlow_model_tensor_find(m, "layers.0.feed_forward.w1", &i) == QLOW_OK)
        qlow__model_set(m, QLOW_MODEL_HIDDEN_DIM, m->tensors[i].shape[0], 0.0);
    qlow__model_set(m, QLOW_MODEL_QK_HF_ORDER, hf_names, 0.0);
    int heads_from_meta = 0;
    for (size_t k = 0; k < m->n_meta; k++)
        for (size_t r = 0; r < sizeof meta_keys / sizeof meta_keys[0]; r++) {
            double v;
            if (strcmp(m->meta[k].key, meta_keys[r].name) != 0 || !parse_decimal(m->meta[k].value, &v)) continue;
            int32_t key = meta_keys[r].key;
            if (key == QLOW_MODEL_NORM_EPS || key == QLOW_MODEL_ROPE_THETA) {
                qlow_model_set_float(m, key, v);
            } else if (v >= 1 && v <= INT32_MAX && v == floor(v)) {
                if (key == QLOW_MODEL_N_HEADS) heads_from_meta = (int)v;
                else qlow_model_set_int(m, key, (int64_t)v);
            }
        }
    /* Last, so that it can derive n_kv_heads from wk when the metadata did not give it. */
    if (heads_from_meta) qlow_model_set_int(m, QLOW_MODEL_N_HEADS, heads_from_meta);
}

qlow_status qlow__model_parse_safetensors(qlow_model *m)
{
    const unsigned char *d = m->map.data;
    if (m->map.size < 8) return QLOW_E_TRUNCATED;
    uint64_t n = qlow__ld64(d);
    if (n > ST_MAX_HEADER) return n > m->map.size - 8 ? QLOW_E_TRUNCATED : QLOW_E_FORMAT;
    if (n > m->map.size - 8) return QLOW_E_TRUNCATED;
    st_pass ps;
    memset(&ps, 0, sizeof ps);
    QLOW_TRY(parse_header(m, &ps, d + 8, (size_t)n));
    size_t names = ps.name_bytes + 64, arena;
    QLOW_TRY(qlow__add_size(names, (size_t)n + 1, &arena));
    QLOW_TRY(qlow__model_reserve(m, ps.n_tensors, ps.n_meta, arena));
    m->arena_cap = names;
    st_pass fill;
    memset(&fill, 0, sizeof fill);
    fill.fill = 1;
    fill.scratch = m->arena + names;
    fill.scratch_cap = (size_t)n + 1;
    QLOW_TRY(parse_header(m, &fill, d + 8, (size_t)n));
    QLOW_TRY(check_overlaps(m));
    /* Names must be sorted before derive_config looks tensors up (the caller re-sorts, harmlessly). */
    for (size_t i = 0; i < m->n_tensors; i++) m->by_name[i] = (uint32_t)i;
    QLOW_TRY(qlow__model_index_names(m));
    derive_config(m, fill.hf_names);
    return QLOW_OK;
}
