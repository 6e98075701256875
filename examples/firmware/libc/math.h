/* math.h - declarations the freestanding build needs when a shared header includes <math.h> (the
 * firmware subset calls no libm function: the nm -u check would list it). Classification and constants
 * map to compiler builtins, so nothing here needs a libm. */
#ifndef QLOW_FW_MATH_H
#define QLOW_FW_MATH_H
#ifdef __cplusplus
extern "C" {
#endif
#define INFINITY (__builtin_inff())
#define NAN (__builtin_nanf(""))
#define HUGE_VALF (__builtin_huge_valf())
#define HUGE_VAL (__builtin_huge_val())
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define isfinite(x) __builtin_isfinite(x)
#define signbit(x) __builtin_signbit(x)
float fabsf(float x);
double fabs(double x);
float sqrtf(float x);
double sqrt(double x);
float rintf(float x);
double rint(double x);
float roundf(float x);
float floorf(float x);
float ceilf(float x);
float fmaxf(float a, float b);
float fminf(float a, float b);
float ldexpf(float x, int e);
float expf(float x);
float logf(float x);
double floor(double x);
double ceil(double x);
double log(double x);
double exp(double x);
#ifdef __cplusplus
}
#endif
#endif
