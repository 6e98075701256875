# usage: check_undefined.sh NM RELOCATABLE.o LABEL
# RELOCATABLE.o is the freestanding library linked with `ld -r --gc-sections`, rooted at every public
# qlow_* function, so code no public function can reach is gone. Its `nm -u` list, restricted to the
# symbols its relocations still use, may only hold what examples/firmware/allowed_undefined.txt lists
# (the mem* functions and compiler-runtime helpers). Prints PASS/FAIL/INFO lines; exit 1 on failure.
set -u
nm=$1; obj=$2; label=$3
objdump=$(echo "$nm" | sed 's/nm$/objdump/')
command -v "$objdump" >/dev/null 2>&1 || objdump=objdump
allowed=$(grep -v '^#' "$(dirname "$0")/allowed_undefined.txt" | grep .)
used=$($objdump -r "$obj" | awk 'NF >= 3 && $1 ~ /^[0-9a-f]+$/ {sub(/[+-]0x[0-9a-f]+$/, "", $3); print $3}' | sort -u)
und=""
for s in $($nm -u "$obj" | awk '{print $NF}' | sort -u); do
    echo "$used" | grep -qx "$s" && und="$und $s"
done
bad=""
for s in $und; do echo "$allowed" | grep -qx "$s" || bad="$bad $s"; done
echo "INFO $label undefined symbols:$und"
if [ -z "$bad" ]; then echo "PASS $label: nm -u lists only allowed symbols"; else echo "FAIL $label: unexpected undefined symbols:$bad"; exit 1; fi
