/* Tries every way out of the preopen it knows, and prints the errno of each
   attempt (or, if an attempt succeeds, what it got: a sandbox hole).

   usage: escape [DIR [HOST_OUTSIDE]]   DIR: the preopen (default /sandbox);
   HOST_OUTSIDE: the host's absolute path of the directory beside it
   (default /outside), which holds `secret` and `dir/inner`.

   The host sets up (tests/test_wasi_escape.py does): DIR/inside.txt,
   DIR/sub/deep/, and symlinks link_rel_out -> ../outside,
   link_abs_out -> HOST_OUTSIDE, link_abs_secret -> HOST_OUTSIDE/secret,
   link_etc -> /etc/passwd, link_dotdot -> .., sub/link_root -> /,
   sub/up2 -> ../../outside/secret, sub/via_link -> ../link_rel_out,
   self -> self, loop_a <-> loop_b, chain0 -> chain1 -> ... -> chain40 -> inside.txt.

   Paths go to the host verbatim through the *at() calls on a directory
   descriptor (wasi-libc does not look at them); a few plain calls go
   through wasi-libc's own cwd handling. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <wasi/api.h>
#include "wasitest.h"

static int root;
static char buf[512];

static void try_read(const char *label, const char *path, int flags) {
    errno = 0;
    int fd = openat(root, path, flags);
    if (fd < 0) { printf("%s: %s\n", label, errname(errno)); return; }
    long n = read(fd, buf, sizeof buf);
    if (n >= 0) show_bytes(label, buf, n);          /* a hole: shows what leaked */
    else printf("%s: opened, read %s\n", label, errname(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = fdopendir(fd);
        struct dirent *e;
        int count = 0;
        while (d && (e = readdir(d)) != NULL) count++;
        printf("%s: a directory with %d entries\n", label, count);
        if (d) closedir(d);
        return;
    }
    close(fd);
}

static void try_stat(const char *label, const char *path, int flags) {
    struct stat st;
    errno = 0;
    if (fstatat(root, path, &st, flags) != 0) printf("%s: %s\n", label, errname(errno));
    else printf("%s: ok %s size %lld\n", label, S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "link" : "file",
                S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size);
}

static char *join(const char *a, const char *b) {
    static char bufs[4][1024];
    static int k;
    char *p = bufs[k++ % 4];
    snprintf(p, 1024, "%s%s%s", a, *a && *b ? "/" : "", b);
    return p;
}

/* Every operation on one route to the outside directory. */
static void attack(const char *name, const char *dir) {
    char label[128];
#define L(op) (snprintf(label, sizeof label, "%s %s", name, op), label)
    try_read(L("open secret"), join(dir, "secret"), O_RDONLY);
    try_read(L("open dir"), dir, O_RDONLY | O_DIRECTORY);
    try_read(L("open dir/inner"), join(dir, "dir/inner"), O_RDONLY);
    try_stat(L("stat secret"), join(dir, "secret"), 0);
    try_stat(L("lstat secret"), join(dir, "secret"), AT_SYMLINK_NOFOLLOW);
    CHECK(L("readlink secret"), readlinkat(root, join(dir, "secret"), buf, sizeof buf));
    CHECK(L("open secret wronly|trunc"), openat(root, join(dir, "secret"), O_WRONLY | O_TRUNC));
    CHECK(L("creat esc-new"), openat(root, join(dir, "esc-new"), O_CREAT | O_WRONLY, 0644));
    CHECK(L("mkdir esc-dir"), mkdirat(root, join(dir, "esc-dir"), 0755));
    CHECK(L("rmdir dir"), unlinkat(root, join(dir, "dir"), AT_REMOVEDIR));
    CHECK(L("unlink secret"), unlinkat(root, join(dir, "secret"), 0));
    CHECK(L("rename inside.txt in"), renameat(root, "inside.txt", root, join(dir, "esc-moved")));
    CHECK(L("rename secret out"), renameat(root, join(dir, "secret"), root, "stolen"));
    CHECK(L("link secret out"), linkat(root, join(dir, "secret"), root, "hard", 0));
    CHECK(L("link inside.txt in"), linkat(root, "inside.txt", root, join(dir, "esc-hard"), 0));
    CHECK(L("symlink in"), symlinkat("inside.txt", root, join(dir, "esc-sym")));
    struct timespec ts[2] = {{1, 0}, {2, 0}};
    CHECK(L("utimensat secret"), utimensat(root, join(dir, "secret"), ts, 0));
    CHECK(L("utimensat dir nofollow"), utimensat(root, dir, ts, AT_SYMLINK_NOFOLLOW));
#undef L
}

/* wasi-libc answers absolute paths itself (ENOTCAPABLE without asking the
   host), so these go to the host through the WASI calls directly. */
static void raw(const char *label, __wasi_errno_t e) { printf("%s: %s\n", label, errname(e)); }

static void raw_attack(const char *name, const char *dir) {
    char label[128];
    __wasi_fd_t fd;
    __wasi_filestat_t st;
    __wasi_size_t n;
    const __wasi_rights_t r = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_FILESTAT_GET;
#define L(op) (snprintf(label, sizeof label, "raw %s %s", name, op), label)
    __wasi_errno_t e = __wasi_path_open(root, 0, join(dir, "secret"), 0, r, 0, 0, &fd);
    raw(L("path_open secret"), e);
    if (e == 0) { long k = read(fd, buf, sizeof buf); show_bytes(L("LEAK"), buf, k); close(fd); }
    e = __wasi_path_open(root, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, dir, __WASI_OFLAGS_DIRECTORY, r, r, 0, &fd);
    raw(L("path_open dir"), e);
    if (e == 0) close(fd);
    raw(L("path_open creat esc-new"), __wasi_path_open(root, 0, join(dir, "esc-new"), __WASI_OFLAGS_CREAT,
                                                       __WASI_RIGHTS_FD_WRITE, 0, 0, &fd));
    raw(L("filestat_get secret"), __wasi_path_filestat_get(root, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW,
                                                          join(dir, "secret"), &st));
    raw(L("filestat_get dir nofollow"), __wasi_path_filestat_get(root, 0, dir, &st));
    raw(L("readlink secret"), __wasi_path_readlink(root, join(dir, "secret"), (uint8_t *)buf, sizeof buf, &n));
    raw(L("create_directory"), __wasi_path_create_directory(root, join(dir, "esc-dir")));
    raw(L("remove_directory dir"), __wasi_path_remove_directory(root, join(dir, "dir")));
    raw(L("unlink_file secret"), __wasi_path_unlink_file(root, join(dir, "secret")));
    raw(L("rename in"), __wasi_path_rename(root, "inside.txt", root, join(dir, "esc-moved")));
    raw(L("rename out"), __wasi_path_rename(root, join(dir, "secret"), root, "stolen"));
    raw(L("link out"), __wasi_path_link(root, 0, join(dir, "secret"), root, "hard"));
    raw(L("link in"), __wasi_path_link(root, 0, "inside.txt", root, join(dir, "esc-hard")));
    raw(L("symlink in"), __wasi_path_symlink("inside.txt", root, join(dir, "esc-sym")));
    raw(L("set_times secret"), __wasi_path_filestat_set_times(root, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW,
                                                             join(dir, "secret"), 1, 2,
                                                             __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
#undef L
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    enter_sandbox(argc, argv);
    const char *host = argc > 2 ? argv[2] : "/outside";
    root = open(".", O_RDONLY | O_DIRECTORY);
    if (root < 0) { printf("cannot open .: %s\n", errname(errno)); return 2; }

    /* Links the guest makes itself. */
    CHECK("symlink g_rel_out -> ../outside", symlinkat("../outside", root, "g_rel_out"));
    CHECK("symlink g_abs_out -> HOST/outside", symlinkat(host, root, "g_abs_out"));
    CHECK("symlink g_root -> /", symlinkat("/", root, "g_root"));
    CHECK("symlink sub/g_up -> ../../outside", symlinkat("../../outside", root, "sub/g_up"));
    CHECK("symlink g_dotdot -> ..", symlinkat("..", root, "g_dotdot"));

    static char via_link_root[1024], via_g_root[1024];
    snprintf(via_link_root, sizeof via_link_root, "sub/link_root%s", host);
    snprintf(via_g_root, sizeof via_g_root, "g_root%s", host);
    struct { const char *name, *dir; } routes[] = {
        {"..", ".."},
        {"../outside", "../outside"},
        {"./../outside", "./../outside"},
        {"sub/../../outside", "sub/../../outside"},
        {"sub/deep/../../../outside", "sub/deep/../../../outside"},
        {"inside.txt/../../outside", "inside.txt/../../outside"},
        {"HOST/outside (absolute)", host},
        {"/outside (absolute)", "/outside"},
        {"link_rel_out", "link_rel_out"},
        {"link_abs_out", "link_abs_out"},
        {"link_dotdot/outside", "link_dotdot/outside"},
        {"sub/link_root/HOST/outside", via_link_root},
        {"sub/via_link", "sub/via_link"},
        {"g_rel_out", "g_rel_out"},
        {"g_abs_out", "g_abs_out"},
        {"g_root/HOST/outside", via_g_root},
        {"sub/g_up", "sub/g_up"},
        {"g_dotdot/outside", "g_dotdot/outside"},
    };
    for (unsigned i = 0; i < sizeof routes / sizeof *routes; i++) attack(routes[i].name, routes[i].dir);

    raw_attack("HOST/outside", host);
    raw_attack("/outside", "/outside");
    raw_attack("/", "/");
    raw_attack("//outside", "//outside");
    raw_attack("/sandbox/../outside", "/sandbox/../outside");
    raw_attack("link_abs_out", "link_abs_out");
    raw_attack("sub/link_root/HOST/outside", via_link_root);

    /* Files reached directly, loops, and the preopen's own parent. */
    const char *files[] = {"link_abs_secret", "sub/up2", "link_etc", "/etc/passwd",
                           "../../../../../../../../etc/passwd", "sub/link_root/etc/passwd",
                           "g_root/etc/passwd", "self", "loop_a", "chain0", "chain1",
                           "chain0/", "self/x", ".", "..", "sub/../..", "/", "", "link_dotdot"};
    for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
        char label[128];
        snprintf(label, sizeof label, "file '%s' open", files[i]);
        try_read(label, files[i], O_RDONLY);
        snprintf(label, sizeof label, "file '%s' stat", files[i]);
        try_stat(label, files[i], 0);
        snprintf(label, sizeof label, "file '%s' lstat", files[i]);
        try_stat(label, files[i], AT_SYMLINK_NOFOLLOW);
        snprintf(label, sizeof label, "file '%s' open nofollow", files[i]);
        try_read(label, files[i], O_RDONLY | O_NOFOLLOW);
    }
    errno = 0;
    long n = readlinkat(root, "link_abs_out", buf, sizeof buf);
    printf("readlink link_abs_out: %s, is HOST/outside: %d\n", n < 0 ? errname(errno) : "ok",
           n == (long)strlen(host) && !memcmp(buf, host, n));
    __wasi_fd_t fd;
    errno = __wasi_path_open(root, 0, "/etc/passwd", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    printf("raw path_open /etc/passwd: %s\n", errname(errno));
    errno = __wasi_path_open(root, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link_etc", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    printf("raw path_open link_etc: %s\n", errname(errno));
    n = readlinkat(root, "link_dotdot", buf, sizeof buf);
    show_bytes("readlink link_dotdot", buf, n < 0 ? 0 : n);
    CHECK("unlink link_rel_out (the link itself)", unlinkat(root, "link_rel_out", 0));
    CHECK("rename g_dotdot -> sub/g_dotdot2", renameat(root, "g_dotdot", root, "sub/g_dotdot2"));
    try_read("after rename sub/g_dotdot2/outside/secret", "sub/g_dotdot2/outside/secret", O_RDONLY);

    /* Through wasi-libc's cwd: plain calls with relative and absolute paths. */
    try_read("libc open ../outside/secret", "../outside/secret", O_RDONLY);
    errno = 0;
    printf("libc fopen ../outside/secret: %s\n", fopen("../outside/secret", "r") ? "opened" : errname(errno));
    printf("libc fopen /outside/secret: %s\n", fopen("/outside/secret", "r") ? "opened" : errname(errno));
    printf("libc fopen /etc/passwd: %s\n", fopen("/etc/passwd", "r") ? "opened" : errname(errno));
    CHECK("libc mkdir ../esc-libc", mkdir("../esc-libc", 0755));
    CHECK("libc chdir ..", chdir(".."));
    printf("libc fopen outside/secret from ..: %s\n", fopen("outside/secret", "r") ? "opened" : errname(errno));
    snprintf(buf, sizeof buf, "%s/sub", argc > 1 ? argv[1] : "/sandbox");
    CHECK("libc chdir DIR/sub", chdir(buf));
    printf("libc fopen ../../outside/secret: %s\n", fopen("../../outside/secret", "r") ? "opened" : errname(errno));
    CHECK("libc chdir g_up (link out)", chdir("g_up"));
    printf("done\n");
    return 0;
}
