/* test_io_tokenizer.c - the llama2.c tokenizer: file parsing (real tok512.bin and hostile copies),
 * encode against a literal O(n^2) llama2.c-style reference written here (sorted vocabulary, binary
 * search, rescan every pair each step) on random slices, decode(encode(text)) == text on the bundled
 * TinyStories text, and the token counts of reference_numbers.md. */
#include "qtest.h"
#include "io_testutil.h"

/* ---- the reference: a direct transcription of the llama2.c algorithm ---- */
typedef struct ref_vocab {
    int n;
    const char **str;
    size_t *len;
    float *score;
    int *sorted; /* ids by (bytes, id) */
} ref_vocab;

static const ref_vocab *cmp_ctx;
static int cmp_ids(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    size_t lx = cmp_ctx->len[x], ly = cmp_ctx->len[y];
    int c = memcmp(cmp_ctx->str[x], cmp_ctx->str[y], lx < ly ? lx : ly);
    if (c) return c;
    if (lx != ly) return lx < ly ? -1 : 1;
    return x - y;
}

static int ref_lookup(const ref_vocab *v, const char *s, size_t n)
{
    int lo = 0, hi = v->n;
    while (lo < hi) { /* lower bound: the lowest id among equal strings */
        int mid = (lo + hi) / 2, id = v->sorted[mid];
        size_t l = v->len[id];
        int c = memcmp(v->str[id], s, l < n ? l : n);
        if (!c) c = l < n ? -1 : l > n;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < v->n) {
        int id = v->sorted[lo];
        if (v->len[id] == n && memcmp(v->str[id], s, n) == 0) return id;
    }
    return -1;
}

static size_t ref_encode(const ref_vocab *v, const char *text, size_t len, int bos, int eos, int *out)
{
    size_t n = 0;
    char buf[4096];
    if (bos) out[n++] = 1;
    if (len) {
        int sp = ref_lookup(v, " ", 1);
        out[n++] = sp >= 0 ? sp : ' ' + 3;
    }
    size_t blen = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) != 0x80) blen = 0;
        buf[blen++] = (char)c;
        if (i + 1 < len && (((unsigned char)text[i + 1]) & 0xC0) == 0x80 && blen < 4) continue;
        int id = ref_lookup(v, buf, blen);
        if (id != -1)
            out[n++] = id;
        else
            for (size_t k = 0; k < blen; k++) out[n++] = (unsigned char)buf[k] + 3;
        blen = 0;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1;
        long best_idx = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            size_t la = v->len[out[i]], lb = v->len[out[i + 1]];
            memcpy(buf, v->str[out[i]], la);
            memcpy(buf + la, v->str[out[i + 1]], lb);
            int id = ref_lookup(v, buf, la + lb);
            if (id != -1 && v->score[id] > best) {
                best = v->score[id];
                best_id = id;
                best_idx = (long)i;
            }
        }
        if (best_idx == -1) break;
        out[best_idx] = best_id;
        for (size_t i = (size_t)best_idx + 1; i + 1 < n; i++) out[i] = out[i + 1];
        n--;
    }
    if (eos) out[n++] = 2;
    return n;
}

static void ref_init(ref_vocab *v, const qlow_tokenizer *t)
{
    v->n = qlow_tokenizer_vocab_size(t);
    v->str = (const char **)malloc(sizeof(char *) * (size_t)v->n);
    v->len = (size_t *)malloc(sizeof(size_t) * (size_t)v->n);
    v->score = (float *)malloc(sizeof(float) * (size_t)v->n);
    v->sorted = (int *)malloc(sizeof(int) * (size_t)v->n);
    for (int i = 0; i < v->n; i++) {
        qlow_tokenizer_token(t, i, &v->str[i], &v->len[i], &v->score[i]);
        v->sorted[i] = i;
    }
    cmp_ctx = v;
    qsort(v->sorted, (size_t)v->n, sizeof(int), cmp_ids);
}

static void ref_free(ref_vocab *v)
{
    free((void *)v->str);
    free(v->len);
    free(v->score);
    free(v->sorted);
}

static size_t encode(const qlow_tokenizer *t, const char *s, size_t n, int bos, int eos, int32_t *out, size_t cap)
{
    size_t got = 0;
    qlow_status st = qlow_tokenizer_encode(t, s, n, bos, eos, out, cap, &got);
    QT_CHECK(st == QLOW_OK, "encode -> %d", (int)st);
    return got;
}

static void test_file(const unsigned char *bytes, size_t size)
{
    qlow_tokenizer *t = NULL;
    QT_CHECK_OK(qlow_tokenizer_open_buffer(bytes, size, 0, NULL, &t));
    QT_CHECK(qlow_tokenizer_vocab_size(t) == 512, "vocab %d", qlow_tokenizer_vocab_size(t));
    const char *s;
    size_t len;
    float score;
    QT_CHECK_OK(qlow_tokenizer_token(t, 13, &s, &len, &score));
    QT_CHECK(len == 6 && memcmp(s, "<0x0A>", 6) == 0, "token 13 is <0x0A>");
    QT_CHECK_OK(qlow_tokenizer_token(t, 0, &s, &len, NULL));
    QT_CHECK(len == 5 && strcmp(s, "<unk>") == 0, "token 0 is <unk>");
    QT_CHECK_STATUS(qlow_tokenizer_token(t, 512, &s, &len, NULL), QLOW_E_INVALID_ARG);
    int32_t id = -1;
    QT_CHECK_OK(qlow_tokenizer_lookup(t, "<0x41>", 6, &id));
    QT_CHECK(id == 0x41 + 3, "byte token id %d", id);
    QT_CHECK_STATUS(qlow_tokenizer_lookup(t, "zzzzzzzzzz", 10, &id), QLOW_E_NOT_FOUND);
    qlow_tokenizer_close(t);

    char path[512];
    QT_CHECK_OK(qlow_tokenizer_open(qt_path("data/tok512.bin", path, sizeof path), 512, NULL, &t));
    qlow_tokenizer_close(t);
    /* Fewer tokens than the file holds is fine with an explicit count; too many is truncation. */
    QT_CHECK_OK(qlow_tokenizer_open_buffer(bytes, size, 300, NULL, &t));
    qlow_tokenizer_close(t);
    QT_CHECK_STATUS(qlow_tokenizer_open_buffer(bytes, size, 513, NULL, &t), QLOW_E_TRUNCATED);
    QT_CHECK_STATUS(qlow_tokenizer_open_buffer(bytes, size, -1, NULL, &t), QLOW_E_INVALID_ARG);

    /* Every truncation length gives a clean status, never a crash. */
    long bad = 0;
    for (size_t n = 0; n < size; n++) {
        qlow_tokenizer *x = NULL;
        qlow_status st = qlow_tokenizer_open_buffer(bytes, n, 512, NULL, &x);
        bad += st != QLOW_E_TRUNCATED || x != NULL;
        /* Without a count, a cut right after a token is a smaller valid vocabulary (>= 259 tokens). */
        x = NULL;
        st = qlow_tokenizer_open_buffer(bytes, n, 0, NULL, &x);
        if (st == QLOW_OK) {
            bad += qlow_tokenizer_vocab_size(x) < 259 || qlow_tokenizer_vocab_size(x) >= 512;
            qlow_tokenizer_close(x);
        } else {
            bad += (st != QLOW_E_TRUNCATED && st != QLOW_E_FORMAT) || x != NULL;
        }
    }
    QT_CHECK(bad == 0, "%ld truncations misreported", bad);

    /* Hostile fields: negative max length, negative and oversized token lengths, NaN scores. */
    unsigned char *copy = (unsigned char *)malloc(size);
    int32_t neg = -1, huge = 0x7fffffff;
    float nan_score = NAN;
    struct {
        size_t at;
        const void *val;
        qlow_status want;
    } edits[] = {{0, &neg, QLOW_E_FORMAT}, {8, &neg, QLOW_E_FORMAT}, {8, &huge, QLOW_E_FORMAT},
                 {4, &nan_score, QLOW_E_FORMAT}};
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        memcpy(copy, bytes, size);
        memcpy(copy + edits[e].at, edits[e].val, 4);
        QT_CHECK_STATUS(qlow_tokenizer_open_buffer(copy, size, 0, NULL, &t), edits[e].want);
    }
    /* Random byte flips: any status, never a crash, and a tokenizer that opens still encodes. */
    uint64_t seed = 42;
    long opened = 0;
    for (int r = 0; r < 400; r++) {
        memcpy(copy, bytes, size);
        for (int k = 0; k < 4; k++) {
            uint64_t x = (seed += 0x9e3779b97f4a7c15ull);
            x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
            copy[(x >> 8) % size] ^= (unsigned char)(1u << (x % 8));
        }
        if (qlow_tokenizer_open_buffer(copy, size, 0, NULL, &t) == QLOW_OK) {
            int32_t out[64];
            size_t n = 0;
            opened++;
            qlow_tokenizer_encode(t, "Once upon a time", 16, 1, 1, out, 64, &n);
            qlow_tokenizer_close(t);
        }
    }
    printf("INFO tokenizer byte flips: %ld of 400 corrupted files still opened\n", opened);
    free(copy);

    long points = 0;
    QT_ALLOC_FAIL_LOOP(&points, { st = qlow_tokenizer_open(path, 0, &qa, &t); }, { qlow_tokenizer_close(t); });
    QT_CHECK(points >= 1, "alloc points %ld", points);
    /* encode allocates its workspace through the tokenizer's allocator. */
    qt_alloc_state as = {0, 0, 0, 0};
    qlow_allocator counting = qt_allocator(&as);
    QT_CHECK_OK(qlow_tokenizer_open_buffer(bytes, size, 0, &counting, &t));
    int32_t out[32];
    size_t n = 0;
    as.fail_at = as.total + 1;
    QT_CHECK_STATUS(qlow_tokenizer_encode(t, "Once upon a time", 16, 1, 0, out, 32, &n), QLOW_E_NO_MEMORY);
    QT_CHECK(n == 0, "no output on failure");
    as.fail_at = 0;
    QT_CHECK_OK(qlow_tokenizer_encode(t, "Once upon a time", 16, 1, 0, out, 32, &n));
    qlow_tokenizer_close(t);
    QT_CHECK(as.live == 0, "tokenizer leaks %ld", as.live);
}

static void test_encode(const qlow_tokenizer *t, const char *text, size_t text_len)
{
    ref_vocab v;
    ref_init(&v, t);
    int32_t *got = (int32_t *)malloc(sizeof(int32_t) * 1100);
    int *want = (int *)malloc(sizeof(int) * 1100);
    uint64_t seed = 7;
    long mismatches = 0, total_tokens = 0;
    for (int r = 0; r < 300; r++) {
        uint64_t x = (seed += 0x9e3779b97f4a7c15ull);
        x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ull;
        size_t len = (size_t)(x % 400), start = (size_t)((x >> 20) % (text_len - len));
        int bos = r % 2, eos = r % 3 == 0;
        char *slice = (char *)malloc(len + 1);
        memcpy(slice, text + start, len);
        if (r % 5 == 4) /* random bytes: invalid UTF-8, NUL bytes, byte fallback everywhere */
            for (size_t i = 0; i < len; i++) slice[i] = (char)((x >> (i % 50)) * 31 + i * 97);
        size_t n = encode(t, slice, len, bos, eos, got, 1100);
        size_t m = ref_encode(&v, slice, len, bos, eos, want);
        int same = n == m;
        for (size_t i = 0; same && i < n; i++) same = got[i] == want[i];
        mismatches += !same;
        total_tokens += (long)n;
        if (bos) {
            char back[1200];
            size_t bl = 0;
            QT_CHECK_OK(qlow_tokenizer_decode(t, got, n, back, sizeof back, &bl));
            QT_CHECK(bl == len && memcmp(back, slice, len) == 0, "decode(encode) slice %d", r);
        }
        free(slice);
    }
    QT_CHECK(mismatches == 0, "%ld of 300 slices differ from the O(n^2) reference", mismatches);
    printf("INFO tokenizer matched the literal reference on 300 slices (%ld tokens)\n", total_tokens);
    free(got);
    free(want);
    ref_free(&v);

    /* Fixed cases. */
    int32_t out[16];
    size_t n = 0;
    QT_CHECK_OK(qlow_tokenizer_encode(t, "", 0, 1, 1, out, 16, &n));
    QT_CHECK(n == 2 && out[0] == 1 && out[1] == 2, "empty text gives BOS EOS");
    QT_CHECK_STATUS(qlow_tokenizer_encode(t, "Once upon a time", 16, 1, 1, out, 2, &n), QLOW_E_BUFFER_TOO_SMALL);
    size_t need = 0;
    QT_CHECK_OK(qlow_tokenizer_encode_workspace_size(t, 16, &need));
    char small[8];
    QT_CHECK_STATUS(qlow_tokenizer_encode_wksp(t, "Once", 4, 1, 0, out, 16, &n, small, sizeof small),
                    QLOW_E_WORKSPACE_TOO_SMALL);
    QT_CHECK_STATUS(qlow_tokenizer_encode_workspace_size(t, SIZE_MAX, &need), QLOW_E_OVERFLOW);
    /* The workspace variant needs no alignment and gives the allocating variant's result. */
    QT_CHECK_OK(qlow_tokenizer_encode_workspace_size(t, 16, &need));
    char *ws = (char *)malloc(need + 1);
    int32_t out2[16];
    size_t n2 = 0;
    QT_CHECK_OK(qlow_tokenizer_encode_wksp(t, "Once upon a time", 16, 1, 1, out2, 16, &n2, ws + 1, need));
    QT_CHECK_OK(qlow_tokenizer_encode(t, "Once upon a time", 16, 1, 1, out, 16, &n));
    QT_CHECK(n == n2 && memcmp(out, out2, n * sizeof(int32_t)) == 0, "workspace variant agrees");
    free(ws);
    const char *piece;
    size_t pl;
    QT_CHECK_OK(qlow_tokenizer_decode_piece(t, 5, 13, &piece, &pl));
    QT_CHECK(pl == 1 && piece[0] == '\n', "byte token decodes to its byte");
    char tiny[4];
    int32_t seq[3] = {1, 400, 2};
    QT_CHECK_STATUS(qlow_tokenizer_decode(t, seq, 3, tiny, 1, &pl), QLOW_E_BUFFER_TOO_SMALL);
    seq[1] = 9999;
    QT_CHECK_STATUS(qlow_tokenizer_decode(t, seq, 3, tiny, 4, &pl), QLOW_E_INVALID_ARG);
}

/* reference_numbers.md: the whole file encoded once without BOS gives 393,018 tokens, and the first
 * 400 paragraphs give 38,675 scored tokens. */
static void test_corpus(const qlow_tokenizer *t, const char *text, size_t len)
{
    size_t cap = len + 3, n = 0;
    int32_t *tok = (int32_t *)malloc(sizeof(int32_t) * cap);
    QT_CHECK_OK(qlow_tokenizer_encode(t, text, len, 0, 0, tok, cap, &n));
    QT_CHECK(n == 393018, "stream tokens %zu, want 393018", n);
    printf("INFO tokenizer: whole TinyStories head = %zu tokens (reference 393018)\n", n);
    QT_CHECK_OK(qlow_tokenizer_encode(t, text, len, 1, 0, tok, cap, &n));
    char *back = (char *)malloc(len + 1);
    size_t bl = 0;
    QT_CHECK_OK(qlow_tokenizer_decode(t, tok, n, back, len + 1, &bl));
    QT_CHECK(bl == len && memcmp(back, text, len) == 0, "decode(encode(whole file)) == file");

    size_t i = 0, paragraphs = 0, scored = 0;
    int roundtrip_ok = 1;
    while (i < len && paragraphs < 400) {
        /* Next separator: "\n", whitespace containing another "\n", up to its last "\n". */
        size_t j = i, sep_a = len, sep_b = len;
        for (; j < len; j++) {
            if (text[j] != '\n') continue;
            size_t k = j + 1, last = 0;
            while (k < len && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r' ||
                               text[k] == '\f' || text[k] == '\v')) {
                if (text[k] == '\n') last = k;
                k++;
            }
            if (last) {
                sep_a = j;
                sep_b = last + 1;
                break;
            }
        }
        size_t a = i, b = sep_a;
        while (a < b && (text[a] == ' ' || text[a] == '\n' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\n' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        if (b > a) {
            QT_CHECK_OK(qlow_tokenizer_encode(t, text + a, b - a, 1, 0, tok, cap, &n));
            scored += n - 1;
            paragraphs++;
            roundtrip_ok &= qlow_tokenizer_decode(t, tok, n, back, len + 1, &bl) == QLOW_OK && bl == b - a &&
                            memcmp(back, text + a, bl) == 0;
        }
        i = sep_b;
    }
    QT_CHECK(roundtrip_ok, "paragraph round trips");
    QT_CHECK(paragraphs == 400 && scored == 38675, "paragraphs %zu scored %zu, want 400 / 38675", paragraphs, scored);
    free(back);
    free(tok);
}

/* A synthetic vocabulary over a tiny alphabet, with many score ties, duplicate strings and tokens that
 * end or start with spaces, so that every merge order subtlety and segment boundary case appears. */
static void test_synthetic(void)
{
    static const char alpha[] = "ab c";
    unsigned char *file = (unsigned char *)malloc(1 << 16);
    size_t pos = 4;
    int32_t maxlen = 8;
    memcpy(file, &maxlen, 4);
    uint64_t seed = 31337;
    for (int id = 0; id < 259 + 220; id++) {
        char str[16];
        int32_t len;
        float score;
        if (id == 0) len = sprintf(str, "<unk>");
        else if (id == 1) len = sprintf(str, "\n<s>\n");
        else if (id == 2) len = sprintf(str, "\n</s>\n");
        else if (id < 259) len = sprintf(str, "<0x%02X>", id - 3);
        else {
            uint64_t x = (seed += 0x9e3779b97f4a7c15ull);
            x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
            len = id < 263 ? 1 : 2 + (int32_t)(x % 4);
            for (int k = 0; k < len; k++) str[k] = id < 263 ? alpha[id - 259] : alpha[(x >> (8 + 2 * k)) % 4];
            str[len] = 0;
        }
        uint64_t y = (seed += 0x9e3779b97f4a7c15ull);
        score = id < 259 ? 0.0f : -(float)((y >> 20) % 4); /* heavy ties */
        memcpy(file + pos, &score, 4);
        memcpy(file + pos + 4, &len, 4);
        memcpy(file + pos + 8, str, (size_t)len);
        pos += 8 + (size_t)len;
    }
    qlow_tokenizer *t = NULL;
    QT_CHECK_OK(qlow_tokenizer_open_buffer(file, pos, 0, NULL, &t));
    if (!t) {
        free(file);
        return;
    }
    ref_vocab v;
    ref_init(&v, t);
    long mismatches = 0;
    for (int r = 0; r < 1500; r++) {
        char text[128];
        uint64_t x = (seed += 0x9e3779b97f4a7c15ull);
        x = (x ^ (x >> 29)) * 0x94d049bb133111ebull;
        size_t len = (size_t)(x % 90), k = 0;
        while (k < len) {
            uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
            if (z % 17 == 0 && k + 2 <= len) {
                text[k++] = (char)0xc3; /* UTF-8 e-acute: not in the vocabulary -> byte tokens */
                text[k++] = (char)0xa9;
            } else if (z % 23 == 0) {
                text[k++] = (char)0xff;
            } else {
                text[k++] = alpha[(z >> 8) % 4];
            }
        }
        int32_t got[256];
        int want[256];
        size_t n = encode(t, text, len, r % 2, r % 3 == 0, got, 256);
        size_t m = ref_encode(&v, text, len, r % 2, r % 3 == 0, want);
        int same = n == m;
        for (size_t i = 0; same && i < n; i++) same = got[i] == want[i];
        mismatches += !same;
    }
    QT_CHECK(mismatches == 0, "synthetic vocabulary: %ld of 1500 texts differ from the reference", mismatches);
    ref_free(&v);
    qlow_tokenizer_close(t);
    free(file);
}

int main(void)
{
    test_synthetic();
    size_t tsize = 0, xsize = 0;
    unsigned char *tb = io_read_data("data/tok512.bin", &tsize);
    unsigned char *text = io_read_data("data/tinystories_validation_head.txt", &xsize);
    QT_CHECK(tb && text, "data files");
    if (!tb || !text) return qt_finish();
    test_file(tb, tsize);
    qlow_tokenizer *t = NULL;
    QT_CHECK_OK(qlow_tokenizer_open_buffer(tb, tsize, 512, NULL, &t));
    if (t) {
        test_encode(t, (const char *)text, xsize);
        test_corpus(t, (const char *)text, xsize);
        qlow_tokenizer_close(t);
    }
    free(tb);
    free(text);
    return qt_finish();
}
