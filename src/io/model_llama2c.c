/* model_llama2c.c - the legacy llama2.c checkpoint: 7 int32 header fields, then fp32 tensors stacked
 * over layers in a fixed order. Every size is computed with overflow checks and the file size must be
 * exactly what the header implies, which catches truncation and foreign files alike. */
#include "io/model_internal.h"

#define LLAMA2C_HEADER 28

typedef struct l2c_part {
    const char *fmt; /* canonical name, or the part after "layers.{i}." when per-layer */
    int per_layer;
    int64_t rows, cols; /* cols 0 = a vector */
} l2c_part;

static qlow_status part_bytes(int64_t rows, int64_t cols, size_t *bytes)
{
    size_t n;
    QLOW_TRY(qlow__matrix_count(rows, cols ? cols : 1, &n));
    return qlow__mul_size(n, 4, bytes);
}

qlow_status qlow__model_parse_llama2c(qlow_model *m)
{
    const unsigned char *d = m->map.data;
    if (m->map.size < LLAMA2C_HEADER) return QLOW_E_TRUNCATED;
    int32_t h[7];
    for (int i = 0; i < 7; i++) h[i] = (int32_t)qlow__ld32(d + 4 * i);
    int64_t dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4], vocab = h[5], seq = h[6];
    int shared = vocab > 0;
    if (vocab < 0) vocab = -vocab;
    if (dim <= 0 || hidden <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv <= 0 || vocab <= 0 || seq <= 0)
        return QLOW_E_FORMAT;
    if (dim % n_heads || n_kv > n_heads || n_heads % n_kv) return QLOW_E_FORMAT;
    int64_t head_dim = dim / n_heads, kv_dim = n_kv * head_dim;
    if (head_dim % 2) return QLOW_E_FORMAT;

    const l2c_part parts[] = {
        {"tok_embeddings", 0, vocab, dim},
        {"attention_norm", 1, dim, 0},
        {"attention.wq", 1, dim, dim},
        {"attention.wk", 1, kv_dim, dim},
        {"attention.wv", 1, kv_dim, dim},
        {"attention.wo", 1, dim, dim},
        {"ffn_norm", 1, dim, 0},
        {"feed_forward.w1", 1, hidden, dim},
        {"feed_forward.w2", 1, dim, hidden},
        {"feed_forward.w3", 1, hidden, dim},
        {"norm", 0, dim, 0},
        {"freq_cis_real", 0, seq, head_dim / 2},
        {"freq_cis_imag", 0, seq, head_dim / 2},
        {"output", 0, vocab, dim},
    };
    const size_t n_parts = sizeof parts / sizeof parts[0] - (shared ? 1 : 0);

    /* Size pass: total bytes and tensor count, all overflow-checked. */
    size_t total = LLAMA2C_HEADER, count = 0;
    for (size_t i = 0; i < n_parts; i++) {
        size_t b, all;
        QLOW_TRY(part_bytes(parts[i].rows, parts[i].cols, &b));
        QLOW_TRY(qlow__mul_size(b, parts[i].per_layer ? (size_t)n_layers : 1, &all));
        QLOW_TRY(qlow__add_size(total, all, &total));
        count += parts[i].per_layer ? (size_t)n_layers : 1;
    }
    if (m->map.size < total) return QLOW_E_TRUNCATED;
    if (m->map.size > total) return QLOW_E_FORMAT;
    QLOW_TRY(qlow__model_reserve(m, count, 0, count * 48));

    size_t off = LLAMA2C_HEADER;
    for (size_t i = 0; i < n_parts; i++) {
        size_t b;
        QLOW_TRY(part_bytes(parts[i].rows, parts[i].cols, &b));
        int64_t shape[2] = {parts[i].rows, parts[i].cols};
        int32_t ndim = parts[i].cols ? 2 : 1;
        int64_t layers = parts[i].per_layer ? n_layers : 1;
        for (int64_t l = 0; l < layers; l++) {
            char name[64];
            size_t len = parts[i].per_layer ? qlow__layer_name(name, sizeof name, l, parts[i].fmt)
                                            : qlow__layer_name(name, sizeof name, -1, parts[i].fmt);
            if (!len) return QLOW_E_INTERNAL;
            QLOW_TRY(qlow__model_add_tensor(m, name, len, QLOW_DTYPE_F32, ndim, shape, off, b));
            off += b;
        }
    }
    qlow__model_set(m, QLOW_MODEL_DIM, dim, 0.0);
    qlow__model_set(m, QLOW_MODEL_HIDDEN_DIM, hidden, 0.0);
    qlow__model_set(m, QLOW_MODEL_N_LAYERS, n_layers, 0.0);
    qlow__model_set(m, QLOW_MODEL_N_HEADS, n_heads, 0.0);
    qlow__model_set(m, QLOW_MODEL_N_KV_HEADS, n_kv, 0.0);
    qlow__model_set(m, QLOW_MODEL_VOCAB_SIZE, vocab, 0.0);
    qlow__model_set(m, QLOW_MODEL_SEQ_LEN, seq, 0.0);
    qlow__model_set(m, QLOW_MODEL_SHARED_CLASSIFIER, shared, 0.0);
    qlow__model_set(m, QLOW_MODEL_NORM_EPS, 0, 1e-5);
    qlow__model_set(m, QLOW_MODEL_ROPE_THETA, 0, 10000.0);
    qlow__model_set(m, QLOW_MODEL_QK_HF_ORDER, 0, 0.0);
    return QLOW_OK;
}
