#!/usr/bin/env bash
# CI stage: the kernel, format, I/O and PTQ1.61 unit tests built with clang's ASan+UBSan. Clang checks
# things GCC's UBSan does not (e.g. pointer arithmetic on a null pointer, which a Q2 kernel once did
# with Q2's absent high plane). Debian packages: clang libclang-rt-14-dev (installed by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang >/dev/null || { echo "SKIP clang not installed"; exit 0; }
out=build/ci-clangsan
# every format and kernel test (a new one joins by its name), plus the I/O and PTQ1.61 ones that walk
# packed data
tests="test_core test_fp16 $(ls tests/unit/test_formats_*.c tests/unit/test_kernels_*.c | xargs -n1 basename | sed 's/\.c$//')
  test_io_qfile test_quant_api test_ptq161_fitted test_ptq161_stream test_reliab_regress"
bins=""
for t in $tests; do bins="$bins $out/build/tests-noomp-san/$t"; done
make -s -j2 O=$out CC=clang SAN=address,undefined OPENMP=0 $bins
fail=0
for b in $bins; do
  log=$b.log
  if "$b" > "$log" 2>&1 && tail -n 1 "$log" | grep -q ' 0 failed$'; then echo "ok   $(basename "$b") ($(tail -n 1 "$log"))"
  else echo "FAIL $(basename "$b")"; grep -E '^FAIL|runtime error|ERROR: AddressSanitizer' -A3 "$log" | head -n 20; fail=1; fi
done
exit $fail
