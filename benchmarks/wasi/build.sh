#!/bin/sh
# Rebuild the WASI benchmark programs: <name>.c -> <name>.wasm (committed).
# clang-16 + lld-16 + Debian's wasi-libc. Debian ships no compiler-rt for
# wasm32, hence -nodefaultlibs -lc (these programs need none of its helpers).
# Compile and link are one step; wasm-opt is kept out of the way (clang-16
# runs it by itself when -O is on the link line and it is on PATH) so the
# output depends on the compiler alone.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-clang-16}
for src in "$here"/*.c; do
    name=$(basename "$src" .c)
    PATH=/usr/lib/llvm-16/bin:/usr/bin:/bin "$CC" --target=wasm32-wasi -O2 -Wall -Werror \
        "$src" -nodefaultlibs -lc -Wl,--strip-debug -o "$here/$name.wasm"
done
ls -l "$here"/*.wasm | awk '{ printf "%8d  %s\n", $5, $NF }'
