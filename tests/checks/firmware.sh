# The firmware example on the build machine: fw_gen (hosted library) writes the flash images and the
# hosted results; the library subset and fw_app.c are then compiled -ffreestanding -DQLOW_NO_MALLOC
# with the host compiler, exactly as for a microcontroller, and run: every GEMV and dequantized row
# must equal the hosted library's bit for bit. The cross builds and QEMU runs are in mk/ci_pyfw.sh.
set -u
for fn in qlow_quantize qlow_qmatrix_serialize qlow_qmatrix_wrap_static qlow_gemv_ws qlow_gemm_workspace_size; do
    grep -q "$fn(" include/qlow.h || { echo "SKIP firmware example: $fn is not in include/qlow.h yet"; exit 0; }
done
cc=${CC:-cc}
libout=${QLOW_LIBOUT:-lib}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# Link OpenMP only when the library was built with it.
omp=""; nm "$libout/libqlow.a" 2>/dev/null | grep -qE ' U (GOMP_|omp_)' && omp=-fopenmp
san=""; [ -n "${SAN:-}" ] && san="-fsanitize=${SAN}"
if $cc -std=c11 -O1 -Iinclude examples/firmware/fw_gen.c "$libout/libqlow.a" -lm $omp $san -o "$tmp/fw_gen"; then
    echo "PASS build fw_gen"; else echo "FAIL build fw_gen"; exit 1; fi
if "$tmp/fw_gen" data/stories260K.bin "$tmp/fw_model.c" > "$tmp/gen.log" 2>&1; then echo "PASS fw_gen wrote the flash images"
else echo "FAIL fw_gen: $(cat "$tmp/gen.log")"; exit 1; fi
sh examples/firmware/build.sh host "$tmp/host" "$tmp/fw_model.c" || exit 1
if "$tmp/host/fw_host" > "$tmp/run.log" 2>&1; then ok=1; else ok=0; fi
sed 's/^/INFO /' "$tmp/run.log"
if [ $ok = 1 ] && grep -q 'all results equal the hosted library' "$tmp/run.log"; then
    echo "PASS freestanding host build equals the hosted library bit for bit"; else echo "FAIL freestanding host build"; exit 1; fi
