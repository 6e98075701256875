/* deps.h - the only file that touches libc headers beyond <stddef.h>/<stdint.h>.
 * Freestanding and no-malloc builds replace what is reached from here (zstd_deps.h idea). */
#ifndef QLOW_CORE_DEPS_H
#define QLOW_CORE_DEPS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h> /* memcpy, memset, memmove, memcmp: builtins in freestanding builds too */

#if !defined(QLOW_NO_MALLOC) && !defined(QLOW_FREESTANDING)
#define QLOW_HAVE_MALLOC 1
#endif

#endif
