#!/usr/bin/env bash
# usage: mk/reliab_fuzz.sh build|run|cov TARGET...   (called by `make fuzz`, `make fuzz-build`, `make fuzz-cov`)
# build: the library with clang, ASan+UBSan (-fno-sanitize-recover=all) and libFuzzer coverage
#        instrumentation into $FUZZ_ROOT, then one libFuzzer binary per tests/fuzz/fuzz_<target>.c.
# run:   each target for $FUZZ_SECONDS seconds, starting from tests/fuzz/corpus/<target>/ plus the
#        reproducers in tests/regress/<target>/. New inputs go to $FUZZ_ROOT/corpus/<target>/ (the
#        repository corpus is never modified); crashes to $FUZZ_ROOT/artifacts/<target>/. Prints one
#        summary line per target with executions and coverage; fails if any target crashed.
# cov:   replays each target's corpus (the fuzzing work corpus plus the committed one) through the
#        replay driver built with clang source-based coverage and prints llvm-cov line coverage of the
#        library files that target reaches.
set -u
mode=$1; shift
root=${FUZZ_ROOT:-build/reliab/fuzz}
cc=${FUZZ_CC:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
mkdir -p "$root/bin"

if [ "$mode" = build ]; then
  # -O0: clang 14 needs minutes for ASan at -O1/-O2 on the AVX-512 kernels (intrinsic-heavy code).
  ${MAKE:-make} -s --no-print-directory O="$root" CC="$cc" OPENMP=0 SAN=address,undefined OPT=-O0 \
      EXTRA_CFLAGS="-fsanitize=fuzzer-no-link" "$root/lib/libqlow.a" || exit 1
  for t in "$@"; do
    src=tests/fuzz/fuzz_$t.c; bin=$root/bin/fuzz_$t
    if [ ! -e "$bin" ] || [ "$src" -nt "$bin" ] || [ tests/fuzz/fuzz_common.h -nt "$bin" ] || [ "$root/lib/libqlow.a" -nt "$bin" ]; then
      $cc -std=c11 -O1 -g $san -fsanitize=fuzzer -Iinclude -Isrc -Itests "$src" "$root/lib/libqlow.a" -lm -o "$bin" || exit 1
    fi
  done
  exit 0
fi

if [ "$mode" = cov ]; then
  cov=$root/../cov
  ${MAKE:-make} -s --no-print-directory O="$cov" CC="$cc" OPENMP=0 OPT=-O0 \
      EXTRA_CFLAGS="-fprofile-instr-generate -fcoverage-mapping" "$cov/build/tests-noomp/test_reliab_regress" || exit 1
  bin=$cov/build/tests-noomp/test_reliab_regress
  mkdir -p "$cov/prof"
  for t in "$@"; do
    dirs="tests/fuzz/corpus/$t"; for d in "$root/corpus/$t" "tests/regress/$t"; do [ -d "$d" ] && dirs="$dirs $d"; done
    rm -f "$cov/prof/$t".prof*
    LLVM_PROFILE_FILE="$cov/prof/$t.profraw" "$bin" "$t" $dirs > "$cov/prof/$t.log" 2>&1 || { echo "FAIL replay $t"; tail "$cov/prof/$t.log"; }
    llvm-profdata merge -sparse "$cov/prof/$t.profraw" -o "$cov/prof/$t.profdata" || exit 1
    echo "== coverage of target $t ($(grep -o 'replayed [0-9]* inputs' "$cov/prof/$t.log" | awk '{s += $2} END {print s}') inputs): lines covered per library file"
    llvm-cov report "$bin" -instr-profile="$cov/prof/$t.profdata" src/ 2>/dev/null \
      | awk 'NR > 2 && $1 ~ /\.[ch]$|^TOTAL/ && $(NF-3) != "0.00%" {printf "  %-32s %5d of %5d lines (%s)\n", $1, $(NF-5) - $(NF-4), $(NF-5), $(NF-3)}'
  done
  exit 0
fi

secs=${FUZZ_SECONDS:-60}
status=0
summary=""
for t in "$@"; do
  work=$root/corpus/$t; art=$root/artifacts/$t; log=$root/fuzz_$t.log
  mkdir -p "$work" "$art"; stamp=$root/.stamp_$t; : > "$stamp"
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
    line="FAIL fuzz $t exit $rc: see $log; new reproducer(s): $(find "$art" -type f -newer "$stamp" | tr '\n' ' ')"
    grep -E 'ERROR|SUMMARY|runtime error|property violated' "$log" | head -n 10
  fi
  echo "$line"; summary="$summary$line"$'\n'
done
printf '%s' "$summary" > "$root/summary.txt"
exit $status
