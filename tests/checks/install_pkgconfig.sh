# `make install PREFIX=tmp` then build a consumer with pkg-config against that prefix and run it,
# linked to the shared library, and again statically.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# A plain build in its own output dir: sanitizer or other variant flags of the calling make must not leak in.
unset MAKEFLAGS MFLAGS MAKELEVEL SAN
if make -s -j2 install PREFIX="$tmp/prefix" O="$tmp/build" OPENMP="${OPENMP:-1}" >/dev/null; then echo "PASS make install"; else echo "FAIL make install"; exit 1; fi
for f in include/qlow.h lib/libqlow.a lib/libqlow.so lib/libqlow.so.1 lib/pkgconfig/libqlow.pc; do
  [ -e "$tmp/prefix/$f" ] && echo "PASS installed $f" || echo "FAIL missing $f"
done
cat > "$tmp/consumer.c" <<'C'
#include <qlow.h>
#include <stdio.h>
int main(void) {
    qlow_ctx *ctx = NULL;
    if (qlow_abi_check(QLOW_ABI_VERSION, sizeof(qlow_view)) != QLOW_OK) return 1;
    if (qlow_ctx_create(NULL, &ctx) != QLOW_OK) return 2;
    printf("libqlow %s\n", qlow_version_string());
    qlow_ctx_destroy(ctx);
    return 0;
}
C
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs libqlow)
if cc "$tmp/consumer.c" $flags -o "$tmp/consumer" && LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/consumer" | grep -q libqlow; then
  echo "PASS pkg-config consumer (shared)"; else echo "FAIL pkg-config consumer (shared)"; fi
if ldd "$tmp/consumer" 2>/dev/null | grep -q 'libqlow.so.1'; then echo "PASS consumer links libqlow.so.1"; else echo "FAIL consumer not linked to libqlow.so.1"; fi
sflags=$(pkg-config --cflags --libs --static libqlow)
if cc "$tmp/consumer.c" -static-libgcc $(echo "$sflags" | sed "s|-lqlow|$tmp/prefix/lib/libqlow.a|") -o "$tmp/consumer_static" && "$tmp/consumer_static" >/dev/null; then
  echo "PASS pkg-config consumer (static)"; else echo "FAIL pkg-config consumer (static)"; fi
