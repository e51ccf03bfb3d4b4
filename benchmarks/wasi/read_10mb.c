/* read_10mb: read the file argv[1] (reached through a preopened directory)
 * with fread into a buffer of argv[2] bytes (default 4096; the benchmark
 * also uses 65536) and print the byte count and the 32-bit FNV-1a hash of
 * its bytes. argv[3] = "count" skips the hash (prints the count only), so
 * that the time left is the reading: the fd_read calls and the copies. The
 * stream's own buffer is turned off (setvbuf _IONBF), so
 * every fread of the buffer's size becomes one fd_read of that size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_ul.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: read_10mb FILE [BUFSIZE [count]]\n");
        return 2;
    }
    size_t bufsize = argc > 2 ? parse_ul(argv[2]) : 4096;
    int hash = !(argc > 3 && strcmp(argv[3], "count") == 0);
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(f, 0, _IONBF, 0);
    unsigned char *buf = malloc(bufsize);
    if (!buf || bufsize == 0)
        return 1;
    uint32_t h = 2166136261u;
    unsigned long long total = 0;
    size_t n;
    while ((n = fread(buf, 1, bufsize, f)) > 0) {
        if (hash)
            for (size_t i = 0; i < n; i++)
                h = (h ^ buf[i]) * 16777619u;
        total += n;
    }
    if (ferror(f)) {
        perror("fread");
        return 1;
    }
    fclose(f);
    if (hash)
        printf("%llu bytes fnv1a %08x\n", total, (unsigned)h);
    else
        printf("%llu bytes\n", total);
    return 0;
}
