#!/usr/bin/env bash
# usage: mk/reliab_run.sh LABEL TEST_BINARY...   (RELIAB_WRAP="valgrind ..." runs each under a wrapper)
# Runs unit-test binaries from the repository root, like tests/run_tests.sh but without the check
# scripts, and fails if any binary fails, exits non-zero (sanitizer or valgrind error) or misses its
# "N passed, N failed" line. Logs go to <dir of the binaries>/../<label>-logs/.
set -u
label=$1; shift
passed=0; failed=0; bad=0; n=0; t0=$(date +%s)
for t in "$@"; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  logdir="$(dirname "$t")/../$label-logs"; mkdir -p "$logdir"
  log="$logdir/$(basename "$t").log"; n=$((n + 1))
  ${RELIAB_WRAP:-} "$t" > "$log" 2>&1
  rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  p=0; f=0
  if [ -n "$line" ]; then p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}; fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ] || [ -z "$line" ] || [ "$f" -ne 0 ]; then
    bad=$((bad + 1))
    echo "FAIL $label $(basename "$t") (exit $rc; ${line:-no result line}); log: $log"
    grep -E 'ERROR SUMMARY|definitely|indirectly|possibly|still reachable|WARNING: ThreadSanitizer|SUMMARY|^FAIL' "$log" | head -n 20
  else
    echo "ok   $label $(basename "$t") ($line)"
  fi
done
echo "INFO $label: $n binaries, $bad failing, $(( $(date +%s) - t0 )) s"
echo "$passed passed, $failed failed"
[ "$bad" -eq 0 ] && [ "$failed" -eq 0 ]
