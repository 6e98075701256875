# The C example shown in README.md is examples/readme/readme_example.c verbatim; it compiles as C99 against
# the installed-style header, runs, and reports Q4 with 64-column groups at exactly 4.5 bits/weight
# (4 code bits + fp16 scale and min per 64 weights).
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/{f=1;next} /^```$/{if(f){exit}} f' README.md > "$tmp/from_readme.c"
if cmp -s "$tmp/from_readme.c" examples/readme/readme_example.c; then echo "PASS README example matches examples/readme/readme_example.c"; else echo "FAIL README example differs from examples/readme/readme_example.c"; fi
lib="${QLOW_LIBOUT:-lib}/libqlow.a"
omp=""; [ "${OPENMP:-1}" = "1" ] && omp="-fopenmp"
san=""; [ -n "${SAN:-}" ] && san="-fsanitize=$SAN"
if ${CC:-cc} -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude examples/readme/readme_example.c "$lib" -lm $omp $san -o "$tmp/ex"; then
  echo "PASS README example compiles (C99, -Werror)"; else echo "FAIL README example does not compile"; exit 1; fi
out=$("$tmp/ex")
case "$out" in "4.500 bits/weight, y[0] = "*) echo "PASS README example runs: $out";; *) echo "FAIL README example output: $out";; esac
