/* Opens d/secret and f over and over while the host swaps d between a real
   directory and a symlink to ../outside, and f between a file and a symlink
   to ../outside/secret (tests/test_wasi_escape.py). Counts what it saw;
   "leaked" must stay 0. usage: race [DIR [ROUNDS]] */
#include <fcntl.h>
#include "wasitest.h"

static long ok, denied, leaked, other;

static void look(const char *path, const char *expect) {
    char buf[64];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == EPERM || errno == ENOENT || errno == ENOTCAPABLE || errno == ELOOP) denied++;
        else other++;
        return;
    }
    long n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    if (strstr(buf, "SECRET")) leaked++;
    else if (!strncmp(buf, expect, strlen(expect))) ok++;
    else other++;
}

int main(int argc, char **argv) {
    enter_sandbox(argc, argv);
    long rounds = argc > 2 ? atol(argv[2]) : 1000;
    for (long i = 0; i < rounds; i++) {
        look("d/secret", "inside d");
        look("f", "inside f");
        if (i % 16 == 0) {
            int fd = open("d/esc-new", O_CREAT | O_WRONLY, 0644);
            if (fd >= 0) { close(fd); unlink("d/esc-new"); }
            fd = open("f", O_WRONLY | O_TRUNC);     /* follows f: must never truncate the secret */
            if (fd >= 0) { write(fd, "inside f\n", 9); close(fd); }
        }
    }
    printf("leaked: %ld\nok: %ld\ndenied: %ld\nother: %ld\n", leaked, ok, denied, other);
    return 0;
}
