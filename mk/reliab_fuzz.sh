#!/usr/bin/env bash
# usage: mk/reliab_fuzz.sh build|run TARGET...   (called by `make fuzz` / `make fuzz-build`)
# build: the library with clang, ASan+UBSan (-fno-sanitize-recover=all) and libFuzzer coverage
#        instrumentation into $FUZZ_ROOT, then one libFuzzer binary per tests/fuzz/fuzz_<target>.c.
# run:   each target for $FUZZ_SECONDS seconds, starting from tests/fuzz/corpus/<target>/ plus the
#        reproducers in tests/regress/<target>/. New inputs go to $FUZZ_ROOT/corpus/<target>/ (the
#        repository corpus is never modified); crashes to $FUZZ_ROOT/artifacts/<target>/. Prints one
#        summary line per target with executions and coverage; fails if any target crashed.
set -u
mode=$1; shift
root=${FUZZ_ROOT:-build/reliab/fuzz}
cc=${FUZZ_CC:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
mkdir -p "$root/bin"

if [ "$mode" = build ]; then
  ${MAKE:-make} -s --no-print-directory O="$root" CC="$cc" OPENMP=0 SAN=address,undefined \
      EXTRA_CFLAGS="-fsanitize=fuzzer-no-link" "$root/lib/libqlow.a" || exit 1
  for t in "$@"; do
    src=tests/fuzz/fuzz_$t.c; bin=$root/bin/fuzz_$t
    if [ ! -e "$bin" ] || [ "$src" -nt "$bin" ] || [ tests/fuzz/fuzz_common.h -nt "$bin" ] || [ "$root/lib/libqlow.a" -nt "$bin" ]; then
      $cc -std=c11 -O1 -g $san -fsanitize=fuzzer -Iinclude -Isrc -Itests "$src" "$root/lib/libqlow.a" -lm -o "$bin" || exit 1
    fi
  done
  exit 0
fi

secs=${FUZZ_SECONDS:-60}
status=0
summary=""
for t in "$@"; do
  work=$root/corpus/$t; art=$root/artifacts/$t; log=$root/fuzz_$t.log
  mkdir -p "$work" "$art"
  seeds=tests/fuzz/corpus/$t; regress=tests/regress/$t
  dirs="$work $seeds"; [ -d "$regress" ] && dirs="$dirs $regress"
  # rss limit: a target must not need more than 1 GB; 10 s per input is a hang.
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" UBSAN_OPTIONS="print_stacktrace=1" \
    "$root/bin/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=1024 -timeout=10 \
      -max_len=65536 -artifact_prefix="$art/" $dirs > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
  corp=$(grep -Eo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1)
  line=$(printf 'INFO fuzz %-12s %10s execs in %ss, %s, %s' "$t" "${execs:-?}" "$secs" "${cov:-no coverage}" "${corp:-}")
  if [ $rc -ne 0 ]; then
    status=1
    line="FAIL fuzz $t exit $rc: see $log; reproducer(s): $(ls "$art" | tr '\n' ' ')"
    grep -E 'ERROR|SUMMARY|runtime error|property violated' "$log" | head -n 10
  fi
  echo "$line"; summary="$summary$line"$'\n'
done
printf '%s' "$summary" > "$root/summary.txt"
exit $status
