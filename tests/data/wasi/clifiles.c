/* For the CLI tests: copy the file argv[1] to argv[2] (upper-casing it),
 * then list the directory argv[3] (sorted), then print argv[4...] as given. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: clifiles IN OUT DIR [ARGS...]\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    int c;
    while ((c = fgetc(in)) != EOF)
        fputc(toupper(c), out);
    fclose(in);
    fclose(out);
    DIR *d = opendir(argv[3]);
    if (!d) {
        perror(argv[3]);
        return 1;
    }
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    for (int i = 0; i < n; i++)
        printf("entry %s\n", names[i]);
    for (int i = 4; i < argc; i++)
        printf("arg %s\n", argv[i]);
    return 0;
}
