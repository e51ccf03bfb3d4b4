/* Prints argc/argv and the environment exactly (bytes in hex-safe form). */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

static void show(const char *tag, int i, const char *s) {
    printf("%s[%d] (%zu) = \"", tag, i, __builtin_strlen(s));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 32 && *p < 127 && *p != '\\') putchar(*p); else printf("\\x%02x", *p);
    printf("\"\n");
}

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) show("argv", i, argv[i]);
    int n = 0;
    for (char **e = environ; *e; e++) show("env", n++, *e);
    printf("envc=%d\n", n);
    const char *v = getenv("EQ");
    printf("getenv(EQ)=%s\n", v ? v : "(null)");
    return 0;
}
