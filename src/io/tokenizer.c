/* tokenizer.c - llama2.c tokenizer files and the llama2.c BPE. The merge loop keeps the symbols in a
 * linked list and the candidate pairs in a binary heap ordered by (score desc, position asc); stale
 * entries are recognized by per-symbol version counters, so each step makes the same choice as the
 * literal "scan all pairs, take the best, leftmost on ties" loop, in O(n log n) overall. */
#include "io/io_internal.h"

#define TOK_MAGIC 0x746f6b6eu /* "tokn" */
#define MERGE_FLOOR -1e10f    /* llama2.c starts its best score here: lower scores never merge */

struct qlow_tokenizer {
    uint32_t magic;
    qlow_allocator alloc;
    int32_t n;
    int32_t max_token_length;
    float *scores;
    size_t *offs;    /* token i is bytes[offs[i] .. offs[i] + lens[i]), NUL-terminated */
    uint32_t *lens;
    char *bytes;
    uint32_t *slots; /* open addressing: id + 1, 0 = empty */
    uint32_t mask;
    unsigned char raw[256]; /* raw[b] = b: the pieces of byte tokens point here */
    void *block;
};

static uint32_t fnv_step(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}
#define FNV_SEED 2166136261u

/* Find the token spelled a[0..na) followed by b[0..nb); -1 if none. */
static int32_t lookup2(const qlow_tokenizer *t, const char *a, size_t na, const char *b, size_t nb)
{
    uint32_t h = fnv_step(fnv_step(FNV_SEED, a, na), b, nb);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        uint32_t s = t->slots[i];
        if (!s) return -1;
        uint32_t id = s - 1;
        const char *v = t->bytes + t->offs[id];
        if (t->lens[id] == na + nb && memcmp(v, a, na) == 0 && memcmp(v + na, b, nb) == 0) return (int32_t)id;
    }
}

static qlow_status scan(const unsigned char *d, size_t size, int32_t want, int32_t *count, size_t *total)
{
    if (size < 4) return QLOW_E_TRUNCATED;
    int32_t maxlen = (int32_t)qlow__ld32(d);
    if (maxlen < 0) return QLOW_E_FORMAT;
    size_t pos = 4, sum = 0;
    int32_t n = 0;
    while (want ? n < want : pos < size) {
        if (size - pos < 8) return QLOW_E_TRUNCATED;
        uint32_t sbits = qlow__ld32(d + pos);
        float score;
        memcpy(&score, &sbits, 4);
        int32_t len = (int32_t)qlow__ld32(d + pos + 4);
        if (!qlow__is_finite_f32(score) || len < 0 || len > maxlen) return QLOW_E_FORMAT;
        pos += 8;
        if (size - pos < (size_t)len) return QLOW_E_TRUNCATED;
        pos += (size_t)len;
        QLOW_TRY(qlow__add_size(sum, (size_t)len + 1, &sum));
        if (n == INT32_MAX) return QLOW_E_OVERFLOW;
        n++;
    }
    if (!want && pos != size) return QLOW_E_FORMAT;
    if (n < 259) return QLOW_E_FORMAT; /* must hold <unk>, BOS, EOS and the 256 byte tokens */
    *count = n;
    *total = sum;
    return QLOW_OK;
}

qlow_status qlow_tokenizer_open_buffer(const void *data, size_t size, int32_t vocab_size,
                                       const qlow_allocator *alloc, qlow_tokenizer **out)
{
    if (!out || (!data && size)) return QLOW_E_NULL_POINTER;
    if (vocab_size < 0) return QLOW_E_INVALID_ARG;
    const unsigned char *d = (const unsigned char *)data;
    int32_t n;
    size_t text_bytes;
    QLOW_TRY(scan(d, size, vocab_size, &n, &text_bytes));
    uint32_t cap = 1;
    while (cap < 2u * (uint32_t)n) cap <<= 1;
    size_t sizes[5] = {sizeof(qlow_tokenizer), (size_t)n * sizeof(float), ((size_t)n + 1) * sizeof(size_t),
                       (size_t)n * sizeof(uint32_t), (size_t)cap * sizeof(uint32_t)};
    size_t total = 0, at[5];
    for (int i = 0; i < 5; i++) {
        at[i] = total;
        QLOW_TRY(qlow__add_size(total, qlow__align_up(sizes[i], 16), &total));
    }
    QLOW_TRY(qlow__add_size(total, text_bytes, &total));
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    unsigned char *b = (unsigned char *)qlow__calloc(&a, total, 16);
    if (!b) return QLOW_E_NO_MEMORY;
    qlow_tokenizer *t = (qlow_tokenizer *)(void *)b;
    t->magic = TOK_MAGIC;
    t->alloc = a;
    t->block = b;
    t->n = n;
    t->max_token_length = (int32_t)qlow__ld32(d);
    t->scores = (float *)(void *)(b + at[1]);
    t->offs = (size_t *)(void *)(b + at[2]);
    t->lens = (uint32_t *)(void *)(b + at[3]);
    t->slots = (uint32_t *)(void *)(b + at[4]);
    t->bytes = (char *)(b + at[4] + qlow__align_up(sizes[4], 16));
    t->mask = cap - 1;
    for (int i = 0; i < 256; i++) t->raw[i] = (unsigned char)i;
    size_t pos = 4, o = 0;
    for (int32_t i = 0; i < n; i++) {
        uint32_t sbits = qlow__ld32(d + pos), len = qlow__ld32(d + pos + 4);
        memcpy(&t->scores[i], &sbits, 4);
        pos += 8;
        t->offs[i] = o;
        t->lens[i] = len;
        memcpy(t->bytes + o, d + pos, len);
        t->bytes[o + len] = '\0';
        pos += len;
        o += (size_t)len + 1;
        /* Insert unless an earlier token has the same bytes: lookups return the lowest id. */
        if (lookup2(t, t->bytes + t->offs[i], len, "", 0) >= 0) continue;
        uint32_t h = fnv_step(FNV_SEED, t->bytes + t->offs[i], len);
        uint32_t k = h & t->mask;
        while (t->slots[k]) k = (k + 1) & t->mask;
        t->slots[k] = (uint32_t)i + 1;
    }
    t->offs[n] = o;
    *out = t;
    return QLOW_OK;
}

qlow_status qlow_tokenizer_open(const char *path, int32_t vocab_size, const qlow_allocator *alloc,
                                qlow_tokenizer **out)
{
    if (!path || !out) return QLOW_E_NULL_POINTER;
    if (vocab_size < 0) return QLOW_E_INVALID_ARG;
    qlow_allocator a;
    qlow__allocator_copy(&a, alloc);
    qlow__file_map map;
    QLOW_TRY(qlow__file_map_open(path, 1, &a, &map));
    qlow_status st = qlow_tokenizer_open_buffer(map.data, map.size, vocab_size, &a, out);
    qlow__file_map_close(&map, &a);
    return st;
}

void qlow_tokenizer_close(qlow_tokenizer *tok)
{
    if (!tok || tok->magic != TOK_MAGIC) return;
    qlow_allocator a = tok->alloc;
    tok->magic = 0;
    qlow__free(&a, tok->block);
}

int32_t qlow_tokenizer_vocab_size(const qlow_tokenizer *tok) { return tok ? tok->n : 0; }

qlow_status qlow_tokenizer_token(const qlow_tokenizer *tok, int32_t id, const char **bytes, size_t *length,
                                 float *score)
{
    if (!tok) return QLOW_E_NULL_POINTER;
    if (id < 0 || id >= tok->n) return QLOW_E_INVALID_ARG;
    if (bytes) *bytes = tok->bytes + tok->offs[id];
    if (length) *length = tok->lens[id];
    if (score) *score = tok->scores[id];
    return QLOW_OK;
}

qlow_status qlow_tokenizer_lookup(const qlow_tokenizer *tok, const char *text, size_t len, int32_t *id)
{
    if (!tok || (!text && len) || !id) return QLOW_E_NULL_POINTER;
    int32_t r = lookup2(tok, text ? text : "", len, "", 0);
    if (r < 0) return QLOW_E_NOT_FOUND;
    *id = r;
    return QLOW_OK;
}

/* ---- encoding ---- */
typedef struct merge_cand {
    float score;
    int32_t left, right, merged;
    uint32_t vl, vr;
} merge_cand;

typedef struct enc_state {
    int32_t *tok, *prev, *next;
    uint32_t *ver;
    merge_cand *heap;
    size_t heap_n;
} enc_state;

static int cand_before(const merge_cand *a, const merge_cand *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(enc_state *s, merge_cand c)
{
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_before(&c, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = c;
}

static merge_cand heap_pop(enc_state *s)
{
    merge_cand top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!cand_before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

static void try_pair(const qlow_tokenizer *t, enc_state *s, int32_t l, int32_t r)
{
    int32_t a = s->tok[l], b = s->tok[r];
    int32_t id = lookup2(t, t->bytes + t->offs[a], t->lens[a], t->bytes + t->offs[b], t->lens[b]);
    if (id < 0 || !(t->scores[id] > MERGE_FLOOR)) return;
    merge_cand c = {t->scores[id], l, r, id, s->ver[l], s->ver[r]};
    heap_push(s, c);
}

static qlow_status enc_layout(size_t text_len, enc_state *s, unsigned char *base, size_t *bytes)
{
    size_t n, heap_cap, per, total, hb;
    QLOW_TRY(qlow__add_size(text_len, 2, &n));
    QLOW_TRY(qlow__mul_size(n, 3, &heap_cap));
    QLOW_TRY(qlow__mul_size(n, 4 * sizeof(int32_t), &per));
    QLOW_TRY(qlow__mul_size(heap_cap, sizeof(merge_cand), &hb));
    QLOW_TRY(qlow__add_size(per, hb, &total));
    QLOW_TRY(qlow__add_size(total, 64, &total));
    if (base) {
        unsigned char *p = (unsigned char *)qlow__align_up((size_t)(uintptr_t)base, 16);
        s->heap = (merge_cand *)(void *)p;
        p += hb;
        s->tok = (int32_t *)(void *)p;
        s->prev = s->tok + n;
        s->next = s->prev + n;
        s->ver = (uint32_t *)(void *)(s->next + n);
        s->heap_n = 0;
    }
    *bytes = total;
    return QLOW_OK;
}

qlow_status qlow_tokenizer_encode_workspace_size(const qlow_tokenizer *tok, size_t text_len, size_t *bytes)
{
    if (!tok || !bytes) return QLOW_E_NULL_POINTER;
    enc_state s;
    return enc_layout(text_len, &s, NULL, bytes);
}

static int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

qlow_status qlow_tokenizer_encode_wksp(const qlow_tokenizer *tok, const char *text, size_t text_len, int bos,
                                       int eos, int32_t *tokens, size_t capacity, size_t *n_tokens,
                                       void *workspace, size_t workspace_bytes)
{
    if (!tok || (!text && text_len) || !tokens || !n_tokens || !workspace) return QLOW_E_NULL_POINTER;
    enc_state s;
    size_t need;
    QLOW_TRY(enc_layout(text_len, &s, NULL, &need));
    if (workspace_bytes < need) return QLOW_E_WORKSPACE_TOO_SMALL;
    enc_layout(text_len, &s, (unsigned char *)workspace, &need);
    const unsigned char *u = (const unsigned char *)text;
    int32_t n = 0;
    /* BOS takes part in the merge loop exactly as in llama2.c (it never merges with real vocabularies). */
    if (bos) s.tok[n++] = QLOW_TOKEN_BOS;
    if (text_len) {
        int32_t sp;
        s.tok[n++] = qlow_tokenizer_lookup(tok, " ", 1, &sp) == QLOW_OK ? sp : ' ' + 3;
        for (size_t i = 0; i < text_len;) {
            size_t k = 1;
            while (i + k < text_len && k < 4 && is_cont(u[i + k])) k++;
            int32_t id = lookup2(tok, text + i, k, "", 0);
            if (id >= 0)
                s.tok[n++] = id;
            else
                for (size_t b = 0; b < k; b++) s.tok[n++] = (int32_t)u[i + b] + 3;
            i += k;
        }
    }
    for (int32_t i = 0; i < n; i++) {
        s.prev[i] = i - 1;
        s.next[i] = i + 1 < n ? i + 1 : -1;
        s.ver[i] = 0;
    }
    for (int32_t i = 0; i + 1 < n; i++) try_pair(tok, &s, i, i + 1);
    while (s.heap_n) {
        merge_cand c = heap_pop(&s);
        int32_t l = c.left, r = c.right;
        if (s.tok[l] < 0 || s.tok[r] < 0 || s.next[l] != r || s.ver[l] != c.vl || s.ver[r] != c.vr) continue;
        s.tok[l] = c.merged;
        s.ver[l]++;
        s.next[l] = s.next[r];
        if (s.next[r] >= 0) s.prev[s.next[r]] = l;
        s.tok[r] = -1;
        if (s.prev[l] >= 0) try_pair(tok, &s, s.prev[l], l);
        if (s.next[l] >= 0) try_pair(tok, &s, l, s.next[l]);
    }
    size_t count = eos ? 1u : 0u;
    for (int32_t i = 0; i >= 0 && i < n; i = s.next[i]) count++;
    if (count > capacity) return QLOW_E_BUFFER_TOO_SMALL;
    size_t o = 0;
    for (int32_t i = 0; i >= 0 && i < n; i = s.next[i]) tokens[o++] = s.tok[i];
    if (eos) tokens[o++] = QLOW_TOKEN_EOS;
    *n_tokens = o;
    return QLOW_OK;
}

qlow_status qlow_tokenizer_encode(const qlow_tokenizer *tok, const char *text, size_t text_len, int bos, int eos,
                                  int32_t *tokens, size_t capacity, size_t *n_tokens)
{
    size_t need;
    QLOW_TRY(qlow_tokenizer_encode_workspace_size(tok, text_len, &need));
    void *w = qlow__alloc(&tok->alloc, need, 16);
    if (!w) return QLOW_E_NO_MEMORY;
    qlow_status st = qlow_tokenizer_encode_wksp(tok, text, text_len, bos, eos, tokens, capacity, n_tokens, w, need);
    qlow__free(&tok->alloc, w);
    return st;
}

/* ---- decoding ---- */
static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

qlow_status qlow_tokenizer_decode_piece(const qlow_tokenizer *tok, int32_t prev, int32_t token, const char **piece,
                                        size_t *length)
{
    if (!tok || !piece || !length) return QLOW_E_NULL_POINTER;
    if (token < 0 || token >= tok->n) return QLOW_E_INVALID_ARG;
    const char *p = tok->bytes + tok->offs[token];
    size_t n = tok->lens[token];
    if (prev == QLOW_TOKEN_BOS && n && p[0] == ' ') {
        p++;
        n--;
    }
    int hi, lo;
    if (n == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>' && (hi = hex_digit(p[3])) >= 0 &&
        (lo = hex_digit(p[4])) >= 0) {
        p = (const char *)&tok->raw[hi * 16 + lo];
        n = 1;
    }
    *piece = p;
    *length = n;
    return QLOW_OK;
}

qlow_status qlow_tokenizer_decode(const qlow_tokenizer *tok, const int32_t *tokens, size_t n, char *out,
                                  size_t capacity, size_t *length)
{
    if (!tok || (!tokens && n) || !out || !length) return QLOW_E_NULL_POINTER;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t t = tokens[i];
            if (t < 0 || t >= tok->n) return QLOW_E_INVALID_ARG;
            if (t == QLOW_TOKEN_BOS || t == QLOW_TOKEN_EOS) continue;
            const char *p;
            size_t len;
            qlow_tokenizer_decode_piece(tok, i ? tokens[i - 1] : -1, t, &p, &len);
            if (pass) memcpy(out + o, p, len);
            o += len;
        }
        if (!pass) {
            if (o >= capacity) return QLOW_E_BUFFER_TOO_SMALL;
            total = o;
        }
    }
    out[total] = '\0';
    *length = total;
    return QLOW_OK;
}
