/* tokenizer.c - llama2.c BPE. Merging keeps the symbols in a doubly linked list and candidate pairs in
 * a max-heap keyed by (score, -position), so encoding is O(n log n) and equals the literal "merge the
 * best pair, leftmost on ties, repeat" loop. */
#include "tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct llm_tokenizer {
    int n;
    char **str;
    int *len;
    float *score;
    int *hash_next, *hash_head; /* chained hash of the token strings */
    int hash_size;
};

static uint32_t hash_bytes(const char *s, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int lookup(const llm_tokenizer *t, const char *s, int n)
{
    for (int i = t->hash_head[hash_bytes(s, n) & (t->hash_size - 1)]; i >= 0; i = t->hash_next[i])
        if (t->len[i] == n && memcmp(t->str[i], s, (size_t)n) == 0) return i;
    return -1;
}

void llm_tokenizer_free(llm_tokenizer *t)
{
    if (!t) return;
    if (t->str)
        for (int i = 0; i < t->n; i++) free(t->str[i]);
    free(t->str);
    free(t->len);
    free(t->score);
    free(t->hash_next);
    free(t->hash_head);
    free(t);
}

llm_tokenizer *llm_tokenizer_load(const char *path, int vocab_size, char *err, size_t errn)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errn, "cannot open tokenizer: %s", path);
        return NULL;
    }
    llm_tokenizer *t = calloc(1, sizeof *t);
    int32_t maxlen;
    if (!t || vocab_size <= 0 || fread(&maxlen, 4, 1, f) != 1 || maxlen <= 0 || maxlen > 4096) goto bad;
    t->n = vocab_size;
    t->str = calloc((size_t)vocab_size, sizeof(char *));
    t->len = calloc((size_t)vocab_size, sizeof(int));
    t->score = calloc((size_t)vocab_size, sizeof(float));
    t->hash_next = malloc((size_t)vocab_size * sizeof(int));
    t->hash_size = 1;
    while (t->hash_size < 2 * vocab_size) t->hash_size *= 2;
    t->hash_head = malloc((size_t)t->hash_size * sizeof(int));
    if (!t->str || !t->len || !t->score || !t->hash_next || !t->hash_head) goto bad;
    for (int i = 0; i < t->hash_size; i++) t->hash_head[i] = -1;
    for (int i = 0; i < vocab_size; i++) {
        int32_t n;
        if (fread(&t->score[i], 4, 1, f) != 1 || fread(&n, 4, 1, f) != 1 || n < 0 || n > maxlen) goto bad;
        t->str[i] = malloc((size_t)n + 1);
        if (!t->str[i] || fread(t->str[i], 1, (size_t)n, f) != (size_t)n) goto bad;
        t->str[i][n] = 0;
        t->len[i] = n;
    }
    /* Insert in reverse so that lookups find the lowest id for duplicate strings. */
    for (int i = vocab_size - 1; i >= 0; i--) {
        uint32_t b = hash_bytes(t->str[i], t->len[i]) & (t->hash_size - 1);
        t->hash_next[i] = t->hash_head[b];
        t->hash_head[b] = i;
    }
    fclose(f);
    return t;
bad:
    fclose(f);
    llm_tokenizer_free(t);
    snprintf(err, errn, "malformed or truncated tokenizer: %s", path);
    return NULL;
}

int llm_tokenizer_vocab_size(const llm_tokenizer *t) { return t->n; }

typedef struct cand {
    float score;
    long pos;       /* start position of the left symbol: orders ties leftmost-first */
    long left, right;
    int left_ver, right_ver;
    int merged;
} cand;

static int cand_better(const cand *a, const cand *b)
{
    return a->score > b->score || (a->score == b->score && a->pos < b->pos);
}

typedef struct heap {
    cand *v;
    long n, cap;
} heap;

static int heap_push(heap *h, cand c)
{
    if (h->n == h->cap) {
        long nc = h->cap ? h->cap * 2 : 1024;
        cand *nv = realloc(h->v, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        h->v = nv;
        h->cap = nc;
    }
    long i = h->n++;
    while (i > 0) {
        long p = (i - 1) / 2;
        if (!cand_better(&c, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = c;
    return 0;
}

static cand heap_pop(heap *h)
{
    cand top = h->v[0], last = h->v[--h->n];
    long i = 0;
    for (;;) {
        long l = 2 * i + 1, r = l + 1, b = i;
        const cand *bc = &last;
        if (l < h->n && cand_better(&h->v[l], bc)) b = l, bc = &h->v[l];
        if (r < h->n && cand_better(&h->v[r], bc)) b = r;
        if (b == i) break;
        h->v[i] = h->v[b];
        i = b;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct sym {
    int id;
    int ver;
    long prev, next, pos;
} sym;

static int try_pair(const llm_tokenizer *t, const sym *s, long a, heap *h, char *buf)
{
    long b = s[a].next;
    if (b < 0) return 0;
    int la = t->len[s[a].id], lb = t->len[s[b].id];
    memcpy(buf, t->str[s[a].id], (size_t)la);
    memcpy(buf + la, t->str[s[b].id], (size_t)lb);
    int id = lookup(t, buf, la + lb);
    if (id < 0) return 0;
    cand c = {t->score[id], s[a].pos, a, b, s[a].ver, s[b].ver, id};
    return heap_push(h, c);
}

long llm_tokenizer_encode(const llm_tokenizer *t, const char *text, size_t len, int bos, int **out)
{
    size_t cap = len + 3;
    sym *s = malloc(cap * sizeof *s);
    int *res = malloc(cap * sizeof *res);
    int maxlen = 0;
    for (int i = 0; i < t->n; i++)
        if (t->len[i] > maxlen) maxlen = t->len[i];
    char *buf = malloc((size_t)maxlen * 2 + 8);
    heap h = {0};
    if (!s || !res || !buf) goto oom;
    long n = 0;
    if (len > 0) {
        int sp = lookup(t, " ", 1);
        if (sp >= 0) s[n].id = sp, n++;
    }
    for (size_t i = 0; i < len;) {
        size_t cl = 1;
        unsigned char c0 = (unsigned char)text[i];
        if (c0 >= 0xC0) {
            while (i + cl < len && cl < 4 && ((unsigned char)text[i + cl] & 0xC0) == 0x80) cl++;
        }
        int id = lookup(t, text + i, (int)cl);
        if (id >= 0) {
            s[n++].id = id;
        } else {
            for (size_t k = 0; k < cl; k++) s[n++].id = (unsigned char)text[i + k] + 3;
        }
        i += cl;
    }
    for (long i = 0; i < n; i++) {
        s[i].ver = 0;
        s[i].prev = i - 1;
        s[i].next = i + 1 < n ? i + 1 : -1;
        s[i].pos = i;
    }
    for (long i = 0; i + 1 < n; i++)
        if (try_pair(t, s, i, &h, buf)) goto oom;
    while (h.n > 0) {
        cand c = heap_pop(&h);
        sym *a = &s[c.left], *b = &s[c.right];
        if (a->ver != c.left_ver || b->ver != c.right_ver || a->next != c.right || a->id < 0 || b->id < 0) continue;
        a->id = c.merged;
        a->ver++;
        a->next = b->next;
        if (b->next >= 0) s[b->next].prev = c.left;
        b->id = -1;
        b->ver++;
        if (a->prev >= 0 && try_pair(t, s, a->prev, &h, buf)) goto oom;
        if (try_pair(t, s, c.left, &h, buf)) goto oom;
    }
    long m = 0;
    if (bos) res[m++] = 1;
    for (long i = n > 0 ? 0 : -1; i >= 0; i = s[i].next) res[m++] = s[i].id;
    free(s);
    free(buf);
    free(h.v);
    *out = res;
    return m;
oom:
    free(s);
    free(res);
    free(buf);
    free(h.v);
    return -1;
}

const char *llm_tokenizer_piece(const llm_tokenizer *t, int prev, int token, char byte_buf[2], size_t *len)
{
    if (token < 0 || token >= t->n) {
        *len = 0;
        return "";
    }
    const char *p = t->str[token];
    size_t n = (size_t)t->len[token];
    if (prev == 1 && n > 0 && p[0] == ' ') p++, n--;
    unsigned v;
    if (n == 6 && sscanf(p, "<0x%02X>", &v) == 1) {
        byte_buf[0] = (char)v;
        byte_buf[1] = 0;
        *len = 1;
        return byte_buf;
    }
    *len = n;
    return p;
}
