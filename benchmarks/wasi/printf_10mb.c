/* printf_10mb: write SIZE bytes (argv[1], default 10 MiB) to stdout in small
 * printf calls: lines of exactly 64 bytes, each carrying its line number, so
 * the output is checkable (line i is "line %010u ...padding...\n"). stdout is
 * left buffered as wasi-libc does by default (a fully buffered stream when
 * stdout is not a terminal), so each fd_write carries one buffer's worth
 * (BUFSIZ = 1024 bytes in wasi-libc). A final partial line pads the total to
 * exactly SIZE bytes. Prints nothing else. */
#include <stdio.h>
#include <stdlib.h>

#include "parse_ul.h"

int main(int argc, char **argv) {
    unsigned long size = argc > 1 ? parse_ul(argv[1]) : 10u << 20;
    unsigned long lines = size / 64, i;
    for (i = 0; i < lines; i++)
        /* 5 + 10 + 1 + 47 + 1 = 64 bytes */
        printf("line %010lu %.47s\n", i,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU");
    for (i = lines * 64; i < size; i++)
        putchar('.');
    return 0;
}
