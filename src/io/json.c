/* json.c - strict JSON scanning for untrusted headers. Every read checks the end pointer first. */
#include "io/json.h"

static qlow_status need(const qlow__json *j, const unsigned char *p) { return p < j->end ? QLOW_OK : QLOW_E_TRUNCATED; }

int qlow__json_peek(qlow__json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
    return j->p < j->end ? *j->p : -1;
}

qlow_status qlow__json_expect(qlow__json *j, int c)
{
    int n = qlow__json_peek(j);
    if (n < 0) return QLOW_E_TRUNCATED;
    if (n != c) return QLOW_E_FORMAT;
    j->p++;
    return QLOW_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static qlow_status hex4(const qlow__json *j, const unsigned char *p, uint32_t *v)
{
    if (j->end - p < 4) return QLOW_E_TRUNCATED;
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return QLOW_E_FORMAT;
        r = r << 4 | (uint32_t)h;
    }
    *v = r;
    return QLOW_OK;
}

static size_t utf8_put(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

qlow_status qlow__json_string(qlow__json *j, char *dst, size_t cap, size_t *len)
{
    QLOW_TRY(qlow__json_expect(j, '"'));
    const unsigned char *p = j->p;
    size_t n = 0;
    for (;;) {
        if (p >= j->end) {
            j->p--; /* leave the cursor where it was */
            return QLOW_E_TRUNCATED;
        }
        unsigned c = *p++;
        unsigned char buf[4];
        size_t k = 1;
        buf[0] = (unsigned char)c;
        if (c == '"') break;
        if (c < 0x20) {
            j->p--;
            return QLOW_E_FORMAT;
        }
        if (c == '\\') {
            qlow_status st = need(j, p);
            if (st != QLOW_OK) {
                j->p--;
                return st;
            }
            unsigned e = *p++;
            uint32_t cp;
            switch (e) {
            case '"': case '\\': case '/': buf[0] = (unsigned char)e; break;
            case 'b': buf[0] = '\b'; break;
            case 'f': buf[0] = '\f'; break;
            case 'n': buf[0] = '\n'; break;
            case 'r': buf[0] = '\r'; break;
            case 't': buf[0] = '\t'; break;
            case 'u':
                st = hex4(j, p, &cp);
                if (st == QLOW_OK) {
                    p += 4;
                    if (cp >= 0xDC00 && cp <= 0xDFFF) st = QLOW_E_FORMAT;
                    else if (cp >= 0xD800 && cp <= 0xDBFF) {
                        uint32_t lo;
                        if (j->end - p < 6) st = QLOW_E_TRUNCATED;
                        else if (p[0] != '\\' || p[1] != 'u') st = QLOW_E_FORMAT;
                        else if ((st = hex4(j, p + 2, &lo)) == QLOW_OK) {
                            if (lo < 0xDC00 || lo > 0xDFFF) st = QLOW_E_FORMAT;
                            else {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                p += 6;
                            }
                        }
                    }
                }
                if (st != QLOW_OK) {
                    j->p--;
                    return st;
                }
                k = utf8_put(cp, buf);
                break;
            default:
                j->p--;
                return QLOW_E_FORMAT;
            }
        }
        if (dst) {
            if (k > cap - n) {
                j->p--;
                return QLOW_E_INTERNAL;
            }
            memcpy(dst + n, buf, k);
        }
        n += k;
    }
    j->p = p;
    *len = n;
    return QLOW_OK;
}

qlow_status qlow__json_number(qlow__json *j, const char **text, size_t *len)
{
    if (qlow__json_peek(j) < 0) return QLOW_E_TRUNCATED;
    const unsigned char *p = j->p, *s = p;
    if (*p == '-') p++;
    if (p >= j->end) return QLOW_E_TRUNCATED;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < j->end && *p >= '0' && *p <= '9') p++;
    else return QLOW_E_FORMAT;
    if (p < j->end && *p == '.') {
        p++;
        if (p >= j->end) return QLOW_E_TRUNCATED;
        if (*p < '0' || *p > '9') return QLOW_E_FORMAT;
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->end && (*p == '+' || *p == '-')) p++;
        if (p >= j->end) return QLOW_E_TRUNCATED;
        if (*p < '0' || *p > '9') return QLOW_E_FORMAT;
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    }
    *text = (const char *)s;
    *len = (size_t)(p - s);
    j->p = p;
    return QLOW_OK;
}

qlow_status qlow__json_u64(qlow__json *j, uint64_t *v)
{
    qlow__json save = *j;
    const char *t;
    size_t n;
    QLOW_TRY(qlow__json_number(j, &t, &n));
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9') {
            *j = save;
            return QLOW_E_FORMAT;
        }
        unsigned d = (unsigned)(t[i] - '0');
        if (r > (UINT64_MAX - d) / 10) {
            *j = save;
            return QLOW_E_OVERFLOW;
        }
        r = r * 10 + d;
    }
    *v = r;
    return QLOW_OK;
}

static qlow_status literal(qlow__json *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n) return QLOW_E_TRUNCATED;
    if (memcmp(j->p, lit, n) != 0) return QLOW_E_FORMAT;
    j->p += n;
    return QLOW_OK;
}

qlow_status qlow__json_skip(qlow__json *j, int depth)
{
    int c = qlow__json_peek(j);
    size_t len;
    const char *t;
    if (c < 0) return QLOW_E_TRUNCATED;
    if (c == '"') return qlow__json_string(j, NULL, 0, &len);
    if (c == 't') return literal(j, "true");
    if (c == 'f') return literal(j, "false");
    if (c == 'n') return literal(j, "null");
    if (c == '-' || (c >= '0' && c <= '9')) return qlow__json_number(j, &t, &len);
    if (c != '{' && c != '[') return QLOW_E_FORMAT;
    if (depth >= QLOW__JSON_MAX_DEPTH) return QLOW_E_FORMAT;
    int close = c == '{' ? '}' : ']';
    j->p++;
    if (qlow__json_peek(j) == close) {
        j->p++;
        return QLOW_OK;
    }
    for (;;) {
        if (close == '}') {
            QLOW_TRY(qlow__json_string(j, NULL, 0, &len));
            QLOW_TRY(qlow__json_expect(j, ':'));
        }
        QLOW_TRY(qlow__json_skip(j, depth + 1));
        int n = qlow__json_peek(j);
        if (n < 0) return QLOW_E_TRUNCATED;
        j->p++;
        if (n == close) return QLOW_OK;
        if (n != ',') return QLOW_E_FORMAT;
    }
}
