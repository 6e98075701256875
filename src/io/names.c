/* names.c - the canonical tensor naming (llama2.c / Meta style) and the map from Hugging Face names. */
#include "io/model_internal.h"

typedef struct name_rule {
    const char *from; /* source name without the "model." / "model.layers.{i}." prefix and ".weight" */
    const char *to;
} name_rule;

static const name_rule hf_global[] = {
    {"model.embed_tokens", "tok_embeddings"}, {"model.norm", "norm"}, {"lm_head", "output"}};
static const name_rule hf_layer[] = {
    {"self_attn.q_proj", "attention.wq"},       {"self_attn.k_proj", "attention.wk"},
    {"self_attn.v_proj", "attention.wv"},       {"self_attn.o_proj", "attention.wo"},
    {"mlp.gate_proj", "feed_forward.w1"},       {"mlp.down_proj", "feed_forward.w2"},
    {"mlp.up_proj", "feed_forward.w3"},         {"input_layernorm", "attention_norm"},
    {"post_attention_layernorm", "ffn_norm"}};
static const char *const canon_global[] = {"tok_embeddings", "norm", "output"};
static const char *const canon_layer[] = {"attention.wq",    "attention.wk",    "attention.wv",
                                          "attention.wo",    "feed_forward.w1", "feed_forward.w2",
                                          "feed_forward.w3", "attention_norm",  "ffn_norm"};

static int eq(const char *s, size_t len, const char *lit) { return strlen(lit) == len && memcmp(s, lit, len) == 0; }

size_t qlow__layer_name(char *dst, size_t cap, int64_t layer, const char *suffix)
{
    char num[24];
    size_t nd = 0, sl = strlen(suffix), pos = 0;
    if (layer >= 0) {
        uint64_t v = (uint64_t)layer;
        do {
            num[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
    }
    size_t need = (layer >= 0 ? 7 + nd + 1 : 0) + sl + 1;
    if (need > cap) return 0;
    if (layer >= 0) {
        memcpy(dst, "layers.", 7);
        pos = 7;
        while (nd) dst[pos++] = num[--nd];
        dst[pos++] = '.';
    }
    memcpy(dst + pos, suffix, sl);
    dst[pos + sl] = '\0';
    return pos + sl;
}

/* Parse "{digits}." at s; returns the number of characters consumed (0 if none) and the layer. */
static size_t parse_layer(const char *s, size_t len, int64_t *layer)
{
    size_t i = 0;
    int64_t v = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && i < 9) v = v * 10 + (s[i++] - '0');
    if (i == 0 || i >= len || s[i] != '.' || (i > 1 && s[0] == '0')) return 0;
    *layer = v;
    return i + 1;
}

static size_t copy_name(const char *src, size_t len, char *dst, size_t cap)
{
    if (len + 1 > cap) return 0;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return len;
}

size_t qlow__model_canonical_name(const char *src, size_t len, char *dst, size_t cap)
{
    static const char weight[] = ".weight";
    const size_t wl = sizeof weight - 1;
    if (len <= wl || memcmp(src + len - wl, weight, wl) != 0) return copy_name(src, len, dst, cap);
    size_t base = len - wl;
    for (size_t i = 0; i < sizeof hf_global / sizeof hf_global[0]; i++)
        if (eq(src, base, hf_global[i].from)) return qlow__layer_name(dst, cap, -1, hf_global[i].to);
    for (size_t i = 0; i < sizeof canon_global / sizeof canon_global[0]; i++)
        if (eq(src, base, canon_global[i])) return qlow__layer_name(dst, cap, -1, canon_global[i]);
    int64_t layer;
    size_t used;
    if (base > 13 && memcmp(src, "model.layers.", 13) == 0 && (used = parse_layer(src + 13, base - 13, &layer))) {
        const char *rest = src + 13 + used;
        size_t rl = base - 13 - used;
        for (size_t i = 0; i < sizeof hf_layer / sizeof hf_layer[0]; i++)
            if (eq(rest, rl, hf_layer[i].from)) return qlow__layer_name(dst, cap, layer, hf_layer[i].to);
    }
    if (base > 7 && memcmp(src, "layers.", 7) == 0 && (used = parse_layer(src + 7, base - 7, &layer))) {
        const char *rest = src + 7 + used;
        size_t rl = base - 7 - used;
        for (size_t i = 0; i < sizeof canon_layer / sizeof canon_layer[0]; i++)
            if (eq(rest, rl, canon_layer[i])) return qlow__layer_name(dst, cap, layer, canon_layer[i]);
    }
    return copy_name(src, len, dst, cap);
}
