# include/qlow.h compiles as strict C99 and as C++ (with and without the experimental tier).
set -u
cc=${CC:-cc}; cxx=${CXX:-c++}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#include "qlow.h"\nint main(void){ return qlow_version_number() == 0; }\n' > "$tmp/a.c"
printf '#define QLOW_EXPERIMENTAL\n#include "qlow.h"\n#include "qlow.h"\nint main(void){ return 0; }\n' > "$tmp/b.c"
for f in a b; do
  if $cc -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/$f.c" -o "$tmp/$f.o"; then echo "PASS C99 pedantic ($f)"; else echo "FAIL C99 pedantic ($f)"; fi
  if $cxx -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/$f.c" -o "$tmp/$f.o"; then echo "PASS C++11 ($f)"; else echo "FAIL C++11 ($f)"; fi
done
# Nothing internal leaks into the public header.
if grep -nE '"(core|quant|formats|kernels)/|qlow__' include/qlow.h; then echo "FAIL internal names in include/qlow.h"; else echo "PASS no internal names in include/qlow.h"; fi
