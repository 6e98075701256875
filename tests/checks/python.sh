# Python wrapper tests (tests/python/run.py) with every python3 available: the one on PATH and
# Debian's /usr/bin/python3 (which may be the only one with numpy). Prints PASS/FAIL/SKIP lines.
set -u
cc=${CC:-cc}
build=${QLOW_BUILD:-build}/pyfw
libout=${QLOW_LIBOUT:-lib}
mkdir -p "$build"
so=$(cd "$libout" && pwd)/libqlow.so.1
if [ ! -e "$so" ]; then echo "FAIL no shared library at $so"; exit 1; fi
# Link OpenMP only when the library was built with it.
omp=""; nm "$libout/libqlow.a" 2>/dev/null | grep -qE ' U (GOMP_|omp_)' && omp=-fopenmp
san=""; [ -n "${SAN:-}" ] && san="-fsanitize=${SAN}"
if $cc -std=c11 -O1 -Iinclude tests/python/cref.c -o "$build/cref" "$libout/libqlow.a" -lm $omp $san; then
    echo "PASS build C reference program"; else echo "FAIL build C reference program"; exit 1; fi
preload=""
if [ -n "${SAN:-}" ]; then
    # A sanitized libqlow.so needs its runtime loaded first inside python.
    case "$SAN" in *address*) preload=$($cc -print-file-name=libasan.so);; esac
    case "$SAN" in *undefined*) preload="$preload $($cc -print-file-name=libubsan.so)";; esac
fi
seen=""
rc=0
for py in python3 /usr/bin/python3; do
    exe=$(command -v "$py" 2>/dev/null) || continue
    real=$(readlink -f "$(command -v "$exe")")
    id=$("$exe" -c 'import sys; print(sys.executable, sys.version)' 2>/dev/null) || continue
    case "$seen" in *"|$id|"*) continue;; esac
    seen="$seen|$id|"
    np=$("$exe" -c 'import numpy; print("numpy", numpy.__version__)' 2>/dev/null || echo "no numpy")
    label=$("$exe" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')$([ "$np" = "no numpy" ] || echo +np)
    echo "INFO $label ($real, $np)"
    LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 QLOW_LIBRARY="$so" QLOW_PY_CREF="$build/cref" \
        "$exe" tests/python/run.py "$label" || rc=1
done
exit $rc
