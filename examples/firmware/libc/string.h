/* string.h - the only libc header the firmware build of libqlow sees. The library needs nothing from a
 * C library except these four functions (which compilers may also emit on their own for struct copies);
 * the firmware supplies them, or links a libc's. Keeping this shim first on the include path proves the
 * kernels compile without any libc headers (riscv64-unknown-elf-gcc from Debian ships none). */
#ifndef QLOW_FW_STRING_H
#define QLOW_FW_STRING_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#ifdef __cplusplus
}
#endif
#endif
