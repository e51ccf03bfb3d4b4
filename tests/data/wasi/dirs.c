/* Directories and names through plain POSIX calls: mkdir/rmdir/unlink,
   rename, link, symlink/readlink, stat vs lstat, readdir (sorted, since the
   order is the host's), telldir/seekdir, trailing slashes. Runs in its
   directory (argv[1], default /sandbox), which the host gives it empty. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "wasitest.h"

static void put(const char *path, const char *text) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) < 0) printf("setup %s: %s\n", path, errname(errno));
    close(fd);
}

static void cat(const char *label, const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("%s: %s\n", label, errname(errno)); return; }
    long n = read(fd, buf, sizeof buf);
    close(fd);
    show_bytes(label, buf, n);
}

static const char *kind(mode_t m) {
    return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "link" : "other";
}

static void st(const char *label, const char *path, int follow) {
    struct stat s;
    int r = follow ? stat(path, &s) : lstat(path, &s);
    if (r != 0) printf("%s: %s\n", label, errname(errno));
    else if (S_ISDIR(s.st_mode)) printf("%s: dir\n", label);      /* dir sizes/nlink are the fs's */
    else printf("%s: %s size %lld nlink %lld\n", label, kind(s.st_mode), (long long)s.st_size,
                (long long)s.st_nlink);
}

static const char *dtype(unsigned char t) {
    return t == DT_REG ? "f" : t == DT_DIR ? "d" : t == DT_LNK ? "l" : t == DT_UNKNOWN ? "?" : "o";
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Read the rest of d into names ("name:type"); returns how many. */
static int rest(DIR *d, char **names, int max) {
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        names[n] = malloc(strlen(e->d_name) + 3);
        sprintf(names[n++], "%s:%s", e->d_name, dtype(e->d_type));
    }
    return n;
}

static void list(const char *label, const char *path) {
    DIR *d = opendir(path);
    if (!d) { printf("%s: %s\n", label, errname(errno)); return; }
    char *names[64];
    int n = rest(d, names, 64);
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("%s: %d [", label, n);
    for (int i = 0; i < n; i++) {
        printf("%s", i ? " " : "");
        for (const unsigned char *p = (const unsigned char *)names[i]; *p; p++)
            if (*p > 32 && *p < 127 && *p != '\\') putchar(*p); else printf("\\x%02x", *p);
        free(names[i]);
    }
    printf("]\n");
}

static void make_and_remove(void) {
    CHECK("mkdir a", mkdir("a", 0755));
    CHECK("mkdir a again", mkdir("a", 0755));
    CHECK("mkdir a/b/c (no a/b)", mkdir("a/b/c", 0755));
    CHECK("mkdir a/b", mkdir("a/b", 0755));
    CHECK("mkdir trailing slash e/", mkdir("e/", 0755));
    put("f", "file f");
    CHECK("mkdir over file", mkdir("f", 0755));
    CHECK("mkdir f/x", mkdir("f/x", 0755));
    CHECK("mkdir .", mkdir(".", 0755));
    CHECK("rmdir a (not empty)", rmdir("a"));
    CHECK("rmdir f (a file)", rmdir("f"));
    CHECK("rmdir missing", rmdir("missing"));
    CHECK("rmdir .", rmdir("."));
    CHECK("rmdir a/b/..", rmdir("a/b/.."));
    CHECK("rmdir e/", rmdir("e/"));
    CHECK("unlink a (a dir)", unlink("a"));
    CHECK("unlink missing", unlink("missing"));
    CHECK("unlink f/", unlink("f/"));
    CHECK("unlink f/x", unlink("f/x"));
    put("g", "file g");
    CHECK("unlink g", unlink("g"));
    CHECK("unlink g again", unlink("g"));
    CHECK("access g", access("g", F_OK));
    st("stat a", "a", 1);
    st("stat f", "f", 1);
}

static void renames(void) {
    put("r1", "one");
    put("r2", "two");
    CHECK("rename r1 -> r3", rename("r1", "r3"));
    CHECK("rename r1 (gone)", rename("r1", "r4"));
    CHECK("rename r3 over r2", rename("r3", "r2"));
    cat("r2 now", "r2");
    CHECK("rename r2 -> r2", rename("r2", "r2"));
    CHECK("rename r2 -> a/b/r2", rename("r2", "a/b/r2"));
    cat("a/b/r2", "a/b/r2");
    CHECK("rename into missing dir", rename("a/b/r2", "nodir/r2"));
    mkdir("d1", 0755);
    mkdir("d2", 0755);
    put("d1/in", "in d1");
    CHECK("rename dir d1 over empty d2", rename("d1", "d2"));
    cat("d2/in", "d2/in");
    mkdir("d3", 0755);
    CHECK("rename dir d3 over non-empty d2", rename("d3", "d2"));
    CHECK("rename file over dir", rename("f", "d3"));
    CHECK("rename dir over file", rename("d3", "f"));
    CHECK("rename dir into itself", rename("d2", "d2/sub"));
    CHECK("rename d3 -> a/d3", rename("d3", "a/d3"));
    CHECK("rename a/d3/ -> d4/ (slashes)", rename("a/d3/", "d4/"));
    CHECK("rename f/ -> f2 (slash on file)", rename("f/", "f2"));
    CHECK("rename . -> x", rename(".", "x"));
    CHECK("rename d4 -> .", rename("d4", "."));
    CHECK("rename a/.. -> x", rename("a/..", "x"));
}

static void links(void) {
    char buf[64];
    CHECK("link f -> f.hard", link("f", "f.hard"));
    st("stat f after link", "f", 1);
    CHECK("link onto existing", link("f", "f.hard"));
    CHECK("link a dir", link("a", "a.hard"));
    CHECK("link missing", link("missing", "m.hard"));
    CHECK("link into missing dir", link("f", "nodir/x"));
    CHECK("symlink sl -> f", symlink("f", "sl"));
    CHECK("symlink dl -> a/b", symlink("a/b", "dl"));
    CHECK("symlink dangling -> missing", symlink("missing", "dangling"));
    CHECK("symlink a/up -> ../f", symlink("../f", "a/up"));
    CHECK("symlink onto existing", symlink("x", "f"));
    CHECK("symlink empty target", symlink("", "empty"));
    long n = readlink("sl", buf, sizeof buf);
    show_bytes("readlink sl", buf, n < 0 ? 0 : n);
    n = readlink("a/up", buf, sizeof buf);
    show_bytes("readlink a/up", buf, n < 0 ? 0 : n);
    n = readlink("dl", buf, 3);
    show_bytes("readlink dl into 3 bytes", buf, n < 0 ? 0 : n);
    VALUE("readlink f (a file)", readlink("f", buf, sizeof buf));
    VALUE("readlink missing", readlink("missing", buf, sizeof buf));
    VALUE("readlink sl/ (slash)", readlink("sl/", buf, sizeof buf));
    st("stat sl", "sl", 1);
    st("lstat sl", "sl", 0);
    st("stat dl", "dl", 1);
    st("lstat dl", "dl", 0);
    st("stat dangling", "dangling", 1);
    st("lstat dangling", "dangling", 0);
    st("stat a/up", "a/up", 1);
    st("stat dl/", "dl/", 1);
    st("lstat dl/", "dl/", 0);
    st("lstat sl/", "sl/", 0);
    struct stat s;
    CHECK("fstatat nofollow sl", fstatat(AT_FDCWD, "sl", &s, AT_SYMLINK_NOFOLLOW));
    printf("fstatat nofollow sl kind: %s\n", kind(s.st_mode));
    cat("read via sl", "sl");
    cat("read via a/up", "a/up");
    cat("read via dl/r2", "dl/r2");
    CHECK("open sl O_NOFOLLOW", open("sl", O_RDONLY | O_NOFOLLOW));
    CHECK("open dl O_NOFOLLOW|O_DIRECTORY", open("dl", O_RDONLY | O_NOFOLLOW | O_DIRECTORY));
    int fd = CHECK("open dangling O_CREAT", open("dangling", O_CREAT | O_WRONLY, 0644));
    if (fd >= 0) close(fd);
    CHECK("open sl O_CREAT|O_EXCL", open("sl", O_CREAT | O_EXCL | O_WRONLY, 0644));
    CHECK("mkdir over dangling", mkdir("dangling", 0755));
    CHECK("rmdir dl (link to dir)", rmdir("dl"));
    CHECK("unlink dl", unlink("dl"));
    st("stat a/b after unlink dl", "a/b", 1);
    CHECK("rename sl -> sl2", rename("sl", "sl2"));
    n = readlink("sl2", buf, sizeof buf);
    show_bytes("readlink sl2", buf, n < 0 ? 0 : n);
    CHECK("unlink f.hard", unlink("f.hard"));
    st("stat f after unlink hard", "f", 1);
    CHECK("link sl2 -> sl2.hard (a symlink)", link("sl2", "sl2.hard"));
    st("lstat sl2.hard", "sl2.hard", 0);
}

static void big_dir(void) {
    mkdir("many", 0755);
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "many/n%03d-%s", i, i % 3 ? "file" : "with a longer name_____");
        put(name, "");
    }
    mkdir("many/sub", 0755);
    symlink("n000", "many/link");
    static char *all[400], *tail[400], *again[400];
    DIR *d = opendir("many");
    int n = rest(d, all, 400);
    printf("many entries: %d\n", n);
    rewinddir(d);
    for (int i = 0; i < 120; i++) readdir(d);
    long cookie = telldir(d);
    int nt = rest(d, tail, 400);
    seekdir(d, cookie);
    int na = rest(d, again, 400);
    int same = nt == na;
    for (int i = 0; same && i < nt; i++) same = !strcmp(tail[i], again[i]);
    printf("after 120: %d left, seekdir resumes the same: %d, matches first pass: %d\n", nt, same,
           nt == n - 120 && !strcmp(tail[0], all[120]) && !strcmp(tail[nt - 1], all[n - 1]));
    rewinddir(d);
    int nr = rest(d, again, 400);
    printf("after rewinddir: %d\n", nr);
    closedir(d);
    qsort(all, n, sizeof *all, cmp);
    unsigned h = 0;
    for (int i = 0; i < n; i++)
        for (const char *p = all[i]; *p; p++) h = h * 131 + (unsigned char)*p;
    printf("sorted: %s %s %s ... %s %s, hash %u\n", all[0], all[1], all[2], all[n - 2], all[n - 1], h);
    list("empty dir", (mkdir("empty", 0755), "empty"));
    list("a", "a");
    list("a/ (slash)", "a/");
    list("dir via symlink", (symlink("a", "al"), "al"));
    list("opendir file", "f");
    list("opendir missing", "missing");
}

/* Names: the longest one, one byte longer, UTF-8, spaces and control bytes. */
static void names(void) {
    char name[300];
    memset(name, 'n', 255);
    name[255] = 0;
    int fd = CHECK("creat 255-byte name", open(name, O_CREAT | O_WRONLY, 0644));
    close(fd);
    name[255] = 'n';
    name[256] = 0;
    CHECK("creat 256-byte name", open(name, O_CREAT | O_WRONLY, 0644));
    CHECK("mkdir 256-byte name", mkdir(name, 0755));
    const char *odd[] = {"sp ace", "tab\there", "new\nline", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
                         "-dash", "#hash", "q'uote", "back\\slash", ".hidden", "..dots", "...", "x."};
    mkdir("names", 0755);
    for (unsigned i = 0; i < sizeof odd / sizeof *odd; i++) {
        snprintf(name, sizeof name, "names/%s", odd[i]);
        put(name, odd[i]);
    }
    CHECK("creat bad UTF-8 name", open("names/\xff\xfe", O_CREAT | O_WRONLY, 0644));
    list("names", "names");
    cat("read names/caf\xc3\xa9", "names/caf\xc3\xa9");
    struct stat s;
    CHECK("stat names/... (a file)", stat("names/...", &s));
}

static void cwd(void) {
    char buf[256];
    printf("getcwd: %s\n", getcwd(buf, sizeof buf) ? buf : errname(errno));
    CHECK("chdir a", chdir("a"));
    printf("getcwd: %s\n", getcwd(buf, sizeof buf) ? buf : errname(errno));
    cat("read ../f from a", "../f");
    CHECK("chdir f", chdir("../f"));
    CHECK("chdir missing", chdir("../missing"));
    CHECK("chdir ..", chdir(".."));
    printf("getcwd: %s\n", getcwd(buf, sizeof buf) ? buf : errname(errno));
}

int main(int argc, char **argv) {
    enter_sandbox(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    make_and_remove();
    renames();
    links();
    big_dir();
    names();
    cwd();
    printf("done\n");
    return 0;
}
