/* fuzz_tokenizer.c - libFuzzer target: the llama2.c tokenizer loader (qlow_tokenizer_open_buffer) on
 * arbitrary bytes, then encode/decode with the loaded vocabulary. Properties: pinned statuses; every
 * token's bytes are readable and found again by lookup; encode with its own workspace and the
 * allocating encode agree; the documented round trip decode(encode(text, bos)) == text holds whenever the
 * vocabulary has the 256 byte tokens <0x00>..<0xFF> at ids 3..258 (as every llama2.c tokenizer does);
 * nothing leaks. */
#include "fuzz_common.h"

/* The io subsystem's own invariant checker (src/io/fuzz_entry.c), run on every input as well. */
int qlow__fuzz_tokenizer(const uint8_t *data, size_t size);

static int tok_has_byte_tokens(const qlow_tokenizer *t)
{
    if (qlow_tokenizer_vocab_size(t) < 259) return 0;
    for (int b = 0; b < 256; b++) {
        const char *s = NULL;
        size_t len = 0;
        char want[8];
        snprintf(want, sizeof want, "<0x%02X>", b);
        if (qlow_tokenizer_token(t, 3 + b, &s, &len, NULL) != QLOW_OK || len != 6 || memcmp(s, want, 6) != 0) return 0;
    }
    return 1;
}

static void tok_encode_decode(const qlow_tokenizer *t, const char *text, size_t len, int round_trip)
{
    size_t cap = len + 3, wbytes = 0, n = 0, n2 = 0, outlen = 0;
    int32_t *ids = (int32_t *)malloc(cap * sizeof(int32_t));
    int32_t *ids2 = (int32_t *)malloc(cap * sizeof(int32_t));
    FUZZ_REQUIRE(ids && ids2 && qlow_tokenizer_encode_workspace_size(t, len, &wbytes) == QLOW_OK, "workspace size");
    void *ws = malloc(wbytes ? wbytes : 1);
    FUZZ_REQUIRE(ws, "oom");
    qlow_status s = qlow_tokenizer_encode_wksp(t, text, len, 1, 0, ids, cap, &n, ws, wbytes);
    FUZZ_REQUIRE(s == QLOW_OK && n <= cap, "encode_wksp %d", (int)s);
    if (wbytes) {
        size_t dummy = 0;
        s = qlow_tokenizer_encode_wksp(t, text, len, 1, 0, ids2, cap, &dummy, ws, wbytes - 1);
        FUZZ_REQUIRE(s == QLOW_E_WORKSPACE_TOO_SMALL, "short workspace %d", (int)s);
    }
    s = qlow_tokenizer_encode(t, text, len, 1, 0, ids2, cap, &n2);
    FUZZ_REQUIRE(s == QLOW_OK && n2 == n && memcmp(ids, ids2, n * sizeof(int32_t)) == 0, "encode and encode_wksp differ");
    for (size_t i = 0; i < n; i++)
        FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < qlow_tokenizer_vocab_size(t), "token id %d out of range", (int)ids[i]);
    size_t ocap = 8 * len + 64;
    char *out = (char *)malloc(ocap);
    FUZZ_REQUIRE(out, "oom");
    s = qlow_tokenizer_decode(t, ids, n, out, ocap, &outlen);
    FUZZ_REQUIRE(s == QLOW_OK || s == QLOW_E_BUFFER_TOO_SMALL, "decode %d", (int)s);
    if (s == QLOW_OK) {
        FUZZ_REQUIRE(outlen < ocap && out[outlen] == 0, "decode terminator");
        if (round_trip)
            FUZZ_REQUIRE(outlen == len && memcmp(out, text, len) == 0, "decode(encode(text)) != text (%zu bytes)", len);
    }
    for (size_t i = 0; i + 1 < n; i++) {
        const char *piece = NULL;
        size_t pl = 0;
        FUZZ_REQUIRE(qlow_tokenizer_decode_piece(t, ids[i], ids[i + 1], &piece, &pl) == QLOW_OK, "piece");
        fuzz_touch(piece, pl);
    }
    free(out);
    free(ws);
    free(ids);
    free(ids2);
}

static void tok_try(const uint8_t *data, size_t size, int32_t vocab, const char *text, size_t text_len)
{
    fuzz_alloc_state as;
    qlow_allocator a = fuzz_allocator(&as, 0);
    qlow_tokenizer *t = (qlow_tokenizer *)&t;
    qlow_tokenizer *const untouched = t;
    qlow_status s = qlow_tokenizer_open_buffer(data, size, vocab, &a, &t);
    FUZZ_REQUIRE(fuzz_status_known(s), "open status %d", (int)s);
    if (s != QLOW_OK) {
        FUZZ_REQUIRE(t == untouched, "failed open wrote its out-pointer");
        FUZZ_REQUIRE(as.live == 0, "%ld allocations leaked", as.live);
        return;
    }
    int32_t nv = qlow_tokenizer_vocab_size(t);
    FUZZ_REQUIRE(nv >= 0 && (vocab == 0 || nv == vocab), "vocab %d, asked %d", (int)nv, (int)vocab);
    for (int32_t id = 0; id < nv; id++) {
        const char *b = NULL;
        size_t len = 0;
        float score = 0;
        int32_t found = -1;
        FUZZ_REQUIRE(qlow_tokenizer_token(t, id, &b, &len, &score) == QLOW_OK && b, "token %d", (int)id);
        fuzz_touch(b, len + 1);
        FUZZ_REQUIRE(b[len] == 0, "token %d not followed by NUL", (int)id);
        FUZZ_REQUIRE(score == score && score - score == 0.0f, "token %d score not finite", (int)id);
        FUZZ_REQUIRE(qlow_tokenizer_lookup(t, b, len, &found) == QLOW_OK && found >= 0 && found <= id,
                     "lookup of token %d gives %d", (int)id, (int)found);
    }
    FUZZ_REQUIRE(qlow_tokenizer_token(t, nv, NULL, NULL, NULL) == QLOW_E_INVALID_ARG, "id past the end");
    FUZZ_REQUIRE(qlow_tokenizer_token(t, -1, NULL, NULL, NULL) == QLOW_E_INVALID_ARG, "negative id");
    int rt = tok_has_byte_tokens(t);
    static const char fixed[] = "Once upon a time, \xc3\xa9t\xc3\xa9 \xe2\x82\xac 42\n\x00\xff";
    tok_encode_decode(t, fixed, sizeof fixed - 1, rt);
    tok_encode_decode(t, text, text_len, rt);
    tok_encode_decode(t, "", 0, rt);
    qlow_tokenizer_close(t);
    FUZZ_REQUIRE(as.live == 0, "%ld allocations leaked", as.live);
}

static int fuzz_tokenizer(const uint8_t *data, size_t size)
{
    /* The input is the tokenizer file; its first bytes double as text to encode. */
    FUZZ_REQUIRE(qlow__fuzz_tokenizer(data, size) == 0, "io invariant checker qlow__fuzz_tokenizer failed");
    size_t text_len = size < 96 ? size : 96;
    tok_try(data, size, 0, (const char *)data, text_len);
    if (size >= 4) {
        int32_t vocab = (int32_t)(data[size - 1] | (data[size - 2] & 1) << 8);
        tok_try(data, size, vocab, (const char *)data + size - text_len, text_len);
    }
    return 0;
}

#ifndef QLOW_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_tokenizer(data, size); }
#endif
