# The shared library exports exactly the golden list in tests/abi/exported_symbols.txt, all qlow_*.
# Regenerate deliberately with `make abi-update` when the API grows.
set -u
lib="${QLOW_LIBOUT:-lib}/libqlow.so"
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRB]$/ {print $3}' | sed 's/@.*//' | sort -u)
if [ "$got" = "$(cat tests/abi/exported_symbols.txt)" ]; then echo "PASS exported symbols match golden list"; else
    echo "FAIL exported symbols differ from tests/abi/exported_symbols.txt:"; echo "$got" | diff tests/abi/exported_symbols.txt - ; fi
bad=$(echo "$got" | grep -v '^qlow_' || true)
if [ -z "$bad" ]; then echo "PASS every export starts with qlow_"; else echo "FAIL non-qlow exports: $bad"; fi
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
if [ "$soname" = "libqlow.so.1" ]; then echo "PASS soname libqlow.so.1"; else echo "FAIL soname is '$soname'"; fi
ver=$(readelf -V "$lib" | grep -c 'qlow_1.0')
if [ "$ver" -ge 1 ]; then echo "PASS symbols carry version node qlow_1.0"; else echo "FAIL no qlow_1.0 version node"; fi
