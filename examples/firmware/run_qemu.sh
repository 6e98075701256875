# usage: run_qemu.sh FW_DIR
# Runs the Cortex-M4 (mps2-an386) and Cortex-M7 (mps2-an500) example images under qemu-system-arm with
# semihosting; each must print its report and exit 0 (all results equal the hosted library's).
# Prints PASS/FAIL/SKIP lines.
set -u
dir=$1
if ! command -v qemu-system-arm >/dev/null 2>&1; then echo "SKIP qemu-system-arm not installed"; exit 0; fi
rc=0
for pair in cm4:mps2-an386 cm7:mps2-an500; do
    t=${pair%%:*}; machine=${pair#*:}
    elf=$dir/$t/fw.elf
    [ -f "$elf" ] || { echo "FAIL $t: $elf missing"; rc=1; continue; }
    timeout 120 qemu-system-arm -machine "$machine" -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$elf" > "$dir/$t/qemu.log" 2>&1
    st=$?
    sed "s/^/INFO $t qemu: /" "$dir/$t/qemu.log" | head -n 40
    if [ $st -eq 0 ] && grep -q 'all results equal the hosted library' "$dir/$t/qemu.log"; then
        echo "PASS $t ($machine): firmware example under QEMU equals the hosted library"
    else echo "FAIL $t ($machine): exit $st"; rc=1; fi
done
exit $rc
