/* arm_neon.h (test shim) - plain C versions of the NEON intrinsics src/kernels/arm_neon.c uses, so
 * that tests/checks/kernels_neon_shim.sh can run the NEON kernels' logic on any host. Semantics follow
 * the Arm ACLE definitions (lane order, widening, saturation-free arithmetic). Not for production. */
#ifndef QLOW_TEST_NEON_SHIM_H
#define QLOW_TEST_NEON_SHIM_H
#include <stdint.h>
#include <string.h>

typedef struct { int8_t v[8]; } int8x8_t;
typedef struct { uint8_t v[8]; } uint8x8_t;
typedef struct { int8_t v[16]; } int8x16_t;
typedef struct { uint8_t v[16]; } uint8x16_t;
typedef struct { int16_t v[8]; } int16x8_t;
typedef struct { uint16_t v[8]; } uint16x8_t;
typedef struct { int32_t v[4]; } int32x4_t;

#define SHIM static inline
SHIM int32x4_t vdupq_n_s32(int32_t a) { int32x4_t r; for (int i = 0; i < 4; i++) r.v[i] = a; return r; }
SHIM uint8x16_t vdupq_n_u8(uint8_t a) { uint8x16_t r; for (int i = 0; i < 16; i++) r.v[i] = a; return r; }
SHIM int8x16_t vdupq_n_s8(int8_t a) { int8x16_t r; for (int i = 0; i < 16; i++) r.v[i] = a; return r; }
SHIM uint8x8_t vdup_n_u8(uint8_t a) { uint8x8_t r; for (int i = 0; i < 8; i++) r.v[i] = a; return r; }
SHIM int8x8_t vdup_n_s8(int8_t a) { int8x8_t r; for (int i = 0; i < 8; i++) r.v[i] = a; return r; }
SHIM uint8x16_t vld1q_u8(const uint8_t *p) { uint8x16_t r; memcpy(r.v, p, 16); return r; }
SHIM int8x16_t vld1q_s8(const int8_t *p) { int8x16_t r; memcpy(r.v, p, 16); return r; }
SHIM uint8x8_t vld1_u8(const uint8_t *p) { uint8x8_t r; memcpy(r.v, p, 8); return r; }
SHIM void vst1q_s32(int32_t *p, int32x4_t a) { memcpy(p, a.v, 16); }
SHIM uint8x16_t vandq_u8(uint8x16_t a, uint8x16_t b) { for (int i = 0; i < 16; i++) a.v[i] &= b.v[i]; return a; }
SHIM int8x16_t vandq_s8(int8x16_t a, int8x16_t b) { for (int i = 0; i < 16; i++) a.v[i] = (int8_t)(a.v[i] & b.v[i]); return a; }
SHIM uint8x16_t vorrq_u8(uint8x16_t a, uint8x16_t b) { for (int i = 0; i < 16; i++) a.v[i] |= b.v[i]; return a; }
SHIM uint8x8_t vand_u8(uint8x8_t a, uint8x8_t b) { for (int i = 0; i < 8; i++) a.v[i] &= b.v[i]; return a; }
SHIM uint8x16_t vshrq_n_u8(uint8x16_t a, int n) { for (int i = 0; i < 16; i++) a.v[i] = (uint8_t)(a.v[i] >> n); return a; }
SHIM int32x4_t vshlq_n_s32(int32x4_t a, int n) { for (int i = 0; i < 4; i++) a.v[i] = (int32_t)((uint32_t)a.v[i] << n); return a; }
SHIM int32x4_t vaddq_s32(int32x4_t a, int32x4_t b) { for (int i = 0; i < 4; i++) a.v[i] += b.v[i]; return a; }
/* vshl with a signed per-lane count: negative counts shift right */
SHIM uint8_t shim_shl_u8(uint8_t a, int8_t n) { return n >= 0 ? (uint8_t)(n >= 8 ? 0 : a << n) : (uint8_t)(-n >= 8 ? 0 : a >> -n); }
SHIM uint8x8_t vshl_u8(uint8x8_t a, int8x8_t n) { for (int i = 0; i < 8; i++) a.v[i] = shim_shl_u8(a.v[i], n.v[i]); return a; }
SHIM uint8x16_t vshlq_u8(uint8x16_t a, int8x16_t n) { for (int i = 0; i < 16; i++) a.v[i] = shim_shl_u8(a.v[i], n.v[i]); return a; }
SHIM uint8x16_t vcombine_u8(uint8x8_t a, uint8x8_t b) { uint8x16_t r; memcpy(r.v, a.v, 8); memcpy(r.v + 8, b.v, 8); return r; }
SHIM uint8x8_t vget_low_u8(uint8x16_t a) { uint8x8_t r; memcpy(r.v, a.v, 8); return r; }
SHIM int8x8_t vget_low_s8(int8x16_t a) { int8x8_t r; memcpy(r.v, a.v, 8); return r; }
SHIM int8x16_t vreinterpretq_s8_u8(uint8x16_t a) { int8x16_t r; memcpy(r.v, a.v, 16); return r; }
SHIM uint8x16_t vtstq_u8(uint8x16_t a, uint8x16_t b) { for (int i = 0; i < 16; i++) a.v[i] = (a.v[i] & b.v[i]) ? 0xff : 0; return a; }
SHIM int32_t vaddvq_s32(int32x4_t a) { return a.v[0] + a.v[1] + a.v[2] + a.v[3]; }
SHIM int16x8_t vmull_s8(int8x8_t a, int8x8_t b) { int16x8_t r; for (int i = 0; i < 8; i++) r.v[i] = (int16_t)(a.v[i] * b.v[i]); return r; }
SHIM int16x8_t vmull_high_s8(int8x16_t a, int8x16_t b) { int16x8_t r; for (int i = 0; i < 8; i++) r.v[i] = (int16_t)(a.v[8 + i] * b.v[8 + i]); return r; }
SHIM uint16x8_t vmull_u8(uint8x8_t a, uint8x8_t b) { uint16x8_t r; for (int i = 0; i < 8; i++) r.v[i] = (uint16_t)(a.v[i] * b.v[i]); return r; }
SHIM uint16x8_t vmull_high_u8(uint8x16_t a, uint8x16_t b) { uint16x8_t r; for (int i = 0; i < 8; i++) r.v[i] = (uint16_t)(a.v[8 + i] * b.v[8 + i]); return r; }
SHIM int16x8_t vpaddq_s16(int16x8_t a, int16x8_t b)
{
    int16x8_t r;
    for (int i = 0; i < 4; i++) {
        r.v[i] = (int16_t)(a.v[2 * i] + a.v[2 * i + 1]);
        r.v[4 + i] = (int16_t)(b.v[2 * i] + b.v[2 * i + 1]);
    }
    return r;
}
SHIM int32x4_t vpaddlq_s16(int16x8_t a) { int32x4_t r; for (int i = 0; i < 4; i++) r.v[i] = a.v[2 * i] + a.v[2 * i + 1]; return r; }
SHIM int16x8_t vpaddlq_s8(int8x16_t a) { int16x8_t r; for (int i = 0; i < 8; i++) r.v[i] = (int16_t)(a.v[2 * i] + a.v[2 * i + 1]); return r; }
SHIM uint16x8_t vshrq_n_u16(uint16x8_t a, int n) { for (int i = 0; i < 8; i++) a.v[i] = (uint16_t)(a.v[i] >> n); return a; }
SHIM uint8x8_t vmovn_u16(uint16x8_t a) { uint8x8_t r; for (int i = 0; i < 8; i++) r.v[i] = (uint8_t)a.v[i]; return r; }
SHIM uint8x16_t vsubq_u8(uint8x16_t a, uint8x16_t b) { for (int i = 0; i < 16; i++) a.v[i] = (uint8_t)(a.v[i] - b.v[i]); return a; }
SHIM uint8x16_t vmulq_u8(uint8x16_t a, uint8x16_t b) { for (int i = 0; i < 16; i++) a.v[i] = (uint8_t)(a.v[i] * b.v[i]); return a; }
#endif
