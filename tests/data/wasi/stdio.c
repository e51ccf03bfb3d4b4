/* stdio and printf: formatted output on stdout and stderr, many small
   writes, a big one, and reading stdin to the end. */
#include <stdio.h>
#include <string.h>

int main(void) {
    printf("hello %s %d %.3f %x\n", "world", -42, 3.14159, 0xbeef);
    fprintf(stderr, "to stderr: %05d\n", 7);
    for (int i = 0; i < 200; i++) printf("%d%c", i, i % 20 == 19 ? '\n' : ' ');
    static char big[70000];
    memset(big, 'x', sizeof big - 2);
    big[sizeof big - 2] = '\n';
    fputs(big, stdout);
    char buf[256];
    size_t total = 0, n;
    unsigned sum = 0;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        for (size_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
        total += n;
    }
    printf("stdin: %zu bytes, hash %u\n", total, sum);
    fflush(stdout);
    fprintf(stderr, "done\n");
    return 0;
}
