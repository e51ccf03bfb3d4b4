#!/bin/sh
# Rebuild the example WASI programs (Debian 12: clang-16, lld-16, wasi-libc).
# Debian ships no compiler-rt builtins for wasm32, so the default libraries
# are named by hand.
set -eu
cd "$(dirname "$0")"
for src in *.c; do
    clang-16 --target=wasm32-wasi -O2 "$src" -nodefaultlibs -lc -Wl,--strip-debug -o "${src%.c}.wasm"
done
