#!/bin/sh
# Rebuild the WASI benchmark programs: <name>.c -> <name>.wasm (committed).
# clang-16 + lld-16 + Debian's wasi-libc. Debian ships no compiler-rt for
# wasm32, hence -nodefaultlibs -lc (these programs need none of its helpers;
# they parse their numbers themselves because strtoul needs __multi3).
# Compile and link are separate steps: clang-16 runs wasm-opt by itself
# (which drops the name section) when -O is on the link line and wasm-opt is
# on PATH. So the output depends on the compiler alone, and the name section
# stays (function names in profiles); --strip-debug drops only DWARF.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-clang-16}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in "$here"/*.c; do
    name=$(basename "$src" .c)
    "$CC" --target=wasm32-wasi -O2 -Wall -Werror -c -o "$tmp/$name.o" "$src"
    "$CC" --target=wasm32-wasi "$tmp/$name.o" -nodefaultlibs -lc -Wl,--strip-debug \
        -o "$here/$name.wasm"
done
ls -l "$here"/*.wasm | awk '{ printf "%8d  %s\n", $5, $NF }'
