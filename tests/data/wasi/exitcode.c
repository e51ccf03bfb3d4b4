/* exit(argv[1]) after atexit handlers and buffered output; "trap" traps
   after output; "raise" calls abort(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bye1(void) { printf("atexit 1\n"); }
static void bye2(void) { printf("atexit 2\n"); }

int main(int argc, char **argv) {
    atexit(bye1);
    atexit(bye2);
    printf("buffered before exit");
    fprintf(stderr, "err line\n");
    if (argc > 1 && strcmp(argv[1], "trap") == 0) {
        fflush(stdout);
        __builtin_trap();
    }
    if (argc > 1 && strcmp(argv[1], "return") == 0) return 3;
    exit(argc > 1 ? atoi(argv[1]) : 0);
}
