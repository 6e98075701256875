# ABI stability gate: the shared library must stay compatible with the baseline tests/abi/libqlow.abixml
# (abidw of the last release, public-header types only). Added functions, variables and enumerators are
# compatible; removed or changed functions/variables and changed public types fail, unless the ABI
# version was bumped on purpose and the baseline regenerated with `make abi-baseline` (tests/abi/README.md).
set -u
lib="${QLOW_LIBOUT:-lib}/libqlow.so"
base=tests/abi/libqlow.abixml
if ! command -v abidiff >/dev/null 2>&1; then echo "SKIP abi_baseline: abidiff not installed (apt: abigail-tools)"; exit 0; fi
[ -f "$base" ] || { echo "FAIL missing $base (run make abi-baseline)"; exit 1; }
[ -e "$lib" ] || { echo "FAIL missing $lib"; exit 1; }

hdr_abi=$(sed -n 's/^#define QLOW_ABI_VERSION \([0-9]*\).*/\1/p' include/qlow.h)
mk_abi=$(sed -n 's/^ABI_VERSION *:= *\([0-9]*\).*/\1/p' Makefile)
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
base_soname=$(sed -n "1s/.*soname='\([^']*\)'.*/\1/p" "$base")
if [ "$hdr_abi" = "$mk_abi" ] && [ "$soname" = "libqlow.so.$hdr_abi" ]; then
  echo "PASS QLOW_ABI_VERSION $hdr_abi agrees with the Makefile and the soname"
else
  echo "FAIL ABI version mismatch: qlow.h $hdr_abi, Makefile $mk_abi, soname $soname"
fi
if [ "$base_soname" = "$soname" ]; then echo "PASS baseline is for $soname"; else
  echo "FAIL baseline is for $base_soname but the library is $soname: the ABI version was bumped; run make abi-baseline"
  exit 1
fi

report=$(abidiff --headers-dir2 include --drop-private-types "$base" "$lib" 2>&1)
rc=$?
if [ $((rc & 1)) -ne 0 ]; then echo "FAIL abidiff error (exit $rc):"; echo "$report" | head -n 20; exit 1; fi
if [ $((rc & 8)) -ne 0 ]; then
  echo "FAIL incompatible ABI change against $base (abidiff exit $rc):"; echo "$report" | head -n 60; exit 1
fi
# Exit bit 4 alone means "changed, maybe compatible": accept only pure additions.
bad=$(echo "$report" | grep -E 'summary:' | grep -E '(^|[^0-9])[1-9][0-9]* (Removed|Changed)' || true)
if [ $((rc & 4)) -ne 0 ] && [ -n "$bad" ]; then
  echo "FAIL ABI change against $base is not a pure addition (abidiff exit $rc):"; echo "$report" | head -n 60; exit 1
fi
added=$(echo "$report" | sed -n 's/.*summary:.* \([0-9]*\) Added.*/\1/p' | awk '{s += $1} END {print s + 0}')
echo "PASS ABI compatible with $base ($added additions)"
exit 0
