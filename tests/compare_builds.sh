#!/bin/sh
# Both build systems produce the same libraries: same file names, soname, and exported symbols.
# usage: tests/compare_builds.sh MAKE_LIBDIR MESON_BUILDDIR
set -u
a=${1:-lib}; b=${2:-build-meson}
fail=0
for f in libqlow.a libqlow.so libqlow.so.1 libqlow.so.1.0.0 libqlow.pc; do
  if [ -e "$a/$f" ] && [ -e "$b/$f" ]; then echo "PASS both builds have $f"; else echo "FAIL $f missing in one build"; fail=1; fi
done
syms() { nm -D --defined-only "$1" | awk '$2 ~ /^[TDRB]$/ {print $3}' | sed 's/@.*//' | sort -u; }
if [ "$(syms "$a/libqlow.so")" = "$(syms "$b/libqlow.so")" ]; then echo "PASS identical exported symbols"; else echo "FAIL exported symbols differ"; fail=1; fi
son() { readelf -d "$1" | sed -n 's/.*soname: \[\(.*\)\]/\1/p'; }
if [ "$(son "$a/libqlow.so")" = "$(son "$b/libqlow.so")" ]; then echo "PASS identical soname $(son "$a/libqlow.so")"; else echo "FAIL sonames differ"; fail=1; fi
sobj() { ar t "$1" | sed 's/^src_//; s/\.c\.o$/.o/; s/.*\///' | sort; }
if [ "$(ar t "$a/libqlow.a" | wc -l)" = "$(ar t "$b/libqlow.a" | wc -l)" ]; then echo "PASS same number of objects in libqlow.a"; else echo "FAIL static archives differ in object count"; fail=1; fi
exit $fail
