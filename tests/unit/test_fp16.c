/* test_fp16.c - fp16 and bf16 conversions against a double-precision reference, exhaustively. */
#include "qtest.h"

/* Reference value of a binary16 pattern, from its definition. */
static double ref_half_value(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    double v;
    if (exp == 0) v = ldexp((double)man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexp(1024.0 + man, exp - 25);
    return sign ? -v : v;
}

/* Reference rounding of a float to the nearest binary16 (ties to even), by searching the two
 * neighbouring halves in double precision. */
static uint16_t ref_round_to_half(float f)
{
    if (isnan(f)) return 0x7e00;
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (a >= 65520.0) return sign | 0x7c00; /* 65504 + half an ulp(32) rounds to inf */
    uint16_t lo = 0;
    for (uint16_t h = 0; h < 0x7c00; h++) { /* largest finite half <= a */
        if (ref_half_value(h) <= a) lo = h; else break;
    }
    double vlo = ref_half_value(lo);
    if (vlo == a) return sign | lo;
    double vhi = ref_half_value((uint16_t)(lo + 1));
    double dlo = a - vlo, dhi = vhi - a;
    uint16_t r = dlo < dhi ? lo : dhi < dlo ? (uint16_t)(lo + 1) : ((lo & 1) ? (uint16_t)(lo + 1) : lo);
    return sign | r;
}

int main(void)
{
    int bad = 0;
    /* Every half converts to float exactly and back unchanged (NaNs stay NaN). */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = qlow_fp16_to_fp32((uint16_t)h);
        double r = ref_half_value((uint16_t)h);
        if (isnan(r)) {
            if (!isnan(f)) bad++;
            if (!isnan(qlow_fp16_to_fp32(qlow_fp32_to_fp16(f)))) bad++;
            continue;
        }
        if ((double)f != r || !signbit(f) != !signbit(r)) bad++;
        if (qlow_fp32_to_fp16(f) != (uint16_t)h) bad++;
    }
    QT_CHECK(bad == 0, "all 65536 halves round-trip exactly (%d bad)", bad);

    /* Midpoints and near-midpoints between every pair of adjacent finite halves (ties to even). */
    bad = 0;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        double a = ref_half_value((uint16_t)h), b = ref_half_value((uint16_t)(h + 1));
        float mids[3] = {(float)((a + b) / 2), nextafterf((float)((a + b) / 2), 0.0f),
                         nextafterf((float)((a + b) / 2), INFINITY)};
        for (int k = 0; k < 3; k++) {
            if (qlow_fp32_to_fp16(mids[k]) != ref_round_to_half(mids[k])) bad++;
            if (qlow_fp32_to_fp16(-mids[k]) != ref_round_to_half(-mids[k])) bad++;
        }
        if (h > 2000) h += 37; /* the search reference is O(n): sample the upper range */
    }
    QT_CHECK(bad == 0, "fp32->fp16 rounding at midpoints matches the reference (%d bad)", bad);
    QT_CHECK(qlow_fp32_to_fp16(65504.0f) == 0x7bff, "max half");
    QT_CHECK(qlow_fp32_to_fp16(65520.0f) == 0x7c00, "65520 rounds to inf");
    QT_CHECK(qlow_fp32_to_fp16(65519.99f) == 0x7bff, "just below rounds to max");
    QT_CHECK(qlow_fp32_to_fp16(1e-8f) == 0x0000, "tiny to zero");
    QT_CHECK(qlow_fp32_to_fp16(-INFINITY) == 0xfc00, "-inf");
    QT_CHECK(isnan(qlow_fp16_to_fp32(qlow_fp32_to_fp16(NAN))), "nan stays nan");

    /* bf16: every pattern round-trips; rounding ties to even. */
    bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = qlow_bf16_to_fp32((uint16_t)b);
        if (isnan(f)) { if (!isnan(qlow_bf16_to_fp32(qlow_fp32_to_bf16(f)))) bad++; continue; }
        if (qlow_fp32_to_bf16(f) != (uint16_t)b) bad++;
        uint32_t u = (uint32_t)b << 16;
        float up;
        u |= 0x8000u; /* exact midpoint to the next bf16 */
        memcpy(&up, &u, 4);
        uint16_t want = (uint16_t)((b & 1) ? b + 1 : b);
        if ((b & 0x7f80) != 0x7f80 && qlow_fp32_to_bf16(up) != want) bad++;
    }
    QT_CHECK(bad == 0, "bf16 exhaustive round-trip and ties-to-even (%d bad)", bad);
    return qt_finish();
}
