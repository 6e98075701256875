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
    uint8_t bigram[8192];   /* bit (a << 8 | b) set when some token contains bytes a, b adjacently */
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
        const unsigned char *tb = (const unsigned char *)t->bytes + t->offs[i];
        for (uint32_t j = 0; j + 1 < len; j++) {
            unsigned bit = (unsigned)tb[j] << 8 | tb[j + 1];
            t->bigram[bit >> 3] |= (uint8_t)(1u << (bit & 7));
        }
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

/* One symbol of the text; dead symbols have tok = -1. Kept together so that a merge touches one line. */
typedef struct sym {
    int32_t tok, prev, next;
    uint32_t ver;
} sym;

/* Memo of pair lookups (token a then b -> merged id or -1): the same few pairs recur all over a text. */
typedef struct pair_memo {
    int32_t a, b, id, unused;
} pair_memo;

typedef struct enc_state {
    sym *s;
    merge_cand *heap;
    size_t heap_n;
    pair_memo *memo;
    uint32_t memo_mask;
} enc_state;

static size_t memo_entries(size_t n)
{
    size_t m = 16;
    while (m < n && m < 4096) m <<= 1;
    return m;
}

static int32_t pair_lookup(const qlow_tokenizer *t, enc_state *e, int32_t a, int32_t b)
{
    pair_memo *m = &e->memo[((uint32_t)a * 2654435761u ^ (uint32_t)b * 40503u) & e->memo_mask];
    if (m->a == a && m->b == b) return m->id;
    m->a = a;
    m->b = b;
    m->id = lookup2(t, t->bytes + t->offs[a], t->lens[a], t->bytes + t->offs[b], t->lens[b]);
    return m->id;
}

static int cand_before(const merge_cand *a, const merge_cand *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(enc_state *e, merge_cand c)
{
    size_t i = e->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_before(&c, &e->heap[p])) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = c;
}

/* Put `c` at slot i and move it down to where it belongs among h[0..n). */
static void sift_down(merge_cand *h, size_t n, size_t i, merge_cand c)
{
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n) break;
        if (k + 1 < n && cand_before(&h[k + 1], &h[k])) k++;
        if (!cand_before(&h[k], &c)) break;
        h[i] = h[k];
        i = k;
    }
    h[i] = c;
}

static merge_cand heap_pop(enc_state *e)
{
    merge_cand top = e->heap[0], last = e->heap[--e->heap_n];
    if (e->heap_n) sift_down(e->heap, e->heap_n, 0, last);
    return top;
}

/* Queue the pair (l, r) if its concatenation is a token; `bulk` defers ordering to a heap build. */
static void try_pair(const qlow_tokenizer *t, enc_state *e, int32_t l, int32_t r, int bulk)
{
    int32_t id = pair_lookup(t, e, e->s[l].tok, e->s[r].tok);
    if (id < 0 || !(t->scores[id] > MERGE_FLOOR)) return;
    merge_cand c = {t->scores[id], l, r, id, e->s[l].ver, e->s[r].ver};
    if (bulk)
        e->heap[e->heap_n++] = c;
    else
        heap_push(e, c);
}

/* The llama2.c merge loop over symbols [lo, hi): always the best-scoring pair, leftmost on ties. */
static void merge_segment(const qlow_tokenizer *t, enc_state *e, int32_t lo, int32_t hi)
{
    sym *s = e->s;
    for (int32_t i = lo; i < hi; i++) {
        s[i].prev = i > lo ? i - 1 : -1;
        s[i].next = i + 1 < hi ? i + 1 : -1;
        s[i].ver = 0;
    }
    e->heap_n = 0;
    for (int32_t i = lo; i + 1 < hi; i++) try_pair(t, e, i, i + 1, 1);
    for (size_t i = e->heap_n / 2; i-- > 0;) sift_down(e->heap, e->heap_n, i, e->heap[i]);
    while (e->heap_n) {
        merge_cand c = heap_pop(e);
        int32_t l = c.left, r = c.right;
        if (s[l].tok < 0 || s[l].next != r || s[l].ver != c.vl || s[r].ver != c.vr) continue;
        s[l].tok = c.merged;
        s[l].ver++;
        s[l].next = s[r].next;
        if (s[r].next >= 0) s[s[r].next].prev = l;
        s[r].tok = -1;
        s[r].ver++;
        if (s[l].prev >= 0) try_pair(t, e, s[l].prev, l, 0);
        if (s[l].next >= 0) try_pair(t, e, l, s[l].next, 0);
    }
}

/* A merge can join the symbols on both sides of a boundary only if some token contains the byte pair
 * (last byte of the left token's string, first byte of the right one's): each merged string is the
 * concatenation of its parts. Where no token does, the two sides never interact, and merging each
 * side alone gives exactly the global result while keeping the working set small. */
static int boundary_is_closed(const qlow_tokenizer *t, int32_t left, int32_t right)
{
    uint32_t ll = t->lens[left], rl = t->lens[right];
    if (!ll || !rl) return 0;
    unsigned a = (unsigned char)t->bytes[t->offs[left] + ll - 1], b = (unsigned char)t->bytes[t->offs[right]];
    unsigned bit = a << 8 | b;
    return !(t->bigram[bit >> 3] & (1u << (bit & 7)));
}

static qlow_status enc_layout(size_t text_len, enc_state *e, unsigned char *base, size_t *bytes)
{
    size_t n, heap_cap, per, total, hb;
    QLOW_TRY(qlow__add_size(text_len, 2, &n));
    if (n > INT32_MAX) return QLOW_E_OVERFLOW;
    QLOW_TRY(qlow__mul_size(n, 3, &heap_cap));
    QLOW_TRY(qlow__mul_size(n, sizeof(sym), &per));
    QLOW_TRY(qlow__mul_size(heap_cap, sizeof(merge_cand), &hb));
    size_t memo = memo_entries(n);
    QLOW_TRY(qlow__add_size(per, hb, &total));
    QLOW_TRY(qlow__add_size(total, 64 + memo * sizeof(pair_memo), &total));
    if (base) {
        unsigned char *p = (unsigned char *)qlow__align_up((size_t)(uintptr_t)base, 16);
        e->memo = (pair_memo *)(void *)p;
        e->memo_mask = (uint32_t)memo - 1;
        for (size_t i = 0; i < memo; i++) e->memo[i].a = -1;
        p += memo * sizeof(pair_memo);
        e->heap = (merge_cand *)(void *)p;
        e->s = (sym *)(void *)(p + hb);
        e->heap_n = 0;
    }
    *bytes = total;
    return QLOW_OK;
}

qlow_status qlow_tokenizer_encode_workspace_size(const qlow_tokenizer *tok, size_t text_len, size_t *bytes)
{
    if (!tok || !bytes) return QLOW_E_NULL_POINTER;
    enc_state e;
    return enc_layout(text_len, &e, NULL, bytes);
}

static int is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

qlow_status qlow_tokenizer_encode_wksp(const qlow_tokenizer *tok, const char *text, size_t text_len, int bos,
                                       int eos, int32_t *tokens, size_t capacity, size_t *n_tokens,
                                       void *workspace, size_t workspace_bytes)
{
    if (!tok || (!text && text_len) || !tokens || !n_tokens || !workspace) return QLOW_E_NULL_POINTER;
    enc_state e;
    size_t need;
    QLOW_TRY(enc_layout(text_len, &e, NULL, &need));
    if (workspace_bytes < need) return QLOW_E_WORKSPACE_TOO_SMALL;
    enc_layout(text_len, &e, (unsigned char *)workspace, &need);
    const unsigned char *u = (const unsigned char *)text;
    sym *s = e.s;
    int32_t n = 0;
    /* BOS takes part in the merge loop exactly as in llama2.c (it never merges with real vocabularies). */
    if (bos) s[n++].tok = QLOW_TOKEN_BOS;
    if (text_len) {
        int32_t sp;
        s[n++].tok = qlow_tokenizer_lookup(tok, " ", 1, &sp) == QLOW_OK ? sp : ' ' + 3;
        for (size_t i = 0; i < text_len;) {
            size_t k = 1;
            while (i + k < text_len && k < 4 && is_cont(u[i + k])) k++;
            int32_t id = lookup2(tok, text + i, k, "", 0);
            if (id >= 0)
                s[n++].tok = id;
            else
                for (size_t b = 0; b < k; b++) s[n++].tok = (int32_t)u[i + b] + 3;
            i += k;
        }
    }
    int32_t lo = 0;
    for (int32_t i = 1; i <= n; i++)
        if (i == n || boundary_is_closed(tok, s[i - 1].tok, s[i].tok)) {
            merge_segment(tok, &e, lo, i);
            lo = i;
        }
    size_t count = eos ? 1u : 0u;
    for (int32_t i = 0; i < n; i++) count += s[i].tok >= 0;
    if (count > capacity) return QLOW_E_BUFFER_TOO_SMALL;
    size_t o = 0;
    for (int32_t i = 0; i < n; i++)
        if (s[i].tok >= 0) tokens[o++] = s[i].tok;
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
        /* A vocabulary without a " " token gets the encoder's dummy-prefix space as the byte token
         * <0x20>: it is dropped after BOS like a leading space, so that decoding undoes encoding. */
        n = prev == QLOW_TOKEN_BOS && hi * 16 + lo == ' ' ? 0 : 1;
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
