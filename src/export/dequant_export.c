/* dequant_export.c - fake-quant checkpoints: the source checkpoint rewritten with each packed matrix of
 * a .qlow file replaced by its dequantized rows, as llama2.c .bin or safetensors (F32/F16/source dtypes).
 * Unquantized tensors (and the llama2.c header and any bytes between tensors) are copied verbatim. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export_internal.h"
#include "io/model_internal.h"

typedef struct dq {
    qlow_ctx *ctx;
    const qlow_qfile *qfile;
    const qlow_model *src;
    qlow__xsink *sink;
    int32_t out_dtype; /* -1 = the source tensor's dtype */
} dq;

/* Index of the PACKED .qlow tensor named like source tensor i, or (size_t)-1. Shapes must agree. */
static qlow_status packed_index(const dq *d, size_t i, size_t *index)
{
    const qlow__mtensor *mt = &d->src->tensors[i];
    size_t k;
    *index = (size_t)-1;
    if (qlow_qfile_tensor_find(d->qfile, mt->name, &k) != QLOW_OK) return QLOW_OK;
    int32_t kind;
    int64_t shape[QLOW_VIEW_MAX_DIMS];
    qlow_status st = qlow_qfile_tensor_info(d->qfile, k, NULL, &kind, NULL, NULL, NULL, shape);
    if (st || kind != QLOW_QFILE_PACKED) return st;
    int64_t rows = mt->ndim >= 1 ? mt->shape[0] : 1, cols = 1;
    for (int32_t j = 1; j < mt->ndim; j++) cols *= mt->shape[j];
    if (mt->ndim < 2 || rows != shape[0] || cols != shape[1]) return QLOW_E_SHAPE;
    if (mt->dtype != QLOW_DTYPE_F32 && mt->dtype != QLOW_DTYPE_F16 && mt->dtype != QLOW_DTYPE_BF16)
        return QLOW_E_DTYPE;
    *index = k;
    return QLOW_OK;
}

/* Every packed .qlow tensor must replace a source tensor. */
static qlow_status check_coverage(const dq *d)
{
    size_t n, idx;
    qlow_status st = qlow_qfile_tensor_count(d->qfile, &n);
    for (size_t k = 0; k < n && !st; k++) {
        const char *name;
        int32_t kind;
        st = qlow_qfile_tensor_info(d->qfile, k, &name, &kind, NULL, NULL, NULL, NULL);
        if (!st && kind == QLOW_QFILE_PACKED && qlow_model_tensor_find(d->src, name, &idx) != QLOW_OK)
            st = QLOW_E_NOT_FOUND;
    }
    return st;
}

static int is_float(int32_t dtype)
{
    return dtype == QLOW_DTYPE_F32 || dtype == QLOW_DTYPE_F16 || dtype == QLOW_DTYPE_BF16;
}

static int32_t out_dtype_of(const dq *d, const qlow__mtensor *mt)
{
    return d->out_dtype < 0 || !is_float(mt->dtype) ? mt->dtype : d->out_dtype;
}

/* Write source tensor i: verbatim when it is not quantized and keeps its dtype, else converted. */
static qlow_status write_tensor(const dq *d, size_t i)
{
    const qlow__mtensor *mt = &d->src->tensors[i];
    const unsigned char *raw = d->src->map.data + mt->offset;
    size_t pk;
    qlow_status st = packed_index(d, i, &pk);
    if (st) return st;
    int32_t od = out_dtype_of(d, mt);
    if (pk == (size_t)-1 && od == mt->dtype) return qlow__xsink_write(d->sink, raw, mt->bytes);
    size_t count = mt->bytes / qlow__dtype_size(mt->dtype), fbytes;
    if ((st = qlow__mul_size(count, 4, &fbytes))) return st;
    const qlow_allocator *a = qlow__ctx_allocator(d->ctx);
    float *w = (float *)qlow__alloc(a, fbytes, 64);
    if (!w) return QLOW_E_NO_MEMORY;
    st = pk == (size_t)-1 ? qlow_model_tensor_read_f32(d->src, i, w, count)
                          : qlow__qfile_dequantize(d->ctx, d->qfile, pk, w, count);
    if (!st) {
        /* encode in place: 2-byte outputs fit in the front of the float buffer */
        unsigned char *b = (unsigned char *)w;
        for (size_t j = 0; j < count; j++) {
            if (od == QLOW_DTYPE_F32) {
                uint32_t u;
                memcpy(&u, &w[j], 4);
                qlow__st32(b + 4 * j, u);
            } else {
                uint16_t h = od == QLOW_DTYPE_F16 ? qlow_fp32_to_fp16(w[j]) : qlow_fp32_to_bf16(w[j]);
                b[2 * j] = (unsigned char)(h & 0xff);
                b[2 * j + 1] = (unsigned char)(h >> 8);
            }
        }
        st = qlow__xsink_write(d->sink, b, count * qlow__dtype_size(od));
    }
    qlow__free(a, w);
    return st;
}

static qlow_status write_llama2c(const dq *d)
{
    size_t pos = 0;
    const qlow_model *m = d->src;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const qlow__mtensor *mt = &m->tensors[i];
        if (mt->offset < pos) return QLOW_E_FORMAT;
        qlow_status st = qlow__xsink_write(d->sink, m->map.data + pos, mt->offset - pos);
        if (!st) st = write_tensor(d, i);
        if (st) return st;
        pos = mt->offset + mt->bytes;
    }
    return qlow__xsink_write(d->sink, m->map.data + pos, m->map.size - pos);
}

/* ---- safetensors ---- */

/* Growable text: counts only while buf is NULL. */
typedef struct text {
    char *buf;
    size_t len;
} text;

static void tput(text *t, const char *s, size_t n)
{
    if (t->buf) memcpy(t->buf + t->len, s, n);
    t->len += n;
}
static void tputs(text *t, const char *s) { tput(t, s, strlen(s)); }
static void tputu(text *t, uint64_t v)
{
    char num[24];
    size_t n = 0;
    do num[n++] = (char)('0' + v % 10), v /= 10; while (v);
    while (n) tput(t, &num[--n], 1);
}

static const struct {
    const char *canon, *hf;
} hf_names[] = {{"attention.wq", "self_attn.q_proj"}, {"attention.wk", "self_attn.k_proj"},
                {"attention.wv", "self_attn.v_proj"}, {"attention.wo", "self_attn.o_proj"},
                {"feed_forward.w1", "mlp.gate_proj"}, {"feed_forward.w2", "mlp.down_proj"},
                {"feed_forward.w3", "mlp.up_proj"},   {"attention_norm", "input_layernorm"},
                {"ffn_norm", "post_attention_layernorm"}};

/* Output name: Hugging Face names when the source's q/k rows are in rotate-half order (so that a reader
 * infers that order again), Meta names (canonical + ".weight") otherwise; other names unchanged. */
static void put_name(text *t, const char *canon, int hf)
{
    static const char *const globals[3][2] = {
        {"tok_embeddings", "model.embed_tokens"}, {"norm", "model.norm"}, {"output", "lm_head"}};
    for (int g = 0; g < 3; g++)
        if (!strcmp(canon, globals[g][0])) {
            tputs(t, globals[g][hf]);
            tputs(t, ".weight");
            return;
        }
    if (!strncmp(canon, "layers.", 7)) {
        const char *dot = strchr(canon + 7, '.');
        for (size_t k = 0; dot && k < sizeof hf_names / sizeof hf_names[0]; k++)
            if (!strcmp(dot + 1, hf_names[k].canon)) {
                if (hf) {
                    tputs(t, "model.");
                    tput(t, canon, (size_t)(dot + 1 - canon));
                    tputs(t, hf_names[k].hf);
                } else {
                    tputs(t, canon);
                }
                tputs(t, ".weight");
                return;
            }
    }
    tputs(t, canon); /* canonical names never need JSON escaping beyond these characters */
}

static const char *st_dtype(int32_t dtype)
{
    static const char *const names[] = {"F32", "F16", "BF16", "I8", "U8", "I32", "F64"};
    return names[dtype];
}

static void put_meta(text *t, const qlow_model *m)
{
    static const struct {
        const char *key;
        int32_t id;
        int is_float;
    } keys[] = {{"n_heads", QLOW_MODEL_N_HEADS, 0},   {"n_kv_heads", QLOW_MODEL_N_KV_HEADS, 0},
                {"seq_len", QLOW_MODEL_SEQ_LEN, 0},   {"norm_eps", QLOW_MODEL_NORM_EPS, 1},
                {"rope_theta", QLOW_MODEL_ROPE_THETA, 1}};
    tputs(t, "\"__metadata__\":{\"format\":\"pt\"");
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        int64_t iv;
        double fv;
        char num[40];
        if (keys[k].is_float) {
#if defined(QLOW_FREESTANDING)
            continue;
#else
            if (qlow_model_get_float(m, keys[k].id, &fv)) continue;
            /* the shortest spelling that reads back exactly (short spellings parse exactly in more
               readers, e.g. "1e-05" rather than "1.0000000000000001e-05") */
            for (int prec = 1; prec <= 17; prec++) {
                snprintf(num, sizeof num, "%.*g", prec, fv);
                if (strtod(num, NULL) == fv) break;
            }
#endif
        } else {
            if (qlow_model_get_int(m, keys[k].id, &iv) || iv < 0) continue;
            text nt = {num, 0};
            tputu(&nt, (uint64_t)iv);
            num[nt.len] = 0;
        }
        tputs(t, ",\"");
        tputs(t, keys[k].key);
        tputs(t, "\":\"");
        tputs(t, num);
        tputs(t, "\"");
    }
    tputs(t, "}");
}

static void build_header(const dq *d, text *t, int hf)
{
    const qlow_model *m = d->src;
    uint64_t off = 0;
    tputs(t, "{");
    put_meta(t, m);
    for (size_t i = 0; i < m->n_tensors; i++) {
        const qlow__mtensor *mt = &m->tensors[i];
        int32_t od = out_dtype_of(d, mt);
        uint64_t bytes = (uint64_t)(mt->bytes / qlow__dtype_size(mt->dtype)) * qlow__dtype_size(od);
        tputs(t, ",\"");
        put_name(t, mt->name, hf);
        tputs(t, "\":{\"dtype\":\"");
        tputs(t, st_dtype(od));
        tputs(t, "\",\"shape\":[");
        for (int32_t j = 0; j < mt->ndim; j++) {
            if (j) tputs(t, ",");
            tputu(t, (uint64_t)mt->shape[j]);
        }
        tputs(t, "],\"data_offsets\":[");
        tputu(t, off);
        tputs(t, ",");
        tputu(t, off + bytes);
        tputs(t, "]}");
        off += bytes;
    }
    tputs(t, "}");
    while (t->len % 8) tputs(t, " "); /* data starts 8-byte aligned */
}

static qlow_status write_safetensors(const dq *d)
{
    int64_t hf = 0;
    if (qlow_model_get_int(d->src, QLOW_MODEL_QK_HF_ORDER, &hf)) hf = 0;
    text count = {NULL, 0};
    build_header(d, &count, hf != 0);
    const qlow_allocator *a = qlow__ctx_allocator(d->ctx);
    text t = {(char *)qlow__alloc(a, count.len, 8), 0};
    if (!t.buf) return QLOW_E_NO_MEMORY;
    build_header(d, &t, hf != 0);
    unsigned char len8[8];
    qlow__st64(len8, (uint64_t)t.len);
    qlow_status st = qlow__xsink_write(d->sink, len8, 8);
    if (!st) st = qlow__xsink_write(d->sink, t.buf, t.len);
    qlow__free(a, t.buf);
    for (size_t i = 0; i < d->src->n_tensors && !st; i++) st = write_tensor(d, i);
    return st;
}

static qlow_status run(qlow_ctx *ctx, const qlow_params *params, const qlow_qfile *qfile, const qlow_model *source,
                       qlow__xsink *sink)
{
    int32_t format = (int32_t)qlow__param_int(params, QLOW_PARAM_EXPORT_FORMAT);
    int64_t kind = 0;
    qlow_model_get_int(source, QLOW_MODEL_SOURCE, &kind);
    dq d = {ctx, qfile, source, sink, -1};
    if (format == QLOW_EXPORT_FORMAT_SOURCE && kind == QLOW_MODEL_SOURCE_LLAMA2C) format = QLOW_EXPORT_FORMAT_LLAMA2C;
    if (format == QLOW_EXPORT_FORMAT_SAFETENSORS_F32) d.out_dtype = QLOW_DTYPE_F32;
    if (format == QLOW_EXPORT_FORMAT_SAFETENSORS_F16) d.out_dtype = QLOW_DTYPE_F16;
    qlow_status st = check_coverage(&d);
    if (st) return st;
    if (format == QLOW_EXPORT_FORMAT_LLAMA2C)
        return kind == QLOW_MODEL_SOURCE_LLAMA2C ? write_llama2c(&d) : QLOW_E_UNSUPPORTED;
    return write_safetensors(&d);
}

static qlow_status check_args(qlow_ctx *ctx, const qlow_params *params, const qlow_qfile *qfile,
                              const qlow_model *source)
{
    if (!ctx || !qfile || !source) return QLOW_E_NULL_POINTER;
    if (!qlow__host_is_le()) return QLOW_E_UNSUPPORTED;
    (void)params;
    return qlow__ctx_check(ctx);
}

qlow_status qlow_export_dequant(qlow_ctx *ctx, const qlow_params *params, const qlow_qfile *qfile,
                                const qlow_model *source, const char *path)
{
    if (!path) return QLOW_E_NULL_POINTER;
    qlow_status st = check_args(ctx, params, qfile, source);
    if (st) return st;
    qlow__xsink sink;
    if ((st = qlow__xsink_open_path(&sink, path, qlow__ctx_allocator(ctx)))) return st;
    return qlow__xsink_finish(&sink, run(ctx, params, qfile, source, &sink));
}

qlow_status qlow_export_dequant_callback(qlow_ctx *ctx, const qlow_params *params, const qlow_qfile *qfile,
                                         const qlow_model *source, qlow_write_fn write, void *user)
{
    if (!write) return QLOW_E_NULL_POINTER;
    qlow_status st = check_args(ctx, params, qfile, source);
    if (st) return st;
    qlow__xsink sink;
    qlow__xsink_open_callback(&sink, write, user);
    return run(ctx, params, qfile, source, &sink);
}
