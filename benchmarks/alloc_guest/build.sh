#!/bin/sh
# Rebuild alloc_guest.wasm from alloc_guest.c (needs clang-16 and lld-16).
# The guest allocator comes from the shared bench corpus's bench.h.
# Compile and link are separate steps (clang-16 runs wasm-opt behind our back
# when -O is on the link line and wasm-opt is on PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
shared=${WASMBOX_SHARED:-$here/../../../shared}
CC=${CC:-clang-16}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$CC" --target=wasm32 -O2 -DBENCH_PURE -I"$shared/bench/src" -c -o "$tmp/alloc_guest.o" \
    "$here/alloc_guest.c"
"$CC" --target=wasm32 -nostdlib -Wl,--no-entry -Wl,--export=__heap_base \
    -Wl,-z,stack-size=65536 -Wl,--strip-debug \
    -o "$here/alloc_guest.wasm" "$tmp/alloc_guest.o"
ls -l "$here/alloc_guest.wasm"
