#!/bin/sh
# Runs the aarch64 test binaries built by `make check-neon` under qemu-aarch64 (-cpu max, so the
# dot-product flavor runs too) and checks that each one detected the NEON kernel set. Ends with
# "N passed, N failed" like make check.
passed=0
failed=0
for fl in $FLAVORS; do
    dir="$BUILD/neon-$fl/build/tests-noomp"
    for t in $TESTS; do
        log="$dir/$t.log"
        "$QEMU" -cpu max -L "$SYSROOT" "$dir/$t" > "$log" 2>&1
        rc=$?
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
        if [ "$rc" -ne 0 ] || [ -z "$line" ] || [ "${line#* passed, }" != "0 failed" ]; then
            echo "FAIL $fl $t (exit $rc, ${line:-no result line})"; grep -E '^FAIL' "$log" | head -n 10
            failed=$((failed + 1))
        else
            echo "ok   $fl $t ($line)"
            passed=$((passed + ${line%% passed*}))
        fi
    done
    # The SIMD-vs-generic comparisons only mean something if the NEON set was the one detected.
    if grep -q 'detected isa 16' "$dir/test_kernels_gemv.log"; then
        echo "ok   $fl: kernels ran with the NEON set (isa 16)"; passed=$((passed + 1))
    else
        echo "FAIL $fl: the NEON kernel set was not detected"; failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
