/* What ordinary programs do with files, through stdio: write a table with
   fprintf and read it back with fgets/sscanf, "r+"/"a+" updates,
   fseek/ftell/rewind/ungetc, copy a file in 4 KiB chunks, scandir with
   alphasort, a recursive walk of the tree it built (sorted), remove/rename.
   Runs in its directory (argv[1], default /sandbox), given empty. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "wasitest.h"

static unsigned hash_file(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned h = 5381;
    int c;
    *size = 0;
    while ((c = getc(f)) != EOF) { h = h * 33 + (unsigned)c; ++*size; }
    fclose(f);
    return h;
}

static int walk(const char *dir, int depth) {
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) { printf("scandir %s: %s\n", dir, errname(errno)); return 0; }
    int files = 0;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (strcmp(name, ".") && strcmp(name, "..")) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            struct stat st;
            lstat(path, &st);
            if (S_ISDIR(st.st_mode)) {
                printf("%*s%s/\n", depth * 2, "", name);
                files += walk(path, depth + 1);
            } else {
                long size = 0;
                unsigned h = S_ISREG(st.st_mode) ? hash_file(path, &size) : 0;
                printf("%*s%s %s %ld %08x\n", depth * 2, "", name, S_ISLNK(st.st_mode) ? "link" : "file", size, h);
                files++;
            }
        }
        free(list[i]);
    }
    free(list);
    return files;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    enter_sandbox(argc, argv);
    FILE *f = fopen("table.csv", "w");
    for (int i = 0; i < 500; i++) fprintf(f, "%d,%s,%.2f\n", i, i % 2 ? "odd" : "even", i * 1.25);
    printf("fclose table: %d\n", fclose(f));
    f = fopen("table.csv", "r");
    char line[128];
    int rows = 0, odd = 0;
    long sum = 0;
    while (fgets(line, sizeof line, f)) {
        int id, whole, cents;       /* no %lf: wasi-libc's float scanning needs compiler-rt */
        char kind[8];
        if (sscanf(line, "%d,%7[^,],%d.%d", &id, kind, &whole, &cents) == 4) {
            rows++;
            odd += !strcmp(kind, "odd");
            sum += whole * 100 + cents;
        }
    }
    printf("rows %d odd %d sum %ld.%02ld eof %d\n", rows, odd, sum / 100, sum % 100, feof(f));
    printf("ftell at end: %ld\n", ftell(f));
    printf("fseek 10: %d ftell %ld\n", fseek(f, 10, SEEK_SET), ftell(f));
    int c = getc(f), u = ungetc('#', f), c2 = getc(f);
    printf("getc '%c' ungetc '%c' getc '%c'\n", c, u, c2);
    rewind(f);
    printf("after rewind: %s", fgets(line, sizeof line, f));
    fclose(f);

    f = fopen("table.csv", "r+");
    fseek(f, 0, SEEK_SET);
    fputs("X", f);
    fseek(f, -5, SEEK_END);
    fputs("!!!!", f);
    fclose(f);
    f = fopen("table.csv", "a+");
    fputs("tail line\n", f);
    fseek(f, 0, SEEK_SET);
    printf("a+ first line: %s", fgets(line, sizeof line, f));
    fclose(f);

    mkdir("copy", 0755);
    mkdir("copy/deeper", 0755);
    FILE *in = fopen("table.csv", "rb"), *out = fopen("copy/deeper/table.bak", "wb");
    char chunk[4096];
    size_t n, total = 0;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0) total += fwrite(chunk, 1, n, out);
    fclose(in);
    fclose(out);
    long s1, s2;
    unsigned h1 = hash_file("table.csv", &s1), h2 = hash_file("copy/deeper/table.bak", &s2);
    printf("copied %zu bytes, same: %d\n", total, h1 == h2 && s1 == s2);
    symlink("deeper/table.bak", "copy/latest");
    f = fopen("copy/notes.txt", "w");
    fprintf(f, "notes\n");
    fclose(f);
    printf("rename notes: %d\n", rename("copy/notes.txt", "copy/NOTES"));
    printf("remove missing: %d %s\n", remove("copy/none"), errname(errno));
    printf("remove dir: %d\n", remove("copy/deeper/../deeper/../empty") ? -1 : 0);
    mkdir("copy/empty", 0755);
    printf("remove empty dir: %d\n", remove("copy/empty"));
    printf("fopen dir for writing: %s\n", fopen("copy", "w") ? "opened" : errname(errno));
    printf("fopen missing: %s\n", fopen("nope", "r") ? "opened" : errname(errno));
    printf("walk: %d files\n", walk(".", 0));
    printf("done\n");
    return 0;
}
