#!/bin/sh
# Runs every test binary given as an argument and every tests/checks/*.sh, then prints the total as
# "N passed, N failed". A binary contributes the counts of its own last line; a check script prints
# "PASS name" / "FAIL name" lines (one per assertion) and exits non-zero on failure.
passed=0
failed=0
log_dir="${QLOW_BUILD:-build}/test-logs"
mkdir -p "$log_dir"
for t in "$@"; do
    name=$(basename "$t")
    out="$log_dir/$name.log"
    "$t" > "$out" 2>&1
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $name: exit $rc without a result line"; tail -n 20 "$out"
        failed=$((failed + 1)); continue
    fi
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then echo "FAIL $name ($line)"; grep -E '^FAIL' "$out" | head -n 20; else echo "ok   $name ($line)"; fi
    grep -E '^(INFO|NOTE)' "$out" | head -n 40
done
for c in tests/checks/*.sh; do
    [ -f "$c" ] || continue
    name=$(basename "$c" .sh)
    out="$log_dir/check-$name.log"
    sh "$c" > "$out" 2>&1
    rc=$?
    p=$(grep -c '^PASS' "$out"); f=$(grep -c '^FAIL' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then p=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then echo "FAIL check $name"; grep -E '^FAIL' "$out" | head; tail -n 15 "$out"; else echo "ok   check $name ($p)"; fi
    grep -E '^(INFO|SKIP)' "$out" | head -n 20
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
