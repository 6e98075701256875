#!/usr/bin/env bash
# CI stage of the reliability gates (issue 8), run by .ci/run from the repository root.
# Always: libFuzzer smoke run of every tests/fuzz/fuzz_<target>.c under clang ASan+UBSan,
#   QLOW_FUZZ_SECONDS (default 15) seconds each, starting from the committed corpora (6 targets: 90 s of
#   fuzzing plus the clang ASan build of the library, about 3 minutes on 2 busy cores).
# The ASan/UBSan unit suite and the abidiff ABI gate (tests/checks/abi_baseline.sh, part of make check)
# already run in .ci/run itself.
# With QLOW_CI_FULL=1 (nightly-style): the TSan suite (make tsan: clang build with OpenMP + archer, about
# 13 minutes on 2 busy cores), Valgrind memcheck of the unit suite (about 10 minutes) and a longer fuzz
# run (QLOW_FUZZ_SECONDS defaults to 300 per target).
# Needs (apt): clang libclang-rt-14-dev libomp-14-dev valgrind abigail-tools.
set -euo pipefail
t0=$(date +%s)
full=${QLOW_CI_FULL:-0}
secs=${QLOW_FUZZ_SECONDS:-$([ "$full" = 1 ] && echo 300 || echo 15)}

echo "-- fuzz smoke: ${secs}s per target"
make -s --no-print-directory fuzz FUZZ_SECONDS="$secs"

if [ "$full" = 1 ]; then
  echo "-- ThreadSanitizer suite"
  make -s --no-print-directory tsan | tail -n 3
  echo "-- Valgrind memcheck suite"
  make -s --no-print-directory valgrind | tail -n 2
else
  echo "-- TSan and Valgrind suites skipped (set QLOW_CI_FULL=1)"
fi
echo "INFO ci_reliab stage took $(( $(date +%s) - t0 )) s"
