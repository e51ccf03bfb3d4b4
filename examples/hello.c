/* The README's first program: a WASI command that greets each of its
 * arguments (a usage line on stderr and status 2 without any).
 * Build: ./build.sh (clang-16 and wasi-libc from Debian). Run:
 *   wasmbox run examples/hello.wasm world */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s NAME...\n", argc ? argv[0] : "hello");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        printf("Hello, %s!\n", argv[i]);
    return 0;
}
