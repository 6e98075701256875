# The NEON kernels, built over tests/neon_shim/arm_neon.h (plain C intrinsics) on this host, must
# give the generic kernels' bytes in test_kernels_gemv; and the real file must compile for AArch64
# with clang when it is installed (with and without the dotprod extension).
set -u
cc=${CC:-cc}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok=1
$cc -std=c11 -O1 -D__ARM_NEON=1 -D__aarch64__=1 -DQLOW_TEST_FORCE_NEON -Itests/neon_shim -Iinclude -Isrc -Itests \
    src/core/*.c src/kernels/*.c tests/unit/test_kernels_gemv.c -o "$tmp/t" -lm 2>"$tmp/err" || { cat "$tmp/err"; ok=0; }
if [ $ok = 1 ]; then
  out=$("$tmp/t" | tail -3)
  echo "$out" | grep -q "isa 16" || ok=0
  echo "$out" | tail -1 | grep -q " 0 failed" || ok=0
  echo "$out" | sed 's/^/  /'
fi
if [ $ok = 1 ]; then echo "PASS NEON kernels (C shim) equal the generic kernels"; else echo "FAIL NEON kernels over the C shim"; fi
if command -v clang >/dev/null 2>&1 && echo 'int x;' | clang --target=aarch64-linux-gnu -ffreestanding -x c -c - -o /dev/null 2>/dev/null; then
  printf '#include <stddef.h>\nvoid *memcpy(void *, const void *, size_t);\nvoid *memset(void *, int, size_t);\nvoid *memmove(void *, const void *, size_t);\nint memcmp(const void *, const void *, size_t);\n' > "$tmp/string.h"
  for ext in "" "+dotprod"; do
    if clang --target=aarch64-linux-gnu -march=armv8.2-a$ext -std=c11 -O2 -ffreestanding -nostdlibinc -isystem "$tmp" \
        -isystem "$(clang -print-resource-dir)/include" -Iinclude -Isrc -Wall -Wextra -Werror -c src/kernels/arm_neon.c -o "$tmp/n.o"; then
      echo "PASS arm_neon.c compiles for AArch64 (armv8.2-a$ext)"
    else echo "FAIL arm_neon.c for AArch64 (armv8.2-a$ext)"; fi
  done
else
  echo "PASS AArch64 compile check skipped (no clang AArch64 target)"
fi
