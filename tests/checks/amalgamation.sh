# `make amalgamate` output: dist/qlow.c compiles alone (-std=c11 -Wall -Wextra, no other source), exports
# only qlow_* names, and a smoke program built on it prints exactly what the same program prints when
# linked against libqlow.a. Also checks the per-file renaming of clashing file-local names.
set -u
cc=${CC:-cc}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
libout=${QLOW_LIBOUT:-lib}
# Link OpenMP only when the library was built with it.
san=""; [ -n "${SAN:-}" ] && san="-fsanitize=${SAN}"
omp=""; nm "$libout/libqlow.a" 2>/dev/null | grep -qE ' U (GOMP_|omp_)' && omp=-fopenmp
if python3 tools/amalgamate.py . "$tmp/dist" >/dev/null; then echo "PASS amalgamate"; else echo "FAIL amalgamate"; exit 1; fi
if cmp -s include/qlow.h "$tmp/dist/qlow.h"; then echo "PASS dist/qlow.h is the public header"; else echo "FAIL dist/qlow.h differs"; fi
n=$(ls src/*/*.c | wc -l)
m=$(grep -c '^/\* ======== src/[a-z0-9_]*/[a-z0-9_]*\.c ======== \*/' "$tmp/dist/qlow.c")
if [ "$m" -ge "$n" ]; then echo "PASS all $n source files inlined"; else echo "FAIL only $m of $n source files in qlow.c"; fi
other=$(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$tmp/dist/qlow.c" | grep -v '"qlow.h"' || true)
if [ -z "$other" ]; then echo "PASS no internal include left"; else echo "FAIL internal includes left: $other"; fi

# The SIMD kernels make a full optimized compile of the single file slow (about 40 s), so make check
# compiles the portable variant (QLOW_FORCE_GENERIC, whose results the SIMD kernels must equal bit for
# bit) and mk/ci_pyfw.sh sets AMALG_FULL=1 for the whole file at -O2.
if [ "${AMALG_FULL:-0}" = 1 ]; then variant="-O2"; else variant="-O0 -DQLOW_FORCE_GENERIC"; fi
if $cc -std=c11 $variant -Wall -Wextra $omp -c "$tmp/dist/qlow.c" -o "$tmp/qlow.o" 2> "$tmp/warn.txt"; then
    echo "PASS qlow.c compiles alone (-std=c11 -Wall -Wextra $variant)"; else echo "FAIL qlow.c does not compile alone"; cat "$tmp/warn.txt"; exit 1; fi
# Warnings are listed, not failed: they come from the sources themselves (the same ones show in a
# per-file build with the same flags), which their owners fix.
if [ -s "$tmp/warn.txt" ]; then grep 'warning:' "$tmp/warn.txt" | sed 's/^/INFO amalgamation warning: /' | head -n 10; else echo "PASS no warnings"; fi
if $cc -std=c11 -O0 -Wall -Wextra -DQLOW_NO_MALLOC -DQLOW_FORCE_GENERIC -c "$tmp/dist/qlow.c" -o "$tmp/qlow_nm.o" 2>/dev/null &&
   ! nm -u "$tmp/qlow_nm.o" | grep -qwE 'malloc|free|calloc|realloc'; then echo "PASS -DQLOW_NO_MALLOC amalgamation references no allocator";
else echo "FAIL -DQLOW_NO_MALLOC amalgamation"; fi
bad=$(readelf -sW "$tmp/qlow.o" | awk '$5 == "GLOBAL" && $6 == "DEFAULT" && $7 != "UND" {print $8}' | grep -v '^qlow_' || true)
if [ -z "$bad" ]; then echo "PASS only qlow_* symbols have default visibility"; else echo "FAIL visible non-qlow symbols: $bad"; fi
leak=$(readelf -sW "$tmp/qlow.o" | awk '$5 == "GLOBAL" && $6 == "DEFAULT" && $7 != "UND" {print $8}' | grep '^qlow__' || true)
# A qlow__ name declared without QLOW_HIDDEN is hidden in the library only by -fvisibility=hidden; the
# single file cannot rely on its user's flags. Listed for the owning subsystem to fix.
if [ -z "$leak" ]; then echo "PASS qlow__ internals are hidden"; else echo "INFO internals declared without QLOW_HIDDEN:" $leak; fi

if $cc -std=c11 -O2 -I"$tmp/dist" tests/amalgamation/smoke.c "$tmp/qlow.o" -o "$tmp/smoke_amalg" -lm $omp &&
   $cc -std=c11 -O2 -Iinclude tests/amalgamation/smoke.c "$libout/libqlow.a" -o "$tmp/smoke_lib" -lm $omp $san 2> "$tmp/link.txt"; then
    echo "PASS smoke program builds both ways"; else echo "FAIL smoke program build"; head -n 5 "$tmp/link.txt"; exit 1; fi
"$tmp/smoke_amalg" > "$tmp/a.txt"; ra=$?
"$tmp/smoke_lib" > "$tmp/l.txt"; rl=$?
if [ $ra -eq 0 ] && [ $rl -eq 0 ]; then echo "PASS smoke program runs (amalgamation and library)"; else echo "FAIL smoke run: $(cat "$tmp/a.txt")"; fi
if cmp -s "$tmp/a.txt" "$tmp/l.txt"; then echo "PASS amalgamation output identical to libqlow.a's ($(wc -l < "$tmp/a.txt") lines)";
else echo "FAIL amalgamation and library differ:"; diff "$tmp/a.txt" "$tmp/l.txt" | head; fi

# Two files defining the same file-local names must still combine.
r="$tmp/clash"; mkdir -p "$r/include" "$r/src/a" "$r/src/b"
cp include/qlow.h "$r/include/"
for d in a b; do
cat > "$r/src/$d/x.c" <<C
#include "qlow.h"
#define LOCAL_$d 1
#define SHARED_MACRO sizeof(struct pair)
typedef struct pair { int a, b; } pair;
static const int table[2] = {1, 2};
static int helper(pair p) { return p.a + p.b + table[0]; }
int qlow_clash_$d(void);
int qlow_clash_$d(void) { pair p = {1, (int)SHARED_MACRO}; return helper(p); }
C
done
if python3 tools/amalgamate.py "$r" "$r/dist" >/dev/null && $cc -std=c11 -Wall -Wextra -Werror -c "$r/dist/qlow.c" -I"$r/dist" -o "$r/q.o"; then
    echo "PASS clashing file-local names are renamed per file"; else echo "FAIL clashing file-local names"; fi
